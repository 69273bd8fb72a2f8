package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/classboard/classboard/internal/agefile"
	"github.com/classboard/classboard/store"
)

// toolFlags makes the flag set of a tool sub-command, with the environment
// applied the way serve applies it (so CLASSBOARD_DATA names the same data
// directory for every command).
func toolFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("classboard "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// toolLogger reports the tool's own server's trouble only.
func toolLogger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// connectData reaches the node that runs on dataDir, or opens the
// directory itself when no node runs there (a stopped single node).
func connectData(dataDir string, stderr io.Writer) (*store.Conn, error) {
	c, err := store.ConnectLocal(dataDir)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, store.ErrNoLocalNode) {
		return nil, err
	}
	c, oerr := store.OpenOffline(dataDir, toolLogger(stderr))
	if errors.Is(oerr, store.ErrDataDirInUse) {
		return nil, fmt.Errorf("the node on %s is starting or not ready (it writes %s once it is): try again when its /readyz answers 200", dataDir, store.LocalAccessFile)
	}
	if oerr != nil {
		return nil, oerr
	}
	fmt.Fprintf(stderr, "no node runs on %s: using the data directory directly\n", dataDir)
	return c, nil
}

// connectHTTP reaches the running node on this machine that serves url.
func connectHTTP(url string) (*store.Conn, error) {
	dir, err := store.DataDirForURL(url)
	if err != nil {
		return nil, err
	}
	c, err := store.ConnectLocal(dir)
	if err != nil {
		return nil, fmt.Errorf("the node serving %s (data directory %s): %w", url, dir, err)
	}
	return c, nil
}

func backupCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := toolFlags("backup", stderr)
	from := fs.String("from", "", "URL of a running node on this machine (http://127.0.0.1:8080), or nats://... of an external NATS cluster the nodes use (may carry user:password)")
	data := fs.String("data", "", "data directory of a node on this machine (running, or a stopped single node)")
	to := fs.String("to", "", "the backup file to write (mode 0600)")
	keyFile := fs.String("key-file", "", "encrypt with the age key in this file (see classboard keygen)")
	if err := parseWithEnv(fs, args, getenv); err != nil {
		return err
	}
	if *to == "" || (*from == "" && *data == "") {
		return errors.New("usage: classboard backup --data DIR | --from URL --to FILE [--key-file KEY]")
	}
	var (
		c   *store.Conn
		err error
	)
	switch {
	case strings.HasPrefix(*from, "http://") || strings.HasPrefix(*from, "https://"):
		c, err = connectHTTP(*from)
	case *from != "":
		c, err = store.ConnectURL(*from)
	default:
		c, err = connectData(*data, stderr)
	}
	if err != nil {
		return err
	}
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	defer c.Close(closeCtx)

	start := time.Now()
	m, size, err := writeBackup(ctx, c, *to, *keyFile)
	if err != nil {
		return err
	}
	var msgs uint64
	for _, st := range m.Streams {
		msgs += st.Messages
		fmt.Fprintf(stdout, "  %-20s %9d messages %12d bytes\n", st.Name, st.Messages, st.Bytes)
	}
	fmt.Fprintf(stdout, "backup of %s written to %s: %d streams, %d messages, %d bytes in %s\n",
		m.Node, *to, len(m.Streams), msgs, size, time.Since(start).Round(time.Millisecond))
	return nil
}

// writeBackup writes the backup to a temporary file next to path and
// renames it into place once complete, so path never holds half a backup.
func writeBackup(ctx context.Context, c *store.Conn, path, keyFile string) (*store.BackupManifest, int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return nil, 0, fmt.Errorf("create backup file: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name()) //nolint:errcheck // best effort: it is incomplete
		}
	}()
	// A backup holds pupils' photos: only the owner may read it.
	if err := tmp.Chmod(0o600); err != nil {
		return nil, 0, err
	}
	var w io.Writer = tmp
	var enc io.WriteCloser
	if keyFile != "" {
		if enc, err = agefile.Encrypt(tmp, keyFile); err != nil {
			return nil, 0, err
		}
		w = enc
	}
	m, err := c.Backup(ctx, w, version)
	if err != nil {
		return nil, 0, err
	}
	if enc != nil {
		if err := enc.Close(); err != nil {
			return nil, 0, fmt.Errorf("encrypt backup: %w", err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return nil, 0, fmt.Errorf("write backup: %w", err)
	}
	info, err := tmp.Stat()
	if err != nil {
		return nil, 0, err
	}
	if err := tmp.Close(); err != nil {
		return nil, 0, fmt.Errorf("write backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, 0, fmt.Errorf("write backup: %w", err)
	}
	done = true
	return m, info.Size(), nil
}

func restoreCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := toolFlags("restore", stderr)
	from := fs.String("from", "", "the backup file")
	data := fs.String("data", "", "data directory of a new node on this machine (running: restores into its cluster; else the directory itself)")
	natsURL := fs.String("nats-url", "", "restore into this external NATS cluster instead of --data")
	keyFile := fs.String("key-file", "", "the age key the backup was encrypted with")
	replace := fs.Bool("replace", false, "overwrite data the target already holds")
	verify := fs.Bool("verify", false, "only check the file (format, checksums, key) and print its manifest; change nothing")
	if err := parseWithEnv(fs, args, getenv); err != nil {
		return err
	}
	if *from == "" || (!*verify && *data == "" && *natsURL == "") {
		return errors.New("usage: classboard restore --from FILE --data DIR | --nats-url URL [--key-file KEY] [--replace], or --from FILE --verify")
	}
	open := func() (io.ReadCloser, error) { return openBackup(*from, *keyFile) }
	start := time.Now()
	var (
		m   *store.BackupManifest
		err error
	)
	if *verify {
		m, err = verifyBackup(open)
	} else {
		m, err = restoreInto(ctx, *data, *natsURL, open, *replace, stderr)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", *from, err)
	}
	var msgs uint64
	for _, st := range m.Streams {
		msgs += st.Messages
	}
	what := "restored"
	if *verify {
		what = "verified"
	}
	fmt.Fprintf(stdout, "%s %s: backup of %s taken %s by classboard %s, %d streams, %d messages, in %s\n",
		what, *from, m.Node, m.Created.Format(time.RFC3339), m.Version, len(m.Streams), msgs, time.Since(start).Round(time.Millisecond))
	return nil
}

func restoreInto(ctx context.Context, data, natsURL string, open func() (io.ReadCloser, error), replace bool, stderr io.Writer) (*store.BackupManifest, error) {
	var (
		c   *store.Conn
		err error
	)
	if natsURL != "" {
		c, err = store.ConnectURL(natsURL)
	} else {
		c, err = connectData(data, stderr)
	}
	if err != nil {
		return nil, err
	}
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	defer c.Close(closeCtx)
	return c.Restore(ctx, open, store.RestoreOptions{Replace: replace})
}

func verifyBackup(open func() (io.ReadCloser, error)) (*store.BackupManifest, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return store.VerifyBackup(rc)
}

// openBackup opens a backup file, decrypting it when it is encrypted.
func openBackup(path, keyFile string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	prefix := make([]byte, 64)
	n, _ := io.ReadFull(f, prefix)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	if !agefile.IsEncrypted(prefix[:n]) || keyFile == "" {
		// An encrypted file without a key is refused by the reader, which
		// recognises the encryption header.
		return f, nil
	}
	r, err := agefile.Decrypt(f, keyFile)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{decryptErrors{r}, f}, nil
}

// decryptErrors names what a failure to decrypt midway means: age
// authenticates every 64 KiB, so an altered byte fails there.
type decryptErrors struct{ r io.Reader }

func (d decryptErrors) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w: it does not decrypt (%v)", store.ErrBackupCorrupt, err)
	}
	return n, err
}

func keygenCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := toolFlags("keygen", stderr)
	to := fs.String("to", "", "the key file to create (mode 0600; never overwritten)")
	if err := parseWithEnv(fs, args, getenv); err != nil {
		return err
	}
	if *to == "" {
		return errors.New("usage: classboard keygen --to FILE")
	}
	if err := agefile.NewKey(*to); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "key written to %s\nKeep a copy away from the servers: without it no backup made with it can be restored.\n", *to)
	return nil
}

package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotEmpty is returned by Restore when the target holds data and
// replacing it was not asked for.
var ErrNotEmpty = errors.New("the target already holds data")

// RestoreOptions change what Restore may do.
type RestoreOptions struct {
	// Replace lets Restore delete streams that hold data.
	Replace bool
}

// errStreamNameInUse is JetStream's answer to restoring over a stream
// that exists (in a cluster, one whose deletion has not spread yet).
const errStreamNameInUse = 10130

// Restore loads a backup into the store. open is called twice: the first
// pass reads the whole file and checks it, so a truncated or corrupt file
// changes nothing; the second restores each stream through JetStream's
// restore API, with the replica count of the target.
func (c *Conn) Restore(ctx context.Context, open func() (io.ReadCloser, error), opts RestoreOptions) (*BackupManifest, error) {
	m, err := readWith(open, VerifyBackup)
	if err != nil {
		return nil, err
	}
	replicas, err := c.checkTarget(ctx, m, opts)
	if err != nil {
		return nil, err
	}
	_, err = readWith(open, func(r io.Reader) (*BackupManifest, error) {
		return m, c.restoreStreams(ctx, r, m, replicas)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func readWith(open func() (io.ReadCloser, error), f func(io.Reader) (*BackupManifest, error)) (*BackupManifest, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return f(rc)
}

// checkTarget refuses a target that holds data (unless told to replace
// it) and returns the replica count restored streams get: the one the
// node gave its own buckets.
func (c *Conn) checkTarget(ctx context.Context, m *BackupManifest, opts RestoreOptions) (int, error) {
	replicas := 0
	var full []string
	for info, err := range c.listStreams(ctx) {
		if err != nil {
			return 0, fmt.Errorf("list the target's streams: %w", err)
		}
		name := info.Config.Name
		if name == "KV_teachers" || replicas == 0 {
			replicas = info.Config.Replicas
		}
		if backedUp(name) && info.State.Msgs > 0 {
			full = append(full, fmt.Sprintf("%s: %d", name, info.State.Msgs))
		}
	}
	if len(full) > 0 && !opts.Replace {
		sort.Strings(full)
		return 0, fmt.Errorf("%w (%s); restore into a new, empty node or cluster, or pass --replace to overwrite it",
			ErrNotEmpty, strings.Join(full, ", "))
	}
	return max(replicas, 1), nil
}

// listStreams iterates over the target's streams with their state.
func (c *Conn) listStreams(ctx context.Context) func(func(*jetstream.StreamInfo, error) bool) {
	return func(yield func(*jetstream.StreamInfo, error) bool) {
		l := c.js.ListStreams(ctx)
		for info := range l.Info() {
			if !yield(info, nil) {
				return
			}
		}
		if err := l.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// restoreStreams is the second pass over a checked file.
func (c *Conn) restoreStreams(ctx context.Context, r io.Reader, m *BackupManifest, replicas int) error {
	br, err := newBackupReader(r)
	if err != nil {
		return err
	}
	var cur *streamRestore
	defer func() {
		if cur != nil {
			cur.abort()
		}
	}()
	i := 0
	for {
		kind, payload, err := br.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch kind {
		case recStream, recManifest:
			if cur != nil {
				if i >= len(m.Streams) {
					return fmt.Errorf("%w: the file changed while it was restored", ErrBackupCorrupt)
				}
				sr := cur
				cur = nil
				if err := sr.finish(ctx, m.Streams[i]); err != nil {
					return fmt.Errorf("restore stream %s: %w", sr.name, err)
				}
				i++
			}
			if kind == recManifest {
				continue
			}
			var sh backupStreamHeader
			if err := json.Unmarshal(payload, &sh); err != nil {
				return fmt.Errorf("%w: a stream header does not parse", ErrBackupCorrupt)
			}
			if cur, err = c.startRestore(ctx, sh, replicas); err != nil {
				return fmt.Errorf("restore stream %s: %w", sh.Name, err)
			}
		case recData:
			if cur == nil {
				return fmt.Errorf("%w: the file changed while it was restored", ErrBackupCorrupt)
			}
			if err := cur.chunk(payload); err != nil {
				return fmt.Errorf("restore stream %s: %w", cur.name, err)
			}
		}
	}
	// The snapshots leave consumers out (their delivery state belongs to
	// the old nodes); the mail workers' shared one is made again.
	if _, err := ensureOutbox(ctx, c.js, replicas); err != nil {
		return fmt.Errorf("restore the mail consumer: %w", err)
	}
	return nil
}

// streamRestore is one stream being restored. Its snapshot goes through a
// re-encoder (see reencode) whose output is sent to the subject the server
// named, each piece answered before the next is sent.
type streamRestore struct {
	c       *Conn
	name    string
	deliver string
	in      *io.PipeWriter // the snapshot as stored
	done    chan error     // the re-encoder's result
}

func (c *Conn) startRestore(ctx context.Context, sh backupStreamHeader, replicas int) (*streamRestore, error) {
	var cfg map[string]any
	if err := json.Unmarshal(sh.Config, &cfg); err != nil {
		return nil, fmt.Errorf("%w: stream configuration: %v", ErrBackupCorrupt, err)
	}
	cfg["num_replicas"] = replicas
	// The target's own (empty, or replaced) stream gives way to the one in
	// the backup.
	if err := c.js.DeleteStream(ctx, sh.Name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("delete the target's stream: %w", err)
	}
	req, err := json.Marshal(map[string]any{"config": cfg, "state": sh.State})
	if err != nil {
		return nil, err
	}
	for {
		var resp struct {
			Error          *apiError `json:"error"`
			DeliverSubject string    `json:"deliver_subject"`
		}
		if err := c.api(ctx, "$JS.API.STREAM.RESTORE."+sh.Name, req, &resp); err != nil {
			return nil, err
		}
		if resp.Error == nil {
			pr, pw := io.Pipe()
			sr := &streamRestore{c: c, name: sh.Name, deliver: resp.DeliverSubject, in: pw, done: make(chan error, 1)}
			go func() { sr.done <- sr.reencode(ctx, pr) }()
			return sr, nil
		}
		if resp.Error.ErrCode != errStreamNameInUse {
			return nil, resp.Error
		}
		// In a cluster the deletion reaches every replica a moment later.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", resp.Error, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// restoreBlock is the size of the compressed blocks the server gets. The
// server rebuilds the stream block by block while it takes in the next
// piece, and gives up on a restore when a piece waits over 5 s. Rebuilding
// costs per message, with an fsync each on a node that syncs every write:
// the snapshot's own blocks (about 1 MiB of small KV entries each) took
// longer than that on a loaded machine; 64 KiB take a fraction of it.
const restoreBlock = 64 << 10

// reencode decompresses the stored snapshot (s2, as the server wrote it)
// and compresses it again in small blocks, sending each as it is made.
func (sr *streamRestore) reencode(ctx context.Context, in *io.PipeReader) error {
	enc := s2.NewWriter(restoreSender{ctx: ctx, sr: sr}, s2.WriterBlockSize(restoreBlock), s2.WriterConcurrency(1))
	_, err := io.Copy(enc, s2.NewReader(in))
	if cerr := enc.Close(); err == nil {
		err = cerr
	}
	// Unblocks the reader of the file if the sending failed.
	in.CloseWithError(err)
	return err
}

func (sr *streamRestore) chunk(data []byte) error {
	if _, err := sr.in.Write(data); err != nil {
		return fmt.Errorf("send snapshot: %w", err)
	}
	return nil
}

// abort stops the re-encoder of a restore that cannot go on.
func (sr *streamRestore) abort() {
	sr.in.CloseWithError(errors.New("restore aborted"))
	<-sr.done
}

// restoreSender sends each write of the re-encoder as one request.
type restoreSender struct {
	ctx context.Context
	sr  *streamRestore
}

func (rs restoreSender) Write(p []byte) (int, error) {
	rctx, cancel := context.WithTimeout(rs.ctx, 30*time.Second)
	defer cancel()
	msg, err := rs.sr.c.nc.RequestWithContext(rctx, rs.sr.deliver, p)
	// In a cluster the stream leader takes the restore, and its
	// subscription reaches the node the tool is connected to a moment
	// later. Nobody received the piece, so sending it again is safe.
	for wait := 0; errors.Is(err, nats.ErrNoResponders) && wait < 40; wait++ {
		select {
		case <-rctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
		msg, err = rs.sr.c.nc.RequestWithContext(rctx, rs.sr.deliver, p)
	}
	if err != nil {
		return 0, fmt.Errorf("send snapshot chunk: %w", err)
	}
	if len(msg.Data) > 0 {
		var resp struct {
			Error *apiError `json:"error"`
		}
		if json.Unmarshal(msg.Data, &resp) == nil && resp.Error != nil {
			return 0, resp.Error
		}
	}
	return len(p), nil
}

// finish ends the upload and waits until the server has rebuilt the
// stream, then compares it with the manifest.
func (sr *streamRestore) finish(ctx context.Context, want BackupStream) error {
	// Rebuilding a large stream takes a while after the last chunk.
	sr.in.Close()
	if err := <-sr.done; err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	msg, err := sr.c.nc.RequestWithContext(rctx, sr.deliver, nil)
	if err != nil {
		return fmt.Errorf("finish: %w", err)
	}
	var resp struct {
		Error *apiError `json:"error"`
		State struct {
			Msgs    uint64 `json:"messages"`
			LastSeq uint64 `json:"last_seq"`
		} `json:"state"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("finish: bad answer: %w", err)
	}
	if resp.Error != nil {
		return resp.Error
	}
	// Messages with a TTL may expire between backup and restore, so the
	// count may shrink; the last sequence never changes.
	if resp.State.LastSeq != want.LastSeq || resp.State.Msgs > want.Messages {
		return fmt.Errorf("restored %d messages up to sequence %d, the backup holds %d up to %d",
			resp.State.Msgs, resp.State.LastSeq, want.Messages, want.LastSeq)
	}
	return sr.c.waitReplicas(ctx, sr.name, want.LastSeq)
}

// waitReplicas waits until every replica of a restored stream has caught
// up with its leader: until then a leader elected among them could serve
// the stream without the restored messages for a moment, and the operator
// would be told "restored" too early.
func (c *Conn) waitReplicas(ctx context.Context, name string, lastSeq uint64) error {
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		st, err := c.js.Stream(wctx, name)
		if err == nil {
			info := st.CachedInfo()
			caught := info.State.LastSeq == lastSeq
			if info.Cluster != nil {
				for _, p := range info.Cluster.Replicas {
					caught = caught && p.Current && p.Lag == 0
				}
			}
			if caught {
				return nil
			}
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("the replicas of the restored stream do not catch up: %w (last: %v)", wctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

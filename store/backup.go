package store

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A backup file holds every stream of the store as JetStream snapshots,
// taken one stream at a time by the stream's leader while writes go on.
// Version 1 is:
//
//	"classboard-backup 1 <version that wrote it>\n"
//	records: kind (1 byte), payload length (uint32, big-endian), payload
//	  's' a stream begins: backupStreamHeader as JSON
//	  'd' a chunk of that stream's snapshot
//	  'm' the manifest (BackupManifest as JSON), after the last stream
//	  'z' the SHA-256 of every byte before this record
//	end of file
//
// The format is written and read in one pass, so neither the bytes nor the
// photos in them ever touch a temporary file; the last two records make a
// truncated or altered file detectable before anything is restored.
const (
	// BackupFormat is the version of the backup file this code writes and
	// the only one it reads.
	BackupFormat = 1
	backupMagic  = "classboard-backup"

	recStream   = 's'
	recData     = 'd'
	recManifest = 'm'
	recSum      = 'z'

	snapshotChunk = 1 << 20
	// Bounds on a record, so a corrupt length cannot make a reader
	// allocate gigabytes.
	maxDataRecord = 4 << 20
	maxJSONRecord = 16 << 20
)

// BackupManifest describes a backup file.
type BackupManifest struct {
	Format  int            `json:"format"`
	Created time.Time      `json:"created"`
	Node    string         `json:"node"`    // the node the tool was connected to
	Version string         `json:"version"` // classboard version that wrote the file
	Streams []BackupStream `json:"streams"`
}

// BackupStream is one stream in a backup file.
type BackupStream struct {
	Name     string `json:"name"`
	Messages uint64 `json:"messages"`
	Bytes    uint64 `json:"bytes"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	// SnapshotBytes and SHA256 describe the snapshot as stored in the file.
	SnapshotBytes int64  `json:"snapshot_bytes"`
	SHA256        string `json:"sha256"`
}

// backupStreamHeader starts a stream in the file: the configuration and
// state the server reported with the snapshot, sent back at restore.
type backupStreamHeader struct {
	Name   string          `json:"name"`
	Config json.RawMessage `json:"config"`
	State  json.RawMessage `json:"state"`
}

// backedUp reports whether a stream belongs in a backup. A node's health
// stream and the presence bucket of releases before issue 10 describe the
// nodes running then, not data.
func backedUp(name string) bool {
	return !strings.HasPrefix(name, healthStreamPrefix) && name != "KV_presence"
}

// apiError is the error part of a JetStream API answer.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (%d/%d)", e.Description, e.Code, e.ErrCode)
}

// Backup writes a backup of every stream to w and returns its manifest.
// version is the classboard version writing it.
func (c *Conn) Backup(ctx context.Context, w io.Writer, version string) (*BackupManifest, error) {
	var names []string
	for name := range c.js.StreamNames(ctx).Name() {
		if backedUp(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil, errors.New("the store holds no streams: is this a classboard node?")
	}
	bw := &backupWriter{w: bufio.NewWriterSize(w, 1<<20), sum: sha256.New()}
	m := &BackupManifest{Format: BackupFormat, Created: time.Now().UTC(), Node: c.node, Version: version}
	if err := bw.raw(fmt.Appendf(nil, "%s %d %s\n", backupMagic, BackupFormat, strings.ReplaceAll(version, " ", "_"))); err != nil {
		return nil, err
	}
	for _, name := range names {
		st, err := c.snapshot(ctx, name, bw)
		if err != nil {
			return nil, fmt.Errorf("back up stream %s: %w", name, err)
		}
		m.Streams = append(m.Streams, *st)
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if err := bw.record(recManifest, mb); err != nil {
		return nil, err
	}
	if err := bw.record(recSum, bw.sum.Sum(nil)); err != nil {
		return nil, err
	}
	if err := bw.w.Flush(); err != nil {
		return nil, fmt.Errorf("write backup: %w", err)
	}
	return m, nil
}

// snapshot streams one stream's snapshot into the file through JetStream's
// snapshot API: the leader sends chunks to an inbox, and each chunk is
// acknowledged to keep the flow going.
func (c *Conn) snapshot(ctx context.Context, name string, bw *backupWriter) (*BackupStream, error) {
	inbox := nats.NewInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe() //nolint:errcheck // the connection may be closing
	// The leader, maybe on another node, sends only once it sees the
	// subscription (it waits about 2 s for it).
	if err := c.nc.Flush(); err != nil {
		return nil, err
	}
	req, _ := json.Marshal(map[string]any{"deliver_subject": inbox, "no_consumers": true, "chunk_size": snapshotChunk})
	var resp struct {
		Error  *apiError       `json:"error"`
		Config json.RawMessage `json:"config"`
		State  json.RawMessage `json:"state"`
	}
	if err := c.api(ctx, "$JS.API.STREAM.SNAPSHOT."+name, req, &resp); err != nil {
		return nil, err
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	var state jetstream.StreamState
	if err := json.Unmarshal(resp.State, &state); err != nil {
		return nil, fmt.Errorf("snapshot state: %w", err)
	}
	hdr, _ := json.Marshal(backupStreamHeader{Name: name, Config: resp.Config, State: resp.State})
	if err := bw.record(recStream, hdr); err != nil {
		return nil, err
	}
	st := &BackupStream{Name: name, Messages: state.Msgs, Bytes: state.Bytes, FirstSeq: state.FirstSeq, LastSeq: state.LastSeq}
	h := sha256.New()
	for {
		// The server gives up on a receiver silent for 5 s, and it sends
		// the next chunk as soon as one is acknowledged: a longer silence
		// means it is gone.
		mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		msg, err := sub.NextMsgWithContext(mctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("receive snapshot: %w", err)
		}
		if len(msg.Data) == 0 {
			// The end: 204, or no status at all when the whole snapshot
			// fit in one chunk.
			if status := msg.Header.Get("Status"); status != "" && status != "204" {
				return nil, fmt.Errorf("snapshot failed: %s %s", status, msg.Header.Get("Description"))
			}
			break
		}
		if err := bw.record(recData, msg.Data); err != nil {
			return nil, err
		}
		h.Write(msg.Data)
		st.SnapshotBytes += int64(len(msg.Data))
		if msg.Reply == "" {
			continue // the last chunk asks for no acknowledgement
		}
		if err := msg.Respond(nil); err != nil {
			return nil, fmt.Errorf("acknowledge snapshot chunk: %w", err)
		}
	}
	st.SHA256 = hex.EncodeToString(h.Sum(nil))
	return st, nil
}

// api sends a JetStream API request and decodes the answer.
func (c *Conn) api(ctx context.Context, subject string, req []byte, out any) error {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	msg, err := c.nc.RequestWithContext(rctx, subject, req)
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	if err := json.Unmarshal(msg.Data, out); err != nil {
		return fmt.Errorf("%s: bad answer: %w", subject, err)
	}
	return nil
}

// backupWriter writes records and keeps the whole file's checksum.
type backupWriter struct {
	w   *bufio.Writer
	sum hash.Hash
}

func (bw *backupWriter) raw(b []byte) error {
	bw.sum.Write(b)
	if _, err := bw.w.Write(b); err != nil {
		return fmt.Errorf("write backup: %w", err)
	}
	return nil
}

func (bw *backupWriter) record(kind byte, payload []byte) error {
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if err := bw.raw(hdr[:]); err != nil {
		return err
	}
	return bw.raw(payload)
}

// Errors a backup file can be refused with; the message says which.
var (
	ErrBackupTruncated = errors.New("the backup file is truncated: it ends before its manifest (an interrupted backup or an incomplete copy)")
	ErrBackupCorrupt   = errors.New("the backup file is corrupt")
	ErrBackupVersion   = errors.New("the backup file has a format this classboard cannot read")
	ErrNotBackup       = errors.New("not a classboard backup file")
	ErrBackupEncrypted = errors.New("the backup file is encrypted: give its key with --key-file")
)

// backupReader reads a backup file's records and checks them as it goes.
type backupReader struct {
	r       *bufio.Reader
	sum     hash.Hash
	version string // of the classboard that wrote it
	done    bool   // the checksum record was read and matched
}

func newBackupReader(r io.Reader) (*backupReader, error) {
	br := &backupReader{r: bufio.NewReaderSize(r, 1<<20), sum: sha256.New()}
	line, err := br.r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the file is empty", ErrBackupTruncated)
		}
		return nil, fmt.Errorf("read backup: %w", err)
	}
	br.sum.Write([]byte(line))
	if strings.HasPrefix(line, "age-encryption.org/") {
		return nil, ErrBackupEncrypted
	}
	fields := strings.Fields(line)
	if len(fields) < 2 || fields[0] != backupMagic {
		return nil, ErrNotBackup
	}
	format, err := strconv.Atoi(fields[1])
	if err != nil {
		return nil, ErrNotBackup
	}
	if len(fields) > 2 {
		br.version = fields[2]
	}
	if format != BackupFormat {
		return nil, fmt.Errorf("%w: it is format %d (written by classboard %s) and this classboard reads format %d; restore it with a classboard that reads format %d",
			ErrBackupVersion, format, br.version, BackupFormat, format)
	}
	return br, nil
}

// next returns the next record. It checks the final checksum itself, so a
// caller that reaches io.EOF has read an intact file.
func (br *backupReader) next() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(br.r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) && br.done {
			return 0, nil, io.EOF
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, ErrBackupTruncated
		}
		return 0, nil, fmt.Errorf("read backup: %w", err)
	}
	if br.done {
		return 0, nil, fmt.Errorf("%w: data after the checksum", ErrBackupCorrupt)
	}
	kind, n := hdr[0], binary.BigEndian.Uint32(hdr[1:])
	limit := uint32(maxJSONRecord)
	switch kind {
	case recData:
		limit = maxDataRecord
	case recSum:
		limit = sha256.Size
	case recStream, recManifest:
	default:
		return 0, nil, fmt.Errorf("%w: unknown record %q", ErrBackupCorrupt, kind)
	}
	if n > limit {
		return 0, nil, fmt.Errorf("%w: a record of %d bytes", ErrBackupCorrupt, n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(br.r, payload); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, ErrBackupTruncated
		}
		return 0, nil, fmt.Errorf("read backup: %w", err)
	}
	if kind == recSum {
		if n != sha256.Size || string(payload) != string(br.sum.Sum(nil)) {
			return 0, nil, fmt.Errorf("%w: its checksum does not match its contents", ErrBackupCorrupt)
		}
		br.done = true
		return br.next()
	}
	br.sum.Write(hdr[:])
	br.sum.Write(payload)
	return kind, payload, nil
}

// VerifyBackup reads a whole backup file and checks its format version,
// every stream's checksum and the file's own; it returns the manifest.
func VerifyBackup(r io.Reader) (*BackupManifest, error) {
	br, err := newBackupReader(r)
	if err != nil {
		return nil, err
	}
	var (
		m       *BackupManifest
		streams []BackupStream
		cur     *BackupStream
		h       hash.Hash
	)
	closeStream := func() {
		if cur != nil {
			cur.SHA256 = hex.EncodeToString(h.Sum(nil))
			streams = append(streams, *cur)
			cur = nil
		}
	}
	for {
		kind, payload, err := br.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch kind {
		case recStream:
			closeStream()
			var sh backupStreamHeader
			if err := json.Unmarshal(payload, &sh); err != nil || sh.Name == "" {
				return nil, fmt.Errorf("%w: a stream header does not parse", ErrBackupCorrupt)
			}
			cur, h = &BackupStream{Name: sh.Name}, sha256.New()
		case recData:
			if cur == nil || m != nil {
				return nil, fmt.Errorf("%w: data outside a stream", ErrBackupCorrupt)
			}
			h.Write(payload)
			cur.SnapshotBytes += int64(len(payload))
		case recManifest:
			closeStream()
			m = &BackupManifest{}
			if err := json.Unmarshal(payload, m); err != nil {
				return nil, fmt.Errorf("%w: the manifest does not parse", ErrBackupCorrupt)
			}
		}
	}
	if m == nil {
		return nil, ErrBackupTruncated
	}
	if m.Format != BackupFormat {
		return nil, fmt.Errorf("%w: the manifest says format %d", ErrBackupVersion, m.Format)
	}
	if len(m.Streams) != len(streams) {
		return nil, fmt.Errorf("%w: the manifest lists %d streams, the file holds %d", ErrBackupCorrupt, len(m.Streams), len(streams))
	}
	for i, st := range streams {
		want := m.Streams[i]
		if st.Name != want.Name || st.SnapshotBytes != want.SnapshotBytes || st.SHA256 != want.SHA256 {
			return nil, fmt.Errorf("%w: stream %s does not match its checksum", ErrBackupCorrupt, st.Name)
		}
	}
	return m, nil
}

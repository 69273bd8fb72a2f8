package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/classboard/classboard"
)

// Keys of the media_records bucket: a teacher's record of a picture, and
// the gate of a picture's bytes (see DeleteMedia). Records end in the hash,
// so "r.*.<hash>" lists everyone's records of one picture.
func recordKey(teacherID, id string) string { return "r." + keyPart(teacherID) + "." + id }
func gateKey(id string) string              { return "g." + id }

// mediaRecord is a teacher's upload; the bytes are the object named ID in
// the media object store. V is classboard.MediaSchemaVersion.
type mediaRecord struct {
	V           int       `json:"v"`
	ID          string    `json:"id"`
	TeacherID   string    `json:"teacher_id"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	CreatedAt   time.Time `json:"created_at"`
}

func (r *mediaRecord) media() *classboard.Media {
	return &classboard.Media{ID: r.ID, ContentType: r.ContentType, Size: r.Size, Width: r.Width, Height: r.Height, CreatedAt: r.CreatedAt}
}

// gateDoc orders uploads of a picture against the erasing of its bytes.
// Every upload writes it (State open) after creating its record and before
// storing the bytes; an eraser marks it deleting with a compare-and-set,
// and only then deletes the bytes.
type gateDoc struct {
	State string    `json:"state"` // gateOpen or gateDeleting
	Since time.Time `json:"since"`
}

const (
	gateOpen     = "open"
	gateDeleting = "deleting"
	signingKey   = "media-signing-key"
)

// Media implements classboard.MediaService.
type Media struct{ s *Store }

var _ classboard.MediaService = Media{}

// Media returns the media service.
func (s *Store) Media() Media { return Media{s} }

func (m Media) quota() int64 {
	if m.s.cfg.MediaQuota > 0 {
		return m.s.cfg.MediaQuota
	}
	return classboard.DefaultMediaQuota
}

// staleDeleting is how old a deleting mark must be before an upload takes
// it over: its eraser died, since no operation outlives OpTimeout.
func (m Media) staleDeleting() time.Duration { return max(time.Minute, 2*m.s.cfg.OpTimeout) }

// records returns a teacher's records.
func (m Media) records(ctx context.Context, teacherID string) ([]*mediaRecord, error) {
	prefix := "r." + keyPart(teacherID) + "."
	keys, err := m.s.mediaRecords.keys(ctx, prefix+"*")
	if err != nil {
		return nil, storeErr(err)
	}
	list := make([]*mediaRecord, 0, len(keys))
	for _, k := range keys {
		var r mediaRecord
		if _, err := m.s.mediaRecords.get(ctx, k, &r); errors.Is(err, errNotFound) {
			continue // deleted meanwhile
		} else if err != nil {
			return nil, storeErr(err)
		}
		list = append(list, &r)
	}
	return list, nil
}

func (m Media) record(ctx context.Context, teacherID, id string) (*mediaRecord, uint64, error) {
	if !classboard.ValidMediaID(id) {
		return nil, 0, classboard.ErrNoMedia
	}
	var r mediaRecord
	rev, err := m.s.mediaRecords.get(ctx, recordKey(teacherID, id), &r)
	if errors.Is(err, errNotFound) {
		return nil, 0, classboard.ErrNoMedia
	}
	if err != nil {
		return nil, 0, storeErr(fmt.Errorf("load media record: %w", err))
	}
	return &r, rev, nil
}

// CreateMedia records the picture for the teacher and stores its bytes
// unless they are stored already. The quota is the sum of the teacher's
// records, so it never drifts; uploads running at the same moment may
// together pass it by what they add.
func (m Media) CreateMedia(ctx context.Context, in classboard.NewMedia) (*classboard.Media, error) {
	id := classboard.MediaIDOf(in.Data)
	ctx, cancel, tid, err := m.s.teacherOp(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if r, _, err := m.record(ctx, tid, id); err == nil {
		return r.media(), nil
	} else if !errors.Is(err, classboard.ErrNoMedia) {
		return nil, err
	}
	recs, err := m.records(ctx, tid)
	if err != nil {
		return nil, err
	}
	if err := atLimit(len(recs), m.s.cfg.TeacherLimits.Media, "pictures", "delete some you no longer use."); err != nil {
		return nil, err
	}
	var used int64
	for _, r := range recs {
		used += r.Size
	}
	if used+int64(len(in.Data)) > m.quota() {
		return nil, classboard.Errorf(classboard.EQUOTA, "Your pictures use %d of %d MiB; delete some to make room.", used>>20, m.quota()>>20)
	}
	rec := mediaRecord{V: classboard.MediaSchemaVersion, ID: id, TeacherID: tid, ContentType: in.ContentType,
		Size: int64(len(in.Data)), Width: in.Width, Height: in.Height, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if _, err := m.s.mediaRecords.create(ctx, recordKey(tid, id), rec, 0); errors.Is(err, errExists) {
		// The same picture, uploaded by this teacher at the same moment.
		r, _, err := m.record(ctx, tid, id)
		if err != nil {
			return nil, err
		}
		return r.media(), nil
	} else if err != nil {
		return nil, storeErr(fmt.Errorf("create media record: %w", err))
	}
	if err := m.storeBytes(ctx, id, in); err != nil {
		// Without its bytes the record is worthless; a retry starts over.
		if derr := m.s.mediaRecords.delete(context.WithoutCancel(ctx), recordKey(tid, id), 0); derr != nil {
			m.s.log.Error("remove media record after failed upload", "media", id, "err", derr)
		}
		return nil, err
	}
	return rec.media(), nil
}

// storeBytes opens the gate (waiting while an eraser holds it), then puts
// the bytes unless they are there.
func (m Media) storeBytes(ctx context.Context, id string, in classboard.NewMedia) error {
	for {
		var g gateDoc
		rev, err := m.s.mediaRecords.get(ctx, gateKey(id), &g)
		open := gateDoc{State: gateOpen, Since: time.Now().UTC()}
		switch {
		case errors.Is(err, errNotFound):
			_, err = m.s.mediaRecords.create(ctx, gateKey(id), open, 0)
		case err != nil:
		case g.State == gateDeleting && time.Since(g.Since) < m.staleDeleting():
			err = errRevision // wait for the eraser to finish
			select {
			case <-ctx.Done():
				return storeErr(ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		default:
			_, err = m.s.mediaRecords.update(ctx, gateKey(id), open, rev, 0)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, errExists) && !errors.Is(err, errRevision) {
			return storeErr(fmt.Errorf("open media gate: %w", err))
		}
	}
	// An eraser can no longer delete the bytes: it would need the gate.
	if info, err := m.s.media.GetInfo(ctx, id); err == nil && !info.Deleted {
		return nil
	} else if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return storeErr(fmt.Errorf("look up media %s: %w", id, err))
	}
	meta := jetstream.ObjectMeta{Name: id, Headers: nats.Header{"Content-Type": []string{in.ContentType}}}
	if _, err := m.s.media.Put(ctx, meta, bytes.NewReader(in.Data)); err != nil {
		return storeErr(fmt.Errorf("store media %s: %w", id, err))
	}
	return nil
}

// MediaList returns the teacher's uploads, newest first, with the bytes
// they use.
func (m Media) MediaList(ctx context.Context, opts classboard.ListOptions) (*classboard.MediaList, error) {
	ctx, cancel, tid, err := m.s.teacherOp(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	recs, err := m.records(ctx, tid)
	if err != nil {
		return nil, err
	}
	list := &classboard.MediaList{Quota: m.quota()}
	items := make([]*classboard.Media, 0, len(recs))
	for _, r := range recs {
		list.Used += r.Size
		items = append(items, r.media())
	}
	page, err := paginate(items, func(x *classboard.Media) string { return newestFirst(x.CreatedAt, x.ID) }, opts)
	if err != nil {
		return nil, err
	}
	list.Page = *page
	m.s.view.mediaUse(tid, list.Items)
	return list, nil
}

// DeleteMedia erases the teacher's record, then the bytes when no record
// refers to them any more. It erases unreferenced bytes even when the
// caller has no record (answering ENOTFOUND), so a retry after a failure
// halfway finishes the job.
func (m Media) DeleteMedia(ctx context.Context, id string) error {
	if !classboard.ValidMediaID(id) {
		return classboard.ErrNoMedia
	}
	ctx, cancel, tid, err := m.s.teacherOp(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, rev, found := m.record(ctx, tid, id)
	if found != nil && !errors.Is(found, classboard.ErrNoMedia) {
		return found
	}
	if found == nil {
		if err := m.s.mediaRecords.delete(ctx, recordKey(tid, id), rev); err != nil && !errors.Is(err, errRevision) {
			return storeErr(fmt.Errorf("delete media record: %w", err))
		}
	}
	if err := m.collect(ctx, id); err != nil {
		return err
	}
	return found
}

// collect deletes the bytes of id if no record refers to them. It marks
// the gate deleting with a compare-and-set on the revision it read before
// listing the records: an upload that created its record after the listing
// has written the gate since, so the mark fails and the listing is redone.
func (m Media) collect(ctx context.Context, id string) error {
	for attempt := 0; ; attempt++ {
		if attempt == 10 {
			return classboard.Errorf(classboard.ECONFLICT, "The picture is being uploaded again right now; try again.")
		}
		var g gateDoc
		rev, err := m.s.mediaRecords.get(ctx, gateKey(id), &g)
		if err != nil && !errors.Is(err, errNotFound) {
			return storeErr(fmt.Errorf("load media gate: %w", err))
		}
		if err == nil && g.State == gateDeleting && time.Since(g.Since) < m.staleDeleting() {
			return nil // another eraser is at it
		}
		refs, err := m.s.mediaRecords.keys(ctx, "r.*."+id)
		if err != nil {
			return storeErr(err)
		}
		if len(refs) > 0 {
			return nil
		}
		mark := gateDoc{State: gateDeleting, Since: time.Now().UTC()}
		if rev == 0 {
			rev, err = m.s.mediaRecords.create(ctx, gateKey(id), mark, 0)
		} else {
			rev, err = m.s.mediaRecords.update(ctx, gateKey(id), mark, rev, 0)
		}
		if errors.Is(err, errExists) || errors.Is(err, errRevision) {
			continue
		}
		if err != nil {
			return storeErr(fmt.Errorf("mark media gate: %w", err))
		}
		if err := m.s.media.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return storeErr(fmt.Errorf("delete media %s: %w", id, err))
		}
		if err := m.s.mediaRecords.delete(ctx, gateKey(id), rev); err != nil && !errors.Is(err, errRevision) {
			return storeErr(fmt.Errorf("remove media gate: %w", err))
		}
		return nil
	}
}

// readableOwner is the "who may read this media" decision: it returns the
// teacher whose uploads the caller in ctx may read. A teacher reads their
// own uploads; any other caller reads none.
func (m Media) readableOwner(ctx context.Context) (string, error) {
	a := classboard.AuthFromContext(ctx)
	switch {
	case a != nil && a.Teacher != nil:
		return a.Teacher.ID, nil
	case a != nil && a.BoardID != "":
		// A board reads the media of the teacher it is paired with.
		var doc boardDoc
		if _, err := m.s.boards.get(ctx, boardKey(a.BoardID), &doc); err != nil && !errors.Is(err, errNotFound) {
			return "", storeErr(fmt.Errorf("load board: %w", err))
		}
		if doc.TeacherID != "" {
			return doc.TeacherID, nil
		}
	}
	return "", classboard.ErrNoMedia
}

// MayReadMedia returns nil when the caller may read id.
func (m Media) MayReadMedia(ctx context.Context, id string) error {
	ctx, cancel, err := m.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	owner, err := m.readableOwner(ctx)
	if err != nil {
		return err
	}
	_, _, err = m.record(ctx, owner, id)
	return err
}

// MediaContent returns the stored bytes of id.
func (m Media) MediaContent(ctx context.Context, id string) (*classboard.MediaContent, error) {
	if !classboard.ValidMediaID(id) {
		return nil, classboard.ErrNoMedia
	}
	ctx, cancel, err := m.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	obj, err := m.s.media.Get(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, classboard.ErrNoMedia
	}
	if err != nil {
		return nil, storeErr(fmt.Errorf("open media %s: %w", id, err))
	}
	defer obj.Close()
	info, err := obj.Info()
	if err != nil {
		return nil, storeErr(fmt.Errorf("media %s info: %w", id, err))
	}
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, storeErr(fmt.Errorf("read media %s: %w", id, err))
	}
	ct := info.Headers.Get("Content-Type")
	if !strings.HasPrefix(ct, "image/") {
		ct = "application/octet-stream"
	}
	return &classboard.MediaContent{ID: id, ContentType: ct, Data: data, ModTime: info.ModTime}, nil
}

// MediaSigningKey returns the cluster's media signing key, making it on
// first use: a KV create, so whichever node is first wins and every node
// reads the same key.
func (m Media) MediaSigningKey(ctx context.Context) ([]byte, error) {
	ctx, cancel, err := m.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var key []byte
	if _, err := m.s.config.get(ctx, signingKey, &key); err == nil {
		return key, nil
	} else if !errors.Is(err, errNotFound) {
		return nil, storeErr(fmt.Errorf("load media signing key: %w", err))
	}
	fresh := make([]byte, 32)
	rand.Read(fresh)
	if _, err := m.s.config.create(ctx, signingKey, fresh, 0); err == nil {
		return fresh, nil
	} else if !errors.Is(err, errExists) {
		return nil, storeErr(fmt.Errorf("create media signing key: %w", err))
	}
	if _, err := m.s.config.get(ctx, signingKey, &key); err != nil {
		return nil, storeErr(fmt.Errorf("load media signing key: %w", err))
	}
	return key, nil
}

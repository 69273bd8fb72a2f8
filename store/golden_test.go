package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/classboard/classboard"
)

// Golden fixtures are documents exactly as a release stored them, one
// directory per release under testdata/golden. Every later version must
// read them: nodes are upgraded one at a time, and a restored backup may be
// old. A set is written once, by the code of its day, and never rewritten:
//
//	go test ./store -run TestGoldenFixtures -golden.write 2026-11-v1
var goldenWrite = flag.String("golden.write", "", "write a new set of golden fixtures under testdata/golden/NAME with today's code")

// goldenSecrets are what the fixtures' checks need and the documents keep
// only as hashes.
type goldenSecrets struct {
	Email, Password, SessionToken, TeacherID string
	LessonID, LessonTitle                    string
	MediaID, MediaContentType                string
	BoardID, BoardSecret                     string
	Slide                                    int
	IdempotencyKey, BodyHash                 string
	MailTo                                   string
}

func TestGoldenFixtures(t *testing.T) {
	if *goldenWrite != "" {
		writeGolden(t, filepath.Join("testdata", "golden", *goldenWrite))
	}
	sets, err := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	if err != nil || len(sets) == 0 {
		t.Fatalf("no golden fixtures under testdata/golden: %v", err)
	}
	for _, dir := range sets {
		t.Run(filepath.Base(dir), func(t *testing.T) { readGolden(t, dir) })
	}
}

// buckets names the store's buckets for the fixtures.
func (s *Store) buckets() map[string]*bucket {
	m := map[string]*bucket{
		"teachers": s.teachers, "emails": s.emails, "sessions": s.sessions, "limits": s.limits,
		"idempotency": s.idempotency, "lessons": s.lessons, "media_records": s.mediaRecords,
		"config": s.config, "boards": s.boards, "pairing": s.pairing, "resets": s.resets,
	}
	for i := range stateShards {
		m[stateBucketName(i)], m[ticketBucketName(i)] = s.boardStates[i], s.tickets[i]
	}
	return m
}

// goldenKinds are the buckets every set of fixtures has documents of
// (a board's state and tickets are in one shard of several).
var goldenKinds = []string{"teachers", "emails", "sessions", "limits", "idempotency", "lessons",
	"media_records", "config", "boards", "board_state", "pairing", "tickets", "resets"}

// retired are buckets of older releases that today's code no longer
// uses: their documents are left alone, so nothing has to read them.
var retired = map[string]string{
	"presence": "presence is a heartbeat on core NATS since issue 10; KV_presence is ignored",
}

// goldenType is the type a stored document decodes into, by bucket and key.
func goldenType(bucketName, key string) any {
	prefix, _, _ := strings.Cut(key, ".")
	switch strings.TrimRight(bucketName, "_0123456789") { // shards share a type
	case "teachers":
		return &teacherDoc{}
	case "emails":
		return new(string)
	case "sessions":
		return &sessionDoc{}
	case "limits":
		return &limitDoc{}
	case "idempotency":
		return &classboard.IdempotentResponse{}
	case "lessons":
		return &lessonDoc{}
	case "media_records":
		if prefix == "g" {
			return &gateDoc{}
		}
		return &mediaRecord{}
	case "config":
		return new([]byte)
	case "boards":
		switch prefix {
		case "s":
			return &secretDoc{}
		case "t":
			return &struct{}{}
		}
		return &boardDoc{}
	case "board_state":
		return &stateDoc{}
	case "pairing":
		if prefix == "claim" {
			return &claimDoc{}
		}
		return &codeDoc{}
	case "tickets":
		return &ticketDoc{}
	case "resets":
		return &resetDoc{}
	}
	return nil
}

func writeGolden(t *testing.T, dir string) {
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s exists: a set of fixtures is never rewritten", dir)
	}
	s := openTestStore(t)
	ctx := t.Context()
	sec := goldenSecrets{Email: "ada@school.example", Password: "correct horse battery", Slide: 1,
		IdempotencyKey: "golden-key", BodyHash: "golden-body-hash", MailTo: "ada@school.example"}
	ada, err := s.Accounts().CreateTeacher(ctx, classboard.SignUp{Email: sec.Email, Password: sec.Password, Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	sec.TeacherID = ada.ID
	sess, err := s.Accounts().Login(ctx, classboard.Login{Email: sec.Email, Password: sec.Password, Device: "laptop"}, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	sec.SessionToken = sess.Token
	asAda := classboard.NewContextWithAuth(ctx, &classboard.Auth{Teacher: ada})
	pic, err := s.Media().CreateMedia(asAda, classboard.NewMedia{Data: []byte("\x89PNG golden picture"), ContentType: "image/png", Width: 2, Height: 1})
	if err != nil {
		t.Fatal(err)
	}
	sec.MediaID, sec.MediaContentType = pic.ID, pic.ContentType
	sec.LessonTitle = "Leaves"
	les, err := s.Lessons().CreateLesson(asAda, classboard.LessonInput{Title: sec.LessonTitle, Slides: []classboard.Slide{
		{Kind: classboard.SlideText, Title: "Leaves", Body: "Why *leaves* are green"},
		{Kind: classboard.SlideImage, MediaID: pic.ID, Caption: "A leaf"},
		{Kind: classboard.SlideLink, Title: "More", URL: "https://example.org/leaves"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	sec.LessonID = les.ID
	boards := s.Boards()
	nb, err := boards.CreateBoard(ctx, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boards.Claim(asAda, classboard.Claim{Code: nb.Code, Name: "Room 1"}, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	sec.BoardID, sec.BoardSecret = nb.BoardID, nb.BoardSecret
	st, err := boards.State(asAda, nb.BoardID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boards.SetState(asAda, nb.BoardID, st.Revision, classboard.StateUpdate{LessonID: les.ID, Slide: sec.Slide}); err != nil {
		t.Fatal(err)
	}
	if _, err := boards.CreateBoard(ctx, "10.0.0.1"); err != nil { // unpaired, with a code
		t.Fatal(err)
	}
	if _, err := boards.LiveTickets().IssueTicket(asAda, nb.BoardID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Media().MediaSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	idem := s.Idempotency()
	if _, err := idem.Reserve(ctx, sec.IdempotencyKey, sec.BodyHash); err != nil {
		t.Fatal(err)
	}
	if err := idem.Complete(ctx, sec.IdempotencyKey, classboard.IdempotentResponse{BodyHash: sec.BodyHash, Done: true, Status: 201, ContentType: "application/json", Body: []byte(`{"ok":true}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PasswordResets("https://school.example").RequestReset(ctx, sec.Email, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}

	for name, b := range s.buckets() {
		keys, err := b.keys(ctx, ">")
		if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
			t.Fatal(err)
		}
		for _, k := range keys {
			e, err := b.kv.Get(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "kv", name, k), e.Value())
		}
	}
	msg, err := s.js.Stream(ctx, outboxStream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := msg.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "outbox", "1.json"), raw.Data)
	data, err := s.media.GetBytes(ctx, pic.ID)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "media", pic.ID), data)
	b, _ := json.MarshalIndent(sec, "", "  ")
	writeFile(t, filepath.Join(dir, "secrets.json"), b)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readGolden loads a set of fixtures into a fresh store as they were
// stored, and reads them back through the services.
func readGolden(t *testing.T, dir string) {
	s := openTestStore(t)
	ctx := t.Context()
	var sec goldenSecrets
	b, err := os.ReadFile(filepath.Join(dir, "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sec); err != nil {
		t.Fatal(err)
	}
	buckets := s.buckets()
	files, err := filepath.Glob(filepath.Join(dir, "kv", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		name, key := filepath.Base(filepath.Dir(f)), filepath.Base(f)
		if retired[name] != "" {
			continue
		}
		bk := buckets[name]
		if bk == nil {
			t.Fatalf("%s: no bucket %s", f, name)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Every field of an old document still has a place in today's
		// type: a renamed or dropped field would lose data silently.
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(goldenType(name, key)); err != nil {
			t.Errorf("%s/%s does not decode into today's type: %v", name, key, err)
		}
		if _, err := bk.put(ctx, key, data, 0, 0); err != nil {
			t.Fatal(err)
		}
		seen[strings.TrimRight(name, "_0123456789")] = true
	}
	for _, name := range goldenKinds {
		if !seen[name] {
			t.Errorf("the fixtures hold no document of bucket %s", name)
		}
	}
	mail, err := os.ReadFile(filepath.Join(dir, "outbox", "1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.js.Publish(ctx, outboxSubject, mail); err != nil {
		t.Fatal(err)
	}
	pic, err := os.ReadFile(filepath.Join(dir, "media", sec.MediaID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.media.Put(ctx, jetstream.ObjectMeta{Name: sec.MediaID, Headers: nats.Header{"Content-Type": []string{sec.MediaContentType}}}, bytes.NewReader(pic)); err != nil {
		t.Fatal(err)
	}

	// Accounts: sign-in through the e-mail index, the old session.
	sess, err := s.Accounts().Login(ctx, classboard.Login{Email: sec.Email, Password: sec.Password}, "10.0.0.2")
	if err != nil || sess.Teacher.ID != sec.TeacherID {
		t.Fatalf("sign in with the stored password: %v", err)
	}
	auth, err := s.Accounts().Authenticate(ctx, sec.SessionToken)
	if err != nil || auth.Teacher.ID != sec.TeacherID {
		t.Fatalf("the stored session: %v", err)
	}
	asTeacher := classboard.NewContextWithAuth(ctx, auth)
	// Lessons and pictures.
	les, err := s.Lessons().Lesson(asTeacher, sec.LessonID)
	if err != nil || les.Title != sec.LessonTitle || len(les.Slides) == 0 {
		t.Errorf("the stored lesson: %+v %v", les, err)
	}
	if c, err := s.Media().MediaContent(asTeacher, sec.MediaID); err != nil || !bytes.Equal(c.Data, pic) {
		t.Errorf("the stored picture: %v", err)
	}
	if list, err := s.Media().MediaList(asTeacher, classboard.ListOptions{}); err != nil || len(list.Items) != 1 {
		t.Errorf("the stored picture records: %+v %v", list, err)
	}
	// Boards: the secret, the owner index, the state.
	if a, err := s.Boards().AuthenticateBoard(ctx, sec.BoardSecret); err != nil || a.BoardID != sec.BoardID {
		t.Errorf("the stored board secret: %v", err)
	}
	if list, err := s.Boards().Boards(asTeacher); err != nil || len(list) != 1 || list[0].ID != sec.BoardID {
		t.Errorf("the stored board list: %v %v", list, err)
	}
	if st, err := s.Boards().State(asTeacher, sec.BoardID); err != nil || st.Slide != sec.Slide || st.LessonID != sec.LessonID {
		t.Errorf("the stored board state: %+v %v", st, err)
	}
	// The media signing key and the idempotency record.
	var key []byte
	if _, err := s.config.get(ctx, signingKey, &key); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Media().MediaSigningKey(ctx); err != nil || !bytes.Equal(got, key) {
		t.Errorf("the stored media signing key was not used: %v", err)
	}
	if rec, err := s.Idempotency().Reserve(ctx, sec.IdempotencyKey, sec.BodyHash); err != nil || rec == nil || !rec.Done || rec.Status != 201 {
		t.Errorf("the stored idempotent answer: %+v %v", rec, err)
	}
	// The queued mail.
	nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d, err := s.Outbox().Next(nctx)
	if err != nil || d.Mail().To != sec.MailTo {
		t.Errorf("the queued mail: %v", err)
	}
}

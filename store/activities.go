package store

import (
	"context"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/token"
)

// ActivityLimits bound what pupils (anonymous callers) and teachers can
// create or guess in activities. They are counted in the store, for the
// whole cluster.
type ActivityLimits struct {
	PupilsPerRoom          int // seats in a room (default classboard.DefaultRoomPupils)
	AnswersPerSecond       int // answers per pupil per second
	RoomsPerHour           int // rooms one teacher starts per hour
	JoinFailsPerAddrMinute int // wrong join codes per client address per minute
	JoinFailsGlobalMinute  int // wrong join codes per minute, everyone together
}

// DefaultActivityLimits: a class of 30 behind one school address may mistype
// a few codes; a guesser gets a few hundred tries a minute cluster-wide at
// one in a million each.
var DefaultActivityLimits = ActivityLimits{
	PupilsPerRoom:          classboard.DefaultRoomPupils,
	AnswersPerSecond:       5,
	RoomsPerHour:           60,
	JoinFailsPerAddrMinute: 30,
	JoinFailsGlobalMinute:  300,
}

func (l ActivityLimits) withDefaults() ActivityLimits {
	d := DefaultActivityLimits
	for _, f := range []struct{ v, def *int }{
		{&l.PupilsPerRoom, &d.PupilsPerRoom}, {&l.AnswersPerSecond, &d.AnswersPerSecond},
		{&l.RoomsPerHour, &d.RoomsPerHour}, {&l.JoinFailsPerAddrMinute, &d.JoinFailsPerAddrMinute},
		{&l.JoinFailsGlobalMinute, &d.JoinFailsGlobalMinute},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return l
}

// Keys of the activities bucket. Every key of a room expires with its
// activity (classboard.ActivityTTL after the start) at the latest.
func activityKey(boardID string) string  { return "a." + keyPart(boardID) }
func joinKey(code string) string         { return "j." + code }
func pupilTokenKey(hash string) string   { return "k." + hash }
func pupilKey(roomID, id string) string  { return "p." + keyPart(roomID) + "." + id }
func answerKey(roomID, id string) string { return "x." + keyPart(roomID) + "." + id }

// activityDoc is a board's activity; its revision is the KV revision.
type activityDoc struct {
	V           int      `json:"v"`
	TeacherID   string   `json:"teacher_id"`
	Kind        string   `json:"kind"`
	Slide       int      `json:"slide"`
	Options     []string `json:"options,omitempty"`
	HideResults bool     `json:"hide_results,omitempty"`
	Anonymous   bool     `json:"anonymous,omitempty"`
	Status      string   `json:"status"`
	RoomID      string   `json:"room_id"`
	// Question counts the activities the room has had: pupils stay in
	// the room from one question to the next, and an answer counts only
	// for the question it was given to.
	Question  int       `json:"question"`
	JoinCode  string    `json:"join_code,omitempty"`
	StartedAt time.Time `json:"started_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type joinDoc struct {
	BoardID string `json:"board_id"`
	RoomID  string `json:"room_id"`
}

// pupilDoc is a pupil in a room; tokenDoc finds it from the hash of the
// pupil's token (the token itself is never stored).
type pupilDoc struct {
	BoardID   string `json:"board_id"`
	Name      string `json:"name"`
	TokenHash string `json:"token_hash"`
}

type tokenDoc struct {
	BoardID string `json:"board_id"`
	RoomID  string `json:"room_id"`
	PupilID string `json:"pupil_id"`
}

// answerDoc is one pupil's answer. A changed text loses its approval.
// TokenHash names the pupil who gave it: a seat freed by a removal may
// hold another pupil by the time a late answer of the removed one lands.
type answerDoc struct {
	BoardID   string            `json:"board_id"`
	Question  int               `json:"question"`
	TokenHash string            `json:"token_hash"`
	Answer    classboard.Answer `json:"answer"`
	Approved  bool              `json:"approved,omitempty"`
}

// counts reports whether the answer is the seat's pupil's answer to the
// activity's current question.
func (d *answerDoc) counts(act *activityDoc, p pupilDoc) bool {
	return d.Question == act.Question && d.TokenHash == p.TokenHash
}

// Activities implements classboard.ActivityService and
// classboard.ActivityEvents. One value per node: it keeps a view of every
// room (kept current by WatchActivities) for the live aggregate.
type Activities struct {
	b      *Boards
	s      *Store
	limits ActivityLimits

	mu     sync.Mutex
	acts   map[string]*activityDoc // board -> activity
	revs   map[string]uint64       // board -> the activity's revision
	rooms  map[string]*roomView    // room -> pupils and answers
	loaded bool                    // the watch has delivered every current value
}

type roomView struct {
	pupils  map[string]pupilDoc
	answers map[string]answerDoc
}

var (
	_ classboard.ActivityService = (*Activities)(nil)
	_ classboard.ActivityEvents  = (*Activities)(nil)
)

// Activities returns the activity service. Call it once per node.
func (b *Boards) Activities() *Activities {
	return &Activities{b: b, s: b.s, limits: b.s.cfg.Activities.withDefaults(),
		acts: map[string]*activityDoc{}, revs: map[string]uint64{}, rooms: map[string]*roomView{}}
}

var (
	errUnknownJoinCode = &classboard.Error{Code: classboard.EUNKNOWNCODE, Message: "This code is wrong or the activity has ended. Check the code on the board.", Rule: "join-failed"}
	errBadPupil        = classboard.Errorf(classboard.EUNAUTHORIZED, "You are no longer in this activity; join again with the code on the board.")
	errNoRoom          = classboard.Errorf(classboard.ENOTFOUND, "No such activity.")
	errClosed          = classboard.Errorf(classboard.EACTIVITYCLOSED, "The teacher has closed this question; no more answers.")
)

// ttlUntil is the TTL of a key that must be gone by end (at least a second).
func (a *Activities) ttlUntil(end time.Time) time.Duration {
	return max(end.Sub(a.s.cfg.Now()), time.Second)
}

// ownerActivity checks that the caller owns the paired board and returns
// its activity document (nil, 0 when there is none).
func (a *Activities) ownerActivity(ctx context.Context, boardID string) (*activityDoc, uint64, error) {
	au := classboard.AuthFromContext(ctx)
	if au == nil || au.Teacher == nil {
		return nil, 0, errNoBoard
	}
	return a.visibleActivity(ctx, boardID)
}

// visibleActivity is ownerActivity for the owner or the board itself.
func (a *Activities) visibleActivity(ctx context.Context, boardID string) (*activityDoc, uint64, error) {
	bd, _, err := a.b.visibleBoard(ctx, boardID, a.b.viewedBoard)
	if err != nil {
		return nil, 0, err
	}
	if bd.TeacherID == "" {
		return nil, 0, classboard.Errorf(classboard.ENOTFOUND, "This board is not paired yet.")
	}
	var doc activityDoc
	rev, err := a.s.activities.get(ctx, activityKey(boardID), &doc)
	if errors.Is(err, errNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, storeErr(fmt.Errorf("load activity: %w", err))
	}
	return &doc, rev, nil
}

// Activity returns the board's activity with its aggregate, read from the
// store (not the node's view), so it includes every acknowledged answer.
func (a *Activities) Activity(ctx context.Context, boardID string) (*classboard.Activity, error) {
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	doc, rev, err := a.visibleActivity(ctx, boardID)
	if err != nil || doc == nil {
		return noActivity(boardID), err
	}
	rv := &roomView{pupils: map[string]pupilDoc{}, answers: map[string]answerDoc{}}
	if err := entries(ctx, a.s.activities, "p."+keyPart(doc.RoomID)+".*", func(key string, d pupilDoc) {
		rv.pupils[lastPart(key)] = d
	}); err != nil {
		return nil, storeErr(err)
	}
	if err := entries(ctx, a.s.activities, "x."+keyPart(doc.RoomID)+".*", func(key string, d answerDoc) {
		rv.answers[lastPart(key)] = d
	}); err != nil {
		return nil, storeErr(err)
	}
	return doc.activity(boardID, rev, rv, classboard.AuthFromContext(ctx).Teacher != nil), nil
}

func noActivity(boardID string) *classboard.Activity {
	return &classboard.Activity{BoardID: boardID, Status: classboard.StatusNone}
}

// activity builds what the owner (or, without owner, the board) sees: the
// aggregate counts only pupils still in the room, and the board sees short
// answers only once approved, and no results while they are hidden.
func (d *activityDoc) activity(boardID string, rev uint64, rv *roomView, owner bool) *classboard.Activity {
	act := &classboard.Activity{
		BoardID: boardID, Status: d.Status, Kind: d.Kind, Question: d.Question, Slide: d.Slide, Options: d.Options,
		HideResults: d.HideResults, Anonymous: d.Anonymous, RoomID: d.RoomID, JoinCode: d.JoinCode,
		StartedAt: d.StartedAt, ExpiresAt: d.ExpiresAt, Revision: rev,
	}
	agg := &classboard.Aggregate{}
	act.Aggregate = agg
	show := owner || !d.HideResults || d.Status == classboard.StatusRevealed
	if d.Kind == classboard.KindPoll && show {
		agg.Counts = make([]int, len(d.Options))
	}
	ids := make([]string, 0, len(rv.pupils))
	for id := range rv.pupils {
		ids = append(ids, id)
	}
	// By seat, so lists and markers do not jump around between frames.
	slices.SortFunc(ids, func(x, y string) int { return cmpNum(x, y) })
	for _, id := range ids {
		p := rv.pupils[id]
		ans, answered := rv.answers[id]
		answered = answered && ans.counts(d, p)
		agg.Pupils++
		if owner {
			act.Pupils = append(act.Pupils, classboard.Pupil{ID: id, Name: p.Name, Answered: answered})
		}
		if !answered {
			continue
		}
		agg.Answers++
		if !show {
			continue
		}
		switch in := ans.Answer; {
		case in.Marker != nil && d.Kind == classboard.KindMarkers:
			agg.Markers = append(agg.Markers, *in.Marker)
		case in.Choice != nil && d.Kind == classboard.KindPoll && *in.Choice < len(agg.Counts):
			agg.Counts[*in.Choice]++
		case in.Text != nil && d.Kind == classboard.KindAnswer && ans.Approved:
			agg.Approved = append(agg.Approved, *in.Text)
		case in.Text != nil && d.Kind == classboard.KindAnswer && owner:
			act.Pending = append(act.Pending, classboard.PendingAnswer{PupilID: id, Name: p.Name, Text: *in.Text})
		}
	}
	return act
}

func cmpNum(x, y string) int {
	a, _ := strconv.Atoi(x)
	b, _ := strconv.Atoi(y)
	return a - b
}

// SetActivity starts or changes a board's activity with a compare-and-set
// on its revision.
func (a *Activities) SetActivity(ctx context.Context, boardID string, ifMatch uint64, in classboard.ActivityUpdate) (*classboard.Activity, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	cur, rev, err := a.ownerActivity(ctx, boardID)
	if err != nil {
		return nil, err
	}
	if ifMatch != rev {
		return nil, a.staleActivity(ctx, boardID)
	}
	teacherID := classboard.AuthFromContext(ctx).Teacher.ID
	now := a.s.cfg.Now().UTC().Truncate(time.Millisecond)
	// A new room (a new join code, no pupils) after none or an ended one;
	// another question (kind, slide or options) keeps the room's pupils.
	newRoom := cur == nil || cur.Status == classboard.StatusEnded
	starting := newRoom || cur.Kind != in.Kind || cur.Slide != in.Slide || !slices.Equal(cur.Options, in.Options)
	if starting && in.Status != classboard.StatusOpen {
		return nil, &classboard.Error{Code: classboard.EINVALID, Message: "Some fields are not valid.",
			Fields: map[string]string{"status": "a new activity starts open"}}
	}
	var doc activityDoc
	switch {
	case starting && !newRoom:
		doc = *cur
		doc.Kind, doc.Slide, doc.Options, doc.HideResults, doc.Status = in.Kind, in.Slide, in.Options, in.HideResults, in.Status
		doc.Anonymous = in.Anonymous
		doc.Question++
	case newRoom:
		if n, err := a.s.hit(ctx, "rooms-started", teacherID, time.Hour); err != nil {
			return nil, storeErr(err)
		} else if n > a.limits.RoomsPerHour {
			return nil, &classboard.Error{Code: classboard.ERATELIMITED, RetryAfter: now.Truncate(time.Hour).Add(time.Hour).Sub(now),
				Message: "You started too many activities this hour; wait a little.", Rule: "rooms-started"}
		}
		doc = activityDoc{V: 1, TeacherID: teacherID, Kind: in.Kind, Slide: in.Slide, Options: in.Options,
			HideResults: in.HideResults, Anonymous: in.Anonymous, Status: in.Status, RoomID: uuid.NewString(),
			StartedAt: now, ExpiresAt: now.Add(classboard.ActivityTTL)}
		if doc.JoinCode, err = a.issueJoinCode(ctx, boardID, doc.RoomID, doc.ExpiresAt); err != nil {
			return nil, err
		}
	default:
		doc = *cur
		doc.Status, doc.HideResults, doc.Anonymous = in.Status, in.HideResults, in.Anonymous
		if in.Status == classboard.StatusEnded {
			doc.JoinCode = ""
		}
	}
	if rev == 0 {
		_, err = a.s.activities.create(ctx, activityKey(boardID), doc, a.ttlUntil(doc.ExpiresAt))
		if errors.Is(err, errExists) {
			err = errRevision
		}
	} else {
		_, err = a.s.activities.update(ctx, activityKey(boardID), doc, rev, a.ttlUntil(doc.ExpiresAt))
	}
	if errors.Is(err, errRevision) {
		if newRoom {
			a.dropKey(ctx, joinKey(doc.JoinCode))
		}
		return nil, a.staleActivity(ctx, boardID)
	}
	if err != nil {
		return nil, storeErr(fmt.Errorf("store activity: %w", err))
	}
	// The old room's code and answers go once the write decided.
	if cur != nil && (newRoom || in.Status == classboard.StatusEnded) && cur.JoinCode != "" {
		a.dropKey(ctx, joinKey(cur.JoinCode))
	}
	switch {
	case cur != nil && newRoom:
		a.purgeRoom(ctx, cur.RoomID)
	case starting && !newRoom:
		a.purgeAnswers(ctx, cur.RoomID)
	}
	return a.Activity(ctx, boardID)
}

func (a *Activities) staleActivity(ctx context.Context, boardID string) error {
	cur, err := a.Activity(ctx, boardID)
	if err != nil {
		return err
	}
	return &classboard.Error{Code: classboard.EREVISIONMISMATCH,
		Message: "The activity changed meanwhile; this is what it is now.", Current: cur}
}

// issueJoinCode takes a free code for the room with a KV create, so two
// rooms never hold the same code. It lives until the activity expires,
// and is dropped when the activity ends.
func (a *Activities) issueJoinCode(ctx context.Context, boardID, roomID string, expires time.Time) (string, error) {
	codes := make([]string, 20)
	keys := make([]string, len(codes))
	for i := range codes {
		codes[i] = randomCode()
		keys[i] = joinKey(codes[i])
	}
	i, err := a.createFirstFree(ctx, keys, joinDoc{BoardID: boardID, RoomID: roomID}, a.ttlUntil(expires))
	if err != nil {
		return "", storeErr(fmt.Errorf("store join code: %w", err))
	}
	if i < 0 {
		return "", classboard.Errorf(classboard.EUNAVAILABLE, "No join code is free right now; try again shortly.")
	}
	return codes[i], nil
}

// createFirstFree stores v under the first of keys that holds nothing and
// returns its index, or -1 when every one is taken.
func (a *Activities) createFirstFree(ctx context.Context, keys []string, v any, ttl time.Duration) (int, error) {
	for i, k := range keys {
		_, err := a.s.activities.create(ctx, k, v, ttl)
		if errors.Is(err, errExists) {
			continue
		}
		if err != nil {
			return 0, err
		}
		return i, nil
	}
	return -1, nil
}

// dropKey removes a key; best effort, since every key expires anyway.
func (a *Activities) dropKey(ctx context.Context, key string) {
	if err := a.s.activities.delete(ctx, key, 0); err != nil {
		a.s.log.Warn("drop activity key", "err", err)
	}
}

// purgeRoom erases a room's pupils, their tokens and answers (best
// effort: what is left expires with the activity).
func (a *Activities) purgeRoom(ctx context.Context, roomID string) {
	var keys []string
	err := entries(ctx, a.s.activities, "p."+keyPart(roomID)+".*", func(key string, d pupilDoc) {
		keys = append(keys, key, pupilTokenKey(d.TokenHash), answerKey(roomID, lastPart(key)))
	})
	if err != nil {
		a.s.log.Warn("list room's pupils", "err", err)
	}
	for _, k := range keys {
		a.dropKey(ctx, k)
	}
}

// purgeAnswers erases the answers to the room's last question (best
// effort: they no longer count, and expire with the activity).
func (a *Activities) purgeAnswers(ctx context.Context, roomID string) {
	err := entries(ctx, a.s.activities, "x."+keyPart(roomID)+".*", func(key string, _ answerDoc) {
		a.dropKey(ctx, key)
	})
	if err != nil {
		a.s.log.Warn("list room's answers", "err", err)
	}
}

// DeleteActivity erases the activity and the class's answers.
func (a *Activities) DeleteActivity(ctx context.Context, boardID string) error {
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	cur, _, err := a.ownerActivity(ctx, boardID)
	if err != nil || cur == nil {
		return err
	}
	if cur.JoinCode != "" {
		a.dropKey(ctx, joinKey(cur.JoinCode))
	}
	a.purgeRoom(ctx, cur.RoomID)
	if err := a.s.activities.delete(ctx, activityKey(boardID), 0); err != nil {
		return storeErr(err)
	}
	return nil
}

// Moderate approves a pupil's short answer or withdraws the approval. The
// write is a compare-and-set on the answer read, so an answer the pupil
// changed meanwhile is not approved unseen.
func (a *Activities) Moderate(ctx context.Context, boardID, pupilID string, approved bool) error {
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	cur, _, err := a.ownerActivity(ctx, boardID)
	if err != nil {
		return err
	}
	if cur == nil || cur.Kind != classboard.KindAnswer {
		return classboard.Errorf(classboard.ENOTFOUND, "No such answer.")
	}
	var ans answerDoc
	rev, err := a.s.activities.get(ctx, answerKey(cur.RoomID, keyPart(pupilID)), &ans)
	if errors.Is(err, errNotFound) || err == nil && ans.Question != cur.Question {
		return classboard.Errorf(classboard.ENOTFOUND, "No such answer.")
	}
	if err != nil {
		return storeErr(err)
	}
	ans.Approved = approved
	_, err = a.s.activities.update(ctx, answerKey(cur.RoomID, keyPart(pupilID)), ans, rev, a.ttlUntil(cur.ExpiresAt))
	if errors.Is(err, errRevision) {
		return classboard.Errorf(classboard.ECONFLICT, "The pupil changed the answer meanwhile; look again.")
	}
	return storeErr(err)
}

// RemovePupil removes a pupil, their token and their answer.
func (a *Activities) RemovePupil(ctx context.Context, boardID, pupilID string) error {
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	cur, _, err := a.ownerActivity(ctx, boardID)
	if err != nil {
		return err
	}
	if cur == nil {
		return classboard.Errorf(classboard.ENOTFOUND, "No such pupil.")
	}
	id := keyPart(pupilID)
	var p pupilDoc
	if _, err := a.s.activities.get(ctx, pupilKey(cur.RoomID, id), &p); errors.Is(err, errNotFound) {
		return classboard.Errorf(classboard.ENOTFOUND, "No such pupil.")
	} else if err != nil {
		return storeErr(err)
	}
	// The token first: from then on the pupil can write nothing more.
	for _, k := range []string{pupilTokenKey(p.TokenHash), answerKey(cur.RoomID, id), pupilKey(cur.RoomID, id)} {
		if err := a.s.activities.delete(ctx, k, 0); err != nil {
			return storeErr(err)
		}
	}
	return nil
}

// Failure counters of join codes.
const (
	scopeJoinFailAddr   = "join-fail-addr"
	scopeJoinFailGlobal = "join-fail-global"
)

// Join adds a pupil to the room of a join code.
func (a *Activities) Join(ctx context.Context, in classboard.JoinRequest, clientAddr string) (*classboard.PupilJoin, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	limits := []struct {
		scope, subject string
		limit          int
	}{
		{scopeJoinFailGlobal, "all", a.limits.JoinFailsGlobalMinute},
		{scopeJoinFailAddr, clientAddr, a.limits.JoinFailsPerAddrMinute},
	}
	for _, l := range limits {
		n, wait, err := a.s.count(ctx, l.scope, l.subject, time.Minute)
		if err != nil {
			return nil, storeErr(err)
		}
		if n >= l.limit {
			return nil, rateLimited(l.scope, wait)
		}
	}
	j, doc, err := a.openRoom(ctx, in.Code)
	if errors.Is(err, errUnknownJoinCode) {
		for _, l := range limits {
			if _, err := a.s.hit(ctx, l.scope, l.subject, time.Minute); err != nil {
				a.s.log.Warn("count failed join", "scope", l.scope, "err", err)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if in.Name == "" && !doc.Anonymous {
		return nil, &classboard.Error{Code: classboard.EINVALID, Message: "Some fields are not valid.",
			Fields: map[string]string{"name": "is required"}}
	}
	tok := token.New()
	hash := token.Hash(tok)
	ttl := a.ttlUntil(doc.ExpiresAt)
	id, err := a.takeSeat(ctx, j.RoomID, pupilDoc{BoardID: j.BoardID, Name: in.Name, TokenHash: hash}, ttl)
	if err != nil {
		return nil, err
	}
	if _, err := a.s.activities.create(ctx, pupilTokenKey(hash), tokenDoc{BoardID: j.BoardID, RoomID: j.RoomID, PupilID: id}, ttl); err != nil {
		a.dropKey(ctx, pupilKey(j.RoomID, id)) // a seat without a token is nobody's
		return nil, storeErr(fmt.Errorf("store pupil token: %w", err))
	}
	return &classboard.PupilJoin{RoomID: j.RoomID, PupilToken: tok, PupilID: id}, nil
}

// openRoom finds the room of a join code that is still open to joining.
func (a *Activities) openRoom(ctx context.Context, code string) (*joinDoc, *activityDoc, error) {
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return nil, nil, errUnknownJoinCode
	}
	var j joinDoc
	if _, err := a.s.activities.get(ctx, joinKey(code), &j); errors.Is(err, errNotFound) {
		return nil, nil, errUnknownJoinCode
	} else if err != nil {
		return nil, nil, storeErr(err)
	}
	var doc activityDoc
	if _, err := a.s.activities.get(ctx, activityKey(j.BoardID), &doc); errors.Is(err, errNotFound) {
		return nil, nil, errUnknownJoinCode
	} else if err != nil {
		return nil, nil, storeErr(err)
	}
	if doc.RoomID != j.RoomID || doc.Status == classboard.StatusEnded || !a.s.cfg.Now().Before(doc.ExpiresAt) {
		return nil, nil, errUnknownJoinCode
	}
	return &j, &doc, nil
}

// takeSeat seats a pupil on a free seat of the room (1..PupilsPerRoom),
// tried in random order with a KV create each: pupils joining at once
// rarely meet on one key, a removed pupil's seat is free again, and a room
// with every seat taken is full.
func (a *Activities) takeSeat(ctx context.Context, roomID string, p pupilDoc, ttl time.Duration) (string, error) {
	seats := mathrand.Perm(a.limits.PupilsPerRoom)
	keys := make([]string, len(seats))
	for i, n := range seats {
		keys[i] = pupilKey(roomID, strconv.Itoa(n+1))
	}
	i, err := a.createFirstFree(ctx, keys, p, ttl)
	if err != nil {
		return "", storeErr(fmt.Errorf("store pupil: %w", err))
	}
	if i < 0 {
		return "", classboard.Errorf(classboard.EROOMFULL, "This activity is full; ask your teacher.")
	}
	return strconv.Itoa(seats[i] + 1), nil
}

// pupil returns the pupil holding tok, who must be in roomID.
func (a *Activities) pupil(ctx context.Context, roomID, tok string) (*tokenDoc, *activityDoc, error) {
	if !token.Valid(tok) {
		return nil, nil, errBadPupil
	}
	var t tokenDoc
	if _, err := a.s.activities.get(ctx, pupilTokenKey(token.Hash(tok)), &t); errors.Is(err, errNotFound) {
		return nil, nil, errBadPupil
	} else if err != nil {
		return nil, nil, storeErr(err)
	}
	if t.RoomID != roomID {
		return nil, nil, errNoRoom // a token is worth nothing in another room
	}
	var doc activityDoc
	if _, err := a.s.activities.get(ctx, activityKey(t.BoardID), &doc); errors.Is(err, errNotFound) {
		return nil, nil, errBadPupil
	} else if err != nil {
		return nil, nil, storeErr(err)
	}
	if doc.RoomID != roomID {
		// A new activity replaced this room: it has ended.
		doc.Status, doc.JoinCode = classboard.StatusEnded, ""
	}
	return &t, &doc, nil
}

// Room returns what the pupil sees of the room.
func (a *Activities) Room(ctx context.Context, roomID, tok string) (*classboard.Room, error) {
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	t, doc, err := a.pupil(ctx, roomID, tok)
	if err != nil {
		return nil, err
	}
	var p pupilDoc
	if _, err := a.s.activities.get(ctx, pupilKey(roomID, t.PupilID), &p); errors.Is(err, errNotFound) {
		return nil, errBadPupil
	} else if err != nil {
		return nil, storeErr(err)
	}
	r := &classboard.Room{RoomID: roomID, Question: doc.Question, Kind: doc.Kind, Status: doc.Status, Options: doc.Options,
		Name: p.Name, BoardID: t.BoardID, Slide: doc.Slide, TeacherID: doc.TeacherID}
	var ans answerDoc
	switch _, err := a.s.activities.get(ctx, answerKey(roomID, t.PupilID), &ans); {
	case err == nil && ans.counts(doc, p):
		r.Answer = &ans.Answer
	case err != nil && !errors.Is(err, errNotFound):
		return nil, storeErr(err)
	}
	return r, nil
}

// SetAnswer stores a pupil's answer; it is acknowledged once the store
// has it on a majority of nodes.
func (a *Activities) SetAnswer(ctx context.Context, roomID, tok string, in classboard.Answer) error {
	if err := in.Validate(); err != nil {
		return err
	}
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	t, doc, err := a.pupil(ctx, roomID, tok)
	if err != nil {
		return err
	}
	if doc.Status != classboard.StatusOpen {
		return errClosed
	}
	v := classboard.ValidationErrors{}
	switch doc.Kind {
	case classboard.KindMarkers:
		if in.Marker == nil {
			v.Add("marker", "is required: tap on the picture")
		}
	case classboard.KindPoll:
		if in.Choice == nil || *in.Choice >= len(doc.Options) {
			v.Add("choice", "is not one of the options")
		}
	case classboard.KindAnswer:
		if in.Text == nil {
			v.Add("text", "is required")
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	if n, err := a.s.hit(ctx, "pupil-answers", roomID+"/"+t.PupilID, time.Second); err != nil {
		return storeErr(err)
	} else if n > a.limits.AnswersPerSecond {
		return &classboard.Error{Code: classboard.ERATELIMITED, RetryAfter: time.Second, Message: "Slow down a little, then try again.", Rule: "pupil-answers"}
	}
	// A removed pupil's token is gone before their pupil record, so a
	// pupil record read here means the pupil is still in the room.
	var p pupilDoc
	if _, err := a.s.activities.get(ctx, pupilKey(roomID, t.PupilID), &p); errors.Is(err, errNotFound) {
		return errBadPupil
	} else if err != nil {
		return storeErr(err)
	}
	data := answerDoc{BoardID: t.BoardID, Question: doc.Question, TokenHash: p.TokenHash, Answer: in}
	if err := a.s.activities.set(ctx, answerKey(roomID, t.PupilID), data, a.ttlUntil(doc.ExpiresAt)); err != nil {
		return storeErr(fmt.Errorf("store answer: %w", err))
	}
	return nil
}

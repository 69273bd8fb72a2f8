package store

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash/fnv"
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

// Keys of the activities buckets. Every key of a room expires with its
// activity (classboard.ActivityTTL after the start) at the latest.
func activityKey(boardID string) string  { return "a." + keyPart(boardID) }
func joinKey(code string) string         { return "j." + code }
func pupilKey(roomID, id string) string  { return "p." + keyPart(roomID) + "." + id }
func pupilTicketKey(hash string) string  { return "t." + hash }
func answerKey(roomID, id string) string { return "x." + keyPart(roomID) + "." + id }

// Activities are spread over activityShards buckets, two per board-state
// shard: a board's activity, its join code, its pupils and their answers
// all live in one bucket, one of the two of the board's state shard
// (activityShard), whose stream leader the store keeps beside the
// board-state one (spreadStateLeaders). Every write is fsynced in turn per
// stream, so the streams bound how many joins and answers a node stores a
// second: six took twice the joins of three (docs/benchmarks.md).
const activityShards = 2 * stateShards

// activityShard is the bucket of a board's activities: of the two of its
// state shard (shard and shard+stateShards), the one its id picks.
func activityShard(bd *boardDoc) (int, error) {
	shard, err := bd.shard()
	if err != nil {
		return 0, err
	}
	h := fnv.New32a()
	h.Write([]byte(bd.ID))
	return shard + stateShards*int(h.Sum32()%(activityShards/stateShards)), nil
}

func activityBucketName(shard int) string {
	if shard == 0 {
		return "activities"
	}
	return fmt.Sprintf("activities_%d", shard)
}

// A join code names its shard: the code's number modulo activityShards, so a
// join finds the room's bucket from the code alone. Codes stay uniform
// over all million numbers.
func codeShard(code string) int {
	n, _ := strconv.Atoi(code)
	return n % activityShards
}

func randomCodeIn(shard int) string {
	n, _ := strconv.Atoi(randomCode())
	n += shard - n%activityShards
	if n >= 1_000_000 {
		n -= activityShards
	}
	return fmt.Sprintf("%06d", n)
}

// A pupil token names where its pupil sits: "<shard><seat, 3 digits><room
// tag, 6 hex><secret>". The seat's record holds the hash of the whole
// token, so an answer reads one key to know its pupil (no token key to
// write at the join), and the room tag tells a token of another room
// without reading anything. Only the secret is secret.
const pupilTokenLen = 1 + 3 + 6 + 43

func pupilToken(shard int, seat string, roomID string) string {
	n, _ := strconv.Atoi(seat)
	return fmt.Sprintf("%d%03d%s%s", shard, n, roomTag(roomID), token.New())
}

func roomTag(roomID string) string { return token.Hash(roomID)[:6] }

// parsePupilToken returns the shard and seat a token names and its room
// tag; ok is false for anything a pupilToken call did not make.
func parsePupilToken(tok string) (shard int, seat, tag string, ok bool) {
	if len(tok) != pupilTokenLen || !token.Valid(tok[10:]) {
		return 0, "", "", false
	}
	shard = int(tok[0] - '0')
	n, err := strconv.Atoi(tok[1:4])
	if shard < 0 || shard >= activityShards || err != nil || n < 1 || strings.Trim(tok[4:10], "0123456789abcdef") != "" {
		return 0, "", "", false
	}
	return shard, strconv.Itoa(n), tok[4:10], true
}

// activityDoc is a board's activity; its revision is the KV revision.
type activityDoc struct {
	V           int      `json:"v"`
	TeacherID   string   `json:"teacher_id"`
	Kind        string   `json:"kind"`
	Slide       int      `json:"slide"`
	Options     []string `json:"options,omitempty"`
	HideResults bool     `json:"hide_results,omitempty"`
	Anonymous   bool     `json:"anonymous,omitempty"`
	MaxMarkers  int      `json:"max_markers,omitempty"`
	Display     string   `json:"display,omitempty"`
	Status      string   `json:"status"`
	RoomID      string   `json:"room_id"`
	// Question counts the activities the room has had: pupils stay in
	// the room from one question to the next, and an answer counts only
	// for the question it was given to.
	Question  int       `json:"question"`
	JoinCode  string    `json:"join_code,omitempty"`
	StartedAt time.Time `json:"started_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Network is the board's (boardDoc.Network): pupils joining from it
	// are let in while everyone's budget of wrong codes is spent.
	Network string `json:"network,omitempty"`

	shard int // the bucket it was read from or goes to; not stored
}

type joinDoc struct {
	BoardID string `json:"board_id"`
	RoomID  string `json:"room_id"`
}

// pupilDoc is a pupil in a room, found from the seat the pupil's token
// names; TokenHash tells whether the token is the seat's (the token itself
// is never stored).
type pupilDoc struct {
	BoardID   string `json:"board_id"`
	Name      string `json:"name"`
	TokenHash string `json:"token_hash"`
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
	// Second (Unix) and InSecond count the pupil's answers in their last
	// second, for the answers-per-second limit: kept with the answer, an
	// answer writes to its room's bucket alone.
	Second   int64 `json:"second,omitempty"`
	InSecond int   `json:"in_second,omitempty"`

	rev uint64 // the KV revision, in this node's view; not stored
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

	mu    sync.Mutex
	views [activityShards]*shardView      // by shard, kept by WatchActivities
	held  map[string]map[string]time.Time // room -> seat -> when seatOrder handed it to a join
}

// shardView is this node's view of one activities bucket.
type shardView struct {
	acts   map[string]*activityDoc // board -> activity
	revs   map[string]uint64       // board -> the activity's revision
	rooms  map[string]*roomView    // room -> pupils and answers
	codes  map[string]string       // join code -> board
	loaded bool                    // the watch has delivered every current value
}

func newShardView() *shardView {
	return &shardView{acts: map[string]*activityDoc{}, revs: map[string]uint64{}, rooms: map[string]*roomView{}, codes: map[string]string{}}
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
	a := &Activities{b: b, s: b.s, limits: b.s.cfg.Activities.withDefaults(), held: map[string]map[string]time.Time{}}
	for i := range a.views {
		a.views[i] = newShardView()
	}
	return a
}

// bucket is the activities bucket of a shard.
func (a *Activities) bucket(shard int) *bucket { return a.s.activities[shard] }

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
func (a *Activities) ownerActivity(ctx context.Context, boardID string) (*boardDoc, *activityDoc, uint64, error) {
	au := classboard.AuthFromContext(ctx)
	if au == nil || au.Teacher == nil {
		return nil, nil, 0, errNoBoard
	}
	return a.visibleActivity(ctx, boardID)
}

// visibleActivity is ownerActivity for the owner or the board itself.
func (a *Activities) visibleActivity(ctx context.Context, boardID string) (*boardDoc, *activityDoc, uint64, error) {
	bd, _, err := a.b.visibleBoard(ctx, boardID, a.b.viewedBoard)
	if err != nil {
		return nil, nil, 0, err
	}
	if bd.TeacherID == "" {
		return nil, nil, 0, classboard.Errorf(classboard.ENOTFOUND, "This board is not paired yet.")
	}
	shard, err := activityShard(bd)
	if err != nil {
		return nil, nil, 0, err
	}
	doc := activityDoc{shard: shard}
	rev, err := a.bucket(shard).get(ctx, activityKey(boardID), &doc)
	if errors.Is(err, errNotFound) {
		return bd, nil, 0, nil
	}
	if err != nil {
		return nil, nil, 0, storeErr(fmt.Errorf("load activity: %w", err))
	}
	return bd, &doc, rev, nil
}

// Activity returns the board's activity with its aggregate, read from the
// store (not the node's view), so it includes every acknowledged answer.
func (a *Activities) Activity(ctx context.Context, boardID string) (*classboard.Activity, error) {
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	_, doc, rev, err := a.visibleActivity(ctx, boardID)
	if err != nil || doc == nil {
		return noActivity(boardID), err
	}
	rv := &roomView{pupils: map[string]pupilDoc{}, answers: map[string]answerDoc{}}
	if err := entries(ctx, a.bucket(doc.shard), "p."+keyPart(doc.RoomID)+".*", func(key string, d pupilDoc) {
		rv.pupils[lastPart(key)] = d
	}); err != nil {
		return nil, storeErr(err)
	}
	if err := entries(ctx, a.bucket(doc.shard), "x."+keyPart(doc.RoomID)+".*", func(key string, d answerDoc) {
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
		HideResults: d.HideResults, Anonymous: d.Anonymous, MaxMarkers: d.MaxMarkers, Display: d.Display, RoomID: d.RoomID, JoinCode: d.JoinCode,
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
		case d.Kind == classboard.KindMarkers:
			// A pupil's markers beyond the activity's number (it was
			// lowered meanwhile) are not shown.
			pts := in.Points()
			agg.Markers = append(agg.Markers, pts[:min(len(pts), d.maxMarkers())]...)
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

// maxMarkers is how many markers a pupil may place.
func (d *activityDoc) maxMarkers() int { return max(1, d.MaxMarkers) }

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
	bd, cur, rev, err := a.ownerActivity(ctx, boardID)
	if err != nil {
		return nil, err
	}
	shard, err := activityShard(bd)
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
		doc.Anonymous, doc.MaxMarkers, doc.Display = in.Anonymous, in.MaxMarkers, in.Display
		doc.Question++
	case newRoom:
		if n, err := a.s.hit(ctx, "rooms-started", teacherID, time.Hour); err != nil {
			return nil, storeErr(err)
		} else if n > a.limits.RoomsPerHour {
			return nil, &classboard.Error{Code: classboard.ERATELIMITED, RetryAfter: now.Truncate(time.Hour).Add(time.Hour).Sub(now),
				Message: "You started too many activities this hour; wait a little.", Rule: "rooms-started"}
		}
		doc = activityDoc{V: 1, TeacherID: teacherID, Kind: in.Kind, Slide: in.Slide, Options: in.Options,
			HideResults: in.HideResults, Anonymous: in.Anonymous, MaxMarkers: in.MaxMarkers, Display: in.Display, Status: in.Status, RoomID: uuid.NewString(),
			StartedAt: now, ExpiresAt: now.Add(classboard.ActivityTTL), Network: bd.Network, shard: shard}
		if doc.JoinCode, err = a.issueJoinCode(ctx, shard, boardID, doc.RoomID, doc.ExpiresAt); err != nil {
			return nil, err
		}
	default:
		doc = *cur
		doc.Status, doc.HideResults, doc.Anonymous = in.Status, in.HideResults, in.Anonymous
		doc.MaxMarkers, doc.Display = in.MaxMarkers, in.Display
		if in.Status == classboard.StatusEnded {
			doc.JoinCode = ""
		}
	}
	bk := a.bucket(shard)
	if rev == 0 {
		_, err = bk.create(ctx, activityKey(boardID), doc, a.ttlUntil(doc.ExpiresAt))
		if errors.Is(err, errExists) {
			err = errRevision
		}
	} else {
		_, err = bk.update(ctx, activityKey(boardID), doc, rev, a.ttlUntil(doc.ExpiresAt))
	}
	if errors.Is(err, errRevision) {
		if newRoom {
			a.s.dropKey(ctx, bk, joinKey(doc.JoinCode))
		}
		return nil, a.staleActivity(ctx, boardID)
	}
	if err != nil {
		return nil, storeErr(fmt.Errorf("store activity: %w", err))
	}
	// The old room's code and answers go once the write decided.
	if cur != nil && (newRoom || in.Status == classboard.StatusEnded) && cur.JoinCode != "" {
		a.s.dropKey(ctx, bk, joinKey(cur.JoinCode))
	}
	switch {
	case cur != nil && newRoom:
		a.s.purgeRoom(ctx, bk, cur.RoomID)
	case starting && !newRoom:
		a.purgeAnswers(ctx, bk, cur.RoomID)
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
func (a *Activities) issueJoinCode(ctx context.Context, shard int, boardID, roomID string, expires time.Time) (string, error) {
	codes := make([]string, 20)
	keys := make([]string, len(codes))
	for i := range codes {
		codes[i] = randomCodeIn(shard)
		keys[i] = joinKey(codes[i])
	}
	i, err := a.createFirst(ctx, a.bucket(shard), keys, func(int) any { return joinDoc{BoardID: boardID, RoomID: roomID} }, a.ttlUntil(expires))
	if err != nil {
		return "", storeErr(fmt.Errorf("store join code: %w", err))
	}
	if i < 0 {
		return "", classboard.Errorf(classboard.EUNAVAILABLE, "No join code is free right now; try again shortly.")
	}
	return codes[i], nil
}

// createFirst stores value(i) under the first of keys that holds nothing
// and returns its index, or -1 when every one is taken.
func (a *Activities) createFirst(ctx context.Context, bk *bucket, keys []string, value func(i int) any, ttl time.Duration) (int, error) {
	for i, k := range keys {
		_, err := bk.create(ctx, k, value(i), ttl)
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

// dropKey removes an activities key; best effort, since every key expires
// anyway.
func (s *Store) dropKey(ctx context.Context, bk *bucket, key string) {
	if err := bk.delete(ctx, key, 0); err != nil {
		s.log.Warn("drop activity key", "err", err)
	}
}

// purgeRoom erases a room's pupils (their tokens with them) and answers
// (best effort: what is left expires with the activity).
func (s *Store) purgeRoom(ctx context.Context, bk *bucket, roomID string) {
	var keys []string
	err := entries(ctx, bk, "p."+keyPart(roomID)+".*", func(key string, _ pupilDoc) {
		keys = append(keys, key, answerKey(roomID, lastPart(key)))
	})
	if err != nil {
		s.log.Warn("list room's pupils", "err", err)
	}
	for _, k := range keys {
		s.dropKey(ctx, bk, k)
	}
}

// purgeAnswers erases the answers to the room's last question (best
// effort: they no longer count, and expire with the activity).
func (a *Activities) purgeAnswers(ctx context.Context, bk *bucket, roomID string) {
	err := entries(ctx, bk, "x."+keyPart(roomID)+".*", func(key string, _ answerDoc) {
		a.s.dropKey(ctx, bk, key)
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
	_, cur, _, err := a.ownerActivity(ctx, boardID)
	if err != nil || cur == nil {
		return err
	}
	return storeErr(a.s.eraseActivity(ctx, boardID, cur))
}

// eraseActivity erases a board's activity, its join code, and its class's
// pupils and answers.
func (s *Store) eraseActivity(ctx context.Context, boardID string, cur *activityDoc) error {
	bk := s.activities[cur.shard]
	if cur.JoinCode != "" {
		s.dropKey(ctx, bk, joinKey(cur.JoinCode))
	}
	s.purgeRoom(ctx, bk, cur.RoomID)
	return bk.delete(ctx, activityKey(boardID), 0)
}

// forgetActivity erases the activity of a board being forgotten: its
// pupils' names and answers are personal data that nobody can see any more,
// and its join code must stop letting pupils in.
func (s *Store) forgetActivity(ctx context.Context, bd *boardDoc) error {
	shard, err := activityShard(bd)
	if err != nil {
		return err
	}
	cur := activityDoc{shard: shard}
	if _, err := s.activities[shard].get(ctx, activityKey(bd.ID), &cur); err != nil {
		if errors.Is(err, errNotFound) {
			return nil
		}
		return fmt.Errorf("load activity: %w", err)
	}
	return s.eraseActivity(ctx, bd.ID, &cur)
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
	_, cur, _, err := a.ownerActivity(ctx, boardID)
	if err != nil {
		return err
	}
	if cur == nil || cur.Kind != classboard.KindAnswer {
		return classboard.Errorf(classboard.ENOTFOUND, "No such answer.")
	}
	bk := a.bucket(cur.shard)
	var ans answerDoc
	rev, err := bk.get(ctx, answerKey(cur.RoomID, keyPart(pupilID)), &ans)
	if errors.Is(err, errNotFound) || err == nil && ans.Question != cur.Question {
		return classboard.Errorf(classboard.ENOTFOUND, "No such answer.")
	}
	if err != nil {
		return storeErr(err)
	}
	ans.Approved = approved
	_, err = bk.update(ctx, answerKey(cur.RoomID, keyPart(pupilID)), ans, rev, a.ttlUntil(cur.ExpiresAt))
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
	_, cur, _, err := a.ownerActivity(ctx, boardID)
	if err != nil {
		return err
	}
	if cur == nil {
		return classboard.Errorf(classboard.ENOTFOUND, "No such pupil.")
	}
	bk := a.bucket(cur.shard)
	id := keyPart(pupilID)
	var p pupilDoc
	if _, err := bk.get(ctx, pupilKey(cur.RoomID, id), &p); errors.Is(err, errNotFound) {
		return classboard.Errorf(classboard.ENOTFOUND, "No such pupil.")
	} else if err != nil {
		return storeErr(err)
	}
	// The seat first: it holds the token's hash, so from then on the
	// pupil can write nothing more (an answer landing after is nobody's:
	// answerDoc.counts).
	for _, k := range []string{pupilKey(cur.RoomID, id), answerKey(cur.RoomID, id)} {
		if err := bk.delete(ctx, k, 0); err != nil {
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

// counterAge is how stale a failure counter read for a join may be: a
// class of thirty joining at once reads its address's counter once, not
// thirty times, and everyone's counter is read once a second per node.
// Another node's failures count here up to this much later, so a guesser
// spreading over n nodes gets at most n-1 seconds' worth of guesses more.
const counterAge = time.Second

// Join adds a pupil to the room of a join code. A join costs one store
// write (the seat, holding the hash of the pupil's token) when this node's
// view holds the code's room and the failure counters were read within
// counterAge; only a code the view lacks (a room opened a moment ago, or a
// wrong code) is read from the store.
//
// Wrong codes are counted per address and for everyone. An address over
// its budget is refused before its code is looked at. When everyone's
// budget is spent (a flood of guesses from many addresses), a right code
// typed from the board's own network still joins, as pairing does: a class
// sits on the school's network its board registered from, so a flood
// elsewhere cannot keep real classes out, and a guesser elsewhere is
// refused whether the code is right or wrong, and counted.
func (a *Activities) Join(ctx context.Context, in classboard.JoinRequest, clientAddr string) (*classboard.PupilJoin, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if n, wait, err := a.s.countRecent(ctx, scopeJoinFailAddr, clientAddr, time.Minute, counterAge); err != nil {
		return nil, storeErr(err)
	} else if n >= a.limits.JoinFailsPerAddrMinute {
		return nil, rateLimited(scopeJoinFailAddr, wait)
	}
	n, wait, err := a.s.countRecent(ctx, scopeJoinFailGlobal, "all", time.Minute, counterAge)
	if err != nil {
		return nil, storeErr(err)
	}
	spent := n >= a.limits.JoinFailsGlobalMinute
	boardID, doc, err := a.openRoom(ctx, in.Code)
	switch {
	case spent && (err != nil || doc.Network != hashKey(clientAddr)):
		if err == nil || errors.Is(err, errUnknownJoinCode) {
			a.countFailedJoin(ctx, clientAddr)
			return nil, rateLimited(scopeJoinFailGlobal, wait)
		}
		return nil, err
	case errors.Is(err, errUnknownJoinCode):
		a.countFailedJoin(ctx, clientAddr)
		return nil, err
	case err != nil:
		return nil, err
	}
	if in.Name == "" && !doc.Anonymous {
		return nil, &classboard.Error{Code: classboard.EINVALID, Message: "Some fields are not valid.",
			Fields: map[string]string{"name": "is required"}}
	}
	seats := a.seatOrder(doc.shard, doc.RoomID)
	keys := make([]string, len(seats))
	for i, n := range seats {
		keys[i] = pupilKey(doc.RoomID, n)
	}
	// The token is made before its seat is known to be free: its hash
	// must be in the seat's record, so it names every seat tried.
	toks := map[string]string{}
	i, err := a.createFirst(ctx, a.bucket(doc.shard), keys, func(i int) any {
		tok := pupilToken(doc.shard, seats[i], doc.RoomID)
		toks[seats[i]] = tok
		return pupilDoc{BoardID: boardID, Name: in.Name, TokenHash: token.Hash(tok)}
	}, a.ttlUntil(doc.ExpiresAt))
	if err != nil {
		return nil, storeErr(fmt.Errorf("store pupil: %w", err))
	}
	if i < 0 {
		return nil, classboard.Errorf(classboard.EROOMFULL, "This activity is full; ask your teacher.")
	}
	return &classboard.PupilJoin{RoomID: doc.RoomID, PupilToken: toks[seats[i]], PupilID: seats[i]}, nil
}

// countFailedJoin adds a wrong code to its address's and everyone's
// counters.
func (a *Activities) countFailedJoin(ctx context.Context, clientAddr string) {
	for _, c := range [][2]string{{scopeJoinFailGlobal, "all"}, {scopeJoinFailAddr, clientAddr}} {
		if _, err := a.s.hit(ctx, c[0], c[1], time.Minute); err != nil {
			a.s.log.Warn("count failed join", "scope", c[0], "err", err)
		}
	}
}

// openRoom finds the board and activity of a join code still open to
// joining: from this node's view when it holds the code, else from the
// store (a room opened a moment ago may not be in the view yet).
func (a *Activities) openRoom(ctx context.Context, code string) (string, *activityDoc, error) {
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return "", nil, errUnknownJoinCode
	}
	shard := codeShard(code)
	boardID, doc := a.viewedCode(shard, code)
	if doc == nil {
		bk := a.bucket(shard)
		var j joinDoc
		if _, err := bk.get(ctx, joinKey(code), &j); errors.Is(err, errNotFound) {
			return "", nil, errUnknownJoinCode
		} else if err != nil {
			return "", nil, storeErr(err)
		}
		doc = &activityDoc{shard: shard}
		if _, err := bk.get(ctx, activityKey(j.BoardID), doc); errors.Is(err, errNotFound) {
			return "", nil, errUnknownJoinCode
		} else if err != nil {
			return "", nil, storeErr(err)
		}
		boardID = j.BoardID
	}
	if doc.JoinCode != code || doc.Status == classboard.StatusEnded || !a.s.cfg.Now().Before(doc.ExpiresAt) {
		return "", nil, errUnknownJoinCode
	}
	return boardID, doc, nil
}

// viewedCode returns the board and a copy of the activity holding code in
// this node's view of shard, or nil.
func (a *Activities) viewedCode(shard int, code string) (string, *activityDoc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v := a.views[shard]
	board, ok := v.codes[code]
	if !ok || v.acts[board] == nil {
		return "", nil
	}
	doc := *v.acts[board]
	doc.shard = shard
	return board, &doc
}

// seatOrder is the order in which a joining pupil tries the room's seats
// (1..PupilsPerRoom): random, so pupils joining at once on several nodes
// rarely meet on one key, with first the seats this node neither handed
// to a join in the last seatHold nor sees taken in its view. A class
// joining at once on one node then meets on no key (a taken seat costs a
// refused write and a read). A removed pupil's seat is free again, and a
// room with every seat taken is full.
func (a *Activities) seatOrder(shard int, roomID string) []string {
	seats := make([]string, 0, a.limits.PupilsPerRoom)
	for _, n := range mathrand.Perm(a.limits.PupilsPerRoom) {
		seats = append(seats, strconv.Itoa(n+1))
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	var taken map[string]pupilDoc
	if rv := a.views[shard].rooms[roomID]; rv != nil {
		taken = rv.pupils
	}
	held := a.held[roomID]
	rank := make(map[string]int, len(seats))
	for _, seat := range seats {
		if _, ok := taken[seat]; ok {
			rank[seat] = 2
		} else if at, ok := held[seat]; ok && now.Sub(at) < seatHold {
			rank[seat] = 1
		}
	}
	slices.SortStableFunc(seats, func(x, y string) int { return rank[x] - rank[y] })
	if held == nil {
		if len(a.held) >= maxHeldRooms {
			for room, h := range a.held {
				if !holdsSeat(h, now) {
					delete(a.held, room)
				}
			}
		}
		if len(a.held) >= maxHeldRooms {
			return seats
		}
		held = map[string]time.Time{}
		a.held[roomID] = held
	}
	held[seats[0]] = now
	return seats
}

// holdsSeat reports whether a room's held seats (seatOrder) hold one still.
func holdsSeat(held map[string]time.Time, now time.Time) bool {
	for _, at := range held {
		if now.Sub(at) < seatHold {
			return true
		}
	}
	return false
}

// seatHold is how long a node keeps a seat it handed to a join for it,
// longer than the view takes to show the seat taken; maxHeldRooms bounds
// the rooms it keeps seats of (joins beyond them may meet on keys, no
// more).
const (
	seatHold     = 5 * time.Second
	maxHeldRooms = 5_000
)

// pupil returns the seat and record of the pupil holding tok, who must be
// in roomID, and the room's activity. A token of another room costs no
// read. With viewed, the seat's record comes from this node's view when it
// holds it, with the seat's answer there (nil when the view has none):
// a seat the view holds may have been emptied a moment ago, which answers
// tolerate (answerDoc.counts) and the room's status read from the store
// does not need.
func (a *Activities) pupil(ctx context.Context, roomID, tok string, viewed bool) (string, *pupilDoc, *activityDoc, *answerDoc, error) {
	shard, seat, tag, ok := parsePupilToken(tok)
	if !ok {
		return "", nil, nil, nil, errBadPupil
	}
	if tag != roomTag(roomID) {
		return "", nil, nil, nil, errNoRoom // a token is worth nothing in another room
	}
	bk := a.bucket(shard)
	var p *pupilDoc
	var ans *answerDoc
	if viewed {
		p, ans = a.viewedSeat(shard, roomID, seat)
	}
	if p == nil {
		p = &pupilDoc{}
		if _, err := bk.get(ctx, pupilKey(roomID, seat), p); errors.Is(err, errNotFound) {
			return "", nil, nil, nil, errBadPupil
		} else if err != nil {
			return "", nil, nil, nil, storeErr(err)
		}
	}
	if subtle.ConstantTimeCompare([]byte(p.TokenHash), []byte(token.Hash(tok))) != 1 {
		return "", nil, nil, nil, errBadPupil // removed, and the seat taken by another pupil
	}
	doc := activityDoc{shard: shard}
	if _, err := bk.get(ctx, activityKey(p.BoardID), &doc); errors.Is(err, errNotFound) {
		return "", nil, nil, nil, errBadPupil
	} else if err != nil {
		return "", nil, nil, nil, storeErr(err)
	}
	if doc.RoomID != roomID {
		// A new activity replaced this room: it has ended.
		doc.Status, doc.JoinCode = classboard.StatusEnded, ""
	}
	return seat, p, &doc, ans, nil
}

// viewedSeat returns copies of a seat's record and answer in this node's
// view of shard (nil for what it lacks).
func (a *Activities) viewedSeat(shard int, roomID, seat string) (*pupilDoc, *answerDoc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rv := a.views[shard].rooms[roomID]
	if rv == nil {
		return nil, nil
	}
	p, ok := rv.pupils[seat]
	if !ok {
		return nil, nil
	}
	if ans, ok := rv.answers[seat]; ok {
		return &p, &ans
	}
	return &p, nil
}

// Room returns what the pupil sees of the room.
func (a *Activities) Room(ctx context.Context, roomID, tok string) (*classboard.Room, error) {
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	seat, p, doc, _, err := a.pupil(ctx, roomID, tok, false)
	if err != nil {
		return nil, err
	}
	r := &classboard.Room{RoomID: roomID, Question: doc.Question, Kind: doc.Kind, Status: doc.Status, Options: doc.Options,
		MaxMarkers: doc.MaxMarkers, Name: p.Name, BoardID: p.BoardID, Slide: doc.Slide, TeacherID: doc.TeacherID}
	var ans answerDoc
	switch _, err := a.bucket(doc.shard).get(ctx, answerKey(roomID, seat), &ans); {
	case err == nil && ans.counts(doc, *p):
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
	seat, p, doc, viewed, err := a.pupil(ctx, roomID, tok, true)
	if err != nil {
		return err
	}
	if doc.Status != classboard.StatusOpen {
		return errClosed
	}
	v := classboard.ValidationErrors{}
	switch doc.Kind {
	case classboard.KindMarkers:
		if in.Marker == nil && in.Markers == nil {
			v.Add("marker", "is required: tap on the picture")
		} else if len(in.Markers) > doc.maxMarkers() {
			v.Add("markers", "are more than this activity takes ("+strconv.Itoa(doc.maxMarkers())+")")
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
	return a.storeAnswer(ctx, roomID, seat, p, doc, viewed, in)
}

// storeAnswer writes a pupil's answer with a compare-and-set on the one
// it replaces, counting the pupil's answers in this second: two answers of
// one pupil at once both count, and the one that comes second is tried
// again on the first. The first try takes the answer it replaces from
// this node's view (viewed; nil: none), so an answer costs one write; a
// view behind the store costs a read and another try.
func (a *Activities) storeAnswer(ctx context.Context, roomID, seat string, p *pupilDoc, doc *activityDoc, viewed *answerDoc, in classboard.Answer) error {
	bk, key, ttl := a.bucket(doc.shard), answerKey(roomID, seat), a.ttlUntil(doc.ExpiresAt)
	second := a.s.cfg.Now().Unix()
	for try := 0; ; try++ {
		var old answerDoc
		var rev uint64
		var err error
		switch {
		case try > 0:
			rev, err = bk.get(ctx, key, &old)
		case viewed != nil:
			old, rev = *viewed, viewed.rev
		}
		if err != nil && !errors.Is(err, errNotFound) {
			return storeErr(err)
		}
		data := answerDoc{BoardID: p.BoardID, Question: doc.Question, TokenHash: p.TokenHash, Answer: in, Second: second, InSecond: 1}
		if rev != 0 && old.Second == second && old.TokenHash == p.TokenHash {
			if old.InSecond >= a.limits.AnswersPerSecond {
				return &classboard.Error{Code: classboard.ERATELIMITED, RetryAfter: time.Second, Message: "Slow down a little, then try again.", Rule: "pupil-answers"}
			}
			data.InSecond = old.InSecond + 1
		}
		if rev == 0 {
			_, err = bk.create(ctx, key, data, ttl)
		} else {
			_, err = bk.update(ctx, key, data, rev, ttl)
		}
		switch {
		case errors.Is(err, errExists) || errors.Is(err, errRevision):
			continue // another answer of this pupil came first; the limit ends this
		case err != nil:
			return storeErr(fmt.Errorf("store answer: %w", err))
		}
		return nil
	}
}

// pupilTicketDoc is a pupil's live ticket, stored under its hash in the
// room's bucket for classboard.LiveTicketTTL: apart from the boards' live
// tickets, so that no version that knows only those could take one for a
// board's.
type pupilTicketDoc struct {
	RoomID    string    `json:"room_id"`
	Seat      string    `json:"seat"`
	TokenHash string    `json:"token_hash"` // the pupil's: a seat taken by another since is not theirs
	ExpiresAt time.Time `json:"expires_at"`
}

// A pupil's ticket names its shard: "<shard><secret>".
func parsePupilTicket(ticket string) (int, string, bool) {
	if len(ticket) < 2 || ticket[0] < '0' || int(ticket[0]-'0') >= activityShards || !token.Valid(ticket[1:]) {
		return 0, "", false
	}
	return int(ticket[0] - '0'), ticket[1:], true
}

// PupilTicket issues a pupil's live ticket.
func (a *Activities) PupilTicket(ctx context.Context, roomID, tok string) (*classboard.LiveTicket, error) {
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	seat, p, doc, _, err := a.pupil(ctx, roomID, tok, true)
	if err != nil {
		return nil, err
	}
	secret := token.New()
	t := pupilTicketDoc{RoomID: roomID, Seat: seat, TokenHash: p.TokenHash, ExpiresAt: a.s.cfg.Now().UTC().Add(classboard.LiveTicketTTL).Truncate(time.Second)}
	if _, err := a.bucket(doc.shard).create(ctx, pupilTicketKey(token.Hash(secret)), t, classboard.LiveTicketTTL); err != nil {
		return nil, storeErr(fmt.Errorf("store pupil ticket: %w", err))
	}
	return &classboard.LiveTicket{Ticket: strconv.Itoa(doc.shard) + secret, ExpiresAt: t.ExpiresAt}, nil
}

// PupilSeat returns a pupil's seat from their token or a ticket, which
// it uses up (useTicket).
func (a *Activities) PupilSeat(ctx context.Context, roomID, credential string, ticket bool) (*classboard.PupilSeat, error) {
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if !ticket {
		seat, p, _, _, err := a.pupil(ctx, roomID, credential, true)
		if err != nil {
			return nil, err
		}
		return &classboard.PupilSeat{BoardID: p.BoardID, RoomID: roomID, Seat: seat, TokenHash: p.TokenHash}, nil
	}
	shard, secret, ok := parsePupilTicket(credential)
	if !ok {
		return nil, errBadTicket
	}
	bk := a.bucket(shard)
	var t pupilTicketDoc
	if err := useTicket(ctx, bk, pupilTicketKey(token.Hash(secret)), "pupil ticket", &t); err != nil {
		return nil, err
	}
	if t.RoomID != roomID || !a.s.cfg.Now().Before(t.ExpiresAt) {
		return nil, errBadTicket
	}
	var p pupilDoc
	if _, err := bk.get(ctx, pupilKey(roomID, t.Seat), &p); errors.Is(err, errNotFound) || err == nil && p.TokenHash != t.TokenHash {
		return nil, errBadPupil
	} else if err != nil {
		return nil, storeErr(err)
	}
	return &classboard.PupilSeat{BoardID: p.BoardID, RoomID: roomID, Seat: t.Seat, TokenHash: p.TokenHash}, nil
}

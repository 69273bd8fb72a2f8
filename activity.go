package classboard

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Activity kinds: pupils tap a marker on the slide's picture, answer a
// quick poll, or type a short answer.
const (
	KindMarkers = "markers"
	KindPoll    = "poll"
	KindAnswer  = "answer"
)

// Activity statuses. Pupils may answer (and change their answer) only
// while it is open; revealed shows the results (and takes no answers);
// ended drops the join code and the pupils' tokens. StatusNone is what a
// board without an activity reports.
const (
	StatusOpen     = "open"
	StatusLocked   = "locked"
	StatusRevealed = "revealed"
	StatusEnded    = "ended"
	StatusNone     = "none"
)

// How the board shows the class's answers: markers as dots (the default)
// or as a heat map; approved short answers as a list (the default) or as a
// word cloud.
const (
	DisplayDots    = "dots"
	DisplayHeatmap = "heatmap"
	DisplayList    = "list"
	DisplayCloud   = "cloud"
)

// Activity and room limits.
const (
	ActivityTTL        = 24 * time.Hour // results are erased at most this long after the activity started
	MaxPollOptions     = 6
	MinPollOptions     = 2
	MaxOptionLength    = 40 // characters of one poll option
	MaxAnswerLength    = 80 // characters of a short answer
	MaxPupilNameLength = 30 // characters
	DefaultRoomPupils  = 60 // pupils per room
	MaxMarkers         = 5  // markers one pupil may place, at most
)

// Activity is a slide's activity as its owner and the board see it.
type Activity struct {
	BoardID string `json:"board_id"`
	Status  string `json:"status"`
	Kind    string `json:"kind,omitempty"`
	// Question counts the questions the room has had (0 for its first).
	Question int      `json:"question"`
	Slide    int      `json:"slide"`
	Options  []string `json:"options,omitempty"`
	// HideResults keeps the results off the board until it is revealed.
	HideResults bool `json:"hide_results,omitempty"`
	// Anonymous lets pupils join without a name.
	Anonymous bool `json:"anonymous,omitempty"`
	// MaxMarkers is how many markers a pupil may place (markers; 1 when
	// absent); Display how the board shows the answers (Display*).
	MaxMarkers int    `json:"max_markers,omitempty"`
	Display    string `json:"display,omitempty"`
	RoomID     string `json:"room_id,omitempty"`
	JoinCode   string `json:"join_code,omitempty"` // only while open, locked or revealed
	// JoinURL (the /join app with the code in its fragment) and JoinQR (a
	// data: URL of its QR code) are added by the API for the board to show.
	JoinURL   string    `json:"join_url,omitempty"`
	JoinQR    string    `json:"join_qr,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"` // when the results are erased
	Revision  uint64    `json:"revision"`
	// The aggregate's fields (pupils, answers, counts, markers, approved)
	// sit in the activity itself, as API.md gives them.
	*Aggregate
	// Pupils and Pending are for the owner only: who joined, and short
	// answers not yet approved.
	Pupils  []Pupil         `json:"pupil_list,omitempty"`
	Pending []PendingAnswer `json:"pending,omitempty"`
}

// Aggregate is the class's answers, as the board may show them: counts
// per poll option, every marker, the approved short answers. Results hidden
// until revealed leave Counts, Markers and Approved empty.
type Aggregate struct {
	Pupils   int      `json:"pupils"`
	Answers  int      `json:"answers"`
	Counts   []int    `json:"counts,omitempty"`
	Markers  []Point  `json:"markers,omitempty"`
	Approved []string `json:"approved,omitempty"`
}

// Point is a position on a picture, 0..1 from its top left corner.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

func (p Point) valid() bool { return p.X >= 0 && p.X <= 1 && p.Y >= 0 && p.Y <= 1 }

// Pupil is one pupil in a room, as the teacher sees it.
type Pupil struct {
	ID       string `json:"pupil_id"`
	Name     string `json:"name"`
	Answered bool   `json:"answered"`
}

// PendingAnswer is a short answer waiting for the teacher's approval.
type PendingAnswer struct {
	PupilID string `json:"pupil_id"`
	Name    string `json:"name"`
	Text    string `json:"text"`
}

// ActivityUpdate is the body of PUT /api/v1/boards/{id}/activity. Starting
// (status open after none or ended, or another kind or slide) opens a new
// room with a new join code; the other statuses change the current room.
//
// Every update carries the whole activity: fields it leaves out take their
// defaults.
type ActivityUpdate struct {
	Kind        string   `json:"kind"`
	Slide       int      `json:"slide"`
	Options     []string `json:"options,omitempty"`
	HideResults bool     `json:"hide_results,omitempty"`
	Anonymous   bool     `json:"anonymous,omitempty"`
	MaxMarkers  int      `json:"max_markers,omitempty"`
	Display     string   `json:"display,omitempty"`
	Status      string   `json:"status"`
}

// Validate checks the update on its own; the store checks it against the
// current activity.
func (u *ActivityUpdate) Validate() error {
	v := ValidationErrors{}
	switch u.Kind {
	case KindMarkers, KindPoll, KindAnswer:
	default:
		v.Add("kind", "must be markers, poll or answer")
	}
	switch u.Status {
	case StatusOpen, StatusLocked, StatusRevealed, StatusEnded:
	default:
		v.Add("status", "must be open, locked, revealed or ended")
	}
	if u.Slide < 0 || u.Slide >= MaxSlides {
		v.Add("slide", "must be 0 to 199")
	}
	if u.Kind == KindPoll {
		if len(u.Options) < MinPollOptions || len(u.Options) > MaxPollOptions {
			v.Add("options", "must be 2 to 6 options")
		}
		for i, o := range u.Options {
			u.Options[i] = strings.TrimSpace(o)
			if reason := validText(u.Options[i], MaxOptionLength, true); reason != "" {
				v.Add("options", reason)
			}
		}
	} else if len(u.Options) > 0 {
		v.Add("options", "are only for a poll")
	}
	switch {
	case u.Kind == KindMarkers && (u.MaxMarkers < 0 || u.MaxMarkers > MaxMarkers):
		v.Add("max_markers", "must be 1 to 5")
	case u.Kind != KindMarkers && u.MaxMarkers != 0:
		v.Add("max_markers", "is only for markers")
	}
	switch {
	case u.Display == "":
	case u.Kind == KindMarkers && (u.Display == DisplayDots || u.Display == DisplayHeatmap):
	case u.Kind == KindAnswer && (u.Display == DisplayList || u.Display == DisplayCloud):
	default:
		v.Add("display", "must be dots or heatmap for markers, list or cloud for short answers")
	}
	return v.Err()
}

// validText returns why s is not acceptable text of at most max
// characters, or "".
func validText(s string, max int, emptyOK bool) string {
	switch n := utf8.RuneCountInString(s); {
	case n == 0 && !emptyOK:
		return "is required"
	case n > max:
		return "is longer than " + strconv.Itoa(max) + " characters"
	case !ValidLine(s):
		return "contains control characters"
	}
	return ""
}

// JoinRequest is the body of POST /api/v1/rooms/join.
type JoinRequest struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Validate trims the fields and checks them. A malformed code is reported
// like a wrong one by the store (the same 404 for every wrong code), so
// only the name is checked here; whether it may be empty depends on the
// activity (Activity.Anonymous), which the store checks.
func (j *JoinRequest) Validate() error {
	j.Code = strings.Join(strings.Fields(j.Code), "")
	j.Name = strings.TrimSpace(j.Name)
	v := ValidationErrors{}
	if reason := validText(j.Name, MaxPupilNameLength, true); reason != "" {
		v.Add("name", reason)
	}
	return v.Err()
}

// PupilJoin is the answer to a join: the room, and the pupil's token,
// worth something only in that room.
type PupilJoin struct {
	RoomID     string `json:"room_id"`
	PupilToken string `json:"pupil_token"`
	PupilID    string `json:"pupil_id"`
}

// Answer is the body of PUT /api/v1/rooms/{room_id}/answer: exactly one
// of Marker (or Markers, up to the activity's MaxMarkers), Choice or
// Text, matching the activity's kind.
type Answer struct {
	Marker  *Point  `json:"marker,omitempty"`
	Markers []Point `json:"markers,omitempty"`
	Choice  *int    `json:"choice,omitempty"`
	Text    *string `json:"text,omitempty"`
}

// Points returns the answer's markers.
func (a *Answer) Points() []Point {
	if a.Marker != nil {
		return []Point{*a.Marker}
	}
	return a.Markers
}

// Validate checks the answer on its own; the store checks it against the
// activity (its kind, its number of options).
func (a *Answer) Validate() error {
	v := ValidationErrors{}
	n := 0
	if a.Marker != nil {
		n++
		if !a.Marker.valid() {
			v.Add("marker", "must have x and y from 0 to 1")
		}
	}
	if a.Markers != nil {
		n++
		if len(a.Markers) < 1 || len(a.Markers) > MaxMarkers {
			v.Add("markers", "must be 1 to 5 markers")
		}
		for _, m := range a.Markers {
			if !m.valid() {
				v.Add("markers", "must have x and y from 0 to 1")
			}
		}
	}
	if a.Choice != nil {
		n++
		if *a.Choice < 0 || *a.Choice >= MaxPollOptions {
			v.Add("choice", "is not an option")
		}
	}
	if a.Text != nil {
		n++
		t := strings.TrimSpace(*a.Text)
		a.Text = &t
		if reason := validText(t, MaxAnswerLength, false); reason != "" {
			v.Add("text", reason)
		}
	}
	if n != 1 {
		v.Add("answer", "send one of marker, markers, choice or text")
	}
	return v.Err()
}

// Room is what a pupil sees of the room: the question, its status and the
// pupil's own answer. Never another pupil's.
type Room struct {
	RoomID string `json:"room_id"`
	// Question changes with each new question in the room.
	Question int      `json:"question"`
	Kind     string   `json:"kind"`
	Status   string   `json:"status"`
	Options  []string `json:"options,omitempty"`
	// MaxMarkers is how many markers the pupil may place (markers).
	MaxMarkers int     `json:"max_markers,omitempty"`
	Name       string  `json:"name"`
	Answer     *Answer `json:"answer,omitempty"`
	// Picture is a signed URL of the slide's picture for markers, set by
	// the API.
	Picture string `json:"picture,omitempty"`
	// BoardID, Slide and TeacherID let the API find the picture; never sent.
	BoardID   string `json:"-"`
	Slide     int    `json:"-"`
	TeacherID string `json:"-"`
}

// ActivityService runs activities and their rooms. Methods taking a board
// id act for its owner (or, for Activity, the board itself) in ctx; the
// room methods act for the pupil holding token.
type ActivityService interface {
	// Activity returns the board's activity with its aggregate, or one
	// with StatusNone. Pupils and Pending are filled for the owner only.
	Activity(ctx context.Context, boardID string) (*Activity, error)
	// SetActivity starts or changes the activity if its revision is still
	// ifMatch (0 while there is none). Returns EREVISIONMISMATCH with the
	// current activity, ERATELIMITED when the teacher started too many
	// rooms lately.
	SetActivity(ctx context.Context, boardID string, ifMatch uint64, in ActivityUpdate) (*Activity, error)
	// DeleteActivity erases the activity and every pupil's answer.
	DeleteActivity(ctx context.Context, boardID string) error
	// Moderate approves (or withdraws approval of) a pupil's short answer.
	Moderate(ctx context.Context, boardID, pupilID string, approved bool) error
	// RemovePupil removes a pupil and their answer; their token stops working.
	RemovePupil(ctx context.Context, boardID, pupilID string) error

	// Join adds a pupil to the room of an open join code. Every wrong,
	// ended or expired code is EUNKNOWNCODE; too many wrong codes from
	// clientAddr or from everyone are ERATELIMITED; a full room is EROOMFULL.
	Join(ctx context.Context, in JoinRequest, clientAddr string) (*PupilJoin, error)
	// Room returns the room as the pupil holding token sees it. A token of
	// another room is ENOTFOUND; an unknown or removed pupil's token is
	// EUNAUTHORIZED.
	Room(ctx context.Context, roomID, token string) (*Room, error)
	// SetAnswer stores the pupil's answer, replacing an earlier one.
	// EACTIVITYCLOSED once the activity is locked, revealed or ended;
	// ERATELIMITED for too many answers a second.
	SetAnswer(ctx context.Context, roomID, token string, in Answer) error
	// PupilTicket issues the pupil holding token a single-use ticket
	// (valid LiveTicketTTL) that opens one live connection to the room:
	// browsers cannot send the token as a header there.
	PupilTicket(ctx context.Context, roomID, token string) (*LiveTicket, error)
	// PupilSeat returns the seat of a pupil in roomID, for a live
	// connection: from the pupil's token, or from a ticket (ticket true),
	// which this call uses up. Refusals as Room's; a wrong, used or
	// expired ticket is EUNAUTHORIZED.
	PupilSeat(ctx context.Context, roomID, credential string, ticket bool) (*PupilSeat, error)
}

// PupilSeat is where a pupil sits, as a live connection follows it.
type PupilSeat struct {
	BoardID   string
	RoomID    string
	Seat      string
	TokenHash string // the hash of the pupil's token: a seat taken by another pupil holds another
}

// ActivityEvents tells a node which boards' activities changed, on any node.
type ActivityEvents interface {
	// WatchActivities calls fn with the board id of each change until ctx
	// ends. fn must not block.
	WatchActivities(ctx context.Context, fn func(boardID string))
	// Snapshot returns the board's activity from this node's view of the
	// store (kept by WatchActivities), for the owner when owner is set,
	// else as the board sees it; nil when there is none. ok is false while
	// the view is (re)loading: WatchActivities reports every board once
	// it has loaded.
	Snapshot(boardID string, owner bool) (act *Activity, ok bool)
	// SeatHolder returns the token hash of the pupil in a room's seat in
	// this node's view; ok is false when the view holds no one there (the
	// pupil was removed, or joined a moment ago and the view has not seen
	// it yet).
	SeatHolder(roomID, seat string) (tokenHash string, ok bool)
}

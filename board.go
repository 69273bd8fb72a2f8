package classboard

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Pairing and board limits.
const (
	PairingCodeTTL     = 10 * time.Minute // a code and its claim token are valid this long
	UnpairedBoardTTL   = 24 * time.Hour   // a board never paired is forgotten after this
	SelfUnpairWindow   = 60 * time.Second // a board may unpair itself ("not you?") this long after pairing
	LiveTicketTTL      = 60 * time.Second // a live ticket opens one connection within this time
	MaxBoardNameLength = 60               // characters
	MaxSlides          = 200              // slides in a lesson; a slide index is below this
	MaxTimer           = 24 * time.Hour   // a countdown ends at most this far ahead
)

// Board is a classroom screen, as its owner and the board itself see it.
type Board struct {
	ID          string    `json:"board_id"`
	Name        string    `json:"name"`
	Paired      bool      `json:"paired"`
	TeacherName string    `json:"teacher_name,omitempty"`
	PairedAt    time.Time `json:"paired_at,omitzero"`
	Online      bool      `json:"online"`
	// TeacherID is the owner; empty while unpaired. Not sent to clients:
	// the caller is either the owner or the board.
	TeacherID string `json:"-"`
}

// PairingCode is what an unpaired board shows: a short code to type and a
// claim token (in a QR code) to scan. ClaimURL and ClaimQR carry the token
// as a link to the teacher app, in its fragment so no server logs it.
type PairingCode struct {
	Code       string    `json:"pairing_code"`
	ClaimToken string    `json:"claim_token"`
	ExpiresAt  time.Time `json:"code_expires_at"`
	ClaimURL   string    `json:"claim_url,omitempty"`
	ClaimQR    string    `json:"claim_qr,omitempty"` // a data: URL of a PNG
}

// NewBoard is the answer to a board's registration. The secret is shown
// once; the server keeps only its hash.
type NewBoard struct {
	BoardID     string `json:"board_id"`
	BoardSecret string `json:"board_secret"`
	PairingCode
}

// Claim is a teacher's request to pair a board: Code or ClaimToken, and
// the name the board gets.
type Claim struct {
	Code       string `json:"code,omitempty"`
	ClaimToken string `json:"claim_token,omitempty"`
	Name       string `json:"name"`
}

// Normalize trims the fields and drops the spaces people type into codes.
func (c *Claim) Normalize() {
	c.Code = strings.Join(strings.Fields(c.Code), "")
	c.ClaimToken = strings.TrimSpace(c.ClaimToken)
	c.Name = strings.TrimSpace(c.Name)
}

// Validate returns EINVALID with per-field reasons.
func (c *Claim) Validate() error {
	v := ValidationErrors{}
	switch {
	case c.Code == "" && c.ClaimToken == "":
		v.Add("code", "is required")
	case c.Code != "" && c.ClaimToken != "":
		v.Add("claim_token", "must not be sent together with a code")
	case c.Code != "" && !isPairingCode(c.Code):
		v.Add("code", "must be 6 digits")
	}
	if reason := ValidateBoardName(c.Name); reason != "" {
		v.Add("name", reason)
	}
	return v.Err()
}

// ValidateBoardName returns why name is not an acceptable board name, or "".
func ValidateBoardName(name string) string {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "is required"
	case n > MaxBoardNameLength:
		return "is longer than 60 characters"
	case !ValidLine(name):
		return "contains control characters"
	}
	return ""
}

func isPairingCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Timer is a countdown on the board: running, it ends at EndsAt; paused,
// it has no EndsAt and RemainingMS is what was left when it was paused.
// Boards count down against the server's clock (server_time in live
// messages), since their own drift. A running timer is exactly
// {"ends_at": ...}, as it was before timers could pause.
type Timer struct {
	EndsAt      time.Time `json:"ends_at,omitzero"`
	Paused      bool      `json:"paused,omitempty"`
	RemainingMS int64     `json:"remaining_ms,omitempty"`
}

// validate adds why t is not a running or a paused timer ending within
// MaxTimer of now.
func (t *Timer) validate(now time.Time, v ValidationErrors) {
	switch {
	case t.Paused && !t.EndsAt.IsZero():
		v.Add("timer", "is paused or running, not both")
	case t.Paused && t.RemainingMS <= 0:
		v.Add("timer", "needs the time left when paused")
	case t.Paused && t.RemainingMS > MaxTimer.Milliseconds():
		v.Add("timer", "must end within 24 hours")
	case !t.Paused && t.RemainingMS != 0:
		v.Add("timer", "has the time left only when paused")
	case !t.Paused && t.EndsAt.IsZero():
		v.Add("timer", "needs ends_at")
	case t.EndsAt.After(now.Add(MaxTimer)):
		v.Add("timer", "must end within 24 hours")
	}
}

// Blank colours: a blanked board is black unless the teacher asked for
// white (a whiteboard to write on). Black is the default and is never
// stored or sent, so a state without blank_color reads as before.
const (
	BlankBlack = "black"
	BlankWhite = "white"
)

// BoardState is what a board shows. Writes are absolute ("slide 7", never
// "next") and carry the revision they replace.
type BoardState struct {
	BoardID  string `json:"board_id"`
	LessonID string `json:"lesson_id"` // "" when no lesson is shown
	Slide    int    `json:"slide"`     // 0-based index into the lesson's slides
	Blank    bool   `json:"blank"`
	// BlankColor is BlankWhite for a white blank screen; "" (omitted) is black.
	BlankColor string    `json:"blank_color,omitempty"`
	Timer      *Timer    `json:"timer"`
	Revision   uint64    `json:"revision"`
	UpdatedAt  time.Time `json:"updated_at"`
	UpdatedBy  string    `json:"updated_by"` // the writer's device label, set by the server
}

// StateUpdate is the body of PUT /api/v1/boards/{id}/state.
type StateUpdate struct {
	LessonID   string `json:"lesson_id"`
	Slide      int    `json:"slide"`
	Blank      bool   `json:"blank"`
	BlankColor string `json:"blank_color,omitempty"` // "black" (the default) or "white"; kept only while Blank
	Timer      *Timer `json:"timer"`
}

// Validate checks what does not need the store: the lesson's own range is
// checked by the store, which can read the lesson.
func (u *StateUpdate) Validate(now time.Time) error {
	v := ValidationErrors{}
	u.LessonID = strings.TrimSpace(u.LessonID)
	if len(u.LessonID) > 100 {
		v.Add("lesson_id", "is not a lesson id")
	}
	switch {
	case u.Slide < 0:
		v.Add("slide", "must not be negative")
	case u.Slide >= MaxSlides:
		v.Add("slide", "must be below 200")
	case u.LessonID == "" && u.Slide != 0:
		v.Add("slide", "must be 0 without a lesson")
	}
	switch u.BlankColor {
	case BlankBlack:
		u.BlankColor = "" // the default, never stored
	case "", BlankWhite:
	default:
		v.Add("blank_color", "must be black or white")
	}
	if !u.Blank {
		u.BlankColor = "" // a colour only while blank: no stale one to show later
	}
	if u.Timer != nil {
		u.Timer.validate(now, v)
	}
	return v.Err()
}

// BoardService pairs boards with teachers and keeps their state. Methods
// that take a board id act for the caller in ctx (AuthFromContext): a
// board the caller may not see is ENOTFOUND.
type BoardService interface {
	// CreateBoard registers a new, unpaired board. Returns ERATELIMITED
	// when clientAddr registered too many boards lately.
	CreateBoard(ctx context.Context, clientAddr string) (*NewBoard, error)
	// NewPairingCode replaces the code of the unpaired board in ctx.
	// Returns ECONFLICT when the board is paired.
	NewPairingCode(ctx context.Context, boardID string) (*PairingCode, error)
	// Claim pairs a board with the teacher in ctx. A wrong, used or
	// expired code or claim token is EUNKNOWNCODE; too many failed codes
	// are ERATELIMITED (claim tokens are not limited: they cannot be guessed).
	Claim(ctx context.Context, in Claim, clientAddr string) (*Board, error)
	// Board returns the board for its owner or for the board itself.
	Board(ctx context.Context, id string) (*Board, error)
	// Boards returns the boards of the teacher in ctx, by name.
	Boards(ctx context.Context) ([]*Board, error)
	// DeleteBoard unpairs and forgets a board: its secret stops working
	// and its state is erased. The owner may always; the board itself
	// only within SelfUnpairWindow of being paired (else ENOTFOUND).
	DeleteBoard(ctx context.Context, id string) error
	// AuthenticateBoard returns the board holding secret. Returns
	// EUNAUTHORIZED for an unknown or revoked secret.
	AuthenticateBoard(ctx context.Context, secret string) (*Auth, error)
	// State returns the state of a paired board. ENOTFOUND while unpaired.
	State(ctx context.Context, boardID string) (*BoardState, error)
	// SetState replaces the state if its revision is still ifMatch.
	// Only the owner may. Returns EINVALID for a lesson the owner does not
	// have or a slide out of its range, and EREVISIONMISMATCH with the
	// current state as Current when ifMatch is stale.
	SetState(ctx context.Context, boardID string, ifMatch uint64, in StateUpdate) (*BoardState, error)
}

// Pointer is where the teacher points on the slide a board shows: X and Y
// from 0 (left, top) to 1 (right, bottom) of the slide, or Hidden. A
// pointer is never stored: it only moves across the nodes to the board.
type Pointer struct {
	X      *float64 `json:"x,omitempty"`
	Y      *float64 `json:"y,omitempty"`
	Hidden bool     `json:"hidden,omitempty"`
}

// Validate returns EINVALID unless p is a point on the slide or hidden.
func (p *Pointer) Validate() error {
	v := ValidationErrors{}
	if p.Hidden {
		if p.X != nil || p.Y != nil {
			v.Add("hidden", "is sent without x and y")
		}
		return v.Err()
	}
	for name, c := range map[string]*float64{"x": p.X, "y": p.Y} {
		switch {
		case c == nil:
			v.Add(name, "is required")
		case *c < 0 || *c > 1:
			v.Add(name, "must be 0 to 1")
		}
	}
	return v.Err()
}

// Pointers carries the teacher's pointer to the boards, through every node
// at once and past the store's history: a pointer move that is lost is
// replaced by the next one, and no one needs an old one.
type Pointers interface {
	// Point sends p to the board's live connections on whichever node
	// holds them (WatchBoards delivers it as EventPointer). Only the
	// board's owner may (else ENOTFOUND).
	Point(ctx context.Context, boardID string, p Pointer) error
}

// LiveTicket opens one live connection. Browsers cannot send headers on a
// WebSocket or EventSource, so they get a ticket instead of sending their
// long-lived secret in a URL.
type LiveTicket struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expires_at"`
}

// LiveTickets issues and redeems live tickets.
type LiveTickets interface {
	// IssueTicket returns a ticket for the caller in ctx to watch boardID,
	// which the caller must be allowed to see (else ENOTFOUND).
	IssueTicket(ctx context.Context, boardID string) (*LiveTicket, error)
	// RedeemTicket uses a ticket up and returns who it was issued to and
	// for which board. A wrong, used or expired ticket is EUNAUTHORIZED;
	// of two concurrent redemptions exactly one succeeds.
	RedeemTicket(ctx context.Context, ticket string) (*Auth, string, error)
}

// Board event types, as the live messages name them.
const (
	EventState    = "state"
	EventPaired   = "paired"
	EventUnpaired = "unpaired"
	EventPresence = "presence"
	EventPointer  = "pointer"
)

// BoardEvent is a change to a board: its state changed, it was paired, it
// was unpaired (forgotten or expired), its own live connection came or
// went (presence), or the teacher pointed at it (pointer).
type BoardEvent struct {
	Type        string
	BoardID     string
	State       *BoardState // for EventState
	TeacherName string      // for EventPaired
	Online      bool        // for EventPresence
	Pointer     *Pointer    // for EventPointer
}

// BoardEvents delivers every change to every board to this node.
type BoardEvents interface {
	// WatchBoards calls fn for each change until ctx ends, resuming after
	// store failures. fn may be called from several goroutines at once and
	// must not block.
	WatchBoards(ctx context.Context, fn func(BoardEvent))
}

// Presence tells which boards have a live connection on some node.
type Presence interface {
	// PublishPresence records the boards connected to this node now. A
	// node that stops publishing counts as gone, with its boards.
	PublishPresence(ctx context.Context, boardIDs []string) error
	// Online reports whether some node holds the board's live connection.
	Online(boardID string) bool
}

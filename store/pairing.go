package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/token"
)

// PairingLimits bound board registration and guessing of pairing codes
// (RFC 8628 sections 5.1, 5.2 and 6.1). They are counted in the store, for
// the whole cluster.
type PairingLimits struct {
	CreatesPerHour       int // board registrations per client address per hour
	FailsPer10Min        int // failed code claims per account per 10 minutes
	FailsPerDay          int // failed code claims per account per day
	FailsPerAddrMinute   int // failed code claims per client address per minute
	FailsGlobalPerMinute int // failed code claims per minute, everyone together
	// CodeTTL is how long a code and its claim token are valid (default
	// classboard.PairingCodeTTL; tests shorten it).
	CodeTTL time.Duration
}

// DefaultPairingLimits: a school behind one address registers a few dozen
// boards at most, and an attacker guessing one of a million codes gets 30
// tries a minute at most, cluster-wide (docs/operations.md works out the
// odds). Teachers' typos stay far below that; when it is spent anyway, a
// right code typed on the board's own network and every QR code still
// pair.
var DefaultPairingLimits = PairingLimits{
	CreatesPerHour:       60,
	FailsPer10Min:        5,
	FailsPerDay:          20,
	FailsPerAddrMinute:   10,
	FailsGlobalPerMinute: 30,
}

func (l PairingLimits) withDefaults() PairingLimits {
	d := DefaultPairingLimits
	for _, f := range []struct{ v, def *int }{
		{&l.CreatesPerHour, &d.CreatesPerHour}, {&l.FailsPer10Min, &d.FailsPer10Min},
		{&l.FailsPerDay, &d.FailsPerDay}, {&l.FailsPerAddrMinute, &d.FailsPerAddrMinute},
		{&l.FailsGlobalPerMinute, &d.FailsGlobalPerMinute},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if l.CodeTTL <= 0 {
		l.CodeTTL = classboard.PairingCodeTTL
	}
	return l
}

// codeDoc is a pairing code, kept under "code.<digits>" for
// PairingCodeTTL; claimDoc is its claim token, under "claim.<hash>". Each
// names the other, so whichever is used, both go.
type codeDoc struct {
	BoardID   string    `json:"board_id"`
	ClaimHash string    `json:"claim_hash"`
	ExpiresAt time.Time `json:"expires_at"`
	Network   string    `json:"network,omitempty"` // the board's, see boardDoc
}

type claimDoc struct {
	BoardID   string    `json:"board_id"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

func codeKey(code string) string  { return "code." + code }
func claimKey(hash string) string { return "claim." + hash }
func randomCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err) // crypto/rand does not fail since Go 1.24
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// issueCode stores a fresh code and claim token for boardID. A code is
// taken with a KV create, so two boards never hold the same code.
func (b *Boards) issueCode(ctx context.Context, boardID, network string) (*classboard.PairingCode, string, error) {
	expires := b.s.cfg.Now().UTC().Add(b.limits.CodeTTL).Truncate(time.Millisecond)
	claim := token.New()
	claimHash := token.Hash(claim)
	for range 20 {
		code := randomCode()
		_, err := b.s.pairing.create(ctx, codeKey(code), codeDoc{BoardID: boardID, ClaimHash: claimHash, ExpiresAt: expires, Network: network}, b.limits.CodeTTL)
		if errors.Is(err, errExists) {
			continue
		}
		if err != nil {
			return nil, "", storeErr(fmt.Errorf("store pairing code: %w", err))
		}
		if _, err := b.s.pairing.create(ctx, claimKey(claimHash), claimDoc{BoardID: boardID, Code: code, ExpiresAt: expires}, b.limits.CodeTTL); err != nil {
			return nil, "", storeErr(fmt.Errorf("store claim token: %w", err))
		}
		return &classboard.PairingCode{Code: code, ClaimToken: claim, ExpiresAt: expires}, claimHash, nil
	}
	return nil, "", classboard.Errorf(classboard.EUNAVAILABLE, "No pairing code is free right now; try again shortly.")
}

// dropCode removes a code and its claim token; best effort, both expire.
func (b *Boards) dropCode(ctx context.Context, code, claimHash string) {
	if code != "" {
		if err := b.s.pairing.delete(ctx, codeKey(code), 0); err != nil {
			b.s.log.Warn("drop pairing code", "err", err)
		}
	}
	if claimHash != "" {
		if err := b.s.pairing.delete(ctx, claimKey(claimHash), 0); err != nil {
			b.s.log.Warn("drop claim token", "err", err)
		}
	}
}

var errUnknownCode = &classboard.Error{Code: classboard.EUNKNOWNCODE, Message: "This code is wrong, used or expired. Check the code on the board.", Rule: "pairing-failed"}

// Failure counters of code claims; see PairingLimits. The names are also
// the rules a refusal is logged under.
const (
	scopeFailAccount10  = "pair-fail-account-10m"
	scopeFailAccountDay = "pair-fail-account-day"
	scopeFailAddr       = "pair-fail-addr"
	scopeFailGlobal     = "pair-fail-global"
)

type claimLimit struct {
	scope, subject string
	window         time.Duration
	limit          int
}

// claimLimits are the failure counters of a typed code by teacherID from
// addr; the global one comes last.
func (b *Boards) claimLimits(teacherID, addr string) []claimLimit {
	return []claimLimit{
		{scopeFailAccount10, teacherID, 10 * time.Minute, b.limits.FailsPer10Min},
		{scopeFailAccountDay, teacherID, 24 * time.Hour, b.limits.FailsPerDay},
		{scopeFailAddr, addr, time.Minute, b.limits.FailsPerAddrMinute},
		{scopeFailGlobal, "all", time.Minute, b.limits.FailsGlobalPerMinute},
	}
}

// checkClaimLimits refuses a typed code when its caller or its address
// failed too often lately, or when everyone together did and the code is
// not the one of a board on the caller's own network.
//
// The global budget bounds what many accounts on many addresses can guess
// together; counted alone it let such an attacker refuse every teacher's
// right code. A teacher pairing a board stands next to it, nearly always
// on the school's network, which the board registered from: a right code
// typed from the board's own address is taken even when the global budget
// is spent. That reveals nothing to an attacker elsewhere, who is still
// refused before the code is looked at; one on the school's network can
// read the code off the board anyway.
func (b *Boards) checkClaimLimits(ctx context.Context, code, teacherID, addr string) error {
	limits := b.claimLimits(teacherID, addr)
	for i, c := range limits {
		n, wait, err := b.s.count(ctx, c.scope, c.subject, c.window)
		if err != nil {
			return storeErr(err)
		}
		if n < c.limit {
			continue
		}
		if i == len(limits)-1 {
			if b.boardNetwork(ctx, code) == hashKey(addr) {
				return nil
			}
			// Counted as a failure of the guesser, so that a guess the
			// spent budget refuses is no free look at the answer either.
			b.countFailedClaim(ctx, teacherID, addr)
		}
		return rateLimited(c.scope, wait)
	}
	return nil
}

// boardNetwork is the network of the board holding code, or "".
func (b *Boards) boardNetwork(ctx context.Context, code string) string {
	var d codeDoc
	if _, err := b.s.pairing.get(ctx, codeKey(code), &d); err != nil {
		return ""
	}
	return d.Network
}

// countFailedClaim adds a failed typed code to every counter.
func (b *Boards) countFailedClaim(ctx context.Context, teacherID, addr string) {
	for _, c := range b.claimLimits(teacherID, addr) {
		if _, err := b.s.hit(ctx, c.scope, c.subject, c.window); err != nil {
			b.s.log.Warn("count failed pairing", "scope", c.scope, "err", err)
		}
	}
}

// takeCode uses up a code or claim token and returns the board it was
// issued to. The code's key is deleted with the revision just read, so of
// two teachers claiming at once exactly one gets the board.
func (b *Boards) takeCode(ctx context.Context, in classboard.Claim) (string, error) {
	now := b.s.cfg.Now()
	var boardID, otherCode, otherClaim, key string
	var rev uint64
	var err error
	if in.Code != "" {
		var d codeDoc
		key = codeKey(in.Code)
		rev, err = b.s.pairing.get(ctx, key, &d)
		boardID, otherClaim = d.BoardID, d.ClaimHash
		if err == nil && now.After(d.ExpiresAt) {
			err = errNotFound
		}
	} else {
		if !token.Valid(in.ClaimToken) {
			return "", errUnknownCode
		}
		var d claimDoc
		key = claimKey(token.Hash(in.ClaimToken))
		rev, err = b.s.pairing.get(ctx, key, &d)
		boardID, otherCode = d.BoardID, d.Code
		if err == nil && now.After(d.ExpiresAt) {
			err = errNotFound
		}
	}
	if errors.Is(err, errNotFound) {
		return "", errUnknownCode
	}
	if err != nil {
		return "", storeErr(fmt.Errorf("read pairing code: %w", err))
	}
	if err := b.s.pairing.delete(ctx, key, rev); errors.Is(err, errRevision) {
		return "", errUnknownCode // another claim won
	} else if err != nil {
		return "", storeErr(fmt.Errorf("use pairing code: %w", err))
	}
	b.dropCode(ctx, otherCode, otherClaim)
	return boardID, nil
}

// Claim pairs the board a code or claim token names with the teacher in ctx.
func (b *Boards) Claim(ctx context.Context, in classboard.Claim, clientAddr string) (*classboard.Board, error) {
	a := classboard.AuthFromContext(ctx)
	if a == nil || a.Teacher == nil {
		return nil, classboard.Errorf(classboard.EUNAUTHORIZED, "Sign in first.")
	}
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel, err := b.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if in.Code != "" {
		if err := b.checkClaimLimits(ctx, in.Code, a.Teacher.ID, clientAddr); err != nil {
			return nil, err
		}
	}
	if n, err := countKeys(ctx, b.s.boards, "t."+keyPart(a.Teacher.ID)+".*"); err != nil {
		return nil, err
	} else if err := atLimit(n, b.s.cfg.TeacherLimits.Boards, "boards", "forget the boards you no longer use."); err != nil {
		return nil, err
	}
	boardID, err := b.takeCode(ctx, in)
	if err != nil {
		if in.Code != "" && classboard.ErrorCode(err) == classboard.EUNKNOWNCODE {
			b.countFailedClaim(ctx, a.Teacher.ID, clientAddr)
		}
		return nil, err
	}
	doc, rev, err := b.boardDoc(ctx, boardID)
	if classboard.ErrorCode(err) == classboard.ENOTFOUND || err == nil && doc.TeacherID != "" {
		return nil, errUnknownCode // the board expired or was paired meanwhile
	}
	if err != nil {
		return nil, err
	}
	// The owner index first: a listing skips index entries whose board
	// names another owner, so a failure below leaves nothing wrong behind.
	if _, err := b.s.boards.create(ctx, ownerKey(a.Teacher.ID, boardID), struct{}{}, 0); err != nil && !errors.Is(err, errExists) {
		return nil, storeErr(fmt.Errorf("index board: %w", err))
	}
	doc.TeacherID = a.Teacher.ID
	doc.TeacherName = a.Teacher.Name
	doc.Name = in.Name
	doc.PairedAt = time.Now().UTC().Truncate(time.Millisecond)
	doc.Code, doc.ClaimHash = "", ""
	doc.StateShard = stateShardOf(boardID)
	// No TTL: a paired board is kept until it is forgotten.
	if _, err := b.s.boards.update(ctx, boardKey(boardID), doc, rev, 0); err != nil {
		if errors.Is(err, errRevision) {
			return nil, errUnknownCode
		}
		return nil, storeErr(fmt.Errorf("pair board: %w", err))
	}
	if err := b.keepSecret(ctx, doc.SecretHash); err != nil {
		return nil, err
	}
	if _, err := b.initialState(ctx, doc); err != nil {
		return nil, err
	}
	return b.board(ctx, doc), nil
}

// keepSecret makes a board's secret index permanent once it is paired.
func (b *Boards) keepSecret(ctx context.Context, hash string) error {
	var d secretDoc
	rev, err := b.s.boards.get(ctx, secretKey(hash), &d)
	if err != nil {
		return storeErr(fmt.Errorf("read board secret: %w", err))
	}
	if _, err := b.s.boards.update(ctx, secretKey(hash), d, rev, 0); err != nil {
		return storeErr(fmt.Errorf("keep board secret: %w", err))
	}
	return nil
}

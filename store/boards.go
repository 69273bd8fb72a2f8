package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/token"
)

// Keys of the boards bucket: the board, its secret's hash (to find the
// board of a request), and the owner index (to list a teacher's boards).
func boardKey(id string) string            { return "b." + keyPart(id) }
func secretKey(hash string) string         { return "s." + hash }
func ownerKey(teacherID, id string) string { return "t." + keyPart(teacherID) + "." + keyPart(id) }

// boardDoc is how a board is stored. While unpaired it carries its current
// code and expires UnpairedBoardTTL after CreatedAt.
type boardDoc struct {
	V           int       `json:"v"`
	ID          string    `json:"id"`
	SecretHash  string    `json:"secret_hash"`
	Name        string    `json:"name,omitempty"`
	TeacherID   string    `json:"teacher_id,omitempty"`
	TeacherName string    `json:"teacher_name,omitempty"`
	PairedAt    time.Time `json:"paired_at,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	Code        string    `json:"code,omitempty"`
	ClaimHash   string    `json:"claim_hash,omitempty"`
	// Network is the hash of the address the board registered from; its
	// codes carry it (see Claim).
	Network string `json:"network,omitempty"`
	// StateShard is the bucket of the board's state (stateBucketName),
	// chosen when it is paired.
	StateShard int `json:"state_shard,omitempty"`
}

// secretDoc maps a board secret's hash to its board.
type secretDoc struct {
	BoardID string `json:"board_id"`
}

// Boards implements classboard.BoardService, classboard.BoardEvents and
// classboard.Presence. Which boards are online is the store's to know, so
// every Boards value of a node answers alike.
type Boards struct {
	s      *Store
	limits PairingLimits
}

var (
	_ classboard.BoardService = (*Boards)(nil)
	_ classboard.BoardEvents  = (*Boards)(nil)
	_ classboard.Presence     = (*Boards)(nil)
)

// Boards returns the board service.
func (s *Store) Boards() *Boards {
	return &Boards{s: s, limits: s.cfg.Pairing.withDefaults()}
}

// CreateBoard registers an unpaired board with a code to show.
func (b *Boards) CreateBoard(ctx context.Context, clientAddr string) (*classboard.NewBoard, error) {
	ctx, cancel, err := b.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if n, wait, err := b.s.count(ctx, "board-create", clientAddr, time.Hour); err != nil {
		return nil, storeErr(err)
	} else if n >= b.limits.CreatesPerHour {
		return nil, rateLimited("board-create", wait)
	}
	if _, err := b.s.hit(ctx, "board-create", clientAddr, time.Hour); err != nil {
		return nil, storeErr(err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new board id: %w", err)
	}
	secret := token.New()
	doc := boardDoc{V: 1, ID: id.String(), SecretHash: token.Hash(secret), CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
		Network: hashKey(clientAddr)}
	code, claimHash, err := b.issueCode(ctx, doc.ID, doc.Network)
	if err != nil {
		return nil, err
	}
	doc.Code, doc.ClaimHash = code.Code, claimHash
	if _, err := b.s.boards.create(ctx, secretKey(doc.SecretHash), secretDoc{BoardID: doc.ID}, classboard.UnpairedBoardTTL); err != nil {
		return nil, storeErr(fmt.Errorf("store board secret: %w", err))
	}
	if _, err := b.s.boards.create(ctx, boardKey(doc.ID), doc, classboard.UnpairedBoardTTL); err != nil {
		return nil, storeErr(fmt.Errorf("create board: %w", err))
	}
	return &classboard.NewBoard{BoardID: doc.ID, BoardSecret: secret, PairingCode: *code}, nil
}

// NewPairingCode gives the unpaired board in ctx a fresh code.
func (b *Boards) NewPairingCode(ctx context.Context, id string) (*classboard.PairingCode, error) {
	a := classboard.AuthFromContext(ctx)
	if a == nil || a.BoardID != id {
		return nil, errNoBoard
	}
	ctx, cancel, err := b.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	doc, rev, err := b.boardDoc(ctx, id)
	if err != nil {
		return nil, err
	}
	if doc.TeacherID != "" {
		return nil, classboard.Errorf(classboard.ECONFLICT, "This board is paired already.")
	}
	code, claimHash, err := b.issueCode(ctx, id, doc.Network)
	if err != nil {
		return nil, err
	}
	oldCode, oldClaim := doc.Code, doc.ClaimHash
	doc.Code, doc.ClaimHash = code.Code, claimHash
	// Keep the board's original expiry: showing codes does not extend it.
	ttl := time.Until(doc.CreatedAt.Add(classboard.UnpairedBoardTTL))
	if ttl < time.Second {
		return nil, errNoBoard
	}
	if _, err := b.s.boards.update(ctx, boardKey(id), doc, rev, ttl); err != nil {
		b.dropCode(ctx, code.Code, claimHash)
		if errors.Is(err, errRevision) {
			return nil, classboard.Errorf(classboard.ECONFLICT, "The board changed meanwhile; try again.")
		}
		return nil, storeErr(fmt.Errorf("store new code: %w", err))
	}
	b.dropCode(ctx, oldCode, oldClaim)
	return code, nil
}

var errNoBoard = classboard.Errorf(classboard.ENOTFOUND, "No such board.")

func (b *Boards) boardDoc(ctx context.Context, id string) (*boardDoc, uint64, error) {
	var doc boardDoc
	rev, err := b.s.boards.get(ctx, boardKey(id), &doc)
	if errors.Is(err, errNotFound) {
		return nil, 0, errNoBoard
	}
	if err != nil {
		return nil, 0, storeErr(fmt.Errorf("load board %s: %w", id, err))
	}
	return &doc, rev, nil
}

// viewedBoard reads a board from the view when it can vouch for it, else
// from the store. The view keeps no pairing code: writes read boardDoc.
func (b *Boards) viewedBoard(ctx context.Context, id string) (*boardDoc, uint64, error) {
	doc, rev, ans := b.s.view.boards.get(boardKey(id))
	switch ans {
	case viewHit:
		return &doc, rev, nil
	case viewGone:
		return nil, 0, errNoBoard
	}
	return b.boardDoc(ctx, id)
}

// visibleBoard loads a board the caller in ctx may see: its owner, or the
// board itself. Anyone else gets ENOTFOUND. read is boardDoc (the store,
// for a write that needs the whole document) or viewedBoard.
func (b *Boards) visibleBoard(ctx context.Context, id string, read func(context.Context, string) (*boardDoc, uint64, error)) (*boardDoc, uint64, error) {
	a := classboard.AuthFromContext(ctx)
	if a == nil {
		return nil, 0, errNoBoard
	}
	if a.Teacher == nil && a.BoardID != id {
		return nil, 0, errNoBoard
	}
	doc, rev, err := read(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if a.Teacher != nil && doc.TeacherID != a.Teacher.ID {
		return nil, 0, errNoBoard
	}
	return doc, rev, nil
}

func (b *Boards) board(_ context.Context, d *boardDoc) *classboard.Board {
	return &classboard.Board{
		ID: d.ID, Name: d.Name, Paired: d.TeacherID != "", TeacherName: d.TeacherName,
		PairedAt: d.PairedAt, TeacherID: d.TeacherID, Online: b.Online(d.ID),
	}
}

// Board returns a board for its owner or for itself.
func (b *Boards) Board(ctx context.Context, id string) (*classboard.Board, error) {
	ctx, cancel, err := b.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	doc, _, err := b.visibleBoard(ctx, id, b.viewedBoard)
	if err != nil {
		return nil, err
	}
	return b.board(ctx, doc), nil
}

// Boards lists the boards of the teacher in ctx, by name.
func (b *Boards) Boards(ctx context.Context) ([]*classboard.Board, error) {
	ctx, cancel, tid, err := b.s.teacherOp(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	prefix := "t." + keyPart(tid) + "."
	keys, err := b.s.boards.keys(ctx, prefix+"*")
	if err != nil {
		return nil, storeErr(err)
	}
	list := []*classboard.Board{}
	for _, k := range keys {
		doc, _, err := b.boardDoc(ctx, strings.TrimPrefix(k, prefix))
		if classboard.ErrorCode(err) == classboard.ENOTFOUND {
			continue // forgotten meanwhile
		}
		if err != nil {
			return nil, err
		}
		if doc.TeacherID == tid { // else a stale index entry
			list = append(list, b.board(ctx, doc))
		}
	}
	slices.SortFunc(list, func(x, y *classboard.Board) int {
		return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
	})
	return list, nil
}

// DeleteBoard forgets a board. Deleting the board's document (with the
// revision just read) is the decision; its secret, index, state and codes
// follow, and the watch tells every node to close its connections.
func (b *Boards) DeleteBoard(ctx context.Context, id string) error {
	a := classboard.AuthFromContext(ctx)
	ctx, cancel, err := b.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	doc, rev, err := b.visibleBoard(ctx, id, b.boardDoc)
	if err != nil {
		return err
	}
	if a.Teacher == nil && doc.TeacherID != "" && time.Since(doc.PairedAt) > classboard.SelfUnpairWindow {
		return classboard.Errorf(classboard.ECONFLICT, "A board can unpair itself only within a minute of pairing; the teacher can forget it.")
	}
	if err := b.s.boards.delete(ctx, boardKey(id), rev); err != nil {
		if errors.Is(err, errRevision) {
			return classboard.Errorf(classboard.ECONFLICT, "The board changed meanwhile; try again.")
		}
		return storeErr(fmt.Errorf("delete board: %w", err))
	}
	// The board is gone; what follows only tidies up (AuthenticateBoard
	// also checks the board exists).
	tidy := context.WithoutCancel(ctx)
	if err := b.s.boards.delete(tidy, secretKey(doc.SecretHash), 0); err != nil {
		b.s.log.Error("tidy forgotten board", "board", id, "err", err)
	}
	states, err := b.stateBucket(doc)
	if err == nil {
		err = states.delete(tidy, stateKey(id), 0)
	}
	if err != nil {
		b.s.log.Error("tidy forgotten board's state", "board", id, "err", err)
	}
	if doc.TeacherID != "" {
		if err := b.s.boards.delete(tidy, ownerKey(doc.TeacherID, id), 0); err != nil {
			b.s.log.Error("tidy forgotten board", "board", id, "err", err)
		}
		if err := b.s.forgetActivity(tidy, doc); err != nil {
			b.s.log.Error("erase forgotten board's activity", "board", id, "err", err)
		}
	}
	b.dropCode(tidy, doc.Code, doc.ClaimHash)
	return nil
}

var errBadBoardSecret = classboard.Errorf(classboard.EUNAUTHORIZED, "This board is not registered; it will register again.")

// AuthenticateBoard returns the board holding secret.
func (b *Boards) AuthenticateBoard(ctx context.Context, secret string) (*classboard.Auth, error) {
	if !token.Valid(secret) {
		return nil, errBadBoardSecret
	}
	ctx, cancel, err := b.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	hash := token.Hash(secret)
	var d secretDoc
	switch v, _, ans := b.s.view.boards.get(secretKey(hash)); ans {
	case viewHit:
		d.BoardID = v.ID
	case viewGone:
		return nil, errBadBoardSecret
	default:
		if _, err := b.s.boards.get(ctx, secretKey(hash), &d); errors.Is(err, errNotFound) {
			return nil, errBadBoardSecret
		} else if err != nil {
			return nil, storeErr(fmt.Errorf("look up board secret: %w", err))
		}
	}
	doc, _, err := b.viewedBoard(ctx, d.BoardID)
	if classboard.ErrorCode(err) == classboard.ENOTFOUND || err == nil && doc.SecretHash != hash {
		return nil, errBadBoardSecret
	}
	if err != nil {
		return nil, err
	}
	return &classboard.Auth{BoardID: doc.ID}, nil
}

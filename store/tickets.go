package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/token"
)

// ticketBucketName names the tickets bucket of a shard: a board's tickets
// go to its state's shard, whose streams' leaders the store keeps on one
// node, so that a board reconnecting after a node died waits for no other
// shard's election. Shard 0 is the bucket every ticket used before.
func ticketBucketName(shard int) string {
	if shard == 0 {
		return "tickets"
	}
	return fmt.Sprintf("tickets_%d", shard)
}

// A ticket names its shard: "<shard>.<token>"; a bare token (issued
// before tickets were spread) is shard 0's.
func ticketString(shard int, tok string) string { return strconv.Itoa(shard) + "." + tok }

func parseTicket(ticket string) (shard int, tok string, ok bool) {
	if p, rest, found := strings.Cut(ticket, "."); found {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n >= stateShards || len(p) != 1 {
			return 0, "", false
		}
		shard, ticket = n, rest
	}
	return shard, ticket, token.Valid(ticket)
}

// ticketDoc is a live ticket, stored under its hash for LiveTicketTTL.
type ticketDoc struct {
	BoardID   string    `json:"board_id"`
	TeacherID string    `json:"teacher_id,omitempty"` // empty when the board itself asked
	Device    string    `json:"device,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// LiveTickets implements classboard.LiveTickets.
type LiveTickets struct {
	b *Boards
}

var _ classboard.LiveTickets = (*LiveTickets)(nil)

// LiveTickets returns the live ticket service of a board service.
func (b *Boards) LiveTickets() *LiveTickets { return &LiveTickets{b: b} }

var errBadTicket = classboard.Errorf(classboard.EUNAUTHORIZED, "This live ticket is wrong, used or expired; get a new one.")

// IssueTicket returns a ticket for the caller in ctx to watch boardID.
func (t *LiveTickets) IssueTicket(ctx context.Context, boardID string) (*classboard.LiveTicket, error) {
	a := classboard.AuthFromContext(ctx)
	ctx, cancel, err := t.b.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	board, _, err := t.b.visibleBoard(ctx, boardID, t.b.viewedBoard)
	if err != nil {
		return nil, err
	}
	shard, err := board.shard()
	if err != nil {
		return nil, err
	}
	tok := token.New()
	doc := ticketDoc{BoardID: boardID, Device: a.Device, ExpiresAt: time.Now().UTC().Add(classboard.LiveTicketTTL).Truncate(time.Second)}
	if a.Teacher != nil {
		doc.TeacherID = a.Teacher.ID
	}
	if _, err := t.b.s.tickets[shard].create(ctx, token.Hash(tok), doc, classboard.LiveTicketTTL); err != nil {
		return nil, storeErr(fmt.Errorf("store live ticket: %w", err))
	}
	return &classboard.LiveTicket{Ticket: ticketString(shard, tok), ExpiresAt: doc.ExpiresAt}, nil
}

// useTicket reads the ticket stored under key into v and uses it up:
// deleting it with the revision just read decides, so a ticket opens one
// connection however many try. A missing or used ticket is errBadTicket.
func useTicket(ctx context.Context, bk *bucket, key, what string, v any) error {
	rev, err := bk.get(ctx, key, v)
	if errors.Is(err, errNotFound) {
		return errBadTicket
	}
	if err != nil {
		return storeErr(fmt.Errorf("read %s: %w", what, err))
	}
	if err := bk.delete(ctx, key, rev); errors.Is(err, errRevision) {
		return errBadTicket
	} else if err != nil {
		return storeErr(fmt.Errorf("use %s: %w", what, err))
	}
	return nil
}

// RedeemTicket uses a ticket up: deleting it with the revision just read
// decides, so a ticket opens one connection however many try.
func (t *LiveTickets) RedeemTicket(ctx context.Context, ticket string) (*classboard.Auth, string, error) {
	shard, tok, ok := parseTicket(ticket)
	if !ok {
		return nil, "", errBadTicket
	}
	tickets := t.b.s.tickets[shard]
	ctx, cancel, err := t.b.s.opContext(ctx)
	if err != nil {
		return nil, "", err
	}
	defer cancel()
	var doc ticketDoc
	if err := useTicket(ctx, tickets, token.Hash(tok), "live ticket", &doc); err != nil {
		return nil, "", err
	}
	if time.Now().After(doc.ExpiresAt) {
		return nil, "", errBadTicket
	}
	if doc.TeacherID == "" {
		return &classboard.Auth{BoardID: doc.BoardID, Device: doc.Device}, doc.BoardID, nil
	}
	teacher, err := t.b.s.authTeacher(ctx, doc.TeacherID)
	if classboard.ErrorCode(err) == classboard.ENOTFOUND {
		return nil, "", errBadTicket
	}
	if err != nil {
		return nil, "", err
	}
	return &classboard.Auth{Teacher: &teacher.Teacher, Device: doc.Device}, doc.BoardID, nil
}

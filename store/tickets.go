package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/token"
)

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
	if _, _, err := t.b.visibleBoard(ctx, boardID, t.b.viewedBoard); err != nil {
		return nil, err
	}
	tok := token.New()
	doc := ticketDoc{BoardID: boardID, Device: a.Device, ExpiresAt: time.Now().UTC().Add(classboard.LiveTicketTTL).Truncate(time.Second)}
	if a.Teacher != nil {
		doc.TeacherID = a.Teacher.ID
	}
	if _, err := t.b.s.tickets.create(ctx, token.Hash(tok), doc, classboard.LiveTicketTTL); err != nil {
		return nil, storeErr(fmt.Errorf("store live ticket: %w", err))
	}
	return &classboard.LiveTicket{Ticket: tok, ExpiresAt: doc.ExpiresAt}, nil
}

// RedeemTicket uses a ticket up: deleting it with the revision just read
// decides, so a ticket opens one connection however many try.
func (t *LiveTickets) RedeemTicket(ctx context.Context, ticket string) (*classboard.Auth, string, error) {
	if !token.Valid(ticket) {
		return nil, "", errBadTicket
	}
	ctx, cancel, err := t.b.s.opContext(ctx)
	if err != nil {
		return nil, "", err
	}
	defer cancel()
	key := token.Hash(ticket)
	var doc ticketDoc
	rev, err := t.b.s.tickets.get(ctx, key, &doc)
	if errors.Is(err, errNotFound) {
		return nil, "", errBadTicket
	}
	if err != nil {
		return nil, "", storeErr(fmt.Errorf("read live ticket: %w", err))
	}
	if err := t.b.s.tickets.delete(ctx, key, rev); errors.Is(err, errRevision) {
		return nil, "", errBadTicket
	} else if err != nil {
		return nil, "", storeErr(fmt.Errorf("use live ticket: %w", err))
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

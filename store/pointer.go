package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/classboard/classboard"
)

// pointerSubject carries the teachers' pointer moves to every node. Core
// NATS, not a stream, like the presence heartbeats: a move is worth
// nothing a moment later, so it is neither stored nor acknowledged, and it
// needs no stream leader (the pointer keeps working while a node is down
// or a stream elects its leader).
const pointerSubject = "classboard.pointer"

// pointerMsg is one pointer move as it crosses the nodes.
type pointerMsg struct {
	Board   string             `json:"board"`
	Pointer classboard.Pointer `json:"pointer"`
}

var _ classboard.Pointers = (*Boards)(nil)

// Point publishes a pointer move of the board's owner to every node.
func (b *Boards) Point(ctx context.Context, boardID string, p classboard.Pointer) error {
	a := classboard.AuthFromContext(ctx)
	if a == nil || a.Teacher == nil {
		return errNoBoard
	}
	if err := p.Validate(); err != nil {
		return err
	}
	ctx, cancel, err := b.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	// The owner only: an unpaired board has none, so it is not found.
	if _, _, err := b.visibleBoard(ctx, boardID, b.viewedBoard); err != nil {
		return err
	}
	data, err := json.Marshal(pointerMsg{Board: boardID, Pointer: p})
	if err != nil {
		return fmt.Errorf("encode pointer: %w", err)
	}
	if err := b.s.nc.Publish(pointerSubject, data); err != nil {
		return unavailable(fmt.Errorf("publish pointer: %w", err))
	}
	return nil
}

// watchPointers calls fn with every pointer move any node publishes until
// ctx ends. A malformed message (none of ours) is dropped.
func (b *Boards) watchPointers(ctx context.Context, fn func(classboard.BoardEvent)) error {
	sub, err := b.s.nc.Subscribe(pointerSubject, func(m *nats.Msg) {
		var pm pointerMsg
		if err := json.Unmarshal(m.Data, &pm); err != nil || pm.Board == "" || pm.Pointer.Validate() != nil {
			b.s.log.Warn("ignore malformed pointer message")
			return
		}
		fn(classboard.BoardEvent{Type: classboard.EventPointer, BoardID: pm.Board, Pointer: &pm.Pointer})
	})
	if err != nil {
		return fmt.Errorf("follow pointers: %w", err)
	}
	<-ctx.Done()
	if err := sub.Unsubscribe(); err != nil && !isClosed(err) {
		return fmt.Errorf("stop following pointers: %w", err)
	}
	return nil
}

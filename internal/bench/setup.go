package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// benchPassword is every benchmark teacher's password.
const benchPassword = "benchmark password 123"

// setup signs the teachers up and in, and registers and pairs the boards
// through the API: codes and all, as a teacher typing the code on the
// board would.
func (r *run) setup(ctx context.Context) error {
	runID := make([]byte, 4)
	rand.Read(runID)
	id := hex.EncodeToString(runID) // runs against the same --target never collide

	nt := (r.cfg.Boards + r.cfg.BoardsPerTeacher - 1) / r.cfg.BoardsPerTeacher
	if nt > 1<<16 {
		return errors.New("too many teachers: at most 65,536 school addresses")
	}
	r.teachers = make([]*teacher, nt)
	err := r.parallel(ctx, nt, func(ctx context.Context, i int) error {
		t := &teacher{
			email: fmt.Sprintf("bench-%s-%d@school.example", id, i),
			addr:  fmt.Sprintf("10.77.%d.%d", i>>8, i&0xff),
		}
		t.origin.Store(int32(i % len(r.nodes.urls)))
		base := r.nodes.urls[i%len(r.nodes.urls)]
		if err := r.signUp(ctx, base, t, i); err != nil {
			return err
		}
		var sess struct {
			Token string `json:"token"`
		}
		if err := r.api.call(ctx, "POST", base+"/api/v1/sessions", "",
			map[string]string{"email": t.email, "password": benchPassword, "device": "bench laptop"}, http.StatusCreated, &sess); err != nil {
			return fmt.Errorf("log in: %w", err)
		}
		t.token = sess.Token
		r.teachers[i] = t
		r.teachersReady.Add(1)
		return nil
	})
	if err != nil {
		return err
	}

	// Each school registers its boards one after another: registrations
	// from one address at once contend on its rate-limit counter, which a
	// node answers with 500 ("count board-create: too much contention")
	// after 10 tries. Boards go to teachers round robin.
	r.boards = make([]*board, r.cfg.Boards)
	return r.parallel(ctx, nt, func(ctx context.Context, ti int) error {
		for i := ti; i < r.cfg.Boards; i += nt {
			if err := r.pair(ctx, i, r.teachers[ti]); err != nil {
				return err
			}
		}
		return nil
	})
}

// pair registers board i as a board page would, pairs it by its code as
// teacher t and reads its first state.
func (r *run) pair(ctx context.Context, i int, t *teacher) error {
	b := newBoard(i, t, i%len(r.nodes.urls))
	var nb struct {
		BoardID     string `json:"board_id"`
		BoardSecret string `json:"board_secret"`
		PairingCode string `json:"pairing_code"`
	}
	err := r.api.call(ctx, "POST", r.nodes.urls[b.home]+"/api/v1/boards", "", nil, http.StatusCreated, &nb, "X-Forwarded-For", t.addr)
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusTooManyRequests {
		return fmt.Errorf("register board: %w (nodes limit registrations per client address; start them with --trusted-proxies covering this machine, so each school gets its own X-Forwarded-For address)", err)
	}
	if err != nil {
		return fmt.Errorf("register board: %w", err)
	}
	b.id, b.secret = nb.BoardID, nb.BoardSecret
	origin := r.nodes.urls[t.origin.Load()]
	if err := r.api.call(ctx, "POST", origin+"/api/v1/pairings", t.token,
		map[string]string{"code": nb.PairingCode, "name": fmt.Sprintf("Room %d", i)}, http.StatusCreated, nil); err != nil {
		return fmt.Errorf("pair board: %w", err)
	}
	var st boardState
	if err := r.api.call(ctx, "GET", origin+"/api/v1/boards/"+b.id+"/state", t.token, nil, http.StatusOK, &st); err != nil {
		return fmt.Errorf("read board state: %w", err)
	}
	b.rev = st.Revision
	r.boards[i] = b
	r.boardsReady.Add(1)
	return nil
}

// signUpTries bounds the attempts at one sign-up.
const signUpTries = 10

// signUp makes teacher t's account on node base. Three nodes taking 32
// sign-ups at once on a loaded machine answer some with 503 (the global
// sign-up counter's compare-and-set lost too often: "too much
// contention"): such a sign-up is tried again, and email_taken after a
// 503 means the attempt before did land.
func (r *run) signUp(ctx context.Context, base string, t *teacher, i int) error {
	var err error
	for try := range signUpTries {
		err = r.api.call(ctx, "POST", base+"/api/v1/accounts", "",
			map[string]string{"email": t.email, "password": benchPassword, "name": fmt.Sprintf("Teacher %d", i)}, http.StatusCreated, nil,
			"X-Forwarded-For", t.addr) // sign-ups are limited per address
		var ae *apiError
		switch {
		case err == nil:
			return nil
		case try > 0 && errors.As(err, &ae) && ae.code == "email_taken":
			return nil
		case !errors.As(err, &ae) || ae.status != http.StatusServiceUnavailable:
			return fmt.Errorf("sign up: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sign up: %w", ctx.Err())
		case <-time.After(max(ae.retryAfter, time.Second)):
		}
	}
	return fmt.Errorf("sign up: %d tries: %w", signUpTries, err)
}

// parallel runs f for 0..n-1 with at most Concurrency at once and returns
// the first error (the others stop at their next request).
func (r *run) parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, r.cfg.Concurrency) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

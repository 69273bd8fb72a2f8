package testcluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/classboard/classboard/internal/apitest"
)

// ErrUnreachable means every origin failed once for one request.
var ErrUnreachable = errors.New("every origin failed")

// Client calls the API the way the apps' client (ui/static/js/client.js)
// does, so that fault tests drive the cluster as a teacher's device would:
// start at a random origin and stay with it while it answers; on a network
// error, a timeout or a 503 move to the next, trying each origin at most
// once per request.
type Client struct {
	origins []string
	http    *http.Client
	token   string

	mu    sync.Mutex
	index int
	moves int
}

// NewClient returns a client over origins with a fixed request timeout.
func NewClient(origins []string, timeout time.Duration) *Client {
	return &Client{
		origins: origins,
		http:    &http.Client{Timeout: timeout},
		index:   rand.IntN(len(origins)),
	}
}

// StartAt makes the client use origin i until it fails.
func (c *Client) StartAt(i int) *Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index = i
	return c
}

// With returns a client that sends token and shares c's position.
func (c *Client) With(token string) *Client {
	return &Client{origins: c.origins, http: c.http, token: token, index: c.Origin()}
}

// Origin is the index of the origin the client uses now.
func (c *Client) Origin() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.index
}

// Moves counts how often the client moved to another origin.
func (c *Client) Moves() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.moves
}

func (c *Client) advance(from int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.index == from {
		c.index = (c.index + 1) % len(c.origins)
		c.moves++
	}
}

// Do sends one request, moving on as the apps do. It returns the first
// answer that is not a 503, or ErrUnreachable with the last failure.
func (c *Client) Do(ctx context.Context, method, path string, body any, headers ...string) (*apitest.Response, error) {
	var last error
	for range c.origins {
		i := c.Origin()
		res, err := apitest.Send(ctx, c.http, method, c.origins[i]+path, c.token, body, headers...)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err == nil && res.Status != http.StatusServiceUnavailable {
			return res, nil
		}
		if err == nil {
			err = fmt.Errorf("%s: 503 %s", c.origins[i], res.Body)
		}
		last = err
		c.advance(i)
	}
	return nil, fmt.Errorf("%w: %w", ErrUnreachable, last)
}

// Retry repeats Do after full-jitter exponential backoff (0.5 s growing to
// 5 s) until an origin answers or ctx ends: how the apps carry a teacher's
// action through a failover.
func (c *Client) Retry(ctx context.Context, method, path string, body any, headers ...string) (*apitest.Response, error) {
	backoff := 500 * time.Millisecond
	for {
		res, err := c.Do(ctx, method, path, body, headers...)
		if !errors.Is(err, ErrUnreachable) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(rand.N(backoff) + time.Millisecond):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

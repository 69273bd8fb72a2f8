package testcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	var last error
	for range c.origins {
		i := c.Origin()
		res, err := c.send(ctx, c.origins[i], method, path, data, headers)
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

func (c *Client) send(ctx context.Context, origin, method, path string, data []byte, headers []string) (*apitest.Response, error) {
	var rd io.Reader
	if data != nil {
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, origin+path, rd)
	if err != nil {
		return nil, err
	}
	if data != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &apitest.Response{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

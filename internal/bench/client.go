package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// client is the harness's HTTP client: JSON in and out, a bearer token,
// the status and body handed back so callers can act on API errors.
type client struct {
	http *http.Client
}

// newClient returns a client whose connections are kept for reuse: a
// teacher's device keeps its connection to the node it talks to. maxConns
// bounds its connections to one node (0: no bound).
func newClient(timeout time.Duration, maxConns int) *client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: 512,
		MaxConnsPerHost:     maxConns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &client{http: &http.Client{Transport: tr, Timeout: timeout}}
}

// response is a finished response with its body read.
type response struct {
	status     int
	body       []byte
	retryAfter time.Duration // Retry-After, when the node sent one
}

// apiError is an answer other than the one expected.
type apiError struct {
	method, url string
	status      int
	code        string
	body        []byte
	retryAfter  time.Duration
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.url, e.status, bytes.TrimSpace(e.body))
}

// errorCode returns the error.code of an API error body, or "".
func errorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(body, &e) //nolint:errcheck // not every body is an error
	return e.Error.Code
}

// do sends a request with body (nil, or encoded as JSON) and headers as
// name/value pairs. The error is a transport error only.
func (c *client) do(ctx context.Context, method, url, token string, body any, headers ...string) (*response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, url, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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
		return nil, fmt.Errorf("read %s %s: %w", method, url, err)
	}
	ra, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	return &response{status: res.StatusCode, body: b, retryAfter: time.Duration(ra) * time.Second}, nil
}

// call is do for a request expecting status want, decoding the answer
// into out (when not nil). Any other status is an *apiError.
func (c *client) call(ctx context.Context, method, url, token string, body any, want int, out any, headers ...string) error {
	res, err := c.do(ctx, method, url, token, body, headers...)
	if err != nil {
		return err
	}
	if res.status != want {
		return &apiError{method: method, url: url, status: res.status, code: errorCode(res.body), body: res.body, retryAfter: res.retryAfter}
	}
	if out != nil {
		if err := json.Unmarshal(res.body, out); err != nil {
			return fmt.Errorf("decode %s %s: %w", method, url, err)
		}
	}
	return nil
}

// pupilConnsPerNode bounds the HTTP connections the pupils of one process
// (the harness or a load worker) open to one node for their joins and
// answers: phones would each have their own, but a burst of 10,000 at once
// would cost the node and this process a descriptor each on top of the
// pupils' live connections, over the 20,000 a process may hold here.
// Requests beyond it wait for a connection in this process; answer ->
// board is timed from the answer's 200, so the wait is not in it.
const pupilConnsPerNode = 256

// closeIdle drops kept connections (at the end of a run).
func (c *client) closeIdle() { c.http.CloseIdleConnections() }

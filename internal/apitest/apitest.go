// Package apitest is a small HTTP client for API tests and the scenario
// tables they are written as.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Client calls one node's API.
type Client struct {
	Base  string
	Token string
	HTTP  *http.Client
}

// New returns a client for the node at base.
func New(base string) *Client {
	return &Client{Base: base, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// With returns a copy of c that sends token.
func (c *Client) With(token string) *Client {
	cp := *c
	cp.Token = token
	return &cp
}

// Response is a finished response with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it cannot.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// ErrorCode returns error.code of an error body, or "".
func (r *Response) ErrorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// Do sends a request with Send, failing the test when no answer comes.
func (c *Client) Do(t testing.TB, method, path string, body any, headers ...string) *Response {
	t.Helper()
	res, err := Send(context.Background(), c.HTTP, method, c.Base+path, c.Token, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return res
}

// Send sends one request and reads the answer: the one request helper of
// the tests (the testcluster client sends through it too). body may be
// nil, a string or []byte (sent as is, as JSON unless headers say
// otherwise), or anything else (encoded as JSON). token, unless "", is
// sent as the bearer token; headers are name/value pairs ("Host" sets
// the request's host).
func Send(ctx context.Context, hc *http.Client, method, url, token string, body any, headers ...string) (*Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1] // net/http sends req.Host, not a Host header
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: data}, nil
}

// Scenario is one row of an API test table.
type Scenario struct {
	Name    string
	Method  string
	Path    string
	Body    any
	Headers []string
	Token   string // "" sends none
	Status  int
	Code    string   // expected error.code, if any
	Fields  []string // fields expected in error.fields
	// Check makes more checks on the response. It gets the scenario's own
	// subtest, so a failure inside it is reported against that row.
	Check func(t *testing.T, r *Response) error
}

// Run runs scenarios in order as subtests.
func Run(t *testing.T, c *Client, scenarios []Scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			res := c.With(sc.Token).Do(t, sc.Method, sc.Path, sc.Body, sc.Headers...)
			if res.Status != sc.Status {
				t.Fatalf("status %d, want %d; body %s", res.Status, sc.Status, res.Body)
			}
			if sc.Code != "" && res.ErrorCode() != sc.Code {
				t.Fatalf("error code %q, want %q; body %s", res.ErrorCode(), sc.Code, res.Body)
			}
			if len(sc.Fields) > 0 {
				var e struct {
					Error struct {
						Fields map[string]string `json:"fields"`
					} `json:"error"`
				}
				res.JSON(t, &e)
				for _, f := range sc.Fields {
					if e.Error.Fields[f] == "" {
						t.Fatalf("no reason for field %q in %s", f, res.Body)
					}
				}
			}
			if sc.Check != nil {
				if err := sc.Check(t, res); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// Errorf is a shorthand for Check functions.
func Errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

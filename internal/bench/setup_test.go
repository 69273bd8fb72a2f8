package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSignUpTriesAgainAfter503 checks that a sign-up answered 503 (a
// cluster still electing) is made again, that email_taken after a 503
// counts as the earlier attempt having landed, and that other refusals
// end the setup at once.
func TestSignUpTriesAgainAfter503(t *testing.T) {
	tests := []struct {
		name    string
		answers []int // status per attempt; 409 is email_taken
		wantErr string
		tries   int32
	}{
		{name: "at once", answers: []int{201}, tries: 1},
		{name: "after a 503", answers: []int{503, 201}, tries: 2},
		{name: "landed before its 503", answers: []int{503, 409}, tries: 2},
		{name: "taken on the first try", answers: []int{409}, wantErr: "email_taken", tries: 1},
		{name: "other refusal", answers: []int{429}, wantErr: "429", tries: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				status := tt.answers[min(i, len(tt.answers)-1)]
				w.Header().Set("Content-Type", "application/json")
				if status == http.StatusServiceUnavailable {
					w.Header().Set("Retry-After", "0")
				}
				w.WriteHeader(status)
				switch status {
				case http.StatusConflict:
					w.Write([]byte(`{"error":{"code":"email_taken","message":"taken"}}`))
				case http.StatusServiceUnavailable:
					w.Write([]byte(`{"error":{"code":"unavailable","message":"later"}}`))
				case http.StatusTooManyRequests:
					w.Write([]byte(`{"error":{"code":"rate_limited","message":"slow down"}}`))
				default:
					w.Write([]byte(`{}`))
				}
			}))
			defer srv.Close()
			r := &run{api: newClient(5*time.Second, 0)}
			err := r.signUp(context.Background(), srv.URL, &teacher{email: "a@school.example", addr: "10.77.0.1"}, 0)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("sign up: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("sign up: %v, want an error with %q", err, tt.wantErr)
			}
			if got := n.Load(); got != tt.tries {
				t.Errorf("%d attempts, want %d", got, tt.tries)
			}
		})
	}
}

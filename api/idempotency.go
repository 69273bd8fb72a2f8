package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/classboard/classboard"
)

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

// idempotencyBookkeeping bounds storing a request's answer (or releasing
// its key) after the request: about one store operation, retries included.
const idempotencyBookkeeping = 10 * time.Second

// idempotent makes a creating route honour Idempotency-Key: the first
// request with a key runs, and every retry with the same key and body gets
// its answer again, on any node, creating nothing. The body is read into
// memory (at most limit bytes) to hash it. Use inside allow, so keys are
// scoped to the caller (anonymous callers' keys to their address).
func (s *Server) idempotent(limit int64, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			h(w, r)
			return
		}
		if len(key) > maxIdempotencyKey {
			s.writeError(w, r, &classboard.Error{Code: classboard.EINVALID, Message: "The Idempotency-Key header is too long.",
				Fields: map[string]string{"Idempotency-Key": "is longer than 255 characters"}})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var maxErr *http.MaxBytesError
			if errors.As(err, &maxErr) {
				s.writeError(w, r, classboard.Errorf(classboard.ETOOLARGE, "The body is larger than %d bytes.", limit))
				return
			}
			s.writeError(w, r, classboard.Errorf(classboard.EBADJSON, "The body could not be read."))
			return
		}
		scope := ""
		if a := auth(r.Context()); a != nil && a.Teacher != nil {
			scope = "teacher:" + a.Teacher.ID
		} else {
			scope = "addr:" + s.clientAddr(r)
		}
		sum := sha256.New()
		sum.Write([]byte(r.Method + " " + r.Pattern + "\x00" + r.Header.Get("Content-Type") + "\x00"))
		sum.Write(body)
		bodyHash := hex.EncodeToString(sum.Sum(nil))
		storeKey := scope + "\x00" + r.Pattern + "\x00" + key

		prev, err := s.svc.Idempotency.Reserve(r.Context(), storeKey, bodyHash)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if prev != nil {
			switch {
			case prev.BodyHash != bodyHash:
				s.writeError(w, r, classboard.Errorf(classboard.EIDEMPOTENCYREUSED, "This Idempotency-Key was used for another request."))
			case !prev.Done:
				s.writeError(w, r, &classboard.Error{Code: classboard.ECONFLICT, Message: "The first request with this Idempotency-Key is still running; retry shortly.", RetryAfter: time.Second})
			default:
				if prev.ContentType != "" {
					w.Header().Set("Content-Type", prev.ContentType)
				}
				if prev.Location != "" {
					w.Header().Set("Location", prev.Location)
				}
				w.Header().Set("Idempotent-Replayed", "true")
				w.WriteHeader(prev.Status)
				w.Write(prev.Body) //nolint:errcheck // client gone
			}
			return
		}

		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{ResponseWriter: w, body: new(bytes.Buffer)}
		h(rec, r)
		// The bookkeeping must land even when the client gave up meanwhile:
		// a key left pending answers its retry, on any node, with 409 until
		// it expires.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), idempotencyBookkeeping)
		defer cancel()
		if rec.status >= 200 && rec.status < 300 {
			err = s.svc.Idempotency.Complete(ctx, storeKey, classboard.IdempotentResponse{
				BodyHash: bodyHash, Status: rec.status, Body: rec.body.Bytes(),
				ContentType: rec.Header().Get("Content-Type"), Location: rec.Header().Get("Location"),
			})
		} else {
			err = s.svc.Idempotency.Release(ctx, storeKey)
		}
		if err != nil {
			// The answer went out; a retry will find the key pending until
			// it expires, or run again after a release failed.
			s.log.Warn("store idempotency result", "request_id", requestID(ctx), "err", err)
		}
	}
}

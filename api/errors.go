package api

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/live"
)

// statusOf maps error codes to HTTP statuses; codes not listed are 500.
var statusOf = map[string]int{
	classboard.EINVALID:             http.StatusBadRequest,
	classboard.EBADJSON:             http.StatusBadRequest,
	classboard.EINVALIDTOKEN:        http.StatusBadRequest,
	classboard.EUNAUTHORIZED:        http.StatusUnauthorized,
	classboard.EINVALIDCREDENTIALS:  http.StatusUnauthorized,
	classboard.EORIGIN:              http.StatusForbidden,
	classboard.ENOTFOUND:            http.StatusNotFound,
	classboard.EUNKNOWNCODE:         http.StatusNotFound,
	classboard.EMETHODNOTALLOWED:    http.StatusMethodNotAllowed,
	classboard.EEMAILTAKEN:          http.StatusConflict,
	classboard.ECONFLICT:            http.StatusConflict,
	classboard.EROOMFULL:            http.StatusConflict,
	classboard.EACTIVITYCLOSED:      http.StatusConflict,
	classboard.EREVISIONMISMATCH:    http.StatusPreconditionFailed,
	classboard.ETOOLARGE:            http.StatusRequestEntityTooLarge,
	classboard.EQUOTA:               http.StatusRequestEntityTooLarge,
	classboard.EUNSUPPORTED:         http.StatusUnsupportedMediaType,
	classboard.EUNSUPPORTEDENCODING: http.StatusUnsupportedMediaType,
	classboard.EIDEMPOTENCYREUSED:   http.StatusUnprocessableEntity,
	classboard.EPRECONDITION:        http.StatusPreconditionRequired,
	classboard.ERATELIMITED:         http.StatusTooManyRequests,
	classboard.ETIMEOUT:             http.StatusRequestTimeout,
	classboard.EUNAVAILABLE:         http.StatusServiceUnavailable,
	classboard.EINTERNAL:            http.StatusInternalServerError,
	classboard.EINVALIDFILE:         http.StatusBadRequest,
	classboard.EUNSUPPORTEDFILE:     http.StatusUnsupportedMediaType,
	classboard.EFILETOOLARGE:        http.StatusRequestEntityTooLarge,
}

type errorBody struct {
	Error   errorDetail `json:"error"`
	Current any         `json:"current,omitempty"`
}

type errorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// writeError answers with the API's error shape. Errors that are not a
// *classboard.Error are internal: the client sees a generic message, the
// log sees everything.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *classboard.Error
	if !errors.As(err, &e) {
		e = &classboard.Error{Code: classboard.EINTERNAL, Message: "Something went wrong on our side."}
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if e.Rule != "" {
		s.securityEvent(r, e.Rule, slog.String("code", e.Code))
	}
	// A herd's refusals are answers by design (thousands a second), not failures.
	if status >= 500 && !errors.Is(err, live.ErrBusy) && !errors.Is(err, errShed) {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestID(r.Context())), slog.String("err", err.Error()))
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	} else if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{
		Error:   errorDetail{Code: e.Code, Message: e.Message, Fields: e.Fields},
		Current: e.Current,
	})
}

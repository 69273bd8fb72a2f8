// Package classboard holds the domain types of classboard and the interfaces
// between its parts. Adapters live in subpackages named after what they talk
// to: store (NATS JetStream), api (HTTP), mail (SMTP), ui (the browser apps).
package classboard

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are the "code" field of the API's error shape; the api
// package maps each one to an HTTP status.
const (
	EINVALID             = "invalid"                // validation failed; Fields says why
	EBADJSON             = "invalid_json"           // malformed body or unknown field
	ETOOLARGE            = "too_large"              // body, upload or document over its limit
	EQUOTA               = "quota_exceeded"         // the teacher's media quota is full
	EUNSUPPORTED         = "unsupported_media_type" // not an allowed image
	EUNAUTHORIZED        = "unauthorized"           // missing or unknown credentials
	EORIGIN              = "origin_not_allowed"     // a browser page from an origin that is not the apps'
	EINVALIDCREDENTIALS  = "invalid_credentials"    // wrong e-mail or password
	ENOTFOUND            = "not_found"              // does not exist, or the caller may not see it
	EUNKNOWNCODE         = "unknown_code"           // pairing or join code wrong, used or expired
	EROOMFULL            = "room_full"              // the activity's room has its most pupils
	EACTIVITYCLOSED      = "activity_closed"        // the activity takes no answers now
	EEMAILTAKEN          = "email_taken"            // an account with this e-mail exists
	ECONFLICT            = "conflict"               // a concurrent change won
	EREVISIONMISMATCH    = "revision_mismatch"      // If-Match is stale
	EPRECONDITION        = "if_match_required"      // a PUT without If-Match
	EIDEMPOTENCYREUSED   = "idempotency_key_reused" // the same key with another body
	ERATELIMITED         = "rate_limited"           // too many attempts; RetryAfter says when
	EINVALIDTOKEN        = "invalid_token"          // password reset token wrong, used or expired
	EUNAVAILABLE         = "unavailable"            // this node cannot serve now (no quorum, store down)
	EINTERNAL            = "internal"               // anything else; details only in the log
	EMETHODNOTALLOWED    = "method_not_allowed"
	EUNSUPPORTEDENCODING = "unsupported_content_type" // a JSON endpoint got another Content-Type
	EINVALIDFILE         = "invalid_file"             // an imported file is damaged or unsafe (traversal, DOCTYPE, nesting)
	EUNSUPPORTEDFILE     = "unsupported_file"         // an imported file is not a .pptx or a lesson file
	EFILETOOLARGE        = "file_too_large"           // an imported file unpacks to more than its limits (zip bomb)
	ETIMEOUT             = "request_timeout"          // the body did not arrive in time
)

// Error is an error a client may see. Its Message is written for people and
// never contains internal details; wrap the cause for the log instead.
type Error struct {
	Code    string
	Message string
	// Fields holds per-field reasons for validation errors.
	Fields map[string]string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter time.Duration
	// Current is the current document for a revision mismatch.
	Current any
	// Rule names the limit or check that refused a request (a security
	// event, logged at WARN under this name); empty for other errors.
	Rule string
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("%s: %s %v", e.Code, e.Message, e.Fields)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ValidationErrors collects per-field reasons; Err returns nil when there are none.
type ValidationErrors map[string]string

// Add records why a field is invalid, keeping the first reason per field.
func (v ValidationErrors) Add(field, reason string) {
	if _, ok := v[field]; !ok {
		v[field] = reason
	}
}

// Err returns an EINVALID *Error listing the fields, or nil.
func (v ValidationErrors) Err() error {
	if len(v) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "Some fields are not valid.", Fields: v}
}

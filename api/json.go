package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/classboard/classboard"
)

// DefaultMaxBodyBytes bounds a JSON request body unless a route says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// writeJSON writes v with status. Encoding errors can only be programming
// errors at this point; the status line is already out.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) //nolint:errcheck // the client went away; nothing to do
}

// decode reads a JSON body of at most limit bytes into v. Unknown fields,
// malformed JSON and trailing data are 400, an oversized body 413, a body
// that says it is not JSON 415.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return classboard.Errorf(classboard.EUNSUPPORTEDENCODING, "Send the body as application/json.")
		}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return decodeError(err, limit)
		}
		return classboard.Errorf(classboard.EBADJSON, "The body has data after the JSON value.")
	}
	return nil
}

func decodeError(err error, limit int64) error {
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return classboard.Errorf(classboard.ETOOLARGE, "The body is larger than %d bytes.", limit)
	case errors.Is(err, io.EOF):
		return classboard.Errorf(classboard.EBADJSON, "The body is empty; send a JSON object.")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return classboard.Errorf(classboard.EBADJSON, "The body is not valid JSON.")
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return &classboard.Error{Code: classboard.EINVALID, Message: "Some fields have the wrong type.",
				Fields: map[string]string{typeErr.Field: fmt.Sprintf("must be a %s", jsonKind(typeErr.Type.Kind().String()))}}
		}
		return classboard.Errorf(classboard.EBADJSON, "The body must be a JSON object.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &classboard.Error{Code: classboard.EBADJSON, Message: fmt.Sprintf("Unknown field %q.", field),
			Fields: map[string]string{field: "is not a known field"}}
	}
	return classboard.Errorf(classboard.EBADJSON, "The body is not valid JSON.")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "list"
	case "struct", "map", "ptr":
		return "object"
	}
	return "number"
}

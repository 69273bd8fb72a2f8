package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

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

// decode reads a JSON body of at most limit bytes into v. Malformed JSON,
// unknown fields, a field named twice or in another case than the API's
// ("Email" for "email"), invalid UTF-8 and trailing data are 400; an
// oversized body 413; a body that is not sent as application/json 415,
// also when it names no type: browsers send such "simple" requests across
// sites without asking first.
//
// It uses the JSON v2 decoder, whose defaults are exactly these: a field
// given twice or in another case could be read one way here and another
// way by a proxy or a log filter in front of us.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return classboard.Errorf(classboard.EUNSUPPORTEDENCODING, "Send the body as application/json.")
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	if err := jsonv2.UnmarshalRead(body, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		return decodeError(err, limit)
	}
	return nil
}

func decodeError(err error, limit int64) error {
	var maxErr *http.MaxBytesError
	var syntaxErr *jsontext.SyntacticError
	var semErr *jsonv2.SemanticError
	switch {
	case errors.As(err, &maxErr):
		return classboard.Errorf(classboard.ETOOLARGE, "The body is larger than %d bytes.", limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return classboard.Errorf(classboard.ETIMEOUT, "The body took too long to arrive.")
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) && isEmpty(err):
		return classboard.Errorf(classboard.EBADJSON, "The body is empty; send a JSON object.")
	case errors.As(err, &syntaxErr) && errors.Is(err, jsontext.ErrDuplicateName):
		field := fieldName(syntaxErr.JSONPointer)
		return &classboard.Error{Code: classboard.EBADJSON, Message: fmt.Sprintf("The field %q is given twice.", field),
			Fields: map[string]string{field: "is given twice"}}
	case errors.As(err, &semErr) && errors.Is(err, jsonv2.ErrUnknownName):
		field := fieldName(semErr.JSONPointer)
		return &classboard.Error{Code: classboard.EBADJSON, Message: fmt.Sprintf("Unknown field %q.", field),
			Fields: map[string]string{field: "is not a known field"}}
	case errors.As(err, &semErr) && semErr.GoType != nil && semErr.JSONKind != 0:
		if field := fieldName(semErr.JSONPointer); field != "" {
			return &classboard.Error{Code: classboard.EINVALID, Message: "Some fields have the wrong type.",
				Fields: map[string]string{field: fmt.Sprintf("must be a %s", jsonKind(semErr.GoType.Kind().String()))}}
		}
		return classboard.Errorf(classboard.EBADJSON, "The body must be a JSON object.")
	}
	return classboard.Errorf(classboard.EBADJSON, "The body is not valid JSON.")
}

// isEmpty tells an empty body from one cut short.
func isEmpty(err error) bool {
	var syntaxErr *jsontext.SyntacticError
	return !errors.As(err, &syntaxErr) || syntaxErr.ByteOffset == 0
}

// fieldName writes a JSON pointer the way validation errors name fields:
// /slides/0/kind is slides[0].kind.
func fieldName(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
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

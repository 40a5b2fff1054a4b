package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxBody is the largest request body the API reads; a mapping preview's
// CRM record is the biggest body it expects.
const maxBody = 1 << 20

// decode reads the request's JSON body into v strictly: the body must be
// one JSON object with only known fields, at most maxBody bytes. The
// Content-Type is not checked: "curl -d" sends a form type with JSON, and
// bearer tokens, which browsers never send by themselves, rule out
// cross-site form posts.
func decode(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("request body: want a JSON object, got nothing")
	}
	return decodeBytes(body, v)
}

// decodeOptional is decode for bodies that may be empty (all fields optional).
func decodeOptional(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return err
	}
	return decodeBytes(body, v)
}

// decodeNone refuses a body on actions that take none, so a client that
// sends fields we would ignore learns it at once.
func decodeNone(r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if b := bytes.TrimSpace(body); len(b) > 0 && !bytes.Equal(b, []byte("{}")) {
		return invalid("request body: this action takes no fields")
	}
	return nil
}

func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, invalid("request body: %v", err)
	}
	if len(body) > maxBody {
		return nil, invalid("request body: larger than %d bytes", maxBody)
	}
	return body, nil
}

func decodeBytes(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("request body: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("request body: more than one JSON value")
	}
	return nil
}

// describeJSONError says what was wrong with a body, naming the field.
func describeJSONError(err error) string {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("want a JSON %s, got %s", typ.Type.Kind(), typ.Value)
		}
		return fmt.Sprintf("field %q: want %s, got %s", typ.Field, jsonKind(typ.Type.String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	msg := err.Error()
	if field, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + field
	}
	if strings.HasPrefix(msg, "parsing time ") {
		return "invalid time (want RFC 3339, e.g. 2026-11-22T15:04:05Z): " + strings.TrimPrefix(msg, "parsing time ")
	}
	return strings.TrimPrefix(msg, "json: ")
}

func jsonKind(goType string) string {
	switch goType {
	case "time.Time", "*time.Time":
		return "an RFC 3339 time string"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64", "float64":
		return "a number"
	}
	return goType
}

// parseTime reads an RFC 3339 time field; nil stays nil.
func parseTime(field string, v *string) (*time.Time, error) {
	if v == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, *v)
	if err != nil {
		return nil, invalid("field %q: %q is not an RFC 3339 time (e.g. 2026-11-22T15:04:05Z)", field, *v)
	}
	return &t, nil
}

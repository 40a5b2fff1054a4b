package sim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"
)

const (
	dateLayout     = "2006-01-02"
	dateTimeLayout = "2006-01-02T15:04:05.000-0700"
)

// object is a JSON object that keeps its keys in insertion order, as
// Salesforce's responses do (attributes first, then fields in SELECT order).
type object []member

type member struct {
	key   string
	value any
}

func (o object) index(key string) int {
	for i, m := range o {
		if m.key == key {
			return i
		}
	}
	return -1
}

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.key)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// renderValue converts a stored value to its JSON form: date-times as
// Salesforce writes them ("2026-11-22T10:00:00.000+0000").
func renderValue(v any) any {
	if t, ok := v.(time.Time); ok {
		return t.UTC().Format(dateTimeLayout)
	}
	return v
}

// apiError is a REST API error: the HTTP status and the body element
// {"message","errorCode","fields"}. Fields is reported only for DML errors.
type apiError struct {
	status int
	code   string
	msg    string
	fields []string
	dml    bool
}

func (e *apiError) body() []object {
	o := object{{"message", e.msg}, {"errorCode", e.code}}
	if e.dml {
		fields := e.fields
		if fields == nil {
			fields = []string{}
		}
		o = append(o, member{"fields", fields})
	}
	return []object{o}
}

func newAPIError(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, msg: msg}
}

func notFound() *apiError {
	return newAPIError(http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
}

func jsonParserError(msg string) *apiError {
	return newAPIError(http.StatusBadRequest, "JSON_PARSER_ERROR", msg)
}

// dmlError is a per-record save error: reported inside a collection result
// as {"statusCode","message","fields"}, or as an apiError for a single record.
type dmlError struct {
	code   string
	msg    string
	fields []string
}

func (e *dmlError) result() object {
	fields := e.fields
	if fields == nil {
		fields = []string{}
	}
	return object{{"statusCode", e.code}, {"message", e.msg}, {"fields", fields}}
}

// apiError maps a save error on a single record to the REST status Salesforce uses.
func (e *dmlError) apiError() *apiError {
	status := http.StatusBadRequest
	if e.code == "ENTITY_IS_DELETED" || e.code == "NOT_FOUND" {
		status = http.StatusNotFound
	}
	return &apiError{status: status, code: e.code, msg: e.msg, fields: e.fields, dml: e.code != "NOT_FOUND"}
}

// response is what a resource handler returns; ServeHTTP and composite both consume it.
type response struct {
	status  int
	body    any // nil: no body
	headers map[string]string
}

func errorResponse(e *apiError) *response {
	return &response{status: e.status, body: e.body()}
}

func jsonResponse(status int, body any) *response {
	return &response{status: status, body: body}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	if body == nil {
		w.WriteHeader(status)
		return
	}
	data, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		data, _ = json.Marshal((&apiError{code: "UNKNOWN_EXCEPTION", msg: "An unexpected error occurred."}).body())
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ctibridge/ctibridge/adapter"
)

// The API's own error codes; the engine's come from adapter.Code.
const (
	codeUnauthorized = "unauthorized"
	codeRateLimited  = "rate_limited"
	// codeTooLarge: the request body is over api.max_body_bytes.
	codeTooLarge = "too_large"
	// codeTooLong: a field of the body is longer than its limit.
	codeTooLong = "too_long"
	// codeInvalidText: a field, key, path or query parameter holds a NUL
	// character or bytes that are not UTF-8.
	codeInvalidText = "invalid_text"
	// codeMethodNotAllowed: the path is a route, of other methods (405
	// with an Allow header).
	codeMethodNotAllowed = "method_not_allowed"
)

// apiError is an error of the HTTP layer with its API code.
type apiError struct {
	code string
	msg  string
}

func (e *apiError) Error() string { return e.msg }

var (
	errUnauthorized = &apiError{codeUnauthorized, "missing or unknown bearer token"}
	errRateLimited  = &apiError{codeRateLimited, "too many requests for this token; retry after a second"}
	errNoRoute      = &apiError{adapter.CodeNotFound, "no such endpoint"}
	// errAuthRateLimited answers a client that sent too many unknown
	// tokens, whatever token it sends now (see authFailures).
	errAuthRateLimited = &apiError{codeRateLimited, "too many requests with an unknown bearer token from this address; retry after the Retry-After seconds"}
)

func forbidden(format string, args ...any) error {
	return &apiError{adapter.CodeForbidden, fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return &apiError{adapter.CodeInvalidRequest, fmt.Sprintf(format, args...)}
}

// tooLong is the error of a field longer than its limit; key names the
// config key that sets the limit, if one does.
func tooLong(field string, n, limit int, key string) error {
	msg := fmt.Sprintf("field %q: %d bytes, at most %d", field, n, limit)
	if key != "" {
		msg += " (" + key + ")"
	}
	return &apiError{codeTooLong, msg}
}

func invalidText(format string, args ...any) error {
	return &apiError{codeInvalidText, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiError{adapter.CodeNotFound, fmt.Sprintf(format, args...)}
}

// statusOf is the HTTP status of each code.
var statusOf = map[string]int{
	codeUnauthorized:               http.StatusUnauthorized,
	adapter.CodeForbidden:          http.StatusForbidden,
	adapter.CodeNotFound:           http.StatusNotFound,
	adapter.CodeInvalidRequest:     http.StatusBadRequest,
	adapter.CodeActionNotAllowed:   http.StatusConflict,
	adapter.CodeInvalidTransition:  http.StatusConflict,
	adapter.CodeDueByRequired:      http.StatusUnprocessableEntity,
	adapter.CodeDueByInPast:        http.StatusUnprocessableEntity,
	adapter.CodeDueByOutOfRange:    http.StatusUnprocessableEntity,
	codeTooLarge:                   http.StatusRequestEntityTooLarge,
	codeTooLong:                    http.StatusUnprocessableEntity,
	codeInvalidText:                http.StatusUnprocessableEntity,
	adapter.CodeTargetUnavailable:  http.StatusConflict,
	adapter.CodeConflict:           http.StatusConflict,
	adapter.CodePresenceFollowsCRM: http.StatusConflict,
	codeMethodNotAllowed:           http.StatusMethodNotAllowed,
	codeCSRF:                       http.StatusForbidden,
	codeRateLimited:                http.StatusTooManyRequests,
	adapter.CodeUnavailable:        http.StatusServiceUnavailable,
	adapter.CodeInternal:           http.StatusInternalServerError,
}

// Problem is an RFC 9457 problem document, the body of every error.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	// Reason is why a step was refused in a sentence for an agent, with
	// no ids (adapter.Say), when the refusal has one.
	Reason string `json:"reason,omitempty"`
}

// codeOf returns the API code of err.
func codeOf(err error) string {
	var e *apiError
	switch {
	case errors.As(err, &e):
		return e.code
	case errors.Is(err, adapter.ErrStopped):
		return adapter.CodeUnavailable
	}
	return adapter.Code(err)
}

// detailInternal is the detail of a 500: the cause may name internals.
const detailInternal = "internal error; the server log has the cause"

// statusClientClosed is the status of a request its client gave up on.
const statusClientClosed = 499

// problem writes err as a problem document. Internal errors are logged and
// their detail is not shown: it may name internals.
func (s *Server) problem(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
		// The client went away (it gave up waiting): no fault of the
		// server's, and nobody reads the answer. 499, as nginx counts it,
		// keeps it out of the 5xx rate.
		s.log.WithFields(s.accessFields(r, accessOf(r))).Debug("request canceled by the client")
		w.WriteHeader(statusClientClosed)
		return
	}
	code := codeOf(err)
	detail, reason := err.Error(), adapter.Say(err)
	switch {
	case code == adapter.CodeInternal:
		s.log.WithError(err).WithFields(s.accessFields(r, accessOf(r))).Error("request failed")
		detail = detailInternal
	case errors.Is(err, adapter.ErrStoreUnavailable):
		// The engine logged the outage when it began, and logs its end;
		// each request it fails meanwhile is only counted.
		s.log.WithError(err).WithFields(s.accessFields(r, accessOf(r))).Debug("request failed: store unavailable")
		detail = detailStoreUnavailable
		reason = "Your work could not be saved or read just now. Try again in a few seconds."
		w.Header().Set("Retry-After", strconv.Itoa(retryStoreUnavailable))
	case code == adapter.CodeUnavailable:
		detail = "the engine is stopping; retry on another replica or later"
		w.Header().Set("Retry-After", "1")
	}
	writeProblemSaying(w, code, detail, reason)
}

// detailStoreUnavailable is the detail of a 503 for a store outage: the
// cause names the database's address and files, for the server log.
const detailStoreUnavailable = "the database cannot be reached or written now; retry after Retry-After seconds"

// retryStoreUnavailable is the Retry-After of a store outage, in seconds.
const retryStoreUnavailable = 5

// writeProblem writes the problem document of code.
func writeProblem(w http.ResponseWriter, code, detail string) {
	writeProblemSaying(w, code, detail, "")
}

// writeProblemSaying is writeProblem with a reason for agents.
func writeProblemSaying(w http.ResponseWriter, code, detail, reason string) {
	status := statusOf[code]
	p := Problem{Type: "urn:ctibridge:problem:" + code, Title: http.StatusText(status), Status: status, Detail: detail, Code: code, Reason: reason}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

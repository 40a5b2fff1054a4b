package sim

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Faults injects the failures a real org produces, so that clients can be
// tested against them. Its methods are safe for concurrent use, also while
// the org is serving requests. Server errors, limit errors and latency apply
// to API calls under /services/data/vXX.X/; the token endpoint is never faulted.
type Faults struct {
	mu            sync.Mutex
	serverErrors  int
	serverStatus  int
	limitExceeded int
	latency       time.Duration
	sessionEpoch  int
	locks         map[string]int // id -> failures left; negative: until UnlockRows
	deleted       map[string]bool
	required      map[string]bool // "object.field", lower case
	rules         map[string][]validationRule
}

type validationRule struct {
	field   string
	message string
	fails   func(record map[string]any) bool
}

// FailNext makes the next n API calls fail with the given 5xx status before
// they reach any resource, and without counting against the daily limit.
// 500 answers UNKNOWN_EXCEPTION and 503 SERVER_UNAVAILABLE in Salesforce's
// JSON error shape; any other status answers an HTML page, as a load balancer
// in front of an org does.
func (f *Faults) FailNext(n, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.serverErrors, f.serverStatus = n, status
}

// ExceedLimit makes the next n API calls fail with 403 REQUEST_LIMIT_EXCEEDED,
// as when the org's daily API request limit is used up.
func (f *Faults) ExceedLimit(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limitExceeded = n
}

// SetLatency delays every API call by d (0 removes the delay). The delay ends
// early if the client gives up on the request.
func (f *Faults) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// ExpireSessions invalidates every access token issued so far: their next
// use gets 401 INVALID_SESSION_ID, and clients must authenticate again.
func (f *Faults) ExpireSessions() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessionEpoch++
}

// LockRows makes the next times writes (update, upsert or delete) of each
// record fail with UNABLE_TO_LOCK_ROW, as when another transaction holds the
// row. times <= 0 keeps the rows locked until UnlockRows.
func (f *Faults) LockRows(times int, ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.locks == nil {
		f.locks = map[string]int{}
	}
	if times <= 0 {
		times = -1
	}
	for _, id := range ids {
		if full, ok := normalizeID(id); ok {
			f.locks[full] = times
		}
	}
}

// UnlockRows ends LockRows for the given records.
func (f *Faults) UnlockRows(ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		if full, ok := normalizeID(id); ok {
			delete(f.locks, full)
		}
	}
}

// MarkDeleted makes the given records behave as if someone had deleted them
// in the org: reads and writes get ENTITY_IS_DELETED. Queries still see them.
func (f *Faults) MarkDeleted(ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleted == nil {
		f.deleted = map[string]bool{}
	}
	for _, id := range ids {
		if full, ok := normalizeID(id); ok {
			f.deleted[full] = true
		}
	}
}

// Require makes a field of an object required, as a page layout or a
// required custom field does: creating a record without it, or clearing
// it, fails with REQUIRED_FIELD_MISSING.
func (f *Faults) Require(sobject, field string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.required == nil {
		f.required = map[string]bool{}
	}
	f.required[strings.ToLower(sobject+"."+field)] = true
}

// AddValidationRule adds a validation rule to an object: a save for which
// fails returns true is refused with FIELD_CUSTOM_VALIDATION_EXCEPTION,
// message, and field as the error's field. fails sees the record as it would
// be saved, with field names as in the schema and values in their JSON form;
// it runs while the org is locked, so it must not call the Org.
func (f *Faults) AddValidationRule(sobject, field, message string, fails func(record map[string]any) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rules == nil {
		f.rules = map[string][]validationRule{}
	}
	key := strings.ToLower(sobject)
	f.rules[key] = append(f.rules[key], validationRule{field: field, message: message, fails: fails})
}

// Reset removes every fault. Sessions expired by ExpireSessions stay expired.
func (f *Faults) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.serverErrors, f.serverStatus, f.limitExceeded, f.latency = 0, 0, 0, 0
	f.locks, f.deleted, f.required, f.rules = nil, nil, nil, nil
}

func (f *Faults) currentLatency() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.latency
}

func (f *Faults) epoch() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessionEpoch
}

// takeCallFault consumes one injected call failure, if any is pending.
func (f *Faults) takeCallFault() (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limitExceeded > 0 {
		f.limitExceeded--
		return http.StatusForbidden, true
	}
	if f.serverErrors > 0 {
		f.serverErrors--
		return f.serverStatus, true
	}
	return 0, false
}

func (f *Faults) takeLock(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.locks[id]
	if !ok {
		return false
	}
	if n > 0 {
		if n == 1 {
			delete(f.locks, id)
		} else {
			f.locks[id] = n - 1
		}
	}
	return true
}

func (f *Faults) isDeleted(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deleted[id]
}

func (f *Faults) isRequired(sobject, field string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.required[strings.ToLower(sobject+"."+field)]
}

func (f *Faults) validate(sobject string, record map[string]any) *dmlError {
	f.mu.Lock()
	rules := append([]validationRule(nil), f.rules[strings.ToLower(sobject)]...)
	f.mu.Unlock()
	for _, r := range rules {
		if r.fails(record) {
			return &dmlError{code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", msg: r.message, fields: []string{r.field}}
		}
	}
	return nil
}

// serverErrorBody is what an injected 5xx answers.
func serverErrorBody(status int) (contentType string, body []byte) {
	switch status {
	case http.StatusInternalServerError:
		return "application/json;charset=UTF-8", []byte(`[{"message":"An unexpected error occurred. Please include this ` +
			`ErrorId if you contact support: 1984726351-41207 (-1502339745)","errorCode":"UNKNOWN_EXCEPTION"}]`)
	case http.StatusServiceUnavailable:
		return "application/json;charset=UTF-8", []byte(`[{"message":"Server temporarily unavailable, please try ` +
			`again later","errorCode":"SERVER_UNAVAILABLE"}]`)
	}
	text := http.StatusText(status)
	return "text/html;charset=UTF-8", []byte(fmt.Sprintf("<html><head><title>%d %s</title></head><body><h1>%d %s</h1></body></html>",
		status, text, status, text))
}

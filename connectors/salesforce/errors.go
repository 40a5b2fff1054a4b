package salesforce

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/simpleforce/simpleforce"
)

// Action is what to do about a failed Salesforce call or record write.
type Action int

// The actions of Classify.
const (
	// Retry later: the org is busy, limited, or unreachable for now.
	Retry Action = iota
	// Reauthenticate once, then retry: the session expired.
	Reauthenticate
	// Park: Salesforce refused the write for good; an admin must look.
	Park
)

// APIError is an error Salesforce returned, with its errorCode kept.
type APIError struct {
	Status  int
	Code    string
	Message string
}

// ErrorCode is the errorCode, for the writeback's row of a write that is
// tried again (UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED...).
func (e *APIError) ErrorCode() string { return e.Code }

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("salesforce: HTTP %d", e.Status)
	}
	return fmt.Sprintf("salesforce: %s: %s", e.Code, e.Message)
}

// MismatchError: the org lacks what the config needs (an object or a
// field a mapping names, an active User for an agent). No retry fixes it:
// an admin changes the org or the config.
type MismatchError struct{ Err error }

func (e *MismatchError) Error() string { return e.Err.Error() }
func (e *MismatchError) Unwrap() error { return e.Err }

// parkCodes are the errorCodes that no retry can fix.
var parkCodes = map[string]bool{
	"ENTITY_IS_DELETED":               true,
	"NOT_FOUND":                       true,
	"INVALID_FIELD":                   true,
	"INVALID_FIELD_FOR_INSERT_UPDATE": true,
	"INVALID_TYPE":                    true,
	"INVALID_ID_FIELD":                true,
	"INVALID_CROSS_REFERENCE_KEY":     true,
	// The org's data-integrity check: e.g. an AgentWork for a
	// PendingServiceRouting already pushed to an agent.
	"FIELD_INTEGRITY_EXCEPTION":                     true,
	"MALFORMED_ID":                                  true,
	"FIELD_CUSTOM_VALIDATION_EXCEPTION":             true,
	"REQUIRED_FIELD_MISSING":                        true,
	"STRING_TOO_LONG":                               true,
	"INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST":       true,
	"DUPLICATE_VALUE":                               true,
	"INSUFFICIENT_ACCESS_OR_READONLY":               true,
	"INVALID_TYPE_FOR_OPERATION":                    true,
	"INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": true,
	"CANNOT_UPDATE_CONVERTED_LEAD":                  true,
	"JSON_PARSER_ERROR":                             true,
	"MALFORMED_QUERY":                               true,
}

// Classify says what to do about err, in one place for the whole
// connector: an expired session is re-authenticated; the errors no retry can
// fix (a deleted record, an unknown field, a validation rule) are parked;
// everything else (UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED, 5xx, network
// errors) is retried later.
func Classify(err error) Action {
	var api *APIError
	if !errors.As(err, &api) {
		return Retry
	}
	switch {
	case api.Code == "INVALID_SESSION_ID" || api.Status == http.StatusUnauthorized:
		return Reauthenticate
	case parkCodes[api.Code]:
		return Park
	}
	return Retry
}

// unanswered is err if it says the org did not answer a call (a network
// error, a 5xx, its rate limit, a session it would not renew), else nil:
// an answer about a record or the request is an answer.
func unanswered(err error) error {
	var api *APIError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &api), api.Status >= 500, api.Status == http.StatusTooManyRequests,
		api.Code == "REQUEST_LIMIT_EXCEEDED", Classify(err) == Reauthenticate:
		return err
	}
	return nil
}

// asAPIError turns simpleforce's error into an APIError, keeping the
// errorCode; other errors pass through.
func asAPIError(err error) error {
	var sf simpleforce.SalesforceError
	if errors.As(err, &sf) {
		return &APIError{Status: sf.HttpCode, Code: sf.ErrorCode, Message: sf.ErrorMessage}
	}
	return err
}

// rowError is the adapter error for a row whose write failed with err.
func rowError(err error) error {
	var api *APIError
	if Classify(err) == Park && errors.As(err, &api) {
		return &adapter.ParkError{Code: api.Code, Message: api.Message, Gone: api.Code == "ENTITY_IS_DELETED"}
	}
	return err
}

package adapter

import (
	"errors"
	"fmt"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// Sentinel errors. The HTTP layer maps every error to a stable API code with Code.
var (
	// ErrNotFound: no interaction, transfer, consult, agent or service has the ID.
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the acting agent is not the one the action belongs to.
	ErrForbidden = errors.New("forbidden")
	// ErrDueByRequired: defer without due_by, and no deferral rule computes one.
	ErrDueByRequired = errors.New("due_by is required to defer (no deferral rule matches this interaction)")
	// ErrConfirmRequired: abandon without explicit confirmation.
	ErrConfirmRequired = errors.New("abandon needs confirm: true; abandon is only for when release did not work")
	// ErrStopped: the engine is not running.
	ErrStopped = errors.New("engine stopped")
)

// ActionNotAllowedError: the capability matrix forbids the action for the media type.
type ActionNotAllowedError struct {
	Action contactpad.Action
	Media  contactpad.Media
}

func (e *ActionNotAllowedError) Error() string {
	return fmt.Sprintf("action %s is not allowed for %s interactions", e.Action, e.Media)
}

// TransitionError: the action cannot be taken from the interaction's (or
// transfer's, or consult's) current state.
type TransitionError struct {
	// Object is what was acted on: interaction, transfer or consult.
	Object string
	ID     string
	Action string
	State  string
	// Reason says why, when the state alone does not.
	Reason string
}

func (e *TransitionError) Error() string {
	msg := fmt.Sprintf("cannot %s %s %s in state %s", e.Action, e.Object, e.ID, e.State)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// DueByInPastError: the requested due date is not strictly in the future.
type DueByInPastError struct {
	DueBy, Now time.Time
}

func (e *DueByInPastError) Error() string {
	return fmt.Sprintf("due_by %s is not in the future (now is %s)",
		e.DueBy.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339))
}

// DueByOutOfRangeError: the requested due date is later than the stores
// can hold (MaxTime).
type DueByOutOfRangeError struct {
	DueBy time.Time
}

func (e *DueByOutOfRangeError) Error() string {
	return fmt.Sprintf("due_by %s is out of range: want a time after now and at most %s",
		e.DueBy.UTC().Format(time.RFC3339), MaxTime.Truncate(time.Second).Format(time.RFC3339))
}

// TargetUnavailableError: a consult target is neither available nor interruptible.
type TargetUnavailableError struct {
	Target   contactpad.Target
	Presence contactpad.Presence
}

func (e *TargetUnavailableError) Error() string {
	return fmt.Sprintf("consult target %s is %s; it must be available or interruptible", e.Target, e.Presence)
}

// ConflictError: the action is valid but something else stands in its way
// (a pending transfer, no capacity left, no wrap-up extension left).
// Say, when set, is the reason in a sentence for people (Explain).
type ConflictError struct{ Reason, Say string }

func (e *ConflictError) Error() string { return e.Reason }

// PresenceFollowsCRMError: the agents' presence follows the CRM
// (Settings.PresenceSource), so an agent cannot set it in ctibridge.
type PresenceFollowsCRMError struct{ Source, CRMName string }

func (e *PresenceFollowsCRMError) Error() string {
	return fmt.Sprintf("presence follows %s in %s: change it there", e.Source, e.CRMName)
}

// InvalidError: a command field is missing or malformed.
type InvalidError struct{ Field, Reason string }

func (e *InvalidError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// The stable error codes of the API.
const (
	CodeNotFound          = "not_found"
	CodeForbidden         = "forbidden"
	CodeInvalidRequest    = "invalid_request"
	CodeActionNotAllowed  = "action_not_allowed"
	CodeInvalidTransition = "invalid_transition"
	CodeDueByRequired     = "due_by_required"
	CodeDueByInPast       = "due_by_in_past"
	CodeDueByOutOfRange   = "due_by_out_of_range"
	CodeTargetUnavailable = "target_unavailable"
	CodeConflict          = "conflict"
	// CodePresenceFollowsCRM: the agents' presence follows the CRM's
	// (Omni-Channel), so it is not set in ctibridge.
	CodePresenceFollowsCRM = "presence_follows_crm"
	// CodeUnavailable: the store cannot serve now (ErrStoreUnavailable);
	// retry shortly.
	CodeUnavailable = "unavailable"
	CodeInternal    = "internal"
)

// Code returns the API error code of err.
func Code(err error) string {
	var (
		notAllowed  *ActionNotAllowedError
		transition  *TransitionError
		inPast      *DueByInPastError
		outOfRange  *DueByOutOfRangeError
		unavailable *TargetUnavailableError
		conflict    *ConflictError
		invalid     *InvalidError
		followsCRM  *PresenceFollowsCRMError
	)
	switch {
	case errors.Is(err, ErrNotFound):
		return CodeNotFound
	case errors.Is(err, ErrForbidden):
		return CodeForbidden
	case errors.Is(err, ErrDueByRequired):
		return CodeDueByRequired
	case errors.Is(err, ErrConfirmRequired), errors.As(err, &invalid):
		return CodeInvalidRequest
	case errors.As(err, &notAllowed):
		return CodeActionNotAllowed
	case errors.As(err, &transition):
		return CodeInvalidTransition
	case errors.As(err, &inPast):
		return CodeDueByInPast
	case errors.As(err, &outOfRange):
		return CodeDueByOutOfRange
	case errors.As(err, &unavailable):
		return CodeTargetUnavailable
	case errors.As(err, &conflict):
		return CodeConflict
	case errors.As(err, &followsCRM):
		return CodePresenceFollowsCRM
	case errors.Is(err, ErrStoreUnavailable):
		return CodeUnavailable
	}
	return CodeInternal
}

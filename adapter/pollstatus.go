package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// PollStatus is how the polling of a CRM source goes, as every replica
// sharing the store sees it: who holds its poll lease, when a poll last
// succeeded, and the last failure. The replica that polls writes it after
// each poll; a standby replica reads it to report the same as the poller.
type PollStatus struct {
	Source string `json:"source"`
	// Holder is the replica that holds the poll lease ("" none), until
	// LeaseUntil.
	Holder     string     `json:"holder"`
	LeaseUntil *time.Time `json:"lease_until"`
	// LastSuccess is when the last poll that succeeded started: the
	// bridge knows every change the CRM made before it.
	LastSuccess *time.Time `json:"last_success"`
	// LastError is why the polls since LastSuccess failed, if they did
	// (never a request or a credential), the last at LastErrorAt.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// Lag is how far behind the CRM the bridge may be at now: the time since
// the start of the last successful poll; 0 when none succeeded yet.
func (p PollStatus) Lag(now time.Time) time.Duration {
	if p.LastSuccess == nil {
		return 0
	}
	return now.Sub(*p.LastSuccess)
}

// pollRecord is what the poller stores of a source's polls.
type pollRecord struct {
	OK      *time.Time `json:"ok,omitempty"`
	Error   string     `json:"error,omitempty"`
	ErrorAt *time.Time `json:"error_at,omitempty"`
}

// maxPollError bounds the stored reason of a failed poll.
const maxPollError = 500

func pollStatusKey(source string) string { return "poll-status:" + source }
func pollLeaseKey(source string) string  { return "poll-lease:" + source }

// recordPoll stores how a poll of source that started at start went.
func (e *Engine) recordPoll(ctx context.Context, source string, start time.Time, pollErr error) error {
	return UpdateOne(ctx, e.store, func(tx Tx) error {
		var rec pollRecord
		if value, err := tx.Watermark(pollStatusKey(source)); err != nil {
			return err
		} else if value != "" {
			_ = json.Unmarshal([]byte(value), &rec) // unreadable: start again
		}
		if pollErr == nil {
			at := start.UTC()
			rec = pollRecord{OK: &at} // a failure before it is over
		} else {
			at := e.now().UTC()
			msg := pollErr.Error()
			if len(msg) > maxPollError {
				msg = msg[:maxPollError] + "..."
			}
			rec.Error, rec.ErrorAt = msg, &at
		}
		value, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return tx.SetWatermark(pollStatusKey(source), string(value))
	})
}

// PollStatus reads how the polling of each source goes.
func (e *Engine) PollStatus(ctx context.Context, sources []string) ([]PollStatus, error) {
	out := make([]PollStatus, 0, len(sources))
	err := e.store.View(ctx, func(tx Tx) error {
		for _, source := range sources {
			st := PollStatus{Source: source}
			lease, err := tx.Watermark(pollLeaseKey(source))
			if err != nil {
				return err
			}
			if holder, until := parseLease(lease); holder != "" {
				st.Holder, st.LeaseUntil = holder, &until
			}
			value, err := tx.Watermark(pollStatusKey(source))
			if err != nil {
				return err
			}
			if value != "" {
				var rec pollRecord
				if err := json.Unmarshal([]byte(value), &rec); err != nil {
					return fmt.Errorf("poll status of %s: %w", source, err)
				}
				st.LastSuccess, st.LastError, st.LastErrorAt = rec.OK, rec.Error, rec.ErrorAt
			}
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

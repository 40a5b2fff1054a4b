package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// The defaults of RetentionOptions. Events are what streams and webhooks
// replay after an outage: a week covers a long weekend's. The audit trail
// is what the panel's History shows of an interaction that is over (the
// CRM keeps its own copy as Tasks): kept three months.
const (
	DefaultEventRetention    = 7 * 24 * time.Hour
	DefaultAuditRetention    = 90 * 24 * time.Hour
	DefaultRetentionInterval = 10 * time.Minute
	DefaultRetentionBatch    = 1000
)

// RetentionOptions say how long the store keeps its events and audit
// trail, and how the pruning goes.
type RetentionOptions struct {
	// Events and Audit are how long an event and an audit entry are kept
	// after their time; 0 keeps them for ever. The audit trail of an
	// interaction that is not over is kept whatever its age.
	Events, Audit time.Duration
	// Interval is how often the store is pruned (default
	// DefaultRetentionInterval).
	Interval time.Duration
	// Batch is how many rows one transaction deletes (default
	// DefaultRetentionBatch), so that the engine's commits, which wait for
	// it, never wait long.
	Batch int
	// Lease is how long a replica that stopped pruning keeps the pruning
	// lease (default three intervals).
	Lease time.Duration
}

func (o RetentionOptions) withDefaults() RetentionOptions {
	if o.Interval <= 0 {
		o.Interval = DefaultRetentionInterval
	}
	if o.Batch <= 0 {
		o.Batch = DefaultRetentionBatch
	}
	if o.Lease <= 0 {
		o.Lease = 3 * o.Interval
	}
	return o
}

// Pruned is what one PruneOnce deleted.
type Pruned struct {
	Events, Audit int
	// Sessions are the panel sessions deleted once expired.
	Sessions int
	// EventsThrough is the Seq up to which every event is gone (0: none
	// ever was), as EventsPrunedThrough reads it afterwards.
	EventsThrough int64
}

// The watermarks of retention: the pruning lease, the Seq through which
// the events are pruned, and how the last round went.
const (
	retentionLeaseKey  = "retention-lease"
	eventsPrunedKey    = "events-pruned-through"
	retentionStatusKey = "retention-status"
)

// RetentionStatus is how the pruning goes, as every replica sharing the
// store sees it.
type RetentionStatus struct {
	// Holder is the replica that prunes (holds the pruning lease; ""
	// none), until LeaseUntil.
	Holder     string     `json:"holder"`
	LeaseUntil *time.Time `json:"lease_until"`
	// LastRunAt is when the last round of pruning started; LastError
	// why it failed, if it did.
	LastRunAt *time.Time `json:"last_run_at"`
	LastError string     `json:"last_error,omitempty"`
	// EventsPrunedThrough is the Seq up to which the events are pruned
	// (EventsPrunedThrough; 0: none ever was).
	EventsPrunedThrough int64 `json:"events_pruned_through"`
}

// retentionRecord is what the pruner stores of its last round.
type retentionRecord struct {
	At    time.Time `json:"at"`
	Error string    `json:"error,omitempty"`
}

// RetentionStatus reads how the pruning goes from the store.
func (e *Engine) RetentionStatus(ctx context.Context) (RetentionStatus, error) {
	var st RetentionStatus
	err := e.store.View(ctx, func(tx Tx) error {
		lease, err := tx.Watermark(retentionLeaseKey)
		if err != nil {
			return err
		}
		if holder, until := parseLease(lease); holder != "" {
			st.Holder, st.LeaseUntil = holder, &until
		}
		if value, err := tx.Watermark(retentionStatusKey); err != nil {
			return err
		} else if value != "" {
			var rec retentionRecord
			if err := json.Unmarshal([]byte(value), &rec); err != nil {
				return fmt.Errorf("watermark %s: %w", retentionStatusKey, err)
			}
			st.LastRunAt, st.LastError = &rec.At, rec.Error
		}
		st.EventsPrunedThrough, err = EventsPrunedThrough(tx)
		return err
	})
	return st, err
}

// recordRetention stores how the round that started at start went.
func (e *Engine) recordRetention(ctx context.Context, start time.Time, pruneErr error) error {
	rec := retentionRecord{At: start.UTC()}
	if pruneErr != nil {
		rec.Error = pruneErr.Error()
		if len(rec.Error) > maxPollError {
			rec.Error = rec.Error[:maxPollError] + "..."
		}
	}
	value, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return UpdateOne(ctx, e.store, func(tx Tx) error { return tx.SetWatermark(retentionStatusKey, string(value)) })
}

// EventsPrunedThrough returns the Seq up to which the events are pruned:
// a reader whose cursor is below it has missed events it cannot read
// any more (the event streams and webhooks send it a reset). 0 when no
// event was ever pruned.
func EventsPrunedThrough(tx Tx) (int64, error) {
	value, err := tx.Watermark(eventsPrunedKey)
	if err != nil || value == "" {
		return 0, err
	}
	seq, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("watermark %s: %q is not an event seq", eventsPrunedKey, value)
	}
	return seq, nil
}

// RunRetention prunes the events and the audit trail past their
// retention every Interval (the first time at once), until ctx is done.
// Of several replicas sharing the store, the holder of the pruning lease
// prunes; the others stand by. It returns at once when both are kept for
// ever.
func (e *Engine) RunRetention(ctx context.Context, opts RetentionOptions) {
	opts = opts.withDefaults()
	if opts.Events <= 0 && opts.Audit <= 0 {
		return
	}
	lease := NewLease(e.store, retentionLeaseKey, e.holder, opts.Lease)
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := lease.Release(ctx); err != nil {
			WarnFailed(e.log, err, "hand back pruning lease")
		}
	}()
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for {
		held, err := lease.Acquire(ctx, e.now())
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			WarnFailed(e.log, err, "take pruning lease")
		}
		if held {
			start := e.now()
			pruned, err := e.PruneOnce(ctx, opts)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				WarnFailed(e.log, err, "prune store")
			}
			if err := e.recordRetention(ctx, start, err); err != nil && ctx.Err() == nil {
				WarnFailed(e.log, err, "record the pruning's outcome")
			}
			if pruned.Events > 0 || pruned.Audit > 0 {
				e.log.WithField("events", pruned.Events).WithField("audit", pruned.Audit).
					WithField("events_through", pruned.EventsThrough).Info("pruned events and audit entries past retention")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// PruneOnce deletes the events and audit entries older than their
// retention at the engine's now, opts.Batch rows a transaction, until
// none is left or ctx is done. It records how far the events are pruned
// (EventsPrunedThrough) in the transaction that prunes them.
func (e *Engine) PruneOnce(ctx context.Context, opts RetentionOptions) (Pruned, error) {
	opts = opts.withDefaults()
	now := e.now()
	var pruned Pruned
	if opts.Events > 0 {
		before := now.Add(-opts.Events)
		for ctx.Err() == nil {
			var n int
			err := UpdateOne(ctx, e.store, func(tx Tx) error {
				var through int64
				var err error
				if n, through, err = tx.PruneEvents(before, opts.Batch); err != nil || n == 0 {
					return err
				}
				// Replicas may prune at once (a lease outlived): it only moves on.
				if stored, err := EventsPrunedThrough(tx); err != nil || stored >= through {
					return err
				}
				pruned.EventsThrough = through
				return tx.SetWatermark(eventsPrunedKey, strconv.FormatInt(through, 10))
			})
			if err != nil {
				return pruned, fmt.Errorf("prune events before %s: %w", before.Format(time.RFC3339), err)
			}
			pruned.Events += n
			e.metrics.pruned("events", n)
			if n < opts.Batch {
				break
			}
		}
	}
	if opts.Audit > 0 {
		before := now.Add(-opts.Audit)
		for ctx.Err() == nil {
			var n int
			err := UpdateOne(ctx, e.store, func(tx Tx) (err error) {
				n, err = tx.PruneAudit(before, opts.Batch)
				return err
			})
			if err != nil {
				return pruned, fmt.Errorf("prune audit before %s: %w", before.Format(time.RFC3339), err)
			}
			pruned.Audit += n
			e.metrics.pruned("audit", n)
			if n < opts.Batch {
				break
			}
		}
	}
	// An expired session signs nobody in: it goes at once, whatever the
	// retention of the rest.
	for ctx.Err() == nil {
		var n int
		err := UpdateOne(ctx, e.store, func(tx Tx) (err error) {
			n, err = tx.PruneSessions(now, opts.Batch)
			return err
		})
		if err != nil {
			return pruned, fmt.Errorf("prune sessions expired before %s: %w", now.Format(time.RFC3339), err)
		}
		pruned.Sessions += n
		e.metrics.pruned("sessions", n)
		if n < opts.Batch {
			break
		}
	}
	return pruned, ctx.Err()
}

// ResetType is the type of the event a reader gets instead of the events
// it missed when they can no longer be replayed.
const ResetType = "stream.reset"

// Reset is the data of a stream.reset event: the events after the
// reader's cursor cannot be replayed (they are pruned, or too many), so
// it goes on after LastEventID, the newest event, and must reload what it
// keeps of the bridge's state rather than trust its copy.
type Reset struct {
	// Type is ResetType.
	Type string `json:"type"`
	// Reason is "pruned" (events after the cursor are past their
	// retention) or "max_replay" (the cursor is further behind than a
	// stream replays).
	Reason string `json:"reason"`
	// Oldest is the oldest cursor that would have been replayed.
	Oldest int64 `json:"oldest"`
	// LastEventID is the id of the newest event: the reader goes on
	// after it.
	LastEventID int64 `json:"last_event_id"`
}

// The reasons of a Reset.
const (
	ResetPruned    = "pruned"
	ResetMaxReplay = "max_replay"
)

// ResetAt tells whether a reader that has read the events up to cursor,
// and replays at most maxReplay events (<= 0: as many as are kept), must
// be reset, in tx's snapshot, and returns the Reset if so.
func ResetAt(tx Tx, cursor, maxReplay int64) (Reset, bool, error) {
	last, err := tx.LastEventSeq()
	if err != nil {
		return Reset{}, false, err
	}
	pruned, err := EventsPrunedThrough(tx)
	if err != nil {
		return Reset{}, false, err
	}
	r := Reset{Type: ResetType, Reason: ResetPruned, Oldest: pruned, LastEventID: last}
	if maxReplay > 0 && last-maxReplay > r.Oldest {
		r.Reason, r.Oldest = ResetMaxReplay, last-maxReplay
	}
	return r, cursor < r.Oldest, nil
}

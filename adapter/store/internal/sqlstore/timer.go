package sqlstore

import (
	"fmt"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
)

// SetTimer arms t; a timer needs a due time.
func (t *Tx) SetTimer(tm adapter.Timer) error {
	var e encoder
	due := e.time("due_at", tm.DueAt)
	if e.err == nil && due == nil {
		e.err = fmt.Errorf("due_at is not set")
	}
	if e.err != nil {
		return fmt.Errorf("set timer %s %s: %w", tm.Kind, tm.Ref, e.err)
	}
	return t.write(StmtSetTimer, string(tm.Kind), tm.Ref, due)
}

func (t *Tx) ClearTimer(kind adapter.TimerKind, ref string) error {
	return t.write(StmtClearTimer, string(kind), ref)
}

// TakeTimer deletes the timer's row in the firing transaction: the row is
// the claim. Another writer taking the same timer waits for the store's
// write lock and then finds the row gone; one that dies before its commit
// leaves the row for the others.
func (t *Tx) TakeTimer(tm adapter.Timer) (bool, error) {
	n, err := t.exec(StmtTakeTimer, string(tm.Kind), tm.Ref, boundTime(tm.DueAt))
	if err != nil {
		return false, fmt.Errorf("take timer %s %s: %w", tm.Kind, tm.Ref, err)
	}
	return n > 0, nil
}

func (t *Tx) DueTimers(now time.Time, limit int) ([]adapter.Timer, error) {
	rows, err := t.query(StmtDueTimers, boundTime(now), t.limit(limit))
	if err != nil {
		return nil, fmt.Errorf("list due timers: %w", err)
	}
	timers, err := scanAll(rows, scanTimer)
	if err != nil {
		return nil, fmt.Errorf("list due timers: %w", err)
	}
	return timers, nil
}

func (t *Tx) NextTimer() (due time.Time, ok bool, err error) {
	var next any
	if err := t.queryRow(StmtNextTimer).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next timer: %w", err)
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	var d decoder
	due = d.time("due_at", next)
	if d.err != nil {
		return time.Time{}, false, fmt.Errorf("next timer: %w", d.err)
	}
	return due, true, nil
}

// scanTimer reads kind, ref and due_at.
func scanTimer(sc scanner) (adapter.Timer, error) {
	var (
		tm   adapter.Timer
		kind string
		due  any
	)
	if err := sc.Scan(&kind, &tm.Ref, &due); err != nil {
		return tm, err
	}
	var d decoder
	tm.Kind = adapter.TimerKind(kind)
	tm.DueAt = d.time("due_at", due)
	if d.err != nil {
		return tm, fmt.Errorf("timer %s %s: %w", kind, tm.Ref, d.err)
	}
	return tm, nil
}

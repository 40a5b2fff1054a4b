package postgres

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctibridge/ctibridge/adapter"
)

// SetTimer arms t; a timer needs a due time.
func (t *tx) SetTimer(tm adapter.Timer) error {
	var e encoder
	due := e.time("due_at", tm.DueAt)
	if e.err == nil && due == nil {
		e.err = fmt.Errorf("due_at is not set")
	}
	if e.err != nil {
		return fmt.Errorf("set timer %s %s: %w", tm.Kind, tm.Ref, e.err)
	}
	if _, err := t.exec(sqlSetTimer, string(tm.Kind), tm.Ref, due); err != nil {
		return fmt.Errorf("set timer %s %s: %w", tm.Kind, tm.Ref, err)
	}
	return nil
}

func (t *tx) ClearTimer(kind adapter.TimerKind, ref string) error {
	if _, err := t.exec(sqlClearTimer, string(kind), ref); err != nil {
		return fmt.Errorf("clear timer %s %s: %w", kind, ref, err)
	}
	return nil
}

// TakeTimer deletes the timer's row in the firing transaction: the row is
// the claim. Another replica taking the same timer waits for the store's
// write lock and then finds the row gone; a replica that dies before its
// commit leaves the row for the others.
func (t *tx) TakeTimer(tm adapter.Timer) (bool, error) {
	tag, err := t.exec(sqlTakeTimer, string(tm.Kind), tm.Ref, boundTime(tm.DueAt))
	if err != nil {
		return false, fmt.Errorf("take timer %s %s: %w", tm.Kind, tm.Ref, err)
	}
	return tag.RowsAffected() > 0, nil
}

func (t *tx) DueTimers(now time.Time, limit int) ([]adapter.Timer, error) {
	rows, err := t.query(sqlDueTimers, boundTime(now), sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list due timers: %w", err)
	}
	timers, err := scanAll(rows, scanTimer)
	if err != nil {
		return nil, fmt.Errorf("list due timers: %w", err)
	}
	return timers, nil
}

func (t *tx) NextTimer() (due time.Time, ok bool, err error) {
	var next *int64
	if err := t.queryRow(sqlNextTimer).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next timer: %w", err)
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	return timeOf(next), true, nil
}

// scanTimer reads kind, ref and due_at.
func scanTimer(sc pgx.Row) (adapter.Timer, error) {
	var (
		tm   adapter.Timer
		kind string
		due  int64
	)
	if err := sc.Scan(&kind, &tm.Ref, &due); err != nil {
		return tm, err
	}
	tm.Kind = adapter.TimerKind(kind)
	tm.DueAt = time.Unix(0, due).UTC()
	return tm, nil
}

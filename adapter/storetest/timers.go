package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
)

// setTimers arms timers in one Update.
func setTimers(t *testing.T, s adapter.Store, timers ...adapter.Timer) {
	t.Helper()
	var fns []func(adapter.Tx) error
	for _, tm := range timers {
		fns = append(fns, func(tx adapter.Tx) error { return tx.SetTimer(tm) })
	}
	update(t, s, fns...)
}

// armed lists every armed timer, earliest first.
func armed(t *testing.T, s adapter.Store) []adapter.Timer {
	t.Helper()
	var got []adapter.Timer
	view(t, s, func(tx adapter.Tx) (err error) {
		got, err = tx.DueTimers(at(1000*time.Hour), 1000)
		return err
	})
	return got
}

var (
	offerI1    = adapter.Timer{Kind: adapter.TimerOfferTimeout, Ref: "i1", DueAt: at(5 * time.Minute)}
	wrapUpI2   = adapter.Timer{Kind: adapter.TimerWrapUpEnd, Ref: "i2", DueAt: at(time.Minute)}
	dueDateI3  = adapter.Timer{Kind: adapter.TimerDueDate, Ref: "i3", DueAt: at(10 * time.Minute)}
	inactiveI1 = adapter.Timer{Kind: adapter.TimerInactivity, Ref: "i1", DueAt: at(time.Minute)}
	inactiveI0 = adapter.Timer{Kind: adapter.TimerInactivity, Ref: "i0", DueAt: at(time.Minute)}
)

func testDueTimers(t *testing.T, s adapter.Store) {
	zoned := dueDateI3
	zoned.Ref = "i4"
	zoned.DueAt = dueDateI3.DueAt.Add(time.Nanosecond).In(cet)
	setTimers(t, s, offerI1, wrapUpI2, dueDateI3, inactiveI1, inactiveI0, zoned)
	zoned.DueAt = zoned.DueAt.UTC()

	tests := []struct {
		name  string
		now   time.Time
		limit int
		want  []adapter.Timer
	}{
		{name: "none due", now: at(time.Minute - time.Nanosecond), limit: 10, want: []adapter.Timer{}},
		{name: "due exactly now, ties by kind then ref", now: at(time.Minute), limit: 10,
			want: []adapter.Timer{inactiveI0, inactiveI1, wrapUpI2}},
		{name: "earliest first", now: at(time.Hour), limit: 10,
			want: []adapter.Timer{inactiveI0, inactiveI1, wrapUpI2, offerI1, dueDateI3, zoned}},
		{name: "at most limit", now: at(time.Hour), limit: 2,
			want: []adapter.Timer{inactiveI0, inactiveI1}},
		{name: "nanosecond precision", now: dueDateI3.DueAt, limit: 10,
			want: []adapter.Timer{inactiveI0, inactiveI1, wrapUpI2, offerI1, dueDateI3}},
		{name: "now in another zone", now: at(5 * time.Minute).In(cet), limit: 10,
			want: []adapter.Timer{inactiveI0, inactiveI1, wrapUpI2, offerI1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.DueTimers(tt.now, tt.limit)
				require.NoError(t, err)
				equalList(t, tt.want, got)
				return nil
			})
		})
	}
}

func testSetTimerReplaces(t *testing.T, s adapter.Store) {
	setTimers(t, s, offerI1, inactiveI1)
	rearmed := offerI1
	rearmed.DueAt = at(30 * time.Second)
	setTimers(t, s, rearmed)
	require.Equal(t, []adapter.Timer{rearmed, inactiveI1}, armed(t, s),
		"one timer per kind and ref; a timer of another kind with the same ref stays")
}

func testTakeTimer(t *testing.T, s adapter.Store) {
	setTimers(t, s, offerI1, wrapUpI2)
	rearmed := wrapUpI2
	rearmed.DueAt = at(2 * time.Minute)
	setTimers(t, s, rearmed)

	steps := []struct {
		name      string
		take      adapter.Timer
		wantTaken bool
		wantArmed []adapter.Timer
	}{
		{name: "re-armed since it was read: not taken", take: wrapUpI2, wantTaken: false,
			wantArmed: []adapter.Timer{rearmed, offerI1}},
		{name: "due time off by a nanosecond: not taken",
			take:      adapter.Timer{Kind: offerI1.Kind, Ref: offerI1.Ref, DueAt: offerI1.DueAt.Add(time.Nanosecond)},
			wantTaken: false, wantArmed: []adapter.Timer{rearmed, offerI1}},
		{name: "other kind, same ref: not taken",
			take:      adapter.Timer{Kind: adapter.TimerInactivity, Ref: offerI1.Ref, DueAt: offerI1.DueAt},
			wantTaken: false, wantArmed: []adapter.Timer{rearmed, offerI1}},
		{name: "as armed: taken", take: rearmed, wantTaken: true,
			wantArmed: []adapter.Timer{offerI1}},
		{name: "twice: not taken again", take: rearmed, wantTaken: false,
			wantArmed: []adapter.Timer{offerI1}},
		{name: "due time in another zone: taken",
			take:      adapter.Timer{Kind: offerI1.Kind, Ref: offerI1.Ref, DueAt: offerI1.DueAt.In(cet)},
			wantTaken: true, wantArmed: []adapter.Timer{}},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			var taken bool
			update(t, s, func(tx adapter.Tx) (err error) {
				taken, err = tx.TakeTimer(tt.take)
				return err
			})
			require.Equal(t, tt.wantTaken, taken)
			equalList(t, tt.wantArmed, armed(t, s))
		})
	}
}

func testClearTimer(t *testing.T, s adapter.Store) {
	setTimers(t, s, offerI1, inactiveI1, wrapUpI2)
	steps := []struct {
		name      string
		kind      adapter.TimerKind
		ref       string
		wantArmed []adapter.Timer
	}{
		{name: "one kind of a ref", kind: adapter.TimerInactivity, ref: "i1",
			wantArmed: []adapter.Timer{wrapUpI2, offerI1}},
		{name: "a timer that is not armed", kind: adapter.TimerConsult, ref: "i1",
			wantArmed: []adapter.Timer{wrapUpI2, offerI1}},
		{name: "twice", kind: adapter.TimerInactivity, ref: "i1",
			wantArmed: []adapter.Timer{wrapUpI2, offerI1}},
		{name: "another", kind: adapter.TimerWrapUpEnd, ref: "i2",
			wantArmed: []adapter.Timer{offerI1}},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			update(t, s, func(tx adapter.Tx) error { return tx.ClearTimer(tt.kind, tt.ref) })
			equalList(t, tt.wantArmed, armed(t, s))
		})
	}
}

func testNextTimer(t *testing.T, s adapter.Store) {
	next := func(t *testing.T) (time.Time, bool) {
		var (
			due time.Time
			ok  bool
		)
		view(t, s, func(tx adapter.Tx) (err error) {
			due, ok, err = tx.NextTimer()
			return err
		})
		return due, ok
	}

	steps := []struct {
		name    string
		change  func(tx adapter.Tx) error
		wantDue time.Time
		wantOK  bool
	}{
		{name: "none armed", change: func(adapter.Tx) error { return nil }},
		{name: "one", change: func(tx adapter.Tx) error { return tx.SetTimer(dueDateI3) },
			wantDue: dueDateI3.DueAt, wantOK: true},
		{name: "an earlier one", change: func(tx adapter.Tx) error { return tx.SetTimer(offerI1) },
			wantDue: offerI1.DueAt, wantOK: true},
		{name: "earliest cleared", change: func(tx adapter.Tx) error { return tx.ClearTimer(offerI1.Kind, offerI1.Ref) },
			wantDue: dueDateI3.DueAt, wantOK: true},
		{name: "last taken", change: func(tx adapter.Tx) error { _, err := tx.TakeTimer(dueDateI3); return err }},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			update(t, s, tt.change)
			due, ok := next(t)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.wantDue, due)
		})
	}
}

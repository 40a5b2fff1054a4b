package adapter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBatchTriggerWait: the writer writes a full batch, or a batch whose
// oldest row is MaxAge old, at once; otherwise it sleeps until the
// oldest's age is up or the next retry or lease comes free, at most idle.
func TestBatchTriggerWait(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	trigger := batchTrigger{Rows: 1000, MaxAge: 2 * time.Second}
	const idle = 10 * time.Second
	for _, tc := range []struct {
		name string
		due  OutboxDue
		want time.Duration
	}{
		{name: "nothing due", want: idle},
		{name: "a full batch", due: OutboxDue{Rows: 1000, Oldest: now}, want: 0},
		{name: "a young row", due: OutboxDue{Rows: 3, Oldest: now.Add(-500 * time.Millisecond)}, want: 1500 * time.Millisecond},
		{name: "a row MaxAge old", due: OutboxDue{Rows: 3, Oldest: now.Add(-2 * time.Second)}, want: 0},
		{name: "a row with no CreatedAt", due: OutboxDue{Rows: 1}, want: 0},
		{name: "a retry falls due first", due: OutboxDue{Rows: 3, Oldest: now, Next: now.Add(time.Second)}, want: time.Second},
		{name: "a retry falls due later", due: OutboxDue{Rows: 3, Oldest: now, Next: now.Add(time.Minute)}, want: 2 * time.Second},
		{name: "a lease ends after the idle poll", due: OutboxDue{Next: now.Add(time.Minute)}, want: idle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, trigger.wait(tc.due, now, idle))
		})
	}
}

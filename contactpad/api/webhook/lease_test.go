package webhook

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/stretchr/testify/require"
)

// replica is one Dispatcher of the shared hooks, as each replica runs.
type replica struct {
	d    *Dispatcher
	stop func()
}

func startReplica(t *testing.T, store adapter.Store, recv http.RoundTripper) *replica {
	t.Helper()
	d := New(store, []Hook{{URL: hookURL, Secrets: []string{testSecret}}}, WithClient(&http.Client{Transport: recv}),
		WithBackoff(time.Second, time.Minute), WithLogger(quietLogger()))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	return &replica{d: d, stop: func() { cancel(); <-done }}
}

// setLease stores the hook's lease as another replica holding it until
// until would.
func setLease(t *testing.T, store adapter.Store, holder string, until time.Time) {
	t.Helper()
	require.NoError(t, adapter.UpdateOne(t.Context(), store, func(tx adapter.Tx) error {
		return tx.SetWatermark(leaseKey(watermarkKey(hookURL)), until.UTC().Format(time.RFC3339Nano)+" "+holder)
	}))
}

func (r *replica) delivering() bool { return r.d.Status()[0].Delivering }

func seqsOf(events []adapter.Event) []int64 {
	var out []int64
	for _, e := range events {
		out = append(out, e.Seq)
	}
	return out
}

// Replicas sharing a store deliver each hook from one of them at a time:
// every event once, in order; a replica that stops hands over to another.
func TestOneReplicaDelivers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := openStore(t)
		recv := &fakeReceiver{}
		a := startReplica(t, store, recv)
		synctest.Wait()
		b := startReplica(t, store, recv)
		c := startReplica(t, store, recv)
		synctest.Wait()
		require.True(t, a.delivering(), "the first replica takes the lease")
		require.False(t, b.delivering())
		require.False(t, c.delivering())

		first := appendEvents(t, store,
			interactionEvent(adapter.EventInteractionCreated, "i1", "one"),
			interactionEvent(adapter.EventInteractionUpdated, "i1", "one"),
		)
		for _, r := range []*replica{a, b, c} {
			r.d.Notify() // each replica's engine rings its own Dispatcher
		}
		time.Sleep(time.Minute) // leases renewed, polls run: still no duplicates
		synctest.Wait()
		require.Equal(t, seqsOf(first), recv.seqs())
		for _, r := range []*replica{b, c} {
			require.Equal(t, first[1].Seq, r.d.Status()[0].DeliveredSeq, "a standby shows the shared cursor")
		}

		// A clean stop stores the cursor and hands the lease back; a
		// standing-by replica takes over at its next try.
		a.stop()
		second := appendEvents(t, store, presenceEvent("alice"), presenceEvent("bob"))
		time.Sleep(defaultLease / 3)
		synctest.Wait()
		require.NotEqual(t, b.delivering(), c.delivering(), "exactly one of the others took over")
		require.Equal(t, append(seqsOf(first), seqsOf(second)...), recv.seqs(), "every event once, in order")
		b.stop()
		c.stop()
	})
}

// A replica that dies holding the lease (no hand-back) stalls delivery
// only until the lease expires; the next holder resumes from the stored
// cursor.
func TestLeaseOfDeadReplicaExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := openStore(t)
		delivered := appendEvents(t, store, interactionEvent(adapter.EventInteractionCreated, "i1", "one"))
		setCursor(t, store, hookURL, delivered[0].Seq)
		setLease(t, store, "dead-host/1/abc", time.Now().Add(defaultLease))

		recv := &fakeReceiver{}
		r := startReplica(t, store, recv)
		pending := appendEvents(t, store, interactionEvent(adapter.EventInteractionUpdated, "i1", "one"))
		r.d.Notify()
		time.Sleep(defaultLease - time.Second)
		synctest.Wait()
		require.False(t, r.delivering())
		require.Empty(t, recv.seqs(), "the dead replica's lease still runs")

		time.Sleep(defaultLease / 3)
		synctest.Wait()
		require.True(t, r.delivering())
		require.Equal(t, seqsOf(pending), recv.seqs(), "from the stored cursor, nothing twice")
		r.stop()
	})
}

// A holder whose lease was taken over (its renewals failed until it
// expired, say, and another replica took it) stops delivering at its next
// renewal, a third of a lease at the latest, and POSTs no more.
func TestLeaseTakenOverStopsDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := openStore(t)
		recv := &fakeReceiver{down: true}
		r := startReplica(t, store, recv)
		synctest.Wait()
		require.True(t, r.delivering())
		appendEvents(t, store, interactionEvent(adapter.EventInteractionCreated, "i1", "one"))
		r.d.Notify()
		synctest.Wait()
		require.Len(t, recv.seqs(), 1, "first attempt failed; retrying with backoff")

		setLease(t, store, "other-host/2/def", time.Now().Add(time.Hour))
		time.Sleep(defaultLease/3 + time.Second)
		synctest.Wait()
		require.False(t, r.delivering())
		attempts := len(recv.seqs())

		recv.setDown(false)
		time.Sleep(time.Hour - defaultLease)
		synctest.Wait()
		require.Len(t, recv.seqs(), attempts, "no POST without the lease")
		r.stop()
	})
}

package webhook

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
)

// TestResetWhenPruned: a hook whose cursor is behind the pruned events
// gets one stream.reset delivery, whatever its event types, with the id
// of the newest event, and then the events after it; a hook at the pruned
// point gets no reset.
func TestResetWhenPruned(t *testing.T) {
	store := openStore(t)
	old := appendEvents(t, store,
		interactionEvent(adapter.EventInteractionCreated, "i1", "Printer on fire"),
		presenceEvent("alice"),
		interactionEvent(adapter.EventInteractionUpdated, "i1", "Printer on fire"),
		presenceEvent("bob"),
	)
	last := old[len(old)-1].Seq
	pruned, err := adapter.New(store, adapter.Defaults(), adapter.WithLogger(quietLogger())).
		PruneOnce(t.Context(), adapter.RetentionOptions{Events: time.Hour})
	require.NoError(t, err)
	require.Equal(t, adapter.Pruned{Events: len(old) - 1, EventsThrough: old[len(old)-2].Seq}, pruned)

	recv := &recorder{got: make(chan delivery, 100)}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	behind := Hook{URL: srv.URL + "/behind", Secrets: []string{testSecret}, Events: []adapter.EventType{adapter.EventAgentPresence}}
	atPruned := Hook{URL: srv.URL + "/at-pruned", Secrets: []string{testSecret}, Events: []adapter.EventType{adapter.EventAgentPresence}}
	setCursor(t, store, behind.URL, old[0].Seq)
	setCursor(t, store, atPruned.URL, pruned.EventsThrough)
	d := New(store, []Hook{behind, atPruned}, WithPollInterval(time.Hour), WithLogger(quietLogger()))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	next := func() delivery {
		t.Helper()
		select {
		case dl := <-recv.got:
			return dl
		case <-time.After(10 * time.Second):
			t.Fatal("no delivery within 10s")
		}
		return delivery{}
	}
	// The hooks deliver concurrently: their first deliveries by path.
	first := map[string]delivery{}
	for range 2 {
		dl := next()
		first[dl.path] = dl
	}
	reset := first["/behind"]
	require.Equal(t, adapter.ResetType, reset.header.Get("X-Ctibridge-Event"))
	require.Equal(t, strconv.FormatInt(last, 10), reset.header.Get(IDHeader))
	require.Equal(t, strconv.FormatInt(last, 10), reset.header.Get("X-Ctibridge-Delivery"))
	var r adapter.Reset
	require.NoError(t, json.Unmarshal(reset.body, &r))
	require.Equal(t, adapter.Reset{Type: adapter.ResetType, Reason: adapter.ResetPruned, Oldest: pruned.EventsThrough, LastEventID: last}, r)
	requireSigned(t, reset, testSecret)
	requireContract(t, reset)

	// The newest event (a presence change both want) was before the
	// reset: the behind hook goes on after it; the other, not reset,
	// delivers it.
	dl := first["/at-pruned"]
	require.Equal(t, string(adapter.EventAgentPresence), dl.header.Get("X-Ctibridge-Event"))
	require.Equal(t, strconv.FormatInt(last, 10), dl.header.Get(IDHeader))

	fresh := appendEvents(t, store, presenceEvent("carol"))
	d.Notify()
	got := map[string]string{}
	for range 2 {
		dl := next()
		got[dl.path] = dl.header.Get(IDHeader)
	}
	want := strconv.FormatInt(fresh[0].Seq, 10)
	require.Equal(t, map[string]string{"/behind": want, "/at-pruned": want}, got, "both go on, no second reset")
	require.Eventually(t, func() bool { return storedCursor(t, store, behind.URL) == want }, 10*time.Second, time.Millisecond)
}

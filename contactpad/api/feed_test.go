package api

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/enginetest"
	"github.com/ctibridge/ctibridge/adapter/store/sqlite"
	"github.com/ctibridge/ctibridge/contactpad"
)

// TestFeed: the feed answers from its window what the store would answer,
// reads new events when woken, and sends a cursor behind its window to the
// store.
func TestFeed(t *testing.T) {
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "ctibridge.db"))
	require.NoError(t, err)
	defer store.Close()
	engine := adapter.New(store, enginetest.Settings())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-engine.Ready()
	ingest := func(n int) {
		for k := range n {
			_, err := engine.Apply(ctx, adapter.Ingest{Item: contactpad.WorkItem{CRMID: fmt.Sprintf("500%015d", k+n*100),
				CRMObject: "Case", Media: contactpad.NonLive, Service: "support"}})
			require.NoError(t, err)
		}
	}
	fromStore := func(cursor int64, limit int) []adapter.Event {
		f := &feed{store: store}
		page, err := f.read(ctx, cursor, limit)
		require.NoError(t, err)
		return page
	}
	seqs := func(events []adapter.Event) []int64 {
		var out []int64
		for _, e := range events {
			out = append(out, e.Seq)
		}
		return out
	}

	h := newHub()
	f := &feed{store: store, hub: h, window: 5}
	got, err := f.after(ctx, 0, 500)
	require.NoError(t, err)
	require.Empty(t, got, "primed at the present")

	ingest(8)
	h.notify()
	all := fromStore(0, 500)
	require.Len(t, all, 8)
	got, err = f.after(ctx, 0, 500)
	require.NoError(t, err)
	require.Equal(t, seqs(all), seqs(got), "a cursor behind the window reads the store")
	require.Len(t, f.events, 5, "the window keeps the newest")

	last := all[len(all)-1].Seq
	mid := all[len(all)-3].Seq
	got, err = f.after(ctx, mid, 500)
	require.NoError(t, err)
	require.Equal(t, seqs(fromStore(mid, 500)), seqs(got), "within the window")
	got, err = f.after(ctx, mid, 1)
	require.NoError(t, err)
	require.Equal(t, seqs(fromStore(mid, 1)), seqs(got), "limited")

	ingest(2)
	got, err = f.after(ctx, last, 500)
	require.NoError(t, err)
	require.Empty(t, got, "not woken, read less than a second ago: nothing new yet")
	h.notify()
	got, err = f.after(ctx, last, 500)
	require.NoError(t, err)
	require.NotEmpty(t, got)
	require.Equal(t, seqs(fromStore(last, 500)), seqs(got), "woken: the new events")
}

// TestHubWakesTheAudience: events committed here wake the streams of the
// agents they are for and the streams that see every event, not every
// agent's stream; a notify without events (another replica's commit)
// wakes them all.
func TestHubWakesTheAudience(t *testing.T) {
	woken := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	h := newHub()
	alice, bob, admin := h.wait("alice"), h.wait("bob"), h.wait("")
	require.True(t, alice == h.wait("alice"), "an agent's streams share a channel")

	h.notifyEvents([]adapter.Event{{Type: adapter.EventInteractionUpdated, Audience: []string{"alice"}}})
	require.True(t, woken(alice), "alice's event wakes her stream")
	require.False(t, woken(bob), "and not bob's")
	require.True(t, woken(admin), "an admin's stream sees every event")
	require.EqualValues(t, 1, h.generation(), "the feed reads the store again")

	alice, admin = h.wait("alice"), h.wait("")
	require.False(t, woken(alice), "a new wait waits for the next notify")
	h.notifyEvents([]adapter.Event{{Type: adapter.EventAgentPresence}})
	require.False(t, woken(alice), "an event for nobody wakes no agent")
	require.False(t, woken(bob))
	require.True(t, woken(admin))

	h.notify()
	require.True(t, woken(alice), "a notify without events wakes every stream")
	require.True(t, woken(bob))
}

package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
)

// sseEvent is one event as a client parses it off the stream.
type sseEvent struct {
	ID    int64
	Type  string
	Event adapter.Event
	// Data is the event's data as sent.
	Data []byte
}

// stream is an open event stream.
type stream struct {
	events chan sseEvent
	cancel context.CancelFunc
	done   chan struct{}
}

// subscribe opens the event stream as who, resuming after lastID if >= 0.
func (e *env) subscribe(who string, lastID int64) *stream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/events", nil)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer tok-"+who)
	if lastID >= 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(lastID, 10))
	}
	res, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	require.Equal(e.t, 200, res.StatusCode)
	require.Equal(e.t, "text/event-stream", res.Header.Get("Content-Type"))
	s := &stream{events: make(chan sseEvent, 1000), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		var data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data != "" {
					ev.Data = []byte(data)
					if json.Unmarshal(ev.Data, &ev.Event) == nil {
						s.events <- ev
					}
				}
				ev, data = sseEvent{}, ""
			case strings.HasPrefix(line, "id: "):
				ev.ID, _ = strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
			case strings.HasPrefix(line, "event: "):
				ev.Type = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	e.t.Cleanup(s.close)
	return s
}

func (s *stream) close() {
	s.cancel()
	<-s.done
}

// next returns the next event, failing after a generous bound.
func (s *stream) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return sseEvent{}
}

// until reads events until one of type typ about interaction id arrives.
func (s *stream) until(t *testing.T, typ adapter.EventType, id string) sseEvent {
	t.Helper()
	for {
		ev := s.next(t)
		if ev.Event.Type == typ && (id == "" || (ev.Event.Interaction != nil && ev.Event.Interaction.ID == id) ||
			(ev.Event.Transfer != nil && ev.Event.Transfer.InteractionID == id)) {
			return ev
		}
	}
}

func TestEventsScope(t *testing.T) {
	e := start(t)
	alice, bob, admin := e.subscribe("alice", -1), e.subscribe("bob", -1), e.subscribe("bi", -1)
	id := e.connected("alice", contactpad.NonLive)

	ev := alice.until(t, adapter.EventInteractionUpdated, id)
	require.Equal(t, ev.ID, ev.Event.Seq, "the SSE id is the event id")
	require.Equal(t, string(ev.Event.Type), ev.Type, "the SSE event name is the type")
	require.Equal(t, "alice", ev.Event.Interaction.Owner)
	admin.until(t, adapter.EventInteractionCreated, id)

	e.ok("alice", "POST", "/api/v1/interactions/"+id+"/release", nil)
	e.connected("bob", contactpad.NonLive)
	// bob's last presence change is the marker: every event committed
	// before it has been through his stream's filter when it arrives.
	for {
		ev := bob.next(t)
		if ev.Event.Interaction != nil {
			require.NotEqual(t, id, ev.Event.Interaction.ID, "bob sees nothing of alice's interaction")
		}
		if ev.Event.Agent != nil {
			require.Equal(t, "bob", ev.Event.Agent.ID, "bob sees only his own presence")
			if ev.Event.Agent.Presence == contactpad.Busy {
				break
			}
		}
	}
}

// TestEventsResume: a client that reconnects with Last-Event-ID gets every
// event it missed, from the store, in order, and nothing twice.
func TestEventsResume(t *testing.T) {
	e := start(t)
	s := e.subscribe("alice", -1)
	id := e.connected("alice", contactpad.NonLive)
	last := s.until(t, adapter.EventAgentPresence, "").ID
	for last < lastSeq(t, e) {
		last = s.next(t).ID
	}
	s.close()

	// While alice is away: defer, and an admin reopens it.
	e.ok("alice", "POST", "/api/v1/interactions/"+id+"/defer", map[string]any{"due_by": time.Now().Add(time.Hour)})
	e.ok("ops", "PATCH", "/api/v1/interactions/"+id, map[string]any{"status": "open"})
	want := aliceEvents(t, e, last)
	require.NotEmpty(t, want)

	again := e.subscribe("alice", last)
	var got []int64
	for range want {
		got = append(got, again.next(t).ID)
	}
	require.Equal(t, want, got)

	t.Run("a bad Last-Event-ID is refused", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer tok-alice")
		req.Header.Set("Last-Event-ID", "abc")
		res, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, 400, res.StatusCode)
	})
}

func lastSeq(t *testing.T, e *env) int64 {
	var last int64
	require.NoError(t, e.store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		last, err = tx.LastEventSeq()
		return err
	}))
	return last
}

// aliceEvents lists the seqs of alice's events after seq, from the store.
func aliceEvents(t *testing.T, e *env, after int64) []int64 {
	var out []int64
	require.NoError(t, e.store.View(context.Background(), func(tx adapter.Tx) error {
		all, err := tx.EventsAfter(after, 10000)
		for _, ev := range all {
			for _, a := range ev.Audience {
				if a == "alice" {
					out = append(out, ev.Seq)
					break
				}
			}
		}
		return err
	}))
	return out
}

// TestEventsHeartbeat: an idle stream sends a comment every heartbeat with
// the id it has read up to, and ends when the server closes its streams.
func TestEventsHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := startBubble(t, func(o *api.Options, _ *adapter.Settings) { o.Heartbeat = 15 * time.Second })
		e.ingest(contactpad.NonLive, "support")
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer tok-ops")
		done := make(chan struct{})
		go func() { defer close(done); e.handler.ServeHTTP(rec, req) }()
		time.Sleep(31 * time.Second)
		synctest.Wait()
		e.api.CloseStreams()
		<-done
		body := rec.Body.String()
		require.Equal(t, 2, strings.Count(body, ": heartbeat\n"), body)
		require.Contains(t, body, "id: "+strconv.FormatInt(lastSeq(t, e), 10)+"\n")
	})
}

// TestEventsStreamLimit: one identity holds at most MaxStreams streams;
// one more closes its oldest with a stream.closed event, and leaves the
// others' streams alone.
func TestEventsStreamLimit(t *testing.T) {
	e := start(t, func(o *api.Options, _ *adapter.Settings) { o.MaxStreams = 2 })
	first := e.subscribe("alice", -1)
	second := e.subscribe("alice", -1)
	bobs := e.subscribe("bob", -1)
	third := e.subscribe("alice", -1)

	closed := first.next(t)
	require.Equal(t, "stream.closed", closed.Type)
	require.Zero(t, closed.ID, "no stored event: the client's Last-Event-ID stays")
	select {
	case <-first.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the oldest stream stayed open")
	}

	e.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	e.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	for _, s := range []*stream{second, third} {
		require.Equal(t, adapter.EventAgentPresence, s.until(t, adapter.EventAgentPresence, "").Event.Type)
	}
	require.Equal(t, "bob", bobs.until(t, adapter.EventAgentPresence, "").Event.Agent.ID)
}

// TestEventsSignedOut: a stream whose token no longer signs in (removed,
// or rotated after a leak, by a reloaded config) ends; the others go on.
func TestEventsSignedOut(t *testing.T) {
	e := start(t)
	carols := e.subscribe("carol", -1)
	alices := e.subscribe("alice", -1)
	require.NoError(t, e.api.SetIdentities([]api.Identity{
		{Name: "alice", Role: api.RoleAgent, TokenSHA256: hash("tok-alice")},
		{Name: "carol", Role: api.RoleAgent, TokenSHA256: hash("tok-carol-rotated")},
	}))
	select {
	case <-carols.done:
	case <-time.After(10 * time.Second):
		t.Fatal("carol's stream stayed open with a token that no longer signs in")
	}
	e.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	require.Equal(t, "alice", alices.until(t, adapter.EventAgentPresence, "").Event.Agent.ID, "alice's goes on")
}

// TestEventsCursorBeyondTheLog: a Last-Event-ID beyond the last stored
// event starts at the present, for that stream and the ones after it.
func TestEventsCursorBeyondTheLog(t *testing.T) {
	e := start(t)
	far := e.subscribe("alice", 1<<40)
	later := e.subscribe("alice", lastSeq(t, e))
	e.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	for _, s := range []*stream{far, later} {
		ev := s.until(t, adapter.EventAgentPresence, "")
		require.Equal(t, lastSeq(t, e), ev.ID)
	}
}

// TestEventsReset: a client whose Last-Event-ID is behind the pruned
// events, or further behind than MaxReplay, gets one stream.reset event
// with the id of the present, and then the events that follow; a client
// at the pruned point, or that comes back with the reset's id, is not
// reset.
func TestEventsReset(t *testing.T) {
	resetOf := func(t *testing.T, ev sseEvent) adapter.Reset {
		t.Helper()
		require.Equal(t, adapter.ResetType, ev.Type)
		var r adapter.Reset
		require.NoError(t, json.Unmarshal(ev.Data, &r))
		return r
	}
	presence := func(e *env) {
		e.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "busy"})
		e.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	}

	t.Run("pruned", func(t *testing.T) {
		e := start(t)
		e.connected("alice", contactpad.NonLive)
		pruned, err := e.engine.PruneOnce(t.Context(), adapter.RetentionOptions{Events: time.Nanosecond})
		require.NoError(t, err)
		require.Positive(t, pruned.Events)
		last := lastSeq(t, e)
		require.Equal(t, last, pruned.EventsThrough+1, "all but the last event pruned")

		s := e.subscribe("alice", 0)
		ev := s.next(t)
		require.Equal(t, adapter.Reset{Type: adapter.ResetType, Reason: adapter.ResetPruned,
			Oldest: pruned.EventsThrough, LastEventID: last}, resetOf(t, ev))
		require.Equal(t, last, ev.ID, "the reset moves the client's Last-Event-ID to the present")
		presence(e)
		next := s.until(t, adapter.EventAgentPresence, "")
		require.Greater(t, next.ID, last, "then the stream goes on from the present")

		for _, from := range []int64{pruned.EventsThrough, last} {
			again := e.subscribe("alice", from)
			presence(e)
			require.Equal(t, adapter.EventAgentPresence, again.next(t).Event.Type, "no reset after %d", from)
		}
	})

	t.Run("max_replay", func(t *testing.T) {
		e := start(t, func(o *api.Options, _ *adapter.Settings) { o.MaxReplay = 2 })
		e.connected("alice", contactpad.NonLive)
		last := lastSeq(t, e)
		require.Greater(t, last, int64(3))

		s := e.subscribe("alice", last-3)
		ev := s.next(t)
		require.Equal(t, adapter.Reset{Type: adapter.ResetType, Reason: adapter.ResetMaxReplay,
			Oldest: last - 2, LastEventID: last}, resetOf(t, ev))
		require.Equal(t, last, ev.ID)

		within := e.subscribe("alice", last-2)
		want := aliceEvents(t, e, last-2)
		require.NotEmpty(t, want)
		for _, id := range want {
			require.Equal(t, id, within.next(t).ID, "2 events behind: replayed")
		}
	})
}

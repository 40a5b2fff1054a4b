package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// hub wakes the event streams when events commit. It carries no events:
// streams read them from the store, which is the authority, so a stream
// never misses one however late it wakes. A commit wakes only the streams
// its events are for (their audience's, and those that see every event):
// waking every stream at every commit cost a thousand goroutines and
// their turns at the feed per commit, and the latency of every request
// behind them.
type hub struct {
	mu  sync.Mutex
	gen uint64 // notifies so far
	// all is closed at every notify; agents[a] at a notify that has an
	// event for agent a, or one for everybody.
	all    chan struct{}
	agents map[string]chan struct{}
	// closing is closed when the server shuts down: streams end, and
	// clients reconnect (to another replica, or after the restart).
	closing   chan struct{}
	closeOnce sync.Once
}

func newHub() *hub {
	return &hub{all: make(chan struct{}), agents: make(map[string]chan struct{}), closing: make(chan struct{})}
}

func (h *hub) generation() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen
}

func (h *hub) close() { h.closeOnce.Do(func() { close(h.closing) }) }

// wait returns a channel that is closed at the next notify for agent's
// stream: every notify when agent is "" (an admin's or an integration's
// stream sees every event).
func (h *hub) wait(agent string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if agent == "" {
		return h.all
	}
	ch := h.agents[agent]
	if ch == nil {
		ch = make(chan struct{})
		h.agents[agent] = ch
	}
	return ch
}

// notify wakes every stream: events were committed that may be for
// anyone (another replica's, which come without their audience).
func (h *hub) notify() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen++
	close(h.all)
	h.all = make(chan struct{})
	for a, ch := range h.agents {
		close(ch)
		delete(h.agents, a)
	}
}

// notifyEvents wakes the streams of the agents events are for, and those
// that see every event.
func (h *hub) notifyEvents(events []adapter.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen++
	close(h.all)
	h.all = make(chan struct{})
	for _, e := range events {
		for _, a := range e.Audience {
			if ch, ok := h.agents[a]; ok {
				close(ch)
				delete(h.agents, a)
			}
		}
	}
}

// feed reads events from the store once for all streams: a stream whose
// cursor lies within the feed's window of recent events takes them from
// it, instead of every stream reading and decoding every event (with a
// thousand streams, that was most of the server's CPU). The store stays
// the authority: the window holds what was read from it, in order, and a
// stream further behind reads the store itself.
type feed struct {
	mu     sync.Mutex
	store  adapter.Store
	hub    *hub
	events []adapter.Event // every stored event with floor < Seq <= last (window to 1.5 windows)
	floor  int64
	last   int64
	primed bool
	gen    uint64    // hub generation of the last refresh
	at     time.Time // time of the last refresh
	window int       // how many recent events it keeps (default feedWindow)
}

// feedWindow is how many recent events a feed keeps (a few MB).
const feedWindow = 10000

// after returns up to limit events after cursor.
func (f *feed) after(ctx context.Context, cursor int64, limit int) ([]adapter.Event, error) {
	f.mu.Lock()
	if !f.primed {
		f.floor, f.last, f.primed = cursor, cursor, true
	}
	if cursor < f.floor {
		f.mu.Unlock()
		return f.read(ctx, cursor, limit)
	}
	defer f.mu.Unlock()
	// Read the store when events were committed here since the last read,
	// and at least once a second for other replicas' events.
	if gen := f.hub.generation(); gen != f.gen || time.Since(f.at) > time.Second {
		for {
			page, err := f.read(ctx, f.last, eventPage)
			if err != nil {
				return nil, err
			}
			if len(page) > 0 {
				f.events = append(f.events, page...)
				f.last = page[len(page)-1].Seq
			}
			if len(page) < eventPage {
				break
			}
		}
		f.gen, f.at = gen, time.Now()
		window := f.window
		if window <= 0 {
			window = feedWindow
		}
		// Trimmed back to the window when half a window over it: each
		// trim copies the window, so not at every refresh.
		if len(f.events) > window+window/2 {
			drop := len(f.events) - window
			f.floor = f.events[drop-1].Seq
			f.events = slices.Clone(f.events[drop:])
		}
		if cursor < f.floor {
			return f.read(ctx, cursor, limit)
		}
	}
	k, _ := slices.BinarySearchFunc(f.events, cursor, func(e adapter.Event, seq int64) int { return cmp.Compare(e.Seq, seq) })
	for k < len(f.events) && f.events[k].Seq <= cursor {
		k++
	}
	// The events are shared between streams: read only.
	return f.events[k:min(len(f.events), k+limit):min(len(f.events), k+limit)], nil
}

func (f *feed) read(ctx context.Context, cursor int64, limit int) ([]adapter.Event, error) {
	var page []adapter.Event
	err := f.store.View(ctx, func(tx adapter.Tx) error {
		var err error
		page, err = tx.EventsAfter(cursor, limit)
		return err
	})
	return page, err
}

// streamSet keeps the event streams open on this server by identity, so
// that one identity cannot hold an unbounded number of them: opening one
// more than the limit closes the identity's oldest.
type streamSet struct {
	mu   sync.Mutex
	open map[string][]*openStream // by identity, oldest first
}

// openStream is one event stream of the set; closed is closed when a
// newer stream of its identity pushes it out.
type openStream struct {
	closed chan struct{}
}

// add registers a stream of identity, closing the oldest ones beyond
// limit, and returns it with the function that removes it.
func (ss *streamSet) add(identity string, limit int) (*openStream, func()) {
	st := &openStream{closed: make(chan struct{})}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	list := append(ss.open[identity], st)
	for len(list) > limit {
		close(list[0].closed)
		list = list[1:]
	}
	ss.open[identity] = list
	return st, func() {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		list := ss.open[identity]
		if k := slices.Index(list, st); k >= 0 {
			list = slices.Delete(list, k, k+1)
		}
		if len(list) == 0 {
			delete(ss.open, identity)
		} else {
			ss.open[identity] = list
		}
	}
}

// streamClosed is the event a stream ends with when a newer stream of its
// identity pushed it out. It has no id: it is no stored event, and the
// client's Last-Event-ID stays where it was.
type streamClosed struct {
	Reason string `json:"reason"`
	Limit  int    `json:"limit"`
}

// eventsRoute is the path of the event stream.
const eventsRoute = "/api/v1/events"

// eventPage is how many events a stream reads from the store at a time.
const eventPage = 500

// events streams the caller's events as Server-Sent Events: an agent gets
// the events whose audience includes it, admins and integrations get all.
// Each event's SSE id is its store sequence number; a client that
// reconnects with Last-Event-ID (or ?last_event_id=) gets every event
// after it, from the store, unless they are pruned or more than
// MaxReplay: then it gets one stream.reset event and goes on from the
// present. Without one the stream starts at the present.
func (s *Server) events(w http.ResponseWriter, r *http.Request, id *Identity) error {
	cursor, reset, err := s.streamStart(r)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	// The stream outlives any write timeout of the server.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	mine, remove := s.streams.add(id.Name, s.o.MaxStreams)
	defer remove()
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: 2000\n: ctibridge events after %d\n\n", cursor); err != nil {
		return nil
	}
	if reset != nil {
		// With the id of the present: a client that reconnects after it
		// is not reset again.
		data, _ := json.Marshal(reset)
		if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", reset.LastEventID, adapter.ResetType, data); err != nil {
			return nil
		}
	}
	if rc.Flush() != nil {
		return nil
	}
	heartbeat := time.NewTicker(s.o.Heartbeat)
	defer heartbeat.Stop()
	poll := time.NewTicker(s.o.Poll)
	defer poll.Stop()
	agent := id.agent()
	ctx := r.Context()
	signIns := s.signIns.Load()
	_, session := r.Context().Value(sessionKey{}).(*session)
	for {
		woken := s.hub.wait(agent) // before reading, so no notify is missed
		if n := s.signIns.Load(); n != signIns {
			signIns = n
			if !s.stillSignedIn(r, id) {
				s.log.WithField("identity", id.Name).Info("event stream ended: no longer signed in")
				return nil
			}
		}
		page, err := s.feed.after(ctx, cursor, eventPage)
		if err != nil {
			if ctx.Err() == nil {
				adapter.WarnFailed(s.log.WithField("identity", id.Name), err, "event stream: read events")
			}
			return nil // the client reconnects with its Last-Event-ID
		}
		var mineOnly []adapter.Event
		for _, e := range page {
			cursor = e.Seq
			if agent == "" || slices.Contains(e.Audience, agent) {
				mineOnly = append(mineOnly, e)
			}
		}
		views, err := s.eventViews(ctx, mineOnly, agent)
		if err != nil {
			if ctx.Err() == nil {
				adapter.WarnFailed(s.log.WithField("identity", id.Name), err, "event stream: read interactions")
			}
			return nil
		}
		for k := range mineOnly {
			e := &mineOnly[k]
			var data []byte
			if views[k] != nil {
				data, err = json.Marshal(streamEvent{Event: e, Interaction: views[k]})
			} else {
				data, err = json.Marshal(e)
			}
			if err != nil {
				return nil
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, data); err != nil {
				return nil
			}
		}
		if len(page) > 0 {
			if rc.Flush() != nil {
				return nil
			}
		}
		if len(page) == eventPage {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.hub.closing:
			return nil
		case <-mine.closed:
			data, _ := json.Marshal(streamClosed{Limit: s.o.MaxStreams,
				Reason: fmt.Sprintf("%s opened more than %d event streams; this one, the oldest, is closed", id.Name, s.o.MaxStreams)})
			_, _ = fmt.Fprintf(w, "event: stream.closed\ndata: %s\n\n", data)
			_ = rc.Flush()
			return nil
		case <-woken:
		case <-poll.C:
		case <-heartbeat.C:
			// A session ends by itself (it expires, the agent signs out
			// elsewhere): its stream checks it at each heartbeat.
			if session && !s.stillSignedIn(r, id) {
				s.log.WithField("identity", id.Name).Info("event stream ended: session over")
				return nil
			}
			// An id line with no data keeps the client's Last-Event-ID
			// current even when it sees none of the events it skipped.
			if _, err := fmt.Fprintf(w, ": heartbeat\nid: %d\n\n", cursor); err != nil || rc.Flush() != nil {
				return nil
			}
		}
	}
}

// streamEvent is an event as an agent's stream sends it: its interaction
// is the view GET /api/v1/interactions/{id} shows the agent (without the
// audit trail, transfers and consults), with capabilities and actions,
// so that a panel applies it as it is instead of reading it again. A
// transfer or consult event carries its interaction too, as it is when
// the stream sends the event: what the agent may do with it changed.
type streamEvent struct {
	*adapter.Event
	Interaction *interactionView `json:"interaction,omitempty"`
}

// eventViews returns the view for agent of the interaction each event is
// about (nil where an event is about none, or the interaction is gone, and
// for every event of admins and integrations, whose streams show the
// interaction as stored): in one read of what each has under way, now.
func (s *Server) eventViews(ctx context.Context, events []adapter.Event, agent string) ([]*interactionView, error) {
	views := make([]*interactionView, len(events))
	about := func(e adapter.Event) bool { return e.Interaction != nil || e.Transfer != nil || e.Consult != nil }
	if agent == "" || !slices.ContainsFunc(events, about) {
		return views, nil
	}
	err := s.store.View(ctx, func(tx adapter.Tx) error {
		room := s.roomOf(tx, agent)
		for k, e := range events {
			i := e.Interaction
			if i == nil {
				var id string
				switch {
				case e.Transfer != nil:
					id = e.Transfer.InteractionID
				case e.Consult != nil:
					id = e.Consult.InteractionID
				default:
					continue
				}
				var err error
				if i, err = tx.Interaction(id); errors.Is(err, adapter.ErrNotFound) {
					continue
				} else if err != nil {
					return err
				}
			}
			if i.Status == contactpad.Offered && i.Omni == nil {
				// Events do not keep the Omni-Channel routing (it is no
				// part of the interaction's JSON): an offer reads it, so
				// the panel knows it is answered in Omni-Channel.
				omni, err := tx.Omni(i.ID)
				if err != nil && !errors.Is(err, adapter.ErrNotFound) {
					return err
				}
				if omni != nil {
					withOmni := *i
					withOmni.Omni = omni
					i = &withOmni
				}
			}
			v, err := s.viewIn(tx, i, agent, room)
			if err != nil {
				return err
			}
			views[k] = &v
		}
		return nil
	})
	return views, err
}

// streamStart returns the sequence number a stream starts after: the
// Last-Event-ID header, else the last_event_id query parameter, else the
// last committed event. An id beyond the last committed event (from
// another store, say) starts at the present: such a cursor would wait for
// events that are never its own, and make the streams' shared feed start
// beyond them all. An id behind the pruned events, or more than
// MaxReplay events behind, starts at the present too, with the Reset the
// stream sends first (reset is nil otherwise).
func (s *Server) streamStart(r *http.Request) (cursor int64, reset *adapter.Reset, err error) {
	seq := int64(-1)
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	if v != "" {
		var err error
		seq, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || seq < 0 {
			return 0, nil, invalid("Last-Event-ID %q: want an event id (a non-negative integer)", v)
		}
	}
	var (
		rs    adapter.Reset
		stale bool
	)
	err = s.store.View(r.Context(), func(tx adapter.Tx) error {
		var err error
		rs, stale, err = adapter.ResetAt(tx, seq, int64(s.o.MaxReplay))
		return err
	})
	last := rs.LastEventID
	switch {
	case seq < 0 || seq > last:
		seq = last
	case stale:
		seq, reset = last, &rs
	}
	return seq, reset, err
}

package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// plan is what the agents do with one Case besides accept, release and
// finish wrap-up.
type plan struct {
	deferFor       time.Duration // > 0: defer it this far ahead once
	warm, cold     bool          // transfer it once to a colleague
	resume         bool          // resume it from History once, then close it again
	transferTarget int           // the colleague (agent index), -1 none
}

// item is one Case of the run and what happened to it. Its fields after
// seq are guarded by mu: the agents that own it in turn update it.
type item struct {
	seq     int
	service int
	origin  string
	plan    plan

	mu          sync.Mutex
	created     time.Time
	interaction string
	offered     bool
	deferred    bool
	due         time.Time
	reopened    bool
	transferred bool
	resumed     bool
	done        bool
	failed      bool
	closedBy    int // agent index that finished it last
}

// wire shapes of the API, as much as the agents read.
type (
	interactionJSON struct {
		ID          string     `json:"id"`
		CRMID       string     `json:"crm_id"`
		Subject     string     `json:"subject"`
		Media       string     `json:"media"`
		Status      string     `json:"status"`
		Owner       string     `json:"owner"`
		DueBy       *time.Time `json:"due_by"`
		AutoOpened  bool       `json:"auto_opened_due_to_due_date"`
		ResumedFrom string     `json:"resumed_from"`
		Audit       []struct {
			ID     string `json:"id"`
			Action string `json:"action"`
			Actor  string `json:"actor"`
		} `json:"audit"`
	}
	transferJSON struct {
		ID            string `json:"id"`
		InteractionID string `json:"interaction_id"`
		Mode          string `json:"mode"`
		Status        string `json:"status"`
		Initiator     string `json:"initiator"`
		Assignee      string `json:"assignee"`
	}
	eventJSON struct {
		Type        string           `json:"type"`
		Interaction *interactionJSON `json:"interaction"`
		Transfer    *transferJSON    `json:"transfer"`
	}
)

// agent is one simulated agent: a panel following its event stream and
// acting on what arrives, over its own keep-alive connections.
type agent struct {
	r      *runner
	k      int
	id     string
	token  string
	client *http.Client
	rng    *rand.Rand
	// pending are Cases to resume from History once the agent has room.
	pending []*item
}

func newAgent(r *runner, k int) *agent {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &agent{r: r, k: k, id: agentID(k), token: agentToken(k), client: &http.Client{Transport: tr},
		rng: rand.New(rand.NewPCG(r.o.Seed, uint64(k)))}
}

// errAPI is an answer of the API that the run did not expect.
type errAPI struct {
	method, path string
	status       int
	body         string
}

// code is the problem's stable code ("invalid_transition", ...).
func (e *errAPI) code() string {
	var p struct{ Code string }
	_ = json.Unmarshal([]byte(e.body), &p)
	return p.Code
}

func (e *errAPI) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d %s", e.method, e.path, e.status, strings.TrimSpace(e.body))
}

// call makes one API request and decodes the answer into out; a request
// that is not a GET is an action, timed in the run's action latency.
func (a *agent) call(ctx context.Context, method, path string, body, out any) (replayed bool, err error) {
	if method == http.MethodGet {
		return a.request(ctx, method, path, body, out, nil)
	}
	replayed, err = a.request(ctx, method, path, body, out, &a.r.actions)
	a.r.nActions.Add(1)
	return replayed, err
}

// signIn makes the agent available. Every agent signs in at once before the
// run's clock starts, so its time is kept apart from the actions'.
func (a *agent) signIn(ctx context.Context) error {
	_, err := a.request(ctx, http.MethodPut, "/api/v1/me/presence", map[string]string{"presence": "available"}, nil, &a.r.signIns)
	return err
}

// request makes one API request, adds how long the answer took to timing
// (if not nil), and decodes the answer into out. Requests that fail for
// want of a daemon (refused, reset: it is being restarted) are retried for
// up to a minute when the run expects restarts, and counted as reconnects;
// replayed reports that the request had to be sent again, so a 409 may
// mean that the first one was applied.
func (a *agent) request(ctx context.Context, method, path string, body, out any, timing *Latencies) (replayed bool, err error) {
	var data []byte
	if body != nil {
		if data, err = json.Marshal(body); err != nil {
			return false, err
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		req, err := http.NewRequestWithContext(ctx, method, a.r.base()+path, bytes.NewReader(data))
		if err != nil {
			return replayed, err
		}
		req.Header.Set("Authorization", "Bearer "+a.token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		start := time.Now()
		res, err := a.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return replayed, ctx.Err()
			}
			if a.r.o.KillRestart && time.Now().Before(deadline) {
				a.r.reconnects.Add(1)
				replayed = true
				time.Sleep(100 * time.Millisecond)
				continue
			}
			return replayed, err
		}
		resBody, err := io.ReadAll(res.Body)
		res.Body.Close()
		if timing != nil {
			timing.Add(time.Since(start))
		}
		if err != nil {
			return replayed, err
		}
		if res.StatusCode >= 300 {
			return replayed, &errAPI{method: method, path: path, status: res.StatusCode, body: string(resBody)}
		}
		if out != nil && len(resBody) > 0 {
			return replayed, json.Unmarshal(resBody, out)
		}
		return replayed, nil
	}
}

// act runs a command on an interaction and returns the interaction as it
// is afterwards. An invalid_transition to a replayed request (the daemon
// died after applying it, before answering: the state moved on) reads the
// interaction instead. Other refusals stand: the first request may never
// have reached the daemon (a resume refused for want of room, say).
func (a *agent) act(ctx context.Context, it *item, method, path string, body any) (*interactionJSON, error) {
	var out interactionJSON
	replayed, err := a.call(ctx, method, path, body, &out)
	var apiErr *errAPI
	if replayed && errors.As(err, &apiErr) && apiErr.code() == "invalid_transition" {
		a.r.replayed.Add(1)
		return a.get(ctx, it.interaction)
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (a *agent) get(ctx context.Context, id string) (*interactionJSON, error) {
	var out interactionJSON
	if _, err := a.call(ctx, http.MethodGet, "/api/v1/interactions/"+id, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// run makes the agent available and follows its event stream until ctx
// is done, acting on each event in order, as one person at a panel does.
func (a *agent) run(ctx context.Context, ready func()) {
	events := make(chan eventJSON, 256)
	connected := make(chan struct{})
	go a.follow(ctx, events, connected)
	select {
	case <-connected:
	case <-ctx.Done():
		return
	}
	if err := a.signIn(ctx); err != nil {
		a.r.fail(nil, "presence", err)
	}
	ready()
	retry := time.NewTicker(250 * time.Millisecond)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			a.handle(ctx, ev)
		case <-retry.C:
			pending := a.pending
			a.pending = nil
			for _, it := range pending {
				a.work(ctx, it, "", "")
			}
		}
	}
}

// noRoom is the refusal of a resume for want of capacity.
func noRoom(err error) bool {
	var apiErr *errAPI
	return errors.As(err, &apiErr) && apiErr.status == http.StatusConflict && strings.Contains(apiErr.body, "capacity")
}

// follow reads the SSE stream, reconnecting with Last-Event-ID when it
// breaks (a restart of the daemon, or its graceful end of streams).
func (a *agent) follow(ctx context.Context, events chan<- eventJSON, connected chan struct{}) {
	lastID := ""
	first := true
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.r.base()+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+a.token)
		req.Header.Set("Accept", "text/event-stream")
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		res, err := a.client.Do(req)
		if err != nil || res.StatusCode != http.StatusOK {
			if res != nil {
				res.Body.Close()
			}
			if ctx.Err() != nil {
				return
			}
			a.r.reconnects.Add(1)
			if !a.r.o.KillRestart {
				a.r.fail(nil, "event stream", fmt.Errorf("connect: %v", errOrStatus(err, res)))
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if first {
			close(connected)
			first = false
		}
		rd := bufio.NewReaderSize(res.Body, 64<<10)
		var data []byte
		for {
			line, err := rd.ReadSlice('\n')
			if err != nil {
				break
			}
			line = bytes.TrimRight(line, "\r\n")
			switch {
			case len(line) == 0:
				if len(data) > 0 {
					var ev eventJSON
					if err := json.Unmarshal(data, &ev); err != nil {
						a.r.fail(nil, "event stream", fmt.Errorf("decode event: %w", err))
					} else {
						select {
						case events <- ev:
						case <-ctx.Done():
							res.Body.Close()
							return
						}
					}
					data = data[:0]
				}
			case bytes.HasPrefix(line, []byte("id: ")):
				lastID = string(line[4:])
			case bytes.HasPrefix(line, []byte("data: ")):
				data = append(data, line[6:]...)
			}
		}
		res.Body.Close()
		if ctx.Err() != nil {
			return
		}
		a.r.reconnects.Add(1)
		time.Sleep(100 * time.Millisecond)
	}
}

func errOrStatus(err error, res *http.Response) any {
	if err != nil {
		return err
	}
	return res.Status
}

// handle acts on one event.
func (a *agent) handle(ctx context.Context, ev eventJSON) {
	now := time.Now()
	switch {
	// An agent's transfer events carry their interaction too: they are
	// transfer events.
	case ev.Interaction != nil && ev.Transfer == nil:
		i := ev.Interaction
		it := a.r.itemFor(i)
		if it == nil {
			return
		}
		if i.AutoOpened {
			it.mu.Lock()
			first := it.deferred && !it.reopened
			it.reopened = true
			due := it.due
			it.mu.Unlock()
			if first {
				a.r.reopenLateness.Add(now.Sub(due))
			}
		}
		switch {
		case ev.Type == "interaction.offered" && i.Status == "offered" && i.Owner == a.id:
			it.mu.Lock()
			first := !it.offered
			it.offered = true
			it.mu.Unlock()
			if first {
				a.r.offered(now.Sub(it.created), now)
			}
			a.work(ctx, it, "POST", "/api/v1/interactions/"+i.ID+"/accept")
		case ev.Type == "interaction.updated" && i.AutoOpened && i.Status == "connected" && i.Owner == a.id:
			a.work(ctx, it, "", "")
		}
	case ev.Transfer != nil:
		t := ev.Transfer
		it := a.r.itemByInteraction(t.InteractionID)
		if it == nil {
			return
		}
		switch {
		case ev.Type == "transfer.requested" && t.Assignee == a.id && t.Status == "initiated":
			if _, err := a.call(ctx, "POST", "/api/v1/transfers/"+t.ID+"/accept", nil, nil); err != nil && !a.replayedConflict(err) {
				a.r.fail(it, "accept transfer", err)
			}
		case ev.Type == "transfer.accepted" && t.Initiator == a.id:
			if _, err := a.call(ctx, "POST", "/api/v1/transfers/"+t.ID+"/complete", nil, nil); err != nil && !a.replayedConflict(err) {
				a.r.fail(it, "complete transfer", err)
			}
		case ev.Type == "transfer.completed" && t.Mode == "warm" && t.Assignee == a.id:
			a.work(ctx, it, "", "")
		case (ev.Type == "transfer.failed" || ev.Type == "transfer.canceled") && t.Initiator == a.id:
			a.r.fail(it, "transfer", fmt.Errorf("%s %s", t.Mode, ev.Type))
		}
	}
}

// replayedConflict: a 409 while the run restarts the daemon is a command
// applied before the crash whose answer was lost.
func (a *agent) replayedConflict(err error) bool {
	var apiErr *errAPI
	if a.r.o.KillRestart && errors.As(err, &apiErr) && apiErr.status == http.StatusConflict {
		a.r.replayed.Add(1)
		return true
	}
	return false
}

// replayedTransfer: a transfer request sent again after the daemon died
// that is refused because the interaction is no longer the agent's was
// applied before the crash: a cold transfer has handed it over.
func (a *agent) replayedTransfer(replayed bool, err error) bool {
	var apiErr *errAPI
	if replayed && errors.As(err, &apiErr) && apiErr.status == http.StatusForbidden && apiErr.code() == "forbidden" {
		a.r.replayed.Add(1)
		return true
	}
	return false
}

// work takes the interaction of it as far as this agent can: the first
// command (accept, or nothing after a reopen or a transfer), then by its
// status and the item's plan: defer, transfer, release, finish wrap-up,
// resume from History.
func (a *agent) work(ctx context.Context, it *item, method, path string) {
	var i *interactionJSON
	var err error
	if path != "" {
		if i, err = a.act(ctx, it, method, path, nil); err != nil {
			a.r.fail(it, "accept", err)
			return
		}
	} else if i, err = a.get(ctx, it.interaction); err != nil {
		a.r.fail(it, "read", err)
		return
	}
	if a.r.o.Think > 0 {
		time.Sleep(a.r.o.Think)
	}
	base := "/api/v1/interactions/" + it.interaction
	for steps := 0; steps < 10; steps++ {
		if i.Owner != a.id {
			return
		}
		it.mu.Lock()
		p := it.plan
		deferNow := p.deferFor > 0 && !it.deferred
		transferNow := (p.warm || p.cold) && !it.transferred && i.Media == "non-live" && p.transferTarget >= 0
		resumeNow := p.resume && !it.resumed
		it.mu.Unlock()
		var what string
		switch {
		case i.Status == "connected" && deferNow:
			// A due date only seconds ahead may pass before a slow answer:
			// told it is in the past, the agent picks a new one, once.
			for try := 0; ; try++ {
				due := time.Now().Add(p.deferFor)
				it.mu.Lock()
				it.deferred, it.due = true, due
				it.mu.Unlock()
				_, err = a.act(ctx, it, "POST", base+"/defer", map[string]string{"due_by": due.UTC().Format(time.RFC3339Nano)})
				var apiErr *errAPI
				if try == 0 && errors.As(err, &apiErr) && apiErr.code() == "due_by_in_past" {
					a.r.redated.Add(1)
					continue
				}
				break
			}
			if err != nil {
				a.r.fail(it, "defer", err)
			}
			return // it reopens at the due time, as an event
		case i.Status == "connected" && transferNow:
			it.mu.Lock()
			it.transferred = true
			it.mu.Unlock()
			mode := "warm"
			if p.cold {
				mode = "cold"
			}
			body := map[string]any{"target": map[string]string{"agent": agentID(colleague(p.transferTarget, a.k, a.r.o.Agents))}, "mode": mode,
				"note": "Customer asked for a colleague; order details attached."}
			replayed, err := a.call(ctx, "POST", base+"/transfers", body, nil)
			if err != nil && !a.replayedConflict(err) && !a.replayedTransfer(replayed, err) {
				a.r.fail(it, mode+" transfer", err)
			}
			return // the colleague takes it from its events
		case i.Status == "connected":
			what = "release"
			i, err = a.act(ctx, it, "POST", base+"/release", nil)
		case i.Status == "wrap_up":
			what = "finish wrap-up"
			i, err = a.act(ctx, it, "POST", base+"/wrapup/finish", nil)
		case i.Status == "completed" && resumeNow:
			what = "resume"
			i, err = a.act(ctx, it, "POST", base+"/resume", nil)
			if noRoom(err) {
				// A panel offers Resume when the agent has room: try again
				// once some of the agent's work is done.
				a.r.resumesPostponed.Add(1)
				a.pending = append(a.pending, it)
				return
			}
			it.mu.Lock()
			it.resumed = err == nil
			it.mu.Unlock()
		case i.Status == "completed":
			it.mu.Lock()
			if !it.done {
				it.done, it.closedBy = true, a.k
				a.r.nDone.Add(1)
			}
			it.mu.Unlock()
			return
		default:
			return // queued or offered elsewhere: its next owner goes on
		}
		if err != nil {
			a.r.fail(it, what, err)
			return
		}
	}
}

// colleague is target, or when that is self the next agent of its service.
func colleague(target, self, agents int) int {
	if target != self {
		return target
	}
	first := serviceOf(target) * agentsPerService
	size := min(agentsPerService, agents-first)
	return first + (target-first+1)%size
}

// runnerCounters are the counts the agents keep.
type runnerCounters struct {
	nActions   atomic.Int64
	nOffered   atomic.Int64
	nDone      atomic.Int64
	nErrors    atomic.Int64
	reconnects atomic.Int64
	replayed   atomic.Int64
	redated    atomic.Int64 // deferrals sent again after due_by_in_past
	// resumesPostponed counts resumes refused for want of capacity
	// (expected: routing fills freed capacity at once), tried again later.
	resumesPostponed atomic.Int64
}

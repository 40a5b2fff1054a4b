package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
)

// faultLog lists the faults a run injected.
type faultLog struct {
	mu     sync.Mutex
	faults []string
}

func (f *faultLog) add(s string) {
	f.mu.Lock()
	f.faults = append(f.faults, s)
	f.mu.Unlock()
}

func (f *faultLog) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.faults...)
}

// injectFaults makes the org fail three times while the agents work: at
// a fifth of the Cases closed, a burst of 503s (more than one call's
// retries); at two fifths, every session expires; at three fifths,
// REQUEST_LIMIT_EXCEEDED for several calls.
func injectFaults(ctx context.Context, org *localOrg, r *runner, log *faultLog) {
	steps := []struct {
		at   int64 // fifths of the Cases closed
		name string
		do   func()
	}{
		{1, "30 x HTTP 503 SERVER_UNAVAILABLE", func() { org.Faults().FailNext(30, http.StatusServiceUnavailable) }},
		{2, "every session expired (401 INVALID_SESSION_ID)", func() { org.Faults().ExpireSessions() }},
		{3, "10 x HTTP 403 REQUEST_LIMIT_EXCEEDED", func() { org.Faults().ExceedLimit(10) }},
	}
	for _, s := range steps {
		for r.nDone.Load()*5 < s.at*int64(r.o.Records) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		s.do()
		log.add(s.name)
		fmt.Fprintf(r.o.Log, "bench: fault: %s\n", s.name)
	}
}

// restartLog counts the kills and restarts of a run.
type restartLog struct {
	kills, restarts int
	downtime        time.Duration
}

// killRestart SIGKILLs the bridge and starts it again on the same config
// and store; the agents' requests and streams fail meanwhile and retry.
//
// It kills between two writebacks when it can (no write call to the org
// for 100ms, waiting up to 5s): rows a killed bridge had in flight stay
// leased to it for the outbox lease (2 minutes) before the restarted
// bridge takes them over, which would only stretch the run.
func killRestart(ctx context.Context, r *runner, org *localOrg, b Bridge, rss *rssTracker, log *restartLog) (Bridge, error) {
	writes := func() int {
		c := org.Calls()
		return c[sim.CallComposite] + c[sim.CallCollections] + c[sim.CallSObject]
	}
	for quiet := time.Now().Add(5 * time.Second); time.Now().Before(quiet); {
		before := writes()
		time.Sleep(100 * time.Millisecond)
		if writes() == before {
			break
		}
	}
	rss.sample(b.PID())
	start := time.Now()
	if err := b.Kill(); err != nil {
		return b, fmt.Errorf("kill the bridge: %w", err)
	}
	log.kills++
	fmt.Fprintf(r.o.Log, "bench: bridge killed (SIGKILL) with %d of %d Cases done; restarting\n", r.nDone.Load(), r.o.Records)
	nb, err := r.o.Start(ctx, r.o.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("restart the bridge: %w", err)
	}
	if err := waitHealthy(ctx, r.url, nb, time.Minute); err != nil {
		return nb, err
	}
	log.restarts++
	log.downtime = time.Since(start)
	fmt.Fprintf(r.o.Log, "bench: bridge back after %s\n", log.downtime.Round(time.Millisecond))
	return nb, nil
}

// rssTracker keeps the peak resident memory of the bridge: VmHWM of its
// process (of each process, across restarts), or for a bridge the bench
// did not start, the largest process_resident_memory_bytes of its
// /metrics, sampled every second.
type rssTracker struct {
	mu     sync.Mutex
	peakMB float64
}

func (t *rssTracker) sample(pid int) {
	if mb, err := peakRSS(pid); err == nil {
		t.observe(mb)
	}
}

func (t *rssTracker) observe(mb float64) {
	t.mu.Lock()
	t.peakMB = max(t.peakMB, mb)
	t.mu.Unlock()
}

func (t *rssTracker) peak() float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.peakMB
}

// of says whose memory the peak is.
func (t *rssTracker) of(b Bridge) string {
	switch b.(type) {
	case nil:
		return "bridge (from its /metrics, sampled each second)"
	case *child:
		return "bridge process (VmHWM)"
	}
	return "bench process, bridge in process (VmHWM)"
}

func (t *rssTracker) watch(ctx context.Context, base string, b Bridge) {
	if b != nil {
		return
	}
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		for ctx.Err() == nil {
			if res, err := client.Get(base + "/metrics"); err == nil {
				t.observe(residentMB(res.Body))
				res.Body.Close()
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
}

// residentMB reads process_resident_memory_bytes from Prometheus text.
func residentMB(r io.Reader) float64 {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f / (1 << 20)
		}
	}
	return 0
}

// progress rewrites one line on a terminal while the run goes.
type progress struct {
	w     io.Writer
	r     *runner
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, r *runner, start time.Time) *progress {
	return &progress{w: w, r: r, start: start}
}

func (p *progress) show() {
	if p.w == nil || time.Since(p.last) < 250*time.Millisecond {
		return
	}
	p.last = time.Now()
	r := p.r
	r.mu.Lock()
	created := r.nCreated
	r.mu.Unlock()
	elapsed := time.Since(p.start)
	n := r.o.Records
	done := int(r.nDone.Load())
	const width = 24
	bar := strings.Repeat("#", done*width/n) + strings.Repeat(".", width-done*width/n)
	fmt.Fprintf(p.w, "\r[%s] %3d%%  %6.1fs  created %d/%d  offered %d  closed %d  actions %d (%.0f/s)  errors %d ",
		bar, done*100/n, elapsed.Seconds(), created, n, r.nOffered.Load(), done, r.nActions.Load(),
		float64(r.nActions.Load())/elapsed.Seconds(), r.nErrors.Load())
}

func (p *progress) end() {
	if p.w != nil {
		p.last = time.Time{}
		p.show()
		fmt.Fprintln(p.w)
	}
}

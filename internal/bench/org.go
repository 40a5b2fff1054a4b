package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
)

// localOrg is the local Salesforce org of a run, served over HTTP on
// 127.0.0.1 so that the bridge reaches it as it would reach Salesforce.
type localOrg struct {
	*sim.Org
	url string
	srv *http.Server
}

// startOrg starts the org with one CRM user per agent and serves it.
func startOrg(listen string, agents int) (*localOrg, []string, error) {
	org := sim.New(sim.Options{DailyAPILimit: 1 << 30})
	users := make([]sim.Record, agents)
	for k := range users {
		users[k] = sim.Record{"attributes": map[string]any{"type": "User"}, "Username": agentID(k) + "@bench.test",
			"LastName": agentID(k), "Email": agentID(k) + "@bench.test"}
	}
	if err := org.Seed(users); err != nil {
		return nil, nil, fmt.Errorf("seed users: %w", err)
	}
	byName := map[string]string{}
	for _, u := range org.Records("User") {
		name, _ := u["Username"].(string)
		id, _ := u["Id"].(string)
		byName[name] = id
	}
	ids := make([]string, agents)
	for k := range ids {
		ids[k] = byName[agentID(k)+"@bench.test"]
	}
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, nil, fmt.Errorf("serve the local org: %w", err)
	}
	srv := &http.Server{Handler: org, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &localOrg{Org: org, url: "http://" + ln.Addr().String(), srv: srv}, ids, nil
}

func (o *localOrg) close() { _ = o.srv.Close() }

// caseSubject is the Subject of the bench's Case seq in service s: the
// prefix routes it, the number finds it again in offers and in the org.
func caseSubject(s, seq int) string { return fmt.Sprintf("[%s] Bench case %07d", serviceID(s), seq) }

// subjectSeq reads the sequence number back from a subject; -1 if none.
func subjectSeq(subject string) int {
	_, num, ok := strings.Cut(subject, "] Bench case ")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return -1
	}
	return n
}

// createRecords inserts the run's Cases into the org at rate records a
// second (all at once when rate is 0), in small batches, calling created
// with each batch's first sequence number, size and the time just before
// the insert (so record-to-offer times are never understated). Inserts go
// straight into the org: they are not API calls, and the bridge meets them
// only through its poll.
func createRecords(ctx context.Context, org *localOrg, items []*item, rate float64, created func(first, n int, at time.Time)) error {
	const tick = 10 * time.Millisecond
	start := time.Now()
	next := 0
	for next < len(items) {
		due := len(items)
		if rate > 0 {
			due = min(len(items), int(rate*time.Since(start).Seconds())+1)
		}
		for next < due {
			n := min(due-next, 500)
			batch := make([]sim.Record, n)
			for k := range batch {
				it := items[next+k]
				batch[k] = sim.Record{"attributes": map[string]any{"type": "Case"}, "Subject": caseSubject(it.service, it.seq),
					"Origin": it.origin, "Priority": "Medium", "Status": "New", "Description": "Created by ctibridge bench."}
			}
			at := time.Now()
			if err := org.Seed(batch); err != nil {
				return fmt.Errorf("create cases: %w", err)
			}
			created(next, n, at)
			next += n
		}
		if next < len(items) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(tick):
			}
		}
	}
	return nil
}

// origins are the Case origins of the run: Email and Web Cases are
// non-live, Chat ones semi-live (which cannot be transferred by default).
func pickOrigin(rng *rand.Rand) string {
	switch x := rng.Float64(); {
	case x < 0.45:
		return "Email"
	case x < 0.8:
		return "Web"
	}
	return "Chat"
}

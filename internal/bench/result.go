package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
)

// Result is what a run measured. Its JSON is the output of --json.
type Result struct {
	Records  int `json:"records"`
	Agents   int `json:"agents"`
	Services int `json:"services"`
	// DurationS is from the first Case created to the last closed;
	// DrainS from then until the outbox was empty.
	DurationS float64 `json:"duration_s"`
	DrainS    float64 `json:"drain_s"`
	// RecordsPerS is Cases created and offered a second: from the first
	// creation to the last first offer.
	RecordsPerS float64 `json:"records_per_s"`

	// Actions are the agents' commands while the clock ran (from the
	// first Case created to the last closed), timed from request to answer.
	Actions     int64   `json:"actions"`
	ActionsPerS float64 `json:"actions_per_s"`
	ActionP50   float64 `json:"action_p50_ms"`
	ActionP95   float64 `json:"action_p95_ms"`
	ActionP99   float64 `json:"action_p99_ms"`
	ActionMax   float64 `json:"action_max_ms"`
	// SignIns are the agents making themselves available, all at once
	// before the clock starts: a shift's start, not part of the run's load.
	SignIns   int64   `json:"sign_ins"`
	SignInP50 float64 `json:"sign_in_p50_ms"`
	SignInP99 float64 `json:"sign_in_p99_ms"`
	SignInMax float64 `json:"sign_in_max_ms"`

	// BridgeActionP50 and BridgeActionP99 are the bridge's own latency
	// of the agents' actions, from its request-duration histogram: the
	// upper bound (ms) of the bucket that holds each; BridgeWithin50 is the
	// share of the actions it answered within 50 ms. Zero when not
	// measured (the bridge restarted, or its /metrics could not be read).
	// BridgeActions is how many actions the bridge answered meanwhile.
	BridgeActions   int64   `json:"bridge_actions"`
	BridgeActionP50 float64 `json:"bridge_action_p50_ms_at_most"`
	BridgeActionP99 float64 `json:"bridge_action_p99_ms_at_most"`
	BridgeWithin50  float64 `json:"bridge_actions_within_50ms"`

	RecordToOfferP50 float64 `json:"record_to_offer_p50_ms"`
	RecordToOfferP95 float64 `json:"record_to_offer_p95_ms"`
	RecordToOfferP99 float64 `json:"record_to_offer_p99_ms"`
	RecordToOfferMax float64 `json:"record_to_offer_max_ms"`

	Deferrals          int     `json:"deferrals"`
	ReopenLatenessP50  float64 `json:"reopen_lateness_p50_ms"`
	ReopenLatenessP99  float64 `json:"reopen_lateness_p99_ms"`
	ReopenLatenessMax  float64 `json:"reopen_lateness_max_ms"`
	TransfersWarm      int     `json:"transfers_warm"`
	TransfersCold      int     `json:"transfers_cold"`
	ResumedFromHistory int     `json:"resumed_from_history"`
	AuditEntries       int     `json:"audit_entries"`
	AuditTasks         int     `json:"audit_tasks"`
	Writebacks         int     `json:"writebacks"`
	Redelivered        int     `json:"redelivered_writes"`
	// FieldWrites counts, per Case field, the writes that changed it;
	// UnchangedFieldWrites the writes of a value a Case held already
	// (zero in a verified run).
	FieldWrites          map[string]int `json:"case_field_writes"`
	UnchangedFieldWrites int            `json:"unchanged_field_writes"`
	CRMCalls             int            `json:"crm_calls"`
	CRMWriteCalls        int            `json:"crm_write_calls"`
	// CRMPollCalls are the calls that only read: the polls, and the
	// writer's reads of the records it is about to update.
	CRMPollCalls        int            `json:"crm_poll_calls"`
	CRMCallsByKind      map[string]int `json:"crm_calls_by_kind"`
	CallsPer1000        float64        `json:"crm_calls_per_1000_writebacks"`
	WriteCallsPer1000   float64        `json:"crm_write_calls_per_1000_writebacks"`
	FloorPer1000        float64        `json:"floor_calls_per_1000_writebacks"`
	CollectionsPer1000  float64        `json:"one_collection_per_200_calls_per_1000_writebacks"`
	OnePerRecordPer1000 float64        `json:"one_call_per_record_calls_per_1000_writebacks"`

	PeakRSSMB float64 `json:"peak_rss_mb"`
	RSSOf     string  `json:"peak_rss_of"`
	// The CPU time the bridge's process and the bench's own (agents and
	// the local org) used while the agents worked, the cores the bridge
	// kept busy, and its share of the two; zero unless the bridge runs as
	// a child (--child) that was not restarted.
	BridgeCPUS     float64 `json:"bridge_cpu_s"`
	BenchCPUS      float64 `json:"bench_cpu_s"`
	BridgeCores    float64 `json:"bridge_cores"`
	BridgeCPUShare float64 `json:"bridge_cpu_share"`

	Errors      int64          `json:"errors"`
	ErrorKinds  map[string]int `json:"error_kinds,omitempty"`
	ErrorSample []string       `json:"error_sample,omitempty"`
	Reconnects  int64          `json:"reconnects"`
	Replayed    int64          `json:"replayed_commands"`
	// Redated counts deferrals whose due date, a few seconds ahead, had
	// passed when the bridge got them (due_by_in_past), sent again with a
	// new one: a sign of answers slower than the deferral.
	Redated    int64         `json:"redated_deferrals"`
	Faults     []string      `json:"faults,omitempty"`
	Kills      int           `json:"kills"`
	Restarts   int           `json:"restarts"`
	Downtime   time.Duration `json:"-"`
	DowntimeMS float64       `json:"restart_downtime_ms"`
	// Verified says the org was checked against what the agents did.
	Verified bool `json:"verified"`
}

// fill computes the result's figures once the run is over.
func (r *runner) fill(res *Result, org *localOrg, start, worked, drained time.Time, _ syncState) {
	o := r.o
	res.Records, res.Agents, res.Services = o.Records, o.Agents, numServices(o.Agents)
	res.DurationS = round(worked.Sub(start).Seconds(), 2)
	res.DrainS = round(drained.Sub(worked).Seconds(), 2)

	a := r.actions.Summary()
	res.Actions = int64(a.Count)
	if d := worked.Sub(start).Seconds(); d > 0 {
		res.ActionsPerS = round(float64(a.Count)/d, 1)
	}
	res.ActionP50, res.ActionP95, res.ActionP99, res.ActionMax = ms(a.P50), ms(a.P95), ms(a.P99), ms(a.Max)
	signIn := r.signIns.Summary()
	res.SignIns, res.SignInP50, res.SignInP99, res.SignInMax = int64(signIn.Count), ms(signIn.P50), ms(signIn.P99), ms(signIn.Max)

	offer := r.recordToOffer.Summary()
	res.RecordToOfferP50, res.RecordToOfferP95, res.RecordToOfferP99, res.RecordToOfferMax = ms(offer.P50), ms(offer.P95), ms(offer.P99), ms(offer.Max)
	for _, it := range r.items {
		it.mu.Lock()
		if it.deferred {
			res.Deferrals++
		}
		if it.transferred && it.plan.warm {
			res.TransfersWarm++
		}
		if it.transferred && it.plan.cold {
			res.TransfersCold++
		}
		if it.resumed {
			res.ResumedFromHistory++
		}
		it.mu.Unlock()
	}
	r.mu.Lock()
	if span := r.lastOffer.Sub(r.firstCreate); span > 0 {
		res.RecordsPerS = round(float64(offer.Count)/span.Seconds(), 1)
	}
	r.mu.Unlock()
	reopen := r.reopenLateness.Summary()
	res.ReopenLatenessP50, res.ReopenLatenessP99, res.ReopenLatenessMax = ms(reopen.P50), ms(reopen.P99), ms(reopen.Max)

	res.CRMCallsByKind = org.Calls()
	res.CRMCalls = org.Total()
	res.CRMWriteCalls = res.CRMCallsByKind[sim.CallComposite] + res.CRMCallsByKind[sim.CallCollections] + res.CRMCallsByKind[sim.CallSObject]
	res.CRMPollCalls = res.CRMCallsByKind[sim.CallCompositeQuery] + res.CRMCallsByKind[sim.CallQuery]
	if w := float64(res.Writebacks); w > 0 {
		res.CallsPer1000 = round(float64(res.CRMCalls)/w*1000, 3)
		res.WriteCallsPer1000 = round(float64(res.CRMWriteCalls)/w*1000, 3)
		res.FloorPer1000 = round(math.Ceil(w/1000)/w*1000, 3)
		res.CollectionsPer1000 = round(math.Ceil(w/200)/w*1000, 3)
		res.OnePerRecordPer1000 = 1000
	}

	res.Errors = r.nErrors.Load()
	r.mu.Lock()
	if len(r.errorKinds) > 0 {
		res.ErrorKinds = maps.Clone(r.errorKinds)
	}
	res.ErrorSample = slices.Clone(r.errorSamples)
	r.mu.Unlock()
	res.Reconnects, res.Replayed, res.Redated = r.reconnects.Load(), r.replayed.Load(), r.redated.Load()
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// WriteJSON writes the result as one JSON object.
func (res *Result) WriteJSON(w io.Writer) error {
	res.DowntimeMS = ms(res.Downtime)
	enc := json.NewEncoder(w)
	return enc.Encode(res)
}

// WriteTable writes the result as a table for people.
func (res *Result) WriteTable(w io.Writer) error {
	res.DowntimeMS = ms(res.Downtime)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{name}, args...)...)
	}
	row("records, agents (services)", "%d, %d (%d)", res.Records, res.Agents, res.Services)
	row("run, then writeback drain", "%.1f s, %.1f s", res.DurationS, res.DrainS)
	row("records ingested and offered", "%.0f/s", res.RecordsPerS)
	row("agent actions over HTTP", "%d, %.0f/s", res.Actions, res.ActionsPerS)
	row("action latency p50 / p95 / p99 / max", "%.1f / %.1f / %.1f / %.1f ms", res.ActionP50, res.ActionP95, res.ActionP99, res.ActionMax)
	if res.BridgeActionP99 > 0 {
		row("  at the bridge (its /metrics): actions; p50 / p99; within 50 ms", "%d; <= %.1f / <= %.1f ms; %.1f%%",
			res.BridgeActions, res.BridgeActionP50, res.BridgeActionP99, 100*res.BridgeWithin50)
	}
	row("agents signed in at once, before: p50 / p99 / max", "%d; %.1f / %.1f / %.1f ms", res.SignIns, res.SignInP50, res.SignInP99, res.SignInMax)
	row("record created -> offer received p50 / p95 / p99", "%.0f / %.0f / %.0f ms", res.RecordToOfferP50, res.RecordToOfferP95, res.RecordToOfferP99)
	row("deferrals (re-dated); reopen lateness p50 / p99 / max", "%d (%d); %.0f / %.0f / %.0f ms", res.Deferrals, res.Redated, res.ReopenLatenessP50, res.ReopenLatenessP99, res.ReopenLatenessMax)
	row("transfers warm / cold; resumed from History", "%d / %d; %d", res.TransfersWarm, res.TransfersCold, res.ResumedFromHistory)
	row("writebacks (record writes in the org)", "%d (%d audit Tasks for %d audit entries; %d redelivered)", res.Writebacks, res.AuditTasks, res.AuditEntries, res.Redelivered)
	row("CRM API calls (all; writes; reads: polls and reads before writes)", "%d; %d; %d", res.CRMCalls, res.CRMWriteCalls, res.CRMPollCalls)
	row("Case fields written (changed; unchanged)", "%d; %d", sumValues(res.FieldWrites), res.UnchangedFieldWrites)
	row("calls per 1000 writebacks: all / writes", "%.3f / %.3f", res.CallsPer1000, res.WriteCallsPer1000)
	row("  baselines: 1 per record / 1 per 200 / floor", "%.0f / %.3f / %.3f", res.OnePerRecordPer1000, res.CollectionsPer1000, res.FloorPer1000)
	row("peak resident memory", "%.0f MB (%s)", res.PeakRSSMB, res.RSSOf)
	if res.BridgeCPUS > 0 {
		row("CPU while agents worked: bridge; bench (agents, org)", "%.1f s (%.2f cores, %.0f%% of the two); %.1f s",
			res.BridgeCPUS, res.BridgeCores, 100*res.BridgeCPUShare, res.BenchCPUS)
	}
	if len(res.Faults) > 0 {
		row("faults injected", "%v", res.Faults)
	}
	if res.Kills > 0 {
		row("kills, restarts (downtime)", "%d, %d (%.0f ms)", res.Kills, res.Restarts, res.DowntimeMS)
	}
	row("reconnects; commands replayed after a restart", "%d; %d", res.Reconnects, res.Replayed)
	row("errors", "%d %v", res.Errors, res.ErrorKinds)
	row("org checked against the agents' work", "%v", res.Verified)
	return tw.Flush()
}

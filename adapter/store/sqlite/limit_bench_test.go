package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkStorageLimit is the storage limit of adapter.BenchmarkTransitions
// on this machine: it writes the rows that benchmark's commands write, with
// the same durability (the store's writer connection: WAL,
// synchronous=FULL, one fsynced transaction per batch) and group commit
// (at most one command of each agent per transaction: all of them, as the
// engine gathers them when every agent waits for its last command, or
// batches of 50, the engine's mean batch with 200 agents on the shared
// 2-core machine, where its callers do not all come back in time),
// through plain database/sql: prepared statements, no engine, no reads,
// no JSON encoding (the payloads are fixed strings of the engine's sizes).
// One op is one command; transitions/s counts six per round of five
// commands, as BenchmarkTransitions does.
//
// The rows of one round, from the statements the engine runs
// (adapter/store/internal/sqlstore), 32 row writes for five commands:
//
//	ingest        insert interaction, audit, event (created: adopted, local)
//	              update agent (last offer), interaction (assigned),
//	              insert timer (inactivity), audit, outbox, event
//	defer         update interaction, set timer (due), delete timer (inactivity),
//	              insert audit, outbox, event
//	resume        update interaction, delete timer (due), set timer (inactivity),
//	              insert audit, outbox, event
//	release       update interaction, set timer (wrap-up), delete timer (inactivity),
//	              insert audit, outbox, event
//	finish        update interaction, delete timer (wrap-up), insert audit, outbox, event
//
// With savepoints, each command is wrapped in SAVEPOINT/RELEASE as the
// store's Update wraps each fn: the price of every command being
// all-or-nothing on its own inside a shared transaction.
//
//	go test -run xxx -bench StorageLimit -benchtime 20000x ./adapter/store/sqlite/
func BenchmarkStorageLimit(b *testing.B) {
	for _, bc := range []struct{ agents, batch int }{{1, 1}, {200, 200}, {200, 50}} {
		for _, savepoints := range []bool{false, true} {
			b.Run(fmt.Sprintf("agents=%d/batch=%d/savepoints=%t", bc.agents, bc.batch, savepoints), func(b *testing.B) {
				writeRounds(b, bc.agents, bc.batch, savepoints)
			})
		}
	}
}

// limitStmts are the plain statements of BenchmarkStorageLimit, on the
// store's own schema.
var limitStmts = map[string]string{
	"insertInteraction": `INSERT INTO interactions (` + limitInteractionColumns + `)
		VALUES (` + strings.TrimSuffix(strings.Repeat("?, ", 30), ", ") + `)`,
	// Every column but the fixed ones (id, crm_id, crm_object, media,
	// created_at), as the store's Put writes them.
	"updateInteraction": `UPDATE interactions SET service = ?, subject = ?, priority = ?, status = ?, held = ?,
		owner = ?, due_by = ?, due_by_set_manually = ?, auto_opened_due_to_due_date = ?, resumed_from = ?,
		reopen_reason = ?, tags = ?, category = ?, transfer_note = ?, target_agent = ?, skip_agent = ?,
		wrap_up_ends_at = ?, wrap_up_extended = ?, offer_expires_at = ?, queued_at = ?, last_activity_at = ?,
		updated_at = ?, version = ?, crm_sync = ?, transferred_from = ? WHERE id = ?`,
	"updateAgent": `UPDATE agents SET last_offer_at = ? WHERE id = ?`,
	"insertAudit": `INSERT INTO audit (id, interaction_id, at, actor, action, category, from_status, to_status, message, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	"insertEvent": `INSERT INTO events (type, at, interaction_id, audience, payload) VALUES (?, ?, ?, ?, ?)`,
	"insertOutbox": `INSERT INTO outbox (interaction_id, crm_object, crm_id, kind, payload, state, attempts,
		error_code, error_message, created_at, next_attempt_at, lease_until, holder)
		VALUES (?, ?, ?, ?, ?, 'pending', 0, '', '', ?, 0, 0, '')`,
	"setTimer": `INSERT INTO timers (kind, ref, due_at) VALUES (?, ?, ?)
		ON CONFLICT (kind, ref) DO UPDATE SET due_at = excluded.due_at`,
	"deleteTimer": `DELETE FROM timers WHERE kind = ? AND ref = ?`,
	"savepoint":   `SAVEPOINT fn`,
	"release":     `RELEASE SAVEPOINT fn`,
}

const limitInteractionColumns = `id, crm_id, crm_object, media, service, subject, priority, status, held, owner,
	due_by, due_by_set_manually, auto_opened_due_to_due_date, resumed_from, reopen_reason, tags, category,
	transfer_note, target_agent, skip_agent, wrap_up_ends_at, wrap_up_extended,
	offer_expires_at, queued_at, last_activity_at, created_at, updated_at, version, crm_sync, transferred_from`

// The payloads, as long as the engine's (measured on its rows: an event
// of an interaction about 740 bytes, an outbox change about 600, the
// interaction's CRM sync state about 230).
var (
	limitEventPayload  = `{"id":0,"type":"interaction.updated","at":"2026-12-06T11:34:59.797887894Z","interaction":{"id":"int_p33dyzb04g7gwtpj","crm_id":"agent0007-12345","crm_object":"Case","media":"non-live","service":"svc-agent0007","subject":"","priority":0,"status":"completed","held":false,"owner":"agent0007","due_by":null,"due_by_was_set_manually":true,"auto_opened_due_to_due_date":false,"resumed_from":"","reopen_reason":"","tags":[],"category":"","transfer_note":"","target_agent":"","transferred_from":"","wrap_up_ends_at":null,"wrap_up_extensions":0,"offer_expires_at":null,"queued_at":null,"last_activity_at":"2026-12-06T11:34:59.797887894Z","created_at":"2026-12-06T11:34:59.792405012Z","updated_at":"2026-12-06T11:34:59.797887894Z","version":6}}`
	limitOutboxPayload = `{"writeback":{"status":"completed","owner":"agent0007","owner_crm_user_id":"","due_by":null,"due_by_was_set_manually":true,"auto_opened_due_to_due_date":false,"resumed_from":"","service":"svc-agent0007"},"audit":{"id":"aud_75sdj6qwgsfa5qxp","interaction_id":"int_p33dyzb04g7gwtpj","at":"2026-12-06T11:34:59.797887894Z","actor":"agent0007","action":"completed","category":"wrap_up","from_status":"wrap_up","to_status":"completed","message":"Wrap-up finished by agent0007"},"fields":{"due_by":null,"due_by_was_set_manually":true,"resumed_from":null,"status":"completed"}}`
	limitSync          = `{"want":{"auto_opened_due_to_due_date":false,"due_by":null,"due_by_was_set_manually":true,"resumed_from":null,"service":"svc-agent0007","status":"completed"},"dirty":["due_by","due_by_was_set_manually","resumed_from","status"]}`
)

// writeRounds runs b.N commands of the cases round, batch of them (of as
// many agents, in turn) per transaction, and reports them as
// BenchmarkTransitions does.
func writeRounds(b *testing.B, agents, batch int, savepoints bool) {
	path := filepath.Join(b.TempDir(), "limit.db")
	s, err := Open(path) // the schema
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite", writerDSN(path))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	stmts := map[string]*sql.Stmt{}
	for name, query := range limitStmts {
		if stmts[name], err = db.PrepareContext(ctx, query); err != nil {
			b.Fatalf("prepare %s: %v", name, err)
		}
	}
	for n := range agents {
		if _, err := db.ExecContext(ctx, `INSERT INTO agents (id, services, capacity, presence) VALUES (?, ?, ?, 'available')`,
			fmt.Sprintf("agent%04d", n), fmt.Sprintf(`["svc-agent%04d"]`, n), `{"live":1,"non-live":5,"semi-live":3}`); err != nil {
			b.Fatal(err)
		}
	}
	rounds := make([]limitRound, agents)
	for n := range rounds {
		rounds[n].agent = fmt.Sprintf("agent%04d", n)
	}
	var latencies []time.Duration
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	done, agent := 0, 0
	for done < b.N {
		t0 := time.Now()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		// The statements bound to the transaction, as the store keeps them.
		bound := map[string]*sql.Stmt{}
		exec := func(name string, args ...any) {
			st := bound[name]
			if st == nil {
				st = tx.Stmt(stmts[name])
				bound[name] = st
			}
			if _, err := st.Exec(args...); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
		}
		size := min(batch, b.N-done)
		for range size {
			if savepoints {
				exec("savepoint")
			}
			rounds[agent].next(exec, time.Now().UTC().UnixNano())
			agent = (agent + 1) % agents
			if savepoints {
				exec("release")
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		took := time.Since(t0)
		for range size {
			// An agent's command waits for the batch before it too: at
			// saturation, one commit on average.
			latencies = append(latencies, took)
		}
		done += size
	}
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(done)/elapsed.Seconds(), "commands/s")
	b.ReportMetric(float64(done)*6/5/elapsed.Seconds(), "transitions/s")
	b.ReportMetric(float64(latencies[(len(latencies)-1)*99/100])/float64(time.Millisecond), "commit_p99_ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(done), "cpu_us/command")
}

// processCPU is the CPU time (user and system) the process has used, as
// adapter.BenchmarkTransitions measures it.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// limitRound is one agent working the cases round: the step it is at and
// the interaction it works.
type limitRound struct {
	agent string
	step  int
	cases int
	id    string
}

// next writes the rows of the agent's next command at now (nanoseconds).
func (r *limitRound) next(exec func(stmt string, args ...any), now int64) {
	svc := "svc-" + r.agent
	hour := int64(time.Hour)
	// update writes the interaction as it is after the step.
	update := func(status, owner string, dueBy, wrapUpEnds any, version int64) {
		exec("updateInteraction", svc, "", 0, status, 0, owner, dueBy, 1, 0, "", "", "[]", "", "", "", "",
			wrapUpEnds, 0, nil, nil, now, now, version, limitSync, "", r.id)
	}
	trail := func(action, from, to, message string) {
		exec("insertAudit", fmt.Sprintf("aud_%s_%d_%d", r.agent, r.cases, r.step), r.id, now, r.agent, action,
			"status_action", from, to, message, nil)
		exec("insertOutbox", r.id, "Case", r.crmID(), "change", limitOutboxPayload, now)
		exec("insertEvent", "interaction.updated", now, r.id, `["`+r.agent+`"]`, limitEventPayload)
	}
	switch r.step {
	case 0: // ingest: created (adopted, queued), then assigned at once
		r.cases++
		r.id = fmt.Sprintf("int_%s_%d", r.agent, r.cases)
		exec("insertInteraction", r.id, r.crmID(), "Case", "non-live", svc, "", 0, "queued", 0, "",
			nil, 0, 0, "", "", "[]", "", "", "", "", nil, 0, nil, now, now, now, now, 1, limitSync, "")
		exec("insertAudit", fmt.Sprintf("aud_%s_%d_c", r.agent, r.cases), r.id, now, "system", "adopted",
			"routing", "", "queued", "Adopted from Case "+r.crmID()+" as the CRM shows it: queued", nil)
		exec("insertEvent", "interaction.created", now, r.id, `[]`, limitEventPayload)
		exec("updateAgent", now, r.agent)
		update("connected", r.agent, nil, nil, 2)
		exec("setTimer", "inactivity", r.id, now+hour)
		trail("assigned", "queued", "connected", "Assigned to "+r.agent)
	case 1: // defer
		update("deferred", r.agent, now+hour, nil, 3)
		exec("setTimer", "due_date", r.id, now+hour)
		exec("deleteTimer", "inactivity", r.id)
		trail("deferred", "connected", "deferred", "Deferred until 2026-12-06T12:34:59Z")
	case 2: // resume
		update("connected", r.agent, nil, nil, 4)
		exec("deleteTimer", "due_date", r.id)
		exec("setTimer", "inactivity", r.id, now+hour)
		trail("resumed", "deferred", "connected", "Interaction resumed by an agent")
	case 3: // release
		update("wrap_up", r.agent, nil, now+int64(10*time.Second), 5)
		exec("setTimer", "wrap_up_end", r.id, now+int64(10*time.Second))
		exec("deleteTimer", "inactivity", r.id)
		trail("released", "connected", "wrap_up", "Released by "+r.agent)
	case 4: // finish wrap-up
		update("completed", r.agent, nil, nil, 6)
		exec("deleteTimer", "wrap_up_end", r.id)
		trail("completed", "wrap_up", "completed", "Wrap-up finished by "+r.agent)
	}
	r.step = (r.step + 1) % 5
}

func (r *limitRound) crmID() string { return fmt.Sprintf("%s-%d", r.agent, r.cases) }

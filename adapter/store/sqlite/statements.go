package sqlite

import (
	"slices"
	"strings"
)

// stmtID names one prepared statement. Every statement is prepared once per
// connection (at Open for the writer, on first use for each reader) and
// reused, so the hot path never parses SQL.
type stmtID int

const (
	stmtInteraction stmtID = iota
	stmtInteractionByCRM
	stmtPutInteraction
	stmtInteractionsAll
	stmtInteractionsOwner
	stmtInteractionsStatuses
	stmtInteractionsOwnerStatuses
	stmtQueuedReserved
	stmtQueuedService
	stmtQueueStats
	stmtCountInteractions

	stmtAgent
	stmtPutAgent
	stmtPruneAgentServices
	stmtAddAgentServices
	stmtAgents
	stmtCandidates
	stmtLoads

	stmtTransfer
	stmtPutTransfer
	stmtOpenTransfers
	stmtConsult
	stmtPutConsult
	stmtOpenConsults

	stmtAppendAudit
	stmtAudit
	stmtAuditBetween
	stmtAppendEvent
	stmtEventsAfter
	stmtLastEventSeq
	stmtAppendOutbox
	stmtOutbox
	stmtClaimableOutbox
	stmtLeaseOutbox
	stmtDeleteOutbox
	stmtSettleOutbox
	stmtRetryParked
	stmtCountOutbox
	stmtWatermark
	stmtSetWatermark

	stmtSetTimer
	stmtClearTimer
	stmtTakeTimer
	stmtDueTimers
	stmtNextTimer

	stmtSavepoint
	stmtRollbackToSavepoint
	stmtReleaseSavepoint

	numStmts
)

// The column lists, in the order the scan functions read them.
const (
	interactionColumns = `id, crm_id, crm_object, media, service, subject, priority, status, held, owner,
		due_by, due_by_set_manually, auto_opened_due_to_due_date, resumed_from, reopen_reason, tags, category,
		transfer_note, target_agent, skip_agent, wrap_up_ends_at, wrap_up_extended,
		offer_expires_at, queued_at, last_activity_at, created_at, updated_at, version`
	agentColumns    = `id, name, crm_user_id, services, capacity, presence, presence_at, last_offer_at`
	transferColumns = `id, interaction_id, mode, target_agent, target_service, target_number, note,
		status, failed_reason, decline_reason, initiator, assignee, expires_at, created_at, updated_at`
	consultColumns = `id, interaction_id, initiator, target_agent, target_service, target_number,
		status, ended_reason, expires_at, created_at, updated_at`
	auditColumns  = `id, interaction_id, at, actor, action, category, from_status, to_status, message, data`
	outboxColumns = `interaction_id, crm_object, crm_id, kind, payload, state, attempts,
		error_code, error_message, created_at, next_attempt_at, lease_until`
)

// statements is the SQL of every stmtID.
var statements = [numStmts]string{
	stmtInteraction: `SELECT ` + interactionColumns + ` FROM interactions WHERE id = ?`,
	// crm_id != '' lets SQLite use the partial unique index.
	stmtInteractionByCRM: `SELECT ` + interactionColumns + ` FROM interactions
		WHERE crm_object = ? AND crm_id = ? AND crm_id != ''`,
	// An upsert rather than INSERT OR REPLACE: REPLACE would silently delete
	// another interaction holding the same CRM record, where the unique index
	// must fail the Put instead.
	// The columns fixed at insert are left out of the update, so that an
	// update never rewrites the indexes on them (the CRM key, created_at).
	stmtPutInteraction:            upsert("interactions", interactionColumns, "id", "crm_id", "crm_object", "media", "created_at"),
	stmtInteractionsAll:           interactionsQuery(false, false),
	stmtInteractionsOwner:         interactionsQuery(true, false),
	stmtInteractionsStatuses:      interactionsQuery(false, true),
	stmtInteractionsOwnerStatuses: interactionsQuery(true, true),
	// Queued is two statements, each reading its index in order and
	// stopping at the limit, so a long queue is never sorted: work reserved
	// for the agent, then, once per service, unreserved work (see tx.Queued).
	stmtQueuedReserved: `SELECT ` + interactionColumns + ` FROM interactions
		WHERE target_agent = ?1 AND target_agent != '' AND status = 'queued'
		ORDER BY priority DESC, queued_at, id
		LIMIT ?2`,
	stmtQueuedService: `SELECT ` + interactionColumns + ` FROM interactions
		WHERE status = 'queued' AND service = ?1 AND target_agent = ''
		ORDER BY priority DESC, queued_at, id
		LIMIT ?2`,
	stmtQueueStats: `SELECT service, COUNT(*), MIN(queued_at) FROM interactions
		WHERE status = 'queued' GROUP BY service`,
	// No index leads with status (one would cost every status change a
	// write): this scans interactions_owner, the narrowest index holding it.
	stmtCountInteractions: `SELECT status, COUNT(*) FROM interactions GROUP BY status`,

	stmtAgent:    `SELECT ` + agentColumns + ` FROM agents WHERE id = ?`,
	stmtPutAgent: upsert("agents", agentColumns, "id"),
	// ?1 is the agent, ?2 its services as a JSON array.
	stmtPruneAgentServices: `DELETE FROM agent_services
		WHERE agent_id = ?1 AND service NOT IN (SELECT value FROM json_each(?2))`,
	// WHERE true resolves SQLite's parsing ambiguity of INSERT ... SELECT ... ON CONFLICT.
	stmtAddAgentServices: `INSERT INTO agent_services (agent_id, service)
		SELECT ?1, value FROM json_each(?2) WHERE true
		ON CONFLICT (agent_id, service) DO NOTHING`,
	stmtAgents: `SELECT ` + agentColumns + ` FROM agents ORDER BY id`,
	// NULLS FIRST: an agent never offered anything (NULL) has waited longest.
	stmtCandidates: `SELECT ` + prefixed("a.", agentColumns) + ` FROM agent_services s
		JOIN agents a ON a.id = s.agent_id
		WHERE s.service = ? AND a.presence = 'available'
		ORDER BY a.last_offer_at NULLS FIRST, a.id`,
	// Load of the agents in ?1 (a JSON array): interactions they own whose
	// status holds capacity, and open transfers delivered to them, by media.
	stmtLoads: `SELECT owner, media, COUNT(*) FROM interactions
		WHERE owner IN (SELECT value FROM json_each(?1)) AND status IN ('offered', 'connected', 'wrap_up')
		GROUP BY owner, media
		UNION ALL
		SELECT t.assignee, i.media, COUNT(*) FROM transfers t
		JOIN interactions i ON i.id = t.interaction_id
		WHERE t.assignee IN (SELECT value FROM json_each(?1)) AND t.status IN ('initiated', 'accepted')
		GROUP BY t.assignee, i.media`,

	stmtTransfer:    `SELECT ` + transferColumns + ` FROM transfers WHERE id = ?`,
	stmtPutTransfer: upsert("transfers", transferColumns, "id"),
	stmtOpenTransfers: `SELECT ` + transferColumns + ` FROM transfers
		WHERE status IN ('initiated', 'accepted')
		AND (?1 = '' OR interaction_id = ?1)
		AND (?2 = '' OR assignee = ?2)
		AND (?3 = 0 OR assignee = '')
		ORDER BY created_at, id`,
	stmtConsult:    `SELECT ` + consultColumns + ` FROM consults WHERE id = ?`,
	stmtPutConsult: upsert("consults", consultColumns, "id"),
	stmtOpenConsults: `SELECT ` + consultColumns + ` FROM consults
		WHERE interaction_id = ? AND status != 'ended'
		ORDER BY created_at, id`,

	stmtAppendAudit: `INSERT INTO audit (` + auditColumns + `) VALUES (` + placeholders(auditColumns) + `)`,
	stmtAudit: `SELECT ` + auditColumns + ` FROM audit
		WHERE interaction_id = ? ORDER BY seq`,
	// ?1, ?2 is the (at, seq) to start after, ?3 the end of the range; the
	// row value walks the audit_at index from where the last page ended.
	stmtAuditBetween: `SELECT seq, ` + auditColumns + ` FROM audit
		WHERE (at, seq) > (?1, ?2) AND at < ?3
		ORDER BY at, seq LIMIT ?4`,
	stmtAppendEvent: `INSERT INTO events (type, at, interaction_id, audience, payload)
		VALUES (?, ?, ?, ?, ?)`,
	stmtEventsAfter: `SELECT seq, audience, payload FROM events
		WHERE seq > ? ORDER BY seq LIMIT ?`,
	stmtLastEventSeq: `SELECT COALESCE(MAX(seq), 0) FROM events`,
	stmtAppendOutbox: `INSERT INTO outbox (` + outboxColumns + `) VALUES (` + placeholders(outboxColumns) + `)`,
	stmtOutbox: `SELECT id, ` + outboxColumns + ` FROM outbox
		WHERE state = ? ORDER BY id LIMIT ?`,
	// A row is claimable when it is pending and due, or in flight under an
	// expired lease, and no earlier row of its record is parked, in flight
	// under a live lease, or waiting for its retry: a later change of a
	// record never overtakes an earlier one.
	stmtClaimableOutbox: `SELECT id, ` + outboxColumns + ` FROM outbox o
		WHERE ((o.state = 'pending' AND o.next_attempt_at <= ?1) OR (o.state = 'in_flight' AND o.lease_until <= ?1))
		AND NOT EXISTS (SELECT 1 FROM outbox p
			WHERE p.crm_object = o.crm_object AND p.crm_id = o.crm_id AND p.id < o.id
			AND (p.state = 'parked'
				OR (p.state = 'in_flight' AND p.lease_until > ?1)
				OR (p.state = 'pending' AND p.next_attempt_at > ?1)))
		ORDER BY o.id LIMIT ?2`,
	stmtLeaseOutbox: `UPDATE outbox SET state = 'in_flight', lease_until = ?1
		WHERE id IN (SELECT value FROM json_each(?2))`,
	stmtDeleteOutbox: `DELETE FROM outbox WHERE id = ? AND state = 'in_flight'`,
	stmtSettleOutbox: `UPDATE outbox SET state = ?2, attempts = ?3, next_attempt_at = ?4, lease_until = 0,
		error_code = ?5, error_message = ?6 WHERE id = ?1 AND state = 'in_flight'`,
	stmtRetryParked: `UPDATE outbox SET state = 'pending', next_attempt_at = 0, lease_until = 0
		WHERE id = ? AND state = 'parked'`,
	stmtCountOutbox: `SELECT state, COUNT(*) FROM outbox GROUP BY state`,
	stmtWatermark:   `SELECT value FROM watermarks WHERE source = ?`,
	stmtSetWatermark: `INSERT INTO watermarks (source, value) VALUES (?, ?)
		ON CONFLICT (source) DO UPDATE SET value = excluded.value`,

	stmtSetTimer: `INSERT INTO timers (kind, ref, due_at) VALUES (?, ?, ?)
		ON CONFLICT (kind, ref) DO UPDATE SET due_at = excluded.due_at`,
	stmtClearTimer: `DELETE FROM timers WHERE kind = ? AND ref = ?`,
	stmtTakeTimer:  `DELETE FROM timers WHERE kind = ? AND ref = ? AND due_at = ?`,
	stmtDueTimers: `SELECT kind, ref, due_at FROM timers
		WHERE due_at <= ? ORDER BY due_at, kind, ref LIMIT ?`,
	stmtNextTimer: `SELECT MIN(due_at) FROM timers`,

	stmtSavepoint:           `SAVEPOINT fn`,
	stmtRollbackToSavepoint: `ROLLBACK TO SAVEPOINT fn`,
	stmtReleaseSavepoint:    `RELEASE SAVEPOINT fn`,
}

// writes lists the statements that change the store; a View refuses them.
var writes = [numStmts]bool{
	stmtPutInteraction:     true,
	stmtPutAgent:           true,
	stmtPruneAgentServices: true,
	stmtAddAgentServices:   true,
	stmtPutTransfer:        true,
	stmtPutConsult:         true,
	stmtAppendAudit:        true,
	stmtAppendEvent:        true,
	stmtAppendOutbox:       true,
	stmtLeaseOutbox:        true,
	stmtDeleteOutbox:       true,
	stmtSettleOutbox:       true,
	stmtRetryParked:        true,
	stmtSetWatermark:       true,
	stmtSetTimer:           true,
	stmtClearTimer:         true,
	stmtTakeTimer:          true,
}

// interactionsQuery is the SQL of Interactions for one combination of
// filters: ?1 is the limit, ?2 the owner, ?3 the statuses as a JSON array.
// One statement per combination, rather than (?2 = ” OR owner = ?2), lets
// SQLite pick the owner index.
func interactionsQuery(owner, statuses bool) string {
	var where []string
	if owner {
		where = append(where, "owner = ?2")
	}
	if statuses {
		where = append(where, "status IN (SELECT value FROM json_each(?3))")
	}
	q := `SELECT ` + interactionColumns + ` FROM interactions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	return q + ` ORDER BY created_at, id LIMIT ?1`
}

// upsert is an INSERT of columns that replaces every column of the row
// whose key matches.
func upsert(table, columns, key string, fixed ...string) string {
	cols := columnNames(columns)
	var set []string
	for _, c := range cols {
		if c != key && !slices.Contains(fixed, c) {
			set = append(set, c+" = excluded."+c)
		}
	}
	return `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES (` + placeholders(columns) +
		`) ON CONFLICT (` + key + `) DO UPDATE SET ` + strings.Join(set, ", ")
}

// placeholders returns one ? per column.
func placeholders(columns string) string {
	n := len(columnNames(columns))
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// prefixed qualifies every column with a table alias.
func prefixed(alias, columns string) string {
	cols := columnNames(columns)
	for i, c := range cols {
		cols[i] = alias + c
	}
	return strings.Join(cols, ", ")
}

func columnNames(columns string) []string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = strings.TrimSpace(c)
	}
	return cols
}

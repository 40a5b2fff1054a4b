package postgres

import (
	"fmt"
	"slices"
	"strings"
)

// The SQL of every statement. pgx prepares each on first use on a
// connection and keeps it in the connection's statement cache, so the hot
// path never parses SQL twice. Limits are $n operands that may be NULL (no
// limit); lists are text[] parameters.

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

// queuedOrder is the order of Queued. SQLite sorts NULL first; PostgreSQL
// must be told, here and in the index that serves it.
const queuedOrder = `ORDER BY priority DESC, queued_at NULLS FIRST, id`

var (
	sqlInteraction       = `SELECT ` + interactionColumns + ` FROM interactions WHERE id = $1`
	sqlInteractionByCRM  = `SELECT ` + interactionColumns + ` FROM interactions WHERE crm_object = $1 AND crm_id = $2 AND crm_id != ''`
	sqlPutInteraction    = upsert("interactions", interactionColumns, "id", "crm_id", "crm_object", "media", "created_at")
	sqlQueuedReserved    = `SELECT ` + interactionColumns + ` FROM interactions WHERE target_agent = $1 AND target_agent != '' AND status = 'queued' ` + queuedOrder + ` LIMIT $2`
	sqlQueuedServices    = `SELECT ` + interactionColumns + ` FROM interactions WHERE status = 'queued' AND target_agent = '' AND service = ANY($1) ` + queuedOrder + ` LIMIT $2`
	sqlQueueStats        = `SELECT service, COUNT(*), MIN(queued_at) FROM interactions WHERE status = 'queued' GROUP BY service`
	sqlCountInteractions = `SELECT status, COUNT(*) FROM interactions GROUP BY status`

	sqlAgent    = `SELECT ` + agentColumns + ` FROM agents WHERE id = $1`
	sqlPutAgent = upsert("agents", agentColumns, "id")
	// $2 is never NULL (an empty array instead): NOT (service = ANY(NULL))
	// is NULL and would keep every row.
	sqlPruneAgentServices = `DELETE FROM agent_services WHERE agent_id = $1 AND NOT (service = ANY($2))`
	sqlAddAgentServices   = `INSERT INTO agent_services (agent_id, service) SELECT $1, unnest($2::text[])
		ON CONFLICT (agent_id, service) DO NOTHING`
	sqlAgents     = `SELECT ` + agentColumns + ` FROM agents ORDER BY id`
	sqlCandidates = `SELECT ` + prefixed("a.", agentColumns) + ` FROM agent_services s
		JOIN agents a ON a.id = s.agent_id
		WHERE s.service = $1 AND a.presence = 'available'
		ORDER BY a.last_offer_at NULLS FIRST, a.id`
	sqlLoads = `SELECT owner, media, COUNT(*) FROM interactions
		WHERE owner = ANY($1) AND status IN ('offered', 'connected', 'wrap_up')
		GROUP BY owner, media
		UNION ALL
		SELECT t.assignee, i.media, COUNT(*) FROM transfers t
		JOIN interactions i ON i.id = t.interaction_id
		WHERE t.assignee = ANY($1) AND t.status IN ('initiated', 'accepted')
		GROUP BY t.assignee, i.media`

	sqlTransfer      = `SELECT ` + transferColumns + ` FROM transfers WHERE id = $1`
	sqlPutTransfer   = upsert("transfers", transferColumns, "id")
	sqlOpenTransfers = `SELECT ` + transferColumns + ` FROM transfers
		WHERE status IN ('initiated', 'accepted')
		AND ($1::text = '' OR interaction_id = $1)
		AND ($2::text = '' OR assignee = $2)
		AND (NOT $3::boolean OR assignee = '')
		ORDER BY created_at NULLS FIRST, id`
	sqlConsult      = `SELECT ` + consultColumns + ` FROM consults WHERE id = $1`
	sqlPutConsult   = upsert("consults", consultColumns, "id")
	sqlOpenConsults = `SELECT ` + consultColumns + ` FROM consults
		WHERE interaction_id = $1 AND status != 'ended' ORDER BY created_at NULLS FIRST, id`

	sqlAppendAudit = `INSERT INTO audit (` + auditColumns + `) VALUES (` + placeholders(auditColumns) + `)`
	sqlAudit       = `SELECT ` + auditColumns + ` FROM audit WHERE interaction_id = $1 ORDER BY seq`
	// $1, $2 is the (at, seq) to start after, $3 the end of the range.
	sqlAuditBetween = `SELECT seq, ` + auditColumns + ` FROM audit
		WHERE (at, seq) > ($1, $2) AND at < $3 ORDER BY at, seq LIMIT $4`
	sqlAppendEvent = `INSERT INTO events (type, at, interaction_id, audience, payload)
		VALUES ($1, $2, $3, $4, $5) RETURNING seq`
	sqlEventsAfter  = `SELECT seq, audience, payload FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`
	sqlLastEventSeq = `SELECT COALESCE(MAX(seq), 0) FROM events`
	sqlAppendOutbox = `INSERT INTO outbox (` + outboxColumns + `) VALUES (` + placeholders(outboxColumns) + `) RETURNING id`
	sqlOutbox       = `SELECT id, ` + outboxColumns + ` FROM outbox WHERE state = $1 ORDER BY id LIMIT $2`
	// A row is claimable when it is pending and due, or in flight under an
	// expired lease, and no earlier row of its record is parked, in flight
	// under a live lease, or waiting for its retry: a later change of a
	// record never overtakes an earlier one. SKIP LOCKED passes over rows
	// another transaction holds rather than wait for it; under the store's
	// write lock none does, but a claim never waits on a row either way.
	// RETURNING gives the rows as leased, in no particular order.
	sqlClaimOutbox = `UPDATE outbox SET state = 'in_flight', lease_until = $2
		WHERE id IN (SELECT o.id FROM outbox o
			WHERE ((o.state = 'pending' AND o.next_attempt_at <= $1) OR (o.state = 'in_flight' AND o.lease_until <= $1))
			AND NOT EXISTS (SELECT 1 FROM outbox p
				WHERE p.crm_object = o.crm_object AND p.crm_id = o.crm_id AND p.id < o.id
				AND (p.state = 'parked'
					OR (p.state = 'in_flight' AND p.lease_until > $1)
					OR (p.state = 'pending' AND p.next_attempt_at > $1)))
			ORDER BY o.id LIMIT $3
			FOR UPDATE SKIP LOCKED)
		RETURNING id, ` + outboxColumns
	sqlDeleteOutbox = `DELETE FROM outbox WHERE id = $1 AND state = 'in_flight'`
	sqlSettleOutbox = `UPDATE outbox SET state = $2, attempts = $3, next_attempt_at = $4, lease_until = 0,
		error_code = $5, error_message = $6 WHERE id = $1 AND state = 'in_flight'`
	sqlRetryParked = `UPDATE outbox SET state = 'pending', next_attempt_at = 0, lease_until = 0
		WHERE id = $1 AND state = 'parked'`
	sqlCountOutbox  = `SELECT state, COUNT(*) FROM outbox GROUP BY state`
	sqlWatermark    = `SELECT value FROM watermarks WHERE source = $1`
	sqlSetWatermark = `INSERT INTO watermarks (source, value) VALUES ($1, $2)
		ON CONFLICT (source) DO UPDATE SET value = excluded.value`

	sqlSetTimer = `INSERT INTO timers (kind, ref, due_at) VALUES ($1, $2, $3)
		ON CONFLICT (kind, ref) DO UPDATE SET due_at = excluded.due_at`
	sqlClearTimer = `DELETE FROM timers WHERE kind = $1 AND ref = $2`
	sqlTakeTimer  = `DELETE FROM timers WHERE kind = $1 AND ref = $2 AND due_at = $3`
	sqlDueTimers  = `SELECT kind, ref, due_at FROM timers WHERE due_at <= $1 ORDER BY due_at, kind, ref LIMIT $2`
	sqlNextTimer  = `SELECT MIN(due_at) FROM timers`
)

// interactionsQuery is the SQL of Interactions for one combination of
// filters: $1 is the limit, then the owner, then the statuses (text[]).
// One statement per combination lets the planner pick the owner index.
func interactionsQuery(owner, statuses bool) string {
	var where []string
	n := 1
	if owner {
		n++
		where = append(where, fmt.Sprintf("owner = $%d", n))
	}
	if statuses {
		n++
		where = append(where, fmt.Sprintf("status = ANY($%d)", n))
	}
	q := `SELECT ` + interactionColumns + ` FROM interactions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	return q + ` ORDER BY created_at NULLS FIRST, id LIMIT $1`
}

// upsert is an INSERT of columns that replaces every column of the row
// whose key matches, except the fixed ones.
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

// placeholders returns $1, $2, ... one per column.
func placeholders(columns string) string {
	ps := make([]string, len(columnNames(columns)))
	for i := range ps {
		ps[i] = fmt.Sprintf("$%d", i+1)
	}
	return strings.Join(ps, ", ")
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

package sqlstore

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Stmt names one statement. A store runs statements by Stmt, so SQLite can
// prepare each once per connection and the hot path never parses SQL.
type Stmt int

const (
	StmtInteraction Stmt = iota
	StmtInteractionOmni
	StmtInteractionByCRM
	StmtPutInteraction
	StmtUpdateInteraction
	StmtInteractionSyncs
	StmtPutInteractionSync
	StmtInteractionsAll
	StmtInteractionsOwner
	StmtInteractionsStatuses
	StmtInteractionsOwnerStatuses
	StmtInteractionsAllNewest
	StmtInteractionsOwnerNewest
	StmtInteractionsStatusesNewest
	StmtInteractionsOwnerStatusesNewest
	StmtQueuedReserved
	StmtQueuedService
	StmtQueuedServices
	StmtQueueStats
	StmtCountInteractions
	StmtInteractionsPage
	StmtInteractionsPageOwner
	StmtCountMatching
	StmtCountMatchingOwner

	StmtAgent
	StmtPutAgent
	StmtUpdateAgentSameServices
	StmtPruneAgentServices
	StmtAddAgentServices
	StmtAgentServicesIdle
	StmtAgents
	StmtCandidate
	StmtLoad

	StmtTransfer
	StmtPutTransfer
	StmtOpenTransfers
	StmtOpenTransfersOfInteraction
	StmtOpenTransfersOfAssignee
	StmtOpenTransfersUndelivered
	StmtConsult
	StmtPutConsult
	StmtOpenConsults
	StmtEveryOpenConsult
	StmtInProgress

	StmtAppendAudit
	StmtAudit
	StmtAuditBetween
	StmtAppendEvent
	StmtEventsAfter
	StmtLastEventSeq
	StmtOldestEvents
	StmtPruneEvents
	StmtPruneAudit
	StmtAppendOutbox
	StmtOutbox
	StmtClaimOutbox
	StmtOutboxDue
	StmtOutboxNext
	StmtDeleteOutbox
	StmtSettleOutbox
	StmtRetryParked
	StmtCountOutbox
	StmtWatermark
	StmtSetWatermark
	StmtIngestFailures
	StmtAllIngestFailures
	StmtPutIngestFailure
	StmtClearIngestFailure
	StmtCountIngestFailures
	StmtPutSession
	StmtSession
	StmtRevokeSession
	StmtPruneSessions

	StmtSetTimer
	StmtClearTimer
	StmtTakeTimer
	StmtDueTimers
	StmtNextTimer

	// NumStmts counts the statements; a store may number its own (its
	// savepoints) from here on.
	NumStmts
)

// IsWrite reports whether s changes the store; a View refuses it.
func IsWrite(s Stmt) bool { return writes[s] }

var writes = [NumStmts]bool{
	StmtPutInteraction:          true,
	StmtUpdateInteraction:       true,
	StmtPutInteractionSync:      true,
	StmtPutAgent:                true,
	StmtUpdateAgentSameServices: true,
	StmtPruneAgentServices:      true,
	StmtAddAgentServices:        true,
	StmtAgentServicesIdle:       true,
	StmtPutTransfer:             true,
	StmtPutConsult:              true,
	StmtAppendAudit:             true,
	StmtAppendEvent:             true,
	StmtPruneEvents:             true,
	StmtPruneAudit:              true,
	StmtAppendOutbox:            true,
	StmtClaimOutbox:             true,
	StmtDeleteOutbox:            true,
	StmtSettleOutbox:            true,
	StmtRetryParked:             true,
	StmtSetWatermark:            true,
	StmtPutIngestFailure:        true,
	StmtClearIngestFailure:      true,
	StmtPutSession:              true,
	StmtRevokeSession:           true,
	StmtPruneSessions:           true,
	StmtSetTimer:                true,
	StmtClearTimer:              true,
	StmtTakeTimer:               true,
}

// The column lists, in the order the scan functions read them.
const (
	interactionColumns = `id, crm_id, crm_object, media, service, subject, priority, status, held, owner,
		due_by, due_by_set_manually, auto_opened_due_to_due_date, resumed_from, reopen_reason, tags, category,
		transfer_note, target_agent, skip_agent, wrap_up_ends_at, wrap_up_extended,
		offer_expires_at, queued_at, last_activity_at, created_at, updated_at, version, crm_sync, transferred_from,
		customer, connected_at, omni`
	agentColumns    = `id, name, crm_user_id, services, capacity, presence, presence_at, last_offer_at`
	transferColumns = `id, interaction_id, mode, target_agent, target_service, target_number,
		status, failed_reason, decline_reason, initiator, assignee, expires_at, created_at, updated_at, answer_in`
	consultColumns = `id, interaction_id, initiator, target_agent, target_service, target_number,
		status, ended_reason, expires_at, created_at, updated_at`
	auditColumns  = `id, interaction_id, at, actor, action, category, from_status, to_status, message, data`
	outboxColumns = `interaction_id, crm_object, crm_id, kind, payload, state, attempts,
		error_code, error_message, created_at, next_attempt_at, lease_until, holder`
	ingestFailureColumns = `source, crm_id, crm_object, reason, attempts, first_at, last_at, next_attempt_at`
)

// The statuses of interactions that hold their owner's capacity, and of
// open transfers (which hold their assignee's).
const (
	holdingStatuses      = `('offered', 'connected', 'wrap_up')`
	openTransferStatuses = `('initiated', 'accepted')`
	// overStatuses are the statuses in which an interaction is over: its
	// audit trail may be pruned.
	overStatuses = `('completed', 'abandoned')`
)

// queuedOrder is the order of Queued. NULLS FIRST is SQLite's order of
// NULL anyway; PostgreSQL must be told, here and in the index that serves
// it. (SQLite reads its indexes in order either way.)
const queuedOrder = `ORDER BY priority DESC, queued_at NULLS FIRST, id`

// Statements returns the SQL of every Stmt in dialect d. A statement d
// does not use (see Dialect.QueuedPerService) is empty.
func Statements(d *Dialect) [NumStmts]string {
	returning := func(key string) string {
		if d.Returning {
			return ` RETURNING ` + key
		}
		return ""
	}
	// What an agent ($4) may be offered of the queue: work of the media
	// in the list $3, not transferred away by it, with $5 1 not declined
	// or missed by it.
	queuedFor := d.InList("media", "$3") + ` AND ($4 = '' OR transferred_from != $4)
			AND ($5 = 0 OR skip_agent != $4)`
	var queuedService, queuedServices string
	if d.QueuedPerService {
		// One statement a service, each reading its index in order and
		// stopping at the limit, so a long queue is never sorted.
		queuedService = `SELECT ` + interactionColumns + ` FROM interactions
			WHERE status = 'queued' AND service = $1 AND target_agent = '' AND ` + queuedFor + `
			` + queuedOrder + ` LIMIT $2`
	} else {
		queuedServices = `SELECT ` + interactionColumns + ` FROM interactions
			WHERE status = 'queued' AND target_agent = '' AND ` + d.InList("service", "$1") + ` AND ` + queuedFor + `
			` + queuedOrder + ` LIMIT $2`
	}
	s := [NumStmts]string{
		StmtInteraction:     `SELECT ` + interactionColumns + ` FROM interactions WHERE id = $1`,
		StmtInteractionOmni: `SELECT omni FROM interactions WHERE id = $1`,
		// crm_id != '' lets the database use the partial unique index.
		StmtInteractionByCRM: `SELECT ` + interactionColumns + ` FROM interactions
			WHERE crm_object = $1 AND crm_id = $2 AND crm_id != ''`,
		// An upsert rather than SQLite's INSERT OR REPLACE: REPLACE would
		// silently delete another interaction holding the same CRM record,
		// where the unique index must fail the Put instead. The columns
		// fixed at insert are left out of the update, so that an update
		// never rewrites the indexes on them (the CRM key, created_at).
		StmtPutInteraction: upsert("interactions", interactionColumns, "id", interactionFixed...),
		// The upsert's DO UPDATE on its own, for a row known to exist.
		StmtUpdateInteraction: update("interactions", interactionColumns, "id", interactionFixed...),
		// The CRM writer's read and write of the one column it changes.
		StmtInteractionSyncs:          `SELECT id, crm_sync FROM interactions WHERE ` + d.InList("id", "$1"),
		StmtPutInteractionSync:        `UPDATE interactions SET crm_sync = $2 WHERE id = $1`,
		StmtInteractionsAll:           interactionsQuery(d, false, false, false),
		StmtInteractionsOwner:         interactionsQuery(d, true, false, false),
		StmtInteractionsStatuses:      interactionsQuery(d, false, true, false),
		StmtInteractionsOwnerStatuses: interactionsQuery(d, true, true, false),
		// Newest first: the History folder.
		StmtInteractionsAllNewest:           interactionsQuery(d, false, false, true),
		StmtInteractionsOwnerNewest:         interactionsQuery(d, true, false, true),
		StmtInteractionsStatusesNewest:      interactionsQuery(d, false, true, true),
		StmtInteractionsOwnerStatusesNewest: interactionsQuery(d, true, true, true),
		StmtQueuedReserved: `SELECT ` + interactionColumns + ` FROM interactions
			WHERE target_agent = $1 AND target_agent != '' AND status = 'queued' AND ` +
			d.InList("media", "$3") + ` AND ($4 = 0 OR skip_agent != $1)
			` + queuedOrder + ` LIMIT $2`,
		StmtQueuedService:  queuedService,
		StmtQueuedServices: queuedServices,
		StmtQueueStats: `SELECT service, COUNT(*), MIN(queued_at) FROM interactions
			WHERE status = 'queued' GROUP BY service`,
		// No index leads with status (one would cost every status change
		// a write): this scans the narrowest index holding it.
		StmtCountInteractions: `SELECT status, COUNT(*) FROM interactions GROUP BY status`,
		// A page of a search, or after a cursor, newest first; and the
		// count of the whole list it pages through.
		StmtInteractionsPage:      pageQuery(d, false),
		StmtInteractionsPageOwner: pageQuery(d, true),
		StmtCountMatching:         countQuery(d, false),
		StmtCountMatchingOwner:    countQuery(d, true),

		StmtAgent:    `SELECT ` + agentColumns + ` FROM agents WHERE id = $1`,
		StmtPutAgent: upsert("agents", agentColumns, "id"),
		// Every column of agent $7 whose services are still $8 (the JSON
		// list): agent_services already mirrors them.
		StmtUpdateAgentSameServices: `UPDATE agents SET name = $1, crm_user_id = $2, capacity = $3, presence = $4,
			presence_at = $5, last_offer_at = $6 WHERE id = $7 AND services = $8`,
		// $1 is the agent, $2 its services as a list.
		StmtPruneAgentServices: `DELETE FROM agent_services
			WHERE agent_id = $1 AND NOT (` + d.InList("service", "$2") + `)`,
		// WHERE true resolves SQLite's parsing ambiguity of INSERT ...
		// SELECT ... ON CONFLICT.
		StmtAddAgentServices: `INSERT INTO agent_services (agent_id, service)
			SELECT $1, value FROM ` + d.ListTable("$2") + ` WHERE true
			ON CONFLICT (agent_id, service) DO NOTHING`,
		// $1 and $2 the presence and last offer of agent $3: its rows of
		// agent_services mirror them, so that Candidate reads a service's
		// agents in the order routing picks them (agent_services_idle).
		StmtAgentServicesIdle: `UPDATE agent_services SET presence = $1, last_offer_at = $2 WHERE agent_id = $3`,
		StmtAgents:            `SELECT ` + agentColumns + ` FROM agents ORDER BY id`,
		// $1 the service, $2 the media, $3 and $5 the agents to skip, $4 1 for
		// agents holding nothing only. Room is hasRoom's rule (adapter)
		// on the load StmtLoad counts, so routing reads only the agent
		// it picks. NULLS FIRST: an agent never offered anything (NULL)
		// has waited longest. The service's available agents come in that
		// order from agent_services_idle, so the search stops at the first
		// with room instead of weighing every agent of the service. The
		// search reads agent_services alone (the capacity by a subquery):
		// joined to agents, PostgreSQL hashes the join and sorts.
		StmtCandidate: `SELECT ` + agentColumns + ` FROM agents WHERE id = (SELECT s.agent_id FROM agent_services s
			WHERE s.service = $1 AND s.presence = 'available' AND s.agent_id != $3 AND s.agent_id != $5
			AND COALESCE((SELECT ` + d.JSONInt("c.capacity", "$2") + ` FROM agents c WHERE c.id = s.agent_id), 0) >
				(SELECT COUNT(*) FROM interactions i
					WHERE i.owner = s.agent_id AND i.status IN ` + holdingStatuses + ` AND i.media = $2)
				+ (SELECT COUNT(*) FROM transfers t JOIN interactions i ON i.id = t.interaction_id
					WHERE t.assignee = s.agent_id AND t.status IN ` + openTransferStatuses + ` AND i.media = $2)
			AND ($4 = 0 OR (NOT EXISTS (SELECT 1 FROM interactions i
					WHERE i.owner = s.agent_id AND i.status IN ` + holdingStatuses + `)
				AND NOT EXISTS (SELECT 1 FROM transfers t JOIN interactions i ON i.id = t.interaction_id
					WHERE t.assignee = s.agent_id AND t.status IN ` + openTransferStatuses + `)))
			ORDER BY s.last_offer_at NULLS FIRST, s.agent_id LIMIT 1)`,
		// Load of agent $1 (and $2, the same): the media type of each
		// interaction it owns whose status holds capacity, and of each open
		// transfer delivered to it, counted by Load (a handful of rows: no
		// GROUP BY and its temporary tree). One agent by equality rather
		// than a list: each half reads its index (interactions_owner,
		// transfers_assignee) at once, the first without the table, as
		// interactions_owner holds the media type (migration 0013).
		StmtLoad: `SELECT media FROM interactions
			WHERE owner = $1 AND status IN ` + holdingStatuses + `
			UNION ALL
			SELECT i.media FROM transfers t
			JOIN interactions i ON i.id = t.interaction_id
			WHERE t.assignee = $2 AND t.status IN ` + openTransferStatuses,

		// A transfer's note is its interaction's (stored once, there).
		StmtTransfer:    transferQuery(`t.id = $1`),
		StmtPutTransfer: upsert("transfers", transferColumns, "id"),
		// $3 is 1 for undelivered transfers only. A filter of one field has
		// its own statement, which the index of that field serves: this
		// one reads every open transfer.
		StmtOpenTransfers: openTransfersQuery(`($1 = '' OR t.interaction_id = $1)
			AND ($2 = '' OR t.assignee = $2)
			AND ($3 = 0 OR t.assignee = '')`),
		StmtOpenTransfersOfInteraction: openTransfersQuery(`t.interaction_id = $1`),
		StmtOpenTransfersOfAssignee:    openTransfersQuery(`t.assignee = $1`),
		StmtOpenTransfersUndelivered:   openTransfersQuery(`t.assignee = ''`),

		StmtConsult:    `SELECT ` + consultColumns + ` FROM consults WHERE id = $1`,
		StmtPutConsult: upsert("consults", consultColumns, "id"),
		StmtOpenConsults: `SELECT ` + consultColumns + ` FROM consults
			WHERE interaction_id = $1 AND status != 'ended'
			ORDER BY created_at NULLS FIRST, id`,
		// consults_open holds the consults that have not ended, and only them.
		StmtEveryOpenConsult: `SELECT ` + consultColumns + ` FROM consults
			WHERE status != 'ended'
			ORDER BY created_at NULLS FIRST, id`,
		// Each EXISTS stops at the first row its index finds.
		StmtInProgress: `SELECT
			EXISTS (SELECT 1 FROM transfers WHERE interaction_id = $1 AND status IN ` + openTransferStatuses + `),
			EXISTS (SELECT 1 FROM consults WHERE interaction_id = $1 AND status != 'ended')`,

		StmtAppendAudit: `INSERT INTO audit (` + auditColumns + `) VALUES (` + placeholders(auditColumns) + `)`,
		StmtAudit:       `SELECT ` + auditColumns + ` FROM audit WHERE interaction_id = $1 ORDER BY seq`,
		// $1, $2 is the (at, seq) to start after, $3 the end of the range;
		// the row value walks the audit_at index from where the last page
		// ended.
		StmtAuditBetween: `SELECT seq, ` + auditColumns + ` FROM audit
			WHERE (at, seq) > ($1, $2) AND at < $3
			ORDER BY at, seq LIMIT $4`,
		StmtAppendEvent: `INSERT INTO events (type, at, interaction_id, audience, payload)
			VALUES ($1, $2, $3, $4, $5)` + returning("seq"),
		StmtEventsAfter:  `SELECT seq, audience, payload FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`,
		StmtLastEventSeq: `SELECT COALESCE(MAX(seq), 0) FROM events`,
		// The oldest events, by the primary key: a prune reads a batch's
		// worth and deletes the prefix of them that is old enough.
		StmtOldestEvents: `SELECT seq, COALESCE(at, 0) FROM events ORDER BY seq LIMIT $1`,
		StmtPruneEvents:  `DELETE FROM events WHERE seq <= $1`,
		// The oldest entries before $1 (walking the audit_at index) of
		// interactions that are over or gone: an open interaction keeps
		// its whole trail, however old.
		StmtPruneAudit: `DELETE FROM audit WHERE seq IN (SELECT a.seq FROM audit a
			WHERE a.at < $1 AND NOT EXISTS (SELECT 1 FROM interactions i
				WHERE i.id = a.interaction_id AND i.status NOT IN ` + overStatuses + `)
			ORDER BY a.at, a.seq LIMIT $2)`,
		StmtAppendOutbox: `INSERT INTO outbox (` + outboxColumns + `) VALUES (` + placeholders(outboxColumns) + `)` +
			returning("id"),
		// With each row, the first parked row of its record before it (0:
		// none): what it waits behind.
		StmtOutbox: `SELECT o.id, ` + prefixed("o.", outboxColumns) + `,
			COALESCE((SELECT MIN(p.id) FROM outbox p WHERE p.crm_object = o.crm_object AND p.crm_id = o.crm_id
				AND p.id < o.id AND p.state = 'parked'), 0)
			FROM outbox o WHERE o.state = $1 ORDER BY o.id LIMIT $2`,
		// RETURNING gives the rows as leased, in no particular order.
		StmtClaimOutbox: `UPDATE outbox SET state = 'in_flight', lease_until = $2, holder = $4
			WHERE id IN (` + claimableOutbox(d, "o.id", "$1", "$3", "$4", "$5", d.ClaimLock) + `)
			RETURNING id, ` + outboxColumns,
		// The rows StmtClaimOutbox would claim: how many, the oldest.
		StmtOutboxDue: `SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM (` +
			claimableOutbox(d, "o.id, o.created_at", "$1", "$2", "$3", "$4", "") + `) due`,
		// When the next row waiting for its retry or under a lease comes
		// free (0: none): the first of outbox_due past now, and the
		// earliest live lease of the rows in flight (a batch or a few).
		StmtOutboxNext: `SELECT COALESCE(MIN(at), 0) FROM (
			SELECT MIN(next_attempt_at) AS at FROM outbox` + d.indexedBy("outbox_due") + ` WHERE state = 'pending' AND next_attempt_at > $1
			UNION ALL SELECT MIN(lease_until) FROM outbox WHERE state = 'in_flight' AND lease_until > $1) next`,
		// The done rows of a batch, their IDs a list, in one statement.
		StmtDeleteOutbox: `DELETE FROM outbox WHERE state = 'in_flight'
			AND id IN (SELECT CAST(value AS BIGINT) FROM ` + d.ListTable("$1") + `)`,
		StmtSettleOutbox: `UPDATE outbox SET state = $2, attempts = $3, next_attempt_at = $4, lease_until = 0,
			error_code = $5, error_message = $6, payload = COALESCE($7, payload) WHERE id = $1 AND state = 'in_flight'`,
		StmtRetryParked: `UPDATE outbox SET state = 'pending', next_attempt_at = 0, lease_until = 0
			WHERE id = $1 AND state = 'parked'`,
		StmtCountOutbox: `SELECT state, COUNT(*) FROM outbox GROUP BY state`,
		StmtWatermark:   `SELECT value FROM watermarks WHERE source = $1`,
		StmtSetWatermark: `INSERT INTO watermarks (source, value) VALUES ($1, $2)
			ON CONFLICT (source) DO UPDATE SET value = excluded.value`,
		StmtIngestFailures: `SELECT ` + ingestFailureColumns + ` FROM ingest_failures
			WHERE source = $1 ORDER BY next_attempt_at, crm_id LIMIT $2`,
		StmtAllIngestFailures: `SELECT ` + ingestFailureColumns + ` FROM ingest_failures
			ORDER BY next_attempt_at, source, crm_id LIMIT $1`,
		StmtPutIngestFailure: `INSERT INTO ingest_failures (` + ingestFailureColumns + `)
			VALUES (` + placeholders(ingestFailureColumns) + `)
			ON CONFLICT (source, crm_id) DO UPDATE SET crm_object = excluded.crm_object, reason = excluded.reason,
			attempts = excluded.attempts, first_at = excluded.first_at, last_at = excluded.last_at,
			next_attempt_at = excluded.next_attempt_at`,
		StmtClearIngestFailure:  `DELETE FROM ingest_failures WHERE source = $1 AND crm_id = $2`,
		StmtCountIngestFailures: `SELECT COUNT(*) FROM ingest_failures`,
		StmtPutSession: `INSERT INTO sessions (id_hash, agent, created_at, expires_at, revoked_at)
			VALUES ($1, $2, $3, $4, 0)`,
		StmtSession:       `SELECT id_hash, agent, created_at, expires_at, revoked_at FROM sessions WHERE id_hash = $1`,
		StmtRevokeSession: `UPDATE sessions SET revoked_at = $2 WHERE id_hash = $1 AND revoked_at = 0`,
		// The sessions longest expired first, walking sessions_expires.
		StmtPruneSessions: `DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions
			WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)`,

		StmtSetTimer: `INSERT INTO timers (kind, ref, due_at) VALUES ($1, $2, $3)
			ON CONFLICT (kind, ref) DO UPDATE SET due_at = excluded.due_at`,
		StmtClearTimer: `DELETE FROM timers WHERE kind = $1 AND ref = $2`,
		StmtTakeTimer:  `DELETE FROM timers WHERE kind = $1 AND ref = $2 AND due_at = $3`,
		StmtDueTimers: `SELECT kind, ref, due_at FROM timers
			WHERE due_at <= $1 ORDER BY due_at, kind, ref LIMIT $2`,
		StmtNextTimer: `SELECT MIN(due_at) FROM timers`,
	}
	for i := range s {
		s[i] = Rebind(d, s[i])
	}
	return s
}

// Rebind rewrites the $n placeholders of query into d's. With '?', a
// query whose parameters each appear once, as $1, $2, ... in order, gets
// bare ?s: SQLite's driver looks a numbered ?n up by its name on every
// bind, which costs an allocation per parameter.
func Rebind(d *Dialect, query string) string {
	if d.Placeholder == '$' {
		return query
	}
	bare := true
	for k, n := range placeholderNumbers(query) {
		if n != strconv.Itoa(k+1) {
			bare = false
		}
	}
	var b strings.Builder
	for i := 0; i < len(query); i++ {
		if query[i] != '$' || i+1 == len(query) || !isDigit(query[i+1]) {
			b.WriteByte(query[i])
			continue
		}
		b.WriteByte(d.Placeholder)
		if bare {
			for i+1 < len(query) && isDigit(query[i+1]) {
				i++
			}
		}
	}
	return b.String()
}

// placeholderNumbers lists the n of every $n in query, in order.
func placeholderNumbers(query string) []string {
	var ns []string
	for i := 0; i < len(query); i++ {
		if query[i] != '$' {
			continue
		}
		j := i + 1
		for j < len(query) && isDigit(query[j]) {
			j++
		}
		if j > i+1 {
			ns = append(ns, query[i+1:j])
		}
		i = j - 1
	}
	return ns
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// interactionsQuery is the SQL of Interactions for one combination of
// filters and order: $1 is the limit, then the owner, then the statuses (a
// list). One statement per combination, rather than one that may match
// any owner, lets the database pick the owner index. Newest first walks an
// index of updated_at backwards (interactions_owner_updated for an owner),
// stopping at the limit, so the newest of a long history are read without
// reading the rest: DESC NULLS LAST is that walk in both databases.
func interactionsQuery(d *Dialect, owner, statuses, newest bool) string {
	var where []string
	n := 1
	if owner {
		n++
		where = append(where, fmt.Sprintf("owner = $%d", n))
	}
	if statuses {
		n++
		where = append(where, d.InList("status", fmt.Sprintf("$%d", n)))
	}
	q := `SELECT ` + interactionColumns + ` FROM interactions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	if newest {
		return q + ` ORDER BY updated_at DESC NULLS LAST, id DESC LIMIT $1`
	}
	return q + ` ORDER BY created_at NULLS FIRST, id LIMIT $1`
}

// pageQuery is the SQL of a page of interactions, newest first, that
// match a search or come after a cursor: $1 is the limit, $2 the statuses
// (a list), $3 the search (searchCondition), a cursor when $4 is 1
// (updated_at $5, id $6), and $7 the owner.
func pageQuery(d *Dialect, owner bool) string {
	q := `SELECT ` + interactionColumns + ` FROM interactions WHERE ` + d.InList("status", "$2") + ` AND ` +
		searchCondition("$3") + ` AND ($4 = 0 OR updated_at < $5 OR (updated_at = $5 AND id < $6))`
	if owner {
		q += ` AND owner = $7`
	}
	return q + ` ORDER BY updated_at DESC NULLS LAST, id DESC LIMIT $1`
}

// countQuery is the SQL that counts the interactions of the statuses $1
// (a list) that match the search $2 (searchCondition), with $3 the owner.
func countQuery(d *Dialect, owner bool) string {
	q := `SELECT COUNT(*) FROM interactions WHERE ` + d.InList("status", "$1") + ` AND ` + searchCondition("$2")
	if owner {
		q += ` AND owner = $3`
	}
	return q
}

// searchCondition holds when the search param, a lowercase LIKE pattern
// (” for no search), matches the subject, CRM id or category.
func searchCondition(param string) string {
	like := func(col string) string { return `lower(` + col + `) LIKE ` + param + ` ESCAPE '\'` }
	return `(` + param + ` = '' OR ` + like("subject") + ` OR ` + like("crm_id") + ` OR ` + like("category") + `)`
}

// transferQuery reads the transfers that match where (over the alias t),
// each with its interaction's note.
func transferQuery(where string) string {
	return `SELECT ` + prefixed("t.", transferColumns) + `, i.transfer_note FROM transfers t
		LEFT JOIN interactions i ON i.id = t.interaction_id WHERE ` + where
}

// indexedBy is d.IndexedBy(index), or nothing.
func (d *Dialect) indexedBy(index string) string {
	if d.IndexedBy == nil {
		return ""
	}
	return d.IndexedBy(index)
}

// claimableOutbox selects the columns (of outbox row o) of the first
// limit rows, by ID, that a writer may claim at now (a placeholder, as are
// the others): pending and due, or in flight under an expired lease or
// leased to the claiming holder (its own row, left from before a restart)
// until ownBy at the latest, and no earlier row of its record is parked,
// in flight under another holder's live lease, or waiting for its retry:
// a later change of a record never overtakes an earlier one. lock ends
// the select (the claim's d.ClaimLock; the count takes no lock).
//
// The claimable rows are read in three disjoint parts, each in ID order
// and cut to the limit, then merged and cut to it again: the first limit
// rows of the three lists are the first limit rows of all. Pending rows
// never tried (next_attempt_at 0) are read through outbox_due
// (next_attempt_at, id), which keeps them in ID order, stopping at the
// limit. Pending rows due for a retry are the range of outbox_due up to
// now, their IDs read from the index alone and sorted, then walked in ID
// order to the limit: the rows still waiting for their retry lie beyond
// the range and are not read. Rows in flight are walked through
// outbox_state (state, id). One condition over all of them makes the
// database read every pending row (in a CRM outage, every row waiting
// for its retry) or check every due row before it sorts them.
//
// FOR UPDATE cannot sit on a UNION: with a lock, the merged list is only
// the candidates, and an outer select locks them and checks them again,
// so that a row another writer claimed since is left.
func claimableOutbox(d *Dialect, columns, now, limit, holder, ownBy, lock string) string {
	r := strings.NewReplacer("$now", now, "$holder", holder, "$ownBy", ownBy)
	pending := r.Replace(`o.state = 'pending' AND o.next_attempt_at <= $now`)
	inFlight := r.Replace(`o.state = 'in_flight' AND (o.lease_until <= $now OR (o.holder = $holder AND o.lease_until <= $ownBy))`)
	// The earlier rows are found through outbox_record alone: a CASE, not
	// an OR of states, so that a planner whose statistics are out of date
	// (PostgreSQL's, in a burst of writes) cannot read every earlier row
	// through outbox_state and outbox_due once and join them all to each
	// row.
	unblocked := r.Replace(`NOT EXISTS (SELECT 1 FROM outbox p
			WHERE p.crm_object = o.crm_object AND p.crm_id = o.crm_id AND p.id < o.id
			AND CASE p.state WHEN 'parked' THEN TRUE
				WHEN 'in_flight' THEN p.lease_until > $now AND (p.holder != $holder OR p.lease_until > $ownBy)
				WHEN 'pending' THEN p.next_attempt_at > $now
				ELSE FALSE END)`)
	// first selects the first limit unblocked rows of from, a table or a
	// join of outbox o, that match where, a condition.
	first := func(columns, from, where string) string {
		return `SELECT ` + columns + ` FROM ` + from + ` WHERE ` + where + ` AND ` + unblocked + `
			ORDER BY o.id LIMIT ` + limit
	}
	// Never tried: outbox_due in ID order. Due for a retry: their IDs,
	// read from outbox_due alone, sorted, then walked in ID order. SQLite
	// walks an IN list in order; PostgreSQL would check every row of one
	// before it sorts them, so it joins the sorted IDs instead (SQLite
	// would flatten that join into a check of every due row before a
	// sort). next_attempt_at is 0 or a time after 1970, never negative, so
	// the two parts are every pending row due at now.
	fresh := first(columns, `outbox o`+d.indexedBy("outbox_due"), `o.state = 'pending' AND o.next_attempt_at = 0`)
	dueIDs := r.Replace(`SELECT id FROM outbox` + d.indexedBy("outbox_due") + `
			WHERE state = 'pending' AND next_attempt_at > 0 AND next_attempt_at <= $now`)
	retries := first(columns, `(`+dueIDs+` ORDER BY id) due JOIN outbox o ON o.id = due.id`, `TRUE`)
	if d.ClaimInOrder {
		retries = first(columns, `outbox o`, `o.id IN (`+dueIDs+`)`)
	}
	merged := `SELECT * FROM (` + fresh + `) fresh
		UNION ALL SELECT * FROM (` + retries + `) retries
		UNION ALL SELECT * FROM (` + first(columns, `outbox o`, inFlight) + `) in_flight
		ORDER BY id LIMIT ` + limit
	if lock == "" {
		return merged
	}
	candidates := claimableOutbox(d, "o.id", now, limit, holder, ownBy, "")
	return first(columns, `outbox o`, `o.id = ANY(ARRAY(SELECT id FROM (`+candidates+`) candidates))
			AND ((`+pending+`) OR (`+inFlight+`))`) + ` ` + lock
}

// openTransfersQuery is the SQL of OpenTransfers for the condition where.
func openTransfersQuery(where string) string {
	return transferQuery(`t.status IN `+openTransferStatuses+` AND `+where) + `
		ORDER BY t.created_at NULLS FIRST, t.id`
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

// update is the UPDATE of table's row whose key is the last parameter:
// every column but the key and the fixed ones, as upsert's DO UPDATE sets
// them, numbered in the order of columns (see updateArgs).
func update(table, columns, key string, fixed ...string) string {
	var set []string
	for _, c := range columnNames(columns) {
		if c != key && !slices.Contains(fixed, c) {
			set = append(set, fmt.Sprintf("%s = $%d", c, len(set)+1))
		}
	}
	return `UPDATE ` + table + ` SET ` + strings.Join(set, ", ") + ` WHERE ` + key + fmt.Sprintf(" = $%d", len(set)+1)
}

// updateOrder is the order of update's parameters: for each, the index
// in columns (the order of upsert's parameters) of its column; the
// columns update sets, then the key.
func updateOrder(columns, key string, fixed ...string) []int {
	var order []int
	keyAt := -1
	for k, c := range columnNames(columns) {
		switch {
		case c == key:
			keyAt = k
		case !slices.Contains(fixed, c):
			order = append(order, k)
		}
	}
	return append(order, keyAt)
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

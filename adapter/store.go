package adapter

import (
	"context"
	"math"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// MaxTime is the latest time a Store holds: the stores keep times as
// nanoseconds since the Unix epoch in an int64 (time.Time.UnixNano), which
// ends on 2262-04-11. The engine refuses a later due date from a client
// (DueByOutOfRangeError) and reads a later one from the CRM as MaxTime,
// rather than fail in the store.
var MaxTime = time.Unix(0, math.MaxInt64).UTC()

// Store is the single authority for ctibridge's state: interactions, agents'
// presence, transfers, consults, audit, events, outbox and timers. Nothing
// the engine decides is held only in process memory, so several engines may
// share one store.
type Store interface {
	// Update runs every fn in one transaction, in order, each isolated by a
	// savepoint: a fn that returns an error leaves no change behind and its
	// error is returned in errs at its index, while the others commit
	// together (group commit). If the transaction cannot commit, err is
	// non-nil and no fn's changes are applied. Update serialises with every
	// other Update on the same store, in this process and in others. It is
	// safe for concurrent use; fns must not retain tx. A store may run the
	// fns of an Update more than once (rolled back whole in between, so
	// each run starts from what the store held): a fn's effects outside
	// tx must be ones its last run overwrites.
	Update(ctx context.Context, fns []func(Tx) error) (errs []error, err error)
	// View runs fn against a consistent read-only snapshot; writes through
	// tx fail. Safe for concurrent use, and never blocked by Update.
	View(ctx context.Context, fn func(Tx) error) error
	// Close releases the store. Calls after Close fail.
	Close() error
}

// UpdateOne runs fn in its own Update and returns its error or the
// transaction's.
func UpdateOne(ctx context.Context, s Store, fn func(Tx) error) error {
	errs, err := s.Update(ctx, []func(Tx) error{fn})
	if err != nil {
		return err
	}
	return errs[0]
}

// Tx reads and writes the store inside one Update or View. Lookups of a
// missing row return an error wrapping ErrNotFound. Returned values are
// copies the caller may change; they reach the store only through a Put.
type Tx interface {
	Interaction(id string) (*contactpad.Interaction, error)
	InteractionByCRM(object, crmID string) (*contactpad.Interaction, error)
	// Omni is the interaction's Omni-Channel routing (nil when it has none)
	// without the rest of its row. Events do not keep it.
	Omni(id string) (*contactpad.OmniRouting, error)
	// PutInteraction inserts the interaction or updates the row with its ID.
	// CRMID, CRMObject, Media and CreatedAt are fixed at insert; an update
	// keeps the stored values. The (CRMObject, CRMID) pair is unique when
	// CRMID is not empty.
	PutInteraction(i *contactpad.Interaction) error
	// InteractionSyncs reads the CRM sync state (Interaction.Sync) of the
	// interactions ids, by ID, and nothing else of them; one the store
	// does not hold is left out. The CRM writer reads it for every row it
	// claims, in the transaction that makes the call ready.
	InteractionSyncs(ids []string) (map[string]*contactpad.RecordSync, error)
	// PutInteractionSync stores s as the CRM sync state of interaction
	// id and changes nothing else of it (not Version, not UpdatedAt: what
	// the writer sends and the CRM takes is no change of the interaction).
	// An id the store does not hold is no error and changes nothing.
	PutInteractionSync(id string, s *contactpad.RecordSync) error
	// Interactions lists interactions matching f, oldest first.
	Interactions(f InteractionFilter) ([]*contactpad.Interaction, error)
	// CountInteractions counts the interactions matching f's Owner,
	// Statuses and Search (not its Before or Limit): the true size of a
	// list that Interactions returns page by page.
	CountInteractions(f InteractionFilter) (int, error)
	// Queued lists the queued interactions that routing may offer to
	// q.Agent: those reserved for it (TargetAgent == q.Agent) first, then
	// unreserved ones of q.Services, higher Priority first, then longest
	// waiting (QueuedAt), then ID; only of q.Media, never one the agent
	// transferred away (TransferredFrom), with q.Skip none it declined or
	// missed (SkipAgent). At most q.Limit (<= 0: all).
	Queued(q QueuedQuery) ([]*contactpad.Interaction, error)
	// QueueStats returns the number of queued interactions per service and
	// the oldest QueuedAt among them.
	QueueStats() (map[string]QueueStat, error)
	// Counts counts the interactions by status, the outbox rows by state
	// (done rows are deleted, so never counted) and the ingest failures. A
	// status or state with no rows may be absent; the maps are never nil.
	Counts() (Counts, error)

	Agent(id string) (*contactpad.Agent, error)
	// PutAgent inserts the agent or replaces the row with its ID.
	PutAgent(a *contactpad.Agent) error
	// Agents lists every agent by ID.
	Agents() ([]*contactpad.Agent, error)
	// Candidate returns the agent routing offers one more interaction of
	// q.Media of q.Service to: of the agents whose presence is available,
	// who serve q.Service, are not q.Skip and have room for it (their
	// Load of q.Media below their Capacity of it and, with q.Idle, no Load
	// at all), the one longest since LastOfferAt (never offered anything
	// first), then by ID. With nobody to offer to it returns an error
	// wrapping ErrNotFound. The store decides in one query, so routing
	// reads one agent rather than every agent of the service and its load.
	Candidate(q CandidateQuery) (*contactpad.Agent, error)
	// Load counts what the agent holds per media type: interactions it owns
	// whose status holds capacity (offered, connected, wrap_up) plus open
	// transfers delivered to it (Assignee == agent, initiated or accepted),
	// counted by the interaction's media.
	Load(agent string) (contactpad.Capacity, error)

	Transfer(id string) (*contactpad.Transfer, error)
	PutTransfer(t *contactpad.Transfer) error
	// OpenTransfers lists transfers in status initiated or accepted that
	// match f, oldest first.
	OpenTransfers(f TransferFilter) ([]*contactpad.Transfer, error)

	Consult(id string) (*contactpad.Consult, error)
	PutConsult(c *contactpad.Consult) error
	// OpenConsults lists the interaction's consults that have not ended,
	// oldest first; every interaction's when interactionID is "".
	OpenConsults(interactionID string) ([]*contactpad.Consult, error)
	// InProgress reports whether the interaction has an open transfer (as
	// OpenTransfers lists) and an open consult (as OpenConsults lists), in
	// one query: what a view or a guard needs to know, without the rows.
	InProgress(interactionID string) (InProgress, error)

	// AppendAudit stores an audit entry; entries of one interaction are
	// returned in the order they were appended.
	AppendAudit(e *contactpad.AuditEntry) error
	Audit(interactionID string) ([]contactpad.AuditEntry, error)
	// AuditBetween pages through the audit entries of every interaction
	// with from <= At < to (a zero from or to leaves that side open), by At
	// and, among entries with the same At, in the order they were
	// appended. It returns at most limit entries (all when limit <= 0)
	// that come after the cursor after (the zero AuditCursor: from the
	// start), and the cursor of the last one returned (after itself when
	// none is). A page shorter than limit is the last; passing next back
	// reads on, and what was appended meanwhile at an earlier At is not
	// seen: page inside one View for a consistent read.
	AuditBetween(from, to time.Time, after AuditCursor, limit int) (entries []contactpad.AuditEntry, next AuditCursor, err error)

	// AppendEvent stores the event and sets its Seq, which increases with
	// every committed event of the store.
	AppendEvent(e *Event) error
	// EventsAfter returns committed events with Seq > after, by Seq, at most limit.
	EventsAfter(after int64, limit int) ([]Event, error)
	// LastEventSeq returns the Seq of the last committed event, 0 if none.
	LastEventSeq() (int64, error)

	// PruneEvents deletes the oldest events, at most limit (all when
	// limit <= 0): those from before before, in Seq order up to the first
	// that is not, and never the last event (LastEventSeq stays where it
	// was). What it deletes is always a prefix of the log: it returns how
	// many events it deleted and the Seq of the last of them (0 when none),
	// every event up to which is gone.
	PruneEvents(before time.Time, limit int) (deleted int, through int64, err error)
	// PruneAudit deletes the oldest audit entries from before before, at
	// most limit (all when limit <= 0), except those of interactions that
	// are not over (completed or abandoned): an open or deferred
	// interaction keeps its whole trail. An entry of an interaction the
	// store does not hold may go. It returns how many it deleted.
	PruneAudit(before time.Time, limit int) (deleted int, err error)

	// AppendOutbox stores a writeback row and sets its ID, which increases
	// with every row of the store (rows of one record are ordered by ID).
	AppendOutbox(r *OutboxRow) error
	// Outbox lists outbox rows in the given state by ID, at most limit.
	Outbox(state OutboxState, limit int) ([]OutboxRow, error)
	// ClaimOutbox moves up to limit rows to in_flight, leased to q.Holder
	// until q.LeaseUntil, and returns them by ID. It claims rows that are
	// pending with NextAttemptAt <= q.Now, or in flight with a lease
	// expired by q.Now, or leased to q.Holder with a lease that ends by
	// q.OwnBy (a holder runs one writer at a time, so those are its own,
	// left from before a restart), but never a row while an earlier row
	// of the same CRM record is parked, in flight under a live lease it
	// may not take, or waiting for a retry: a later change of a record
	// never overtakes an earlier one.
	ClaimOutbox(q ClaimQuery) ([]OutboxRow, error)
	// OutboxDue tells what ClaimOutbox(q) would claim now, without
	// claiming it (q.LeaseUntil is not used): how many rows, at most
	// q.Limit, and the oldest CreatedAt among them; and when the next row
	// that is not claimable yet becomes so by itself. The writer decides
	// from it whether a batch is worth a CRM call yet, and how long to
	// sleep.
	OutboxDue(q ClaimQuery) (OutboxDue, error)
	// FinishOutbox settles claimed rows by their State: done rows are
	// deleted; pending rows wait for NextAttemptAt; parked rows wait for an
	// admin. Attempts, the error fields and the Payload (unless nil) are
	// stored as given: the writer drops from a row the writes the CRM
	// took (PartlyWrittenError). Rows no
	// longer in flight (another writer took them over) are left alone.
	FinishOutbox(rows []OutboxRow) error
	// RetryParked makes a parked row pending again (an admin re-drives it).
	RetryParked(id int64) error

	// IngestFailures lists the records of a CRM source (every source when
	// source is "") that could not be ingested, by NextAttemptAt, at most
	// limit.
	IngestFailures(source string, limit int) ([]IngestFailure, error)
	// PutIngestFailure stores the failure of a record, replacing the one
	// of the same Source and CRMID.
	PutIngestFailure(f *IngestFailure) error
	// ClearIngestFailure removes the failure of a record, if any.
	ClearIngestFailure(source, crmID string) error

	// Watermark returns how far a CRM source has been read ("" at first).
	Watermark(source string) (string, error)
	// SetWatermark stores how far a CRM source has been read.
	SetWatermark(source, value string) error

	// PutSession stores a new panel session; a session with the same
	// IDHash is an error.
	PutSession(s *Session) error
	// Session returns the session whose id hashes to idHash, revoked or
	// expired ones too (the caller decides); ErrNotFound if none.
	Session(idHash string) (*Session, error)
	// RevokeSession marks the session signed out at at. It reports
	// whether this call revoked it: false when it was revoked already or
	// does not exist, so a single-use ticket is spent once.
	RevokeSession(idHash string, at time.Time) (bool, error)
	// PruneSessions deletes at most limit sessions that expired before
	// before (limit <= 0: all of them) and returns how many it deleted.
	PruneSessions(before time.Time, limit int) (int, error)

	// SetTimer arms the timer, replacing any timer of the same Kind and Ref.
	SetTimer(t Timer) error
	// ClearTimer removes the timer of kind and ref, if any.
	ClearTimer(kind TimerKind, ref string) error
	// TakeTimer removes t if a timer of its Kind and Ref is armed with the
	// same DueAt, and reports whether it did: a timer that was cleared or
	// re-armed since it was read must not fire.
	TakeTimer(t Timer) (bool, error)
	// DueTimers lists armed timers with DueAt <= now, earliest first, at most limit.
	DueTimers(now time.Time, limit int) ([]Timer, error)
	// NextTimer returns the earliest DueAt of any armed timer; ok is false
	// when none is armed.
	NextTimer() (due time.Time, ok bool, err error)
}

// InteractionFilter selects interactions; zero fields match everything.
type InteractionFilter struct {
	Owner    string
	Statuses []contactpad.Status
	Limit    int
	// Newest lists the most recently updated first (by UpdatedAt, then ID,
	// both descending; a zero UpdatedAt last) instead of oldest first, so
	// that Limit keeps the newest (the History folder).
	Newest bool
	// Search keeps the interactions whose subject, CRM id or category
	// contains it, ignoring case (of ASCII letters in every store).
	Search string
	// Before, with Newest, keeps those that come after it in that order:
	// updated before Before.UpdatedAt, or then with a smaller ID. A page
	// ends where the next begins, however many were updated meanwhile.
	Before *InteractionCursor
}

// InteractionCursor is where a page of interactions, newest first, ended:
// the UpdatedAt and ID of its last interaction.
type InteractionCursor struct {
	UpdatedAt time.Time
	ID        string
}

// TransferFilter selects open transfers; zero fields match everything.
type TransferFilter struct {
	InteractionID string
	// Assignee matches the agent a transfer was delivered to.
	Assignee string
	// Undelivered matches transfers not yet delivered to anyone.
	Undelivered bool
}

// QueueStat is the state of one service's queue.
type QueueStat struct {
	Size         int
	OldestQueued time.Time
}

// Counts is how many interactions are in each status, how many outbox
// rows in each state and how many records failed to be ingested, for
// metrics.
type Counts struct {
	Interactions   map[contactpad.Status]int
	Outbox         map[OutboxState]int
	IngestFailures int
}

// IngestFailure is a CRM record a source read that could not become (or
// update) an interaction: its mapping could not map it, or the engine
// refused it. The poll reads it again at NextAttemptAt, until it goes in.
type IngestFailure struct {
	Source    string `json:"source"`
	CRMObject string `json:"crm_object"`
	CRMID     string `json:"crm_id"`
	// Reason says what was wrong, naming the mapping's rule or field.
	Reason        string    `json:"reason"`
	Attempts      int       `json:"attempts"`
	FirstAt       time.Time `json:"first_at"`
	LastAt        time.Time `json:"last_at"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
}

// AuditCursor is a position in the audit log in the order of
// Tx.AuditBetween: an entry's At and the store's append sequence of it.
// Callers pass back what AuditBetween returned and do not make their own.
type AuditCursor struct {
	At  time.Time
	Seq int64
}

// ClaimQuery asks Tx.ClaimOutbox for the rows a writer may write now.
type ClaimQuery struct {
	Now, LeaseUntil time.Time
	Limit           int
	Holder          string
	// OwnBy: the holder's own in-flight rows are claimed again when
	// their lease ends by OwnBy (claimed long enough ago that a request
	// its writer sent before it died is done); zero: when it expires.
	OwnBy time.Time
}

// OutboxDue is what Tx.OutboxDue finds.
type OutboxDue struct {
	// Rows is how many rows ClaimOutbox would claim now.
	Rows int
	// Oldest is the earliest CreatedAt among those rows (zero when none,
	// or when a row has no CreatedAt).
	Oldest time.Time
	// Next is the earliest time after the query's Now at which a row
	// waiting for its retry (NextAttemptAt) or under a lease (LeaseUntil)
	// comes free; zero when none waits. A holder's own rows may come free
	// earlier (ClaimQuery.OwnBy).
	Next time.Time
}

// QueuedQuery asks Tx.Queued for the work routing may offer an agent.
type QueuedQuery struct {
	Agent    string
	Services []string
	// Media are the media types the agent has room for; nil is all.
	Media []contactpad.Media
	// Skip leaves out the work the agent declined or missed.
	Skip  bool
	Limit int
}

// CandidateQuery asks Tx.Candidate for an agent with room for one more
// interaction.
type CandidateQuery struct {
	Service string
	Media   contactpad.Media
	// Skip names an agent not to pick (who just declined or missed the
	// work); empty skips nobody.
	Skip string
	// Sender names the agent who transferred the work away: not picked
	// either until another agent has taken it.
	Sender string
	// Idle picks only agents who hold nothing (the release-all-before-next
	// policy).
	Idle bool
}

// Session is an agent's sign-in to the panel (Sign in with Salesforce),
// shared by the replicas through the store.
type Session struct {
	// IDHash is the hex SHA-256 of the session's secret id: the store
	// never holds the id itself.
	IDHash string
	// Agent is the agent the session acts as.
	Agent string
	// CreatedAt is when it was signed in; ExpiresAt when it stops working.
	CreatedAt, ExpiresAt time.Time
	// RevokedAt is when it was signed out; zero while it was not.
	RevokedAt time.Time
}

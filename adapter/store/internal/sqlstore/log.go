package sqlstore

import (
	"cmp"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// The append-only tables: audit, events and the outbox.

func (t *Tx) AppendAudit(a *contactpad.AuditEntry) error {
	var e encoder
	args := [...]any{
		a.ID, a.InteractionID, e.time("at", a.At), a.Actor, a.Action, a.Category,
		string(a.FromStatus), string(a.ToStatus), a.Message, e.json("data", a.Data, a.Data == nil),
	}
	if e.err != nil {
		return fmt.Errorf("append audit of %s: %w", a.InteractionID, e.err)
	}
	return t.write(StmtAppendAudit, args[:]...)
}

func (t *Tx) Audit(interactionID string) ([]contactpad.AuditEntry, error) {
	rows, err := t.query(StmtAudit, interactionID)
	if err != nil {
		return nil, fmt.Errorf("audit of %s: %w", interactionID, err)
	}
	entries, err := scanAll(rows, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("audit of %s: %w", interactionID, err)
	}
	return entries, nil
}

// AuditBetween walks the audit_at index from the later of from and after.
// The zero time is before minTime, so a zero from (and a zero cursor)
// encodes as the smallest int64: open below.
func (t *Tx) AuditBetween(from, to time.Time, after adapter.AuditCursor, limit int) ([]contactpad.AuditEntry, adapter.AuditCursor, error) {
	startAt, startSeq := boundTime(from), int64(math.MinInt64)
	if at := boundTime(after.At); at > startAt || (at == startAt && after.Seq > startSeq) {
		startAt, startSeq = at, after.Seq
	}
	end := int64(math.MaxInt64)
	if !to.IsZero() {
		end = boundTime(to)
	}
	rows, err := t.query(StmtAuditBetween, startAt, startSeq, end, t.limit(limit))
	if err != nil {
		return nil, after, fmt.Errorf("audit between %s and %s: %w", from, to, err)
	}
	next := after
	entries, err := scanAll(rows, func(sc scanner) (contactpad.AuditEntry, error) {
		var seq int64
		a, err := scanAudit(seqScanner{sc, &seq})
		next = adapter.AuditCursor{At: a.At, Seq: seq}
		return a, err
	})
	if err != nil {
		return nil, after, fmt.Errorf("audit between %s and %s: %w", from, to, err)
	}
	return entries, next, nil
}

// seqScanner scans a leading seq column into seq and hands the rest on.
type seqScanner struct {
	sc  scanner
	seq *int64
}

func (s seqScanner) Scan(dest ...any) error {
	return s.sc.Scan(append([]any{s.seq}, dest...)...)
}

// scanAudit reads the columns of auditColumns.
func scanAudit(sc scanner) (contactpad.AuditEntry, error) {
	var (
		a                    contactpad.AuditEntry
		fromStatus, toStatus string
		at, data             any
	)
	if err := sc.Scan(&a.ID, &a.InteractionID, &at, &a.Actor, &a.Action, &a.Category,
		&fromStatus, &toStatus, &a.Message, &data); err != nil {
		return a, err
	}
	var d decoder
	a.At = d.time("at", at)
	a.FromStatus, a.ToStatus = contactpad.Status(fromStatus), contactpad.Status(toStatus)
	d.json("data", data, &a.Data)
	if d.err != nil {
		return a, fmt.Errorf("audit entry %s: %w", a.ID, d.err)
	}
	return a, nil
}

// AppendEvent stores the whole event as JSON, its Audience (which the
// event's JSON leaves out) in a column of its own, and sets e.Seq from the
// events table's generated key. e.At is stored in UTC.
func (t *Tx) AppendEvent(e *adapter.Event) error {
	if !t.writable {
		return fmt.Errorf("append event %s: %w", e.Type, ErrReadOnly)
	}
	var (
		enc encoder
		err error
	)
	stored := *e
	stored.Seq = 0
	stored.At = e.At.UTC()
	// The payload's bytes are copied into the string argument, so the
	// buffer serves the next event.
	t.eventBuf, err = appendEventJSON(t.eventBuf[:0], &stored)
	if err != nil {
		return fmt.Errorf("append event %s: %w", e.Type, err)
	}
	args := [...]any{
		string(e.Type), enc.time("at", e.At), eventInteractionID(e),
		enc.json("audience", e.Audience, e.Audience == nil), string(t.eventBuf),
	}
	if enc.err != nil {
		return fmt.Errorf("append event %s: %w", e.Type, enc.err)
	}
	seq, err := t.insertKey(StmtAppendEvent, args[:]...)
	if err != nil {
		return err
	}
	e.Seq, t.eventSeq = seq, seq
	return nil
}

// eventInteractionID is the interaction an event is about, if any.
func eventInteractionID(e *adapter.Event) string {
	switch {
	case e.Interaction != nil:
		return e.Interaction.ID
	case e.Transfer != nil:
		return e.Transfer.InteractionID
	case e.Consult != nil:
		return e.Consult.InteractionID
	}
	return ""
}

func (t *Tx) EventsAfter(after int64, limit int) ([]adapter.Event, error) {
	rows, err := t.query(StmtEventsAfter, after, t.limit(limit))
	if err != nil {
		return nil, fmt.Errorf("events after %d: %w", after, err)
	}
	events, err := scanAll(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("events after %d: %w", after, err)
	}
	return events, nil
}

func (t *Tx) LastEventSeq() (int64, error) {
	var seq int64
	if err := t.queryRow(StmtLastEventSeq).Scan(&seq); err != nil {
		return 0, fmt.Errorf("last event: %w", err)
	}
	return seq, nil
}

// PruneEvents reads the oldest limit events by seq and deletes the prefix
// of them from before before, short of the last event.
func (t *Tx) PruneEvents(before time.Time, limit int) (int, int64, error) {
	last, err := t.LastEventSeq()
	if err != nil {
		return 0, 0, fmt.Errorf("prune events: %w", err)
	}
	rows, err := t.query(StmtOldestEvents, t.limit(limit))
	if err != nil {
		return 0, 0, fmt.Errorf("prune events: %w", err)
	}
	type oldEvent struct{ seq, at int64 }
	oldest, err := scanAll(rows, func(sc scanner) (oldEvent, error) {
		var e oldEvent
		return e, sc.Scan(&e.seq, &e.at)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("prune events: %w", err)
	}
	bound := boundTime(before)
	var (
		n       int
		through int64
	)
	for _, e := range oldest {
		if e.seq >= last || e.at >= bound {
			break
		}
		n, through = n+1, e.seq
	}
	if n == 0 {
		return 0, 0, nil
	}
	if _, err := t.exec(StmtPruneEvents, through); err != nil {
		return 0, 0, fmt.Errorf("prune events through %d: %w", through, err)
	}
	return n, through, nil
}

func (t *Tx) PruneAudit(before time.Time, limit int) (int, error) {
	n, err := t.exec(StmtPruneAudit, boundTime(before), t.limit(limit))
	if err != nil {
		return 0, fmt.Errorf("prune audit before %s: %w", before.Format(time.RFC3339), err)
	}
	return int(n), nil
}

// scanEvent reads seq, audience and payload.
func scanEvent(sc scanner) (adapter.Event, error) {
	var (
		e        adapter.Event
		seq      int64
		payload  string
		audience any
	)
	if err := sc.Scan(&seq, &audience, &payload); err != nil {
		return e, err
	}
	if err := parseEventJSON([]byte(payload), &e); err != nil {
		return e, fmt.Errorf("event %d: %w", seq, err)
	}
	var d decoder
	d.json("audience", audience, &e.Audience)
	if d.err != nil {
		return e, fmt.Errorf("event %d: %w", seq, d.err)
	}
	e.Seq = seq
	return e, nil
}

// AppendOutbox stores the row in state pending unless r.State says
// otherwise, and sets r.ID (and r.State) as stored.
func (t *Tx) AppendOutbox(r *adapter.OutboxRow) error {
	if !t.writable {
		return fmt.Errorf("append outbox row of %s: %w", r.InteractionID, ErrReadOnly)
	}
	state := r.State
	if state == "" {
		state = adapter.OutboxPending
	}
	var e encoder
	var payload any
	if r.Payload != nil {
		payload = string(r.Payload)
	}
	args := [...]any{
		r.InteractionID, r.CRMObject, r.CRMID, string(r.Kind), payload, string(state), int64(r.Attempts),
		r.ErrorCode, r.ErrorMessage, e.time("created_at", r.CreatedAt), unixOrZero(r.NextAttemptAt), unixOrZero(r.LeaseUntil),
		r.Holder,
	}
	if e.err != nil {
		return fmt.Errorf("append outbox row of %s: %w", r.InteractionID, e.err)
	}
	id, err := t.insertKey(StmtAppendOutbox, args[:]...)
	if err != nil {
		return err
	}
	r.ID, r.State = id, state
	return nil
}

func (t *Tx) Outbox(state adapter.OutboxState, limit int) ([]adapter.OutboxRow, error) {
	rows, err := t.query(StmtOutbox, string(state), t.limit(limit))
	if err != nil {
		return nil, fmt.Errorf("list %s outbox rows: %w", state, err)
	}
	rs, err := scanAll(rows, func(sc scanner) (adapter.OutboxRow, error) {
		var blockedBy int64
		r, err := scanOutbox(withExtra{sc, []any{&blockedBy}})
		r.BlockedBy = blockedBy
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("list %s outbox rows: %w", state, err)
	}
	return rs, nil
}

// withExtra scans the columns a scan function reads, then extra.
type withExtra struct {
	sc    scanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.sc.Scan(append(dest, w.extra...)...) }

// scanOutbox reads id and the columns of outboxColumns.
func scanOutbox(sc scanner) (adapter.OutboxRow, error) {
	var (
		r                          adapter.OutboxRow
		kind, state                string
		payload, attempts, created any
		nextAttempt, leaseUntil    int64
	)
	if err := sc.Scan(&r.ID, &r.InteractionID, &r.CRMObject, &r.CRMID, &kind, &payload, &state, &attempts,
		&r.ErrorCode, &r.ErrorMessage, &created, &nextAttempt, &leaseUntil, &r.Holder); err != nil {
		return r, err
	}
	var d decoder
	r.Kind = adapter.OutboxKind(kind)
	r.State = adapter.OutboxState(state)
	if b := d.text("payload", payload); b != nil {
		r.Payload = json.RawMessage(b)
	}
	r.Attempts = int(d.int("attempts", attempts))
	r.CreatedAt = d.time("created_at", created)
	r.NextAttemptAt, r.LeaseUntil = fromUnixOrZero(nextAttempt), fromUnixOrZero(leaseUntil)
	if d.err != nil {
		return r, fmt.Errorf("outbox row %d: %w", r.ID, d.err)
	}
	return r, nil
}

// ClaimOutbox leases the claimable rows in one statement (see
// StmtClaimOutbox) and returns them by ID.
func (t *Tx) ClaimOutbox(q adapter.ClaimQuery) ([]adapter.OutboxRow, error) {
	rows, err := t.query(StmtClaimOutbox, unixOrZero(q.Now), unixOrZero(q.LeaseUntil), t.limit(q.Limit), q.Holder, unixOrZero(q.OwnBy))
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	claimed, err := scanAll(rows, scanOutbox)
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	slices.SortFunc(claimed, func(a, b adapter.OutboxRow) int { return cmp.Compare(a.ID, b.ID) })
	return claimed, nil
}

// OutboxDue counts the rows StmtClaimOutbox would claim (see
// StmtOutboxDue) and reads when the next waiting row comes free.
func (t *Tx) OutboxDue(q adapter.ClaimQuery) (adapter.OutboxDue, error) {
	var (
		due          adapter.OutboxDue
		oldest, next int64
	)
	if err := t.queryRow(StmtOutboxDue, unixOrZero(q.Now), t.limit(q.Limit), q.Holder, unixOrZero(q.OwnBy)).
		Scan(&due.Rows, &oldest); err != nil {
		return due, fmt.Errorf("count due outbox rows: %w", err)
	}
	if err := t.queryRow(StmtOutboxNext, unixOrZero(q.Now)).Scan(&next); err != nil {
		return due, fmt.Errorf("read next due outbox row: %w", err)
	}
	due.Oldest, due.Next = fromUnixOrZero(oldest), fromUnixOrZero(next)
	return due, nil
}

// FinishOutbox settles the rows in order, deleting each run of done rows
// in one statement (StmtDeleteOutbox).
func (t *Tx) FinishOutbox(rows []adapter.OutboxRow) error {
	var done []string // the run of done rows not deleted yet
	deleteDone := func() error {
		if len(done) == 0 {
			return nil
		}
		list, err := t.list(done)
		if err == nil {
			_, err = t.exec(StmtDeleteOutbox, list)
		}
		if err != nil {
			return fmt.Errorf("finish %d written outbox rows: %w", len(done), err)
		}
		done = done[:0]
		return nil
	}
	for _, r := range rows {
		if r.State == adapter.OutboxDone {
			done = append(done, strconv.FormatInt(r.ID, 10))
			continue
		}
		if err := deleteDone(); err != nil {
			return err
		}
		var err error
		switch r.State {
		case adapter.OutboxPending, adapter.OutboxParked:
			var payload any
			if r.Payload != nil {
				payload = string(r.Payload)
			}
			_, err = t.exec(StmtSettleOutbox, r.ID, string(r.State), int64(r.Attempts), unixOrZero(r.NextAttemptAt),
				r.ErrorCode, r.ErrorMessage, payload)
		default:
			err = fmt.Errorf("cannot finish in state %q", r.State)
		}
		if err != nil {
			return fmt.Errorf("finish outbox row %d: %w", r.ID, err)
		}
	}
	return deleteDone()
}

func (t *Tx) RetryParked(id int64) error {
	n, err := t.exec(StmtRetryParked, id)
	if err != nil {
		return fmt.Errorf("retry outbox row %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("parked outbox row %d: %w", id, adapter.ErrNotFound)
	}
	return nil
}

func (t *Tx) Watermark(source string) (string, error) {
	var value string
	err := t.queryRow(StmtWatermark, source).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("watermark of %s: %w", source, err)
	}
	return value, nil
}

func (t *Tx) SetWatermark(source, value string) error {
	if _, err := t.exec(StmtSetWatermark, source, value); err != nil {
		return fmt.Errorf("set watermark of %s: %w", source, err)
	}
	return nil
}

func (t *Tx) IngestFailures(source string, limit int) ([]adapter.IngestFailure, error) {
	var (
		rows Rows
		err  error
	)
	if source == "" {
		rows, err = t.query(StmtAllIngestFailures, t.limit(limit))
	} else {
		rows, err = t.query(StmtIngestFailures, source, t.limit(limit))
	}
	if err != nil {
		return nil, fmt.Errorf("list ingest failures: %w", err)
	}
	out, err := scanAll(rows, scanIngestFailure)
	if err != nil {
		return nil, fmt.Errorf("list ingest failures: %w", err)
	}
	fs := make([]adapter.IngestFailure, len(out))
	for k, f := range out {
		fs[k] = *f
	}
	return fs, nil
}

func (t *Tx) PutIngestFailure(f *adapter.IngestFailure) error {
	var e encoder
	args := [...]any{f.Source, f.CRMID, f.CRMObject, f.Reason, int64(f.Attempts),
		e.time("first_at", f.FirstAt), e.time("last_at", f.LastAt), unixOrZero(f.NextAttemptAt)}
	if e.err != nil {
		return fmt.Errorf("put ingest failure of %s %s: %w", f.Source, f.CRMID, e.err)
	}
	if _, err := t.exec(StmtPutIngestFailure, args[:]...); err != nil {
		return fmt.Errorf("put ingest failure of %s %s: %w", f.Source, f.CRMID, err)
	}
	return nil
}

func (t *Tx) ClearIngestFailure(source, crmID string) error {
	if _, err := t.exec(StmtClearIngestFailure, source, crmID); err != nil {
		return fmt.Errorf("clear ingest failure of %s %s: %w", source, crmID, err)
	}
	return nil
}

// scanIngestFailure reads the columns of ingestFailureColumns.
func scanIngestFailure(sc scanner) (*adapter.IngestFailure, error) {
	var (
		f                           adapter.IngestFailure
		attempts, first, last, next any
		d                           decoder
	)
	if err := sc.Scan(&f.Source, &f.CRMID, &f.CRMObject, &f.Reason, &attempts, &first, &last, &next); err != nil {
		return nil, err
	}
	f.Attempts = int(d.int("attempts", attempts))
	f.FirstAt, f.LastAt = d.time("first_at", first), d.time("last_at", last)
	f.NextAttemptAt = fromUnixOrZero(d.int("next_attempt_at", next))
	if d.err != nil {
		return nil, fmt.Errorf("ingest failure %s %s: %w", f.Source, f.CRMID, d.err)
	}
	return &f, nil
}

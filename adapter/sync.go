package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/sirupsen/logrus"
)

// Source reads the CRM records that became or changed work items.
type Source interface {
	// Name identifies the source; its watermark is stored under it.
	Name() string
	// Changes returns the work items of records changed after the
	// watermark since ("" reads from the beginning), oldest first, at most
	// one page; the watermark that follows them; and whether more pages
	// wait. Besides, it reads again the records retry names (records that
	// failed to go in before), whether they changed or not, and returns
	// them too: those that no longer match the mapping's filter (or are
	// gone) as Unmatched. A record the source cannot map is an item with
	// Problem set. Calling it again with the same watermark is safe:
	// ingest is idempotent. An error is retried at the next poll.
	Changes(ctx context.Context, since string, retry []string) (items []contactpad.WorkItem, next string, more bool, err error)
}

// Sink writes outbox rows to the CRM.
type Sink interface {
	// Write writes rows, which are in ID order (several may belong to one
	// record; they must reach it in that order), and returns one error per
	// row: nil when written; a *ParkError when the CRM refused it for good;
	// any other error to try again later. Once a row fails, the engine
	// holds the record's later rows of the batch back and sends them again
	// after it, so a Sink that writes several rows of a record in one call
	// must make its writes idempotent (absolute field values, upserts by an
	// external id). Write returns when every row is written or given up.
	Write(ctx context.Context, rows []OutboxRow) []error
}

// CallFitter is a Sink that writes in calls of bounded size (a Salesforce
// composite call: five collections of 200 records). The writer gives it
// one call's worth at a time, and leaves the rest for the next call: a
// batch Write sends in several calls would end in a call that is not
// full.
type CallFitter interface {
	Sink
	// FitCall chooses the rows one call carries: take[k] reports whether
	// rows[k] goes in it, len(rows) long. It may leave a row out and take
	// later ones that still fit (a call's collections fill by kind); the
	// writer then leaves out the later rows of that row's record too, so
	// that a record's changes go in order. changes[k] is rows[k]'s
	// payload, read (nil when it is no RecordChange: Write parks the row),
	// as Write would get it, except that every row of a record carries the
	// fields still to write to it (Write merges them into one update), so
	// that any choice is counted right; the rows' own payloads are as
	// stored. The writer calls it while it holds the store's writer: the
	// changes come read, so that it need not decode every payload again.
	// It must not change them.
	FitCall(rows []OutboxRow, changes []*contactpad.RecordChange) (take []bool)
}

// ParkError is a writeback the CRM refused for good (validation, a deleted
// record, an unknown field): the row is parked with the CRM's error code
// and shown to admins instead of retried. Gone says the record no longer
// exists in the CRM (deleted there): its interaction ends (DeletedInCRM).
type ParkError struct {
	Code, Message string
	Gone          bool
}

func (e *ParkError) Error() string { return e.Code + ": " + e.Message }

// CodedError is an error that carries the CRM's error code: a row whose
// write failed with one, to be tried again, shows it (OutboxRow.ErrorCode)
// as a parked row shows its ParkError's.
type CodedError interface {
	error
	ErrorCode() string
}

// UnavailableError is a write that failed because the CRM could not be
// reached, or did not answer the call (network errors, 5xx, its rate
// limit, a session it would not renew): no fault of the row's. Such a row
// is tried again until the CRM answers, however long an outage lasts: it
// spends none of the row's SyncOptions.MaxAttempts, and backs off by how
// many calls in a row went unanswered, at most UnavailableRetryMax apart,
// so that the writer finds the CRM soon after it is back.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// UnavailableRetryMax bounds the backoff of rows the CRM did not answer
// (UnavailableError).
const UnavailableRetryMax = 30 * time.Second

// PartlyWrittenError is a row the CRM took in part: one of its writes
// failed with Err (a *ParkError parks the row; any other error is
// retried), while the others landed, as Fields, Audit and AgentWork say
// (a Salesforce composite call writes each kind in its own collection,
// not all or none). The writer records the landed fields as accepted and
// drops what landed from the row, so that a retry, or an admin's re-drive
// of the parked row, sends only what is still to write: no record update
// or audit entry twice, and no second AgentWork for one offer.
type PartlyWrittenError struct {
	Err                      error
	Fields, Audit, AgentWork bool
}

func (e *PartlyWrittenError) Error() string { return e.Err.Error() }
func (e *PartlyWrittenError) Unwrap() error { return e.Err }

// DefaultPollInterval is how often each Source is read when
// SyncOptions.PollInterval is zero, and the config's crm.poll_interval
// default.
const DefaultPollInterval = 5 * time.Second

// DefaultReclaimAfter is SyncOptions.ReclaimAfter when zero, and the
// config's crm.reclaim_after default: the longest a Salesforce call may
// take (its per-attempt timeout).
const DefaultReclaimAfter = time.Minute

// DefaultBatchMaxAge is SyncOptions.BatchMaxAge when zero, and the
// config's crm.batch_max_age default. Below about 1,000 record writes in
// that time, a write call carries what it brought: 2s keeps a quiet
// bridge's writes under one call a second or so, while a change still
// reaches the CRM before a user who just acted is likely to look.
const DefaultBatchMaxAge = 2 * time.Second

// SyncOptions tune the CRM sync loops. Zero fields take the defaults.
type SyncOptions struct {
	// PollInterval is how often each Source is read (default
	// DefaultPollInterval).
	PollInterval time.Duration
	// PollLease is how long a replica that stopped polling a source keeps
	// the others from polling it (default 10s, at least 3 PollIntervals).
	PollLease time.Duration
	// BatchRows is how many outbox rows one Sink.Write gets at most
	// (default 1000: one Salesforce composite call of five collections).
	BatchRows int
	// Lease is how long a claimed row is the writer's before another
	// writer may take it over (default 2m).
	Lease time.Duration
	// ReclaimAfter is how long a writer restarted under its name waits
	// before it writes again the rows it had in flight when it died
	// (default DefaultReclaimAfter; at most Lease). A request it sent
	// just before dying may still reach the CRM: written again at once,
	// the newer value could land first and be overwritten by the older.
	// Waiting also lets the poll see the writes that did land, so they
	// are not written twice. It counts from when the rows were claimed
	// and, at the earliest, from when the restarted engine was made.
	ReclaimAfter time.Duration
	// MaxAttempts parks a row that failed this many times (default 20).
	MaxAttempts int
	// RetryBase and RetryMax bound the exponential backoff between
	// attempts (defaults 1s and 5m).
	RetryBase, RetryMax time.Duration
	// BatchMaxAge is how long RunWriteback lets due rows gather before
	// it writes a batch that is not full: it writes once BatchRows rows
	// are due, or once the oldest due row is BatchMaxAge old (by its
	// CreatedAt), whichever comes first (default DefaultBatchMaxAge). CRM
	// API calls are the metered resource: at a few changes per commit,
	// writing at once costs a call per commit, where waiting fills
	// batches of up to BatchRows.
	BatchMaxAge time.Duration
}

func (o SyncOptions) withDefaults() SyncOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PollInterval, DefaultPollInterval)
	def(&o.PollLease, max(10*time.Second, 3*o.PollInterval))
	def(&o.Lease, 2*time.Minute)
	def(&o.ReclaimAfter, DefaultReclaimAfter)
	o.ReclaimAfter = min(o.ReclaimAfter, o.Lease)
	def(&o.RetryBase, time.Second)
	def(&o.RetryMax, 5*time.Minute)
	def(&o.BatchMaxAge, DefaultBatchMaxAge)
	if o.BatchRows <= 0 {
		o.BatchRows = 1000
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 20
	}
	return o
}

// RunPoll reads every source each PollInterval and ingests what changed,
// storing each source's watermark once its page is ingested, until ctx is
// done. A restart resumes from the stored watermarks.
//
// Of several replicas sharing the store, one polls a source at a time:
// the holder of the source's lease ("poll-lease:" and its name), which it
// renews at every poll and hands back when ctx is done; the others take
// it over once it has expired (PollLease after the holder's last poll).
// CRM API calls are metered, and a second poller would only read the same
// records again.
func (e *Engine) RunPoll(ctx context.Context, sources []Source, opts SyncOptions) {
	opts = opts.withDefaults()
	tick := time.NewTicker(opts.PollInterval)
	defer tick.Stop()
	leases := make([]*Lease, len(sources))
	for k, src := range sources {
		leases[k] = NewLease(e.store, pollLeaseKey(src.Name()), e.holder, opts.PollLease)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, l := range leases {
			if err := l.Release(ctx); err != nil {
				WarnFailed(e.log, err, "hand back CRM poll lease")
			}
		}
	}()
	polling := make([]bool, len(sources))
	for {
		for k, src := range sources {
			held, err := leases[k].Acquire(ctx, e.now())
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				// Whether it holds the lease is not known (the store is
				// out): it does not poll, and says nothing of standing by.
				WarnFailed(e.log.WithField("source", src.Name()), err, "take CRM poll lease")
				continue
			}
			if held != polling[k] {
				polling[k] = held
				msg := "polling the CRM source (this replica holds its lease)"
				if !held {
					msg = "another replica polls the CRM source; standing by"
				}
				e.log.WithField("source", src.Name()).Info(msg)
			}
			if !held {
				continue
			}
			start := e.now()
			err = e.PollOnce(ctx, src)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				WarnFailed(e.log.WithField("source", src.Name()), err, "poll CRM source")
			}
			if err := e.recordPoll(ctx, src.Name(), start, err); err != nil && ctx.Err() == nil {
				WarnFailed(e.log.WithField("source", src.Name()), err, "record the poll's outcome")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Reading again records that failed to go in: the first retry after
// failureRetryBase, doubling up to failureRetryMax; at most
// failureRetryBatch a poll.
const (
	failureRetryBase  = 10 * time.Second
	failureRetryMax   = 5 * time.Minute
	failureRetryBatch = 200
	failureListLimit  = 10000
)

// PollOnce reads src from its watermark until it has no more pages,
// ingesting each page before storing the watermark that follows it. A
// record that cannot go in (the mapping cannot map it, the engine refuses
// it) is stored as an IngestFailure, shown to admins and read again at
// later polls until it goes in; a failure of the store stops the poll
// before the watermark moves, so the page is read again.
func (e *Engine) PollOnce(ctx context.Context, src Source) error {
	for {
		var (
			since   string
			failing []IngestFailure
			reread  []string
		)
		if err := e.store.View(ctx, func(tx Tx) error {
			var err error
			if since, err = tx.Watermark(src.Name()); err != nil {
				return err
			}
			if reread, err = rereads(tx, src.Name()); err != nil {
				return err
			}
			failing, err = tx.IngestFailures(src.Name(), failureListLimit)
			return err
		}); err != nil {
			return err
		}
		now := e.now().UTC() // the read is sent after this
		retry := reread[:min(len(reread), failureRetryBatch)]
		for _, f := range failing {
			if len(retry) < failureRetryBatch && !f.NextAttemptAt.After(now) && !slices.Contains(retry, f.CRMID) {
				retry = append(retry, f.CRMID)
			}
		}
		items, next, more, err := src.Changes(ctx, since, retry)
		if err != nil {
			return err
		}
		problems := map[string]string{} // CRM id -> why it did not go in
		var cmds []Command
		var ingested []string
		for _, item := range items {
			if item.Problem != "" {
				problems[item.CRMID] = item.Problem
				continue
			}
			if fields := uncleanFields(item); fields != nil {
				e.log.WithFields(logrus.Fields{"source": src.Name(), "crm_id": item.CRMID, "fields": strings.Join(fields, ",")}).
					Warn("CRM record text cleaned at ingest: NUL characters removed, bytes that are not UTF-8 replaced with U+FFFD, text past its limit cut")
			}
			cmds = append(cmds, Ingest{Item: item, ReadAt: now})
			ingested = append(ingested, item.CRMID)
		}
		var stale []string
		for k, out := range e.applyBackground(ctx, cmds) {
			var invalid *InvalidError
			switch {
			case out.Err == nil:
				if out.Stale {
					stale = append(stale, ingested[k])
				}
			case errors.As(out.Err, &invalid):
				problems[ingested[k]] = out.Err.Error()
			default:
				// Not the record's fault (the store, shutdown): read the
				// page again at the next poll.
				return fmt.Errorf("ingest %s %s: %w", src.Name(), ingested[k], out.Err)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := UpdateOne(ctx, e.store, func(tx Tx) error {
			if next != since {
				if err := tx.SetWatermark(src.Name(), next); err != nil {
					return fmt.Errorf("store watermark of %s: %w", src.Name(), err)
				}
			}
			if err := recordFailures(tx, src.Name(), failing, problems, ingested, items, now); err != nil {
				return fmt.Errorf("store ingest failures of %s: %w", src.Name(), err)
			}
			if err := setRereads(tx, src.Name(), reread, items, stale); err != nil {
				return fmt.Errorf("store records of %s to read again: %w", src.Name(), err)
			}
			return nil
		}); err != nil {
			return err
		}
		for id, why := range problems {
			e.log.WithFields(logrus.Fields{"source": src.Name(), "crm_id": id, "reason": why}).
				Warn("CRM record could not be ingested; it is read again later")
		}
		if !more {
			return nil
		}
	}
}

// A read of a record sent before the CRM answered the bridge's latest
// write to it may show the record from before that write (Ingest.ReadAt):
// the engine ignores it, and the poller reads the record again at its
// next poll, along with the failures due, until a read is not stale. The
// records to read again are kept with the watermark, so that a restarted
// poller, or another replica, reads them.

func rereadKey(source string) string { return "reread:" + source }

// rereads returns the CRM ids of source's records to read again.
func rereads(tx Tx, source string) ([]string, error) {
	value, err := tx.Watermark(rereadKey(source))
	if err != nil || value == "" {
		return nil, err
	}
	var ids []string
	if err := json.Unmarshal([]byte(value), &ids); err != nil {
		return nil, nil // unreadable: the next stale read writes it again
	}
	return ids, nil
}

// setRereads stores which records to read again after a page: those asked
// for before that the page did not read, and the page's stale reads.
func setRereads(tx Tx, source string, before []string, page []contactpad.WorkItem, stale []string) error {
	read := make(map[string]bool, len(page))
	for _, item := range page {
		read[item.CRMID] = true
	}
	var ids []string
	for _, id := range before {
		if !read[id] {
			ids = append(ids, id)
		}
	}
	for _, id := range stale {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 && len(before) == 0 {
		return nil
	}
	value := ""
	if len(ids) > 0 {
		data, err := json.Marshal(ids)
		if err != nil {
			return err
		}
		value = string(data)
	}
	return tx.SetWatermark(rereadKey(source), value)
}

// recordFailures stores the records of one page that did not go in, and
// clears the failures of those that went in at last.
func recordFailures(tx Tx, source string, failing []IngestFailure, problems map[string]string, ingested []string,
	items []contactpad.WorkItem, now time.Time) error {
	previous := make(map[string]IngestFailure, len(failing))
	for _, f := range failing {
		previous[f.CRMID] = f
	}
	for _, id := range ingested {
		if _, failed := problems[id]; !failed {
			if _, was := previous[id]; was {
				if err := tx.ClearIngestFailure(source, id); err != nil {
					return err
				}
			}
		}
	}
	for _, item := range items {
		why, failed := problems[item.CRMID]
		if !failed {
			continue
		}
		f, was := previous[item.CRMID]
		if !was {
			f = IngestFailure{Source: source, CRMObject: item.CRMObject, CRMID: item.CRMID, FirstAt: now}
		}
		// A mapping's reason may quote the record's text.
		f.Reason, f.LastAt = cleanText(why), now
		f.Attempts++
		f.NextAttemptAt = now.Add(min(failureRetryBase<<min(f.Attempts-1, 20), failureRetryMax))
		previous[item.CRMID] = f // an item twice in a page counts once
		if err := tx.PutIngestFailure(&f); err != nil {
			return err
		}
	}
	return nil
}

// RunWriteback drains the outbox into sink until ctx is done, and settles
// each row it writes as done, to retry with backoff, or parked. What is
// due when it starts (a backlog) goes at once, in full batches and the
// rest. After that it writes when a batch is worth a CRM call: once
// BatchRows rows are due (for a CallFitter, as many as the last full call
// carried), or once the oldest due row is BatchMaxAge old. Between writes
// it sleeps until the oldest row's time is up or the next retry or lease
// comes free. A commit of this engine wakes it to count what is due again
// only when the rows it last counted and the rows its engine appended
// since may make a call's worth, or when it last counted none (to learn
// the new oldest row's age); WakeWriteback always does. Counting reads
// and sorts up to BatchRows rows, and under load most commits append a
// row or two. It looks at least every idle poll (WithIdlePoll) for rows
// other replicas left. A call in flight when ctx is done goes on to the
// CRM's answer, until the engine stops: stop the writer first, and the
// engine when its calls may be cut short.
func (e *Engine) RunWriteback(ctx context.Context, sink Sink, opts SyncOptions) {
	opts = opts.withDefaults()
	trigger := batchTrigger{Rows: opts.BatchRows, MaxAge: opts.BatchMaxAge}
	for {
		written, claimed, err := e.writebackUntilStopped(ctx, sink, opts, nil)
		if err != nil {
			if ctx.Err() == nil {
				WarnFailed(e.log, err, "write back to CRM")
			}
			break
		}
		if claimed > written {
			trigger.Rows = max(written, 1) // what one call carries
		}
		if claimed < opts.BatchRows && claimed == written {
			break
		}
	}
	sleep := time.NewTimer(time.Hour)
	defer sleep.Stop()
	for {
		// Read before the count, so that a row committed meanwhile is
		// counted at least once: by the count or in what was appended since.
		e.recount.Store(false)
		appendedAt := e.appended.Load()
		var due OutboxDue
		now := e.now().UTC()
		err := e.store.View(ctx, func(tx Tx) error {
			var err error
			due, err = tx.OutboxDue(e.claimQuery(now, opts))
			return err
		})
		wait := time.Second // after an error: try again without spinning
		counted := -1       // rows found not worth a call; -1: count again at any wake
		if err == nil {
			counted = due.Rows
			wait = trigger.wait(due, now, e.idlePoll)
			if from := e.reclaimFrom(opts); now.Before(from) {
				wait = min(wait, from.Sub(now)) // its own rows may come free then
			}
			if wait == 0 {
				var written, claimed int
				written, claimed, err = e.writebackUntilStopped(ctx, sink, opts, &trigger)
				var notReady *notReadyError
				switch {
				case err == nil:
					if claimed > written {
						trigger.Rows = max(written, 1)
					}
					continue
				case errors.As(err, &notReady):
					// The count saw rows the claim did not get (another
					// replica's claim, under way when it counted): wait as
					// for what the claim found, not count again at once.
					found := notReady.due
					found.Next = due.Next
					wait, err = trigger.wait(found, now, e.idlePoll), nil
					counted = found.Rows
				default:
					wait, counted = time.Second, -1
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			WarnFailed(e.log, err, "write back to CRM")
		}
		sleep.Reset(wait)
		for asleep := true; asleep; {
			select {
			case <-ctx.Done():
				return
			case <-e.written:
				if e.worthCounting(counted, appendedAt, trigger.Rows) {
					sleep.Stop()
					asleep = false
				}
			case <-sleep.C:
				asleep = false
			}
		}
	}
}

// worthCounting tells a writer woken by a commit or WakeWriteback whether
// to count what is due again, having last found counted rows not worth a
// call (-1: it does not know) when its engine had appended appendedAt
// rows. When it found none, any row appended since is worth a count: its
// age sets the writer's deadline. Otherwise it counts only once the rows
// it found and the ones appended since make rows (a call's worth): new
// rows are younger than the oldest it found, so its deadline stands.
// Rows that come due otherwise do so by their time (OutboxDue.Next), by
// WakeWriteback, or from another replica (found at the idle poll).
func (e *Engine) worthCounting(counted int, appendedAt int64, rows int) bool {
	if counted < 0 || e.recount.Load() {
		return true
	}
	since := e.appended.Load() - appendedAt
	if counted == 0 {
		return since > 0
	}
	return int64(counted)+since >= int64(rows)
}

// batchTrigger says when due rows are worth a CRM call: once Rows are due
// (a full call), or once the oldest is MaxAge old.
type batchTrigger struct {
	Rows   int
	MaxAge time.Duration
}

// ready reports whether the due rows are worth a call at now.
func (b batchTrigger) ready(due OutboxDue, now time.Time) bool {
	return due.Rows >= b.Rows || due.Rows > 0 && !now.Before(due.Oldest.Add(b.MaxAge))
}

// wait returns how long the writer waits before it writes what is due at
// now: 0 when it is ready; otherwise until the oldest due row is MaxAge
// old or the next waiting row comes free (both after now), and at most
// idle.
func (b batchTrigger) wait(due OutboxDue, now time.Time, idle time.Duration) time.Duration {
	if b.ready(due, now) {
		return 0
	}
	wait := idle
	if due.Rows > 0 {
		wait = min(wait, due.Oldest.Add(b.MaxAge).Sub(now))
	}
	if !due.Next.IsZero() {
		wait = min(wait, due.Next.Sub(now))
	}
	return wait
}

// claimQuery asks for the rows this engine may write at now. Rows in
// flight under its name (a process before it, killed) are its own again
// once they were claimed ReclaimAfter ago and it has itself run that long:
// by then a request the dead process sent has landed, and this one's
// first polls have read it back (RecordSync.Sent) instead of its writer
// sending the same values again.
func (e *Engine) claimQuery(now time.Time, opts SyncOptions) ClaimQuery {
	q := ClaimQuery{Now: now, LeaseUntil: now.Add(opts.Lease), Limit: opts.BatchRows, Holder: e.holder}
	if !now.Before(e.reclaimFrom(opts)) {
		q.OwnBy = now.Add(opts.Lease - opts.ReclaimAfter)
	}
	return q
}

// reclaimFrom is when this engine starts to take back its own rows in
// flight (see claimQuery).
func (e *Engine) reclaimFrom(opts SyncOptions) time.Time { return e.started.Add(opts.ReclaimAfter) }

// WritebackOnce claims and writes one batch of what is due, however little
// (see writeback), and returns how many rows it wrote.
func (e *Engine) WritebackOnce(ctx context.Context, sink Sink, opts SyncOptions) (int, error) {
	written, _, err := e.writeback(ctx, ctx, sink, opts.withDefaults(), nil)
	return written, err
}

// writeback claims up to BatchRows rows and writes them, or for a
// CallFitter the rows one call carries (the rest goes back, as it was),
// and returns how many it wrote and how many it claimed. With a trigger
// it claims nothing unless the trigger is ready, decided on the rows the
// claim's transaction took (what OutboxDue would count): when it is not,
// the claim is rolled back and writeback returns a *notReadyError. Of
// several replicas woken by the same deadline, the first writes the batch
// and the others do not send what came meanwhile in a call of its own.
//
// The record updates go out as they are when they are sent, not as they
// were when each row was written: the last row of a record in the batch
// carries the mirrored fields still to write then (its interaction's
// RecordSync.Writes), the others none. What the CRM accepted is recorded
// with the rows' outcome, in one transaction.
//
// The claim holds the store's single writer, which every command waits
// for, in two short transactions rather than one long one: the first
// takes the rows (and decides the trigger on them), the second fits them
// to a call, gives back the rest and records what is sent. The rows'
// payloads are decoded between the two, holding nothing: the claimed rows
// are the writer's alone from the first commit, and no command changes
// them. The payloads sent are encoded after the second commits.
// writebackUntilStopped is writeback for RunWriteback: once sent, a call
// goes on to the CRM's answer when ctx is done (its rows are then settled
// as the CRM answered, not tried again), until the engine stops. A
// shutdown stops the writer's loop first and the engine last.
func (e *Engine) writebackUntilStopped(ctx context.Context, sink Sink, opts SyncOptions, trigger *batchTrigger) (written, claimed int, err error) {
	call, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	go func() {
		select {
		case <-e.stopped:
			cancel()
		case <-call.Done():
		}
	}()
	return e.writeback(ctx, call, sink, opts, trigger)
}

// callMargin is how long before its claim ends a write call is given up
// (see writeback).
func callMargin(lease time.Duration) time.Duration { return min(lease/4, 30*time.Second) }

// writeback claims what is due, sends one call's worth of it to sink with
// the context call, and settles it. ctx bounds the rest.
func (e *Engine) writeback(ctx, call context.Context, sink Sink, opts SyncOptions, trigger *batchTrigger) (written, claimed int, err error) {
	now := e.now().UTC()
	var rows []OutboxRow
	err = UpdateOne(ctx, e.store, func(tx Tx) error {
		var err error
		rows, err = tx.ClaimOutbox(e.claimQuery(now, opts))
		if err != nil || len(rows) == 0 && trigger == nil {
			return err
		}
		if trigger != nil && !trigger.ready(claimedDue(rows), now) {
			due := claimedDue(rows)
			rows = nil
			return &notReadyError{due: due}
		}
		return nil
	})
	var notReady *notReadyError
	if errors.As(err, &notReady) {
		return 0, 0, err
	}
	if err != nil || len(rows) == 0 {
		return 0, 0, err
	}
	claimed = len(rows)
	// The call ends before the claim does: after it, another replica may
	// claim these rows and the newer ones of the same records, and write
	// them; a request of this call sent later (a retry after the CRM hung)
	// would then land after theirs and put back an older value. The margin
	// is for a request on its way when the call is given up.
	call, cancel := context.WithTimeout(call, opts.Lease-callMargin(opts.Lease))
	defer cancel()
	var (
		read       map[[2]string]bool // the records read, if the sink reads
		unread     []OutboxRow        // the rows of records whose read failed: not written
		unreadErrs []error
	)
	if reader, ok := sink.(RecordReader); ok {
		var failed map[[2]string]error
		read, failed, err = e.readBeforeWrite(ctx, call, reader, rows)
		if err != nil {
			e.giveBackClaimed(ctx, rows)
			return 0, claimed, err
		}
		if len(failed) > 0 {
			// Nothing is written that the CRM may have changed unseen;
			// the other records' rows go on.
			var rest []OutboxRow
			for _, r := range rows {
				if readErr, ok := failed[[2]string{r.CRMObject, r.CRMID}]; ok {
					unread, unreadErrs = append(unread, r), append(unreadErrs, readErr)
					continue
				}
				rest = append(rest, r)
			}
			rows = rest
		}
	}
	var errs []error
	var sent map[int]map[string]any
	if len(rows) > 0 {
		var changes []*contactpad.RecordChange
		var held int
		rows, changes, sent, held, err = e.prepareCall(ctx, sink, rows, parseChanges(rows), read)
		// Rows held for a read are not what a call carries (RunWriteback
		// sizes its batches by what the fitter takes).
		claimed -= held
		if err != nil {
			e.giveBackClaimed(ctx, unread)
			return len(rows), claimed, err
		}
		if len(rows) > 0 {
			if err := encodeChanges(rows, changes); err != nil {
				return len(rows), claimed, err
			}
			errs = sink.Write(call, rows)
			if len(errs) != len(rows) {
				return len(rows), claimed, fmt.Errorf("sink returned %d results for %d rows", len(errs), len(rows))
			}
		}
	}
	rows, errs = append(rows, unread...), append(errs, unreadErrs...)
	if len(rows) == 0 {
		return 0, claimed, nil
	}
	now = e.now().UTC()
	// A call the CRM did not answer at all: its rows back off by how many
	// went unanswered in a row.
	unreachable := int64(0)
	if len(errs) > 0 && !slices.ContainsFunc(errs, func(err error) bool {
		var u *UnavailableError
		return !errors.As(err, &u)
	}) {
		unreachable = e.unreachable.Add(1)
	} else {
		e.unreachable.Store(0)
	}
	// The records whose earlier row failed in this batch, and when their
	// later rows are due: at the earlier row's retry, or now behind a
	// parked row.
	failed := map[[2]string]time.Time{}
	var tally writebackTally
	var after []Command // offers whose AgentWork the writer gave up on; records deleted in the CRM
	for k := range rows {
		record := [2]string{rows[k].CRMObject, rows[k].CRMID}
		if next, ok := failed[record]; ok {
			// It waits behind the earlier row (ClaimOutbox keeps the order)
			// and does not spend an attempt on that row's failure. Due no
			// sooner than that row, it waits in the claim's index among
			// the rows waiting for their retry, not among the due rows
			// every claim reads.
			rows[k].State, rows[k].NextAttemptAt = OutboxPending, next
			continue
		}
		settle(&rows[k], errs[k], now, opts, unreachable)
		tally.add(rows[k].State)
		switch rows[k].State {
		case OutboxPending:
			failed[record] = rows[k].NextAttemptAt
		case OutboxParked:
			failed[record] = now
		}
		if rows[k].State == OutboxParked {
			e.log.WithFields(logrus.Fields{"interaction": rows[k].InteractionID, "crm_id": rows[k].CRMID,
				"code": rows[k].ErrorCode}).Warn("writeback parked")
		}
		refusal, err := settleParts(&rows[k], errs[k])
		if err != nil {
			return len(rows), claimed, err
		}
		if refusal != nil {
			after = append(after, *refusal)
		}
		var park *ParkError
		if rows[k].State == OutboxParked && errors.As(errs[k], &park) && park.Gone {
			after = append(after, DeletedInCRM{InteractionID: rows[k].InteractionID})
		}
	}
	// The CRM took a record's update when the sink says so, even if the
	// row waits behind an earlier one that failed: it is not sent again.
	accepted := map[string]map[string]any{} // interaction -> fields the CRM took
	for k, fields := range sent {
		var part *PartlyWrittenError
		if errs[k] == nil || errors.As(errs[k], &part) && part.Fields {
			accepted[rows[k].InteractionID] = fields
		}
	}
	// Settle even when ctx is done: the writes happened.
	if err := UpdateOne(context.WithoutCancel(ctx), e.store, func(tx Tx) error {
		if err := tx.FinishOutbox(rows); err != nil {
			return err
		}
		return acceptWrites(tx, accepted, e.now())
	}); err != nil {
		return len(rows), claimed, fmt.Errorf("settle %d written rows: %w", len(rows), err)
	}
	e.metrics.writebacksSettled(&tally)
	e.applyAfterWrites(context.WithoutCancel(ctx), after)
	return len(rows), claimed, nil
}

// prepareCall fits the claimed rows, with their parsed changes, to one
// call of sink (a CallFitter; other sinks take them all) and gives the
// rest back as it was, with the rows of records that have a field the
// CRM wins to write but are not among those read (holdUnread; read is nil
// when the sink does not read); then it puts on each record's last row the fields
// still to write (currentWrites), which it records as sent, and returns
// what goes with the fields sent by row. All of it in one transaction; if
// that fails, every claimed row goes back as it was, as if the claim had
// been rolled back.
func (e *Engine) prepareCall(ctx context.Context, sink Sink, claimed []OutboxRow, parsed []*contactpad.RecordChange,
	read map[[2]string]bool) (rows []OutboxRow, changes []*contactpad.RecordChange, sent map[int]map[string]any, held int, err error) {
	err = UpdateOne(ctx, e.store, func(tx Tx) error {
		// The changes as parsed stay as they are, should the store run
		// this again: currentWrites changes the copies.
		rows, changes = claimed, make([]*contactpad.RecordChange, len(parsed))
		for k, change := range parsed {
			if change != nil {
				c := *change
				changes[k] = &c
			}
		}
		syncs, err := readSyncs(tx, rows)
		if err != nil {
			return err
		}
		var rest []OutboxRow
		if fitter, ok := sink.(CallFitter); ok {
			rows, changes, rest, err = fitCall(fitter, rows, changes, syncs)
			if err != nil {
				return err
			}
		}
		held = 0
		if read != nil {
			var unread []OutboxRow
			rows, changes, unread = holdUnread(rows, changes, syncs, read, e.cfg.Load().s.Mirrors)
			rest, held = append(rest, unread...), len(unread)
		}
		if len(rest) > 0 {
			// The rest goes back as it was, for the next call.
			if err := giveBack(tx, rest); err != nil {
				return err
			}
		}
		sent, err = currentWrites(tx, rows, changes, syncs)
		return err
	})
	if err == nil {
		return rows, changes, sent, held, nil
	}
	e.giveBackClaimed(ctx, claimed)
	return nil, nil, nil, 0, err
}

// giveBackClaimed returns claimed rows that are not sent to the queue as
// they were, as if the claim had been rolled back.
func (e *Engine) giveBackClaimed(ctx context.Context, claimed []OutboxRow) {
	if len(claimed) == 0 {
		return
	}
	if err := UpdateOne(context.WithoutCancel(ctx), e.store, func(tx Tx) error { return giveBack(tx, claimed) }); err != nil {
		WarnFailed(e.log, err, "writeback: give back claimed rows (they come free when their lease ends)")
	}
}

// giveBack returns claimed rows to the queue as they were: pending, due
// when they were, for a later call.
func giveBack(tx Tx, rows []OutboxRow) error {
	back := slices.Clone(rows)
	for k := range back {
		back[k].State = OutboxPending
	}
	return tx.FinishOutbox(back)
}

// settleParts takes out of a settled row's payload what is no longer to
// write: what the CRM took of it (err is a *PartlyWrittenError), and, once
// the row is parked, the AgentWork it did not create, which the returned
// OmniRefused hands back to routing. A row left with nothing to write is
// done: parked, it would hold back the record's later rows, among them
// the AgentWork of the offer routed again (the refusal shows in the
// interaction's audit trail and the "writeback parked" log line).
func settleParts(r *OutboxRow, err error) (*OmniRefused, error) {
	var part *PartlyWrittenError
	errors.As(err, &part)
	if part == nil && r.State != OutboxParked {
		return nil, nil
	}
	var change contactpad.RecordChange
	if json.Unmarshal(r.Payload, &change) != nil {
		return nil, nil // the sink parked it: BAD_OUTBOX_ROW
	}
	dropped := part != nil
	if part != nil {
		if part.Fields {
			change.Fields = nil
		}
		if part.Audit {
			change.Audit = nil
		}
		if part.AgentWork {
			change.AgentWork = nil
		}
	}
	var refusal *OmniRefused
	if work := change.AgentWork; work != nil && r.State == OutboxParked {
		refusal = &OmniRefused{InteractionID: r.InteractionID, UserID: work.UserID, Code: r.ErrorCode}
		change.AgentWork, dropped = nil, true
	}
	if !dropped {
		return nil, nil
	}
	if change.Fields == nil && change.Audit == nil {
		change.Writeback = nil
		if change.AgentWork == nil && r.State == OutboxParked {
			r.State = OutboxDone
		}
	}
	payload, err := json.Marshal(change)
	if err != nil {
		return nil, fmt.Errorf("outbox row %d: %w", r.ID, err)
	}
	r.Payload = payload
	return refusal, nil
}

// applyAfterWrites hands the engine what the CRM's answers to a call
// mean for the interactions: the offers whose AgentWork the writer gave up
// on (without it, such an offer would wait forever, since Omni-Channel,
// which times an AgentWork out, never had one), and the records the CRM
// says are deleted.
func (e *Engine) applyAfterWrites(ctx context.Context, cmds []Command) {
	if len(cmds) == 0 {
		return
	}
	for k, out := range e.applyBackground(ctx, cmds) {
		if out.Err == nil {
			continue
		}
		switch cmd := cmds[k].(type) {
		case OmniRefused:
			e.log.WithError(out.Err).WithFields(logrus.Fields{"interaction": cmd.InteractionID, "code": cmd.Code}).
				Warn("route again an offer whose AgentWork the CRM refused")
		case DeletedInCRM:
			e.log.WithError(out.Err).WithField("interaction", cmd.InteractionID).
				Warn("end the interaction of a record deleted in the CRM")
		}
	}
}

// readSyncs reads the CRM sync state of the interactions of rows, by
// interaction ID, in one query.
func readSyncs(tx Tx, rows []OutboxRow) (map[string]*contactpad.RecordSync, error) {
	var ids []string
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.InteractionID] {
			seen[r.InteractionID] = true
			ids = append(ids, r.InteractionID)
		}
	}
	syncs, err := tx.InteractionSyncs(ids)
	if err != nil {
		return nil, fmt.Errorf("read what to write back: %w", err)
	}
	for _, id := range ids {
		if syncs[id] == nil {
			return nil, fmt.Errorf("read what to write back: interaction %s: %w", id, ErrNotFound)
		}
	}
	return syncs, nil
}

// notReadyError rolls back a claim whose rows are not worth a CRM call
// yet (by its batchTrigger); due is what it found.
type notReadyError struct{ due OutboxDue }

func (e *notReadyError) Error() string {
	return fmt.Sprintf("%d claimed outbox rows are not worth a CRM call yet", e.due.Rows)
}

// claimedDue is the OutboxDue of rows just claimed: how many, and the
// earliest CreatedAt among those that have one.
func claimedDue(rows []OutboxRow) OutboxDue {
	due := OutboxDue{Rows: len(rows)}
	for _, r := range rows {
		if !r.CreatedAt.IsZero() && (due.Oldest.IsZero() || r.CreatedAt.Before(due.Oldest)) {
			due.Oldest = r.CreatedAt
		}
	}
	return due
}

// parseChanges reads the payload of each row; nil for one that is not a
// RecordChange (the sink parks it: BAD_OUTBOX_ROW).
func parseChanges(rows []OutboxRow) []*contactpad.RecordChange {
	changes := make([]*contactpad.RecordChange, len(rows))
	for k := range rows {
		var change contactpad.RecordChange
		if json.Unmarshal(rows[k].Payload, &change) == nil {
			changes[k] = &change
		}
	}
	return changes
}

// encodeChanges sets the payload of each row whose change was read to
// that change as it now is; the others keep theirs.
func encodeChanges(rows []OutboxRow, changes []*contactpad.RecordChange) error {
	for k, change := range changes {
		if change == nil {
			continue
		}
		payload, err := json.Marshal(change)
		if err != nil {
			return fmt.Errorf("outbox row %d: %w", rows[k].ID, err)
		}
		rows[k].Payload = payload
	}
	return nil
}

// fitCall splits rows (with their parsed changes) into what one call of
// sink carries and the rest, each in the order of rows. It shows the sink
// every row of a record with the fields still to write to it (which
// currentWrites then puts on the last row of the record that goes). A
// record's rows after one left out are left out too; the first row
// always goes.
func fitCall(sink CallFitter, rows []OutboxRow, changes []*contactpad.RecordChange,
	syncs map[string]*contactpad.RecordSync) (fit []OutboxRow, fitChanges []*contactpad.RecordChange, rest []OutboxRow, err error) {
	writes := make(map[string]map[string]any, len(syncs))
	for id, s := range syncs {
		writes[id] = s.Writes()
	}
	preview := make([]*contactpad.RecordChange, len(changes))
	shown := make([]contactpad.RecordChange, len(changes))
	for k, change := range changes {
		if change != nil {
			shown[k] = *change
			shown[k].Fields = writes[rows[k].InteractionID]
			preview[k] = &shown[k]
		}
	}
	take := sink.FitCall(slices.Clone(rows), preview)
	if len(take) != len(rows) {
		return nil, nil, nil, fmt.Errorf("sink fitted %d of %d rows", len(take), len(rows))
	}
	left := map[[2]string]bool{} // records with a row left out
	for k, r := range rows {
		key := [2]string{r.CRMObject, r.CRMID}
		if k > 0 && (!take[k] || left[key]) {
			left[key] = true
			rest = append(rest, r)
			continue
		}
		fit = append(fit, r)
		fitChanges = append(fitChanges, changes[k])
	}
	return fit, fitChanges, rest, nil
}

// currentWrites puts on the last row of each record in rows the mirrored
// fields still to write now, and returns them by row. It records them as
// sent (RecordSync.Sending) before the call, in the transaction that makes
// it ready: if the writer dies before it learns what the CRM did, a poll
// that reads them back knows them for the bridge's own. It changes the
// rows' parsed changes, not their payloads (encodeChanges does, once that
// transaction commits).
func currentWrites(tx Tx, rows []OutboxRow, changes []*contactpad.RecordChange,
	syncs map[string]*contactpad.RecordSync) (map[int]map[string]any, error) {
	last := map[string]int{} // interaction -> its last row
	for k := range rows {
		last[rows[k].InteractionID] = k
	}
	writes := make(map[int]map[string]any, len(last))
	for id, k := range last {
		s := syncs[id]
		w := s.Writes()
		if w == nil {
			continue
		}
		writes[k] = w
		before := s.Clone()
		s.Sending(w)
		if !sameSync(before, *s) {
			if err := tx.PutInteractionSync(id, s); err != nil {
				return nil, err
			}
		}
	}
	for k, change := range changes {
		if change == nil {
			continue // the sink parks it
		}
		change.Fields = writes[k]
		if change.Fields == nil && change.Audit == nil {
			change.Writeback = nil
		}
		if change.AgentWork != nil {
			i, err := tx.Interaction(rows[k].InteractionID)
			if err != nil {
				return nil, fmt.Errorf("read what to write back: %w", err)
			}
			current, err := agentWorkCurrent(tx, i, change.AgentWork)
			if err != nil {
				return nil, err
			}
			if !current {
				// The offer (or transfer request) moved on while the row
				// waited, a retry say: pushing it now would hand the work
				// to an agent who no longer has it.
				change.AgentWork = nil
			}
		}
	}
	return writes, nil
}

// agentWorkCurrent reports whether the AgentWork w still delivers what i
// has out for w's user: its offer, pushed to Omni-Channel, or an open
// warm transfer request delivered there.
func agentWorkCurrent(tx Tx, i *contactpad.Interaction, w *contactpad.AgentWorkOffer) (bool, error) {
	user := func(agent string) (string, error) {
		a, err := tx.Agent(agent)
		if errors.Is(err, ErrNotFound) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return a.CRMUserID, nil
	}
	if i.Status == contactpad.Offered && PushedToOmni(i) {
		u, err := user(i.Owner)
		if err != nil || u == w.UserID {
			return err == nil, err
		}
	}
	open, err := tx.OpenTransfers(TransferFilter{InteractionID: i.ID})
	if err != nil {
		return false, err
	}
	for _, t := range open {
		if t.AnswerIn != contactpad.AnswerInOmni || t.Status != contactpad.TransferInitiated {
			continue
		}
		u, err := user(t.Assignee)
		if err != nil || u == w.UserID {
			return err == nil, err
		}
	}
	return false, nil
}

// acceptWrites records the fields the CRM accepted, by interaction.
func acceptWrites(tx Tx, accepted map[string]map[string]any, at time.Time) error {
	if len(accepted) == 0 {
		return nil
	}
	syncs, err := tx.InteractionSyncs(slices.Collect(maps.Keys(accepted)))
	if err != nil {
		return err
	}
	for id, fields := range accepted {
		s := syncs[id]
		if s == nil {
			return fmt.Errorf("record what the CRM took: interaction %s: %w", id, ErrNotFound)
		}
		before := s.Clone()
		s.Accepted(fields, at)
		if !sameSync(before, *s) {
			if err := tx.PutInteractionSync(id, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// settle sets the outcome of one written row: done; parked (refused for
// good, or failed MaxAttempts times); or pending with exponential backoff.
// A row the CRM did not answer (UnavailableError) spends no attempt: it
// backs off by unreachable, the calls in a row the CRM did not answer.
func settle(r *OutboxRow, err error, now time.Time, opts SyncOptions, unreachable int64) {
	var park *ParkError
	var unavailable *UnavailableError
	switch {
	case err == nil:
		r.State = OutboxDone
		return
	case errors.As(err, &park):
		r.Attempts++
		r.State, r.ErrorCode, r.ErrorMessage = OutboxParked, park.Code, park.Message
		return
	case errors.As(err, &unavailable):
		r.ErrorCode, r.ErrorMessage = errorCode(err), err.Error()
		backoff := opts.RetryBase << min(max(unreachable, 1)-1, 30)
		r.State, r.NextAttemptAt = OutboxPending, now.Add(min(backoff, opts.RetryMax, UnavailableRetryMax))
		return
	}
	r.Attempts++
	r.ErrorCode, r.ErrorMessage = errorCode(err), err.Error()
	if r.Attempts >= opts.MaxAttempts {
		r.State, r.ErrorCode = OutboxParked, "RETRIES_EXHAUSTED"
		return
	}
	backoff := opts.RetryBase << min(r.Attempts-1, 30)
	r.State, r.NextAttemptAt = OutboxPending, now.Add(min(backoff, opts.RetryMax))
}

// errorCode is the CRM's error code err carries (CodedError), or "".
func errorCode(err error) string {
	var coded CodedError
	if errors.As(err, &coded) {
		return coded.ErrorCode()
	}
	return ""
}

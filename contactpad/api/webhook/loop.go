package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/sirupsen/logrus"
)

// userAgent identifies ctibridge to the receivers.
const userAgent = "ctibridge"

// maxDrain is how much of an answer's body is read (and thrown away) so
// that its connection can be reused.
const maxDrain = 64 << 10

// loop delivers one hook's events during one Run.
type loop struct {
	d *Dispatcher
	h *hook
	// cursor is the Seq of the last event the hook is done with; saved is
	// the cursor as last stored.
	cursor, saved int64
	// renewed is when the hook's lease was last taken or renewed.
	renewed time.Time
}

// run delivers while it holds the hook's lease and stands by while
// another replica does, until ctx is done; then it stores the cursor and
// hands the lease back.
func (l *loop) run(ctx context.Context) {
	defer l.releaseOnExit(ctx)
	for ctx.Err() == nil {
		if !l.lead(ctx) || !l.start(ctx) {
			return
		}
		l.deliverAll(ctx)
		l.flush(ctx)
	}
}

// deliverAll delivers the events after the cursor, and then each event as
// it is committed, until ctx is done or the lease is lost.
func (l *loop) deliverAll(ctx context.Context) {
	for ctx.Err() == nil && l.renew(ctx) {
		var (
			events []adapter.Event
			reset  adapter.Reset
			stale  bool
		)
		err := l.d.store.View(ctx, func(tx adapter.Tx) error {
			var err error
			if reset, stale, err = adapter.ResetAt(tx, l.cursor, 0); err != nil || stale {
				return err
			}
			events, err = tx.EventsAfter(l.cursor, l.d.batch)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				adapter.WarnFailed(l.h.log, l.h.scrub(err), "webhook: read events")
			}
			if !l.idle(ctx) {
				return
			}
			continue
		}
		if stale {
			// Behind the pruned events: one reset, whatever the hook's
			// event types, and on from the present.
			if !l.deliverReset(ctx, &reset) {
				return
			}
			l.cursor = reset.LastEventID
			l.h.update(func(s *HookStatus) { s.DeliveredSeq = reset.LastEventID })
			l.save(ctx)
			continue
		}
		for i := range events {
			ev := &events[i]
			if l.h.wants(ev.Type) && !l.deliver(ctx, ev) {
				return
			}
			l.cursor = ev.Seq
			l.h.update(func(s *HookStatus) { s.DeliveredSeq = ev.Seq })
		}
		l.save(ctx)
		// A short page means the log is read to its end; a Notify that
		// came meanwhile is still waiting in h.wake.
		if len(events) < l.d.batch && !l.idle(ctx) {
			return
		}
	}
}

// lead waits until this Dispatcher holds the hook's lease, retrying with
// backoff while the store fails. It returns false when ctx is done first.
func (l *loop) lead(ctx context.Context) bool {
	standingBy := false
	for attempt := 1; ; attempt++ {
		now := time.Now()
		held, err := l.h.lease.Acquire(ctx, now)
		if held {
			l.renewed = now
			l.h.update(func(s *HookStatus) { s.Delivering = true })
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		wait := l.h.lease.TTL() / 3
		if err != nil {
			err = l.h.scrub(err)
			adapter.WarnFailed(l.h.log, err, "webhook: take lease")
			l.h.update(func(s *HookStatus) { s.LastError = err.Error() })
			wait = l.d.backoff(attempt, 0)
		} else {
			attempt = 0
			if !standingBy {
				standingBy = true
				l.h.log.Info("webhook: another replica delivers; standing by")
			}
			// The status shows the shared cursor, as the delivering
			// replica last stored it, not this replica's own.
			if cursor, err := l.d.loadCursor(ctx, l.h.key); err == nil {
				l.h.update(func(s *HookStatus) { s.DeliveredSeq = cursor })
			}
		}
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// renew renews the hook's lease once a third of it has passed. It returns
// false when the loop must stop delivering: the lease was taken over, or
// the store failed until less than a third of it is left.
func (l *loop) renew(ctx context.Context) bool {
	now := time.Now()
	if now.Sub(l.renewed) < l.h.lease.TTL()/3 {
		return true
	}
	held, err := l.h.lease.Acquire(ctx, now)
	switch {
	case held:
		l.renewed = now
		return true
	case ctx.Err() != nil:
		return false
	case err != nil:
		adapter.WarnFailed(l.h.log, l.h.scrub(err), "webhook: renew lease")
		if now.Sub(l.renewed) < l.h.lease.TTL()*2/3 {
			return true
		}
	default:
		l.h.log.Warn("webhook: lease taken over by another replica; standing by")
	}
	l.h.update(func(s *HookStatus) { s.Delivering = false })
	return false
}

// releaseOnExit hands the lease back once Run's ctx is done.
func (l *loop) releaseOnExit(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := l.h.lease.Release(ctx); err != nil {
		adapter.WarnFailed(l.h.log, l.h.scrub(err), "webhook: hand back lease")
	}
	l.h.update(func(s *HookStatus) { s.Delivering = false })
}

// start loads the hook's cursor, retrying with backoff while the store
// fails. It returns false when ctx is done first.
func (l *loop) start(ctx context.Context) bool {
	for attempt := 1; ; attempt++ {
		cursor, err := l.d.loadCursor(ctx, l.h.key)
		if err == nil {
			l.cursor, l.saved = cursor, cursor
			l.h.update(func(s *HookStatus) { s.DeliveredSeq = cursor; s.LastError = "" })
			l.h.log.WithField("cursor", cursor).Info("webhook: delivering events")
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		err = l.h.scrub(err)
		adapter.WarnFailed(l.h.log, err, "webhook: load cursor")
		l.h.update(func(s *HookStatus) { s.LastError = err.Error() })
		if !sleep(ctx, l.d.backoff(attempt, 0)) {
			return false
		}
	}
}

// idle waits for a Notify or the next poll. It returns false when ctx is
// done first.
func (l *loop) idle(ctx context.Context) bool {
	t := time.NewTimer(min(l.d.poll, l.h.lease.TTL()/3))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-l.h.wake:
		return true
	case <-t.C:
		return true
	}
}

// save stores the cursor if it moved since the last save. A failure is
// logged and the cursor stored at the next save: meanwhile a crash may
// redeliver more.
func (l *loop) save(ctx context.Context) {
	if l.cursor == l.saved {
		return
	}
	if err := l.d.saveCursor(ctx, l.h.key, l.cursor); err != nil {
		if ctx.Err() == nil {
			adapter.WarnFailed(l.h.log, l.h.scrub(err), "webhook: save cursor")
		}
		return
	}
	l.saved = l.cursor
}

// flush stores the cursor even when ctx is done, so that a clean
// shutdown, or the replica that takes the lease over, redelivers nothing.
func (l *loop) flush(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	l.save(ctx)
}

// outgoing is one POST of a hook: an event, or a reset.
type outgoing struct {
	// id is the delivery's id: the event's Seq, or that of the newest
	// event for a reset (which goes on after it, so the hook is never
	// sent that event: the id is the reset's alone), as on the event
	// stream. The same on every attempt and for every replica.
	id   string
	typ  string
	body []byte
}

// deliver POSTs ev until an attempt succeeds. It returns false when ctx is
// done or the lease lost first.
func (l *loop) deliver(ctx context.Context, ev *adapter.Event) bool {
	body, err := json.Marshal(ev)
	if err != nil {
		// Cannot happen with the store's events; a poison event must not
		// stop the hook for good.
		l.h.log.WithError(err).WithField("event", ev.Seq).Error("webhook: encode event; skipped")
		return true
	}
	return l.send(ctx, outgoing{id: strconv.FormatInt(ev.Seq, 10), typ: string(ev.Type), body: body})
}

// deliverReset POSTs the reset of a hook whose cursor is behind the
// pruned events until an attempt succeeds, as deliver does.
func (l *loop) deliverReset(ctx context.Context, r *adapter.Reset) bool {
	body, _ := json.Marshal(r) // numbers and strings only
	l.h.log.WithFields(logrus.Fields{"cursor": l.cursor, "oldest": r.Oldest, "last_event_id": r.LastEventID}).
		Warn("webhook: the events after the hook's cursor are pruned; sending a reset")
	return l.send(ctx, outgoing{id: strconv.FormatInt(r.LastEventID, 10), typ: adapter.ResetType, body: body})
}

// send POSTs dv until an attempt succeeds. It returns false when ctx is
// done or the lease lost first.
func (l *loop) send(ctx context.Context, dv outgoing) bool {
	for attempt := 1; ; attempt++ {
		if !l.renew(ctx) {
			return false
		}
		status, retryAfter, err := l.d.post(ctx, l.h, dv, time.Now())
		if err != nil && ctx.Err() != nil {
			return false
		}
		now := time.Now()
		fields := logrus.Fields{"event": dv.id, "type": dv.typ, "status": status}
		if err == nil {
			l.h.delivered.Inc()
			l.h.update(func(s *HookStatus) {
				s.LastDeliveryAt, s.LastStatus, s.LastError = &now, status, ""
				s.Attempts, s.NextAttemptAt, s.Pending = 0, nil, false
			})
			if attempt > 1 {
				l.h.log.WithFields(fields).WithField("attempts", attempt).Info("webhook: delivered after retries")
			} else {
				l.h.log.WithFields(fields).Debug("webhook: delivered")
			}
			return true
		}
		l.h.failed.Inc()
		err = l.h.scrub(err)
		wait := l.d.backoff(attempt, retryAfter)
		next := now.Add(wait)
		l.h.update(func(s *HookStatus) {
			s.LastStatus, s.LastError = status, err.Error()
			s.Attempts, s.NextAttemptAt, s.Pending = attempt, &next, true
		})
		l.h.log.WithError(err).WithFields(fields).WithFields(logrus.Fields{
			"attempts": attempt, "retry_in": wait.String(),
		}).Warn("webhook: delivery failed")
		// What was delivered before this event must not be redelivered
		// if the process stops during a long outage.
		l.save(ctx)
		if !l.pause(ctx, wait) {
			return false
		}
	}
}

// post sends one delivery attempt, signed as of now. It returns the
// answer's status (0 when there is none), the wait its Retry-After asks
// for, and an error unless the status is 2xx. Errors carry neither the URL
// (it may hold a token) nor any body.
func (d *Dispatcher) post(ctx context.Context, h *hook, dv outgoing, now time.Time) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(dv.body))
	if err != nil {
		return 0, 0, errors.New("invalid webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	// The delivery id is the same on every attempt and for
	// every replica, unlike the timestamp, which is this attempt's.
	id, timestamp := dv.id, now.Unix()
	req.Header.Set(IDHeader, id)
	req.Header.Set(TimestampHeader, strconv.FormatInt(timestamp, 10))
	req.Header.Set(SignatureHeader, Sign(h.keys, id, timestamp, dv.body))
	if len(h.Secrets) > 0 {
		req.Header.Set(LegacySignatureHeader, LegacySign(h.Secrets[0], dv.body))
	}
	req.Header.Set("X-Ctibridge-Event", dv.typ)
	req.Header.Set("X-Ctibridge-Delivery", id)
	resp, err := d.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			// url.Error's message quotes the URL.
			err = uerr.Err
		}
		return 0, 0, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	var retryAfter time.Duration
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			retryAfter = time.Duration(secs) * time.Second
		}
	}
	return resp.StatusCode, retryAfter, fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// backoff is the wait after the attempt-th consecutive failure: minBackoff
// doubled attempt-1 times, at least retryAfter, at most maxBackoff.
func (d *Dispatcher) backoff(attempt int, retryAfter time.Duration) time.Duration {
	wait := d.minBackoff
	for i := 1; i < attempt && wait < d.maxBackoff; i++ {
		wait *= 2
	}
	return min(max(wait, retryAfter), d.maxBackoff)
}

// scrub replaces the hook's URL in err's message by its redacted form, for
// logs and Status: the store's errors name the watermark, which holds the
// URL, and a URL may carry a token. (No error ever holds the secret.)
func (h *hook) scrub(err error) error {
	return &scrubbed{msg: strings.ReplaceAll(err.Error(), h.URL, h.url), err: err}
}

// scrubbed is an error told in other words (scrub), still err to errors.Is
// and errors.As: a store outage stays one.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// pause waits for d, renewing the lease meanwhile. It returns false when
// ctx is done or the lease lost first.
func (l *loop) pause(ctx context.Context, d time.Duration) bool {
	for d > 0 {
		if !l.renew(ctx) {
			return false
		}
		// Wake for the next renewal (at least a second on: after a failed
		// one, that is the retry).
		step := min(d, max(time.Until(l.renewed.Add(l.h.lease.TTL()/3)), time.Second))
		if !sleep(ctx, step) {
			return false
		}
		d -= step
	}
	return true
}

// sleep waits for d. It returns false when ctx is done first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// redactURL masks what in a URL may be a credential: the password of its
// user info and the values of its query. A token in the path (as some
// services put there) is left as is.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"xxxxx"}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

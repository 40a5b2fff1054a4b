package adapter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/sirupsen/logrus"
)

// fireBatch bounds how many due timers the scheduler fires per round.
const fireBatch = 512

func (cmd FireTimer) apply(c *change) error {
	t := cmd.Timer
	took, err := c.tx.TakeTimer(t)
	if err != nil || !took {
		// Cleared or re-armed since it was read (or fired by another replica).
		return err
	}
	switch t.Kind {
	case TimerTransferAccept:
		tr, err := c.tx.Transfer(t.Ref)
		if err != nil {
			return ignoreMissing(err)
		}
		if CanTransfer(tr, transferTimeoutStep, "") != nil {
			return nil
		}
		return c.endTransfer(tr, transferTimeoutStep, contactpad.FailedTimeout, contactpad.ActorSystem, "")
	case TimerConsult:
		k, err := c.tx.Consult(t.Ref)
		if err != nil {
			return ignoreMissing(err)
		}
		if CanConsult(k, consultTimeoutStep, "") != nil {
			return nil
		}
		return c.endConsult(k, contactpad.ConsultEndedTimeout, contactpad.ActorSystem)
	}
	i, err := c.tx.Interaction(t.Ref)
	if err != nil {
		return ignoreMissing(err)
	}
	switch t.Kind {
	case TimerOfferTimeout:
		if i.Status != contactpad.Offered {
			return nil
		}
		return c.offerTimedOut(i, c.now.Sub(t.DueAt))
	case TimerWrapUpEnd:
		if i.Status == contactpad.WrapUp {
			return c.completeWrapUp(i, record{actor: contactpad.ActorSystem, action: contactpad.AuditCompleted, category: contactpad.CategoryWrapUp,
				message: "Wrap-up time ended"})
		}
	case TimerDueDate:
		if i.Status == contactpad.Deferred {
			return c.reopen(i, contactpad.ReopenDueDate, record{actor: contactpad.ActorSystem})
		}
	case TimerInactivity:
		if i.Status == contactpad.Connected {
			return c.inactive(i)
		}
	}
	return nil
}

// lateOffer is how late an offer's timeout may fire and still be the
// agent's doing: later than that, the bridge was not taking answers (its
// store was down, or it was not running), and the agent's Accept may have
// been refused meanwhile.
const lateOffer = 10 * time.Second

func ignoreMissing(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// runScheduler fires due timers: it sleeps until the earliest timer in the
// store (one time.Timer for the whole engine), fires what is due through
// Apply, and wakes early when a command arms an earlier timer.
func (e *Engine) runScheduler(ctx context.Context) {
	sleep := time.NewTimer(time.Hour)
	defer sleep.Stop()
	backoff := false
	for {
		// Awake: a commit that arms any timer from now on wakes it again,
		// whether or not the read below sees the timer.
		e.sleepUntil.Store(math.MaxInt64)
		var next time.Time
		var armed bool
		err := e.store.View(ctx, func(tx Tx) error {
			var err error
			next, armed, err = tx.NextTimer()
			return err
		})
		wait := e.idlePoll
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			WarnFailed(e.log, err, "read next timer")
			wait = time.Second
		case armed:
			// Poll at least every idlePoll for timers armed by other replicas.
			wait = min(next.Sub(e.now()), e.idlePoll)
		}
		if backoff {
			// A timer failed to fire: it stays armed, so retry it without spinning.
			wait, backoff = max(wait, time.Second), false
		}
		if wait > 0 {
			e.sleepUntil.Store(e.now().Add(wait).UnixNano())
			sleep.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
				sleep.Stop()
				continue
			case <-sleep.C:
			}
		}
		if err := e.fireDue(ctx); err != nil && ctx.Err() == nil {
			WarnFailed(e.log, err, "fire due timers")
			backoff = true
		}
	}
}

// fireDue fires every timer due now, in batches, each timer as its own
// FireTimer command (so a failing one leaves the others fired). It returns
// an error if any timer failed to fire.
func (e *Engine) fireDue(ctx context.Context) error {
	var failed error
	for {
		var due []Timer
		if err := e.store.View(ctx, func(tx Tx) error {
			var err error
			due, err = tx.DueTimers(e.now(), fireBatch)
			return err
		}); err != nil {
			return err
		}
		if len(due) == 0 {
			return failed
		}
		cmds := make([]Command, len(due))
		for k, t := range due {
			cmds[k] = FireTimer{Timer: t}
		}
		fired := 0
		for k, r := range e.applyBackground(ctx, cmds) {
			if r.Err != nil {
				failed = fmt.Errorf("timer %s %s: %w", due[k].Kind, due[k].Ref, r.Err)
				WarnFailed(e.log.WithFields(logrus.Fields{"timer": due[k].Kind, "ref": due[k].Ref}), r.Err, "fire timer")
				continue
			}
			fired++
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if len(due) < fireBatch || fired == 0 {
			return failed
		}
	}
}

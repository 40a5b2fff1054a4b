package adapter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// ErrStoreUnavailable matches (errors.Is) an error of a Store that says the
// database cannot serve now, rather than that a command or a query is
// wrong: it cannot be reached, its disk is full, its I/O fails. Stores wrap
// such errors of their driver with it (StoreUnavailable); the API answers
// them 503, to be retried, and readiness reports the outage.
var ErrStoreUnavailable = errors.New("store unavailable")

// StoreUnavailable returns err marked as ErrStoreUnavailable when
// unavailable says it is of that kind (a driver's test), err otherwise.
func StoreUnavailable(err error, unavailable func(error) bool) error {
	if err == nil || errors.Is(err, ErrStoreUnavailable) || !unavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
}

// watchedStore is the engine's store, watched for outages: it notes the
// reads and the writes that fail with ErrStoreUnavailable, logs when an
// outage starts and when it ends, and says whether one lasts (fault).
// Reads and writes are watched apart: a full disk fails every write while
// reads go on.
type watchedStore struct {
	Store
	log     logrus.FieldLogger
	now     func() time.Time
	metrics *Metrics // nil: none

	// out is set while an outage lasts, so that reads and writes that
	// succeed take no lock otherwise.
	out           atomic.Bool
	mu            sync.Mutex
	reads, writes outage
}

// outage is how the reads or the writes of a store fail now: since when,
// how many, and the last error; since is zero while they succeed.
type outage struct {
	since  time.Time
	failed int
	last   error
}

// Update notes a write that failed with ErrStoreUnavailable, whole or in
// one of its fns, or one whose commit held a fn that succeeded. One whose
// fns all failed otherwise may have written nothing, which says nothing
// of a full disk.
func (s *watchedStore) Update(ctx context.Context, fns []func(Tx) error) ([]error, error) {
	errs, err := s.Store.Update(ctx, fns)
	if err != nil {
		if errors.Is(err, ErrStoreUnavailable) {
			s.note("writes", &s.writes, err)
		}
		return errs, err
	}
	committed := false
	for _, e := range errs {
		if e != nil && errors.Is(e, ErrStoreUnavailable) {
			s.note("writes", &s.writes, e)
			return errs, err
		}
		committed = committed || e == nil
	}
	if committed {
		s.note("writes", &s.writes, nil)
	}
	return errs, err
}

func (s *watchedStore) View(ctx context.Context, fn func(Tx) error) error {
	err := s.Store.View(ctx, fn)
	if err == nil || errors.Is(err, ErrStoreUnavailable) {
		s.note("reads", &s.reads, err)
	}
	return err
}

// note records how a read or a write went: err is nil for one that
// succeeded, and an ErrStoreUnavailable otherwise. The first failure of
// an outage is logged as an error, the first success after it as the
// end; the failures between are counted, not logged: every request they
// fail gets its 503.
func (s *watchedStore) note(what string, o *outage, err error) {
	if err == nil && !s.out.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() { s.out.Store(!s.reads.since.IsZero() || !s.writes.since.IsZero()) }()
	switch {
	case err != nil && o.since.IsZero():
		*o = outage{since: s.now(), failed: 1, last: err}
		s.log.WithError(err).Errorf("store unavailable: %s fail; requests that need them are answered 503 until they succeed again", what)
		s.metrics.storeOutage(what, false)
	case err != nil:
		o.failed++
		o.last = err
	case !o.since.IsZero():
		s.log.WithFields(logrus.Fields{"failed": o.failed, "after": s.now().Sub(o.since).Round(time.Millisecond).String()}).
			Infof("store available again: %s succeed", what)
		*o = outage{}
		s.metrics.storeOutage(what, true)
	}
}

// fault returns the error of the outage that lasts, writes first, or nil.
func (s *watchedStore) fault() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range []struct {
		what string
		o    outage
	}{{"writes", s.writes}, {"reads", s.reads}} {
		if !o.o.since.IsZero() {
			return &StoreFaultError{What: o.what, Since: o.o.since, Failed: o.o.failed, Err: o.o.last}
		}
	}
	return nil
}

// StoreFaultError is an outage of the store that lasts: its reads or its
// writes have failed since Since, Failed times, the last with Err.
type StoreFaultError struct {
	What   string // "reads" or "writes"
	Since  time.Time
	Failed int
	Err    error
}

func (e *StoreFaultError) Error() string {
	return fmt.Sprintf("%s fail since %s (%d failed): %v", e.What, e.Since.UTC().Format(time.RFC3339), e.Failed, e.Err)
}

func (e *StoreFaultError) Unwrap() error { return e.Err }

// StoreFault returns the outage of the store that lasts, as the engine
// and the readers of its Store saw it (a *StoreFaultError), or nil when
// the last reads and writes succeeded. An outage ends at the first read or
// write of its kind that succeeds.
func (e *Engine) StoreFault() error { return e.store.fault() }

// WarnFailed logs the failed step of a background loop (a lease taken, a
// poll, a writeback, timers) with err at warn level, or at debug when the
// store's outage failed it: the engine logs an outage once when it begins
// and once when it ends, and the loops would log it at every round.
func WarnFailed(l logrus.FieldLogger, err error, msg string) {
	if errors.Is(err, ErrStoreUnavailable) {
		l.WithError(err).Debug(msg)
		return
	}
	l.WithError(err).Warn(msg)
}

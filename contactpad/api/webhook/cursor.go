package webhook

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/ctibridge/ctibridge/adapter"
)

// watermarkKey names a hook's cursor among the store's watermarks.
func watermarkKey(url string) string { return "webhook:" + url }

// loadCursor returns the hook's stored cursor. A hook without one starts
// at the current end of the event log, which is stored as its cursor at
// once: events committed after this call are delivered even if the process
// stops before it delivers anything.
func (d *Dispatcher) loadCursor(ctx context.Context, key string) (int64, error) {
	var (
		value string
		err   error
	)
	if err := d.store.View(ctx, func(tx adapter.Tx) error {
		value, err = tx.Watermark(key)
		return err
	}); err != nil {
		return 0, fmt.Errorf("read webhook cursor: %w", err)
	}
	if value != "" {
		return parseCursor(value)
	}
	var cursor int64
	errs, err := d.store.Update(ctx, []func(adapter.Tx) error{func(tx adapter.Tx) error {
		// Another replica may have set it since the View.
		value, err := tx.Watermark(key)
		if err != nil {
			return err
		}
		if value != "" {
			cursor, err = parseCursor(value)
			return err
		}
		if cursor, err = endOfLog(tx); err != nil {
			return err
		}
		return tx.SetWatermark(key, strconv.FormatInt(cursor, 10))
	}})
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		return 0, fmt.Errorf("start webhook cursor: %w", err)
	}
	return cursor, nil
}

// saveCursor stores cursor as the hook's cursor unless the stored one is
// already further (another replica delivers too): it only moves forward.
func (d *Dispatcher) saveCursor(ctx context.Context, key string, cursor int64) error {
	errs, err := d.store.Update(ctx, []func(adapter.Tx) error{func(tx adapter.Tx) error {
		value, err := tx.Watermark(key)
		if err != nil {
			return err
		}
		if stored, err := parseCursor(value); err == nil && stored >= cursor {
			return nil
		}
		return tx.SetWatermark(key, strconv.FormatInt(cursor, 10))
	}})
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		return fmt.Errorf("save webhook cursor: %w", err)
	}
	return nil
}

// parseCursor reads a stored cursor. Errors do not name the watermark: it
// holds the URL, which may carry a token.
func parseCursor(value string) (int64, error) {
	seq, err := strconv.ParseInt(value, 10, 64)
	if err != nil || seq < 0 {
		return 0, fmt.Errorf("webhook cursor %q is not an event seq", value)
	}
	return seq, nil
}

// endOfLog returns the Seq of the last committed event, 0 if none. A
// store whose Tx has LastEventSeq says it directly; otherwise lastSeq
// finds it with a few reads.
func endOfLog(tx adapter.Tx) (int64, error) {
	if t, ok := tx.(interface{ LastEventSeq() (int64, error) }); ok {
		return t.LastEventSeq()
	}
	return lastSeq(tx.EventsAfter)
}

// lastSeq returns the greatest Seq of the event log (0 when it is empty)
// with O(log Seq) reads of one event each, through eventsAfter (the Tx's
// EventsAfter): "is there an event after x" is monotone in x, so it
// gallops up to a bound and then bisects. Paging through the whole log
// would decode every event while holding the store's write lock.
func lastSeq(eventsAfter func(after int64, limit int) ([]adapter.Event, error)) (int64, error) {
	// next returns the first Seq after x, if any.
	next := func(x int64) (int64, bool, error) {
		events, err := eventsAfter(x, 1)
		if err != nil || len(events) == 0 {
			return 0, false, err
		}
		if events[0].Seq <= x {
			return 0, false, fmt.Errorf("events after %d start at %d", x, events[0].Seq)
		}
		return events[0].Seq, true, nil
	}
	// Invariant: lo is 0 or the Seq of an event, and no event is after hi.
	lo := int64(0)
	hi := int64(math.MaxInt64)
	for step := int64(1); ; step *= 2 {
		probe := hi
		if lo <= math.MaxInt64-step {
			probe = lo + step
		}
		seq, ok, err := next(probe)
		if err != nil {
			return 0, err
		}
		if !ok {
			hi = probe
			break
		}
		lo = seq
		if step > math.MaxInt64/2 {
			step = math.MaxInt64 / 2
		}
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		seq, ok, err := next(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = seq
		} else {
			hi = mid
		}
	}
	return lo, nil
}

package webhook

import (
	"context"
	"fmt"
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
	err = adapter.UpdateOne(ctx, d.store, func(tx adapter.Tx) error {
		// Another replica may have set it since the View.
		value, err := tx.Watermark(key)
		if err != nil {
			return err
		}
		if value != "" {
			cursor, err = parseCursor(value)
			return err
		}
		if cursor, err = tx.LastEventSeq(); err != nil {
			return err
		}
		return tx.SetWatermark(key, strconv.FormatInt(cursor, 10))
	})
	if err != nil {
		return 0, fmt.Errorf("start webhook cursor: %w", err)
	}
	return cursor, nil
}

// saveCursor stores cursor as the hook's cursor unless the stored one is
// already further (another replica delivers too): it only moves forward.
func (d *Dispatcher) saveCursor(ctx context.Context, key string, cursor int64) error {
	err := adapter.UpdateOne(ctx, d.store, func(tx adapter.Tx) error {
		value, err := tx.Watermark(key)
		if err != nil {
			return err
		}
		if stored, err := parseCursor(value); err == nil && stored >= cursor {
			return nil
		}
		return tx.SetWatermark(key, strconv.FormatInt(cursor, 10))
	})
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

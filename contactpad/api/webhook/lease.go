package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
)

// Several replicas share one store, and each runs a Dispatcher of the same
// hooks. Only one of them delivers a hook at a time: the one holding the
// hook's lease, a watermark of the store that names the holder and when
// its hold ends. The holder renews it while it delivers (every lease/3);
// the others stand by and take it over once it has expired, from the
// stored cursor. A clean stop hands the lease back at once.
//
// The lease is what makes delivery (nearly) exactly once across replicas;
// it does not make it exactly once: a holder that stalls past its lease
// (a GC pause, a partition from the store) may finish the POST it was
// making while another replica delivers the same event. Receivers dedupe
// by the event's seq (X-Ctibridge-Delivery), as at-least-once requires.

// defaultLease is how long a hook's lease lasts unless renewed.
const defaultLease = 30 * time.Second

// leaseKey names the lease of the hook whose cursor is cursorKey.
func leaseKey(cursorKey string) string {
	return "webhook-lease:" + strings.TrimPrefix(cursorKey, "webhook:")
}

// newHolder names this Dispatcher in the leases it holds: the host, the
// process and a random part, so that two Dispatchers never share a name.
func newHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// lease is a hook's stored lease: "<until, RFC 3339> <holder>".
type lease struct {
	holder string
	until  time.Time
}

func parseLease(value string) lease {
	until, holder, ok := strings.Cut(value, " ")
	t, err := time.Parse(time.RFC3339Nano, until)
	if !ok || err != nil {
		return lease{} // none, or unreadable: free to take
	}
	return lease{holder: holder, until: t}
}

func (l lease) String() string {
	return l.until.UTC().Format(time.RFC3339Nano) + " " + l.holder
}

// acquire takes or renews the hook's lease until now+d.lease, and reports
// whether this Dispatcher holds it. A lease another Dispatcher holds is
// left alone until it expires.
func (d *Dispatcher) acquire(ctx context.Context, h *hook, now time.Time) (bool, error) {
	held := false
	err := adapter.UpdateOne(ctx, d.store, func(tx adapter.Tx) error {
		value, err := tx.Watermark(h.lease)
		if err != nil {
			return err
		}
		if l := parseLease(value); l.holder != "" && l.holder != d.holder && now.Before(l.until) {
			return nil
		}
		held = true
		return tx.SetWatermark(h.lease, lease{holder: d.holder, until: now.Add(d.lease)}.String())
	})
	if err != nil {
		return false, fmt.Errorf("webhook lease: %w", err)
	}
	return held, nil
}

// release hands the hook's lease back if this Dispatcher holds it, so a
// standing-by replica takes over without waiting for it to expire.
func (d *Dispatcher) release(ctx context.Context, h *hook) error {
	return adapter.UpdateOne(ctx, d.store, func(tx adapter.Tx) error {
		value, err := tx.Watermark(h.lease)
		if err != nil || parseLease(value).holder != d.holder {
			return err
		}
		return tx.SetWatermark(h.lease, "")
	})
}

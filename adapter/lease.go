package adapter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"
)

// Lease is work that one of several replicas sharing a store does at a
// time (polling a CRM source, delivering a webhook): the replica holding
// the lease. It lives in the store's watermarks, as the holder's name and
// when its hold ends. The holder renews it while it works; the others
// stand by and take it over once it has expired; Release hands it back at
// once. A holder that stalls past its lease (a long pause, a partition
// from the store) may still finish what it was doing while the next
// holder starts: work under a lease must be safe to repeat.
type Lease struct {
	store  Store
	key    string
	holder string
	ttl    time.Duration
}

// NewLease returns the lease named key (a watermark of its own) of holder,
// lasting ttl from each Acquire.
func NewLease(store Store, key, holder string, ttl time.Duration) *Lease {
	return &Lease{store: store, key: key, holder: holder, ttl: ttl}
}

// NewHolder names a replica in the leases it holds: the host, the process
// and a random part, so that no two holders share a name.
func NewHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// TTL is how long the lease lasts from an Acquire.
func (l *Lease) TTL() time.Duration { return l.ttl }

// Acquire takes or renews the lease until now+TTL and reports whether the
// holder has it. A lease another holder has is left alone until it
// expires.
func (l *Lease) Acquire(ctx context.Context, now time.Time) (bool, error) {
	held := false
	err := UpdateOne(ctx, l.store, func(tx Tx) error {
		value, err := tx.Watermark(l.key)
		if err != nil {
			return err
		}
		if holder, until := parseLease(value); holder != "" && holder != l.holder && now.Before(until) {
			return nil
		}
		held = true
		return tx.SetWatermark(l.key, formatLease(l.holder, now.Add(l.ttl)))
	})
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", l.key, err)
	}
	return held, nil
}

// Release hands the lease back if the holder has it, so that another
// replica takes over without waiting for it to expire.
func (l *Lease) Release(ctx context.Context) error {
	return UpdateOne(ctx, l.store, func(tx Tx) error {
		value, err := tx.Watermark(l.key)
		if err != nil {
			return err
		}
		if holder, _ := parseLease(value); holder != l.holder {
			return nil
		}
		return tx.SetWatermark(l.key, "")
	})
}

// A stored lease is "<until, RFC 3339> <holder>"; "" is none.
func formatLease(holder string, until time.Time) string {
	return until.UTC().Format(time.RFC3339Nano) + " " + holder
}

func parseLease(value string) (holder string, until time.Time) {
	at, holder, ok := strings.Cut(value, " ")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil {
		return "", time.Time{} // none, or unreadable: free to take
	}
	return holder, t
}

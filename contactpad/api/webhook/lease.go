package webhook

import (
	"strings"
	"time"
)

// Several replicas share one store, and each runs a Dispatcher of the same
// hooks. Only one of them delivers a hook at a time: the one holding the
// hook's adapter.Lease. The holder renews it while it delivers (every
// lease/3); the others stand by and take it over once it has expired, from
// the stored cursor. A clean stop hands the lease back at once.
//
// The lease makes delivery (nearly) exactly once across replicas, not
// exactly once: a holder that stalls past its lease may finish the POST it
// was making while another replica delivers the same event. Receivers
// dedupe by the event's seq (X-Ctibridge-Delivery), as at-least-once
// requires.

// defaultLease is how long a hook's lease lasts unless renewed.
const defaultLease = 30 * time.Second

// leaseKey names the lease of the hook whose cursor is cursorKey.
func leaseKey(cursorKey string) string {
	return "webhook-lease:" + strings.TrimPrefix(cursorKey, "webhook:")
}

// Package webhook delivers the event log of the store to webhook endpoints:
// each event is POSTed as the same JSON as the SSE stream, signed in the
// Standard Webhooks scheme (sign.go) under each of the hook's secrets.
//
// Delivery reads the events from the store, never from process memory, so
// nothing is lost on a restart. Each hook has one loop that delivers
// strictly in Seq order: an event is POSTed only once every earlier event
// the hook wants was delivered, so the events of one interaction arrive in
// the order they happened. A failed delivery (transport error or any
// non-2xx answer, 4xx included) is retried after an exponential backoff,
// forever: the events stay in the store, and the hook's Status shows the
// failure to admins.
//
// The guarantee is at least once. The hook's cursor (the Seq of the last
// event it is done with) is stored under the watermark "webhook:"+URL after
// each page of events, before each backoff and when Run returns; a crash in
// between redelivers at most one page (WithBatch) of events. Receivers
// dedupe by the event id (the webhook-id and X-Ctibridge-Delivery headers). A hook without
// a stored cursor starts at the current end of the event log: it does not
// replay the history.
//
// Several replicas that run a Dispatcher for the same hooks each deliver
// every event (at least once still holds; the stored cursor only moves
// forward). Run the Dispatcher in one replica.
package webhook

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/ctibridge/ctibridge/adapter"
)

// Hook is an endpoint that receives events.
type Hook struct {
	// URL is the absolute http or https URL the events are POSTed to. It
	// names the hook's cursor in the store: hooks must have distinct URLs.
	URL string
	// Secrets sign each delivery, one signature each, as the config writes
	// them: "whsec_" and the base64 of the key, or the key itself (see
	// SecretKey). Several secrets let receivers rotate without a gap; the
	// first also signs the deprecated LegacySignatureHeader. Config
	// validation refuses a secret SecretKey refuses; New signs with its
	// bytes as they are.
	Secrets []string
	// Events are the event types to send; empty sends every type.
	Events []adapter.EventType
}

// String describes the hook without its secret, so that a hook that
// reaches a log line or an error by accident does not leak it.
func (h Hook) String() string {
	return fmt.Sprintf("webhook %s %v", redactURL(h.URL), h.Events)
}

// GoString is String, for %#v.
func (h Hook) GoString() string { return h.String() }

// wants reports whether the hook receives events of type t.
func (h Hook) wants(t adapter.EventType) bool {
	return len(h.Events) == 0 || slices.Contains(h.Events, t)
}

// HookStatus is where a hook's delivery is, for admins
// (GET /api/v1/admin/webhooks). It carries no secret and no bodies.
type HookStatus struct {
	// URL is the hook's URL with any password and query values masked.
	URL string `json:"url"`
	// Events are the types the hook receives; empty means every type.
	Events []adapter.EventType `json:"events"`
	// DeliveredSeq is the hook's cursor: every event up to this Seq was
	// delivered, or skipped as a type the hook does not want. On a replica
	// standing by, it is the cursor as the delivering replica last stored
	// it (read at each try for the lease); the fields below are this
	// replica's own attempts.
	DeliveredSeq int64 `json:"delivered_seq"`
	// LastDeliveryAt is when an event was last delivered (null if never,
	// since this process started).
	LastDeliveryAt *time.Time `json:"last_delivery_at"`
	// LastStatus is the HTTP status of the last attempt; 0 when it got no
	// answer (or none was made yet).
	LastStatus int `json:"last_status"`
	// LastError says why the last attempt failed; empty after a success.
	LastError string `json:"last_error"`
	// Attempts counts the consecutive failed attempts of the event at the
	// head of the hook's queue.
	Attempts int `json:"attempts"`
	// NextAttemptAt is when that event is tried again (null unless Pending).
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	// Pending is true while an event that failed waits for its retry.
	Pending bool `json:"pending"`
	// Delivering is true while this replica holds the hook's lease and
	// delivers its events; false while another replica does.
	Delivering bool `json:"delivering"`
}

// Option configures a Dispatcher.
type Option func(*Dispatcher)

// WithClient sets the HTTP client of the deliveries. The default has a 10s
// timeout and does not follow redirects (a redirect is a failed delivery:
// net/http would turn the POST into a GET).
func WithClient(c *http.Client) Option { return func(d *Dispatcher) { d.client = c } }

// WithHolder names the Dispatcher in the hooks' leases (default:
// adapter.NewHolder). A replica that keeps its name across restarts takes
// its leases back at once.
func WithHolder(name string) Option { return func(d *Dispatcher) { d.holder = name } }

// WithLogger sets the logger (default: logrus's standard logger).
func WithLogger(l logrus.FieldLogger) Option { return func(d *Dispatcher) { d.log = l } }

// WithBackoff bounds the wait before retrying a failed delivery: min after
// the first failure, doubling after each further one, at most max
// (defaults 1s and 5m). A Retry-After (in seconds) on a 429 or 503 answer
// lengthens the wait, up to max.
func WithBackoff(min, max time.Duration) Option {
	return func(d *Dispatcher) { d.minBackoff, d.maxBackoff = min, max }
}

// WithBatch sets how many events a hook reads from the store at once
// (default 100); it bounds the redelivery after a crash.
func WithBatch(n int) Option { return func(d *Dispatcher) { d.batch = n } }

// WithPollInterval sets how often an idle hook looks for events that
// Notify did not announce, such as those another replica committed
// (default 5s).
func WithPollInterval(p time.Duration) Option { return func(d *Dispatcher) { d.poll = p } }

// Default settings.
const (
	defaultTimeout    = 10 * time.Second
	defaultMinBackoff = time.Second
	defaultMaxBackoff = 5 * time.Minute
	defaultBatch      = 100
	defaultPoll       = 5 * time.Second
	// saveTimeout bounds storing the cursor once Run's ctx is done.
	saveTimeout = 5 * time.Second
)

// Dispatcher delivers the store's events to webhooks. Its methods are safe
// for concurrent use; Run must not run twice at once.
type Dispatcher struct {
	store      adapter.Store
	hooks      []*hook
	client     *http.Client
	log        logrus.FieldLogger
	minBackoff time.Duration
	maxBackoff time.Duration
	batch      int
	poll       time.Duration
	// holder names this Dispatcher in the hooks' leases (see lease.go).
	holder string
	// reg receives the metrics (WithMetrics); nil: none.
	reg prometheus.Registerer
}

// hook is a Hook with its delivery state.
type hook struct {
	Hook
	// key is the hook's cursor among the store's watermarks.
	key string
	// lease is held while this Dispatcher delivers the hook.
	lease *adapter.Lease
	// keys are the HMAC keys of Secrets, in order.
	keys [][]byte
	// url is the URL as logs and Status show it.
	url string
	// label names the hook in metrics: url, made unique.
	label string
	// wake is Notify's doorbell; a pending ring is kept until read.
	wake chan struct{}
	log  logrus.FieldLogger
	// delivered and failed count the delivery attempts (metrics.go).
	delivered, failed prometheus.Counter

	mu     sync.Mutex
	status HookStatus
}

// New returns a Dispatcher of hooks over store. Call Run to start it.
func New(store adapter.Store, hooks []Hook, opts ...Option) *Dispatcher {
	d := &Dispatcher{
		store: store,
		client: &http.Client{
			Timeout: defaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		log:        logrus.StandardLogger(),
		minBackoff: defaultMinBackoff,
		maxBackoff: defaultMaxBackoff,
		batch:      defaultBatch,
		poll:       defaultPoll,
		holder:     adapter.NewHolder(),
	}
	for _, o := range opts {
		o(d)
	}
	if d.minBackoff <= 0 {
		d.minBackoff = defaultMinBackoff
	}
	if d.maxBackoff < d.minBackoff {
		d.maxBackoff = max(d.minBackoff, defaultMaxBackoff)
	}
	if d.batch <= 0 {
		d.batch = defaultBatch
	}
	if d.poll <= 0 {
		d.poll = defaultPoll
	}
	deliveries := newDeliveries()
	keys, labels := map[string]int{}, map[string]int{}
	for _, h := range hooks {
		h.Events = slices.Clone(h.Events)
		h.Secrets = slices.Clone(h.Secrets)
		hmacKeys := make([][]byte, len(h.Secrets))
		for i, secret := range h.Secrets {
			k, err := SecretKey(secret)
			if err != nil {
				k = []byte(secret)
			}
			hmacKeys[i] = k
		}
		key := watermarkKey(h.URL)
		// Two hooks with one URL must not share a cursor; config
		// validation should refuse them in the first place.
		if keys[key]++; keys[key] > 1 {
			key = fmt.Sprintf("%s#%d", key, keys[key])
		}
		url := redactURL(h.URL)
		// Distinct URLs may look alike once redacted (a token in the
		// query); their metrics must not merge.
		label := url
		if labels[url]++; labels[url] > 1 {
			label = fmt.Sprintf("%s#%d", url, labels[url])
		}
		d.hooks = append(d.hooks, &hook{
			Hook: h, key: key, keys: hmacKeys, url: url, label: label,
			lease:     adapter.NewLease(store, leaseKey(key), d.holder, defaultLease),
			wake:      make(chan struct{}, 1),
			log:       d.log.WithField("url", url),
			status:    HookStatus{URL: url, Events: nonNil(h.Events)},
			delivered: deliveries.WithLabelValues(label, outcomeDelivered),
			failed:    deliveries.WithLabelValues(label, outcomeFailed),
		})
	}
	d.registerMetrics(deliveries)
	return d
}

// Run delivers events to every hook, one loop per hook, until ctx is done;
// it returns when all loops have returned, each with its cursor stored.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, h := range d.hooks {
		wg.Go(func() { (&loop{d: d, h: h}).run(ctx) })
	}
	wg.Wait()
	// Without hooks too, Run lasts as long as ctx.
	<-ctx.Done()
}

// Notify tells the hooks that new events were committed. It never blocks;
// the engine calls it from its OnEvents callback.
func (d *Dispatcher) Notify() {
	for _, h := range d.hooks {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}

// Status returns the delivery state of every hook, in the order of New.
func (d *Dispatcher) Status() []HookStatus {
	out := make([]HookStatus, len(d.hooks))
	for i, h := range d.hooks {
		h.mu.Lock()
		s := h.status
		h.mu.Unlock()
		s.Events = nonNil(slices.Clone(s.Events))
		s.LastDeliveryAt = clonePtr(s.LastDeliveryAt)
		s.NextAttemptAt = clonePtr(s.NextAttemptAt)
		out[i] = s
	}
	return out
}

// update changes the hook's status under its lock.
func (h *hook) update(f func(*HookStatus)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(&h.status)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func clonePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

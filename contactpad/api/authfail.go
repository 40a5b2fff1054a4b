package api

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The defaults of Options.AuthFailureRate and AuthFailureBurst: a client
// that sends 20 unknown tokens in a row then gets one try every 10s,
// plenty for a person mistyping and far too few for a guesser.
const (
	DefaultAuthFailureRate  rate.Limit = 0.1
	DefaultAuthFailureBurst            = 20
)

// maxFailingClients bounds the clients whose failures are remembered; past
// it the ones whose budget has refilled are forgotten.
const maxFailingClients = 10000

// authFailures limits how fast each client address may present unknown
// bearer tokens. A client over its budget gets 429 for every token it
// presents, known or not, so that guessing from it goes no faster than the
// limit whatever the guesses. There is one exception, so that one bad actor
// behind a shared address (a NAT, a proxy) does not lock out the agents
// behind it: a known token that last signed in from this very address
// still works. A guesser cannot tell those tokens from any other.
//
// Clients are told apart by the connection's address (an IPv6 client by
// its /64), never by a header a client could forge.
type authFailures struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	clients map[netip.Prefix]*rate.Limiter
	// lastFrom is where each token (by its SHA-256) last signed in.
	lastFrom map[string]netip.Prefix
}

func newAuthFailures(limit rate.Limit, burst int) *authFailures {
	return &authFailures{limit: limit, burst: burst,
		clients: map[netip.Prefix]*rate.Limiter{}, lastFrom: map[string]netip.Prefix{}}
}

// clientOf is the address that stands for the request's client.
func clientOf(r *http.Request) netip.Prefix {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

// blocked reports whether the client at now has used up its failures, and
// if so how long until it may try again. id is the identity of the
// request's token (nil when unknown): one that last signed in from this
// client is never blocked.
func (f *authFailures) blocked(client netip.Prefix, id *Identity, now time.Time) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.clients[client]
	if l == nil || l.TokensAt(now) >= 1 {
		return 0, false
	}
	if id != nil && f.lastFrom[id.TokenSHA256] == client {
		return 0, false
	}
	wait := time.Duration((1 - l.TokensAt(now)) / float64(f.limit) * float64(time.Second))
	return wait, true
}

// failed counts an unknown token from the client.
func (f *authFailures) failed(client netip.Prefix, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.clients[client]
	if l == nil {
		if len(f.clients) >= maxFailingClients {
			f.forget(now)
		}
		l = rate.NewLimiter(f.limit, f.burst)
		f.clients[client] = l
	}
	l.AllowN(now, 1)
}

// signedIn records that id's token was accepted from the client.
func (f *authFailures) signedIn(client netip.Prefix, id *Identity) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastFrom[id.TokenSHA256] != client {
		f.lastFrom[id.TokenSHA256] = client
	}
}

// forget drops the clients whose budget is full again: they are as good
// as new. Callers hold f.mu.
func (f *authFailures) forget(now time.Time) {
	for c, l := range f.clients {
		if l.TokensAt(now) >= float64(f.burst) {
			delete(f.clients, c)
		}
	}
}

// retryAfter is a Retry-After value: whole seconds, at least one.
func retryAfter(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}

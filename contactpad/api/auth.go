package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/time/rate"
)

// Role is what an identity may do.
type Role string

// The roles of API.md.
const (
	// RoleAgent acts on its own work: interactions it owns or is offered,
	// transfer requests and consults addressed to it.
	RoleAgent Role = "agent"
	// RoleAdmin may read and act on everything, and use /api/v1/admin.
	RoleAdmin Role = "admin"
	// RoleIntegration may read, export and follow events.
	RoleIntegration Role = "integration"
)

// Identity is one API token's owner, or the agent of a session (signin.go).
type Identity struct {
	// Name names the identity in logs: the agent ID for agents.
	Name string
	Role Role
	// TokenSHA256 is the hex SHA-256 of the bearer token.
	TokenSHA256 string
}

// agent returns the agent the identity acts as: its name for agents, ""
// (acting as an admin, on anything) otherwise.
func (id *Identity) agent() string {
	if id.Role == RoleAgent {
		return id.Name
	}
	return ""
}

func (id *Identity) allowed(who int) bool {
	switch id.Role {
	case RoleAgent:
		return who&agents != 0
	case RoleAdmin:
		return who&admins != 0
	case RoleIntegration:
		return who&integrations != 0
	}
	return false
}

// authenticator finds the identity of a bearer token, and limits each
// identity's request rate.
type authenticator struct {
	byHash   map[[sha256.Size]byte]*Identity
	limiters map[*Identity]*rate.Limiter
}

func newAuthenticator(ids []Identity, limit rate.Limit, burst int) (*authenticator, error) {
	a := &authenticator{byHash: map[[sha256.Size]byte]*Identity{}, limiters: map[*Identity]*rate.Limiter{}}
	for k := range ids {
		id := &ids[k]
		raw, err := hex.DecodeString(id.TokenSHA256)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("identity %s: token_sha256 is not a hex SHA-256", id.Name)
		}
		switch id.Role {
		case RoleAgent, RoleAdmin, RoleIntegration:
		default:
			return nil, fmt.Errorf("identity %s: unknown role %q", id.Name, id.Role)
		}
		key := [sha256.Size]byte(raw)
		if _, dup := a.byHash[key]; dup {
			return nil, fmt.Errorf("identity %s: same token as another identity", id.Name)
		}
		a.byHash[key] = id
		a.limiters[id] = rate.NewLimiter(limit, burst)
	}
	return a, nil
}

// authenticate returns the identity of the request's bearer token, or nil.
//
// The token is hashed first and the hash looked up: the time a lookup takes
// depends on the hash, which an attacker cannot steer, never on how much of
// a token matched. The final comparison is constant-time all the same.
func (a *authenticator) authenticate(r *http.Request) *Identity {
	token, ok := bearer(r)
	if !ok {
		return nil
	}
	sum := sha256.Sum256([]byte(token))
	id := a.byHash[sum]
	if id == nil {
		return nil
	}
	want, _ := hex.DecodeString(id.TokenSHA256)
	if subtle.ConstantTimeCompare(sum[:], want) != 1 {
		return nil
	}
	return id
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
// Tokens are never taken from the URL, which proxies and access logs keep.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// api registers an authenticated API route for the roles in who.
func (s *Server) api(pattern string, who int, h func(w http.ResponseWriter, r *http.Request, id *Identity) error) {
	route := pattern
	if _, path, ok := strings.Cut(pattern, " "); ok {
		route = path
	}
	subject := subjectField(route)
	var handler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := accessOf(r)
		auth := s.auth.Load()
		id := auth.authenticate(r)
		var sess *session
		if _, hasBearer := bearer(r); !hasBearer && s.signin != nil {
			var err error
			if id, sess, err = s.signin.authenticate(r); err != nil {
				s.problem(w, r, err)
				return
			}
		}
		client, now := clientOf(r), s.o.Now()
		if wait, blocked := s.failures.blocked(client, id, now); blocked {
			w.Header().Set("Retry-After", retryAfter(wait))
			s.problem(w, r, errAuthRateLimited)
			return
		}
		if id == nil {
			s.failures.failed(client, now)
			w.Header().Set("WWW-Authenticate", `Bearer realm="ctibridge"`)
			s.problem(w, r, errUnauthorized)
			return
		}
		s.failures.signedIn(client, id)
		a.identity = id.Name
		limiter := auth.limiters[id]
		if sess != nil {
			limiter = s.signin.limiter(id.Name)
		}
		if !limiter.Allow() {
			w.Header().Set("Retry-After", "1")
			s.problem(w, r, errRateLimited)
			return
		}
		if !id.allowed(who) {
			s.problem(w, r, forbidden("role %s may not %s %s", id.Role, r.Method, route))
			return
		}
		if sess != nil {
			if err := s.signin.checkCSRF(r, sess); err != nil {
				s.problem(w, r, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess))
		}
		if err := checkURL(r); err != nil {
			s.problem(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, int64(s.o.MaxBodyBytes))
		if subject != "" {
			a.subjectField, a.subjectID = subject, loggedID(r.PathValue("id"))
		}
		if err := h(w, r, id); err != nil {
			s.problem(w, r, err)
		}
	})
	// An event stream lasts as long as the client stays: its duration
	// would only blur the histogram (the access log has it).
	if route != eventsRoute {
		handler = s.metrics.instrument(route, handler)
	}
	s.mux.Handle(pattern, handler)
}

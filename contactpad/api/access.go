package api

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/ctibridge/ctibridge/adapter"
)

// access is what the handlers learn about a request that its access log
// line reports: who called, and about what. observe puts it in the
// request's context; the API routes fill it in.
type access struct {
	identity string
	// subject is the object the route's {id} names: the field name
	// (interaction, consult, transfer, outbox_row) and the id.
	subjectField, subjectID string
}

type accessKey struct{}

// accessOf returns the request's access record (one that nobody reads
// outside observe).
func accessOf(r *http.Request) *access {
	if a, ok := r.Context().Value(accessKey{}).(*access); ok {
		return a
	}
	return &access{}
}

// observe is the outermost handler. It writes one access log line per
// request when the request ends (an event stream's, when the stream ends),
// and turns a handler's panic into an error line with the stack and a 500
// problem, so that a bug costs one request, not the connection without a
// trace.
//
// The line has the method, the route pattern (never the raw path, nor the
// query, which may carry a secret), the status, the duration, the caller's
// identity name and the id the route names; never a token or a body. It is
// at info for /api/ and at debug for the probes, the metrics and the
// panel's files, which would drown it.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		a := &access{}
		r = r.WithContext(context.WithValue(r.Context(), accessKey{}, a))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			v := recover()
			abort := false
			switch {
			case v == nil:
			case v == http.ErrAbortHandler:
				// net/http's way to abort a response on purpose: not a bug.
				abort = true
			default:
				s.log.WithFields(s.accessFields(r, a)).WithFields(logrus.Fields{
					"panic": fmt.Sprint(v), "stack": string(debug.Stack()),
				}).Error("panic serving a request")
				if sw.wrote {
					// Too late for a 500: end the response so the client
					// does not take it for a whole one.
					abort = true
				} else {
					writeProblem(sw, adapter.CodeInternal, detailInternal)
				}
			}
			s.logAccess(r, a, sw.status, time.Since(start), abort)
			if abort {
				panic(http.ErrAbortHandler)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// logAccess writes the access log line of a finished request; aborted
// says its response was cut short.
func (s *Server) logAccess(r *http.Request, a *access, status int, took time.Duration, aborted bool) {
	level := logrus.DebugLevel
	if strings.HasPrefix(r.URL.Path, "/api/") {
		level = logrus.InfoLevel
	}
	// At warn (the bench's level) the line costs no allocation.
	if l, ok := s.log.(interface{ IsLevelEnabled(logrus.Level) bool }); ok && !l.IsLevelEnabled(level) {
		return
	}
	f := s.accessFields(r, a)
	f["status"], f["duration_s"] = status, took.Seconds()
	if aborted {
		f["aborted"] = true
	}
	s.log.WithFields(f).Log(level, "request")
}

// accessFields describe a request in log lines. route is the ServeMux
// pattern that matched ("POST /api/v1/interactions/{id}/release"; empty
// when none did): ServeMux sets it on the request it was given, which is
// observe's.
func (s *Server) accessFields(r *http.Request, a *access) logrus.Fields {
	f := logrus.Fields{"method": r.Method, "route": r.Pattern}
	if a.identity != "" {
		f["identity"] = a.identity
	}
	if a.subjectField != "" {
		f[a.subjectField] = a.subjectID
	}
	return f
}

// subjectFields name the object of a route's {id} by the path segment
// before it.
var subjectFields = map[string]string{
	"interactions": "interaction",
	"consults":     "consult",
	"transfers":    "transfer",
	"parked":       "outbox_row",
}

// subjectField is the log field of route's {id}, "" if it has none.
func subjectField(route string) string {
	before, _, ok := strings.Cut(route, "/{id}")
	if !ok {
		return ""
	}
	return subjectFields[before[strings.LastIndex(before, "/")+1:]]
}

// maxLoggedID bounds an id in a log line: ids are short, a path is not.
const maxLoggedID = 64

// loggedID is id cut to maxLoggedID bytes, at a rune boundary.
func loggedID(id string) string {
	if len(id) <= maxLoggedID {
		return id
	}
	cut := maxLoggedID
	for cut > 0 && !utf8.RuneStart(id[cut]) {
		cut--
	}
	return id[:cut] + "..."
}

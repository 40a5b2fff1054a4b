package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// secure sets the headers every response carries and answers CORS
// preflights for the configured origins.
//
// The panel may be framed only by its own origin and FrameAncestors (CSP
// frame-ancestors); browsers on those origins may call the API (CORS).
// Any other origin gets no CORS headers, so browsers keep its pages out.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", s.csp)
		if origin := r.Header.Get("Origin"); origin != "" {
			h.Add("Vary", "Origin")
			if s.cors.allows(origin) {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Expose-Headers", "Retry-After")
				if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
					h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH")
					h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID")
					h.Set("Access-Control-Max-Age", "600")
					w.WriteHeader(http.StatusNoContent)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy is the CSP of every response: the panel's styles
// and API calls come from its own origin, its scripts from there and the
// scriptOrigins (the org's Open CTI library), never inline, and only the
// frame ancestors may frame it.
func contentSecurityPolicy(scriptOrigins, frameAncestors []string) string {
	return fmt.Sprintf("default-src 'self'; script-src %s; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; frame-ancestors %s; base-uri 'none'; form-action 'none'",
		strings.Join(append([]string{"'self'"}, scriptOrigins...), " "),
		strings.Join(append([]string{"'self'"}, frameAncestors...), " "))
}

// scriptOrigin is the CSP source of the script at rawURL: its scheme and
// host, the way a browser compares them.
func scriptOrigin(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.ContainsAny(u.Host, " ;,'*") {
		return "", fmt.Errorf("script URL %q: want https://host/...", rawURL)
	}
	return "https://" + strings.ToLower(u.Host), nil
}

// originSet matches Origin headers against configured origins, where a
// host starting with "*." matches every subdomain.
type originSet struct {
	exact    map[string]bool
	wildcard []wildcardOrigin
}

type wildcardOrigin struct{ scheme, suffix, port string }

func newOriginSet(origins []string) (*originSet, error) {
	set := &originSet{exact: map[string]bool{}}
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("frame ancestor %q: want scheme://host[:port]", o)
		}
		if suffix, ok := strings.CutPrefix(u.Hostname(), "*."); ok {
			set.wildcard = append(set.wildcard, wildcardOrigin{u.Scheme, "." + strings.ToLower(suffix), u.Port()})
			continue
		}
		set.exact[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return set, nil
}

func (s *originSet) allows(origin string) bool {
	if s.exact[strings.ToLower(origin)] {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, w := range s.wildcard {
		if u.Scheme == w.scheme && u.Port() == w.port && strings.HasSuffix(host, w.suffix) && len(host) > len(w.suffix) {
			return true
		}
	}
	return false
}

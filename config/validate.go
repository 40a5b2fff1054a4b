package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
	"github.com/ctibridge/ctibridge/contactpad/api/webhook"
	"github.com/ctibridge/ctibridge/internal/yamlpos"
	"github.com/expr-lang/expr/file"
)

// validator checks a decoded and defaulted Config, reporting each problem
// at the line its path came from.
type validator struct {
	d *decoder
}

// errorf reports a problem at the key of path, unless decoding already
// reported one there.
func (v *validator) errorf(path, format string, args ...any) {
	if v.d.Failed(path) {
		return
	}
	v.d.Errorf(v.d.lineOf(path), path, format, args...)
}

// warnf records what is unsafe but valid at the key of path
// (Config.Warnings).
func (v *validator) warnf(path, format string, args ...any) {
	v.d.warnings = append(v.d.warnings, &Error{File: v.d.file, Line: v.d.lineOf(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// EventTypes are the event types of API.md that a webhook may subscribe to.
var EventTypes = []string{
	"interaction.created", "interaction.updated", "interaction.offered", "interaction.inactive",
	"transfer.requested", "transfer.accepted", "transfer.failed", "transfer.completed", "transfer.canceled",
	"consult.started", "consult.connected", "consult.ended",
	"agent.presence",
}

var (
	apiVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	sha256Hex  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func (v *validator) validate(c *Config) {
	v.listen(c.Listen)
	v.store(c.Store)
	v.crm(c.CRM)
	v.routing(c.Routing)
	v.timeouts(c.Timeouts)
	v.capabilities(c.Capabilities)
	v.deferral(&c.Deferral)
	services := v.services(c.Services)
	tokens := map[string]string{}
	v.agents(c.Agents, services, tokens)
	v.tokens(c.Tokens, tokens)
	v.webhooks(c.Webhooks)
	v.api(c.API)
	v.retention(c.Retention)
	v.panel(c.Panel)
	if c.Metrics.Listen != "" {
		v.address("metrics.listen", c.Metrics.Listen)
		if _, port, _ := net.SplitHostPort(c.Listen); c.Metrics.Listen == c.Listen && port != "0" {
			v.errorf("metrics.listen", "same address as listen (leave it out to serve /metrics there)")
		}
	}
}

func (v *validator) retention(r Retention) {
	for path, d := range map[string]Duration{"retention.events": r.Events, "retention.audit": r.Audit} {
		if d < 0 {
			v.errorf(path, "must be 0 (keep for ever) or more, got %s", d)
		}
	}
	v.positive("retention.interval", r.Interval)
}

func (v *validator) api(a API) {
	if a.RateLimit <= 0 {
		v.errorf("api.rate_limit", "must be positive (requests a second per token), got %v", a.RateLimit)
	}
	if a.RateBurst < 1 {
		v.errorf("api.rate_burst", "must be at least 1, got %d", a.RateBurst)
	}
	v.positive("api.heartbeat", a.Heartbeat)
	if a.MaxStreams < 1 {
		v.errorf("api.max_streams", "must be at least 1, got %d", a.MaxStreams)
	}
	if a.MaxReplay < 1 {
		v.errorf("api.max_replay", "must be at least 1, got %d", a.MaxReplay)
	}
	if a.MaxBodyBytes < minBodyBytes {
		v.errorf("api.max_body_bytes", "must be at least %d, got %d", minBodyBytes, a.MaxBodyBytes)
	}
	if a.MaxNoteBytes < 1 || a.MaxNoteBytes > api.MaxNoteBytes {
		v.errorf("api.max_note_bytes", "must be 1 to %d (a reason goes to a Salesforce Task Description), got %d",
			api.MaxNoteBytes, a.MaxNoteBytes)
	}
	if a.AuthFailureRate <= 0 {
		v.errorf("api.auth_failure_rate", "must be positive (requests with an unknown token a second per address), got %v", a.AuthFailureRate)
	}
	if a.AuthFailureBurst < 1 {
		v.errorf("api.auth_failure_burst", "must be at least 1, got %d", a.AuthFailureBurst)
	}
}

// minBodyBytes is the least api.max_body_bytes may be: room for a
// mapping preview's record and a note of the default length.
const minBodyBytes = 16 << 10

// origin is a CSP source expression of one origin: a scheme, a host whose
// first label may be "*", and an optional port.
var origin = regexp.MustCompile(`^https?://(\*\.)?[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*(:[0-9]{1,5})?$`)

func (v *validator) panel(p Panel) {
	for i, o := range p.FrameAncestors {
		if !origin.MatchString(o) {
			v.errorf(fmt.Sprintf("panel.frame_ancestors[%d]", i),
				"invalid origin %q (want scheme://host[:port], e.g. https://*.lightning.force.com)", o)
		}
	}
	if p.OpenCTIURL != "" {
		if u, err := url.Parse(p.OpenCTIURL); err != nil || u.Scheme != "https" || u.Host == "" {
			v.errorf("panel.opencti_url", "invalid URL %q (want the org's https://.../opencti_min.js)", p.OpenCTIURL)
		}
	}
	v.signin(p.SignIn)
}

// Bounds of panel.signin.session_ttl: a sign-in outlives a shift, and a
// forgotten one ends within the month.
const (
	minSessionTTL = 5 * time.Minute
	maxSessionTTL = 30 * 24 * time.Hour
)

func (v *validator) signin(s SignIn) {
	const path = "panel.signin"
	if !s.Enabled() {
		if !s.ClientSecret.IsZero() || s.LoginURL != "" || s.CallbackURL != "" {
			v.errorf(path+".client_id", "required when panel.signin is set (the connected app's consumer key)")
		}
		return
	}
	if s.ClientSecret.IsZero() {
		v.errorf(path+".client_secret", "required with client_id (the connected app's consumer secret; or client_secret_file)")
	}
	if s.LoginURL != "" {
		if !isHTTPURL(s.LoginURL) {
			v.errorf(path+".login_url", "want an absolute http or https URL, e.g. https://login.salesforce.com")
		} else if u, _ := url.Parse(s.LoginURL); u.Scheme == "http" && !isLoopback(u.Hostname()) {
			v.errorf(path+".login_url", "http would send the client secret and the agents' codes in clear: want https (http only for a loopback host such as 127.0.0.1)")
		}
	}
	if s.CallbackURL != "" {
		if u, err := url.Parse(s.CallbackURL); err != nil || !isHTTPURL(s.CallbackURL) || u.Path != api.CallbackPath || u.RawQuery != "" {
			v.errorf(path+".callback_url", "want the bridge's absolute URL ending in %s, e.g. https://cti.example.com%s", api.CallbackPath, api.CallbackPath)
		}
	}
	if d := time.Duration(s.SessionTTL); d < minSessionTTL || d > maxSessionTTL {
		v.errorf(path+".session_ttl", "must be %s to %s, got %s", shortDur(minSessionTTL), shortDur(maxSessionTTL), s.SessionTTL)
	}
}

// shortDur writes a duration without its zero minutes and seconds.
func shortDur(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}

func (v *validator) listen(addr string) { v.address("listen", addr) }

// address checks the host:port at path.
func (v *validator) address(path, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.errorf(path, "invalid address %q (want host:port, e.g. 127.0.0.1:8080)", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.errorf(path, "invalid port %q (want 0 to 65535)", port)
	}
}

func (v *validator) store(s Store) {
	switch s.Driver {
	case DriverSQLite:
		// The driver would read what follows a '?' as its own settings:
		// the store refuses such a path, so validate says so first.
		if strings.Contains(s.DSN.Reveal(), "?") {
			v.errorf("store.dsn", "a sqlite store is a file name, which must not contain '?'")
		}
	case DriverPostgres:
		if s.DSN.IsZero() {
			v.errorf("store.dsn", "required for driver postgres")
		}
	default:
		v.errorf("store.driver", "unknown driver %q (want sqlite or postgres)", s.Driver)
	}
}

func (v *validator) crm(c CRM) {
	v.positive("crm.poll_interval", c.PollInterval)
	v.positive("crm.reclaim_after", c.ReclaimAfter)
	v.positive("crm.batch_max_age", c.BatchMaxAge)
	switch c.Kind {
	case CRMSim:
	case CRMSalesforce:
		v.salesforce(c.Salesforce)
	default:
		v.errorf("crm.kind", "unknown kind %q (want salesforce or sim)", c.Kind)
	}
	v.omniPresence(c.Salesforce.Omni.Presence)
}

// omniPresence checks the Omni-Channel presence mirror. The statuses are
// the org's, checked against it at start (salesforce.CheckPresenceStatuses);
// here a media key that is no status of map is taken for a typo.
func (v *validator) omniPresence(p OmniPresence) {
	const path = "crm.salesforce.omni.presence"
	if p.Enabled && len(p.Map) == 0 {
		v.errorf(path+".map", "required when enabled: the presence of each Omni-Channel status (DeveloperName) agents use")
	}
	for _, status := range sortedKeys(p.Map) {
		if _, err := contactpad.ParsePresence(string(p.Map[status])); err != nil {
			v.errorf(yamlpos.Join(path+".map", status), "%s", err)
		}
	}
	for _, status := range sortedKeys(p.Media) {
		at := yamlpos.Join(path+".media", status)
		overall, ok := p.Map[status]
		switch {
		case !ok:
			v.errorf(at, "status %q is not in %s.map (want one of %s)", status, path, strings.Join(sortedKeys(p.Map), ", "))
			continue
		case overall != contactpad.Available:
			v.errorf(at, "status %q maps to %s: only a status that maps to available can be busy per media type", status, overall)
			continue
		}
		for _, m := range sortedKeys(p.Media[status]) {
			mpath := yamlpos.Join(at, string(m))
			if !v.media(mpath, m) {
				continue
			}
			if got := p.Media[status][m]; got != contactpad.Available && got != contactpad.Busy {
				v.errorf(mpath, "presence %q per media type (want available or busy)", got)
			}
		}
	}
}

func (v *validator) salesforce(s Salesforce) {
	const path = "crm.salesforce"
	if !isHTTPURL(s.LoginURL) {
		v.errorf(path+".login_url", "want an absolute http or https URL")
	} else if u, _ := url.Parse(s.LoginURL); u.Scheme == "http" && !isLoopback(u.Hostname()) {
		if s.AllowHTTP {
			v.warnf(path+".login_url", "http sends the client secret in clear (allow_http is set)")
		} else {
			v.errorf(path+".login_url", "http would send the client secret in clear: want https "+
				"(http only for a loopback host such as 127.0.0.1, or with allow_http: true for a local org on a private network)")
		}
	}
	if !apiVersion.MatchString(s.APIVersion) {
		v.errorf(path+".api_version", "invalid API version %q (want e.g. 62.0)", s.APIVersion)
	}
	// The fields each OAuth flow needs.
	var need []string
	switch s.Auth {
	case AuthClientCredentials:
		need = []string{"client_id", "client_secret"}
	case AuthPassword:
		need = []string{"client_id", "client_secret", "username", "password"}
	case AuthJWT:
		need = []string{"client_id", "username", "private_key"}
	case "":
		v.errorf(path+".auth", "required with crm.kind salesforce (want client_credentials, jwt or password)")
	default:
		v.errorf(path+".auth", "unknown auth %q (want client_credentials, jwt or password)", s.Auth)
	}
	set := map[string]bool{
		"client_id":     s.ClientID != "",
		"client_secret": !s.ClientSecret.IsZero(),
		"username":      s.Username != "",
		"password":      !s.Password.IsZero(),
		"private_key":   !s.PrivateKey.IsZero(),
	}
	for _, name := range need {
		if !set[name] {
			v.errorf(path+"."+name, "required for auth %s", s.Auth)
		}
	}
}

func (v *validator) routing(r Routing) {
	for _, m := range sortedKeys(r.AutoAccept) {
		v.media(yamlpos.Join("routing.auto_accept", string(m)), m)
	}
	v.positive("routing.push_timeout", r.PushTimeout)
	if _, err := contactpad.ParsePresence(string(r.PushTimeoutPresence)); err != nil {
		v.errorf("routing.push_timeout_presence", "%s", err)
	}
}

func (v *validator) timeouts(t Timeouts) {
	for _, m := range sortedKeys(t.WrapUp) {
		path := yamlpos.Join("timeouts.wrap_up", string(m))
		if v.media(path, m) {
			v.positive(path, t.WrapUp[m])
		}
	}
	if t.WrapUpMaxExtensions < 0 {
		v.errorf("timeouts.wrap_up_max_extensions", "must not be negative, got %d", t.WrapUpMaxExtensions)
	}
	v.positive("timeouts.transfer_accept", t.TransferAccept)
	v.positive("timeouts.consult", t.Consult)
	for _, m := range sortedKeys(t.Inactivity) {
		path := yamlpos.Join("timeouts.inactivity", string(m))
		if v.media(path, m) && t.Inactivity[m] < 0 {
			v.errorf(path, "must not be negative, got %s (0 turns it off)", t.Inactivity[m])
		}
	}
}

// pairedActions go together in contactpad.Matrix.WithOverrides.
var pairedActions = [][2]contactpad.Action{
	{contactpad.ActionHold, contactpad.ActionRetrieve},
	{contactpad.ActionDefer, contactpad.ActionResume},
}

func (v *validator) capabilities(caps map[contactpad.Media]map[contactpad.Action]bool) {
	for _, m := range sortedKeys(caps) {
		path := yamlpos.Join("capabilities", string(m))
		v.media(path, m)
		row := caps[m]
		for _, a := range sortedKeys(row) {
			if _, err := contactpad.ParseAction(string(a)); err != nil {
				v.errorf(yamlpos.Join(path, string(a)), "%s (want %s)", err, actionList())
			}
		}
		for _, p := range pairedActions {
			first, ok1 := row[p[0]]
			second, ok2 := row[p[1]]
			if ok1 && ok2 && first != second {
				v.errorf(path, "%s and %s go together; set them alike", p[0], p[1])
			}
		}
	}
}

func actionList() string {
	names := make([]string, len(contactpad.Actions))
	for i, a := range contactpad.Actions {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}

func (v *validator) deferral(d *Deferral) {
	switch d.Reopen {
	case ReopenOwnerThenQueue, ReopenQueue:
	default:
		v.errorf("deferral.reopen", "unknown reopen policy %q (want owner_then_queue or queue)", d.Reopen)
	}
	for i := range d.Rules {
		r := &d.Rules[i]
		path := yamlpos.Index("deferral.rules", i)
		v.rule(path, r)
		v.positive(path+".after", r.After)
	}
}

// rule compiles a deferral rule's expression into the rule.
func (v *validator) rule(path string, r *DeferralRule) {
	path += ".when"
	if strings.TrimSpace(r.When) == "" {
		v.errorf(path, "required")
		return
	}
	program, err := compileRule(r.When)
	if err == nil {
		r.program = program
		return
	}
	if v.d.Failed(path) {
		return
	}
	line, msg := v.d.valueLineOf(path), err.Error()
	var ferr *file.Error
	if errors.As(err, &ferr) {
		msg = ferr.Message
		if ferr.Snippet != "" {
			msg += fmt.Sprintf(" (column %d)", ferr.Column+1)
			if ferr.Line > 1 && line > v.d.lineOf(path) {
				// A block scalar keeps its lines.
				line += ferr.Line - 1
			}
		}
	}
	v.d.Errorf(line, path, "invalid expression: %s", msg)
}

// services checks the services and returns the path of each service ID.
func (v *validator) services(services []Service) map[string]string {
	ids := map[string]string{}
	for i, s := range services {
		path := yamlpos.Index("services", i)
		v.uniqueID(path, "service", s.ID, ids)
	}
	return ids
}

// agents checks the agents and their references to services, and notes the
// path of each token hash in tokens.
func (v *validator) agents(agents []Agent, services, tokens map[string]string) {
	ids := map[string]string{}
	for i, a := range agents {
		path := yamlpos.Index("agents", i)
		v.uniqueID(path, "agent", a.ID, ids)
		if slices.Contains(contactpad.ReservedActors, a.ID) {
			// Audit entries name their actor: "system" must be the system.
			v.errorf(path+".id", "%q is reserved for audit entries not made by an agent (reserved: %s)",
				a.ID, strings.Join(contactpad.ReservedActors, ", "))
		}
		if a.TokenSHA256 != "" {
			v.tokenHash(path+".token_sha256", a.TokenSHA256, tokens)
		}
		named := map[string]bool{}
		for j, s := range a.Services {
			spath := yamlpos.Index(path+".services", j)
			switch {
			case named[s]:
				v.errorf(spath, "agent %s names service %q twice", a.ID, s)
			case services[s] == "":
				v.errorf(spath, "agent %s names unknown service %q", a.ID, s)
			}
			named[s] = true
		}
		for _, m := range sortedKeys(a.Capacity) {
			cpath := yamlpos.Join(path+".capacity", string(m))
			if v.media(cpath, m) && a.Capacity[m] < 0 {
				v.errorf(cpath, "must not be negative, got %d", a.Capacity[m])
			}
		}
	}
}

func (v *validator) tokens(list []Token, hashes map[string]string) {
	names := map[string]string{}
	for i, t := range list {
		path := yamlpos.Index("tokens", i)
		switch {
		case t.Name == "":
			v.errorf(path+".name", "required")
		case names[t.Name] != "":
			v.errorf(path+".name", "duplicate token name %q (first at line %d)", t.Name, v.d.lineOf(names[t.Name]))
		default:
			names[t.Name] = path + ".name"
		}
		switch t.Role {
		case RoleAdmin, RoleIntegration:
		case "":
			v.errorf(path+".role", "required (admin or integration)")
		default:
			v.errorf(path+".role", "unknown role %q (want admin or integration)", t.Role)
		}
		if t.TokenSHA256 == "" {
			v.errorf(path+".token_sha256", "required")
			continue
		}
		v.tokenHash(path+".token_sha256", t.TokenSHA256, hashes)
	}
}

func (v *validator) webhooks(hooks []Webhook) {
	urls := map[string]string{}
	for i, h := range hooks {
		path := yamlpos.Index("webhooks", i)
		if !isHTTPURL(h.URL) {
			// The URL is not quoted: some carry a token.
			v.errorf(path+".url", "want an absolute http or https URL")
		} else if first, dup := urls[h.URL]; dup {
			// Each webhook keeps its delivery cursor under its URL.
			v.errorf(path+".url", "same URL as %s (first at line %d)", first, v.d.lineOf(first+".url"))
		} else {
			urls[h.URL] = path
		}
		v.webhookSecrets(path, h)
		for j, e := range h.Events {
			if !slices.Contains(EventTypes, e) {
				v.errorf(yamlpos.Index(path+".events", j), "unknown event type %q (want one of %s)", e, strings.Join(EventTypes, ", "))
			}
		}
	}
}

// webhookSecrets checks the secrets of a webhook: secret or secrets, each
// a key long enough to sign with. Errors never quote a secret.
func (v *validator) webhookSecrets(path string, h Webhook) {
	// A secret read from a file is reported at its secret_file key.
	single := path + ".secret"
	if _, ok := v.d.keyLine[single+"_file"]; ok {
		single += "_file"
	}
	switch {
	case !h.Secret.IsZero() && h.Secrets != nil:
		v.errorf(path+".secrets", "set secret or secrets, not both (secrets: [new, old] to rotate)")
		return
	case h.Secrets != nil && len(h.Secrets) == 0:
		v.errorf(path+".secrets", "want at least one secret")
		return
	case h.Secret.IsZero() && len(h.Secrets) == 0:
		// A secret_file that could not be read is reported already.
		if single == path+".secret" {
			v.errorf(path+".secret", "required (the key that signs each delivery; or secrets: [new, old] to rotate)")
		}
		return
	case !h.Secret.IsZero():
		v.webhookSecret(single, h.Secret)
		return
	}
	for i, s := range h.Secrets {
		v.webhookSecret(yamlpos.Index(path+".secrets", i), s)
	}
}

// webhookSecret checks one secret that signs webhook deliveries.
func (v *validator) webhookSecret(path string, s Secret) {
	key, err := webhook.SecretKey(s.Reveal())
	switch {
	case err != nil:
		v.errorf(path, "%s", err)
	case len(key) < webhook.MinKeyLen:
		v.errorf(path, "too short: want at least %d bytes of key (of a whsec_ secret, %d once base64-decoded)", webhook.MinKeyLen, webhook.MinKeyLen)
	}
}

// uniqueID checks the id of a list entry; ids maps each id seen to the
// path of its key.
func (v *validator) uniqueID(path, what, id string, ids map[string]string) {
	path += ".id"
	switch {
	case id == "":
		v.errorf(path, "required")
	case ids[id] != "":
		v.errorf(path, "duplicate %s id %q (first at line %d)", what, id, v.d.lineOf(ids[id]))
	default:
		ids[id] = path
	}
}

// tokenHash checks a token hash, which must also be unique: one token
// names one identity. The hash is never quoted, in case a token was
// pasted in its place.
func (v *validator) tokenHash(path, hash string, seen map[string]string) {
	switch {
	case !sha256Hex.MatchString(hash):
		v.errorf(path, "want 64 lowercase hex digits (the SHA-256 of the token)")
	case seen[hash] != "":
		v.errorf(path, "same token as %s", yamlpos.Parent(seen[hash]))
	default:
		seen[hash] = path
	}
}

// media reports whether m is a media type, reporting it if not.
func (v *validator) media(path string, m contactpad.Media) bool {
	if _, err := contactpad.ParseMedia(string(m)); err != nil {
		v.errorf(path, "%s", err)
		return false
	}
	return true
}

// positive checks a timeout.
func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.errorf(path, "must be greater than 0, got %s", d)
	}
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// isLoopback reports whether host names this machine only: localhost or a
// loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sortedKeys returns the keys of a map in order, for a stable report.
func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

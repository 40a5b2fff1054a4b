// Package config loads ctibridge's YAML configuration file.
//
// Loading is strict: every key must be known, and Parse reports all the
// problems of a file at once, each as "FILE:LINE: PATH: message" — unknown
// keys, values of the wrong type, invalid values and broken references (an
// agent naming a service that does not exist). Defaults are applied before
// validation, so an empty file is a valid config (see Default).
//
// Passwords, client secrets, keys and DSNs are Secrets: they may come from
// the environment (${NAME}) or from a file (the "<field>_file" key), and
// they print as "<secret>" however the config is printed or marshalled.
//
// The mappings section is kept as raw YAML nodes for package mapping.
package config

import (
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
	"github.com/ctibridge/ctibridge/internal/yamlpos"
)

// Config is the whole configuration file.
type Config struct {
	// Listen is the host:port of the HTTP API and panel.
	Listen string `yaml:"listen"`
	// Store is where interactions, timers and the outbox live.
	Store Store `yaml:"store"`
	// CRM is the CRM connector.
	CRM CRM `yaml:"crm"`
	// Routing says how interactions reach agents.
	Routing Routing `yaml:"routing"`
	// Timeouts are the timers of wrap-up, transfers, consults and inactivity.
	Timeouts Timeouts `yaml:"timeouts"`
	// Capabilities overrides cells of contactpad.DefaultMatrix; see Matrix.
	Capabilities map[contactpad.Media]map[contactpad.Action]bool `yaml:"capabilities"`
	// Deferral says how deferred interactions reopen and which default
	// deferral durations apply.
	Deferral Deferral `yaml:"deferral"`
	// Agents are the people who work interactions.
	Agents []Agent `yaml:"agents"`
	// Services are the queues interactions belong to.
	Services []Service `yaml:"services"`
	// Tokens are the API tokens that are not an agent's: admins and
	// integrations.
	Tokens []Token `yaml:"tokens"`
	// Mappings are kept as raw YAML, with their lines, for package
	// mapping to decode and check.
	Mappings []yamlpos.Node `yaml:"mappings"`
	// Webhooks receive the event stream as signed POSTs.
	Webhooks []Webhook `yaml:"webhooks"`
	// API tunes the HTTP API.
	API API `yaml:"api"`
	// Retention says how long the store keeps its events and audit trail.
	Retention Retention `yaml:"retention"`
	// Panel says who may embed the agent panel.
	Panel Panel `yaml:"panel"`
	// Metrics says where /metrics is served.
	Metrics Metrics `yaml:"metrics"`

	// Warnings are what is unsafe but valid in the file, such as a secret
	// file others may read, each "FILE:LINE: PATH: message"; the daemon
	// logs them at start. They are not keys of the file.
	Warnings []*Error `yaml:"-"`
	// File is the file name the config was parsed from, for messages about
	// Mappings; it is not a key of the file.
	File string `yaml:"-"`
	// lines holds the line of each value by path, for Line.
	lines map[string]int
}

// Line returns the line of the file where the value at path starts
// ("agents[0].crm_user_id"), or 0 when the file does not set it.
func (c *Config) Line(path string) int { return c.lines[path] }

// Store chooses the database.
type Store struct {
	// Driver is sqlite (the default) or postgres.
	Driver string `yaml:"driver"`
	// DSN is the data source: a file path for sqlite (default
	// ./ctibridge.db), a connection string for postgres (required).
	DSN Secret `yaml:"dsn"`
}

// The store drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// CRM chooses and configures the CRM connector.
type CRM struct {
	// Kind is sim (the built-in local org, the default) or salesforce.
	Kind string `yaml:"kind"`
	// Salesforce configures the connector when Kind is salesforce.
	Salesforce Salesforce `yaml:"salesforce"`
	// PollInterval is how often the connector asks the CRM for changes.
	PollInterval Duration `yaml:"poll_interval"`
	// ReclaimAfter is how long a replica restarted under its name (after
	// a crash) waits before it writes again what it was writing when it
	// died (adapter.SyncOptions.ReclaimAfter).
	ReclaimAfter Duration `yaml:"reclaim_after"`
	// BatchMaxAge is how long a change may wait for others to share its
	// write call: the writer writes once a call of 1,000 records is full,
	// or once the oldest change has waited this long
	// (adapter.SyncOptions.BatchMaxAge).
	BatchMaxAge Duration `yaml:"batch_max_age"`
}

// The CRM kinds.
const (
	CRMSim        = "sim"
	CRMSalesforce = "salesforce"
)

// Salesforce is how to reach and sign in to a Salesforce org.
type Salesforce struct {
	// LoginURL is the OAuth host (default https://login.salesforce.com).
	// It must be https, but for a loopback host or with AllowHTTP.
	LoginURL string `yaml:"login_url"`
	// AllowHTTP lets LoginURL be http to any host, which sends the client
	// secret and the session in clear: only for the local org on a
	// private network, such as the compose try-out's. A warning at start
	// says so.
	AllowHTTP bool `yaml:"allow_http"`
	// APIVersion is the REST API version, e.g. "62.0" (the default).
	APIVersion string `yaml:"api_version"`
	// Auth is the OAuth flow: client_credentials, jwt or password.
	Auth string `yaml:"auth"`
	// ClientID is the connected app's consumer key (every flow).
	ClientID string `yaml:"client_id"`
	// ClientSecret is the consumer secret (client_credentials, password).
	ClientSecret Secret `yaml:"client_secret"`
	// Username is the integration user (password, jwt).
	Username string `yaml:"username"`
	// Password is the integration user's password, with its security token
	// appended where the org needs one (password).
	Password Secret `yaml:"password"`
	// PrivateKey is the PEM key that signs the JWT bearer assertion (jwt).
	PrivateKey Secret `yaml:"private_key"`
	// Omni configures what ctibridge takes from the org's Omni-Channel.
	Omni Omni `yaml:"omni"`
}

// Omni configures what ctibridge takes from the org's Omni-Channel.
type Omni struct {
	// Presence makes the agents' presence follow their Omni-Channel status.
	Presence OmniPresence `yaml:"presence"`
}

// OmniPresence makes each agent's presence follow the Omni-Channel
// presence status of its crm_user_id (off by default): each poll reads
// the agents' current UserServicePresence in one query.
type OmniPresence struct {
	// Enabled turns the mirror on; agents then cannot set their presence
	// in ctibridge.
	Enabled bool `yaml:"enabled"`
	// Map gives the presence of each ServicePresenceStatus DeveloperName.
	// An agent signed out of Omni-Channel is logged_out.
	Map map[string]contactpad.Presence `yaml:"map"`
	// Media narrows an available status per media type: a media type it
	// maps to busy gets no new work while the status lasts (Busy_Voice:
	// {live: busy}). Each key must be a status of Map that maps to
	// available; each value available or busy.
	Media map[string]map[contactpad.Media]contactpad.Presence `yaml:"media"`
}

// The Salesforce OAuth flows.
const (
	AuthClientCredentials = "client_credentials"
	AuthJWT               = "jwt"
	AuthPassword          = "password"
)

// Routing says how interactions are delivered to agents.
type Routing struct {
	// AutoAccept connects an interaction at once instead of offering it, per
	// media type (default live false, semi-live and non-live true).
	AutoAccept map[contactpad.Media]bool `yaml:"auto_accept"`
	// PushTimeout is how long an offer alerts before it returns to the queue.
	PushTimeout Duration `yaml:"push_timeout"`
	// PushTimeoutPresence is the presence an agent gets when an offer to
	// them times out (default busy).
	PushTimeoutPresence contactpad.Presence `yaml:"push_timeout_presence"`
	// ReleaseAllBeforeNext routes nothing to an agent who still holds any
	// interaction.
	ReleaseAllBeforeNext bool `yaml:"release_all_before_next"`
}

// Timeouts are the durations of the engine's timers.
type Timeouts struct {
	// WrapUp is how long wrap-up lasts after release, per media type.
	WrapUp map[contactpad.Media]Duration `yaml:"wrap_up"`
	// WrapUpMaxExtensions is how many times an agent may extend wrap-up.
	WrapUpMaxExtensions int `yaml:"wrap_up_max_extensions"`
	// TransferAccept is how long a warm transfer waits for its target.
	TransferAccept Duration `yaml:"transfer_accept"`
	// Consult is how long a consult rings before it gives up.
	Consult Duration `yaml:"consult"`
	// Inactivity is how long an ongoing interaction may go without activity
	// before it raises interaction.inactive, per media type. A media type
	// missing from the map never does; 0 in the file removes a default.
	Inactivity map[contactpad.Media]Duration `yaml:"inactivity"`
}

// The reopen policies of deferred interactions: the engine's.
const (
	ReopenOwnerThenQueue = string(adapter.ReopenOwnerThenQueue)
	ReopenQueue          = string(adapter.ReopenQueue)
)

// Deferral configures deferred (pending) interactions.
type Deferral struct {
	// Reopen is where an interaction goes at its due date: back to its
	// owner if logged in with capacity, else to the queue
	// (owner_then_queue, the default), or always to the queue (queue).
	Reopen string `yaml:"reopen"`
	// Rules compute a due date when an interaction is deferred without one;
	// the first rule that matches wins (see Deferral.DueAfter).
	Rules []DeferralRule `yaml:"rules"`
}

// Agent is a person who works interactions.
type Agent struct {
	// ID names the agent in the API, in routing and in audit entries.
	ID string `yaml:"id"`
	// Name is shown in the panel and the directory (default: the ID).
	Name string `yaml:"name"`
	// TokenSHA256 is the hex SHA-256 of the agent's API token.
	TokenSHA256 string `yaml:"token_sha256"`
	// CRMUserID is the agent's user in the CRM, written back as the owner.
	CRMUserID string `yaml:"crm_user_id"`
	// Services are the IDs of the services the agent works.
	Services []string `yaml:"services"`
	// Capacity is how many interactions of each media type the agent may
	// hold at once (default live 1, semi-live 3, non-live 5 for each media
	// type not given).
	Capacity contactpad.Capacity `yaml:"capacity"`
}

// Service is a queue of interactions.
type Service struct {
	// ID names the service in mappings, transfers and the API.
	ID string `yaml:"id"`
	// Name is shown in the directory (default: the ID).
	Name string `yaml:"name"`
}

// The roles of Tokens.
const (
	RoleAdmin       = "admin"
	RoleIntegration = "integration"
)

// Token is an API token that belongs to no agent.
type Token struct {
	// Name says whose token it is, for audit entries and logs.
	Name string `yaml:"name"`
	// Role is admin or integration.
	Role string `yaml:"role"`
	// TokenSHA256 is the hex SHA-256 of the token.
	TokenSHA256 string `yaml:"token_sha256"`
}

// Webhook is an endpoint that receives events.
type Webhook struct {
	// URL is the absolute http or https URL the events are POSTed to.
	URL string `yaml:"url"`
	// Secret signs each delivery (webhook-signature): "whsec_" and the
	// base64 of the key, or the key itself; at least 24 bytes of key.
	Secret Secret `yaml:"secret"`
	// Secrets, instead of Secret, sign each delivery once each, so that a
	// receiver can move to a new secret without a gap: [new, old] while
	// it rotates. The first also signs the deprecated
	// X-Ctibridge-Signature header.
	Secrets []Secret `yaml:"secrets"`
	// Events are the event types to send; empty sends every type.
	Events []string `yaml:"events"`
}

// SigningSecrets are the secrets that sign the webhook's deliveries, in
// order: Secrets, or else Secret alone.
func (w Webhook) SigningSecrets() []Secret {
	if len(w.Secrets) > 0 {
		return w.Secrets
	}
	if w.Secret.IsZero() {
		return nil
	}
	return []Secret{w.Secret}
}

// API tunes the HTTP API.
type API struct {
	// RateLimit is how many requests a second one token may make on
	// average (default 50); RateBurst how many it may make at once
	// (default 100). Requests over the limit get 429 rate_limited.
	RateLimit float64 `yaml:"rate_limit"`
	RateBurst int     `yaml:"rate_burst"`
	// Heartbeat is how often an idle event stream sends a comment line,
	// so proxies keep it open (default 15s).
	Heartbeat Duration `yaml:"heartbeat"`
	// MaxStreams is how many event streams one token may hold open on a
	// replica (default 10); one more closes its oldest.
	MaxStreams int `yaml:"max_streams"`
	// MaxReplay is how many events an event stream replays at most after
	// its Last-Event-ID (default 10000); a client further behind gets a
	// stream.reset event and reloads.
	MaxReplay int `yaml:"max_replay"`
	// MaxBodyBytes is the largest request body the API reads (default
	// 1 MiB, at least 16 KiB); a larger one is 413 too_large.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MaxNoteBytes is the longest transfer note, and decline or abandon
	// reason, in bytes (default 8192, at most 30000: a reason goes to a
	// Salesforce Task Description of 32,000 characters with the audit
	// template's own text); a longer one is 422 too_long.
	MaxNoteBytes int `yaml:"max_note_bytes"`
	// AuthFailureRate is how many requests with an unknown bearer token a
	// second one client address may make on average (default 0.1, one
	// every 10s); AuthFailureBurst how many in a row (default 20). Over
	// it, the address gets 429 rate_limited for every token but those
	// that last signed in from it.
	AuthFailureRate  float64 `yaml:"auth_failure_rate"`
	AuthFailureBurst int     `yaml:"auth_failure_burst"`
}

// Metrics says where the Prometheus metrics are served.
type Metrics struct {
	// Listen is a host:port of its own for GET /metrics, such as
	// 127.0.0.1:9090. Empty (the default): /metrics is served on listen,
	// with the API and the panel.
	Listen string `yaml:"listen"`
}

// Retention says how long the store keeps what only grows, and how
// often the daemon prunes it.
type Retention struct {
	// Events is how long an event is kept for event streams and webhooks
	// to replay (default 168h); 0 keeps them for ever.
	Events Duration `yaml:"events"`
	// Audit is how long the local audit trail of an interaction that is
	// over is kept for the panel's History (default 2160h); 0 keeps it
	// for ever.
	Audit Duration `yaml:"audit"`
	// Interval is how often the daemon prunes (default 10m).
	Interval Duration `yaml:"interval"`
}

// Panel configures the agent panel served at /.
type Panel struct {
	// FrameAncestors are the origins that may embed the panel (its CSP
	// frame-ancestors) and call the API from a browser (CORS), such as
	// "https://*.lightning.force.com". Empty: only the panel's own origin.
	FrameAncestors []string `yaml:"frame_ancestors"`
	// OpenCTIURL is the org's opencti_min.js; when set, the panel loads it
	// and pops CRM records with Open CTI inside Salesforce.
	OpenCTIURL string `yaml:"opencti_url"`
	// SignIn turns on Sign in with Salesforce: agents sign in to the panel
	// with their Salesforce user instead of pasting an API token.
	SignIn SignIn `yaml:"signin"`
}

// SignIn configures Sign in with Salesforce (the OAuth 2.0 web server flow
// with PKCE, then userinfo): the agent whose crm_user_id is the Salesforce
// user gets a panel session. It is on when ClientID is set.
type SignIn struct {
	// ClientID and ClientSecret are the consumer key and secret of the
	// connected app (or external client app) whose callback URL is the
	// bridge's /api/v1/signin/salesforce/callback.
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	// LoginURL is the org's login host (default: crm.salesforce.login_url;
	// with crm.kind sim, the local org the demo serves).
	LoginURL string `yaml:"login_url"`
	// CallbackURL is the callback URL registered in the app, when the
	// browser reaches the bridge under another address than the one it
	// calls (a proxy). Empty: the panel's own address.
	CallbackURL string `yaml:"callback_url"`
	// SessionTTL is how long a sign-in lasts (default 12h).
	SessionTTL Duration `yaml:"session_ttl"`
}

// Enabled reports whether Sign in with Salesforce is on.
func (s SignIn) Enabled() bool { return s.ClientID != "" }

// Duration is a time.Duration written in the file as a Go duration string
// such as "30s", "5m" or "120h".
type Duration time.Duration

// String returns the duration in Go notation, e.g. "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText returns the duration in Go notation, for JSON and YAML.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Load reads and parses the config file at path; see Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes, defaults and validates a config file, naming it filename in
// messages and resolving relative "_file" paths against its directory. When
// the file has problems it returns a nil Config and a ValidationErrors with
// every problem, ordered by line.
func Parse(filename string, data []byte) (*Config, error) {
	d := newDecoder(filename)
	cfg := defaults()
	root, ok := d.Parse(data)
	if !ok {
		return nil, d.Errors()
	}
	if !root.IsZero() {
		d.decode(root, reflect.ValueOf(cfg).Elem(), "")
	}
	finishDefaults(cfg)
	(&validator{d: d}).validate(cfg)
	if err := d.Err(); err != nil {
		return nil, err
	}
	normalize(cfg)
	cfg.File = filename
	cfg.Warnings = d.warnings
	if len(d.valueLine) > 0 {
		cfg.lines = d.valueLine
	}
	return cfg, nil
}

// Default returns the configuration of an empty file: the built-in sim CRM,
// a SQLite store in ./ctibridge.db, no agents and every default below.
func Default() *Config {
	cfg := defaults()
	finishDefaults(cfg)
	normalize(cfg)
	return cfg
}

// Matrix returns the capability matrix: contactpad.DefaultMatrix with the
// Capabilities overrides applied.
func (c *Config) Matrix() contactpad.Matrix {
	return contactpad.DefaultMatrix().WithOverrides(c.Capabilities)
}

// defaults returns a Config holding every default that does not depend on
// other keys. Parse decodes the file over it: a key in the file replaces a
// scalar, and adds to or replaces the entries of a defaulted map.
//
// A default the engine or the HTTP API also applies is taken from there
// (adapter.Defaults, adapter.DefaultPollInterval, the api.Default
// constants), so that it is defined once; the others are the file's own.
func defaults() *Config {
	engine := adapter.Defaults()
	return &Config{
		Listen: "127.0.0.1:8080",
		Store:  Store{Driver: DriverSQLite},
		CRM: CRM{
			Kind: CRMSim,
			Salesforce: Salesforce{
				LoginURL:   "https://login.salesforce.com",
				APIVersion: "62.0",
			},
			PollInterval: Duration(adapter.DefaultPollInterval),
			ReclaimAfter: Duration(adapter.DefaultReclaimAfter),
			BatchMaxAge:  Duration(adapter.DefaultBatchMaxAge),
		},
		Routing: Routing{
			AutoAccept:           engine.AutoAccept,
			PushTimeout:          Duration(engine.PushTimeout),
			PushTimeoutPresence:  engine.PushTimeoutPresence,
			ReleaseAllBeforeNext: engine.ReleaseAllBeforeNext,
		},
		Timeouts: Timeouts{
			WrapUp:              durations(engine.WrapUp),
			WrapUpMaxExtensions: engine.WrapUpMaxExtensions,
			TransferAccept:      Duration(engine.TransferAccept),
			Consult:             Duration(engine.Consult),
			Inactivity:          durations(engine.Inactivity),
		},
		Deferral: Deferral{Reopen: string(engine.Reopen)},
		API: API{
			RateLimit:        float64(api.DefaultRateLimit),
			RateBurst:        api.DefaultRateBurst,
			Heartbeat:        Duration(api.DefaultHeartbeat),
			MaxStreams:       api.DefaultMaxStreams,
			MaxReplay:        api.DefaultMaxReplay,
			MaxBodyBytes:     api.DefaultMaxBodyBytes,
			MaxNoteBytes:     api.DefaultMaxNoteBytes,
			AuthFailureRate:  float64(api.DefaultAuthFailureRate),
			AuthFailureBurst: api.DefaultAuthFailureBurst,
		},
		Panel: Panel{SignIn: SignIn{SessionTTL: Duration(api.DefaultSessionTTL)}},
		Retention: Retention{
			Events:   Duration(adapter.DefaultEventRetention),
			Audit:    Duration(adapter.DefaultAuditRetention),
			Interval: Duration(adapter.DefaultRetentionInterval),
		},
	}
}

// durations converts the engine's durations by media type to the file's.
func durations(in map[contactpad.Media]time.Duration) map[contactpad.Media]Duration {
	out := make(map[contactpad.Media]Duration, len(in))
	for m, d := range in {
		out[m] = Duration(d)
	}
	return out
}

// finishDefaults applies the defaults that depend on what the file said.
func finishDefaults(c *Config) {
	if c.Panel.SignIn.Enabled() && c.Panel.SignIn.LoginURL == "" && c.CRM.Kind == CRMSalesforce {
		c.Panel.SignIn.LoginURL = c.CRM.Salesforce.LoginURL
	}
	if c.Store.Driver == DriverSQLite && c.Store.DSN.IsZero() {
		c.Store.DSN = NewSecret("./ctibridge.db")
	}
	defaultCapacity := adapter.DefaultCapacity()
	for i := range c.Agents {
		a := &c.Agents[i]
		if a.Name == "" {
			a.Name = a.ID
		}
		if a.Capacity == nil {
			a.Capacity = contactpad.Capacity{}
		}
		for _, m := range contactpad.Medias {
			if _, ok := a.Capacity[m]; !ok {
				a.Capacity[m] = defaultCapacity[m]
			}
		}
	}
	for i := range c.Services {
		if c.Services[i].Name == "" {
			c.Services[i].Name = c.Services[i].ID
		}
	}
}

// normalize rewrites a valid config into the form its users expect: an
// inactivity of 0 means none, so the media type leaves the map.
func normalize(c *Config) {
	for m, d := range c.Timeouts.Inactivity {
		if d == 0 {
			delete(c.Timeouts.Inactivity, m)
		}
	}
}

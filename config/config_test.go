package config

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/ctibridge/ctibridge/contactpad"
)

// examplePath is the complete config shared with the other packages' tests.
const examplePath = "../testdata/config/ctibridge.yaml"

// doc joins lines into a YAML file, so that tests can count lines.
// hookSecret is a webhook secret long enough to sign with.
const hookSecret = "webhook-secret-of-24-byte"

func doc(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

// parseErr parses data as ctibridge.yaml and returns the error text.
func parseErr(t *testing.T, data []byte) string {
	t.Helper()
	cfg, err := Parse("ctibridge.yaml", data)
	require.Error(t, err)
	require.Nil(t, cfg)
	return err.Error()
}

func TestLoadExample(t *testing.T) {
	cfg, err := Load(examplePath)
	require.NoError(t, err)

	require.Equal(t, examplePath, cfg.File)
	require.Equal(t, "127.0.0.1:8080", cfg.Listen)
	require.Equal(t, DriverSQLite, cfg.Store.Driver)
	require.Equal(t, "./ctibridge.db", cfg.Store.DSN.Reveal())
	require.Equal(t, CRMSalesforce, cfg.CRM.Kind)
	require.Equal(t, AuthClientCredentials, cfg.CRM.Salesforce.Auth)
	require.Equal(t, "local-secret", cfg.CRM.Salesforce.ClientSecret.Reveal())
	require.Equal(t, Duration(5*time.Second), cfg.CRM.PollInterval)
	require.Equal(t, "demo-webhook-secret-of-at-least-24-bytes", cfg.Webhooks[0].Secret.Reveal(), "secret_file is relative to the config file")

	var agents, services []string
	for _, a := range cfg.Agents {
		agents = append(agents, a.ID)
	}
	for _, s := range cfg.Services {
		services = append(services, s.ID)
	}
	require.Equal(t, []string{"alice", "bob", "carol"}, agents)
	require.Equal(t, []string{"support", "billing"}, services)
	require.Equal(t, contactpad.Capacity{contactpad.Live: 0, contactpad.SemiLive: 3, contactpad.NonLive: 8}, cfg.Agents[2].Capacity)
	require.Len(t, cfg.Deferral.Rules, 2)
	require.Len(t, cfg.Tokens, 2)
	require.True(t, cfg.Matrix().Allows(contactpad.SemiLive, contactpad.ActionTransfer))
	require.False(t, cfg.Matrix().Allows(contactpad.Live, contactpad.ActionDefer))
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "load config: open ")
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml []byte
		want string
	}{
		{
			name: "unknown top-level key",
			yaml: doc("listen: 127.0.0.1:8080", "lisen: x"),
			want: "ctibridge.yaml:2: lisen: unknown key",
		},
		{
			name: "unknown nested key at its own line",
			yaml: doc("routing:", "  push_timeout: 20s", "  push_timout: 20s"),
			want: "ctibridge.yaml:3: routing.push_timout: unknown key",
		},
		{
			name: "unknown key in a flow mapping of a list",
			yaml: doc("services:", "  - {id: support}", "  - {id: billing, nmae: Billing}"),
			want: "ctibridge.yaml:3: services[1].nmae: unknown key",
		},
		{
			name: "unknown keys that are not names are quoted",
			yaml: doc("\"dead line\": 1", "routing:", "  auto_accept: {\"semi live\": true}"),
			want: `ctibridge.yaml:1: "dead line": unknown key` + "\n" +
				`ctibridge.yaml:3: routing.auto_accept["semi live"]: unknown media type "semi live" (want live, semi-live or non-live)`,
		},
		{
			name: "a key that is a list",
			yaml: doc("store:", "  ? [driver]", "  : sqlite"),
			want: "ctibridge.yaml:2: store: want a key name, got a list",
		},
		{
			name: "duplicate key",
			yaml: doc("listen: 127.0.0.1:1", "listen: 127.0.0.1:2"),
			want: "ctibridge.yaml:2: listen: duplicate key (first at line 1)",
		},
		{
			name: "bad duration",
			yaml: doc("routing:", "  push_timeout: 20x"),
			want: `ctibridge.yaml:2: routing.push_timeout: invalid duration "20x" (want e.g. 30s, 5m or 24h)`,
		},
		{
			name: "duration without unit",
			yaml: doc("timeouts:", "  consult: 45"),
			want: `ctibridge.yaml:2: timeouts.consult: invalid duration "45" (want e.g. 30s, 5m or 24h)`,
		},
		{
			name: "zero timeout",
			yaml: doc("timeouts:", "  transfer_accept: 0s"),
			want: "ctibridge.yaml:2: timeouts.transfer_accept: must be greater than 0, got 0s",
		},
		{
			name: "negative wrap-up",
			yaml: doc("timeouts:", "  wrap_up: {semi-live: -5s}"),
			want: "ctibridge.yaml:2: timeouts.wrap_up.semi-live: must be greater than 0, got -5s",
		},
		{
			name: "negative inactivity",
			yaml: doc("timeouts:", "  inactivity:", "    non-live: -1h"),
			want: "ctibridge.yaml:3: timeouts.inactivity.non-live: must not be negative, got -1h0m0s (0 turns it off)",
		},
		{
			name: "negative extensions",
			yaml: doc("timeouts:", "  wrap_up_max_extensions: -1"),
			want: "ctibridge.yaml:2: timeouts.wrap_up_max_extensions: must not be negative, got -1",
		},
		{
			name: "int of the wrong type",
			yaml: doc("timeouts:", "  wrap_up_max_extensions: twice"),
			want: `ctibridge.yaml:2: timeouts.wrap_up_max_extensions: want a whole number, got "twice"`,
		},
		{
			name: "YAML 1.1 boolean",
			yaml: doc("routing:", "  release_all_before_next: yes"),
			want: `ctibridge.yaml:2: routing.release_all_before_next: want true or false, got "yes"`,
		},
		{
			name: "list where a mapping belongs",
			yaml: doc("store:", "  - sqlite"),
			want: "ctibridge.yaml:2: store: want a mapping, got a list",
		},
		{
			name: "mapping where a list belongs",
			yaml: doc("agents:", "  id: alice"),
			want: "ctibridge.yaml:2: agents: want a list, got a mapping",
		},
		{
			name: "mapping where a string belongs",
			yaml: doc("listen: {host: x}"),
			want: "ctibridge.yaml:1: listen: want a string, got a mapping",
		},
		{
			name: "root is not a mapping",
			yaml: doc("- listen"),
			want: "ctibridge.yaml:1: want a mapping, got a list",
		},
		{
			name: "YAML syntax error",
			yaml: doc("listen: 127.0.0.1:8080", "routing: [", "store: {}"),
			want: "ctibridge.yaml:2: invalid YAML: did not find expected ',' or ']'",
		},
		{
			name: "YAML error inside a block list is reported where the list starts",
			yaml: doc("listen: 127.0.0.1:8080", "agents:", "  - id: alice", "  id: bob"),
			want: "ctibridge.yaml:3: invalid YAML: did not find expected '-' indicator",
		},
		{
			name: "two documents",
			yaml: doc("listen: 127.0.0.1:8080", "---", "listen: 127.0.0.1:8081"),
			want: "ctibridge.yaml:2: want one YAML document, found another",
		},
		{
			name: "listen without port",
			yaml: doc("listen: localhost"),
			want: `ctibridge.yaml:1: listen: invalid address "localhost" (want host:port, e.g. 127.0.0.1:8080)`,
		},
		{
			name: "listen with a bad port",
			yaml: doc("listen: localhost:http"),
			want: `ctibridge.yaml:1: listen: invalid port "http" (want 0 to 65535)`,
		},
		{
			name: "unknown store driver",
			yaml: doc("store:", "  driver: mysql"),
			want: `ctibridge.yaml:2: store.driver: unknown driver "mysql" (want sqlite or postgres)`,
		},
		{
			name: "a sqlite file name with a '?'",
			yaml: doc("store:", "  driver: sqlite", "  dsn: /var/lib/ctibridge/a?b"),
			want: "ctibridge.yaml:3: store.dsn: a sqlite store is a file name, which must not contain '?'",
		},
		{
			name: "postgres needs a dsn",
			yaml: doc("store:", "  driver: postgres"),
			want: "ctibridge.yaml:1: store.dsn: required for driver postgres",
		},
		{
			name: "unknown crm kind",
			yaml: doc("crm: {kind: dynamics}"),
			want: `ctibridge.yaml:1: crm.kind: unknown kind "dynamics" (want salesforce or sim)`,
		},
		{
			name: "salesforce needs auth",
			yaml: doc("crm:", "  kind: salesforce"),
			want: "ctibridge.yaml:1: crm.salesforce.auth: required with crm.kind salesforce (want client_credentials, jwt or password)",
		},
		{
			name: "unknown salesforce auth",
			yaml: doc("crm:", "  kind: salesforce", "  salesforce:", "    auth: saml"),
			want: `ctibridge.yaml:4: crm.salesforce.auth: unknown auth "saml" (want client_credentials, jwt or password)`,
		},
		{
			name: "client credentials needs id and secret",
			yaml: doc("crm:", "  kind: salesforce", "  salesforce:", "    auth: client_credentials"),
			want: "ctibridge.yaml:3: crm.salesforce.client_id: required for auth client_credentials\n" +
				"ctibridge.yaml:3: crm.salesforce.client_secret: required for auth client_credentials",
		},
		{
			name: "password flow fields",
			yaml: doc("crm:", "  kind: salesforce", "  salesforce:", "    auth: password", "    client_id: app", "    client_secret: s"),
			want: "ctibridge.yaml:3: crm.salesforce.username: required for auth password\n" +
				"ctibridge.yaml:3: crm.salesforce.password: required for auth password",
		},
		{
			name: "jwt flow fields",
			yaml: doc("crm:", "  kind: salesforce", "  salesforce:", "    auth: jwt", "    client_id: app", "    username: u@x"),
			want: "ctibridge.yaml:3: crm.salesforce.private_key: required for auth jwt",
		},
		{
			name: "salesforce login url and version",
			yaml: doc("crm:", "  kind: salesforce", "  salesforce:", "    login_url: login.salesforce.com",
				"    api_version: 62", "    auth: jwt", "    client_id: app", "    username: u@x", "    private_key: k"),
			want: "ctibridge.yaml:4: crm.salesforce.login_url: want an absolute http or https URL\n" +
				`ctibridge.yaml:5: crm.salesforce.api_version: invalid API version "62" (want e.g. 62.0)`,
		},
		{
			name: "login url over http to another host",
			yaml: doc("crm:", "  kind: salesforce", "  salesforce:", "    login_url: http://acme.my.salesforce.com",
				"    auth: client_credentials", "    client_id: app", "    client_secret: s"),
			want: "ctibridge.yaml:4: crm.salesforce.login_url: http would send the client secret in clear: want https " +
				"(http only for a loopback host such as 127.0.0.1, or with allow_http: true for a local org on a private network)",
		},
		{
			name: "metrics listen",
			yaml: doc("listen: 127.0.0.1:8080", "metrics:", "  listen: 127.0.0.1:8080"),
			want: "ctibridge.yaml:3: metrics.listen: same address as listen (leave it out to serve /metrics there)",
		},
		{
			name: "metrics listen address",
			yaml: doc("metrics: {listen: localhost}"),
			want: `ctibridge.yaml:1: metrics.listen: invalid address "localhost" (want host:port, e.g. 127.0.0.1:8080)`,
		},
		{
			name: "auth failure limit",
			yaml: doc("api:", "  auth_failure_rate: 0", "  auth_failure_burst: 0"),
			want: "ctibridge.yaml:2: api.auth_failure_rate: must be positive (requests with an unknown token a second per address), got 0\n" +
				"ctibridge.yaml:3: api.auth_failure_burst: must be at least 1, got 0",
		},
		{
			name: "salesforce block is ignored with kind sim",
			yaml: doc("crm:", "  kind: sim", "  salesforce: {auth: jwt}", "  poll_interval: 0s"),
			want: "ctibridge.yaml:4: crm.poll_interval: must be greater than 0, got 0s",
		},
		{
			name: "writes that never wait for a batch",
			yaml: doc("crm:", "  batch_max_age: 0s"),
			want: "ctibridge.yaml:2: crm.batch_max_age: must be greater than 0, got 0s",
		},
		{
			name: "unknown media type as a key",
			yaml: doc("routing:", "  auto_accept:", "    live: true", "    video: true"),
			want: `ctibridge.yaml:4: routing.auto_accept.video: unknown media type "video" (want live, semi-live or non-live)`,
		},
		{
			name: "unknown presence",
			yaml: doc("routing:", "  push_timeout_presence: away"),
			want: `ctibridge.yaml:2: routing.push_timeout_presence: unknown presence "away" (want available, interruptible, busy or logged_out)`,
		},
		{
			name: "omni presence enabled without a map",
			yaml: doc("crm:", "  salesforce:", "    omni:", "      presence: {enabled: true}"),
			want: `ctibridge.yaml:4: crm.salesforce.omni.presence.map: required when enabled: the presence of each Omni-Channel status (DeveloperName) agents use`,
		},
		{
			name: "omni presence map and media mistakes",
			yaml: doc("crm:", "  salesforce:", "    omni:", "      presence:", "        enabled: true",
				"        map: {Available: available, Busy_Voice: available, Away: away, Busy: busy}",
				"        media:",
				"          Busy_Vocie: {live: busy}",
				"          Busy: {live: busy}",
				"          Busy_Voice: {video: busy, live: logged_out, semi-live: available}"),
			want: `ctibridge.yaml:6: crm.salesforce.omni.presence.map.Away: unknown presence "away" (want available, interruptible, busy or logged_out)` + "\n" +
				`ctibridge.yaml:8: crm.salesforce.omni.presence.media.Busy_Vocie: status "Busy_Vocie" is not in crm.salesforce.omni.presence.map (want one of Available, Away, Busy, Busy_Voice)` + "\n" +
				`ctibridge.yaml:9: crm.salesforce.omni.presence.media.Busy: status "Busy" maps to busy: only a status that maps to available can be busy per media type` + "\n" +
				`ctibridge.yaml:10: crm.salesforce.omni.presence.media.Busy_Voice.live: presence "logged_out" per media type (want available or busy)` + "\n" +
				`ctibridge.yaml:10: crm.salesforce.omni.presence.media.Busy_Voice.video: unknown media type "video" (want live, semi-live or non-live)`,
		},
		{
			name: "unknown capability media and action",
			yaml: doc("capabilities:", "  chat: {transfer: true}", "  live:", "    teleport: true"),
			want: `ctibridge.yaml:2: capabilities.chat: unknown media type "chat" (want live, semi-live or non-live)` + "\n" +
				`ctibridge.yaml:4: capabilities.live.teleport: unknown action "teleport" (want release, hold, retrieve, consult, transfer, abandon, defer, resume)`,
		},
		{
			name: "paired capabilities disagree",
			yaml: doc("capabilities:", "  non-live: {defer: true, resume: false}"),
			want: "ctibridge.yaml:2: capabilities.non-live: defer and resume go together; set them alike",
		},
		{
			name: "unknown reopen policy",
			yaml: doc("deferral:", "  reopen: owner"),
			want: `ctibridge.yaml:2: deferral.reopen: unknown reopen policy "owner" (want owner_then_queue or queue)`,
		},
		{
			name: "deferral rule needs when and a positive after",
			yaml: doc("deferral:", "  rules:", "    - after: -1h"),
			want: "ctibridge.yaml:3: deferral.rules[0].when: required\n" +
				"ctibridge.yaml:3: deferral.rules[0].after: must be greater than 0, got -1h0m0s",
		},
		{
			name: "deferral rule with an unknown name",
			yaml: doc("deferral:", "  rules:", "    - when: 'labels contains \"vip\"'", "      after: 1h"),
			want: "ctibridge.yaml:3: deferral.rules[0].when: invalid expression: unknown name labels (column 1)",
		},
		{
			name: "deferral rule that is not a boolean",
			yaml: doc("deferral:", "  rules:", "    - after: 1h", "      when: priority + 1"),
			want: "ctibridge.yaml:4: deferral.rules[0].when: invalid expression: expected bool, but got int",
		},
		{
			name: "deferral rule error on the second line of a block scalar",
			yaml: doc("deferral:", "  rules:", "    - when: |", "        media == \"live\" &&", "          priority > \"high\"", "      after: 1h"),
			want: "ctibridge.yaml:5: deferral.rules[0].when: invalid expression: invalid operation: > (mismatched types int and string) (column 12)",
		},
		{
			name: "agent without id",
			yaml: doc("agents:", "  - name: Alice"),
			want: "ctibridge.yaml:2: agents[0].id: required",
		},
		{
			name: "duplicate agent",
			yaml: doc("agents:", "  - id: alice", "  - id: alice"),
			want: `ctibridge.yaml:3: agents[1].id: duplicate agent id "alice" (first at line 2)`,
		},
		{
			name: "reserved agent id",
			yaml: doc("agents:", "  - id: alice", "  - id: system"),
			want: `ctibridge.yaml:3: agents[1].id: "system" is reserved for audit entries not made by an agent (reserved: system, admin, crm)`,
		},
		{
			name: "duplicate service",
			yaml: doc("services:", "  - id: support", "  - id: billing", "  - id: support"),
			want: `ctibridge.yaml:4: services[2].id: duplicate service id "support" (first at line 2)`,
		},
		{
			name: "agent names an unknown service",
			yaml: doc("services:", "  - id: support", "agents:", "  - id: alice", "    services: [support]",
				"  - id: bob", "    services:", "      - sales"),
			want: `ctibridge.yaml:8: agents[1].services[0]: agent bob names unknown service "sales"`,
		},
		{
			name: "agent names a service twice",
			yaml: doc("services: [{id: support}]", "agents:", "  - id: alice", "    services: [support, support]"),
			want: `ctibridge.yaml:4: agents[0].services[1]: agent alice names service "support" twice`,
		},
		{
			name: "bad capacity",
			yaml: doc("agents:", "  - id: alice", "    capacity:", "      live: -1", "      voice: 1", "      non-live: lots"),
			want: `ctibridge.yaml:4: agents[0].capacity.live: must not be negative, got -1` + "\n" +
				`ctibridge.yaml:5: agents[0].capacity.voice: unknown media type "voice" (want live, semi-live or non-live)` + "\n" +
				`ctibridge.yaml:6: agents[0].capacity.non-live: want a whole number, got "lots"`,
		},
		{
			name: "token hash that is not a hash",
			yaml: doc("agents:", "  - id: alice", "    token_sha256: demo-alice"),
			want: "ctibridge.yaml:3: agents[0].token_sha256: want 64 lowercase hex digits (the SHA-256 of the token)",
		},
		{
			name: "token hash shared by two identities",
			yaml: doc("agents:", "  - id: alice", "    token_sha256: "+strings.Repeat("ab", 32),
				"tokens:", "  - {name: ops, role: admin, token_sha256: "+strings.Repeat("ab", 32)+"}"),
			want: "ctibridge.yaml:5: tokens[0].token_sha256: same token as agents[0]",
		},
		{
			name: "tokens need name, role and hash",
			yaml: doc("tokens:", "  - role: root", "  - name: ci", "    role: integration", "    token_sha256: "+strings.Repeat("0", 64),
				"  - name: ci", "    role: admin", "    token_sha256: "+strings.Repeat("1", 64)),
			want: "ctibridge.yaml:2: tokens[0].name: required\n" +
				`ctibridge.yaml:2: tokens[0].role: unknown role "root" (want admin or integration)` + "\n" +
				"ctibridge.yaml:2: tokens[0].token_sha256: required\n" +
				`ctibridge.yaml:6: tokens[2].name: duplicate token name "ci" (first at line 3)`,
		},
		{
			name: "webhook",
			yaml: doc("webhooks:", "  - url: /hooks", "    events: [interaction.created, interaction.deleted]"),
			want: "ctibridge.yaml:2: webhooks[0].url: want an absolute http or https URL\n" +
				"ctibridge.yaml:2: webhooks[0].secret: required (the key that signs each delivery; or secrets: [new, old] to rotate)\n" +
				`ctibridge.yaml:3: webhooks[0].events[1]: unknown event type "interaction.deleted" (want one of ` + strings.Join(EventTypes, ", ") + ")",
		},
		{
			name: "two webhooks with one URL",
			yaml: doc("webhooks:", "  - {url: https://h.example/x, secret: "+hookSecret+"}", "  - {url: https://h.example/x, secret: "+hookSecret+"}"),
			want: "ctibridge.yaml:3: webhooks[1].url: same URL as webhooks[0] (first at line 2)",
		},
		{
			name: "webhook secret and secrets at once",
			yaml: doc("webhooks:", "  - url: https://h.example/x", "    secret: "+hookSecret, "    secrets: ["+hookSecret+"]"),
			want: "ctibridge.yaml:4: webhooks[0].secrets: set secret or secrets, not both (secrets: [new, old] to rotate)",
		},
		{
			name: "webhook secrets empty",
			yaml: doc("webhooks:", "  - url: https://h.example/x", "    secrets: []"),
			want: "ctibridge.yaml:3: webhooks[0].secrets: want at least one secret",
		},
		{
			name: "webhook secrets too short or not base64",
			yaml: doc("webhooks:", "  - url: https://h.example/x",
				"    secret: short-secret-a",
				"  - url: https://h.example/y",
				"    secrets:",
				"      - "+hookSecret,
				// 23 bytes of key: 24 bytes of base64 text are not enough.
				"      - whsec_"+base64.StdEncoding.EncodeToString([]byte("whsec-key-of-23-bytes-x")),
				"      - whsec_not*base64-but-long-enough-anyway",
				"      - "+strings.Repeat("c", 23)),
			want: "ctibridge.yaml:3: webhooks[0].secret: too short: want at least 24 bytes of key (of a whsec_ secret, 24 once base64-decoded)\n" +
				"ctibridge.yaml:7: webhooks[1].secrets[1]: too short: want at least 24 bytes of key (of a whsec_ secret, 24 once base64-decoded)\n" +
				"ctibridge.yaml:8: webhooks[1].secrets[2]: a whsec_ secret must be whsec_ and the standard base64 of the key\n" +
				"ctibridge.yaml:9: webhooks[1].secrets[3]: too short: want at least 24 bytes of key (of a whsec_ secret, 24 once base64-decoded)",
		},
		{
			name: "api and panel",
			yaml: doc("api: {rate_limit: 0, rate_burst: 0, heartbeat: 0s, max_streams: 0, max_replay: 0, max_body_bytes: 1000, max_note_bytes: 30001}",
				"panel:", "  frame_ancestors: [https://*.lightning.force.com, lightning.force.com, 'https://x.example/path']",
				"  opencti_url: http://x.example/opencti_min.js"),
			want: "ctibridge.yaml:1: api.rate_limit: must be positive (requests a second per token), got 0\n" +
				"ctibridge.yaml:1: api.rate_burst: must be at least 1, got 0\n" +
				"ctibridge.yaml:1: api.heartbeat: must be greater than 0, got 0s\n" +
				"ctibridge.yaml:1: api.max_streams: must be at least 1, got 0\n" +
				"ctibridge.yaml:1: api.max_replay: must be at least 1, got 0\n" +
				"ctibridge.yaml:1: api.max_body_bytes: must be at least 16384, got 1000\n" +
				"ctibridge.yaml:1: api.max_note_bytes: must be 1 to 30000 (a reason goes to a Salesforce Task Description), got 30001\n" +
				`ctibridge.yaml:3: panel.frame_ancestors[1]: invalid origin "lightning.force.com" (want scheme://host[:port], e.g. https://*.lightning.force.com)` + "\n" +
				`ctibridge.yaml:3: panel.frame_ancestors[2]: invalid origin "https://x.example/path" (want scheme://host[:port], e.g. https://*.lightning.force.com)` + "\n" +
				`ctibridge.yaml:4: panel.opencti_url: invalid URL "http://x.example/opencti_min.js" (want the org's https://.../opencti_min.js)`,
		},
		{
			name: "panel signin",
			yaml: doc("panel:", "  signin:", "    client_id: app", "    login_url: http://login.example",
				"    callback_url: https://cti.example/callback", "    session_ttl: 1m"),
			want: "ctibridge.yaml:2: panel.signin.client_secret: required with client_id (the connected app's consumer secret; or client_secret_file)\n" +
				"ctibridge.yaml:4: panel.signin.login_url: http would send the client secret and the agents' codes in clear: want https (http only for a loopback host such as 127.0.0.1)\n" +
				"ctibridge.yaml:5: panel.signin.callback_url: want the bridge's absolute URL ending in /api/v1/signin/salesforce/callback, e.g. https://cti.example.com/api/v1/signin/salesforce/callback\n" +
				"ctibridge.yaml:6: panel.signin.session_ttl: must be 5m to 720h, got 1m0s",
		},
		{
			name: "panel signin without client_id",
			yaml: doc("panel:", "  signin:", "    client_secret: s", "    session_ttl: 8h"),
			want: "ctibridge.yaml:2: panel.signin.client_id: required when panel.signin is set (the connected app's consumer key)",
		},
		{
			name: "retention",
			yaml: doc("retention:", "  events: -1h", "  audit: 0s", "  interval: 0s"),
			want: "ctibridge.yaml:2: retention.events: must be 0 (keep for ever) or more, got -1h0m0s\n" +
				"ctibridge.yaml:4: retention.interval: must be greater than 0, got 0s",
		},
		{
			name: "mappings must be a list",
			yaml: doc("mappings:", "  case: {}"),
			want: "ctibridge.yaml:2: mappings: want a list, got a mapping",
		},
		{
			name: "errors in an alias are reported where it is used",
			yaml: doc("services:", "  - &svc {id: support, nmae: Support}", "  - *svc"),
			want: "ctibridge.yaml:2: services[0].nmae: unknown key\n" +
				"ctibridge.yaml:3: services[1].nmae: unknown key\n" +
				`ctibridge.yaml:3: services[1].id: duplicate service id "support" (first at line 2)`,
		},
		{
			name: "errors in a merge key are reported where it is used",
			yaml: doc("services:", "  - &base {id: support, nmae: x}", "  - <<: *base", "    id: billing"),
			want: "ctibridge.yaml:2: services[0].nmae: unknown key\n" +
				"ctibridge.yaml:3: services[1].nmae: unknown key",
		},
		{
			name: "through nested aliases, at the first alias from the top",
			yaml: doc(
				"agents:",                       // 1
				"  - id: bob",                   // 2
				"    capacity: &c {live: -1}",   // 3
				"  - &a",                        // 4
				"    id: alice",                 // 5
				"    capacity: *c",              // 6
				"  - *a",                        // 7
				"deferral:",                     // 8
				"  rules:",                      // 9
				"    - when: &bad |",            // 10
				"        priority > 1 &&",       // 11
				"        tags contains",         // 12
				"      after: 1h",               // 13
				"    - {when: *bad, after: 2h}", // 14
			),
			want: "ctibridge.yaml:3: agents[0].capacity.live: must not be negative, got -1\n" +
				"ctibridge.yaml:6: agents[1].capacity.live: must not be negative, got -1\n" +
				`ctibridge.yaml:7: agents[2].id: duplicate agent id "alice" (first at line 5)` + "\n" +
				"ctibridge.yaml:7: agents[2].capacity.live: must not be negative, got -1\n" +
				"ctibridge.yaml:12: deferral.rules[0].when: invalid expression: unexpected token EOF (column 14)\n" +
				"ctibridge.yaml:14: deferral.rules[1].when: invalid expression: unexpected token EOF (column 14)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, parseErr(t, tt.yaml))
		})
	}
}

func TestParseReportsEveryError(t *testing.T) {
	data := doc(
		"listen: 127.0.0.1:8080", // 1
		"routing:",               // 2
		"  push_timout: 20s",     // 3
		"  push_timeout: 20x",    // 4
		"services:",              // 5
		"  - id: support",        // 6
		"agents:",                // 7
		"  - id: alice",          // 8
		"    services: [support]",
		"    colour: blue", // 10
		"  - id: bob",      // 11
		"    services:",    // 12
		"      - support",  // 13
		"      - sales",    // 14
		"store: {driver: oracle}",
	)
	_, err := Parse("ctibridge.yaml", data)
	require.EqualError(t, err, strings.Join([]string{
		"ctibridge.yaml:3: routing.push_timout: unknown key",
		`ctibridge.yaml:4: routing.push_timeout: invalid duration "20x" (want e.g. 30s, 5m or 24h)`,
		"ctibridge.yaml:10: agents[0].colour: unknown key",
		`ctibridge.yaml:14: agents[1].services[1]: agent bob names unknown service "sales"`,
		`ctibridge.yaml:15: store.driver: unknown driver "oracle" (want sqlite or postgres)`,
	}, "\n"))

	var list ValidationErrors
	require.ErrorAs(t, err, &list)
	require.Len(t, list, 5)
	require.Equal(t, &Error{File: "ctibridge.yaml", Line: 14, Path: "agents[1].services[1]", Msg: `agent bob names unknown service "sales"`}, list[3])

	var first *Error
	require.ErrorAs(t, err, &first)
	require.Equal(t, "routing.push_timout", first.Path)
}

func TestUnknownKeyLines(t *testing.T) {
	tests := []struct {
		name string
		yaml []byte
		line int
		path string
	}{
		{name: "top level", yaml: doc("# comment", "", "colour: blue"), line: 3, path: "colour"},
		{name: "nested block", yaml: doc("crm:", "  salesforce:", "    login_url: https://x", "    loginurl: https://x"), line: 4, path: "crm.salesforce.loginurl"},
		{name: "flow mapping", yaml: doc("store: {driver: sqlite, dns: x}"), line: 1, path: "store.dns"},
		{name: "list item", yaml: doc("webhooks:", "  - url: https://x", "    secret: "+hookSecret, "  - url: https://y", "    secret: "+hookSecret, "    event: [a]"), line: 6, path: "webhooks[1].event"},
		{name: "deferral rule", yaml: doc("deferral:", "  rules:", "    - when: 'true'", "      after: 1h", "      name: always"), line: 5, path: "deferral.rules[0].name"},
		{name: "file sibling of a non-secret", yaml: doc("crm:", "  salesforce:", "    client_id_file: /x"), line: 3, path: "crm.salesforce.client_id_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("ctibridge.yaml", tt.yaml)
			var list ValidationErrors
			require.ErrorAs(t, err, &list)
			require.Len(t, list, 1)
			require.Equal(t, &Error{File: "ctibridge.yaml", Line: tt.line, Path: tt.path, Msg: "unknown key"}, list[0])
		})
	}
}

func TestDefaults(t *testing.T) {
	empty, err := Parse("empty.yaml", nil)
	require.NoError(t, err)
	empty.File = ""
	require.Equal(t, Default(), empty)

	cfg := Default()
	require.Equal(t, "127.0.0.1:8080", cfg.Listen)
	require.Equal(t, Store{Driver: DriverSQLite, DSN: NewSecret("./ctibridge.db")}, cfg.Store)
	require.Equal(t, CRMSim, cfg.CRM.Kind)
	require.Equal(t, "https://login.salesforce.com", cfg.CRM.Salesforce.LoginURL)
	require.Equal(t, "62.0", cfg.CRM.Salesforce.APIVersion)
	require.Equal(t, Duration(5*time.Second), cfg.CRM.PollInterval)
	require.Equal(t, map[contactpad.Media]bool{contactpad.Live: false, contactpad.SemiLive: true, contactpad.NonLive: true}, cfg.Routing.AutoAccept)
	require.Equal(t, Duration(20*time.Second), cfg.Routing.PushTimeout)
	require.Equal(t, contactpad.Busy, cfg.Routing.PushTimeoutPresence)
	require.False(t, cfg.Routing.ReleaseAllBeforeNext)
	require.Equal(t, map[contactpad.Media]Duration{
		contactpad.Live: Duration(30 * time.Second), contactpad.SemiLive: Duration(20 * time.Second), contactpad.NonLive: Duration(10 * time.Second),
	}, cfg.Timeouts.WrapUp)
	require.Equal(t, 1, cfg.Timeouts.WrapUpMaxExtensions)
	require.Equal(t, Duration(30*time.Second), cfg.Timeouts.TransferAccept)
	require.Equal(t, Duration(45*time.Second), cfg.Timeouts.Consult)
	require.Equal(t, map[contactpad.Media]Duration{
		contactpad.SemiLive: Duration(10 * time.Minute), contactpad.NonLive: Duration(24 * time.Hour),
	}, cfg.Timeouts.Inactivity)
	require.Equal(t, ReopenOwnerThenQueue, cfg.Deferral.Reopen)
	require.Equal(t, contactpad.DefaultMatrix(), cfg.Matrix())
}

func TestDefaultsMergeWithTheFile(t *testing.T) {
	tests := []struct {
		name  string
		yaml  []byte
		check func(t *testing.T, cfg *Config)
	}{
		{
			name: "a map key replaces only its default",
			yaml: doc("routing:", "  auto_accept: {live: true}", "timeouts:", "  wrap_up: {non-live: 1m}"),
			check: func(t *testing.T, cfg *Config) {
				require.Equal(t, map[contactpad.Media]bool{contactpad.Live: true, contactpad.SemiLive: true, contactpad.NonLive: true}, cfg.Routing.AutoAccept)
				require.Equal(t, Duration(time.Minute), cfg.Timeouts.WrapUp[contactpad.NonLive])
				require.Equal(t, Duration(30*time.Second), cfg.Timeouts.WrapUp[contactpad.Live])
			},
		},
		{
			name: "an explicit zero is kept",
			yaml: doc("timeouts:", "  wrap_up_max_extensions: 0"),
			check: func(t *testing.T, cfg *Config) {
				require.Equal(t, 0, cfg.Timeouts.WrapUpMaxExtensions)
			},
		},
		{
			name: "an inactivity of 0 turns it off",
			yaml: doc("timeouts:", "  inactivity: {non-live: 0s, live: 2m}"),
			check: func(t *testing.T, cfg *Config) {
				require.Equal(t, map[contactpad.Media]Duration{
					contactpad.SemiLive: Duration(10 * time.Minute), contactpad.Live: Duration(2 * time.Minute),
				}, cfg.Timeouts.Inactivity)
			},
		},
		{
			name: "an empty value keeps the default",
			yaml: doc("routing:", "  push_timeout:", "store: ~"),
			check: func(t *testing.T, cfg *Config) {
				require.Equal(t, Duration(20*time.Second), cfg.Routing.PushTimeout)
				require.Equal(t, DriverSQLite, cfg.Store.Driver)
			},
		},
		{
			name: "postgres gets no sqlite dsn",
			yaml: doc("store: {driver: postgres, dsn: 'postgres://db/ctibridge'}"),
			check: func(t *testing.T, cfg *Config) {
				require.Equal(t, "postgres://db/ctibridge", cfg.Store.DSN.Reveal())
			},
		},
		{
			name: "agent capacity and names",
			yaml: doc("services: [{id: support}]", "agents:", "  - {id: alice, capacity: {semi-live: 0}}", "  - {id: bob, name: Bob}"),
			check: func(t *testing.T, cfg *Config) {
				require.Equal(t, contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 0, contactpad.NonLive: 5}, cfg.Agents[0].Capacity)
				require.Equal(t, contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 3, contactpad.NonLive: 5}, cfg.Agents[1].Capacity)
				require.Equal(t, "alice", cfg.Agents[0].Name)
				require.Equal(t, "Bob", cfg.Agents[1].Name)
				require.Equal(t, "support", cfg.Services[0].Name)
			},
		},
		{
			name: "capability overrides go through the matrix",
			yaml: doc("capabilities:", "  live: {hold: false}", "  semi-live: {transfer: true}"),
			check: func(t *testing.T, cfg *Config) {
				m := cfg.Matrix()
				require.False(t, m.Allows(contactpad.Live, contactpad.ActionRetrieve))
				require.True(t, m.Allows(contactpad.SemiLive, contactpad.ActionTransfer))
				require.False(t, m.Allows(contactpad.SemiLive, contactpad.ActionHold))
			},
		},
		{
			name: "merge keys",
			yaml: doc("agents:", "  - &agent {id: alice, services: [support], capacity: {live: 0}}", "  - <<: *agent", "    id: bob",
				"services: [{id: support}]"),
			check: func(t *testing.T, cfg *Config) {
				require.Equal(t, "bob", cfg.Agents[1].ID)
				require.Equal(t, []string{"support"}, cfg.Agents[1].Services)
				require.Equal(t, 0, cfg.Agents[1].Capacity[contactpad.Live])
			},
		},
		{
			name: "mappings stay raw with their lines",
			yaml: doc("mappings:", "  - object: Case", "    media: non-live"),
			check: func(t *testing.T, cfg *Config) {
				require.Len(t, cfg.Mappings, 1)
				require.Equal(t, yaml.MappingNode, cfg.Mappings[0].Kind())
				require.Equal(t, 2, cfg.Mappings[0].Line())
				var m map[string]string
				require.NoError(t, cfg.Mappings[0].Decode(&m))
				require.Equal(t, map[string]string{"object": "Case", "media": "non-live"}, m)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("ctibridge.yaml", tt.yaml)
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := Default()
	a.Routing.AutoAccept[contactpad.Live] = true
	a.Timeouts.WrapUp[contactpad.Live] = 1
	require.Equal(t, false, Default().Routing.AutoAccept[contactpad.Live])
	require.Equal(t, Duration(30*time.Second), Default().Timeouts.WrapUp[contactpad.Live])
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{name: "everything", err: &Error{File: "c.yaml", Line: 3, Path: "listen", Msg: "bad"}, want: "c.yaml:3: listen: bad"},
		{name: "no line", err: &Error{File: "c.yaml", Path: "listen", Msg: "bad"}, want: "c.yaml: listen: bad"},
		{name: "no path", err: &Error{File: "c.yaml", Line: 1, Msg: "bad"}, want: "c.yaml:1: bad"},
		{name: "no file", err: &Error{Line: 2, Path: "listen", Msg: "bad"}, want: "line 2: listen: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.err.Error())
		})
	}
	joined := ValidationErrors{tests[0].err, tests[2].err}
	require.Equal(t, "c.yaml:3: listen: bad\nc.yaml:1: bad", joined.Error())
	require.True(t, errors.Is(joined, tests[2].err))
}

func TestDurationText(t *testing.T) {
	d := Duration(90 * time.Second)
	text, err := d.MarshalText()
	require.NoError(t, err)
	require.Equal(t, "1m30s", string(text))
	var back Duration
	require.NoError(t, back.UnmarshalText(text))
	require.Equal(t, d, back)
	require.Error(t, back.UnmarshalText([]byte("soon")))
}

func TestLoginURLOverHTTPOnLoopback(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8090", "http://localhost:8090", "http://[::1]:8090", "https://test.salesforce.com"} {
		t.Run(u, func(t *testing.T) {
			cfg, err := Parse("ctibridge.yaml", doc("crm:", "  kind: salesforce", "  salesforce:", "    login_url: "+u,
				"    auth: client_credentials", "    client_id: app", "    client_secret: s"))
			require.NoError(t, err)
			require.Equal(t, u, cfg.CRM.Salesforce.LoginURL)
		})
	}
}

// TestSecretFileMissing: a secret_file that cannot be read is one error,
// at its key: not also a secret that is "required".
func TestSecretFileMissing(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ctibridge.yaml")
	_, err := Parse(file, doc("webhooks:", "  - url: https://example.com/hook", "    secret_file: nope.secret"))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 1, err.Error())
	require.True(t, strings.HasPrefix(lines[0], file+":3: webhooks[0].secret_file: "), lines[0])
	require.Contains(t, lines[0], "nope.secret")
}

func TestSecretFileReadableByOthers(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "hook.secret")
	writeFile(t, secret, "s3cr3t-file-value-of-24-bytes-or-more\n")
	config := doc("webhooks:", "  - url: https://example.com/hook", "    secret_file: hook.secret")
	file := filepath.Join(dir, "ctibridge.yaml")

	cfg, err := Parse(file, config)
	require.NoError(t, err)
	require.Empty(t, cfg.Warnings, "0600")

	require.NoError(t, os.Chmod(secret, 0o644))
	cfg, err = Parse(file, config)
	require.NoError(t, err, "a warning, not an error")
	require.Len(t, cfg.Warnings, 1)
	require.Equal(t, file+":3: webhooks[0].secret_file: "+secret+" is readable by others (mode 0644); chmod 600 it", cfg.Warnings[0].Error())
	require.NotContains(t, cfg.Warnings[0].Error(), "s3cr3t")
	require.Equal(t, "s3cr3t-file-value-of-24-bytes-or-more", cfg.Webhooks[0].Secret.Reveal())

	require.NoError(t, os.Chmod(secret, 0o640))
	require.NoError(t, os.Chown(secret, -1, os.Getegid()))
	cfg, err = Parse(file, config)
	require.NoError(t, err)
	require.Empty(t, cfg.Warnings, "the process's own group may read it")

	if err := os.Chown(secret, -1, os.Getegid()+4242); err != nil {
		t.Skipf("chown to another group: %v (needs root)", err)
	}
	cfg, err = Parse(file, config)
	require.NoError(t, err)
	require.Len(t, cfg.Warnings, 1)
	require.Contains(t, cfg.Warnings[0].Error(), "is readable by its group (mode 0640)")
}

func TestLoginURLOverHTTPAllowed(t *testing.T) {
	cfg, err := Parse("ctibridge.yaml", doc("crm:", "  kind: salesforce", "  salesforce:", "    login_url: http://org:8090",
		"    allow_http: true", "    auth: client_credentials", "    client_id: app", "    client_secret: s"))
	require.NoError(t, err)
	require.Len(t, cfg.Warnings, 1)
	require.Equal(t, "ctibridge.yaml:4: crm.salesforce.login_url: http sends the client secret in clear (allow_http is set)", cfg.Warnings[0].Error())
}

package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "secret.txt"), "from-a-file\n")
	writeFile(t, filepath.Join(dir, "crlf.txt"), "from-windows\r\n")
	writeFile(t, filepath.Join(dir, "key.pem"), "-----BEGIN KEY-----\nabc\n-----END KEY-----\n\n")
	t.Setenv("CTIBRIDGE_TEST_SECRET", "from-the-env")
	t.Setenv("CTIBRIDGE_TEST_EMPTY", "")
	t.Setenv("CTIBRIDGE_TEST_DIR", dir)

	tests := []struct {
		name  string
		value string // the YAML of the store's dsn, a secret
		want  string
	}{
		{name: "literal", value: "dsn: plain", want: "plain"},
		{name: "number", value: "dsn: 12345", want: "12345"},
		{name: "whole value from the env", value: "dsn: ${CTIBRIDGE_TEST_SECRET}", want: "from-the-env"},
		{name: "embedded env", value: `dsn: "a-${CTIBRIDGE_TEST_SECRET}-b"`, want: "a-from-the-env-b"},
		{name: "set but empty env", value: "dsn: x${CTIBRIDGE_TEST_EMPTY}", want: "x"},
		{name: "escaped reference", value: "dsn: p$${NOT_A_VAR}w", want: "p${NOT_A_VAR}w"},
		{name: "a lone dollar is literal", value: "dsn: pa$$w$rd", want: "pa$$w$rd"},
		{name: "file, relative to the config", value: "dsn_file: secret.txt", want: "from-a-file"},
		{name: "file, absolute", value: "dsn_file: " + filepath.Join(dir, "crlf.txt"), want: "from-windows"},
		{name: "file named through the env", value: "dsn_file: ${CTIBRIDGE_TEST_DIR}/key.pem", want: "-----BEGIN KEY-----\nabc\n-----END KEY-----"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(filepath.Join(dir, "ctibridge.yaml"), doc("store:", "  "+tt.value))
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.Store.DSN.Reveal())
		})
	}
}

func TestSecretErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "secret.txt"), "s3cr3t-file-value\n")
	writeFile(t, filepath.Join(dir, "empty.txt"), "\n\n")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	t.Setenv("CTIBRIDGE_TEST_SECRET", "s3cr3t-env-value-of-24-bytes")
	file := filepath.Join(dir, "ctibridge.yaml")

	tests := []struct {
		name string
		yaml []byte
		want string
	}{
		{
			name: "unset variable",
			yaml: doc("store:", "  driver: postgres", "  dsn: postgres://app:${CTIBRIDGE_TEST_UNSET}@db/ctibridge"),
			want: file + ":3: store.dsn: environment variable CTIBRIDGE_TEST_UNSET is not set",
		},
		{
			name: "unterminated reference",
			yaml: doc("store:", "  dsn: s3cr3t-literal${CTIBRIDGE_TEST_SECRET"),
			want: file + ":2: store.dsn: unterminated ${ (want ${NAME}, or $${ for a literal ${)",
		},
		{
			name: "invalid reference",
			yaml: doc("store:", "  dsn: ${s3cr3t literal}"),
			want: file + ":2: store.dsn: invalid ${...} reference (want ${NAME} with letters, digits and _, or $${ for a literal ${)",
		},
		{
			name: "value and file",
			yaml: doc("crm:", "  salesforce:", "    client_secret: s3cr3t-literal", "    client_secret_file: secret.txt"),
			want: file + ":4: crm.salesforce.client_secret_file: set client_secret or client_secret_file, not both",
		},
		{
			name: "file and value, file first",
			yaml: doc("webhooks:", "  - url: https://example.com", "    secret_file: secret.txt", "    secret: ${CTIBRIDGE_TEST_SECRET}"),
			want: file + ":3: webhooks[0].secret_file: set secret or secret_file, not both",
		},
		{
			name: "missing file",
			yaml: doc("store:", "  dsn_file: nope.txt"),
			want: file + ":2: store.dsn_file: stat " + filepath.Join(dir, "nope.txt") + ": no such file or directory",
		},
		{
			name: "directory",
			yaml: doc("store:", "  dsn_file: sub"),
			want: file + ":2: store.dsn_file: " + filepath.Join(dir, "sub") + " is not a regular file",
		},
		{
			name: "empty webhook secret file",
			yaml: doc("webhooks:", "  - url: https://example.com", "    secret_file: empty.txt"),
			want: file + ":3: webhooks[0].secret_file: " + filepath.Join(dir, "empty.txt") + " is empty",
		},
		{
			name: "empty client secret file",
			yaml: doc("crm:", "  salesforce:", "    client_secret_file: empty.txt"),
			want: file + ":3: crm.salesforce.client_secret_file: " + filepath.Join(dir, "empty.txt") + " is empty",
		},
		{
			name: "empty file name",
			yaml: doc("store:", "  dsn_file: ''"),
			want: file + ":2: store.dsn_file: want a file path, got a string",
		},
		{
			name: "mapping as a secret",
			yaml: doc("crm:", "  salesforce:", "    password: {value: s3cr3t-literal}"),
			want: file + ":3: crm.salesforce.password: want a string, got a mapping",
		},
		{
			name: "secret where a mapping belongs",
			yaml: doc("store: postgres://app:s3cr3t-literal@db/ctibridge"),
			want: file + ":1: store: want a mapping, got a string",
		},
		{
			name: "token pasted in place of its hash",
			yaml: doc("agents:", "  - id: alice", "    token_sha256: s3cr3t-literal"),
			want: file + ":3: agents[0].token_sha256: want 64 lowercase hex digits (the SHA-256 of the token)",
		},
		{
			name: "webhook url with a token in it",
			yaml: doc("webhooks:", "  - url: hooks.example.com/s3cr3t-literal", "    secret: s3cr3t-literal-webhook-key"),
			want: file + ":2: webhooks[0].url: want an absolute http or https URL",
		},
		{
			name: "webhook secrets too short",
			yaml: doc("webhooks:", "  - url: https://example.com", "    secret_file: secret.txt",
				"  - url: https://example.com/2", "    secrets:", "      - ${CTIBRIDGE_TEST_SECRET}", "      - s3cr3t-short",
				"      - whsec_s3cr3t", "      - whsec_czNjcjN0LXNob3J0"),
			want: file + ":3: webhooks[0].secret_file: too short: want at least 24 bytes of key (of a whsec_ secret, 24 once base64-decoded)\n" +
				file + ":7: webhooks[1].secrets[1]: too short: want at least 24 bytes of key (of a whsec_ secret, 24 once base64-decoded)\n" +
				file + ":8: webhooks[1].secrets[2]: a whsec_ secret must be whsec_ and the standard base64 of the key\n" +
				file + ":9: webhooks[1].secrets[3]: too short: want at least 24 bytes of key (of a whsec_ secret, 24 once base64-decoded)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(file, tt.yaml)
			require.EqualError(t, err, tt.want)
			requireNoSecret(t, err.Error())
		})
	}
}

// TestSecretsNeverPrint parses a config that holds a secret in every secret
// field, from every source, and prints it every way a log line or an API
// response could.
func TestSecretsNeverPrint(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "key.pem"), "s3cr3t-file-value\n")
	writeFile(t, filepath.Join(dir, "hook.txt"), "s3cr3t-file-hook-of-24-bytes\n")
	t.Setenv("CTIBRIDGE_TEST_SECRET", "s3cr3t-env-value-of-24-bytes")
	t.Setenv("CTIBRIDGE_TEST_PGPASS", "s3cr3t-env-pgpass")

	cfg, err := Parse(filepath.Join(dir, "ctibridge.yaml"), doc(
		"store:",
		"  driver: postgres",
		"  dsn: postgres://app:${CTIBRIDGE_TEST_PGPASS}@db/ctibridge",
		"crm:",
		"  kind: salesforce",
		"  salesforce:",
		"    auth: password",
		"    client_id: app",
		"    client_secret: ${CTIBRIDGE_TEST_SECRET}",
		"    username: integration@example.com",
		"    password: s3cr3t-literal",
		"    private_key_file: key.pem",
		"webhooks:",
		"  - url: https://example.com/hook",
		"    secret_file: hook.txt",
		"  - url: https://example.com/other",
		"    secret: s3cr3t-literal-hook-24-bytes",
		"  - url: https://example.com/rotating",
		"    secrets: ['${CTIBRIDGE_TEST_SECRET}', s3cr3t-literal-old-hook-key]",
	))
	require.NoError(t, err)
	require.Equal(t, []Secret{NewSecret("s3cr3t-env-value-of-24-bytes"), NewSecret("s3cr3t-literal-old-hook-key")}, cfg.Webhooks[2].SigningSecrets())
	require.Equal(t, []Secret{NewSecret("s3cr3t-literal-hook-24-bytes")}, cfg.Webhooks[1].SigningSecrets())
	require.Equal(t, "s3cr3t-file-value", cfg.CRM.Salesforce.PrivateKey.Reveal())

	var jsonText strings.Builder
	enc := json.NewEncoder(&jsonText)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(cfg))
	yamlText, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	secret := cfg.CRM.Salesforce.Password

	printed := map[string]string{
		"%v":         fmt.Sprintf("%v", cfg),
		"%+v":        fmt.Sprintf("%+v", cfg),
		"%#v":        fmt.Sprintf("%#v", cfg),
		"%v value":   fmt.Sprintf("%v", *cfg),
		"%s secret":  fmt.Sprintf("%s", secret),
		"%q secret":  fmt.Sprintf("%q", secret),
		"%x secret":  fmt.Sprintf("%x", secret),
		"%d secret":  fmt.Sprintf("%d", secret),
		"%#v secret": fmt.Sprintf("%#v", secret),
		"Sprint":     fmt.Sprint(cfg, secret, &secret),
		"Sprintln":   fmt.Sprintln(cfg.CRM, cfg.Store, cfg.Webhooks),
		"json":       jsonText.String(),
		"yaml":       string(yamlText),
	}
	for name, text := range printed {
		t.Run(name, func(t *testing.T) {
			requireNoSecret(t, text)
			require.Contains(t, text, "<secret>")
		})
	}
}

func TestSecretBuiltInCode(t *testing.T) {
	s := NewSecret("s3cr3t-literal")
	require.Equal(t, "s3cr3t-literal", s.Reveal())
	require.False(t, s.IsZero())
	require.True(t, Secret{}.IsZero())
	require.Equal(t, "<secret>", s.String())
	require.Equal(t, "<secret>", fmt.Sprintf("%10.3s", s))
}

// requireNoSecret fails if text holds any of the secret values the tests
// use, all of which contain "s3cr3t".
func requireNoSecret(t *testing.T, text string) {
	t.Helper()
	require.NotContains(t, strings.ToLower(text), "s3cr3t")
	require.NotContains(t, text, "73336372337", "hex of a secret") // hex("s3cr3")
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(name, []byte(content), 0o600))
}

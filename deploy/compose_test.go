package deploy

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/ctibridge/ctibridge/config"
)

// composeFile is the part of the Compose specification compose.yaml uses;
// decoding it strictly makes a misspelt key an error.
type composeFile struct {
	Name      string                           `yaml:"name"`
	Extension any                              `yaml:"x-ctibridge"`
	Services  map[string]composeService        `yaml:"services"`
	Secrets   map[string]struct{ File string } `yaml:"secrets"`
	Volumes   map[string]any                   `yaml:"volumes"`
}

type composeService struct {
	Build       string            `yaml:"build"`
	Image       string            `yaml:"image"`
	Hostname    string            `yaml:"hostname"`
	Command     []string          `yaml:"command"`
	Restart     string            `yaml:"restart"`
	Ports       []string          `yaml:"ports"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Secrets     []string          `yaml:"secrets"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	ReadOnly    bool     `yaml:"read_only"`
	CapDrop     []string `yaml:"cap_drop"`
	SecurityOpt []string `yaml:"security_opt"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
}

func (s composeService) hardened() bool {
	return s.ReadOnly && slices.Equal(s.CapDrop, []string{"ALL"}) && slices.Contains(s.SecurityOpt, "no-new-privileges:true")
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "compose.yaml"))
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c composeFile
	require.NoError(t, dec.Decode(&c))
	return c
}

// TestCompose checks compose.yaml's two-replica try-out: two bridges on one
// PostgreSQL with the local org, each service health-checked, the bridges
// started once their dependencies are healthy, secrets as files.
func TestCompose(t *testing.T) {
	c := readCompose(t)
	require.ElementsMatch(t, []string{"postgres", "org", "ctibridge-a", "ctibridge-b"}, keys(c.Services))
	pg, org := c.Services["postgres"], c.Services["org"]
	bridges := []composeService{c.Services["ctibridge-a"], c.Services["ctibridge-b"]}

	t.Run("every service is health-checked", func(t *testing.T) {
		for name, s := range c.Services {
			require.NotNil(t, s.Healthcheck, name)
			require.Equal(t, "CMD", s.Healthcheck.Test[0], "%s: exec form, the image has no shell", name)
		}
		require.Equal(t, []string{"CMD", "pg_isready", "--username", "ctibridge", "--dbname", "ctibridge"}, pg.Healthcheck.Test)
	})

	t.Run("two replicas of the image, started when postgres and the org are healthy", func(t *testing.T) {
		var ports, hosts []string
		for _, b := range bridges {
			require.Equal(t, ".", b.Build)
			require.Equal(t, org.Image, b.Image, "the org runs the same image")
			require.Empty(t, b.Command, "the image's default command: run")
			require.Equal(t, []string{"CMD", "/usr/local/bin/ctibridge", "healthcheck"}, b.Healthcheck.Test)
			for _, dep := range []string{"postgres", "org"} {
				require.Equal(t, "service_healthy", b.DependsOn[dep].Condition, "depends on %s", dep)
			}
			require.True(t, b.hardened(), "read-only, no capabilities, no new privileges")
			require.Equal(t, "0.0.0.0:8080", b.Environment["CTIBRIDGE_LISTEN"])
			require.Len(t, b.Ports, 1)
			require.True(t, strings.HasSuffix(b.Ports[0], ":8080"), b.Ports[0])
			ports, hosts = append(ports, b.Ports[0]), append(hosts, b.Hostname)
		}
		require.NotEqual(t, ports[0], ports[1], "one host port each")
		require.NotEqual(t, hosts[0], hosts[1], "the host name names a replica's leases")
		require.NotEmpty(t, hosts[0])
	})

	t.Run("secrets are files, defined once", func(t *testing.T) {
		for name, s := range c.Services {
			for _, ref := range s.Secrets {
				require.Contains(t, c.Secrets, ref, "%s names the undefined secret %s", name, ref)
			}
			for k := range s.Environment {
				if secretName.MatchString(k) {
					require.True(t, strings.HasSuffix(k, "_FILE"), "%s: %s holds a secret in the environment", name, k)
				}
			}
		}
		for name, s := range c.Secrets {
			_, err := os.Stat(filepath.Join(root, s.File))
			require.NoError(t, err, "secret %s", name)
		}
		require.Equal(t, "/run/secrets/pg_password", pg.Environment["POSTGRES_PASSWORD_FILE"])
		require.Contains(t, pg.Secrets, "pg_password")
	})

	t.Run("the bridges' config loads and points at the org and postgres", func(t *testing.T) {
		b := bridges[0]
		configPath := b.Environment["CTIBRIDGE_CONFIG"]
		var source string
		for _, v := range b.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && parts[1] == configPath {
				source = parts[0]
			}
		}
		require.NotEmpty(t, source, "CTIBRIDGE_CONFIG=%s is mounted from a file", configPath)

		secrets := t.TempDir()
		for _, ref := range b.Secrets {
			copyFile(t, filepath.Join(root, c.Secrets[ref].File), filepath.Join(secrets, ref))
		}
		cfg := loadConfig(t, filepath.Join(root, source), "/run/secrets", secrets)
		require.Equal(t, config.DriverPostgres, cfg.Store.Driver)

		// The DSN reaches the postgres service with the password it was
		// given, as the user and database it made.
		dsn, err := url.Parse(cfg.Store.DSN.Reveal())
		require.NoError(t, err)
		require.Equal(t, "postgres:5432", dsn.Host)
		password, _ := dsn.User.Password()
		require.Equal(t, readSecret(t, filepath.Join(root, c.Secrets["pg_password"].File)), password)
		require.Equal(t, pg.Environment["POSTGRES_USER"], dsn.User.Username())
		require.Equal(t, "/"+pg.Environment["POSTGRES_DB"], dsn.Path)

		// The login URL is the org service on the port its sim listens on.
		require.Equal(t, "salesforce", cfg.CRM.Kind)
		login, err := url.Parse(cfg.CRM.Salesforce.LoginURL)
		require.NoError(t, err)
		require.Equal(t, "sim", org.Command[0])
		i := slices.Index(org.Command, "--listen")
		require.GreaterOrEqual(t, i, 0)
		require.Equal(t, "0.0.0.0:"+login.Port(), org.Command[i+1])
		require.Equal(t, "org", login.Hostname())
		require.Equal(t, []string{"CMD", "/usr/local/bin/ctibridge", "healthcheck", "--url",
			"http://127.0.0.1:" + login.Port() + "/services/data/"}, org.Healthcheck.Test)
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, data, 0o600))
}

func readSecret(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	return strings.TrimRight(string(data), "\r\n")
}

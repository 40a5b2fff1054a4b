package deploy

import (
	"bytes"
	"encoding/base64"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/ctibridge/ctibridge/config"
)

// The Kubernetes objects the chart makes, with the fields it sets, spelt
// as the API spells them: decoding a rendered object strictly into these
// makes a misspelt or misplaced field an error, as the API server's strict
// field validation would.
type (
	objectMeta struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	labelSelector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	podTemplate struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     podSpec    `yaml:"spec"`
	}
	podSpec struct {
		ServiceAccountName           string            `yaml:"serviceAccountName"`
		AutomountServiceAccountToken *bool             `yaml:"automountServiceAccountToken"`
		ImagePullSecrets             []map[string]any  `yaml:"imagePullSecrets"`
		PriorityClassName            string            `yaml:"priorityClassName"`
		SecurityContext              podSecurity       `yaml:"securityContext"`
		TerminationGracePeriodSecs   int               `yaml:"terminationGracePeriodSeconds"`
		Containers                   []container       `yaml:"containers"`
		Volumes                      []podVolume       `yaml:"volumes"`
		NodeSelector                 map[string]string `yaml:"nodeSelector"`
		Affinity                     map[string]any    `yaml:"affinity"`
		TopologySpreadConstraints    []map[string]any  `yaml:"topologySpreadConstraints"`
		Tolerations                  []map[string]any  `yaml:"tolerations"`
	}
	podSecurity struct {
		RunAsNonRoot   *bool  `yaml:"runAsNonRoot"`
		RunAsUser      *int64 `yaml:"runAsUser"`
		RunAsGroup     *int64 `yaml:"runAsGroup"`
		FSGroup        *int64 `yaml:"fsGroup"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	}
	container struct {
		Name            string `yaml:"name"`
		Image           string `yaml:"image"`
		ImagePullPolicy string `yaml:"imagePullPolicy"`
		Args            []string
		Env             []struct{ Name, Value string }
		Ports           []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
			Protocol      string `yaml:"protocol"`
		} `yaml:"ports"`
		StartupProbe    *probe            `yaml:"startupProbe"`
		LivenessProbe   *probe            `yaml:"livenessProbe"`
		ReadinessProbe  *probe            `yaml:"readinessProbe"`
		SecurityContext containerSecurity `yaml:"securityContext"`
		Resources       resources         `yaml:"resources"`
		VolumeMounts    []volumeMount     `yaml:"volumeMounts"`
		Extra           map[string]any    `yaml:",inline"`
	}
	probe struct {
		HTTPGet struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"`
		} `yaml:"httpGet"`
		PeriodSeconds    int `yaml:"periodSeconds"`
		TimeoutSeconds   int `yaml:"timeoutSeconds"`
		FailureThreshold int `yaml:"failureThreshold"`
	}
	containerSecurity struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Privileged               *bool `yaml:"privileged"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
	}
	resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	}
	volumeMount struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	}
	podVolume struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		Secret *struct {
			SecretName  string `yaml:"secretName"`
			DefaultMode int    `yaml:"defaultMode"`
		} `yaml:"secret"`
		EmptyDir *struct{} `yaml:"emptyDir"`
	}

	deployment struct {
		typeMeta `yaml:",inline"`
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			Replicas int           `yaml:"replicas"`
			Selector labelSelector `yaml:"selector"`
			Strategy struct {
				Type          string `yaml:"type"`
				RollingUpdate struct {
					MaxSurge       int `yaml:"maxSurge"`
					MaxUnavailable int `yaml:"maxUnavailable"`
				} `yaml:"rollingUpdate"`
			} `yaml:"strategy"`
			Template podTemplate `yaml:"template"`
		} `yaml:"spec"`
	}
	statefulSet struct {
		typeMeta `yaml:",inline"`
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			Replicas       int           `yaml:"replicas"`
			ServiceName    string        `yaml:"serviceName"`
			Selector       labelSelector `yaml:"selector"`
			UpdateStrategy struct {
				Type string `yaml:"type"`
			} `yaml:"updateStrategy"`
			Template             podTemplate `yaml:"template"`
			VolumeClaimTemplates []struct {
				Metadata objectMeta `yaml:"metadata"`
				Spec     struct {
					AccessModes      []string `yaml:"accessModes"`
					StorageClassName string   `yaml:"storageClassName"`
					Resources        struct {
						Requests map[string]string `yaml:"requests"`
					} `yaml:"resources"`
				} `yaml:"spec"`
			} `yaml:"volumeClaimTemplates"`
		} `yaml:"spec"`
	}
	service struct {
		typeMeta `yaml:",inline"`
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			Type      string            `yaml:"type"`
			ClusterIP string            `yaml:"clusterIP"`
			Selector  map[string]string `yaml:"selector"`
			Ports     []struct {
				Name       string `yaml:"name"`
				Port       int    `yaml:"port"`
				TargetPort string `yaml:"targetPort"`
				Protocol   string `yaml:"protocol"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	configMap struct {
		typeMeta `yaml:",inline"`
		Metadata objectMeta        `yaml:"metadata"`
		Data     map[string]string `yaml:"data"`
	}
	secret struct {
		typeMeta `yaml:",inline"`
		Metadata objectMeta        `yaml:"metadata"`
		Type     string            `yaml:"type"`
		Data     map[string]string `yaml:"data"`
	}
	serviceAccount struct {
		typeMeta                     `yaml:",inline"`
		Metadata                     objectMeta `yaml:"metadata"`
		AutomountServiceAccountToken *bool      `yaml:"automountServiceAccountToken"`
	}
	podDisruptionBudget struct {
		typeMeta `yaml:",inline"`
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			MaxUnavailable int           `yaml:"maxUnavailable"`
			Selector       labelSelector `yaml:"selector"`
		} `yaml:"spec"`
	}
	serviceMonitor struct {
		typeMeta `yaml:",inline"`
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			Selector  labelSelector `yaml:"selector"`
			Endpoints []struct {
				Port          string `yaml:"port"`
				Path          string `yaml:"path"`
				Interval      string `yaml:"interval"`
				ScrapeTimeout string `yaml:"scrapeTimeout"`
			} `yaml:"endpoints"`
		} `yaml:"spec"`
	}
	typeMeta struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
	}
)

// apiVersions are the API groups of the kinds the chart makes.
var apiVersions = map[string]string{
	"ConfigMap": "v1", "Secret": "v1", "Service": "v1", "ServiceAccount": "v1",
	"Deployment": "apps/v1", "StatefulSet": "apps/v1", "PodDisruptionBudget": "policy/v1",
	"ServiceMonitor": "monitoring.coreos.com/v1",
}

// dns1123 is the form of object names and label values the chart makes.
var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

const chartDir = root + "/deploy/helm/ctibridge"

// The value sets the tests render: what values.yaml's comments and
// docs/operations.md tell users to write.
const (
	sqliteValues = `
replicaCount: 4   # ignored: SQLite runs one replica
`
	postgresValues = `
store: {driver: postgres}
replicaCount: 3
secrets:
  values:
    dsn: postgres://ctibridge:pg-password-value@db.example:5432/ctibridge?sslmode=verify-full
    sf_client_secret: sf-secret-value
config:
  crm:
    kind: salesforce
    salesforce:
      login_url: https://example.my.salesforce.com
      api_version: "62.0"
      auth: client_credentials
      client_id: 3MVG9example.consumer.key
      client_secret_file: /run/secrets/ctibridge/sf_client_secret
  services: [{id: support, name: Support}]
  agents:
    - {id: alice, services: [support], token_sha256: 2dd7f9cfae4d6d0ec15d67da3f1152b5a7c3a68a8ae7a859aac365a5322422cc}
  mappings:
    - object: Case
      media: non-live
      service: support
      fields: {subject: {template: '{{.Subject}}'}}
      writeback: {owner: OwnerId}
serviceMonitor: {enabled: true, labels: {release: prometheus}}
service: {port: 9090}
`
	existingSecretValues = `
store: {driver: postgres, dsnKey: pg_dsn}
secrets: {existingSecret: ctibridge-credentials}
`
)

// manifests is a rendered chart: each object's YAML by kind, then name.
type manifests map[string]map[string][]byte

func (m manifests) kinds() []string {
	var out []string
	for kind, byName := range m {
		for range byName {
			out = append(out, kind)
		}
	}
	return out
}

// decode decodes an object strictly into its type.
func (m manifests) decode(t *testing.T, kind, name string, into any) {
	t.Helper()
	doc, ok := m[kind][name]
	require.True(t, ok, "no %s named %s among %v", kind, name, m.kinds())
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(into), "%s %s:\n%s", kind, name, doc)
}

// renderChart renders the chart as "helm template cti deploy/helm/ctibridge
// -f values" does, and checks what every object needs.
func renderChart(t *testing.T, values string) manifests {
	t.Helper()
	m, err := renderChartErr(t, values)
	require.NoError(t, err)
	return m
}

func renderChartErr(t *testing.T, values string) (manifests, error) {
	t.Helper()
	c := loadChart(t, chartDir)
	vals := map[string]any{}
	require.NoError(t, yaml.Unmarshal([]byte(values), &vals))
	files, err := c.render("cti", "contact-centre", vals)
	if err != nil {
		return nil, err
	}
	m := manifests{}
	for file, text := range files {
		if !strings.HasSuffix(file, ".yaml") {
			continue // NOTES.txt
		}
		for _, doc := range strings.Split(text, "\n---\n") {
			var head struct {
				typeMeta `yaml:",inline"`
				Metadata objectMeta `yaml:"metadata"`
			}
			require.NoError(t, yaml.Unmarshal([]byte(doc), &head), "%s is not YAML:\n%s", file, doc)
			if head.Kind == "" {
				require.Empty(t, strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")),
					"%s: an object without a kind", file)
				continue
			}
			name := head.Metadata.Name
			require.Equal(t, apiVersions[head.Kind], head.APIVersion, "%s: %s %s", file, head.Kind, name)
			require.Regexp(t, dns1123, name, "%s: %s name", file, head.Kind)
			require.LessOrEqual(t, len(name), 63, "%s: %s name", file, head.Kind)
			for _, l := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
				require.NotEmpty(t, head.Metadata.Labels[l], "%s: %s %s has no label %s", file, head.Kind, name, l)
			}
			if m[head.Kind] == nil {
				m[head.Kind] = map[string][]byte{}
			}
			require.NotContains(t, m[head.Kind], name, "two %s named %s", head.Kind, name)
			m[head.Kind][name] = []byte(doc)
		}
	}
	return m, nil
}

func TestChartMetadata(t *testing.T) {
	c := loadChart(t, chartDir)
	require.Equal(t, "v2", c.Meta.APIVersion)
	require.Equal(t, filepath.Base(chartDir), c.Meta.Name, "the chart's name is its directory's")
	require.Regexp(t, `^\d+\.\d+\.\d+$`, c.Meta.Version)
	require.NotEmpty(t, c.Meta.AppVersion)
	require.Equal(t, "application", c.Meta.Type)
	require.Contains(t, c.Files, "ctibridge/templates/NOTES.txt")
	notes, err := c.render("cti", "contact-centre", nil)
	require.NoError(t, err)
	require.Contains(t, notes["ctibridge/templates/NOTES.txt"], "http://cti-ctibridge.contact-centre.svc:8080/")
}

func TestChartSQLite(t *testing.T) {
	m := renderChart(t, sqliteValues)
	require.ElementsMatch(t, []string{"ConfigMap", "Service", "Service", "ServiceAccount", "StatefulSet"}, m.kinds())
	var sts statefulSet
	m.decode(t, "StatefulSet", "cti-ctibridge", &sts)
	require.Equal(t, 1, sts.Spec.Replicas, "SQLite has one writer")
	require.Equal(t, "cti-ctibridge-headless", sts.Spec.ServiceName)
	var headless service
	m.decode(t, "Service", sts.Spec.ServiceName, &headless)
	require.Equal(t, "None", headless.Spec.ClusterIP)
	require.Equal(t, sts.Spec.Selector.MatchLabels, headless.Spec.Selector)

	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	claim := sts.Spec.VolumeClaimTemplates[0]
	require.Equal(t, "data", claim.Metadata.Name)
	require.Equal(t, "1Gi", claim.Spec.Resources.Requests["storage"])
	require.Equal(t, []string{"ReadWriteOnce"}, claim.Spec.AccessModes)
	pod := checkPod(t, m, sts.Spec.Selector, sts.Spec.Template, 8080)
	require.Equal(t, "/var/lib/ctibridge", mountPath(t, pod.Containers[0], "data"))
	require.NotContains(t, volumeNames(pod), "secrets", "no secret to mount")

	cfg := chartConfig(t, m, pod)
	require.Equal(t, config.DriverSQLite, cfg.Store.Driver)
	require.Equal(t, "/var/lib/ctibridge/ctibridge.db", cfg.Store.DSN.Reveal(), "the database on the volume")
	require.Equal(t, "sim", cfg.CRM.Kind)
}

func TestChartPostgres(t *testing.T) {
	m := renderChart(t, postgresValues)
	require.ElementsMatch(t, []string{"ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service",
		"ServiceAccount", "ServiceMonitor"}, m.kinds())
	var dep deployment
	m.decode(t, "Deployment", "cti-ctibridge", &dep)
	require.Equal(t, 3, dep.Spec.Replicas)
	require.Equal(t, 0, dep.Spec.Strategy.RollingUpdate.MaxUnavailable, "a rollout keeps every replica serving")
	pod := checkPod(t, m, dep.Spec.Selector, dep.Spec.Template, 9090)

	var s secret
	m.decode(t, "Secret", "cti-ctibridge-secrets", &s)
	vol := volume(t, pod, "secrets")
	require.Equal(t, s.Metadata.Name, vol.Secret.SecretName)
	require.Equal(t, 0o440, vol.Secret.DefaultMode, "readable by the pod's group only")
	require.Equal(t, "/run/secrets/ctibridge", mountPath(t, pod.Containers[0], "secrets"))
	require.NotEmpty(t, dep.Spec.Template.Metadata.Annotations["checksum/secrets"], "a changed secret rolls the pods")

	cfg := chartConfig(t, m, pod)
	require.Equal(t, config.DriverPostgres, cfg.Store.Driver)
	require.Equal(t, "postgres://ctibridge:pg-password-value@db.example:5432/ctibridge?sslmode=verify-full", cfg.Store.DSN.Reveal())
	require.Equal(t, "sf-secret-value", cfg.CRM.Salesforce.ClientSecret.Reveal())
	for kind, byName := range m {
		for name, doc := range byName {
			for _, value := range []string{"pg-password-value", "sf-secret-value"} {
				require.NotContains(t, string(doc), value, "%s %s holds a secret in clear", kind, name)
			}
		}
	}

	var pdb podDisruptionBudget
	m.decode(t, "PodDisruptionBudget", "cti-ctibridge", &pdb)
	require.Equal(t, dep.Spec.Selector, pdb.Spec.Selector)
	require.Equal(t, 1, pdb.Spec.MaxUnavailable)

	var sm serviceMonitor
	m.decode(t, "ServiceMonitor", "cti-ctibridge", &sm)
	require.Equal(t, "prometheus", sm.Metadata.Labels["release"])
	var svc service
	m.decode(t, "Service", "cti-ctibridge", &svc)
	require.NotEmpty(t, sm.Spec.Selector.MatchLabels)
	for k, v := range sm.Spec.Selector.MatchLabels {
		require.Equal(t, v, svc.Metadata.Labels[k], "the ServiceMonitor selects the Service")
	}
	require.Len(t, sm.Spec.Endpoints, 1)
	require.Equal(t, "http", sm.Spec.Endpoints[0].Port)
	require.Equal(t, "/metrics", sm.Spec.Endpoints[0].Path)
}

func TestChartExistingSecret(t *testing.T) {
	m := renderChart(t, existingSecretValues)
	require.NotContains(t, m.kinds(), "Secret", "the chart makes no Secret when one is named")
	var dep deployment
	m.decode(t, "Deployment", "cti-ctibridge", &dep)
	require.Equal(t, 2, dep.Spec.Replicas)
	pod := checkPod(t, m, dep.Spec.Selector, dep.Spec.Template, 8080)
	require.Equal(t, "ctibridge-credentials", volume(t, pod, "secrets").Secret.SecretName)
	require.Empty(t, dep.Spec.Template.Metadata.Annotations["checksum/secrets"], "the chart cannot see an existing Secret")

	var cm configMap
	m.decode(t, "ConfigMap", "cti-ctibridge", &cm)
	var cfg struct{ Store map[string]string }
	require.NoError(t, yaml.Unmarshal([]byte(cm.Data["ctibridge.yaml"]), &cfg))
	require.Equal(t, map[string]string{"driver": "postgres", "dsn_file": "/run/secrets/ctibridge/pg_dsn"}, cfg.Store)
}

// TestChartRefuses: values that cannot work fail the render with a
// message naming the value to change.
func TestChartRefuses(t *testing.T) {
	for _, tc := range []struct{ name, values, want string }{
		{"an unknown driver", `store: {driver: mysql}`, `store.driver: "mysql" is neither postgres nor sqlite`},
		{"postgres without its dsn", `store: {driver: postgres}`,
			`store.driver postgres needs its connection string: set secrets.existingSecret (a Secret with the key "dsn") or secrets.values.dsn`},
		{"postgres with the dsn under another key", `{store: {driver: postgres}, secrets: {values: {pg: x}}}`,
			`needs its connection string`},
		{"a store in the config", `config: {store: {driver: sqlite}}`, `config.store: the chart writes the store`},
		{"a listen address in the config", `config: {listen: "0.0.0.0:80"}`, `config.listen: the chart sets the listen address from service.port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderChartErr(t, tc.values)
			require.ErrorIs(t, err, errFail)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// checkPod checks what every ctibridge pod needs, and returns its spec.
func checkPod(t *testing.T, m manifests, selector labelSelector, tmpl podTemplate, port int) podSpec {
	t.Helper()
	for k, v := range selector.MatchLabels {
		require.Equal(t, v, tmpl.Metadata.Labels[k], "the selector selects the pods")
	}
	pod := tmpl.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	require.Empty(t, c.Extra, "fields this test does not know")
	require.Equal(t, "ctibridge:0.1.0", c.Image, "the chart's appVersion by default")
	require.Len(t, c.Ports, 1)
	require.Equal(t, "http", c.Ports[0].Name)
	require.Equal(t, port, c.Ports[0].ContainerPort)
	require.Contains(t, c.Env, struct{ Name, Value string }{"CTIBRIDGE_LISTEN", "0.0.0.0:" + strconv.Itoa(port)})
	require.Equal(t, "run", c.Args[0])

	for name, p := range map[string]*probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		require.NotNil(t, p, "no %s probe", name)
		require.Equal(t, "http", p.HTTPGet.Port, "%s probe", name)
		require.Positive(t, p.PeriodSeconds, "%s probe", name)
		require.Positive(t, p.FailureThreshold, "%s probe", name)
	}
	require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path, "liveness: the process serves HTTP")
	require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path, "readiness: this replica can serve agents")
	require.Equal(t, "/healthz", c.StartupProbe.HTTPGet.Path)

	require.True(t, *pod.SecurityContext.RunAsNonRoot)
	require.Positive(t, *pod.SecurityContext.RunAsUser)
	require.Equal(t, "RuntimeDefault", pod.SecurityContext.SeccompProfile.Type)
	sc := c.SecurityContext
	require.True(t, *sc.ReadOnlyRootFilesystem)
	require.False(t, *sc.AllowPrivilegeEscalation)
	require.False(t, *sc.Privileged)
	require.Equal(t, []string{"ALL"}, sc.Capabilities.Drop)
	require.Empty(t, sc.Capabilities.Add)
	require.False(t, *pod.AutomountServiceAccountToken, "ctibridge calls no Kubernetes API")
	require.NotEmpty(t, c.Resources.Requests["cpu"])
	require.NotEmpty(t, c.Resources.Requests["memory"])
	require.NotEmpty(t, c.Resources.Limits["memory"])
	require.Equal(t, "/tmp", mountPath(t, c, "tmp"), "a writable /tmp on a read-only root")
	require.NotNil(t, volume(t, pod, "tmp").EmptyDir)

	var svc service
	m.decode(t, "Service", "cti-ctibridge", &svc)
	require.Equal(t, selector.MatchLabels, svc.Spec.Selector, "the Service selects the pods")
	require.Equal(t, port, svc.Spec.Ports[0].Port)
	require.Equal(t, "http", svc.Spec.Ports[0].TargetPort)

	var sa serviceAccount
	m.decode(t, "ServiceAccount", pod.ServiceAccountName, &sa)
	require.False(t, *sa.AutomountServiceAccountToken)
	require.NotEmpty(t, tmpl.Metadata.Annotations["checksum/config"], "a changed config rolls the pods")
	return pod
}

// chartConfig loads the config file the pod reads, as ctibridge does, with
// the pod's secret files: written from the rendered Secret to a temp dir
// that takes the place of the mount.
func chartConfig(t *testing.T, m manifests, pod podSpec) *config.Config {
	t.Helper()
	c := pod.Containers[0]
	i := slices.Index(c.Args, "--config")
	require.GreaterOrEqual(t, i, 0, "run --config FILE")
	file := c.Args[i+1]
	var cm configMap
	m.decode(t, "ConfigMap", volume(t, pod, "config").ConfigMap.Name, &cm)
	require.Equal(t, path.Dir(file), mountPath(t, c, "config"))
	text, ok := cm.Data[path.Base(file)]
	require.True(t, ok, "the ConfigMap has no key %s", path.Base(file))

	dir := t.TempDir()
	if slices.Contains(volumeNames(pod), "secrets") {
		var s secret
		m.decode(t, "Secret", volume(t, pod, "secrets").Secret.SecretName, &s)
		require.Equal(t, "Opaque", s.Type)
		for k, v := range s.Data {
			data, err := base64.StdEncoding.DecodeString(v)
			require.NoError(t, err, "Secret data %s", k)
			require.NoError(t, os.WriteFile(filepath.Join(dir, k), data, 0o600))
		}
		text = strings.ReplaceAll(text, mountPath(t, c, "secrets")+"/", dir+"/")
	}
	name := filepath.Join(dir, "ctibridge.yaml")
	require.NoError(t, os.WriteFile(name, []byte(text), 0o600))
	cfg, err := config.Load(name)
	require.NoError(t, err, "the rendered config:\n%s", text)
	return cfg
}

func volume(t *testing.T, pod podSpec, name string) podVolume {
	t.Helper()
	i := slices.IndexFunc(pod.Volumes, func(v podVolume) bool { return v.Name == name })
	require.GreaterOrEqual(t, i, 0, "no volume %s", name)
	return pod.Volumes[i]
}

func volumeNames(pod podSpec) []string {
	var out []string
	for _, v := range pod.Volumes {
		out = append(out, v.Name)
	}
	return out
}

func mountPath(t *testing.T, c container, name string) string {
	t.Helper()
	i := slices.IndexFunc(c.VolumeMounts, func(m volumeMount) bool { return m.Name == name })
	require.GreaterOrEqual(t, i, 0, "no mount of %s", name)
	return c.VolumeMounts[i].MountPath
}

package deploy

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"text/template"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// This file renders the Helm chart as "helm template" does, for the part
// of Helm the chart uses: Go templates over .Values (the chart's
// values.yaml under the user's), .Release, .Chart and .Template, with the
// functions below, named and behaving as Helm's (Sprig's) do. Helm's own
// engine would do it exactly, but its module brings Kubernetes' client
// libraries: a test of it took 610s to build from a clean module cache on
// the 2-core CI machine (8m20s with the modules already downloaded), over
// the budget for one test. Checked once against Helm v4.3.2's engine: the
// same objects for ten value sets (the tests' and more), the same refusals;
// only the YAML style of toYaml differs (yaml.v3 indents lists), hence the
// checksums. A function the chart starts to use and this file lacks fails
// the parse ("function X not defined"): add it here, as Sprig defines it.

// chartMeta is Chart.yaml, strictly.
type chartMeta struct {
	APIVersion  string   `yaml:"apiVersion"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Type        string   `yaml:"type"`
	Version     string   `yaml:"version"`
	AppVersion  string   `yaml:"appVersion"`
	Home        string   `yaml:"home"`
	Keywords    []string `yaml:"keywords"`
}

// chart is a loaded chart: its metadata, default values and templates.
type chart struct {
	Dir    string
	Meta   chartMeta
	Values map[string]any
	Files  map[string]string // template name (ctibridge/templates/x.yaml) -> text
}

func loadChart(t *testing.T, dir string) chart {
	t.Helper()
	c := chart{Dir: dir, Files: map[string]string{}}
	decodeStrict(t, filepath.Join(dir, "Chart.yaml"), &c.Meta)
	data, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &c.Values))
	entries, err := os.ReadDir(filepath.Join(dir, "templates"))
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, "templates", e.Name()))
		require.NoError(t, err)
		c.Files[path.Join(c.Meta.Name, "templates", e.Name())] = string(data)
	}
	return c
}

func decodeStrict(t *testing.T, name string, into any) {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(into), name)
}

// render renders the chart for a release named release in namespace with
// the user's values on top of the chart's, and returns each rendered
// file's text by template name (partials, whose names start with _, are
// left out, as Helm does).
func (c chart) render(release, namespace string, values map[string]any) (map[string]string, error) {
	vals := coalesce(deepCopy(c.Values).(map[string]any), values)
	top := map[string]any{
		"Values":  vals,
		"Release": map[string]any{"Name": release, "Namespace": namespace, "Service": "Helm", "IsInstall": true, "Revision": 1},
		"Chart":   map[string]any{"Name": c.Meta.Name, "Version": c.Meta.Version, "AppVersion": c.Meta.AppVersion},
	}
	root := template.New("chart")
	funcs := helmFuncs(root)
	var names []string
	for name, text := range c.Files {
		if _, err := root.New(name).Funcs(funcs).Option("missingkey=zero").Parse(text); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	out := map[string]string{}
	for _, name := range names {
		if strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		data := map[string]any{"Template": map[string]any{"Name": name, "BasePath": path.Join(c.Meta.Name, "templates")}}
		for k, v := range top {
			data[k] = v
		}
		var b strings.Builder
		if err := root.ExecuteTemplate(&b, name, data); err != nil {
			return nil, err
		}
		out[name] = strings.ReplaceAll(b.String(), "<no value>", "")
	}
	return out, nil
}

// coalesce puts the user's values over the chart's: maps merge key by key,
// anything else replaces; a null removes the chart's key (Helm's rules).
func coalesce(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]any)
		dm, dok := dst[k].(map[string]any)
		if sok && dok {
			dst[k] = coalesce(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// errFail is what the chart's fail calls return.
var errFail = errors.New("fail")

// helmFuncs are the functions of Helm's templates that the chart uses.
func helmFuncs(root *template.Template) template.FuncMap {
	return template.FuncMap{
		"include": func(name string, data any) (string, error) {
			var b strings.Builder
			err := root.ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
		"toYaml": func(v any) string {
			var b strings.Builder
			enc := yaml.NewEncoder(&b)
			enc.SetIndent(2)
			if err := enc.Encode(v); err != nil {
				return "" // as Helm's toYaml does
			}
			return strings.TrimSuffix(b.String(), "\n")
		},
		"nindent": func(n int, s string) string { return "\n" + indent(n, s) },
		"indent":  indent,
		"default": func(d any, given ...any) any {
			if len(given) == 0 || empty(given[0]) {
				return d
			}
			return given[0]
		},
		"trunc": func(n int, s string) string {
			if len(s) > n {
				return s[:n]
			}
			return s
		},
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"contains":   func(substr, s string) bool { return strings.Contains(s, substr) },
		"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
		"quote": func(vs ...any) string {
			var out []string
			for _, v := range vs {
				if v != nil {
					out = append(out, fmt.Sprintf("%q", fmt.Sprint(v)))
				}
			}
			return strings.Join(out, " ")
		},
		"list": func(vs ...any) []any { return vs },
		"has": func(needle any, list []any) bool {
			for _, v := range list {
				if reflect.DeepEqual(v, needle) {
					return true
				}
			}
			return false
		},
		"dict": func(kv ...any) map[string]any {
			d := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				d[fmt.Sprint(kv[i])] = kv[i+1]
			}
			return d
		},
		"set":    func(d map[string]any, k string, v any) map[string]any { d[k] = v; return d },
		"hasKey": func(d map[string]any, k string) bool { _, ok := d[k]; return ok },
		// merge: the first map wins; maps inside merge key by key.
		"merge": func(dst map[string]any, srcs ...map[string]any) map[string]any {
			for _, src := range srcs {
				mergeInto(dst, src)
			}
			return dst
		},
		"deepCopy":  deepCopy,
		"fail":      func(msg string) (string, error) { return "", fmt.Errorf("%w: %s", errFail, msg) },
		"sha256sum": func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) },
		"b64enc":    func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"toString":  func(v any) string { return fmt.Sprint(v) },
		"int": func(v any) int {
			switch n := v.(type) {
			case int:
				return n
			case float64:
				return int(n)
			}
			var n int
			fmt.Sscan(fmt.Sprint(v), &n)
			return n
		},
	}
}

func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

// empty is Sprig's notion: the zero value, an empty string, map or list.
func empty(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.String, reflect.Map, reflect.Slice, reflect.Array:
		return r.Len() == 0
	}
	return r.IsZero()
}

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		dv, ok := dst[k]
		if !ok {
			dst[k] = deepCopy(v)
			continue
		}
		dm, dok := dv.(map[string]any)
		sm, sok := v.(map[string]any)
		if dok && sok {
			mergeInto(dm, sm)
		}
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			out[k] = deepCopy(v)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			out[i] = deepCopy(v)
		}
		return out
	}
	return v
}

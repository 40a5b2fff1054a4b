package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
)

// TestDefaultsAreTheEnginesAndTheAPIs checks the defaults the engine and
// the HTTP API apply when a caller leaves a setting zero against the
// config's: an empty file runs them as documented. (cmd/ctibridge checks
// the whole of adapter.Settings made from Default.)
func TestDefaultsAreTheEnginesAndTheAPIs(t *testing.T) {
	cfg := Default()
	require.Equal(t, API{RateLimit: float64(api.DefaultRateLimit), RateBurst: api.DefaultRateBurst,
		Heartbeat: Duration(api.DefaultHeartbeat), MaxStreams: api.DefaultMaxStreams, MaxReplay: api.DefaultMaxReplay,
		MaxBodyBytes: api.DefaultMaxBodyBytes, MaxNoteBytes: api.DefaultMaxNoteBytes,
		AuthFailureRate: float64(api.DefaultAuthFailureRate), AuthFailureBurst: api.DefaultAuthFailureBurst}, cfg.API)
	require.Equal(t, Retention{Events: Duration(adapter.DefaultEventRetention), Audit: Duration(adapter.DefaultAuditRetention),
		Interval: Duration(adapter.DefaultRetentionInterval)}, cfg.Retention)
	require.Equal(t, Duration(adapter.DefaultPollInterval), cfg.CRM.PollInterval)
	require.Equal(t, Duration(adapter.DefaultReclaimAfter), cfg.CRM.ReclaimAfter)
	require.Equal(t, Duration(adapter.DefaultBatchMaxAge), cfg.CRM.BatchMaxAge)

	engine := adapter.Defaults()
	require.Equal(t, engine.AutoAccept, cfg.Routing.AutoAccept)
	require.Equal(t, engine.WrapUp, engineDurations(cfg.Timeouts.WrapUp))
	require.Equal(t, engine.Inactivity, engineDurations(cfg.Timeouts.Inactivity))
	require.Equal(t, engine.Matrix, cfg.Matrix())

	withAgent, err := Parse("c.yaml", []byte("services: [{id: s}]\nagents: [{id: a, services: [s]}]\n"))
	require.NoError(t, err)
	require.Equal(t, adapter.DefaultCapacity(), withAgent.Agents[0].Capacity)
}

func engineDurations(in map[contactpad.Media]Duration) map[contactpad.Media]time.Duration {
	out := map[contactpad.Media]time.Duration{}
	for m, d := range in {
		out[m] = time.Duration(d)
	}
	return out
}

// TestDefaultsTable checks the default column of docs/configuration.md
// against Default: every key with a default has a row that shows it, and
// no row shows a default the config does not have.
func TestDefaultsTable(t *testing.T) {
	want := defaultTexts(reflect.ValueOf(*Default()), "")
	want["agents[].capacity"] = mediaMap(reflect.ValueOf(adapter.DefaultCapacity()))
	documented := documentedDefaults(t, "../docs/configuration.md")
	for key, text := range want {
		got, ok := documented[key]
		if !assertTrue(t, ok, "docs/configuration.md has no row for %s (default %s)", key, text) {
			continue
		}
		require.Equal(t, text, got, "default of %s", key)
	}
	for key, text := range documented {
		_, ok := want[key]
		require.True(t, ok, "docs/configuration.md shows default %s for %s, which has none", text, key)
	}
}

func assertTrue(t *testing.T, ok bool, format string, args ...any) bool {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
	return ok
}

// defaultTexts renders the defaults held in v, a Config or a part of it,
// as the docs write them, by the key's path: scalars and maps; lists
// (which have no default) and empty strings (none) are left out.
func defaultTexts(v reflect.Value, path string) map[string]string {
	out := map[string]string{}
	switch v.Type() {
	case reflect.TypeFor[Duration]():
		out[path] = shortDuration(time.Duration(v.Int()))
		return out
	case reflect.TypeFor[Secret]():
		if s := v.Interface().(Secret); !s.IsZero() {
			out[path] = s.Reveal()
		}
		return out
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			key := name
			if path != "" {
				key = path + "." + name
			}
			for k, text := range defaultTexts(v.Field(i), key) {
				out[k] = text
			}
		}
	case reflect.Map:
		if v.Len() > 0 {
			out[path] = mediaMap(v)
		}
	case reflect.String:
		if v.String() != "" {
			out[path] = v.String()
		}
	case reflect.Bool:
		out[path] = strconv.FormatBool(v.Bool())
	case reflect.Int:
		out[path] = strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		out[path] = strconv.FormatFloat(v.Float(), 'f', -1, 64)
	}
	return out
}

// mediaMap renders a map by media type in flow style, in the order of
// contactpad.Medias: {live: 1, semi-live: 3, non-live: 5}.
func mediaMap(v reflect.Value) string {
	var parts []string
	for _, m := range contactpad.Medias {
		e := v.MapIndex(reflect.ValueOf(m).Convert(v.Type().Key()))
		if !e.IsValid() {
			continue
		}
		text := fmt.Sprint(e.Interface())
		if d, ok := e.Interface().(Duration); ok {
			text = shortDuration(time.Duration(d))
		}
		parts = append(parts, fmt.Sprintf("%s: %s", m, text))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// shortDuration writes a duration as the docs do: 10m, 24h, 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

var (
	// heading matches "### `key`" and "#### `key`".
	heading = regexp.MustCompile("^#{3,4} `([^`]+)`")
	// firstCode is the first `code` of a cell.
	firstCode = regexp.MustCompile("^`([^`]+)`")
)

// documentedDefaults reads the tables of the Keys section whose header
// is "| key | type | default | ..." or "| type | default |": by key, the
// default a row shows as `code` at the start of its default cell ("none",
// "required" and "the `id`" show none). Keys of a "#### `x.y`" table are
// relative to x.y; a "| type | default |" table is the heading's key.
func documentedDefaults(t *testing.T, name string) map[string]string {
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	cells := func(line string) []string {
		c := strings.Split(strings.Trim(line, "|"), "|")
		for i := range c {
			c[i] = strings.TrimSpace(c[i])
		}
		return c
	}
	out := map[string]string{}
	in, section, table := false, "", ""
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Keys"
			continue
		case !in:
			continue
		}
		if m := heading.FindStringSubmatch(line); m != nil {
			section = m[1]
			continue
		}
		if !strings.HasPrefix(line, "|") {
			table = ""
			continue
		}
		row := cells(line)
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "|---") {
			// A header row names the table's columns.
			table = strings.Join(row, "|")
			continue
		}
		var key, def string
		switch {
		case strings.HasPrefix(table, "key|type|default|") && len(row) >= 3:
			key, def = strings.Trim(row[0], "`"), row[2]
			if !strings.Contains(key, ".") {
				key = section + "." + key
			}
		case table == "type|default" && len(row) == 2:
			key, def = section, row[1]
		default:
			continue
		}
		if m := firstCode.FindStringSubmatch(def); m != nil {
			out[key] = strings.Trim(m[1], `"`)
		}
	}
	require.NotEmpty(t, out, "no defaults found in %s", name)
	return out
}

package sqlstore

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/contactpad"
)

// TestListJSON holds the list and capacity encoders to json.Marshal's
// bytes, and their readers to json.Unmarshal: over what the encoders
// write, and over JSON they must leave to json.Unmarshal (or read alike).
func TestListJSON(t *testing.T) {
	strs := []string{"", "svc-agent0001", "vip", "<b>", "né", `q"uote`, "back\\slash", "tab\t", "\xff"}
	rng := rand.New(rand.NewPCG(17, 3))
	for n := range 2000 {
		ss := make([]string, rng.IntN(4)+1)
		for k := range ss {
			ss[k] = strs[rng.IntN(len(strs))]
		}
		want, err := json.Marshal(ss)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendStringsJSON(nil, ss)), "list %d", n)
		requireReadsLikeJSON(t, string(want))

		c := contactpad.Capacity{}
		for range rng.IntN(4) {
			c[contactpad.Media(strs[rng.IntN(len(strs))])] = rng.IntN(2_000_000_001) - 1_000_000_000
		}
		want, err = json.Marshal(c)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendCapacityJSON(nil, c)), "capacity %d", n)
		requireReadsLikeJSON(t, string(want))
	}
	for _, s := range []string{`[]`, `{}`, `null`, ``, `[`, `{`, `[,]`, `{,}`, `["a",]`, `{"a":1,}`, `["a" ,"b"]`,
		`[ "a"]`, `{"a": 1}`, `{"a":01}`, `{"a":1.0}`, `{"a":1e2}`, `{"a":-}`, `{"a":-0}`, `{"a":1,"a":2}`,
		`{"a":1234567890}`, `{"a":99999999999999999999}`, `{"a":"1"}`, `{"a":null}`, `{"\u0061":1}`,
		`["\u0061"]`, `["a"]x`, `{"a"1}`, `{"a":1"b":2}`, `["a""b"]`, `[1]`, `[null]`, `{"a":1}}`} {
		requireReadsLikeJSON(t, s)
	}
}

// requireReadsLikeJSON checks that the readers, when they take s, read
// what json.Unmarshal reads from it.
func requireReadsLikeJSON(t *testing.T, s string) {
	t.Helper()
	if got, ok := parseStringsJSON(s); ok {
		var want []string
		require.NoError(t, json.Unmarshal([]byte(s), &want), "%s", s)
		require.Equal(t, want, got, "%s", s)
	}
	got := contactpad.Capacity{"kept": 7}
	if parseCapacityJSON(s, got) {
		want := contactpad.Capacity{"kept": 7}
		require.NoError(t, json.Unmarshal([]byte(s), &want), "%s", s)
		require.Equal(t, want, got, "%s", s)
	} else {
		require.Equal(t, contactpad.Capacity{"kept": 7}, got, "%s: a capacity not read is left alone", s)
	}
}

// BenchmarkCapacityJSON compares reading an agent's capacity column with
// json.Unmarshal and with parseCapacityJSON.
func BenchmarkCapacityJSON(b *testing.B) {
	const s = `{"live":1,"non_live":5,"semi_live":3}`
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			c := contactpad.Capacity{}
			if err := json.Unmarshal([]byte(s), &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parseCapacityJSON", func(b *testing.B) {
		for b.Loop() {
			if !parseCapacityJSON(s, contactpad.Capacity{}) {
				b.Fatal("not read")
			}
		}
	})
}

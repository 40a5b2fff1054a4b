package yamlpos

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func lines(l ...string) []byte { return []byte(strings.Join(l, "\n") + "\n") }

// parse walks data from its root and fails the test on a syntax error.
func parse(t *testing.T, data []byte) (*Walker, Node) {
	t.Helper()
	w := NewWalker("f.yaml")
	root, ok := w.Parse(data)
	require.True(t, ok, "%v", w.Err())
	return w, root
}

// get follows keys and list indexes (as decimal strings) from n.
func get(t *testing.T, w *Walker, n Node, keys ...string) Node {
	t.Helper()
	path := ""
	for _, k := range keys {
		n = w.Resolve(n, path)
		require.False(t, n.IsZero(), path)
		if n.Kind() == yaml.SequenceNode {
			var i int
			_, err := fmt.Sscan(k, &i)
			require.NoError(t, err)
			n, path = n.Items()[i], Index(path, i)
			continue
		}
		entries, ok := w.Entries(n, path)
		require.True(t, ok, path)
		found := false
		for _, e := range entries {
			if e.Name == k {
				n, path, found = e.Value, Join(path, k), true
			}
		}
		require.True(t, found, "no %s in %s", k, path)
	}
	return w.Resolve(n, path)
}

func TestLineRule(t *testing.T) {
	w, root := parse(t, lines(
		"base: &base",               // 1
		"  a: 1",                    // 2
		"  text: |",                 // 3
		"    one",                   // 4
		"    two",                   // 5
		"  inner: &inner {b: 2}",    // 6
		"use: *base",                // 7
		"merged:",                   // 8
		"  <<: *base",               // 9
		"  own: 3",                  // 10
		"list: [*inner, {c: 4}]",    // 11
		"outer: &outer {x: *inner}", // 12
		"again: *outer",             // 13
	))
	for _, tc := range []struct {
		name       string
		keys       []string
		line       int
		valueLine  int
		secondLine int // TextLine(2)
	}{
		{"the anchored value itself", []string{"base", "a"}, 2, 2, 2},
		{"a block scalar keeps its lines", []string{"base", "text"}, 3, 4, 5},
		{"through an alias: the alias's line", []string{"use", "a"}, 7, 7, 7},
		{"a block scalar through an alias", []string{"use", "text"}, 7, 7, 7},
		{"through a merge key: the merge key's line", []string{"merged", "a"}, 9, 9, 9},
		{"an own key beside a merge key", []string{"merged", "own"}, 10, 10, 10},
		{"an alias in a list", []string{"list", "0", "b"}, 11, 11, 11},
		{"an alias inside an anchor", []string{"outer", "x", "b"}, 12, 12, 12},
		{"nested aliases: the first from the top", []string{"again", "x", "b"}, 13, 13, 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := get(t, w, root, tc.keys...)
			require.Equal(t, tc.line, n.Line(), "Line")
			require.Equal(t, tc.valueLine, n.ValueLine(), "ValueLine")
			require.Equal(t, tc.secondLine, n.TextLine(2), "TextLine(2)")
		})
	}
	require.NoError(t, w.Err())
}

func TestEntries(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  []byte
		names []string
		err   string
	}{
		{name: "own keys override merged ones, earlier merges win",
			data:  lines("a: &a {x: 1, y: 1}", "b: &b {y: 2, z: 2}", "m: {<<: [*a, *b], x: 3}"),
			names: []string{"x", "y", "z"}},
		{name: "duplicate key", data: lines("m:", "  x: 1", "  x: 2"),
			names: []string{"x"}, err: "f.yaml:3: m.x: duplicate key (first at line 2)"},
		{name: "key that is no name", data: lines("m:", "  [1]: 1", "  y: 2"),
			names: []string{"y"}, err: "f.yaml:2: m: want a key name, got a list"},
		{name: "merge of a scalar", data: lines("m: {<<: 1, y: 2}"),
			names: []string{"y"}, err: "f.yaml:1: m: want a mapping or a list of mappings to merge, got a number"},
		{name: "merge of a list of scalars", data: lines("a: &a 1", "m: {<<: [*a], y: 2}"),
			names: []string{"y"}, err: "f.yaml:2: m: want a mapping to merge, got a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, root := parse(t, tc.data)
			m := get(t, w, root, "m")
			entries, ok := w.Entries(m, "m")
			require.True(t, ok)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name)
			}
			require.Equal(t, tc.names, names)
			if tc.err == "" {
				require.NoError(t, w.Err())
				return
			}
			require.EqualError(t, w.Err(), tc.err)
		})
	}
	w, root := parse(t, lines("m: [1]"))
	_, ok := w.Entries(get(t, w, root, "m"), "m")
	require.False(t, ok)
	require.EqualError(t, w.Err(), "f.yaml:1: m: want a mapping, got a list")
	require.True(t, w.Failed("m.x"), "a failed path fails its children")
	require.False(t, w.Failed("n"))
}

// walkAll resolves every node under n, as a decoder would.
func walkAll(w *Walker, n Node, path string) {
	if n = w.Resolve(n, path); n.IsZero() {
		return
	}
	switch n.Kind() {
	case yaml.SequenceNode:
		for i, item := range n.Items() {
			walkAll(w, item, Index(path, i))
		}
	case yaml.MappingNode:
		entries, _ := w.Entries(n, path)
		for _, e := range entries {
			walkAll(w, e.Value, Join(path, e.Name))
		}
	}
}

func TestBudget(t *testing.T) {
	// Each level names the one before ten times: 10^8 nodes in 400 bytes.
	l := []string{"l0: &l0 [x, x, x, x, x, x, x, x, x, x]"}
	for i := 1; i <= 7; i++ {
		prev := fmt.Sprintf("*l%d", i-1)
		l = append(l, fmt.Sprintf("l%d: &l%d [%s]", i, i, strings.TrimSuffix(strings.Repeat(prev+", ", 10), ", ")))
	}
	w, root := parse(t, lines(l...))
	walkAll(w, root, "")
	require.Len(t, w.Errors(), 1, "reported once")
	require.Contains(t, w.Err().Error(), fmt.Sprintf("file expands to more than %d nodes (aliases?)", NodeBudget))
	require.True(t, w.Resolve(root, "").IsZero(), "nothing more once the budget is spent")

	// Merge keys spend the budget too: each level merges the one before
	// ten times (10^7 merges). A smaller budget keeps the test quick.
	l = []string{"s0: &s0 {k: 1}"}
	for i := 1; i <= 7; i++ {
		prev := fmt.Sprintf("*s%d", i-1)
		l = append(l, fmt.Sprintf("s%d: &s%d {<<: [%s]}", i, i, strings.TrimSuffix(strings.Repeat(prev+", ", 10), ", ")))
	}
	w, root = parse(t, lines(l...))
	w.budget = 10_000
	walkAll(w, root, "")
	require.Len(t, w.Errors(), 1, "reported once")
	require.ErrorContains(t, w.Err(), "f.yaml:5: s4: file expands to more than")

	// Merge keys nested deeper than MaxAliasDepth.
	l = []string{"m0: &m0 {k: 1}"}
	for i := 1; i <= MaxAliasDepth+1; i++ {
		l = append(l, fmt.Sprintf("m%d: &m%d {<<: *m%d}", i, i, i-1))
	}
	w, root = parse(t, lines(l...))
	walkAll(w, root, "")
	require.ErrorContains(t, w.Err(), "merge keys nest too deep")
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, data, err string
		empty           bool
	}{
		{name: "empty", data: "", empty: true},
		{name: "only a comment", data: "# nothing\n", empty: true},
		{name: "two documents", data: "a: 1\n---\nb: 2\n", err: "f.yaml:2: want one YAML document, found another"},
		{name: "syntax", data: "a: [1, 2\nb: 3\n", err: "f.yaml:2: invalid YAML: did not find expected ',' or ']'"},
		{name: "unknown anchor", data: "a: *x\n", err: "f.yaml: invalid YAML: unknown anchor 'x' referenced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWalker("f.yaml")
			root, ok := w.Parse([]byte(tc.data))
			if tc.err != "" {
				require.False(t, ok)
				require.EqualError(t, w.Err(), tc.err)
				return
			}
			require.True(t, ok)
			require.NoError(t, w.Err())
			require.Equal(t, tc.empty, root.IsZero())
		})
	}
}

// TestKeep checks that a Node kept by one decoder (config keeps the
// mappings) and walked again by another reports the same lines, and that
// it marshals and unmarshals as the YAML it holds.
func TestKeep(t *testing.T) {
	w, root := parse(t, lines("a: &a {x: 1}", "b: [*a]"))
	kept := w.Resolve(get(t, w, root, "b").Items()[0], "b[0]")
	again := NewWalker("f.yaml")
	x, ok := again.Entries(kept, "b[0]")
	require.True(t, ok)
	require.Equal(t, 2, x[0].Value.Line(), "the later walk keeps the alias's line")

	out, err := yaml.Marshal(struct{ K []Node }{[]Node{kept, {}}})
	require.NoError(t, err)
	require.Equal(t, "k:\n    - &a {x: 1}\n    - null\n", string(out))
	var back struct{ K []Node }
	require.NoError(t, yaml.Unmarshal([]byte("k: [{x: 1}]\n"), &back))
	require.Equal(t, yaml.MappingNode, back.K[0].Kind())
	require.Equal(t, 1, back.K[0].Line())
}

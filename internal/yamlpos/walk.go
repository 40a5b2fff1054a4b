package yamlpos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

const (
	// NodeBudget is the most nodes one Walker resolves. Aliases let a
	// small file name the same nodes again and again (a "billion laughs"
	// file expands to 10^9 nodes in a few hundred bytes); a real config
	// is a few thousand nodes.
	NodeBudget = 1 << 20
	// MaxAliasDepth bounds chains of aliases and nested merge keys.
	MaxAliasDepth = 64
)

// Node is a node of a file's YAML tree as a Walker reached it, with the
// line where a problem in it is reported.
//
// The rule for that line: a node reached through an alias (*name, or a
// merge key <<: *name) is reported at the line of the alias, the first
// one on the way from the top of the file, not at the anchor (&name)
// where its text is. The path of the error already names the place that
// uses the value (agents[2].capacity), the line then points at the same
// place, and an error that depends on that place (a duplicate ID, a field
// the mapping's object lacks) is reported where that place is. A problem
// in the anchored text itself is also reported at the anchor, when the
// walk passes there.
//
// The zero Node is no node. A Node is kept as is, and walked again
// later, where a decoder leaves part of a file to another package (config
// keeps the mappings for package mapping), so both report the same lines.
type Node struct {
	node *yaml.Node
	// alias is the line of the alias the walk came through, 0 if none.
	alias int
}

// IsZero reports whether n is no node.
func (n Node) IsZero() bool { return n.node == nil }

// Kind is the node's kind: scalar, mapping, sequence or alias (before
// Walker.Resolve).
func (n Node) Kind() yaml.Kind { return n.node.Kind }

// Value is a scalar's text.
func (n Node) Value() string { return n.node.Value }

// ShortTag is the node's tag in short form, e.g. "!!int".
func (n Node) ShortTag() string { return n.node.ShortTag() }

// Decode decodes the node into v with yaml.v3.
func (n Node) Decode(v any) error { return n.node.Decode(v) }

// IsNull reports whether n is an explicit null.
func (n Node) IsNull() bool { return IsNull(n.node) }

// Describe names the kind of the node without its value; see Describe.
func (n Node) Describe() string { return Describe(n.node) }

// Line is where to report a problem with the node: its own line, or the
// alias's (see Node).
func (n Node) Line() int {
	if n.alias != 0 {
		return n.alias
	}
	return n.node.Line
}

// ValueLine is where the text of a scalar starts: a block scalar's text
// (| or >) starts on the line below its indicator. Through an alias it is
// Line.
func (n Node) ValueLine() int {
	if n.alias == 0 && n.node.Kind == yaml.ScalarNode && n.node.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.node.Line + 1
	}
	return n.Line()
}

// TextLine is the line of line inner (1-based) of a scalar's text: exact
// for a literal block scalar, which keeps its lines, else ValueLine.
func (n Node) TextLine(inner int) int {
	if n.alias == 0 && n.node.Style&yaml.LiteralStyle != 0 && inner > 1 {
		return n.ValueLine() + inner - 1
	}
	return n.ValueLine()
}

// Items are the nodes of a list, reached the way the list was.
func (n Node) Items() []Node {
	items := make([]Node, len(n.node.Content))
	for i, c := range n.node.Content {
		items[i] = Node{node: c, alias: n.alias}
	}
	return items
}

// MarshalYAML returns the node as it is in the file, for yaml.v3.
func (n Node) MarshalYAML() (any, error) {
	if n.node == nil {
		return nil, nil
	}
	return n.node, nil
}

// UnmarshalYAML keeps value, for yaml.v3. A decoder that keeps a Node for
// a later walk keeps the one its own walk reached instead, which knows the
// alias that led there: yaml.v3 resolves aliases before it calls this.
func (n *Node) UnmarshalYAML(value *yaml.Node) error {
	*n = Node{node: value}
	return nil
}

// Entry is one key of a mapping and its value.
type Entry struct {
	Name       string
	Key, Value Node
}

// Walker walks the YAML tree of one file for a decoder: it reads the
// file, follows aliases and merge keys within NodeBudget, and collects
// every problem with its line (see Node). It is not safe for concurrent
// use.
type Walker struct {
	file   string
	errs   Errors
	failed map[string]bool
	budget int
}

// NewWalker returns a walker whose errors name file.
func NewWalker(file string) *Walker {
	return &Walker{file: file, failed: map[string]bool{}, budget: NodeBudget}
}

// Errorf records a problem at line.
func (w *Walker) Errorf(line int, path, format string, args ...any) {
	w.errs = append(w.errs, &Error{File: w.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Fail records a problem with node n and marks path as failed, so that a
// later check of the decoded value does not report a second, confusing
// problem there (see Failed).
func (w *Walker) Fail(n Node, path, format string, args ...any) {
	w.failed[path] = true
	w.Errorf(n.Line(), path, format, args...)
}

// Failed reports whether Fail marked path or one of its parents.
func (w *Walker) Failed(path string) bool {
	for ; path != ""; path = Parent(path) {
		if w.failed[path] {
			return true
		}
	}
	return false
}

// Errors returns the problems found so far, in the order found.
func (w *Walker) Errors() Errors { return w.errs }

// Err returns the problems found so far sorted by line, or nil.
func (w *Walker) Err() error { return w.errs.Err() }

// Parent strips the last key or index from a path.
func Parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// Parse reads data, which must hold at most one YAML document, and
// returns its root: the zero Node for an empty file. ok is false, and the
// problem recorded, when data is not one YAML document.
func (w *Walker) Parse(data []byte) (root Node, ok bool) {
	defer func() {
		// yaml.v3 has panicked on malformed input before; a loader must
		// report, not crash.
		if r := recover(); r != nil {
			w.Errorf(0, "", "invalid YAML: %v", r)
			root, ok = Node{}, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Node{}, true
		}
		w.syntax(err)
		return Node{}, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		w.Errorf(next.Line, "", "want one YAML document, found another")
		return Node{}, false
	case !errors.Is(err, io.EOF):
		w.syntax(err)
		return Node{}, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return Node{}, true
	}
	return Node{node: doc.Content[0]}, true
}

// syntax records a yaml.v3 syntax error with its line.
func (w *Walker) syntax(err error) {
	line, msg := Syntax(err)
	w.Errorf(line, "", "%s", msg)
}

// Resolve follows aliases to the node they name and counts it against
// the budget. It returns the zero Node when there is none, when aliases
// nest too deep or when the budget is spent (each reported once).
func (w *Walker) Resolve(n Node, path string) Node {
	if n.IsZero() {
		return n
	}
	for depth := 0; n.node.Kind == yaml.AliasNode; depth++ {
		if depth == MaxAliasDepth {
			w.Fail(n, path, "aliases nest too deep")
			return Node{}
		}
		if n.node.Alias == nil {
			// yaml.v3 refuses an alias to an unknown anchor; a node
			// built by hand may still have none.
			return Node{}
		}
		if n.alias == 0 {
			n.alias = n.node.Line
		}
		n.node = n.node.Alias
	}
	w.budget--
	if w.budget == 0 {
		w.Fail(n, path, "file expands to more than %d nodes (aliases?)", NodeBudget)
	}
	if w.budget <= 0 {
		return Node{}
	}
	return n
}

// Entries lists the entries of mapping node n (resolving it first), with
// the entries its merge keys (<<: *base) bring after them unless a key of
// its own overrides them. It reports keys that are not names, and
// duplicate keys (which it leaves out). ok is false when n is no node or
// not a mapping.
func (w *Walker) Entries(n Node, path string) (entries []Entry, ok bool) {
	if n = w.Resolve(n, path); n.IsZero() {
		return nil, false
	}
	if n.Kind() != yaml.MappingNode {
		w.Fail(n, path, "want a mapping, got %s", n.Describe())
		return nil, false
	}
	seen := map[string]Node{}
	for _, e := range w.pairs(n, path, 0) {
		if e.Key.Kind() != yaml.ScalarNode {
			w.Errorf(e.Key.Line(), path, "want a key name, got %s", e.Key.Describe())
			continue
		}
		e.Name = e.Key.Value()
		if first, dup := seen[e.Name]; dup {
			w.Fail(e.Key, Join(path, e.Name), "duplicate key (first at line %d)", first.Line())
			continue
		}
		seen[e.Name] = e.Key
		entries = append(entries, e)
	}
	return entries, true
}

// pairs lists a mapping's own entries, then those its merge keys bring
// that it does not override.
func (w *Walker) pairs(n Node, path string, depth int) []Entry {
	var own, merged []Entry
	for i := 0; i+1 < len(n.node.Content); i += 2 {
		k := Node{node: n.node.Content[i], alias: n.alias}
		v := Node{node: n.node.Content[i+1], alias: n.alias}
		if k.Kind() == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, w.mergePairs(v, path, depth+1)...)
			continue
		}
		own = append(own, Entry{Key: k, Value: v})
	}
	if len(merged) == 0 {
		return own
	}
	have := map[string]bool{}
	for _, e := range own {
		have[e.Key.Value()] = true
	}
	for _, e := range merged {
		if !have[e.Key.Value()] {
			have[e.Key.Value()] = true
			own = append(own, e)
		}
	}
	return own
}

// mergePairs lists the entries a merge key's value brings: one mapping or
// a list of mappings, earlier ones first.
func (w *Walker) mergePairs(v Node, path string, depth int) []Entry {
	if depth > MaxAliasDepth {
		w.Errorf(v.Line(), path, "merge keys nest too deep")
		return nil
	}
	if v = w.Resolve(v, path); v.IsZero() {
		return nil
	}
	switch v.Kind() {
	case yaml.MappingNode:
		return w.pairs(v, path, depth)
	case yaml.SequenceNode:
		var out []Entry
		for _, item := range v.Items() {
			if item = w.Resolve(item, path); item.IsZero() {
				continue
			}
			if item.Kind() != yaml.MappingNode {
				w.Errorf(item.Line(), path, "want a mapping to merge, got %s", item.Describe())
				continue
			}
			out = append(out, w.pairs(item, path, depth)...)
		}
		return out
	}
	w.Errorf(v.Line(), path, "want a mapping or a list of mappings to merge, got %s", v.Describe())
	return nil
}

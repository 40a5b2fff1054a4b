// Package yamlpos is what the packages that read people's YAML (config,
// mapping) share: one Walker over the node tree (aliases, merge keys, a
// node budget against alias bombs, and one rule for the line of a problem,
// see Node), errors that say where in the file a problem is, and the node
// helpers that keep those messages uniform.
package yamlpos

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a file: where it is and what is wrong. Its
// message never quotes a value, which may be a secret in the wrong place.
type Error struct {
	// File is the file name the caller gave.
	File string
	// Line is the 1-based line of the offending key or value, or 0 when the
	// problem has no place in the file.
	Line int
	// Path names the key, e.g. "agents[1].services[0]"; empty for the whole file.
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as "FILE:LINE: PATH: MSG", leaving out the parts
// that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, ordered by line. Like the
// result of errors.Join it prints one problem a line and unwraps to each
// *Error, so errors.As finds both the list and its first entry.
type Errors []*Error

// Error returns the problems, one a line.
func (errs Errors) Error() string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns each problem as an error, for errors.Is and errors.As.
func (errs Errors) Unwrap() []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return out
}

// Err returns errs sorted by line, or nil when there are none, so that a
// nil Errors never hides in a non-nil error.
func (errs Errors) Err() error {
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return errs
}

// IsNull reports whether n is an explicit null.
func IsNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// Describe names the kind of a node for "want X, got Y" messages, without
// its value.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "nothing"
	}
	return "a string"
}

// Join appends a key to a path: a.b for plain keys, a["x y"] for others.
func Join(path, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			plain = false
			break
		}
	}
	switch {
	case !plain && path == "":
		return strconv.Quote(key)
	case !plain:
		return fmt.Sprintf("%s[%q]", path, key)
	case path == "":
		return key
	}
	return path + "." + key
}

// Index appends a list index to a path.
func Index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// yamlLine matches the position yaml.v3 puts in its syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Syntax reads a yaml.v3 syntax error: the 1-based line it is on (0 when
// yaml.v3 gives none) and the message "invalid YAML: ...".
func Syntax(err error) (line int, msg string) {
	text := err.Error()
	if m := yamlLine.FindStringSubmatch(text); m != nil {
		line, _ = strconv.Atoi(m[1])
		if isParserProblem(m[2]) {
			// yaml.v3 counts the lines of parser (not scanner) errors from 0.
			line++
		}
		return line, "invalid YAML: " + m[2]
	}
	return 0, "invalid YAML: " + strings.TrimPrefix(text, "yaml: ")
}

// isParserProblem reports whether a yaml.v3 message comes from its parser
// rather than its scanner (yaml.v3 parserc.go).
func isParserProblem(msg string) bool {
	return strings.HasPrefix(msg, "did not find expected ") ||
		strings.HasPrefix(msg, "found duplicate %") ||
		msg == "found incompatible YAML document" ||
		msg == "found undefined tag handle"
}

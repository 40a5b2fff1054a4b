package mapping

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a mapping: where it is and what is wrong. Parse
// and CheckFields return them in an Errors.
type Error struct {
	// File is the file name given to Parse or ParseFile.
	File string
	// Line is the 1-based line of the offending key or value, or 0 when the
	// problem has no place in the file.
	Line int
	// Path names the key, e.g. "mappings[0].media[1].when".
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as "FILE:LINE: PATH: MSG", like package config,
// leaving out the parts that are unknown.
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

// Errors is every problem found at once, ordered by line. Like the result
// of errors.Join it prints one problem a line and unwraps to each *Error.
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

// err returns errs sorted by line, or nil when there are none, so that a
// nil Errors never hides in a non-nil error.
func (errs Errors) err() error {
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return errs
}

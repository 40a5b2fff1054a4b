package config

import (
	"fmt"
	"strings"
)

// Error is one problem found in a config file: where it is and what is wrong.
// Its message never contains the value of a secret.
type Error struct {
	// File is the file name given to Parse or Load.
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

// ValidationErrors is every problem found in one config file, ordered by
// line. It is what Parse and Load return when the file is not valid; like
// the result of errors.Join, it prints one problem a line and unwraps to
// each *Error, so errors.As finds both the list and its first entry.
type ValidationErrors []*Error

// Error returns the problems, one a line.
func (errs ValidationErrors) Error() string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns each problem as an error, for errors.Is and errors.As.
func (errs ValidationErrors) Unwrap() []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return out
}

package config

import "github.com/ctibridge/ctibridge/internal/yamlpos"

// Error is one problem found in a config file: where it is and what is
// wrong, printed "FILE:LINE: PATH: MSG". Its message never contains the
// value of a secret.
type Error = yamlpos.Error

// ValidationErrors is every problem found in one config file, ordered by
// line. It is what Parse and Load return when the file is not valid; like
// the result of errors.Join, it prints one problem a line and unwraps to
// each *Error, so errors.As finds both the list and its first entry.
type ValidationErrors = yamlpos.Errors

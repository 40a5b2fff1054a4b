package mapping

import "github.com/ctibridge/ctibridge/internal/yamlpos"

// Error is one problem in a mapping: where it is and what is wrong,
// printed "FILE:LINE: PATH: MSG" like package config. Parse and CheckFields
// return them in an Errors.
type Error = yamlpos.Error

// Errors is every problem found at once, ordered by line. Like the result
// of errors.Join it prints one problem a line and unwraps to each *Error.
type Errors = yamlpos.Errors

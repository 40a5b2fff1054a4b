package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/config"
)

// TestProblems: a list of a file's problems is logged a line each; any
// other list is one problem told whole, with what wraps it.
func TestProblems(t *testing.T) {
	a := &config.Error{File: "c.yaml", Line: 1, Path: "a", Msg: "bad"}
	b := &config.Error{File: "c.yaml", Line: 2, Path: "b", Msg: "worse"}
	require.Equal(t, []error{a, b}, problems(fmt.Errorf("config refused: %w", errors.Join(a, b))))

	dial := fmt.Errorf("open store: failed to connect: %w", errors.Join(errors.New("host a: refused"), errors.New("host b: refused")))
	got := problems(dial)
	require.Len(t, got, 1)
	require.Equal(t, dial.Error(), got[0].Error(), "what failed is kept")
}

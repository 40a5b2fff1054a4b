package yamlpos

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  Error
		want string
	}{
		{"everything", Error{File: "c.yaml", Line: 3, Path: "agents[0].id", Msg: "required"}, "c.yaml:3: agents[0].id: required"},
		{"no line", Error{File: "c.yaml", Path: "listen", Msg: "bad"}, "c.yaml: listen: bad"},
		{"no file", Error{Line: 2, Msg: "bad"}, "line 2: bad"},
	} {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, tc.err.Error()) })
	}
	errs := Errors{{Line: 9, Msg: "b"}, {Line: 2, Msg: "a"}}
	err := errs.Err()
	require.EqualError(t, err, "line 2: a\nline 9: b", "sorted by line, one a line")
	var one *Error
	require.True(t, errors.As(err, &one))
	require.NoError(t, Errors(nil).Err())
}

func TestPaths(t *testing.T) {
	require.Equal(t, "a.b_c", Join("a", "b_c"))
	require.Equal(t, `a["x y"]`, Join("a", "x y"))
	require.Equal(t, `"x y"`, Join("", "x y"))
	require.Equal(t, "a[2]", Index("a", 2))
}

func TestSyntax(t *testing.T) {
	var v any
	err := yaml.Unmarshal([]byte("a: [1, 2\nb: 3\n"), &v)
	require.Error(t, err)
	line, msg := Syntax(err)
	require.Positive(t, line)
	require.Contains(t, msg, "invalid YAML: ")
	var n yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte("x: ~\ny: [1]\n"), &n))
	require.True(t, IsNull(n.Content[0].Content[1]))
	require.Equal(t, "a list", Describe(n.Content[0].Content[3]))
}

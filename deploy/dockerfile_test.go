package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Line int    // where it starts, for messages
	Cmd  string // upper case: FROM, RUN, ...
	Args string
}

// stage is a FROM and the instructions up to the next one.
type stage struct {
	Base, Name   string
	Instructions []instruction
}

// find returns the stage's instructions of kind cmd.
func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Instructions {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// dockerfile is a parsed Dockerfile: the ARGs before the first FROM, which
// FROM lines may use, and the stages.
type dockerfile struct {
	Args   map[string]string
	Stages []stage
}

var fromLine = regexp.MustCompile(`^(?i)(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$`)

// parseDockerfile reads the subset of the Dockerfile syntax that ours uses:
// comments, parser directives, backslash continuations, global ARGs.
func parseDockerfile(t *testing.T, name string) dockerfile {
	t.Helper()
	df := dockerfile{Args: map[string]string{}}
	var pending string
	start := 0
	for i, line := range readLines(t, name) {
		trimmed := strings.TrimSpace(line)
		if pending == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if pending != "" && strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		if pending == "" {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, `\`) {
			pending += strings.TrimSuffix(trimmed, `\`) + " "
			continue
		}
		text := pending + trimmed
		pending = ""
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{Line: start, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		switch {
		case in.Cmd == "FROM":
			m := fromLine.FindStringSubmatch(in.Args)
			require.NotNil(t, m, "%s:%d: FROM %s", name, in.Line, in.Args)
			df.Stages = append(df.Stages, stage{Base: os.Expand(m[1], func(k string) string { return df.Args[k] }), Name: m[2]})
		case len(df.Stages) == 0:
			require.Equal(t, "ARG", in.Cmd, "%s:%d: only ARG may come before FROM", name, in.Line)
			k, v, _ := strings.Cut(in.Args, "=")
			df.Args[k] = v
		default:
			s := &df.Stages[len(df.Stages)-1]
			s.Instructions = append(s.Instructions, in)
		}
	}
	require.Empty(t, pending, "%s ends in a continuation", name)
	return df
}

func TestDockerfile(t *testing.T) {
	name := filepath.Join(root, "Dockerfile")
	df := parseDockerfile(t, name)
	require.GreaterOrEqual(t, len(df.Stages), 2, "a multi-stage build")
	build, final := df.Stages[0], df.Stages[len(df.Stages)-1]

	t.Run("the build stage uses go.mod's Go", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(root, "go.mod"))
		require.NoError(t, err)
		m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(data)
		require.NotNil(t, m, "go.mod has no go line")
		require.Equal(t, "golang:"+string(m[1]), build.Base)
		require.NotEmpty(t, build.Name, "the build stage is named, for COPY --from")
	})

	t.Run("a static, trimmed, VCS-stamped binary", func(t *testing.T) {
		var goBuild string
		for _, in := range build.find("RUN") {
			if strings.Contains(in.Args, "go build") {
				goBuild = in.Args
			}
		}
		require.NotEmpty(t, goBuild, "no RUN go build in the build stage")
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-buildvcs=true", "./cmd/ctibridge"} {
			require.Contains(t, goBuild, want)
		}
	})

	t.Run("a distroless or scratch base as non-root", func(t *testing.T) {
		require.Regexp(t, `^(scratch|gcr\.io/distroless/static(-debian\d+)?:nonroot)$`, final.Base)
		users := final.find("USER")
		require.NotEmpty(t, users, "the final stage sets USER")
		user := users[len(users)-1].Args
		uid, _, _ := strings.Cut(user, ":")
		require.Regexp(t, `^[1-9][0-9]*$`, uid, "USER %s: a numeric non-root uid, which runAsNonRoot can check", user)
	})

	t.Run("only the binary and its data directory come from the build", func(t *testing.T) {
		for _, in := range append(final.find("COPY"), final.find("ADD")...) {
			require.Contains(t, in.Args, "--from="+build.Name, "line %d: %s %s copies from the build context", in.Line, in.Cmd, in.Args)
		}
		require.Len(t, final.find("RUN"), 0, "the final stage has no shell to RUN with")
	})

	t.Run("listens on 0.0.0.0:8080, config from CTIBRIDGE_CONFIG", func(t *testing.T) {
		env := map[string]string{}
		for _, in := range final.find("ENV") {
			for _, kv := range strings.Fields(in.Args) {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, "line %d: ENV %s: want KEY=value", in.Line, kv)
				env[k] = v
			}
		}
		require.Equal(t, "0.0.0.0:8080", env["CTIBRIDGE_LISTEN"])
		require.True(t, path.IsAbs(env["CTIBRIDGE_CONFIG"]), "CTIBRIDGE_CONFIG=%s", env["CTIBRIDGE_CONFIG"])
		require.Equal(t, []string{"8080"}, argsOf(final.find("EXPOSE")))
	})

	t.Run("runs ctibridge run, health-checked by ctibridge healthcheck", func(t *testing.T) {
		entry, cmd := final.find("ENTRYPOINT"), final.find("CMD")
		require.Len(t, entry, 1)
		require.Len(t, cmd, 1)
		argv := append(execForm(t, entry[0].Args), execForm(t, cmd[0].Args)...)
		require.Equal(t, []string{"/usr/local/bin/ctibridge", "run"}, argv)
		hc := final.find("HEALTHCHECK")
		require.Len(t, hc, 1)
		_, probe, ok := strings.Cut(hc[0].Args, "CMD ")
		require.True(t, ok, "HEALTHCHECK ... CMD [...]")
		require.Equal(t, []string{"/usr/local/bin/ctibridge", "healthcheck"}, execForm(t, probe))
	})

	t.Run("no secrets in the image's metadata", func(t *testing.T) {
		for k := range df.Args {
			require.NotRegexp(t, secretName, k, "global ARG %s", k)
		}
		for _, s := range df.Stages {
			for _, in := range s.Instructions {
				if in.Cmd == "ARG" || in.Cmd == "ENV" {
					for _, kv := range strings.Fields(in.Args) {
						k, _, _ := strings.Cut(kv, "=")
						require.NotRegexp(t, secretName, k, "line %d: %s %s", in.Line, in.Cmd, kv)
					}
				}
			}
		}
	})
}

func argsOf(ins []instruction) []string {
	var out []string
	for _, in := range ins {
		out = append(out, strings.Fields(in.Args)...)
	}
	return out
}

// TestDockerignore: the build context keeps what the binary is built from
// (the go command's view of cmd/ctibridge: its packages' Go and embedded
// files, go.mod, go.sum, and .git for the VCS stamp) and leaves out local
// databases and secrets.
func TestDockerignore(t *testing.T) {
	var patterns []string
	for _, line := range readLines(t, filepath.Join(root, ".dockerignore")) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			require.False(t, strings.HasPrefix(line, "!"), "exceptions (%s) are beyond this test's matcher", line)
			patterns = append(patterns, strings.TrimPrefix(line, "/"))
		}
	}

	needed := []string{"go.mod", "go.sum", ".git/HEAD"}
	out, err := exec.Command("go", "list", "-deps", "-json=Dir,Module,GoFiles,EmbedFiles", "../cmd/ctibridge").Output()
	require.NoError(t, err)
	top, err := filepath.Abs(root)
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			Dir                 string
			Module              *struct{ Main bool }
			GoFiles, EmbedFiles []string
		}
		require.NoError(t, dec.Decode(&p))
		if p.Module == nil || !p.Module.Main {
			continue
		}
		rel, err := filepath.Rel(top, p.Dir)
		require.NoError(t, err)
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	require.Greater(t, len(needed), 50, "go list found the daemon's files")
	for _, f := range needed {
		if p := ignoredBy(patterns, f); p != "" {
			t.Errorf(".dockerignore: %s leaves out %s, which the build needs", p, f)
		}
	}
	for _, f := range []string{"ctibridge.db", "adapter/store/sqlite/x.db-wal", ".env", "deploy/compose/.env", "keys/sf.key", "ctibridge"} {
		require.NotEmpty(t, ignoredBy(patterns, f), ".dockerignore lets %s into the build context", f)
	}
}

// ignoredBy returns the pattern that leaves name out of the build context,
// as Docker matches them: a pattern matches a path or any of its parent
// directories; "**/" matches any number of directories.
func ignoredBy(patterns []string, name string) string {
	parts := strings.Split(name, "/")
	for _, p := range patterns {
		for i := range parts {
			prefix := strings.Join(parts[:i+1], "/")
			if matchPattern(p, prefix) {
				return p
			}
		}
	}
	return ""
}

func matchPattern(pattern, name string) bool {
	if rest, ok := strings.CutPrefix(pattern, "**/"); ok {
		parts := strings.Split(name, "/")
		for i := range parts {
			if matchPattern(rest, strings.Join(parts[i:], "/")) {
				return true
			}
		}
		return false
	}
	ok, err := path.Match(pattern, name)
	if err != nil {
		panic(fmt.Sprintf("pattern %q: %v", pattern, err))
	}
	return ok
}

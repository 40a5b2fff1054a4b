package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// TestDemo runs the whole demo in a synctest bubble: its waits take no real
// time, and the story it tells is checked line by line.
func TestDemo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := demoInBubble(t, demoEnv{NewRecordsEvery: 5 * time.Second}) // the story takes about 15s; then new records arrive
		require.Contains(t, out.String(), "Ctrl-C stops it.")
		require.Contains(t, out.String(), "http://127.0.0.1:8080/api/v1")
		require.Regexp(t, `(?s)Ctrl-C stops it\..*interaction.created`, out.String(), "new records stream in after the story")
		for _, want := range []string{
			"refused (due_by_in_past)",
			"refused (action_not_allowed): action transfer is not allowed for semi-live interactions",
			`"Refund for order 1138" (non-live, billing) deferred owner=alice`,
			`"Refund for order 1138" (non-live, billing) connected owner=alice [auto_opened_due_to_due_date]`,
			"transfer.failed        warm transfer alice -> agent bob failed (timeout)",
			`"Password reset loop" (non-live, support) connected owner=bob`,
			`"Router keeps rebooting" (live, support) completed owner=alice`,
			"resumed            completed  -> connected  Interaction resumed by an agent",
			`"Invoice shows the old VAT rate" (non-live, billing) connected owner=carol`,
			`"Chat: Where is my parcel?" (semi-live, support) completed owner=alice`,
			`Case "Router keeps rebooting"         Status Closed    owner alice  Ctibridge_Status__c completed`,
			`Case "Password reset loop"            Status Working   owner bob`,
			`Case "Refund for order 1138"          Status Working   owner alice  Ctibridge_Status__c connected  resumed_from completed`,
			`Case "Invoice shows the old VAT rate" Status Escalated owner carol  Ctibridge_Status__c -`,
		} {
			require.Contains(t, out.String(), want)
		}
	})
}

// demoInBubble runs the demo in the test's synctest bubble on in-memory
// listeners of 127.0.0.1:8080 (the bridge) and :8090 (the org) for two
// minutes of the bubble's time, stops it, and returns what it printed.
func demoInBubble(t *testing.T, env demoEnv) *syncBuffer {
	t.Helper()
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	env.Listener, env.OrgListener, env.InProcess = newMemListener("127.0.0.1:8080"), newMemListener("127.0.0.1:8090"), true
	go func() { done <- demo(ctx, t.TempDir(), &out, env) }()
	time.Sleep(2 * time.Minute)
	synctest.Wait()
	cancel()
	require.NoError(t, <-done)
	return &out
}

// TestDemoWhilePeopleUseIt: someone defers the case the story is about to
// transfer (through the panel, as a newcomer would): the story skips the
// steps it can no longer take, goes on, and the bridge keeps serving.
func TestDemoWhilePeopleUseIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out syncBuffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		api, org := newMemListener("127.0.0.1:8080"), newMemListener("127.0.0.1:8090")
		meddled := make(chan error, 1)
		started := func(d *daemon) {
			go func() { meddled <- deferWhenConnected(ctx, d, "Password reset loop") }()
		}
		go func() {
			done <- demo(ctx, t.TempDir(), &out, demoEnv{Listener: api, OrgListener: org, InProcess: true,
				NewRecordsEvery: 5 * time.Second, Started: started})
		}()
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		require.NoError(t, <-meddled)
		cancel()
		require.NoError(t, <-done, "the demo keeps running until it is stopped")
		require.Contains(t, out.String(), "~ skipped: someone acted on this work meanwhile (invalid_transition")
		require.Contains(t, out.String(), `"Password reset loop" (non-live, support) deferred owner=alice`)
		require.Contains(t, out.String(), `Case "Router keeps rebooting"         Status Closed    owner alice`, "the story went on")
		require.Regexp(t, `(?s)Ctrl-C stops it\..*interaction.created`, out.String(), "and the bridge went on serving")
	})
}

// deferWhenConnected defers the interaction with subject for a day as soon
// as alice works it.
func deferWhenConnected(ctx context.Context, d *daemon, subject string) error {
	for {
		var found *contactpad.Interaction
		if err := d.store.View(ctx, func(tx adapter.Tx) error {
			all, err := tx.Interactions(adapter.InteractionFilter{Owner: "alice", Statuses: []contactpad.Status{contactpad.Connected}})
			for _, i := range all {
				if i.Subject == subject {
					found = i
				}
			}
			return err
		}); err != nil {
			return err
		}
		if found != nil {
			due := time.Now().Add(24 * time.Hour)
			_, err := d.engine.Apply(ctx, adapter.Defer{ID: found.ID, Agent: "alice", DueBy: &due})
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestValidate(t *testing.T) {
	unmapped := filepath.Join(t.TempDir(), "opportunity.json")
	require.NoError(t, os.WriteFile(unmapped, []byte(`{"attributes":{"type":"Opportunity"},"Id":"006x"}`), 0o600))
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("routng: {}\nagents:\n  - id: bob\n    services: [sales]\n"), 0o600))
	// A webhook secret too short to sign with, and one set twice.
	weak := filepath.Join(t.TempDir(), "weak.yaml")
	require.NoError(t, os.WriteFile(weak, []byte("webhooks:\n"+
		"  - {url: https://h.example/a, secret: a}\n"+
		"  - url: https://h.example/b\n"+
		"    secret: s3cr3t-of-more-than-24-bytes\n"+
		"    secrets: [s3cr3t-of-more-than-24-bytes]\n"), 0o600))
	// A mapping that routes to a service the config does not have.
	sample, err := os.ReadFile("../../testdata/config/ctibridge.yaml")
	require.NoError(t, err)
	typo := filepath.Join(t.TempDir(), "ctibridge.yaml")
	require.NoError(t, os.WriteFile(typo, bytes.Replace(sample, []byte("service: billing"), []byte("service: billng"), 1), 0o600))
	secret, err := os.ReadFile("../../testdata/config/webhook-secret.txt")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(typo), "webhook-secret.txt"), secret, 0o600))
	line := 1 + bytes.Count(sample[:bytes.Index(sample, []byte("service: billing"))], []byte("\n"))
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr []string
	}{
		{"a mapping's unknown service", []string{"validate", "--config", typo}, 1, "", []string{
			fmt.Sprintf(`%s:%d: mappings[0].service[0]: unknown service "billng" (not in services)`, typo, line-1)}},
		{"weak webhook secrets", []string{"validate", "--config", weak}, 1, "", []string{
			weak + ":2: webhooks[0].secret: too short: want at least 24 bytes of key (of a whsec_ secret, 24 once base64-decoded)",
			weak + ":5: webhooks[1].secrets: set secret or secrets, not both"}},
		{"valid", []string{"validate", "--config", "../../testdata/config/ctibridge.yaml"}, 0,
			"ctibridge.yaml: ok (3 agents, 2 services, 2 mappings, store sqlite, crm salesforce)", nil},
		{"mapping preview", []string{"mapping", "preview", "--config", "../../testdata/config/ctibridge.yaml",
			"--record", "../../testdata/salesforce/case-phone.json"}, 0, `"subject": "Router keeps rebooting (Maya Lindqvist)"`, nil},
		{"mapping preview of an unmapped object", []string{"mapping", "preview", "--config", "../../testdata/config/ctibridge.yaml",
			"--record", unmapped}, 1, "", []string{`no mapping for object "Opportunity"`}},
		{"every error with file:line", []string{"validate", "--config", bad}, 1, "", []string{
			bad + ":1: routng: unknown key",
			bad + `:4: agents[0].services[0]: agent bob names unknown service "sales"`}},
		{"no config", []string{"validate"}, 2, "", []string{"--config FILE is required"}},
		{"unknown command", []string{"serve"}, 2, "", []string{`unknown command "serve"`}},
		{"version", []string{"version"}, 0, "ctibridge dev", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			require.Equal(t, tc.code, run(tc.args, &out, &errs), errs.String())
			require.Contains(t, out.String(), tc.stdout)
			for _, want := range tc.stderr {
				require.Contains(t, errs.String(), want)
			}
			if tc.code == 0 {
				// git checks the shared secret file out with the umask's
				// mode, which may let others read it: validate says so.
				var rest []string
				for _, line := range strings.Split(strings.TrimSpace(errs.String()), "\n") {
					if !strings.HasPrefix(line, "warning: ../../testdata/config/ctibridge.yaml:") || !strings.Contains(line, "webhook-secret.txt is readable by") {
						rest = append(rest, line)
					}
				}
				require.Empty(t, strings.TrimSpace(strings.Join(rest, "\n")))
			}
			require.NotContains(t, errs.String(), "s3cr3t", "no secret in an error")
		})
	}
}

// jsonLog returns a logger writing JSON lines, as the daemon logs, into
// the buffer it also returns.
func jsonLog() (*logrus.Logger, *syncBuffer) {
	logs := &syncBuffer{}
	log := logrus.New()
	log.SetOutput(logs)
	log.SetFormatter(&logrus.JSONFormatter{})
	return log, logs
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// memListener is a net.Listener of in-memory connections (net.Pipe), for
// servers inside a synctest bubble, where sockets do not work.
type memListener struct {
	addr   memAddr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

func newMemListener(addr string) *memListener {
	return &memListener{addr: memAddr(addr), conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *memListener) Addr() net.Addr { return l.addr }

// TestDemoDataDirectory: --data names a directory for the demo's store,
// made if it is not there yet (the demo stops here before it opens the
// store: its context is done).
func TestDemoDataDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo", "data")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the demo stops as soon as it has started
	var stdout, stderr bytes.Buffer
	code := runDemo(ctx, []string{"--listen", "127.0.0.1:0", "--org-listen", "127.0.0.1:0", "--data", dir}, &stdout, &stderr)
	require.Zero(t, code, stderr.String())
	info, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "the store's directory is the operator's alone")
}

// TestUsageFlagsExist: every flag the usage names for a command is one
// the command takes (its --help lists it).
func TestUsageFlagsExist(t *testing.T) {
	for _, line := range strings.Split(usage, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "ctibridge ") {
			continue
		}
		// The command, then its flags, then (after two spaces or more)
		// the description, if on this line.
		var synopsis []string
		for k, part := range regexp.MustCompile(`\s{2,}`).Split(strings.TrimPrefix(line, "ctibridge "), -1) {
			if k > 0 && !strings.HasPrefix(part, "[") && !strings.HasPrefix(part, "--") {
				break
			}
			synopsis = append(synopsis, part)
		}
		var cmd, flags []string
		for _, word := range strings.Fields(strings.Join(synopsis, " ")) {
			word = strings.Trim(word, "[]")
			switch {
			case word == "--help": // "see --help": every command takes it
			case strings.HasPrefix(word, "--"):
				flags = append(flags, strings.TrimPrefix(word, "--"))
			case len(flags) == 0 && strings.ToLower(word) == word:
				cmd = append(cmd, word)
			}
		}
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			run(append(cmd, "--help"), &out, &errOut)
			help := out.String() + errOut.String()
			for _, f := range flags {
				require.Regexp(t, `(?m)^  -`+regexp.QuoteMeta(f)+`\b`, help, "ctibridge %s --help lists --%s", strings.Join(cmd, " "), f)
			}
		})
	}
}

// TestCommandsFlags: every command's --help prints its flags and exits 0;
// an argument it does not take is refused with exit 2, before it does
// anything.
func TestCommandsFlags(t *testing.T) {
	for _, cmd := range [][]string{{"run"}, {"demo"}, {"sim"}, {"validate"}, {"mapping", "preview"}, {"bench"}, {"healthcheck"}} {
		name := strings.Join(cmd, " ")
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			require.Equal(t, 0, run(append(slices.Clone(cmd), "--help"), &out, &errOut), "--help")
			require.Regexp(t, `(?m)^  -\w`, out.String()+errOut.String(), "the flags")

			errOut.Reset()
			require.Equal(t, 2, run(append(slices.Clone(cmd), "stray"), &out, &errOut), "a stray argument")
			require.Equal(t, name+": unexpected argument \"stray\"\n", errOut.String())
		})
	}
}

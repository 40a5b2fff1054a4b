package main

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
)

// TestDaemonReload: a reload (SIGHUP) applies agents, tokens and timeouts
// at once, and is refused whole, changing nothing, when the file is
// invalid, changes what only a restart can, or names a field the org lacks.
func TestDaemonReload(t *testing.T) {
	org := sim.New(sim.Options{})
	require.NoError(t, org.Seed(demoRecords()))
	orgSrv := httptest.NewServer(org)
	defer orgSrv.Close()
	log := logrus.New()
	log.SetOutput(io.Discard)
	cfg := scenarioConfig(t, orgSrv.URL, "http://127.0.0.1:9/hooks")
	original, err := os.ReadFile(cfg.File)
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
	require.NoError(t, err)
	c := &client{t: t, base: d.url()}
	c.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	write := func(yaml []byte) {
		require.NoError(t, os.WriteFile(cfg.File, yaml, 0o600))
	}
	edit := func(old, new string) []byte {
		require.Contains(t, string(original), old)
		return bytes.Replace(original, []byte(old), []byte(new), 1)
	}

	t.Run("an invalid file changes nothing", func(t *testing.T) {
		write(edit("poll_interval: 100ms", "poll_intervall: 100ms"))
		err := d.reload(ctx)
		require.ErrorContains(t, err, "ctibridge.yaml:")
		require.ErrorContains(t, err, "poll_intervall")
		status, _ := c.do("bob", "GET", "/api/v1/me", nil)
		require.Equal(t, 200, status)
	})

	t.Run("what only a restart applies", func(t *testing.T) {
		write(edit("listen: 127.0.0.1:0", "listen: 127.0.0.1:1"))
		require.ErrorContains(t, d.reload(ctx), "[listen] changed: only a restart applies them")
		write(append(slices.Clone(original), "\napi: {max_streams: 3}\n"...))
		require.ErrorContains(t, d.reload(ctx), "[api] changed: only a restart applies them")
		write(append(slices.Clone(original), "\nmetrics: {listen: 127.0.0.1:0}\n"...))
		require.ErrorContains(t, d.reload(ctx), "[metrics] changed: only a restart applies them")
	})

	t.Run("a field the org lacks", func(t *testing.T) {
		write(bytes.ReplaceAll(original, []byte("Ctibridge_Resumed_From__c"), []byte("Ctibridge_Nonexistent__c")))
		err := d.reload(ctx)
		require.ErrorContains(t, err, "Ctibridge_Nonexistent__c")
		require.ErrorContains(t, err, "nothing was reloaded")
	})

	t.Run("webhook secrets rotate", func(t *testing.T) {
		hook := "secret_file: hook-secret,"
		require.Equal(t, []string{hookSecret}, d.gen.Load().webhooks()[0].Secrets)

		write(edit(hook, hook+" secrets: [new-hook-secret-of-24-bytes],"))
		err := d.reload(ctx)
		require.ErrorContains(t, err, "ctibridge.yaml:20: webhooks[0].secrets: set secret or secrets, not both")
		require.Equal(t, []string{hookSecret}, d.gen.Load().webhooks()[0].Secrets, "nothing was reloaded")

		write(edit(hook, "secrets: [tiny-s3cr3t],"))
		err = d.reload(ctx)
		require.ErrorContains(t, err, "ctibridge.yaml:20: webhooks[0].secrets[0]: too short: want at least 24 bytes of key")
		require.NotContains(t, err.Error(), "s3cr3t", "the secret is not quoted")

		write(edit(hook, "secrets: [new-hook-secret-of-24-bytes, "+hookSecret+"],"))
		require.NoError(t, d.reload(ctx))
		require.Equal(t, []string{"new-hook-secret-of-24-bytes", hookSecret}, d.gen.Load().webhooks()[0].Secrets)
		require.Len(t, d.hooks.Load().Status(), 1)
	})

	t.Run("agents, tokens and timeouts", func(t *testing.T) {
		yaml := edit("  - {id: bob, name: Bob, crm_user_id: 005Sd0000000002IAA, services: [support], token_sha256: "+sha("tok-bob")+"}",
			"  - {id: carol, name: Carol, crm_user_id: 005Sd0000000003IAA, services: [billing], token_sha256: "+sha("tok-carol")+"}")
		yaml = bytes.Replace(yaml, []byte("transfer_accept: 1s"), []byte("transfer_accept: 7s"), 1)
		write(yaml)
		require.NoError(t, d.reload(ctx))

		status, _ := c.do("bob", "GET", "/api/v1/me", nil)
		require.Equal(t, 401, status, "bob's token no longer works")
		me := c.ok("carol", "GET", "/api/v1/me", nil)
		require.Equal(t, "Carol", me["name"])
		require.Equal(t, 7*time.Second, d.engine.Settings().TransferAccept)
		var bob *contactpad.Agent
		require.NoError(t, d.store.View(ctx, func(tx adapter.Tx) error {
			var err error
			bob, err = tx.Agent("bob")
			return err
		}))
		require.Equal(t, contactpad.LoggedOut, bob.Presence, "bob, no longer configured, is logged out")
		c.ok("carol", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
		eventually(t, "carol gets billing work, polled under the new config", func() bool {
			_, out := c.do("carol", "GET", "/api/v1/interactions", nil)
			return len(out["interactions"].([]any)) > 0
		})
	})
	stop()
	require.NoError(t, d.wait())
}

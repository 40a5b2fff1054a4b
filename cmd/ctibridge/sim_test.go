package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSim starts "ctibridge sim" on a free port with a fault flag and
// talks to it as any client would.
func TestSim(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan int)
	go func() {
		done <- runSim(ctx, []string{"--listen", "127.0.0.1:0", "--limit-next", "1"}, w, io.Discard)
		w.Close()
	}()
	first, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	go func() { _, _ = io.Copy(io.Discard, out) }()
	base := strings.TrimSpace(strings.TrimPrefix(first, "local Salesforce org at "))

	resp, err := http.PostForm(base+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {"ctibridge-local"}, "client_secret": {"local-secret"}})
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	query := func() (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+"/services/data/v62.0/query?q="+url.QueryEscape("SELECT COUNT() FROM Case"), nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	status, body := query()
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "REQUEST_LIMIT_EXCEEDED", "--limit-next 1")
	status, body = query()
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `"totalSize":18`, "the built-in seed's Cases")
	cancel()
	require.Equal(t, 0, <-done)
}

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/connectors/salesforce"
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

func TestSimWarnsWhenReachable(t *testing.T) {
	tests := []struct {
		name string
		addr net.Addr
		warn bool
	}{
		{name: "loopback", addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8090}},
		{name: "IPv6 loopback", addr: &net.TCPAddr{IP: net.IPv6loopback, Port: 8090}},
		{name: "every interface", addr: &net.TCPAddr{IP: net.IPv4zero, Port: 8090}, warn: true},
		{name: "a LAN address", addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 8090}, warn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			warnReachable(&out, tt.addr)
			if !tt.warn {
				require.Empty(t, out.String())
				return
			}
			require.Equal(t, "sim: warning: listening on "+tt.addr.String()+", which other hosts may reach; "+
				"the local org's credentials are public, so keep it on 127.0.0.1 unless they must\n", out.String())
		})
	}
}

// selfSigned returns an RSA key and the path of a self-signed PEM
// certificate of it, as an integration user's connected app has.
func selfSigned(t *testing.T) (*rsa.PrivateKey, string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ctibridge"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert := filepath.Join(t.TempDir(), "ctibridge.crt")
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return key, cert
}

// TestSimJWTCert checks that "ctibridge sim" accepts JWT bearer assertions
// signed by the key of --jwt-cert only, and none without it.
func TestSimJWTCert(t *testing.T) {
	key, cert := selfSigned(t)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})

	signIn := func(args ...string) error {
		ctx, cancel := context.WithCancel(context.Background())
		out, w := io.Pipe()
		done := make(chan int)
		go func() {
			done <- runSim(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), w, io.Discard)
			w.Close()
		}()
		first, err := bufio.NewReader(out).ReadString('\n')
		require.NoError(t, err)
		go func() { _, _ = io.Copy(io.Discard, out) }()
		defer func() { cancel(); <-done }()
		base := strings.TrimSpace(strings.TrimPrefix(first, "local Salesforce org at "))
		return salesforce.NewClient(salesforce.Config{LoginURL: base, Auth: salesforce.AuthJWT, ClientID: "ctibridge-local",
			Username: "admin@local.test", PrivateKey: pemKey}).SignIn(context.Background())
	}
	require.NoError(t, signIn("--jwt-cert", cert))
	err := signIn()
	require.ErrorContains(t, err, "the org has no certificate to verify it")

	var stderr strings.Builder
	require.Equal(t, 1, runSim(context.Background(), []string{"--jwt-cert", filepath.Join(t.TempDir(), "none.crt")}, io.Discard, &stderr))
	require.Contains(t, stderr.String(), "sim: --jwt-cert: open ")
}

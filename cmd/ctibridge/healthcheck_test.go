package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHealthcheck(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/readyz", r.URL.Path)
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer ready.Close()
	unready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"store":"connection refused"}` + "\n"))
	}))
	defer unready.Close()
	// An address nothing listens on: a listener closed at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String() + "/readyz"
	ln.Close()

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"ready", []string{"--url", ready.URL + "/readyz"}, 0, "GET " + ready.URL + "/readyz: 200 OK", ""},
		{"not ready: the reason", []string{"--url", unready.URL + "/readyz"}, 1, "",
			"healthcheck: GET " + unready.URL + `/readyz: 503 Service Unavailable {"store":"connection refused"}`},
		{"nothing listens", []string{"--url", closed}, 1, "", "connection refused"},
		{"a bad URL", []string{"--url", "://"}, 2, "", "healthcheck: --url: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			require.Equal(t, tc.code, run(append([]string{"healthcheck"}, tc.args...), &out, &errs), errs.String())
			require.Contains(t, out.String(), tc.stdout)
			require.Contains(t, errs.String(), tc.stderr)
		})
	}
}

func TestProbeURL(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"", "http://127.0.0.1:8080/readyz"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/readyz"},
		{":9000", "http://127.0.0.1:9000/readyz"},
		{"[::]:9000", "http://127.0.0.1:9000/readyz"},
		{"10.1.2.3:8443", "http://10.1.2.3:8443/readyz"},
		{"[fd00::1]:8080", "http://[fd00::1]:8080/readyz"},
		{"not an address", "http://127.0.0.1:8080/readyz"},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			require.Equal(t, tc.want, probeURL(tc.listen))
		})
	}
}

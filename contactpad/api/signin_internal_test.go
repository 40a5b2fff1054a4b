package api

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSessionCookieAttributes: the session cookie is HttpOnly on / always;
// Secure over https (TLS, or an https callback URL behind a proxy); and
// SameSite=None with Partitioned (CHIPS) only when the panel is framed by
// other origins over https, Lax otherwise (browsers refuse None without
// Secure).
func TestSessionCookieAttributes(t *testing.T) {
	tests := []struct {
		name        string
		framed, tls bool
		callback    string
		secure      bool
		sameSite    http.SameSite
		partitioned bool
	}{
		{"http, not framed", false, false, "", false, http.SameSiteLaxMode, false},
		{"http, framed", true, false, "", false, http.SameSiteLaxMode, false},
		{"https, not framed", false, true, "", true, http.SameSiteLaxMode, false},
		{"https, framed", true, true, "", true, http.SameSiteNoneMode, true},
		{"https proxy, framed", true, false, "https://cti.example.com" + CallbackPath, true, http.SameSiteNoneMode, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := &signin{o: SignInOptions{CallbackURL: tc.callback}, framed: tc.framed}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			c := g.sessionCookieOf(r, "v", 60)
			require.Equal(t, sessionCookie, c.Name)
			require.True(t, c.HttpOnly)
			require.Equal(t, "/", c.Path)
			require.Equal(t, tc.secure, c.Secure)
			require.Equal(t, tc.sameSite, c.SameSite)
			require.Equal(t, tc.partitioned, c.Partitioned)
		})
	}
}

// TestSameSalesforceID: 15- and 18-character ids of one record match;
// the 15 are case-sensitive; other lengths match nothing.
func TestSameSalesforceID(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"005Sd0000000001IAA", "005Sd0000000001IAA", true},
		{"005Sd0000000001", "005Sd0000000001IAA", true},
		{"005Sd0000000001IAA", "005Sd0000000001", true},
		{"005sd0000000001", "005Sd0000000001IAA", false},
		{"005Sd0000000002IAA", "005Sd0000000001IAA", false},
		{"", "", false},
		{"005Sd00000000", "005Sd00000000", false},
	} {
		require.Equal(t, tc.want, sameSalesforceID(tc.a, tc.b), "%q %q", tc.a, tc.b)
	}
}

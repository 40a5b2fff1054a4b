package webhook

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSignVerify(t *testing.T) {
	body := []byte(`{"id":7,"type":"interaction.created"}`)
	// The HMAC-SHA256 of body under "secret", computed independently
	// (printf '%s' BODY | openssl dgst -sha256 -hmac secret).
	sig := Sign("secret", body)
	require.Equal(t, "sha256=d246a5ac6e1d797414c8cae4ff50decaf3dc54270d9e64cf940649668810f6ff", sig)

	for _, tc := range []struct {
		name   string
		secret string
		body   []byte
		header string
		want   bool
	}{
		{name: "valid", secret: "secret", body: body, header: sig, want: true},
		{name: "uppercase hex", secret: "secret", body: body, header: "sha256=" + strings.ToUpper(strings.TrimPrefix(sig, "sha256=")), want: true},
		{name: "wrong secret", secret: "other", body: body, header: sig},
		{name: "changed body", secret: "secret", body: append([]byte(" "), body...), header: sig},
		{name: "no prefix", secret: "secret", body: body, header: strings.TrimPrefix(sig, "sha256=")},
		{name: "other algorithm", secret: "secret", body: body, header: "sha1=" + strings.TrimPrefix(sig, "sha256=")},
		{name: "not hex", secret: "secret", body: body, header: "sha256=zz"},
		{name: "truncated", secret: "secret", body: body, header: sig[:len(sig)-2]},
		{name: "empty", secret: "secret", body: body, header: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Verify(tc.secret, tc.body, tc.header))
		})
	}
}

package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The Standard Webhooks test vector: the signature the reference
// libraries' tests expect of this delivery under this secret.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignVector(t *testing.T) {
	key, err := SecretKey(vectorSecret)
	require.NoError(t, err)
	require.Equal(t, vectorSignature, Sign([][]byte{key}, vectorID, vectorTimestamp, []byte(vectorBody)))

	// The same value from the scheme's definition, with nothing of Sign.
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(vectorSecret, "whsec_"))
	require.NoError(t, err)
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte(vectorID + "." + strconv.Itoa(vectorTimestamp) + "." + vectorBody))
	require.Equal(t, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)), vectorSignature)

	header := http.Header{}
	header.Set(IDHeader, vectorID)
	header.Set(TimestampHeader, strconv.Itoa(vectorTimestamp))
	header.Set(SignatureHeader, vectorSignature)
	require.NoError(t, Verify([][]byte{key}, header, []byte(vectorBody), time.Unix(vectorTimestamp, 0)))
}

func TestSecretKey(t *testing.T) {
	for _, tc := range []struct {
		name, secret string
		want         []byte
		err          error
	}{
		{name: "plain string is its bytes", secret: "a-plain-secret-of-24-byte", want: []byte("a-plain-secret-of-24-byte")},
		{name: "whsec is decoded", secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("key bytes")), want: []byte("key bytes")},
		{name: "whsec not base64", secret: "whsec_not*base64", err: ErrSecretEncoding},
		{name: "prefix only", secret: "whsec_", want: []byte{}},
		{name: "prefix elsewhere is plain", secret: "my-whsec_abc", want: []byte("my-whsec_abc")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := SecretKey(tc.secret)
			require.ErrorIs(t, err, tc.err)
			if tc.err == nil {
				require.Equal(t, tc.want, key)
			} else {
				require.NotContains(t, err.Error(), "not*base64", "the error quotes no part of the secret")
			}
		})
	}
}

func TestRotationSignsWithEachKey(t *testing.T) {
	newKey, oldKey := []byte("the-new-key-of-24-bytes!"), []byte("the-old-key-of-24-bytes!")
	body := []byte(`{"id":7,"type":"interaction.created"}`)
	at := time.Unix(1_800_000_000, 0)
	sig := Sign([][]byte{newKey, oldKey}, "7", at.Unix(), body)

	parts := strings.Split(sig, " ")
	require.Len(t, parts, 2)
	require.Equal(t, Sign([][]byte{newKey}, "7", at.Unix(), body), parts[0])
	require.Equal(t, Sign([][]byte{oldKey}, "7", at.Unix(), body), parts[1])
	require.NotEqual(t, parts[0], parts[1])

	header := http.Header{}
	header.Set(IDHeader, "7")
	header.Set(TimestampHeader, strconv.FormatInt(at.Unix(), 10))
	header.Set(SignatureHeader, sig)
	// A receiver that knows either secret verifies the delivery.
	require.NoError(t, Verify([][]byte{newKey}, header, body, at))
	require.NoError(t, Verify([][]byte{oldKey}, header, body, at))
	require.ErrorIs(t, Verify([][]byte{[]byte("a-third-key-of-24-bytes!")}, header, body, at), ErrNoSignature)
}

func TestVerify(t *testing.T) {
	key := []byte("a-receiver-key-of-24-byte")
	body := []byte(`{"id":7}`)
	at := time.Unix(1_800_000_000, 0)
	good := func() http.Header {
		h := http.Header{}
		h.Set(IDHeader, "7")
		h.Set(TimestampHeader, strconv.FormatInt(at.Unix(), 10))
		h.Set(SignatureHeader, Sign([][]byte{key}, "7", at.Unix(), body))
		return h
	}
	for _, tc := range []struct {
		name   string
		change func(h http.Header)
		body   []byte
		now    time.Time
		want   error
	}{
		{name: "valid", now: at},
		{name: "5 minutes late", now: at.Add(Tolerance)},
		{name: "5 minutes early", now: at.Add(-Tolerance)},
		{name: "too late: a replay", now: at.Add(Tolerance + time.Second), want: ErrTimestamp},
		{name: "too early", now: at.Add(-Tolerance - time.Second), want: ErrTimestamp},
		{name: "timestamp not a number", now: at, change: func(h http.Header) { h.Set(TimestampHeader, "soon") }, want: ErrTimestamp},
		{name: "new timestamp, old signature", now: at.Add(time.Hour), change: func(h http.Header) {
			h.Set(TimestampHeader, strconv.FormatInt(at.Add(time.Hour).Unix(), 10))
		}, want: ErrNoSignature},
		{name: "other id", now: at, change: func(h http.Header) { h.Set(IDHeader, "8") }, want: ErrNoSignature},
		{name: "changed body", now: at, body: []byte(`{"id":8}`), want: ErrNoSignature},
		{name: "one of several matches", now: at, change: func(h http.Header) {
			h.Set(SignatureHeader, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,x "+h.Get(SignatureHeader))
		}},
		{name: "other version only", now: at, change: func(h http.Header) {
			h.Set(SignatureHeader, "v2,"+strings.TrimPrefix(h.Get(SignatureHeader), "v1,"))
		}, want: ErrNoSignature},
		{name: "not base64", now: at, change: func(h http.Header) { h.Set(SignatureHeader, "v1,***") }, want: ErrNoSignature},
		{name: "no id", now: at, change: func(h http.Header) { h.Del(IDHeader) }, want: ErrMissingHeader},
		{name: "no timestamp", now: at, change: func(h http.Header) { h.Del(TimestampHeader) }, want: ErrMissingHeader},
		{name: "no signature", now: at, change: func(h http.Header) { h.Del(SignatureHeader) }, want: ErrMissingHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := good()
			if tc.change != nil {
				tc.change(h)
			}
			b := body
			if tc.body != nil {
				b = tc.body
			}
			err := Verify([][]byte{key}, h, b, tc.now)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}
}

func TestLegacySignVerify(t *testing.T) {
	body := []byte(`{"id":7,"type":"interaction.created"}`)
	// The HMAC-SHA256 of body under "secret", computed independently
	// (printf '%s' BODY | openssl dgst -sha256 -hmac secret).
	sig := LegacySign("secret", body)
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
			require.Equal(t, tc.want, LegacyVerify(tc.secret, tc.body, tc.header))
		})
	}
}

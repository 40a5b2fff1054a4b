package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// verify is the receiver of docs/api.md, which must show it verbatim
// (TestReceiverInDocs): what a receiver with nothing but Go's standard
// library writes.
//
// --- docs/api.md begin
// verify reports whether r, whose raw body is body, is a ctibridge delivery
// signed with key: the base64-decoded part after "whsec_" of a whsec_
// secret, or the bytes of a plain one.
func verify(key []byte, r *http.Request, body []byte) bool {
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false // missing headers, or too old or too new: a replay
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.", id, ts)
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(r.Header.Get("webhook-signature")) {
		b64, ok := strings.CutPrefix(sig, "v1,")
		got, err := base64.StdEncoding.DecodeString(b64)
		if ok && err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// --- docs/api.md end

func TestReceiverInDocs(t *testing.T) {
	src, err := os.ReadFile("receiver_test.go")
	require.NoError(t, err)
	_, rest, _ := strings.Cut(string(src), "// --- docs/api.md begin\n")
	snippet, _, ok := strings.Cut(rest, "\n// --- docs/api.md end")
	require.True(t, ok)
	docs, err := os.ReadFile("../../../docs/api.md")
	require.NoError(t, err)
	require.Contains(t, string(docs), "```go\n"+strings.TrimSpace(snippet)+"\n```", "docs/api.md shows the receiver of receiver_test.go")
}

func TestReceiver(t *testing.T) {
	body := []byte(`{"id":42,"type":"interaction.created"}`)
	delivery := func(secrets []string, at time.Time) *http.Request {
		keys := make([][]byte, len(secrets))
		for i, s := range secrets {
			keys[i] = secretKey(t, s)
		}
		r, err := http.NewRequest(http.MethodPost, "https://receiver.example/hook", nil)
		require.NoError(t, err)
		r.Header.Set(IDHeader, "42")
		r.Header.Set(TimestampHeader, strconv.FormatInt(at.Unix(), 10))
		r.Header.Set(SignatureHeader, Sign(keys, "42", at.Unix(), body))
		return r
	}
	now := time.Now()
	require.True(t, verify(secretKey(t, testSecret), delivery([]string{testSecret}, now), body))
	require.True(t, verify(secretKey(t, oldSecret), delivery([]string{newSecret, oldSecret}, now), body), "during a rotation")
	require.True(t, verify(secretKey(t, newSecret), delivery([]string{newSecret, oldSecret}, now), body), "during a rotation")
	require.False(t, verify(secretKey(t, oldSecret), delivery([]string{newSecret}, now), body), "after it")
	require.False(t, verify(secretKey(t, testSecret), delivery([]string{testSecret}, now.Add(-6*time.Minute)), body), "a replay")
	require.False(t, verify(secretKey(t, testSecret), delivery([]string{testSecret}, now), append(body, ' ')), "another body")
	r := delivery([]string{testSecret}, now)
	r.Header.Del(IDHeader)
	require.False(t, verify(secretKey(t, testSecret), r, body))
}

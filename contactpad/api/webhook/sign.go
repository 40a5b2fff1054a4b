package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of the Standard Webhooks signature scheme
// (https://www.standardwebhooks.com), which every delivery carries.
const (
	// IDHeader is the delivery's id: the event's id, the same on every
	// attempt, so that receivers can drop repeats.
	IDHeader = "webhook-id"
	// TimestampHeader is when this attempt was made, in unix seconds.
	TimestampHeader = "webhook-timestamp"
	// SignatureHeader holds one "v1,<base64 HMAC-SHA256>" signature of
	// "id.timestamp.body" per secret of the hook, separated by spaces.
	SignatureHeader = "webhook-signature"
)

// LegacySignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the
// body alone under the hook's first secret, as its bytes are written in the
// config (no whsec_ decoding). It signs no id and no time, so a recorded
// delivery can be replayed: it is deprecated, sent for one more release so
// that receivers keep working while they move to SignatureHeader.
const LegacySignatureHeader = "X-Ctibridge-Signature"

// Limits of the signature scheme.
const (
	// MinKeyLen is the shortest key a secret may have, in bytes (the
	// decoded bytes of a whsec_ secret). The scheme asks for 24 to 64.
	MinKeyLen = 24
	// Tolerance is how far a receiver should let webhook-timestamp be from
	// its clock, either way, before it refuses the delivery as a replay.
	Tolerance = 5 * time.Minute
)

// secretPrefix marks a secret in the scheme's form: the base64 of the key.
const secretPrefix = "whsec_"

// Errors of SecretKey and Verify.
var (
	// ErrSecretEncoding is a secret with the whsec_ prefix whose rest is
	// not standard base64.
	ErrSecretEncoding = errors.New("a whsec_ secret must be whsec_ and the standard base64 of the key")
	// ErrMissingHeader is a delivery without one of the scheme's headers.
	ErrMissingHeader = errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	// ErrTimestamp is a delivery whose timestamp is not a number or is
	// more than Tolerance away from the receiver's clock.
	ErrTimestamp = errors.New("webhook-timestamp is not within 5 minutes of now")
	// ErrNoSignature is a delivery none of whose v1 signatures matches any
	// of the keys.
	ErrNoSignature = errors.New("no webhook-signature matches")
)

// SecretKey returns the HMAC key of a secret as the config writes it: the
// base64-decoded rest of a "whsec_..." secret, or else the secret's bytes.
func SecretKey(secret string) ([]byte, error) {
	encoded, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		// The decoder's error quotes a position of the secret; say less.
		return nil, ErrSecretEncoding
	}
	return key, nil
}

// signature returns the scheme's "v1,<base64>" signature of a delivery
// under one key.
func signature(key []byte, id string, timestamp int64, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// Sign returns the webhook-signature value of a delivery: for each key, in
// order, "v1," and the base64 HMAC-SHA256 of "id.timestamp.body", joined
// by spaces. Several keys let a receiver move from one secret to the next
// without a delivery it cannot verify.
func Sign(keys [][]byte, id string, timestamp int64, body []byte) string {
	sigs := make([]string, len(keys))
	for i, key := range keys {
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(signature(key, id, timestamp, body))
	}
	return strings.Join(sigs, " ")
}

// Verify checks a delivery as a receiver should: the three headers are
// there, webhook-timestamp is within Tolerance of now, and one of the v1
// signatures is that of the delivery under one of keys. Signatures of
// other versions are ignored; comparisons take constant time.
func Verify(keys [][]byte, header http.Header, body []byte, now time.Time) error {
	id, ts, sigs := header.Get(IDHeader), header.Get(TimestampHeader), header.Get(SignatureHeader)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeader
	}
	timestamp, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	if d := now.Sub(time.Unix(timestamp, 0)); d > Tolerance || d < -Tolerance {
		return ErrTimestamp
	}
	for _, key := range keys {
		want := signature(key, id, timestamp, body)
		for _, sig := range strings.Fields(sigs) {
			encoded, ok := strings.CutPrefix(sig, "v1,")
			if !ok {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(encoded)
			if err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrNoSignature
}

// legacyPrefix names the algorithm in the legacy signature header's value.
const legacyPrefix = "sha256="

// LegacySign returns the deprecated X-Ctibridge-Signature value of body
// under secret: "sha256=" followed by the lowercase hex HMAC-SHA256 of body.
func LegacySign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return legacyPrefix + hex.EncodeToString(mac.Sum(nil))
}

// LegacyVerify reports whether header is the signature of body under
// secret, as LegacySign makes it. The comparison takes constant time; the
// hex digest may be in either case.
func LegacyVerify(secret string, body []byte, header string) bool {
	digest, ok := strings.CutPrefix(header, legacyPrefix)
	if !ok {
		return false
	}
	got, err := hex.DecodeString(digest)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

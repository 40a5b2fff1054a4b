package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SignatureHeader carries the body's HMAC-SHA256 under the hook's secret.
const SignatureHeader = "X-Ctibridge-Signature"

// signaturePrefix names the algorithm in the signature header's value.
const signaturePrefix = "sha256="

// Sign returns the X-Ctibridge-Signature value of body under secret:
// "sha256=" followed by the lowercase hex HMAC-SHA256 of body.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether header is the signature of body under secret, as
// Sign makes it. The comparison takes constant time; the hex digest may be
// in either case.
func Verify(secret string, body []byte, header string) bool {
	digest, ok := strings.CutPrefix(header, signaturePrefix)
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

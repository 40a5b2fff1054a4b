package sim

import "strings"

// Key prefixes of the objects the local org knows, as Salesforce assigns them.
const (
	prefixCase         = "500"
	prefixChat         = "570"
	prefixTask         = "00T"
	prefixUser         = "005"
	prefixContact      = "003"
	prefixOrg          = "00D"
	prefixQueryLocator = "01g"
	prefixGroup        = "00G"
	prefixRoutingCfg   = "0R2"
	prefixChannel      = "0N9"
	prefixPSR          = "0JR"
	prefixAgentWork    = "0Bz"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// makeID builds the 18-character id of the n-th record with the given key prefix.
// The pod segment distinguishes generated ids ("Lz") from the seed file's ("Sd"),
// so the two never collide.
func makeID(prefix, pod string, n uint64) string {
	digits := make([]byte, 9)
	for i := len(digits) - 1; i >= 0; i-- {
		digits[i] = base62[n%62]
		n /= 62
	}
	return id18(prefix + pod + "0" + string(digits))
}

// id18 appends Salesforce's case-safety suffix to a 15-character id: one
// character per 5-character chunk, encoding which of its letters are upper case.
func id18(id15 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	suffix := make([]byte, 3)
	for chunk := 0; chunk < 3; chunk++ {
		flags := 0
		for j := 0; j < 5; j++ {
			c := id15[chunk*5+j]
			if c >= 'A' && c <= 'Z' {
				flags |= 1 << j
			}
		}
		suffix[chunk] = alphabet[flags]
	}
	return id15 + string(suffix)
}

// normalizeID returns the 18-character form of a 15- or 18-character id, and
// false when s is not a well-formed Salesforce id.
func normalizeID(s string) (string, bool) {
	if len(s) != 15 && len(s) != 18 {
		return "", false
	}
	for i := 0; i < 15; i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return "", false
		}
	}
	full := id18(s[:15])
	if len(s) == 18 && !strings.EqualFold(full[15:], s[15:]) {
		return "", false
	}
	return full, true
}

package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Secret is a password, token, key or DSN from the config file. Every way of
// printing or marshalling it yields "<secret>", so a Config can be logged or
// dumped whole; Reveal returns the value for the one place that needs it.
//
// In YAML a secret field takes a literal, a value with ${NAME} references
// expanded from the environment (write $${ for a literal ${), or, through
// the sibling key "<field>_file", the path of a file whose content, less
// trailing newlines, is the value. A relative path is taken from the
// directory of the config file.
type Secret struct {
	value string
}

// secretMask is what a Secret prints as.
const secretMask = "<secret>"

// NewSecret returns a Secret holding value, for configs built in code.
func NewSecret(value string) Secret { return Secret{value: value} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// String returns "<secret>".
func (Secret) String() string { return secretMask }

// GoString returns "<secret>", for %#v.
func (Secret) GoString() string { return secretMask }

// Format prints "<secret>" whatever the verb, so that %x or %q cannot leak
// the value either.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(secretMask)) }

// MarshalJSON returns the JSON string "<secret>".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + secretMask + `"`), nil }

// MarshalYAML returns "<secret>".
func (Secret) MarshalYAML() (any, error) { return secretMask, nil }

// expandEnv replaces each ${NAME} in s with the environment variable NAME.
// Its errors name the variable but never quote s, which is a secret.
func expandEnv(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			// "$${" is the escape for a literal "${".
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return "", errors.New("unterminated ${ (want ${NAME}, or $${ for a literal ${)")
		}
		name := rest[:end]
		if !isEnvName(name) {
			return "", errors.New("invalid ${...} reference (want ${NAME} with letters, digits and _, or $${ for a literal ${)")
		}
		value, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(value)
		s = rest[end+1:]
	}
}

// isEnvName reports whether name is a portable environment variable name.
func isEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

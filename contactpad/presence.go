package contactpad

import "fmt"

// Presence is an agent's readiness for work.
type Presence string

// The presence values of ContactPad.
const (
	// Available ("Available now") agents receive new offers and may be consulted.
	Available Presence = "available"
	// Interruptible agents receive no new offers but may be consulted.
	Interruptible Presence = "interruptible"
	// Busy ("Logged in / busy") agents are logged in and not ready.
	Busy Presence = "busy"
	// LoggedOut agents are not working.
	LoggedOut Presence = "logged_out"
)

// Presences lists every presence value.
var Presences = []Presence{Available, Interruptible, Busy, LoggedOut}

// ParsePresence returns the Presence named s, or an error naming s.
func ParsePresence(s string) (Presence, error) {
	for _, p := range Presences {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown presence %q (want available, interruptible, busy or logged_out)", s)
}

// Routable reports whether an agent with this presence receives new offers.
func (p Presence) Routable() bool { return p == Available }

// Consultable reports whether an agent with this presence may be consulted.
func (p Presence) Consultable() bool { return p == Available || p == Interruptible }

// LoggedIn reports whether the agent is working at all.
func (p Presence) LoggedIn() bool { return p != LoggedOut && p != "" }

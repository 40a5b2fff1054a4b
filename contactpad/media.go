// Package contactpad is the domain of ctibridge: media types, the capability
// matrix that decides which agent actions each media type allows, presence,
// and the Interaction with its statuses, transfers and consults.
//
// It imports nothing of ours, so every other package can share its types.
package contactpad

import "fmt"

// Media is how the customer is reached, which decides the actions an agent
// may take (see Matrix).
type Media string

// The media types of ContactPad.
const (
	// Live is voice or video: the customer is on the line now.
	Live Media = "live"
	// SemiLive is chat and messaging: the customer is waiting but not on a line.
	SemiLive Media = "semi-live"
	// NonLive is email, web forms and cases: the customer is not waiting.
	NonLive Media = "non-live"
)

// Medias lists every media type in a stable order.
var Medias = []Media{Live, SemiLive, NonLive}

// ParseMedia returns the Media named s, or an error naming s.
func ParseMedia(s string) (Media, error) {
	for _, m := range Medias {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown media type %q (want live, semi-live or non-live)", s)
}

// Capacity is how many interactions of each media type an agent may hold at
// once. A missing media type means zero.
type Capacity map[Media]int

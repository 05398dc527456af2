package app

import (
	"strings"
	"testing"
)

// TestScrubberKeyShapes: the scrubber removes webhook signing secrets and
// keys glued to a preceding word (an environment variable's name), even
// when that exact value was never registered with Add.
func TestScrubberKeyShapes(t *testing.T) {
	s := &scrubber{}
	for _, in := range []string{
		"signing secret whsec_0123456789abcdefABCDEF",
		"env STRIPE_KEY_sk_live_51Habcdefghijklmnop",
	} {
		out := string(s.Scrub([]byte(in)))
		if strings.Contains(out, "0123456789abcdef") || strings.Contains(out, "51Habcdefghijklmnop") {
			t.Errorf("Scrub(%q) = %q: secret left in", in, out)
		}
	}
}

package reconcile

import (
	"strconv"
	"strings"
)

// Currencies whose API amounts have no minor unit, or three digits of it
// (Stripe's lists; every other currency has two).
var (
	zeroDecimal = map[string]bool{"bif": true, "clp": true, "djf": true, "gnf": true, "jpy": true, "kmf": true, "krw": true,
		"mga": true, "pyg": true, "rwf": true, "ugx": true, "vnd": true, "vuv": true, "xaf": true, "xof": true, "xpf": true}
	threeDecimal = map[string]bool{"bhd": true, "jod": true, "kwd": true, "omr": true, "tnd": true}
)

// formatAmount writes an amount in API minor units for a sentence:
// formatAmount(1250, "chf") is "12.50 CHF".
func formatAmount(amount int64, currency string) string {
	cur := strings.ToLower(currency)
	digits := 2
	switch {
	case zeroDecimal[cur]:
		digits = 0
	case threeDecimal[cur]:
		digits = 3
	}
	neg := amount < 0
	u := uint64(amount)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	if cur == "" {
		return s
	}
	return s + " " + strings.ToUpper(cur)
}

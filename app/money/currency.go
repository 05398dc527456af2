package money

import (
	"fmt"
	"strings"
	"sync"

	"golang.org/x/text/currency"
)

// Currency is an ISO 4217 currency in legal tender somewhere (per CLDR as
// shipped in golang.org/x/text). The zero Currency is invalid; obtain one
// with ParseCurrency, MustCurrency or one of the predeclared variables.
//
// Currency is comparable with == and usable as a map key. It marshals to and
// from its upper-case ISO code as text (and therefore as a JSON string).
type Currency struct {
	code string // upper-case ISO 4217 code; "" for the zero value
}

// Predeclared currencies Till ships with. Any other tender currency is
// available through ParseCurrency.
var (
	CHF = MustCurrency("CHF")
	EUR = MustCurrency("EUR")
	USD = MustCurrency("USD")
	GBP = MustCurrency("GBP")
	DKK = MustCurrency("DKK")
	SEK = MustCurrency("SEK")
	NOK = MustCurrency("NOK")
	JPY = MustCurrency("JPY")
	KWD = MustCurrency("KWD")
)

// isoExponent overrides the number of minor-unit digits CLDR reports for
// display. CLDR drops digits that are not used in everyday prices (for
// example IDR and COP are shown without decimals), but ISO 4217, the card
// networks and Stripe keep them; Money must use the unit the payment API
// counts in, so for these codes the ISO 4217 minor unit wins. MGA is not
// listed: ISO 4217 gives it 2 digits but Stripe treats it as zero-decimal,
// which matches CLDR.
var isoExponent = map[string]int{
	"AFN": 2, "ALL": 2, "AMD": 2, "COP": 2, "GYD": 2, "IDR": 2, "IQD": 3,
	"IRR": 2, "KPW": 2, "LAK": 2, "LBP": 2, "MMK": 2, "MNT": 2, "MRO": 2,
	"MUR": 2, "PKR": 2, "RSD": 2, "SLL": 2, "SOS": 2, "SYP": 2, "TZS": 2,
	"UZS": 2, "YER": 2,
}

// stripeTwoDecimal lists currencies that are zero-decimal in ISO 4217 but
// that Stripe still expects in a two-decimal representation whose last two
// digits are always 00 ("special cases" in Stripe's currency guide).
var stripeTwoDecimal = map[string]bool{"ISK": true, "UGX": true}

var (
	tenderOnce sync.Once
	tender     map[string]currency.Unit
)

// tenderSet returns the currencies CLDR lists as legal tender today. This
// excludes XXX, XTS, precious metals and historic currencies that
// currency.ParseISO would otherwise accept.
func tenderSet() map[string]currency.Unit {
	tenderOnce.Do(func() {
		tender = make(map[string]currency.Unit, 160)
		for it := currency.Query(); it.Next(); {
			u := it.Unit()
			tender[u.String()] = u
		}
	})
	return tender
}

// ParseCurrency returns the currency with ISO 4217 code s (any letter case,
// surrounding spaces ignored). It fails with ErrUnknownCurrency for codes
// that are not currently legal tender anywhere.
func ParseCurrency(s string) (Currency, error) {
	code := strings.ToUpper(strings.TrimSpace(s))
	if len(code) != 3 {
		return Currency{}, fmt.Errorf("money: currency %q: %w", s, ErrUnknownCurrency)
	}
	if _, ok := tenderSet()[code]; !ok {
		return Currency{}, fmt.Errorf("money: currency %q: %w", s, ErrUnknownCurrency)
	}
	return Currency{code: code}, nil
}

// MustCurrency is ParseCurrency that panics on error; for constants only.
func MustCurrency(s string) Currency {
	c, err := ParseCurrency(s)
	if err != nil {
		panic(err)
	}
	return c
}

// Code returns the upper-case ISO 4217 code, e.g. "CHF"; "" for the zero
// Currency.
func (c Currency) Code() string { return c.code }

// String returns the ISO code, or "<no currency>" for the zero Currency.
func (c Currency) String() string {
	if c.code == "" {
		return "<no currency>"
	}
	return c.code
}

// IsZero reports whether c is the zero (invalid) Currency.
func (c Currency) IsZero() bool { return c.code == "" }

// StripeCode returns the lower-case code the Stripe API expects, e.g. "chf".
func (c Currency) StripeCode() string { return strings.ToLower(c.code) }

// Unit returns the golang.org/x/text currency unit, for callers that format
// with x/text directly. It panics on the zero Currency.
func (c Currency) Unit() currency.Unit {
	u, ok := tenderSet()[c.code]
	if !ok {
		panic("money: Unit of zero Currency")
	}
	return u
}

// Exponent returns the number of minor-unit digits: 2 for CHF (1 CHF = 100
// Rappen), 0 for JPY, KRW, CLP, VND, ISK, XAF, XOF, PYG, UGX, 3 for BHD,
// JOD, KWD, OMR, TND. It is CLDR's value, corrected by a documented table
// where CLDR only describes everyday display and ISO 4217 keeps more digits.
// The zero Currency has exponent 0.
func (c Currency) Exponent() int {
	if c.code == "" {
		return 0
	}
	if e, ok := isoExponent[c.code]; ok {
		return e
	}
	scale, _ := currency.Standard.Rounding(c.Unit())
	return scale
}

// StripeExponent returns the number of decimals Stripe's API uses for an
// amount in c. It equals Exponent except for Stripe's special cases (ISK
// and UGX are sent with two decimals that must be 00).
func (c Currency) StripeExponent() int {
	if stripeTwoDecimal[c.code] {
		return 2
	}
	return c.Exponent()
}

// MarshalText implements encoding.TextMarshaler. The zero Currency marshals
// to an empty string.
func (c Currency) MarshalText() ([]byte, error) { return []byte(c.code), nil }

// UnmarshalText implements encoding.TextUnmarshaler. It accepts exactly what
// ParseCurrency accepts; an empty text yields the zero Currency.
func (c *Currency) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*c = Currency{}
		return nil
	}
	v, err := ParseCurrency(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// pow10 holds 10^0 … 10^18, all of which fit in int64.
var pow10 = [...]int64{
	1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000,
	1_000_000_000, 10_000_000_000, 100_000_000_000, 1_000_000_000_000,
	10_000_000_000_000, 100_000_000_000_000, 1_000_000_000_000_000,
	10_000_000_000_000_000, 100_000_000_000_000_000, 1_000_000_000_000_000_000,
}

// Pow10 returns 10^Exponent, the number of minor units in one major unit.
func (c Currency) Pow10() int64 { return pow10[c.Exponent()] }

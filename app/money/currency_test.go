package money

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestCurrencyExponent(t *testing.T) {
	tests := []struct {
		code   string
		exp    int
		stripe int
	}{
		{"CHF", 2, 2}, {"eur", 2, 2}, {"USD", 2, 2}, {"DKK", 2, 2}, {"SEK", 2, 2}, {"NOK", 2, 2},
		// zero-decimal
		{"JPY", 0, 0}, {"KRW", 0, 0}, {"CLP", 0, 0}, {"VND", 0, 0}, {"XAF", 0, 0},
		{"XOF", 0, 0}, {"PYG", 0, 0}, {"BIF", 0, 0}, {"MGA", 0, 0}, {"XPF", 0, 0},
		// zero-decimal, but Stripe wants two decimals ending in 00
		{"ISK", 0, 2}, {"UGX", 0, 2},
		// three-decimal
		{"BHD", 3, 3}, {"JOD", 3, 3}, {"KWD", 3, 3}, {"OMR", 3, 3}, {"TND", 3, 3},
		// CLDR hides digits that ISO 4217 keeps
		{"IDR", 2, 2}, {"COP", 2, 2}, {"IQD", 3, 3}, {"PKR", 2, 2},
		// CLDR cash rounding does not change the standard exponent
		{"HUF", 2, 2}, {"TWD", 2, 2}, {"CZK", 2, 2},
	}
	for _, tt := range tests {
		c, err := ParseCurrency(tt.code)
		if err != nil {
			t.Fatalf("ParseCurrency(%q): %v", tt.code, err)
		}
		if got := c.Exponent(); got != tt.exp {
			t.Errorf("%s.Exponent() = %d, want %d", c, got, tt.exp)
		}
		if got := c.StripeExponent(); got != tt.stripe {
			t.Errorf("%s.StripeExponent() = %d, want %d", c, got, tt.stripe)
		}
	}
}

func TestParseCurrencyRejects(t *testing.T) {
	for _, s := range []string{"", "CH", "CHFF", "XXX", "XTS", "XAU", "ABC", "DEM", "12A", "€"} {
		if c, err := ParseCurrency(s); !errors.Is(err, ErrUnknownCurrency) {
			t.Errorf("ParseCurrency(%q) = %v, %v; want ErrUnknownCurrency", s, c, err)
		}
	}
}

func TestCurrencyCodes(t *testing.T) {
	c, err := ParseCurrency(" chf ")
	if err != nil {
		t.Fatal(err)
	}
	if c != CHF || c.Code() != "CHF" || c.StripeCode() != "chf" || c.String() != "CHF" {
		t.Errorf("got %v code %q stripe %q", c, c.Code(), c.StripeCode())
	}
	if (Currency{}).String() != "<no currency>" || !(Currency{}).IsZero() {
		t.Error("zero Currency misreported")
	}
}

func TestCurrencyJSON(t *testing.T) {
	b, err := json.Marshal(New(1250, CHF))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"amount":1250,"currency":"CHF"}` {
		t.Errorf("marshal = %s", b)
	}
	var m Money
	if err := json.Unmarshal(b, &m); err != nil || m != New(1250, CHF) {
		t.Errorf("unmarshal = %v, %v", m, err)
	}
	if err := json.Unmarshal([]byte(`{"amount":1,"currency":"QQQ"}`), &m); !errors.Is(err, ErrUnknownCurrency) {
		t.Errorf("unknown currency unmarshal err = %v", err)
	}
}

func TestStripeAmount(t *testing.T) {
	tests := []struct {
		m    Money
		want int64
	}{
		{New(1250, CHF), 1250},
		{New(500, JPY), 500},
		{New(5, MustCurrency("ISK")), 500},
		{New(1234, KWD), 1234},
	}
	for _, tt := range tests {
		got, err := tt.m.StripeAmount()
		if err != nil || got != tt.want {
			t.Errorf("%v.StripeAmount() = %d, %v; want %d", tt.m, got, err, tt.want)
		}
		back, err := FromStripeAmount(got, tt.m.Currency)
		if err != nil || back != tt.m {
			t.Errorf("FromStripeAmount(%d) = %v, %v; want %v", got, back, err, tt.m)
		}
	}
	if _, err := New(1<<62, MustCurrency("ISK")).StripeAmount(); !errors.Is(err, ErrOverflow) {
		t.Errorf("huge ISK StripeAmount err = %v", err)
	}
	if _, err := FromStripeAmount(550, MustCurrency("UGX")); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("FromStripeAmount(550 UGX) err = %v", err)
	}
}

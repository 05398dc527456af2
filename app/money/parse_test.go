package money

import (
	"errors"
	"math"
	"strings"
	"testing"

	"golang.org/x/text/language"
)

var parseTests = []struct {
	in     string
	cur    string
	locale string
	neg    bool  // AllowNegative
	want   int64 // minor units when err is nil
	err    error
}{
	// The forms from the issue.
	{"12.50", "CHF", "de-CH", false, 1250, nil},
	{"12,50", "CHF", "de-CH", false, 1250, nil},
	{"1'234.50", "CHF", "de-CH", false, 123450, nil},
	{"1’234.50", "CHF", "de-CH", false, 123450, nil},
	{"1 234,50", "EUR", "fr-FR", false, 123450, nil},
	{"1\u00a0234,50", "EUR", "fr-FR", false, 123450, nil},
	{"1\u202f234,50", "EUR", "fr-FR", false, 123450, nil},
	{"1.234,50", "EUR", "de-DE", false, 123450, nil},
	{"1,234.50", "USD", "en-US", false, 123450, nil},
	{"1.234.567,89", "EUR", "de-DE", false, 123456789, nil},
	{"12,34,567.89", "INR", "en-IN", false, 123456789, nil},
	// Whole units, short fractions, leading decimal mark.
	{"12", "CHF", "de-CH", false, 1200, nil},
	{"12.5", "CHF", "de-CH", false, 1250, nil},
	{"0,05", "CHF", "de-CH", false, 5, nil},
	{".50", "CHF", "en-US", false, 50, nil},
	{"007.50", "CHF", "en-US", false, 750, nil},
	{"0", "CHF", "en-US", false, 0, nil},
	// Symbols, codes and signs.
	{"CHF 12.50", "CHF", "de-CH", false, 1250, nil},
	{"chf12.50", "CHF", "de-CH", false, 1250, nil},
	{"12.50 CHF", "CHF", "en-US", false, 1250, nil},
	{"$1,234.50", "USD", "en-US", false, 123450, nil},
	{"12,50 €", "EUR", "fr-FR", false, 1250, nil},
	{"￥1,235", "JPY", "ja-JP", false, 1235, nil},
	{"¥1,235", "JPY", "ja-JP", false, 1235, nil},
	{"１２３", "JPY", "ja-JP", false, 123, nil},
	{"+5", "CHF", "de-CH", false, 500, nil},
	{"-12.50", "CHF", "de-CH", true, -1250, nil},
	{"CHF -12.50", "CHF", "de-CH", true, -1250, nil},
	{"-CHF 12.50", "CHF", "de-CH", true, -1250, nil},
	{"−1 234,50 kr", "SEK", "sv-SE", true, -123450, nil},
	{"-12.50", "CHF", "de-CH", false, 0, ErrNegative},
	{"12.50-", "CHF", "de-CH", true, 0, ErrSyntax},
	{"--5", "CHF", "de-CH", true, 0, ErrSyntax},
	{"EUR 12.50", "CHF", "de-CH", false, 0, ErrWrongCurrency},
	{"12.50 usd", "CHF", "de-CH", false, 0, ErrWrongCurrency},
	{"$12.50", "CHF", "de-CH", false, 0, ErrSyntax},
	// Three-digit tails: the locale decides, or it is ambiguous.
	{"1,234", "KWD", "en-US", false, 0, ErrAmbiguous},
	{"1.234", "KWD", "en-US", false, 1234, nil},
	{"1,234", "KWD", "de-DE", false, 1234, nil},
	{"1.234", "KWD", "de-DE", false, 0, ErrAmbiguous},
	{"1,234.000", "KWD", "en-US", false, 1234000, nil},
	{"0,500", "KWD", "en-US", false, 500, nil},
	{"1.234", "EUR", "de-DE", false, 123400, nil},
	{"1.234", "CHF", "de-CH", false, 0, ErrTooManyDecimals},
	{"1,234", "USD", "en-US", false, 123400, nil},
	{"1.234", "EUR", "fr-FR", false, 0, ErrAmbiguous},
	{"1.234", "JPY", "fr-FR", false, 1234, nil},
	{"1,234", "JPY", "de-DE", false, 0, ErrTooManyDecimals},
	{"1234,567", "CHF", "en-US", false, 0, ErrTooManyDecimals},
	// Too many decimals, zero-decimal currencies.
	{"12.500", "CHF", "en-US", false, 0, ErrTooManyDecimals},
	{"12.505", "CHF", "en-US", false, 0, ErrTooManyDecimals},
	{"12.5", "JPY", "ja-JP", false, 0, ErrTooManyDecimals},
	{"1.2345", "KWD", "en-US", false, 0, ErrTooManyDecimals},
	// Separators in wrong places.
	{"1,23.50", "USD", "en-US", false, 0, ErrSyntax},
	{"1.234,567.50", "USD", "en-US", false, 0, ErrSyntax},
	{"1.23,50", "EUR", "de-DE", false, 0, ErrSyntax},
	{"12,,50", "CHF", "de-CH", false, 0, ErrSyntax},
	{"12.", "CHF", "de-CH", false, 0, ErrSyntax},
	{".5.0", "CHF", "de-CH", false, 0, ErrSyntax},
	{"1'234.567.8", "CHF", "de-CH", false, 0, ErrSyntax},
	{"1'234 567", "CHF", "de-CH", false, 0, ErrSyntax},
	{"1,2345,678", "USD", "en-US", false, 0, ErrSyntax},
	{"1234'567", "CHF", "de-CH", false, 0, ErrSyntax},
	{"0'123", "CHF", "de-CH", false, 0, ErrSyntax},
	{"12 50", "CHF", "de-CH", false, 0, ErrSyntax},
	{"12,5x", "CHF", "de-CH", false, 0, ErrSyntax},
	{"1e3", "CHF", "de-CH", false, 0, ErrSyntax},
	{"NaN", "CHF", "de-CH", false, 0, ErrSyntax},
	{"", "CHF", "de-CH", false, 0, ErrEmpty},
	{"   ", "CHF", "de-CH", false, 0, ErrEmpty},
	{"CHF", "CHF", "de-CH", false, 0, ErrEmpty},
	// Range.
	{"92233720368547758.07", "CHF", "en-US", false, math.MaxInt64, nil},
	{"92233720368547758.08", "CHF", "en-US", false, 0, ErrOutOfRange},
	{"-92233720368547758.08", "CHF", "en-US", true, math.MinInt64, nil},
	{"-92233720368547758.09", "CHF", "en-US", true, 0, ErrOutOfRange},
	{"9223372036854775808", "JPY", "en-US", false, 0, ErrOutOfRange},
	{"99999999999999999999999", "CHF", "en-US", false, 0, ErrOutOfRange},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		c := MustCurrency(tt.cur)
		p := Parser{Currency: c, Locale: language.MustParse(tt.locale), AllowNegative: tt.neg}
		got, err := p.Parse(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Parse(%q, %s, %s) = %v, %v; want %v", tt.in, tt.cur, tt.locale, got, err, tt.err)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Input != tt.in || pe.Reason == "" {
				t.Errorf("Parse(%q) error %v is not a complete *ParseError", tt.in, err)
			}
			continue
		}
		if err != nil || got != New(tt.want, c) {
			t.Errorf("Parse(%q, %s, %s) = %v, %v; want %v", tt.in, tt.cur, tt.locale, got, err, New(tt.want, c))
		}
	}
}

func TestParseMax(t *testing.T) {
	p := Parser{Currency: CHF, Max: 1_000_000} // 10 000.00
	if m, err := p.Parse("10000"); err != nil || m.Amount != 1_000_000 {
		t.Errorf("Parse at Max = %v, %v", m, err)
	}
	_, err := p.Parse("10000.05")
	if !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), "CHF 10000.00") {
		t.Errorf("Parse above Max err = %v", err)
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := Parse("12,5x", CHF, language.MustParse("de-CH"))
	want := `money: parse "12,5x" as CHF: unexpected 'x': invalid amount`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	if _, err := Parse("1", Currency{}, language.Und); !errors.Is(err, ErrUnknownCurrency) {
		t.Errorf("zero currency err = %v", err)
	}
}

// FuzzParse checks that Parse never panics, that what it accepts is in
// range and canonical: formatting the result and parsing it again gives the
// same Money.
func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in, tt.cur, tt.locale, tt.neg)
	}
	f.Fuzz(func(t *testing.T, in, cur, locale string, neg bool) {
		c, err := ParseCurrency(cur)
		if err != nil {
			c = CHF
		}
		tag, err := language.Parse(locale)
		if err != nil {
			tag = language.Und
		}
		p := Parser{Currency: c, Locale: tag, AllowNegative: neg, Max: 1 << 60}
		m, err := p.Parse(in)
		if err != nil {
			if !isParseErr(err) {
				t.Fatalf("Parse(%q) error %v is not a *ParseError", in, err)
			}
			return
		}
		if m.Currency != c || m.Amount > 1<<60 || m.Amount < -(1<<60) || (!neg && m.Amount < 0) {
			t.Fatalf("Parse(%q) = %v out of bounds", in, m)
		}
		s := m.Format(tag)
		if back, err := p.Parse(s); err != nil || back != m {
			t.Fatalf("Parse(%q) = %v; Format = %q parses back as %v, %v", in, m, s, back, err)
		}
	})
}

func isParseErr(err error) bool {
	var pe *ParseError
	return errors.As(err, &pe)
}

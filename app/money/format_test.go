package money

import (
	"math"
	"testing"

	"golang.org/x/text/language"
)

const nb = "\u00a0"

var formatTests = []struct {
	locale string
	m      Money
	want   string
}{
	{"en-US", New(123450, USD), "$1,234.50"},
	{"en-US", New(-123450, USD), "-$1,234.50"},
	{"en-US", New(5, USD), "$0.05"},
	{"en-US", New(123450, CHF), "CHF" + nb + "1,234.50"},
	{"de-CH", New(123450, CHF), "CHF" + nb + "1’234.50"},
	{"de-CH", New(-123450, CHF), "CHF" + nb + "-1’234.50"},
	{"de-CH", New(100000000, CHF), "CHF" + nb + "1’000’000.00"},
	{"fr-FR", New(123450, EUR), "1" + nb + "234,50" + nb + "€"},
	{"fr-FR", New(-123450, EUR), "-1" + nb + "234,50" + nb + "€"},
	{"de-DE", New(123450, EUR), "1.234,50" + nb + "€"},
	{"ja-JP", New(1235, JPY), "￥1,235"},
	{"en-US", New(1235, JPY), "¥1,235"},
	{"en-US", New(1234500, KWD), "KWD" + nb + "1,234.500"},
	{"sv-SE", New(-123450, SEK), "−1" + nb + "234,50" + nb + "kr"},
	{"da-DK", New(123450, DKK), "1.234,50" + nb + "kr."},
	{"en-IN", New(123456789, USD), "US$12,34,567.89"},
	{"es-ES", New(123450, EUR), "1.234,50" + nb + "€"},
	{"nl-NL", New(123450, EUR), "€" + nb + "1.234,50"},
	{"und", New(123450, CHF), "CHF" + nb + "1,234.50"},
	{"de-CH", New(math.MaxInt64, CHF), "CHF" + nb + "92’233’720’368’547’758.07"},
	{"de-CH", New(math.MinInt64, CHF), "CHF" + nb + "-92’233’720’368’547’758.08"},
}

func TestFormat(t *testing.T) {
	for _, tt := range formatTests {
		got := tt.m.Format(language.MustParse(tt.locale))
		if got != tt.want {
			t.Errorf("%v.Format(%s) = %q, want %q", tt.m, tt.locale, got, tt.want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	tests := []struct {
		locale string
		m      Money
		want   string
	}{
		{"de-CH", New(-123450, CHF), "1’234.50"},
		{"fr-CH", New(123450, CHF), "1" + nb + "234,50"},
		{"en-US", New(7, KWD), "0.007"},
		{"ja-JP", New(0, JPY), "0"},
	}
	for _, tt := range tests {
		if got := tt.m.FormatNumber(language.MustParse(tt.locale)); got != tt.want {
			t.Errorf("%v.FormatNumber(%s) = %q, want %q", tt.m, tt.locale, got, tt.want)
		}
	}
}

func TestSymbol(t *testing.T) {
	if s := CHF.Symbol(language.MustParse("de-CH")); s != "CHF" {
		t.Errorf("CHF symbol in de-CH = %q", s)
	}
	if s := EUR.Symbol(language.MustParse("fr-FR")); s != "€" {
		t.Errorf("EUR symbol in fr-FR = %q", s)
	}
}

// roundTripLocales and roundTripCurrencies span the separators and symbol
// layouts Format produces.
var roundTripLocales = []string{
	"en-US", "de-CH", "fr-CH", "it-CH", "fr-FR", "de-DE", "ja-JP", "sv-SE", "da-DK",
	"nb-NO", "en-IN", "es-ES", "nl-NL", "pt-BR", "ar-EG", "und", "en-CH", "pl-PL",
}

var roundTripCurrencies = []Currency{
	CHF, EUR, USD, JPY, KWD, DKK, SEK, NOK, GBP, MustCurrency("ISK"), MustCurrency("BHD"),
	MustCurrency("KRW"), MustCurrency("INR"), MustCurrency("IQD"),
}

func FuzzFormatParse(f *testing.F) {
	for i, tt := range formatTests {
		f.Add(tt.m.Amount, uint8(i), uint8(i))
	}
	f.Add(int64(math.MinInt64), uint8(1), uint8(4))
	f.Add(int64(1234), uint8(0), uint8(4)) // KWD 1.234 in en-US
	f.Fuzz(func(t *testing.T, amount int64, li, ci uint8) {
		tag := language.MustParse(roundTripLocales[int(li)%len(roundTripLocales)])
		m := New(amount, roundTripCurrencies[int(ci)%len(roundTripCurrencies)])
		p := Parser{Currency: m.Currency, Locale: tag, AllowNegative: true}
		s := m.Format(tag)
		got, err := p.Parse(s)
		if err != nil || got != m {
			t.Fatalf("Parse(Format(%v) in %s = %q) = %v, %v", m, tag, s, got, err)
		}
		if amount >= 0 {
			n := m.FormatNumber(tag)
			if got, err := p.Parse(n); err != nil || got != m {
				t.Fatalf("Parse(FormatNumber(%v) in %s = %q) = %v, %v", m, tag, n, got, err)
			}
		}
	})
}

func BenchmarkFormat(b *testing.B) {
	tag := language.MustParse("de-CH")
	m := New(123450, CHF)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Format(tag)
	}
}

func BenchmarkParse(b *testing.B) {
	p := Parser{Currency: CHF, Locale: language.MustParse("de-CH")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse("CHF 1’234.50"); err != nil {
			b.Fatal(err)
		}
	}
}

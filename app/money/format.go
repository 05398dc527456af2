package money

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"
)

// symbolPlacement is where the currency symbol goes relative to the number.
type symbolPlacement uint8

const (
	symbolBefore      symbolPlacement = iota // "$1.00"      (CLDR "¤#,##0.00")
	symbolBeforeSpace                        // "CHF 1.00"   (CLDR "¤ #,##0.00")
	symbolAfterSpace                         // "1,00 €"     (CLDR "#,##0.00 ¤")
)

// placementByLang records CLDR's standard currency pattern per language
// (golang.org/x/text has number patterns but not currency patterns). A
// region entry ("de-CH") wins over its language ("de"). Languages not listed
// use symbolBeforeSpace, the layout x/text's own currency formatter uses.
var placementByLang = map[string]symbolPlacement{
	"en": symbolBefore, "ja": symbolBefore, "zh": symbolBefore, "ko": symbolBefore,
	"th": symbolBefore, "hi": symbolBefore, "tr": symbolBefore, "id": symbolBefore,
	"ms": symbolBefore, "fil": symbolBefore, "ga": symbolBefore, "he": symbolAfterSpace,
	"en-CH": symbolBeforeSpace, "en-150": symbolAfterSpace, "en-DE": symbolAfterSpace,
	"en-DK": symbolAfterSpace, "en-SE": symbolAfterSpace, "en-FI": symbolAfterSpace,
	"en-AT": symbolBeforeSpace, "en-NL": symbolBeforeSpace,
	"de": symbolAfterSpace, "de-CH": symbolBeforeSpace, "de-AT": symbolBeforeSpace,
	"de-LI": symbolBeforeSpace,
	"fr":    symbolAfterSpace, "it": symbolAfterSpace, "it-CH": symbolBeforeSpace,
	"rm": symbolAfterSpace,
	"es": symbolAfterSpace, "es-MX": symbolBefore, "es-US": symbolBefore, "es-419": symbolBefore,
	"pt": symbolBeforeSpace, "pt-PT": symbolAfterSpace, "nl": symbolBeforeSpace,
	"da": symbolAfterSpace, "sv": symbolAfterSpace, "nb": symbolAfterSpace, "nn": symbolAfterSpace,
	"no": symbolAfterSpace, "fi": symbolAfterSpace, "is": symbolAfterSpace, "fo": symbolAfterSpace,
	"pl": symbolAfterSpace, "cs": symbolAfterSpace, "sk": symbolAfterSpace, "hu": symbolAfterSpace,
	"ru": symbolAfterSpace, "uk": symbolAfterSpace, "be": symbolAfterSpace, "lt": symbolAfterSpace,
	"lv": symbolAfterSpace, "et": symbolAfterSpace, "ro": symbolAfterSpace, "bg": symbolAfterSpace,
	"hr": symbolAfterSpace, "sl": symbolAfterSpace, "sr": symbolAfterSpace, "bs": symbolAfterSpace,
	"el": symbolAfterSpace, "vi": symbolAfterSpace, "ca": symbolAfterSpace, "eu": symbolAfterSpace,
	"gl": symbolAfterSpace,
}

// nbsp separates symbol and number, as in CLDR's patterns, so a receipt
// never breaks a price across lines.
const nbsp = "\u00a0"

// locale is what Format and Parse need to know about a language.Tag.
type locale struct {
	tag       language.Tag // with -u-nu-latn forced
	printer   *message.Printer
	decimal   string // decimal separator, e.g. "." or ","
	group     string // grouping separator, e.g. "," or "’" or NBSP
	minus     string // minus sign as CLDR gives it (may carry a bidi mark)
	placement symbolPlacement
}

var locales sync.Map // string(tag) → *locale

// localeFor derives the separators from x/text by formatting integers only:
// 1234567 reveals the grouping separator, 0 with one forced fraction digit
// reveals the decimal separator, and −1 the minus sign. No amount ever goes
// through float64.
func localeFor(tag language.Tag) *locale {
	key := tag.String()
	if l, ok := locales.Load(key); ok {
		return l.(*locale)
	}
	latn, err := tag.SetTypeForKey("nu", "latn")
	if err != nil {
		latn = tag
	}
	p := message.NewPrinter(latn)
	l := &locale{tag: latn, printer: p, placement: placementOf(tag)}
	l.group = between(p.Sprint(number.Decimal(1234567)), "1", "2")
	l.decimal = between(p.Sprint(number.Decimal(0, number.MinFractionDigits(1))), "0", "0")
	if l.decimal == "" {
		l.decimal = "."
	}
	neg := p.Sprint(number.Decimal(-1))
	l.minus = strings.TrimSuffix(neg, "1")
	if l.minus == "" || l.minus == neg {
		l.minus = "-"
	}
	v, _ := locales.LoadOrStore(key, l)
	return v.(*locale)
}

// between returns the text between the first occurrence of a and the next
// occurrence of b after it.
func between(s, a, b string) string {
	i := strings.Index(s, a)
	if i < 0 {
		return ""
	}
	s = s[i+len(a):]
	j := strings.Index(s, b)
	if j < 0 {
		return ""
	}
	return s[:j]
}

func placementOf(tag language.Tag) symbolPlacement {
	base, _ := tag.Base()
	region, conf := tag.Region()
	if conf != language.No {
		if p, ok := placementByLang[base.String()+"-"+region.String()]; ok {
			return p
		}
	}
	if p, ok := placementByLang[base.String()]; ok {
		return p
	}
	return symbolBeforeSpace
}

var symbols sync.Map // tag + "/" + code → *currencySymbols

// currencySymbols is how a locale names a currency: CLDR's standard symbol
// (what Format prints) and, normalized for Parse, the ISO code, the
// standard and the narrow symbol.
type currencySymbols struct {
	standard string
	parse    [3]string
}

// symbolsFor returns the currency's symbols in the locale.
func (l *locale) symbolsFor(c Currency) *currencySymbols {
	key := l.tag.String() + "/" + c.code
	if v, ok := symbols.Load(key); ok {
		return v.(*currencySymbols)
	}
	u := c.Unit()
	std := l.printer.Sprint(currency.Symbol(u))
	s := &currencySymbols{
		standard: std,
		parse:    [3]string{c.code, normalize(std), normalize(l.printer.Sprint(currency.NarrowSymbol(u)))},
	}
	v, _ := symbols.LoadOrStore(key, s)
	return v.(*currencySymbols)
}

// Symbol returns the currency symbol CLDR gives c in the locale: "$" for USD
// in en-US, "CHF" in de-CH, "€" in fr-FR, "￥" for JPY in ja-JP.
func (c Currency) Symbol(tag language.Tag) string {
	if c.IsZero() {
		return ""
	}
	return localeFor(tag).symbolsFor(c).standard
}

// Format renders m for people reading the given locale: CLDR's currency
// symbol, grouping and decimal separator (via golang.org/x/text), always
// with exactly Exponent fraction digits, Latin digits whatever the locale's
// default numbering system, and a non-breaking space between symbol and
// number where the locale puts one:
//
//	en-US  $1,234.50      de-CH  CHF 1’234.50    fr-FR  1 234,50 €
//	ja-JP  ￥1,235         de-DE  1.234,50 €      sv-SE  1 234,50 kr
//
// The number is assembled from integers (the integer part is grouped by
// x/text's integer formatting, the fraction digits are appended after the
// locale's decimal separator), so no amount ever passes through a float.
// A minus sign goes before a leading symbol without a space ("-$5.00"),
// after a symbol followed by a space ("CHF -5.00") and before the digits
// when the symbol trails ("-5,00 €").
func (m Money) Format(tag language.Tag) string {
	l := localeFor(tag)
	num := l.number(m)
	if m.Currency.IsZero() {
		return num
	}
	sym := l.symbolsFor(m.Currency).standard
	neg := m.Amount < 0
	var b strings.Builder
	b.Grow(len(num) + len(sym) + 8)
	switch l.placement {
	case symbolBefore:
		if neg {
			b.WriteString(l.minus)
		}
		b.WriteString(sym)
		// A letter symbol ("CHF") glued to digits is unreadable.
		if r, _ := utf8.DecodeLastRuneInString(sym); isLetter(r) {
			b.WriteString(nbsp)
		}
		b.WriteString(num)
	case symbolBeforeSpace:
		b.WriteString(sym)
		b.WriteString(nbsp)
		if neg {
			b.WriteString(l.minus)
		}
		b.WriteString(num)
	case symbolAfterSpace:
		if neg {
			b.WriteString(l.minus)
		}
		b.WriteString(num)
		b.WriteString(nbsp)
		b.WriteString(sym)
	}
	return b.String()
}

// FormatNumber renders the magnitude of m like Format, without symbol or
// sign: "1’234.50" in de-CH. Meant for pre-filling an amount field; what it
// returns parses back with Parse in the same locale.
func (m Money) FormatNumber(tag language.Tag) string {
	return localeFor(tag).number(m)
}

// number renders |m| with the locale's separators and Latin digits.
func (l *locale) number(m Money) string {
	e := m.Currency.Exponent()
	mag := absU(m.Amount)
	p := uint64(pow10[e])
	s := l.printer.Sprint(number.Decimal(mag / p))
	if e == 0 {
		return s
	}
	f := strconv.FormatUint(mag%p, 10)
	return s + l.decimal + strings.Repeat("0", e-len(f)) + f
}

package money

import (
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/width"
)

// ParseError is the error Parse returns. Err is one of the Parse sentinels
// (ErrSyntax, ErrAmbiguous, ErrTooManyDecimals, ErrOutOfRange, ErrNegative,
// ErrEmpty, ErrWrongCurrency); Reason says why in words a cashier can act
// on.
type ParseError struct {
	Input    string
	Currency Currency
	Reason   string
	Err      error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("money: parse %q as %s: %s: %v", e.Input, e.Currency, e.Reason, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parser reads amounts typed by a cashier. The zero Parser is not usable:
// set Currency. Locale may be left as language.Und (CLDR root: "." decimal,
// "," grouping).
type Parser struct {
	Currency Currency
	Locale   language.Tag
	// AllowNegative accepts a leading minus sign ("-", "−"), e.g. for
	// refunds. Without it a minus sign is ErrNegative.
	AllowNegative bool
	// Max, when positive, is the largest magnitude accepted, in minor
	// units; a larger amount is ErrOutOfRange. Zero means the int64 limit.
	Max int64
}

// Parse is Parser{Currency: c, Locale: tag}.Parse(s): non-negative amounts.
func Parse(s string, c Currency, tag language.Tag) (Money, error) {
	return Parser{Currency: c, Locale: tag}.Parse(s)
}

type sepClass uint8

const (
	sepDot   sepClass = iota + 1 // .
	sepComma                     // ,
	sepApos                      // ' ’ (Swiss grouping)
	sepSpace                     // space, NBSP, narrow NBSP, thin space
)

func (c sepClass) isMark() bool { return c == sepDot || c == sepComma }

func (c sepClass) String() string {
	switch c {
	case sepDot:
		return `"."`
	case sepComma:
		return `","`
	case sepApos:
		return "apostrophe"
	}
	return "space"
}

func classOf(r rune) sepClass {
	switch r {
	case '.':
		return sepDot
	case ',':
		return sepComma
	case '\'', '’', 'ʼ', '´':
		return sepApos
	}
	if unicode.IsSpace(r) {
		return sepSpace
	}
	return 0
}

func classOfString(s string) sepClass {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || n != len(s) {
		return 0
	}
	return classOf(r)
}

// Parse reads s as an amount of p.Currency. The rules, in order:
//
//  1. Fullwidth characters are folded to their ASCII forms ("１２" = "12"),
//     invisible format marks (LRM, RLM) are dropped and surrounding spaces
//     trimmed.
//  2. One sign may appear before the number, before or after a leading
//     symbol ("-12.50", "CHF -12.50", "-CHF 12.50"): "-" or "−" (only with
//     AllowNegative, else ErrNegative) or "+". A trailing sign is ErrSyntax.
//  3. The currency may be named once, before or after the number, by its
//     ISO code (any case) or by the locale's standard or narrow symbol. Any
//     other ISO code is ErrWrongCurrency; any other character ErrSyntax.
//  4. What is left is digits (ASCII 0-9) and separators: ".", ",",
//     apostrophes (' ’) and spaces (including NBSP U+00A0, narrow NBSP
//     U+202F and thin space U+2009). Two separators in a row, or one at the
//     end, are ErrSyntax. A single leading "." or "," is a decimal
//     separator (".50").
//  5. Apostrophes and spaces only ever group digits. Which of "." and ","
//     is the decimal separator:
//     - both appear: the last separator must be one of them and occur once;
//     it is the decimal separator and the other groups ("1.234,50",
//     "1,234.50"). "1.234.567,5.0" and the like are ErrSyntax.
//     - only one of them appears, more than once: it groups ("1.234.567").
//     - it appears once after other grouping ("1'234.50", "1 234,50"): it
//     is the decimal separator.
//     - it appears once, is the only separator, and is followed by a number
//     of digits other than three, or preceded by "0", nothing, or more than
//     three digits: it is the decimal separator ("12,50", "0.125").
//     - otherwise (exactly "d,ddd", "dd.ddd" or "ddd,ddd") the text is a
//     thousand or a number with three decimals, and the locale decides:
//     if the mark is the locale's decimal separator it is decimal (de-CH
//     "1.234" = 1.234, then ErrTooManyDecimals for CHF); else if it is the
//     locale's grouping separator and the currency has fewer than three
//     decimals it groups (de-DE "1.234" EUR = 1234.00); else if the
//     currency has no decimals it groups (only that reading is valid);
//     else ErrAmbiguous (en-US "1,234" in KWD, fr-FR "1.234" in EUR).
//  6. All grouping separators must be of one kind (mixing "'" and "." is
//     ErrSyntax) and in the right places: the first group 1-3 digits and not
//     starting with 0, every later group exactly 3 digits, or the Indian
//     layout (first group 1-2 digits, then 2-digit groups, the last group 3
//     digits: "12,34,567.50"). Anything else is ErrSyntax.
//  7. More fraction digits than the currency's Exponent is
//     ErrTooManyDecimals (no silent rounding, even of trailing zeros); any
//     fraction in a zero-decimal currency is ErrTooManyDecimals.
//  8. A magnitude above p.Max (when set) or beyond int64 minor units is
//     ErrOutOfRange.
//
// Everything Format and FormatNumber produce for a locale parses back to
// the same Money with a Parser for that locale (with AllowNegative for
// negative amounts).
func (p Parser) Parse(s string) (Money, error) {
	c := p.Currency
	fail := func(err error, format string, args ...any) (Money, error) {
		return Money{}, &ParseError{Input: s, Currency: c, Reason: fmt.Sprintf(format, args...), Err: err}
	}
	if c.IsZero() {
		return Money{}, fmt.Errorf("money: parse %q: %w", s, ErrUnknownCurrency)
	}
	l := localeFor(p.Locale)
	body := normalize(s)
	if body == "" {
		return fail(ErrEmpty, "nothing typed")
	}

	// Steps 2 and 3: strip sign and currency.
	syms := l.symbolsFor(c)
	neg, signSeen, curSeen := false, false, false
	for changed := true; changed; {
		changed = false
		if !signSeen {
			if r, n := utf8.DecodeRuneInString(body); r == '-' || r == '−' || r == '+' {
				neg, signSeen, changed = r != '+', true, true
				body = strings.TrimLeftFunc(body[n:], unicode.IsSpace)
			}
		}
		if !curSeen {
			if rest, ok := trimSymbol(body, syms, true); ok {
				body, curSeen, changed = rest, true, true
			} else if rest, ok := trimSymbol(body, syms, false); ok {
				body, curSeen, changed = rest, true, true
			}
		}
	}
	if body == "" {
		return fail(ErrEmpty, "no digits")
	}

	// Step 4: split into digit groups and separators.
	var groups []string
	var seps []sepClass
	start := 0
	for i, r := range body {
		if r >= '0' && r <= '9' {
			continue
		}
		cl := classOf(r)
		if cl == 0 {
			if code := leadingLetters(body[i:]); code != "" {
				if other, err := ParseCurrency(code); err == nil && other != c {
					return fail(ErrWrongCurrency, "%s is not %s", other, c)
				}
			}
			if r == '-' || r == '−' || r == '+' {
				return fail(ErrSyntax, "a sign may only come before the number")
			}
			return fail(ErrSyntax, "unexpected %q", r)
		}
		if i == start && i != 0 {
			return fail(ErrSyntax, "two separators in a row")
		}
		groups = append(groups, body[start:i])
		seps = append(seps, cl)
		start = i + utf8.RuneLen(r)
	}
	if start == len(body) {
		return fail(ErrSyntax, "separator at the end")
	}
	groups = append(groups, body[start:])

	// Step 5: find the decimal separator (index into seps, or -1).
	dec := -1
	last := len(seps) - 1
	if groups[0] == "" { // leading separator
		if len(seps) != 1 || !seps[0].isMark() {
			return fail(ErrSyntax, "the amount starts with a separator")
		}
		groups[0] = "0"
		dec = 0
	} else if last >= 0 {
		var nDot, nComma int
		for _, k := range seps {
			switch k {
			case sepDot:
				nDot++
			case sepComma:
				nComma++
			}
		}
		switch {
		case nDot > 0 && nComma > 0:
			if !seps[last].isMark() || (seps[last] == sepDot && nDot > 1) || (seps[last] == sepComma && nComma > 1) {
				return fail(ErrSyntax, `"." and "," mixed in the wrong order`)
			}
			dec = last
		case nDot+nComma == 1 && seps[last].isMark():
			mark := seps[last]
			if last > 0 {
				dec = last // "1'234.50"
				break
			}
			intDigits, fracDigits := groups[0], groups[1]
			if len(fracDigits) != 3 || intDigits == "0" || len(intDigits) > 3 {
				dec = last
				break
			}
			switch {
			case classOfString(l.decimal) == mark:
				dec = last
			case classOfString(l.group) == mark && c.Exponent() < 3:
				// grouping
			case c.Exponent() == 0:
				// grouping: a decimal reading is impossible
			default:
				return fail(ErrAmbiguous, "could mean %s%s or %s%s%s; type it without the %s", intDigits, fracDigits,
					intDigits, l.decimal, fracDigits, mark)
			}
		}
	}

	intGroups, frac := groups, ""
	if dec >= 0 {
		intGroups, frac = groups[:dec+1], groups[dec+1]
		if c.Exponent() == 0 {
			return fail(ErrTooManyDecimals, "%s has no decimals", c)
		}
		if len(frac) > c.Exponent() {
			return fail(ErrTooManyDecimals, "%s has %d decimals, %d typed", c, c.Exponent(), len(frac))
		}
	}
	groupSeps := seps
	if dec >= 0 {
		groupSeps = seps[:dec]
	}

	// Step 6: grouping must be consistent and well placed.
	if len(intGroups) > 1 {
		for _, k := range groupSeps[1:] {
			if k != groupSeps[0] {
				return fail(ErrSyntax, "mixed grouping separators (%s and %s)", groupSeps[0], k)
			}
		}
		if !wellGrouped(intGroups) {
			return fail(ErrSyntax, "digit grouping %s in the wrong place", groupSeps[0])
		}
	}

	// Step 8: value.
	limit := uint64(math.MaxInt64)
	if neg {
		limit = 1 << 63
	}
	if p.Max > 0 && uint64(p.Max) < limit {
		limit = uint64(p.Max)
	}
	var mag uint64
	outOfRange := func() (Money, error) {
		if p.Max > 0 {
			return fail(ErrOutOfRange, "more than %v", Money{p.Max, c})
		}
		return fail(ErrOutOfRange, "too large")
	}
	for _, g := range intGroups {
		for i := 0; i < len(g); i++ {
			if mag > (limit-uint64(g[i]-'0'))/10 {
				return outOfRange()
			}
			mag = mag*10 + uint64(g[i]-'0')
		}
	}
	e := c.Exponent()
	var f uint64
	for i := 0; i < e; i++ {
		d := uint64(0)
		if i < len(frac) {
			d = uint64(frac[i] - '0')
		}
		f = f*10 + d
	}
	if mag > (limit-f)/uint64(pow10[e]) {
		return outOfRange()
	}
	mag = mag*uint64(pow10[e]) + f
	if neg && !p.AllowNegative {
		return fail(ErrNegative, "negative amounts are not allowed here")
	}
	v, _ := fromMag(mag, neg) // mag ≤ limit guarantees it fits
	return Money{Amount: v, Currency: c}, nil
}

// trimSymbol removes the currency's ISO code or locale symbol from the
// start (prefix) or end of s, with the spaces next to it.
func trimSymbol(s string, syms *currencySymbols, prefix bool) (string, bool) {
	best := ""
	for _, sym := range syms.parse {
		if sym == "" || len(sym) <= len(best) || len(sym) > len(s) {
			continue
		}
		var part string
		if prefix {
			part = s[:len(sym)]
		} else {
			part = s[len(s)-len(sym):]
		}
		if strings.EqualFold(part, sym) {
			best = sym
		}
	}
	if best == "" {
		return s, false
	}
	if prefix {
		return strings.TrimLeftFunc(s[len(best):], unicode.IsSpace), true
	}
	return strings.TrimRightFunc(s[:len(s)-len(best)], unicode.IsSpace), true
}

// normalize folds fullwidth forms to ASCII, drops invisible format marks
// (LRM, RLM, …) and trims surrounding spaces.
func normalize(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, width.Narrow.String(s))
	return strings.TrimFunc(s, unicode.IsSpace)
}

func leadingLetters(s string) string {
	end := 0
	for i, r := range s {
		if r > unicode.MaxASCII || !unicode.IsLetter(r) {
			break
		}
		end = i + 1
	}
	if end != 3 {
		return ""
	}
	return s[:end]
}

func isLetter(r rune) bool { return unicode.IsLetter(r) }

// wellGrouped checks the integer digit groups of step 6.
func wellGrouped(g []string) bool {
	first := g[0]
	if len(first) == 0 || len(first) > 3 || first[0] == '0' {
		return false
	}
	if len(g[len(g)-1]) != 3 {
		return false
	}
	western := true
	for _, x := range g[1:] {
		if len(x) != 3 {
			western = false
		}
	}
	if western {
		return true
	}
	// Indian grouping: 12,34,56,789
	if len(first) > 2 {
		return false
	}
	for _, x := range g[1 : len(g)-1] {
		if len(x) != 2 {
			return false
		}
	}
	return true
}

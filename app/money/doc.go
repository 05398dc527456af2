// Package money is Till's exact money type: an int64 count of minor units
// (Rappen, cents, øre, yen, fils) tagged with its ISO 4217 currency.
//
// # Basics
//
// A Currency comes from ParseCurrency ("chf", "CHF") or a predeclared
// variable (CHF, EUR, …). Its Exponent is the number of minor-unit digits:
// CLDR's value from golang.org/x/text/currency, corrected by a small table
// where ISO 4217 and the payment API keep digits CLDR hides (IDR, COP, IQD,
// …). JPY, KRW, CLP, VND, ISK, XAF, XOF, PYG and UGX have 0 digits; BHD,
// JOD, KWD, OMR and TND have 3. StripeCode and StripeAmount give what the
// Stripe API wants (lower-case code; ISK and UGX in two-decimal form).
//
// Money{Amount, Currency} is a value. Add, Sub, MulInt, MulRatio, Percent,
// RoundTo and Allocate return an error instead of wrapping on int64
// overflow (ErrOverflow) and refuse to mix currencies (ErrCurrencyMismatch).
// Every rounding in this package is half away from zero ("half-up" on the
// magnitude), so a refund rounds exactly like the sale it reverses.
// Allocate splits an amount by weights with the largest-remainder method,
// so the parts always add up to the whole.
//
// Format renders an amount for a locale with CLDR's symbol, grouping and
// decimal separator; Parse reads what a cashier types ("12.50", "12,50",
// "1'234.50", "1 234,50", "1.234,50", "CHF 5") and explains in a *ParseError
// (wrapping ErrSyntax, ErrAmbiguous, ErrTooManyDecimals, ErrOutOfRange, …)
// why it refused anything else. The exact rules are on Parser.Parse.
//
// CashRules.Round rounds an amount due in cash to the smallest coin: CHF to
// 0.05, SEK, NOK and DKK to whole units by default, configurable per
// currency.
//
// # Caveats
//
// No float64 is used anywhere, including formatting: x/text only ever
// formats the integer part, as an integer.
//
// Format always uses Latin digits (it forces the "latn" numbering system),
// so that what is shown can be typed back; the symbol placement comes from
// a table in this package because x/text has no currency patterns, and
// unlisted languages get "symbol, space, number".
//
// x/text's CLDR data is a snapshot: currencies introduced after it (for
// example MRU, VES, SLE) are unknown to ParseCurrency until x/text is
// updated.
//
// Parse accepts a currency symbol only for the expected currency; it never
// converts.
//
// Separators and symbols are computed once per locale (and per locale and
// currency) and cached for the life of the process; a till uses a handful
// of locales, but a program fed arbitrary language tags grows that cache.
package money

package money

import "errors"

// Sentinel errors. Functions wrap them with context (the operation and the
// offending value); test for them with errors.Is.
var (
	// ErrUnknownCurrency: the code is not an ISO 4217 currency in legal
	// tender, or the Currency is the zero value.
	ErrUnknownCurrency = errors.New("unknown currency")

	// ErrCurrencyMismatch: an operation mixed two currencies.
	ErrCurrencyMismatch = errors.New("currency mismatch")

	// ErrOverflow: the exact result does not fit in an int64 of minor units.
	ErrOverflow = errors.New("amount overflows int64 minor units")

	// ErrInvalidArgument: a ratio with a zero denominator, negative
	// allocation weights, a non-positive rounding increment and the like.
	ErrInvalidArgument = errors.New("invalid argument")
)

// Errors returned by Parse, always wrapped in a *ParseError.
var (
	// ErrEmpty: nothing but spaces (and possibly a currency symbol) was typed.
	ErrEmpty = errors.New("no amount")

	// ErrSyntax: a character that is not a digit, a separator, a sign or the
	// currency's symbol or code; or separators in impossible places.
	ErrSyntax = errors.New("invalid amount")

	// ErrAmbiguous: the text reads as two different amounts (for example
	// "1,234" in a three-decimal currency) and the locale does not settle it.
	ErrAmbiguous = errors.New("ambiguous amount")

	// ErrTooManyDecimals: more fraction digits than the currency has.
	ErrTooManyDecimals = errors.New("too many decimals for the currency")

	// ErrOutOfRange: the amount does not fit in int64 minor units or exceeds
	// the parser's maximum.
	ErrOutOfRange = errors.New("amount out of range")

	// ErrNegative: a minus sign where negative amounts are not allowed.
	ErrNegative = errors.New("negative amount not allowed")

	// ErrWrongCurrency: the text names a different currency than expected.
	ErrWrongCurrency = errors.New("amount is in another currency")
)

package report

import "errors"

// Sentinel errors returned (wrapped, with the order, action or field
// concerned) by Make. Test for them with errors.Is. Arithmetic overflow of
// a total surfaces as money.ErrOverflow.
var (
	// ErrInvalidInput: a field of Input is unusable on its own: an empty
	// or reversed period, a zero GeneratedAt, an invalid lane name, a
	// negative count, an action without currency, with a negative amount,
	// without the identifiers it needs, or a cancellation reason that is
	// not a lower-case API code.
	ErrInvalidInput = errors.New("invalid report input")

	// ErrInconsistent: the pieces of Input contradict each other or an
	// order contradicts itself: a nil or duplicate order, an order of
	// another lane or created outside the period, several currencies
	// inside one order, a completed order whose tenders do not cover what
	// was due, or one PaymentIntent with two reconciliation outcomes.
	ErrInconsistent = errors.New("inconsistent report input")
)

package order

import "errors"

// Sentinel errors; the package wraps them with the order, line or tender
// concerned. Arithmetic overflow and currency mismatches surface as
// money.ErrOverflow and money.ErrCurrencyMismatch.
var (
	// ErrImmutable: the order is completed or voided; nothing about it can
	// change any more. Corrections are new orders (refunds).
	ErrImmutable = errors.New("order is closed and cannot change")

	// ErrInvalidTransition: the status change is not allowed from the
	// current status (or its preconditions, such as "at least one line",
	// are not met).
	ErrInvalidTransition = errors.New("invalid order status transition")

	// ErrCartLocked: lines or discounts were changed while tendering; go
	// back to the cart (BackToCart) first.
	ErrCartLocked = errors.New("cart cannot change while tendering")

	// ErrInvalidQuantity: a quantity that is not in 1…Config.MaxQuantity.
	ErrInvalidQuantity = errors.New("invalid quantity")

	// ErrTooManyLines: more than Config.MaxLines lines.
	ErrTooManyLines = errors.New("too many lines")

	// ErrInvalidDiscount: a negative amount, a percentage outside 0-100 %
	// or an unknown discount kind.
	ErrInvalidDiscount = errors.New("invalid discount")

	// ErrDiscountTooLarge: a discount larger than what it applies to.
	// Discounts are never clamped silently.
	ErrDiscountTooLarge = errors.New("discount larger than the amount it applies to")

	// ErrNoSuchLine and ErrNoSuchTender: unknown line or tender id.
	ErrNoSuchLine   = errors.New("no such line")
	ErrNoSuchTender = errors.New("no such tender")

	// ErrInvalidTender: a tender with a non-positive amount, a missing
	// PaymentIntent id, cash given that is less than zero, and the like.
	ErrInvalidTender = errors.New("invalid tender")

	// ErrOverpaid: a non-cash tender larger than the amount still due
	// (only cash gives change).
	ErrOverpaid = errors.New("tender exceeds the amount due")

	// ErrUnderpaid: completing an order whose tenders do not cover the
	// amount due.
	ErrUnderpaid = errors.New("tenders do not cover the amount due")

	// ErrInvalidLane: a lane name that is empty, too long or not made of
	// letters, digits and "_".
	ErrInvalidLane = errors.New("invalid lane")

	// ErrUnsupportedVersion: stored bytes carry a schema version this build
	// does not know (usually written by a newer Till).
	ErrUnsupportedVersion = errors.New("unsupported order schema version")

	// ErrCorrupt: stored bytes are not a valid order.
	ErrCorrupt = errors.New("corrupt order data")
)

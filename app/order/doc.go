// Package order is the sale: a cart of lines with discounts and VAT, the
// tenders that pay it, and a status that ends in completed or voided.
//
// # Basics
//
// A Lane (one till) creates orders with ids "<lane>-<ULID>" that sort by
// creation time and are unique per lane. An Order starts open; the cashier
// adds products (AddProduct merges a rescanned product into its line),
// changes quantities, removes lines and sets line or cart discounts, a fixed
// amount or a percentage. Every change recomputes the Totals, and a change
// whose totals cannot be computed (an oversize discount, an int64 overflow)
// is refused and leaves the order as it was.
//
// StartTendering locks the cart. Tenders are cash (AddCash, with change and
// cash rounding to the smallest coin per money.CashRules) or card and wallet
// payments (AddPayment, carrying the PaymentIntent id, status, brand and
// last four digits; SetPaymentStatus follows its status). BackToCart
// unlocks the cart while no tender counts yet. Complete needs the counting
// tenders to cover the amount due; Void abandons the order. A completed or
// voided order is immutable: every mutator returns ErrImmutable, and
// corrections are new orders.
//
//	open ──StartTendering──▶ tendering ──Complete──▶ completed
//	  ▲                          │
//	  └────────BackToCart────────┘
//	open, tendering ──Void──▶ voided
//
// Marshal and Unmarshal turn an order into bytes for the store and back
// (JSON with "v": 1). Unmarshal re-checks every invariant, including that
// the stored totals match a recomputation.
//
// # Rounding
//
// Cart.Totals documents the rules; in short: discounts are rounded half-up
// once, where they apply, and a cart discount is allocated to the lines by
// largest remainder; VAT is computed once per rate on the rate's summed
// amount (the figure on the receipt's VAT summary) and allocated to that
// rate's lines by largest remainder. Lines therefore always add up exactly
// to the totals, no line goes below zero, and tax is never negative.
//
// # Caveats
//
// Time comes from the clock given to NewLane or Unmarshal, never from
// time.Now inside the package.
//
// A completed order is frozen, including its tenders' PaymentIntent
// statuses: a later capture's result belongs to the outbox entry that made
// it, not to the order.
//
// Oversize discounts are errors (ErrDiscountTooLarge), not clamped.
package order

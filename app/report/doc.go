// Package report makes a lane's end-of-day Z report from the day's orders
// and the reconciliation's outcome, and presents it as printable lines, a
// CSV file for the accountant and a PNG for an 80 mm receipt printer.
//
// # Basics
//
// The caller gathers an Input: the lane, the period [From, To) (a local
// calendar day), the orders created in it (any status), the
// reconciliation's captures, cancellations and failed actions, the day's
// refunds, the store-and-forward payments not yet forwarded, the payments
// that failed after their sale, and the outbox counts. Make checks it and
// adds it up into a Report: per currency, the sales count, gross (what the
// completed sales were due, cash rounding included), net, VAT in total and
// by rate, discounts, cash rounding, the payments by tender (card online,
// card offline, cash, TWINT, MobilePay, SEPA debit), voids, refunds, sales
// still open, payments to follow up, and the reconciliation's captures,
// cancellations (by reason) and failed actions.
//
// Every amount is a money.Money in exact minor units; nothing goes through
// a float. Per currency the figures add up: Gross = Net + Tax +
// CashRounding, the VAT summary adds up to Net and Tax, and the tenders add
// up to Gross (plus Overpaid, normally zero). A payment that failed after
// its sale still counts in its tender row (that is what the till took at
// the time) and is listed again under "failed after the sale".
//
// Lines gives the report as label/value lines for the screen and the
// printer, labels through Fyne's lang.L (so the app's catalogs translate
// them) and money, counts, percentages and dates in the report's locale.
// WritePNG draws those lines, black on white at 1 bit per pixel, 576 pixels
// wide, in the embedded Go Mono font; WriteCSV writes machine-readable rows
// with stable English keys, the exact minor units and the formatted amount.
//
// # Caveats
//
// Make refuses input that does not add up rather than guessing: an order
// created outside the period or at another lane, the same order twice, a
// completed order whose tenders do not cover its amount due, a
// PaymentIntent both captured and cancelled. It wraps ErrInvalidInput,
// ErrInconsistent or money.ErrOverflow; filter the orders before calling.
//
// Sales are attributed to the day the order was created, as the Input
// says; a sale rung up before midnight and paid after it belongs to the
// earlier day.
//
// Orders are frozen when completed, so "card, offline" counts the card
// payments taken offline that day whether or not they have been forwarded
// since; what is still waiting comes from Input.OfflinePending.
//
// Dates use a small table of CLDR numeric date patterns (Go and x/text
// have no CLDR date formatting) and fall back to ISO 8601; times are shown
// in From's location. Lines depends on the translation catalogs loaded in
// the process, so call it where the app's language is set.
//
// The PNG is deterministic for a given report and platform (the fonts are
// embedded), but glyphs are rasterised with float32 arithmetic, so a
// golden image made on one architecture may differ by a pixel on another.
// Characters Go Mono lacks are replaced ("?" at worst); CJK text needs
// another font.
package report

package order

import (
	"fmt"
	"slices"
	"time"

	"github.com/tillpos/till/app/catalog"
	"github.com/tillpos/till/app/money"
)

// Status is an order's place in its life cycle:
//
//	open ──StartTendering──▶ tendering ──Complete──▶ completed
//	  ▲                          │
//	  └────────BackToCart────────┘
//	open, tendering ──Void──▶ voided
//
// completed and voided are final.
type Status string

const (
	StatusOpen      Status = "open"
	StatusTendering Status = "tendering"
	StatusCompleted Status = "completed"
	StatusVoided    Status = "voided"
)

// Final reports whether s is completed or voided.
func (s Status) Final() bool { return s == StatusCompleted || s == StatusVoided }

func (s Status) valid() bool {
	return s == StatusOpen || s == StatusTendering || s.Final()
}

// TenderKind is how a tender pays.
type TenderKind string

const (
	TenderCash      TenderKind = "cash"
	TenderCard      TenderKind = "card"
	TenderTwint     TenderKind = "twint"
	TenderMobilePay TenderKind = "mobilepay"
	// TenderSEPADebit is a returning customer's saved SEPA Direct Debit
	// mandate: the sale completes while the debit is processed.
	TenderSEPADebit TenderKind = "sepa_debit"
)

func (k TenderKind) valid() bool {
	return k == TenderCash || k == TenderCard || k == TenderTwint || k == TenderMobilePay || k == TenderSEPADebit
}

// PaymentStatus is the Stripe PaymentIntent status a card or wallet tender
// was last seen in.
type PaymentStatus string

// The PaymentIntent statuses (Stripe's names).
const (
	PaymentRequiresPaymentMethod PaymentStatus = "requires_payment_method"
	PaymentRequiresConfirmation  PaymentStatus = "requires_confirmation"
	PaymentRequiresAction        PaymentStatus = "requires_action"
	PaymentProcessing            PaymentStatus = "processing"
	PaymentRequiresCapture       PaymentStatus = "requires_capture"
	PaymentSucceeded             PaymentStatus = "succeeded"
	PaymentCanceled              PaymentStatus = "canceled"
)

func (s PaymentStatus) valid() bool {
	switch s {
	case PaymentRequiresPaymentMethod, PaymentRequiresConfirmation, PaymentRequiresAction,
		PaymentProcessing, PaymentRequiresCapture, PaymentSucceeded, PaymentCanceled:
		return true
	}
	return false
}

// Secured reports whether the money is secured: authorised (awaiting
// capture) or captured.
func (s PaymentStatus) Secured() bool {
	return s == PaymentRequiresCapture || s == PaymentSucceeded
}

// Pending reports whether the payment is being processed (a SEPA debit):
// the sale is done, the money not yet, and events settle it.
func (s PaymentStatus) Pending() bool { return s == PaymentProcessing }

// Payment is what a card or wallet tender records about its PaymentIntent.
// Card numbers never reach the app: only brand and last four digits.
type Payment struct {
	PaymentIntentID string        `json:"payment_intent"`
	Status          PaymentStatus `json:"status"`
	Brand           string        `json:"brand,omitempty"` // "visa", "mastercard", …
	Last4           string        `json:"last4,omitempty"`
	// Offline marks a store-and-forward card payment taken without a
	// connection, to be forwarded when the connection returns. Until it is
	// (Forwarding), PaymentIntentID is empty, Ref names the payment, and
	// Stored holds the reader's payment payload sealed with the till's
	// install key — never the payload in clear.
	Offline  bool      `json:"offline,omitempty"`
	Ref      string    `json:"ref,omitempty"`
	Stored   []byte    `json:"stored,omitempty"`
	StoredAt time.Time `json:"stored_at,omitzero"`
	// CaptureBefore is when an uncaptured authorisation lapses (the
	// API's capture_before); zero when not known or not uncaptured.
	CaptureBefore time.Time `json:"capture_before,omitzero"`
	// Refunded marks a captured payment refunded when its sale was
	// voided after payment.
	Refunded bool `json:"refunded,omitempty"`
	// Decline is the last declined attempt on this PaymentIntent, kept so
	// the cashier sees why; a later status other than
	// requires_payment_method clears it.
	Decline *Decline `json:"decline,omitempty"`

	// Method is the API's payment method type used ("card_present",
	// "card", "sepa_debit", "twint", "mobilepay"); empty until known.
	Method string `json:"method,omitempty"`
	// SavedMethod is the returning customer's saved payment method
	// (pm_…) this payment charges; empty for a card on the reader.
	SavedMethod string `json:"saved_method,omitempty"`
	// Action is what the customer must do (scan a wallet's QR code), while
	// the PaymentIntent requires_action.
	Action *Action `json:"action,omitempty"`
	// Failed marks a payment that failed after its sale completed (a SEPA
	// debit returned): the order is unpaid and on the manager's list.
	Failed bool `json:"failed,omitempty"`
}

// Forwarding reports whether the payment was taken offline and has not
// reached the payment service yet (no PaymentIntent).
func (p *Payment) Forwarding() bool {
	return p != nil && p.Offline && p.PaymentIntentID == "" && !p.Failed && p.Status != PaymentCanceled
}

// Action is a customer action a payment waits for: the wallet's page
// (shown as a QR code) and when the customer's time runs out (zero when
// the wallet sets no limit).
type Action struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires,omitzero"`
}

// Customer is the returning customer a sale is for, and whether they
// agreed to keep the card they pay with for later.
type Customer struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	SaveCard bool   `json:"save_card,omitempty"`
}

// Decline is why the issuer refused a payment attempt: Stripe's
// decline_code (e.g. "insufficient_funds") and its message for people.
type Decline struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// Cash is what a cash tender records.
type Cash struct {
	Given  money.Money `json:"given"`
	Change money.Money `json:"change"`
}

// Tender is one payment towards an order. Amount is what it contributes:
// for cash, Given − Change.
type Tender struct {
	ID      int         `json:"id"`
	Kind    TenderKind  `json:"kind"`
	Amount  money.Money `json:"amount"`
	Payment *Payment    `json:"payment,omitempty"` // card and wallets
	Cash    *Cash       `json:"cash,omitempty"`    // cash
	At      time.Time   `json:"at"`
}

// Counts reports whether the tender pays towards the order: cash always,
// card and wallets once their PaymentIntent is authorised or captured,
// being processed (a SEPA debit: the sale completes "payment pending"), or
// taken offline and waiting to be forwarded (store-and-forward).
func (t Tender) Counts() bool {
	if t.Kind == TenderCash {
		return true
	}
	return t.Payment != nil && (t.Payment.Status.Secured() || t.Payment.Status.Pending() || t.Payment.Forwarding())
}

func (t Tender) clone() Tender {
	if t.Payment != nil {
		p := *t.Payment
		if p.Decline != nil {
			d := *p.Decline
			p.Decline = &d
		}
		if p.Action != nil {
			a := *p.Action
			p.Action = &a
		}
		p.Stored = slices.Clone(p.Stored)
		t.Payment = &p
	}
	if t.Cash != nil {
		c := *t.Cash
		t.Cash = &c
	}
	return t
}

// Order is one sale at one lane. Create it with Lane.NewOrder; restore it
// with Unmarshal. Its fields are reachable through methods only, so an
// order changes only through the transitions and mutators below, each of
// which checks the status: every mutator of a completed or voided order
// returns ErrImmutable; changing the cart while tendering returns
// ErrCartLocked. A failed mutator leaves the order exactly as it was.
//
// An Order is not safe for concurrent use.
type Order struct {
	id     string
	lane   string
	config Config
	status Status
	cart   Cart
	totals Totals
	// cashRounding is added to the total when cash settles the balance
	// (CHF 12.42 due → 12.40 paid in cash: rounding −0.02).
	cashRounding money.Money
	tenders      []Tender
	nextLine     int
	nextTender   int
	createdAt    time.Time
	updatedAt    time.Time
	completedAt  time.Time
	voidedAt     time.Time
	voidReason   string
	customer     *Customer

	clock func() time.Time
}

// ID returns the order id, "<lane>-<ULID>".
func (o *Order) ID() string { return o.id }

// Lane returns the lane (till) that rang the order up.
func (o *Order) Lane() string { return o.lane }

// Config returns the store configuration the order is priced with.
func (o *Order) Config() Config { return o.config }

// Currency returns the order's currency.
func (o *Order) Currency() money.Currency { return o.config.Currency }

// Status returns the current status.
func (o *Order) Status() Status { return o.status }

// Cart returns a copy of the lines and cart discount.
func (o *Order) Cart() Cart { return o.cart.clone() }

// Lines returns a copy of the lines.
func (o *Order) Lines() []Line { return slices.Clone(o.cart.Lines) }

// Totals returns a copy of the current totals.
func (o *Order) Totals() Totals { return o.totals.clone() }

// Tenders returns a copy of the tenders in the order they were added.
func (o *Order) Tenders() []Tender {
	out := make([]Tender, len(o.tenders))
	for i, t := range o.tenders {
		out[i] = t.clone()
	}
	return out
}

// CashRounding returns the cash rounding applied to the amount due (zero
// unless cash settled the balance).
func (o *Order) CashRounding() money.Money { return o.cashRounding }

// Due returns the amount to pay: the total plus any cash rounding.
func (o *Order) Due() money.Money {
	return money.New(o.totals.Total.Amount+o.cashRounding.Amount, o.config.Currency)
}

// Paid returns the sum of the tenders that count (see Tender.Counts).
func (o *Order) Paid() money.Money {
	var sum int64
	for _, t := range o.tenders {
		if t.Counts() {
			sum += t.Amount.Amount // each ≤ the due amount when added; bounded
		}
	}
	return money.New(sum, o.config.Currency)
}

// Remaining returns Due − Paid (negative never happens: only cash can
// exceed the due amount and its excess is change).
func (o *Order) Remaining() money.Money {
	return money.New(o.Due().Amount-o.Paid().Amount, o.config.Currency)
}

// CreatedAt, UpdatedAt, CompletedAt and VoidedAt are the timestamps from
// the lane's clock; the last two are zero until they happen.
func (o *Order) CreatedAt() time.Time   { return o.createdAt }
func (o *Order) UpdatedAt() time.Time   { return o.updatedAt }
func (o *Order) CompletedAt() time.Time { return o.completedAt }
func (o *Order) VoidedAt() time.Time    { return o.voidedAt }

// VoidReason returns the reason given to Void.
func (o *Order) VoidReason() string { return o.voidReason }

// Customer returns a copy of the sale's returning customer, or nil.
func (o *Order) Customer() *Customer {
	if o.customer == nil {
		return nil
	}
	c := *o.customer
	return &c
}

// SetCustomer attaches a returning customer to a sale that is not
// finished (nil detaches). The customer is tied to the payments made
// after it: attach it before charging.
func (o *Order) SetCustomer(c *Customer) error {
	const op = "set customer"
	if o.status.Final() {
		return o.errf(op, fmt.Errorf("order is %s: %w", o.status, ErrImmutable))
	}
	if c != nil {
		if c.ID == "" || len(c.ID) > 255 || len(c.Name) > 512 {
			return o.errf(op, fmt.Errorf("customer id %q: %w", c.ID, ErrInvalidTender))
		}
		cc := *c
		c = &cc
	}
	o.customer, o.updatedAt = c, o.now()
	return nil
}

// PaymentPending reports whether a payment of the order is still being
// processed (the receipt says "payment pending").
func (o *Order) PaymentPending() bool {
	return slices.ContainsFunc(o.tenders, func(t Tender) bool { return t.Payment != nil && t.Payment.Status.Pending() })
}

// PaymentFailed reports whether a payment failed after the sale completed:
// the order is not paid and belongs on the manager's list.
func (o *Order) PaymentFailed() bool {
	return slices.ContainsFunc(o.tenders, func(t Tender) bool { return t.Payment != nil && t.Payment.Failed })
}

func (o *Order) now() time.Time { return o.clock().UTC() }

func (o *Order) errf(op string, err error) error {
	return fmt.Errorf("order %s: %s: %w", o.id, op, err)
}

// editable checks the order accepts cart changes.
func (o *Order) editable(op string) error {
	switch o.status {
	case StatusOpen:
		return nil
	case StatusTendering:
		return o.errf(op, ErrCartLocked)
	}
	return o.errf(op, fmt.Errorf("order is %s: %w", o.status, ErrImmutable))
}

// withCart applies change to a copy of the cart and commits it only if the
// totals still compute, so a failed change leaves the order untouched.
func (o *Order) withCart(op string, change func(c *Cart) error) error {
	if err := o.editable(op); err != nil {
		return err
	}
	c := o.cart.clone()
	if err := change(&c); err != nil {
		return o.errf(op, err)
	}
	t, err := c.Totals(o.config)
	if err != nil {
		return o.errf(op, err)
	}
	o.cart, o.totals, o.updatedAt = c, t, o.now()
	return nil
}

func (c *Cart) index(id int) (int, error) {
	for i, l := range c.Lines {
		if l.ID == id {
			return i, nil
		}
	}
	return 0, fmt.Errorf("line %d: %w", id, ErrNoSuchLine)
}

// AddProduct rings up qty of p and returns the id of the line it went to.
// Ringing up the same product again (same SKU, name, price and tax rate)
// on a line without a discount adds to that line, like scanning twice.
func (o *Order) AddProduct(p catalog.Product, qty int64) (int, error) {
	var lineID int
	err := o.withCart("add "+p.SKU, func(c *Cart) error {
		if err := p.Validate(); err != nil {
			return err
		}
		if qty < 1 || qty > o.config.maxQuantity() {
			return fmt.Errorf("quantity %d outside 1-%d: %w", qty, o.config.maxQuantity(), ErrInvalidQuantity)
		}
		for i, l := range c.Lines {
			if l.SKU == p.SKU && l.Name == p.Name && l.UnitPrice == p.Price && l.TaxRate == p.TaxRate && l.Discount.IsZero() {
				q, ok := money.AddInt64(l.Quantity, qty)
				if !ok || q > o.config.maxQuantity() {
					return fmt.Errorf("quantity %d + %d above %d: %w", l.Quantity, qty, o.config.maxQuantity(), ErrInvalidQuantity)
				}
				c.Lines[i].Quantity = q
				lineID = l.ID
				return nil
			}
		}
		if len(c.Lines) >= o.config.maxLines() {
			return fmt.Errorf("%d lines: %w", len(c.Lines), ErrTooManyLines)
		}
		lineID = o.nextLine + 1
		c.Lines = append(c.Lines, Line{
			ID: lineID, SKU: p.SKU, Name: p.Name, UnitPrice: p.Price, TaxRate: p.TaxRate, Quantity: qty,
		})
		return nil
	})
	if err != nil {
		return 0, err
	}
	if lineID > o.nextLine {
		o.nextLine = lineID
	}
	return lineID, nil
}

// SetQuantity sets a line's quantity (1…MaxQuantity; remove a line with
// RemoveLine).
func (o *Order) SetQuantity(lineID int, qty int64) error {
	return o.withCart(fmt.Sprintf("set quantity of line %d", lineID), func(c *Cart) error {
		i, err := c.index(lineID)
		if err != nil {
			return err
		}
		c.Lines[i].Quantity = qty
		return nil
	})
}

// RemoveLine removes a line.
func (o *Order) RemoveLine(lineID int) error {
	return o.withCart(fmt.Sprintf("remove line %d", lineID), func(c *Cart) error {
		i, err := c.index(lineID)
		if err != nil {
			return err
		}
		c.Lines = slices.Delete(c.Lines, i, i+1)
		return nil
	})
}

// SetLineDiscount sets (or, with the zero Discount, clears) a line's
// discount. A fixed amount larger than the line is ErrDiscountTooLarge.
func (o *Order) SetLineDiscount(lineID int, d Discount) error {
	return o.withCart(fmt.Sprintf("discount line %d", lineID), func(c *Cart) error {
		i, err := c.index(lineID)
		if err != nil {
			return err
		}
		c.Lines[i].Discount = d
		return nil
	})
}

// SetCartDiscount sets (or clears) the whole-cart discount.
func (o *Order) SetCartDiscount(d Discount) error {
	return o.withCart("discount cart", func(c *Cart) error {
		c.Discount = d
		return nil
	})
}

// StartTendering moves an open order with at least one line to tendering:
// the cart is locked while payment is taken.
func (o *Order) StartTendering() error {
	switch {
	case o.status.Final():
		return o.errf("start tendering", fmt.Errorf("order is %s: %w", o.status, ErrImmutable))
	case o.status != StatusOpen:
		return o.errf("start tendering", fmt.Errorf("order is %s, not open: %w", o.status, ErrInvalidTransition))
	case len(o.cart.Lines) == 0:
		return o.errf("start tendering", fmt.Errorf("cart is empty: %w", ErrInvalidTransition))
	}
	o.status, o.updatedAt = StatusTendering, o.now()
	return nil
}

// BackToCart returns a tendering order to open so the cashier can change
// the cart. It is refused while a tender counts towards the order (cash
// taken, a card authorised): those must be settled first, because the
// PaymentIntent amount would no longer match the cart. Failed tenders are
// kept for the record; cash rounding is reset.
func (o *Order) BackToCart() error {
	switch {
	case o.status.Final():
		return o.errf("back to cart", fmt.Errorf("order is %s: %w", o.status, ErrImmutable))
	case o.status != StatusTendering:
		return o.errf("back to cart", fmt.Errorf("order is %s, not tendering: %w", o.status, ErrInvalidTransition))
	}
	for _, t := range o.tenders {
		if t.Counts() {
			return o.errf("back to cart", fmt.Errorf("tender %d (%s %v) already counts: %w", t.ID, t.Kind, t.Amount, ErrInvalidTransition))
		}
	}
	o.status, o.cashRounding, o.updatedAt = StatusOpen, money.Zero(o.config.Currency), o.now()
	return nil
}

func (o *Order) tendering(op string) error {
	switch {
	case o.status.Final():
		return o.errf(op, fmt.Errorf("order is %s: %w", o.status, ErrImmutable))
	case o.status != StatusTendering:
		return o.errf(op, fmt.Errorf("order is %s, not tendering: %w", o.status, ErrInvalidTransition))
	}
	return nil
}

// AddCash records cash handed over. When given covers the remaining amount
// rounded to the cash increment (rules.Round: CHF to 0.05, …), the
// difference becomes the order's cash rounding, the tender's Amount is that
// rounded amount and the rest is change. When given is less, it is a
// partial payment: Amount = given, no change, no rounding (another tender
// settles the rest). A remainder that rounds to zero (CHF 0.02) is settled
// by rounding alone: the tender's Amount is 0 and all cash is change. It
// fails with ErrOverpaid when nothing remains due.
func (o *Order) AddCash(given money.Money, rules money.CashRules) (Tender, error) {
	const op = "add cash"
	if err := o.tendering(op); err != nil {
		return Tender{}, err
	}
	cur := o.config.Currency
	if given.Currency != cur {
		return Tender{}, o.errf(op, fmt.Errorf("cash %v in an order in %s: %w", given, cur, money.ErrCurrencyMismatch))
	}
	if given.Amount <= 0 {
		return Tender{}, o.errf(op, fmt.Errorf("cash given %v: %w", given, ErrInvalidTender))
	}
	remaining := o.Remaining()
	if remaining.Amount <= 0 {
		return Tender{}, o.errf(op, fmt.Errorf("nothing left to pay: %w", ErrOverpaid))
	}
	rounded, err := rules.Round(remaining)
	if err != nil {
		return Tender{}, o.errf(op, err)
	}
	t := Tender{ID: o.nextTender + 1, Kind: TenderCash, At: o.now()}
	rounding := o.cashRounding
	if given.Amount >= rounded.Amount {
		t.Amount = rounded
		t.Cash = &Cash{Given: given, Change: money.New(given.Amount-rounded.Amount, cur)}
		rounding = money.New(o.cashRounding.Amount+rounded.Amount-remaining.Amount, cur)
	} else {
		t.Amount = given
		t.Cash = &Cash{Given: given, Change: money.Zero(cur)}
	}
	o.tenders = append(o.tenders, t)
	o.nextTender, o.cashRounding, o.updatedAt = t.ID, rounding, t.At
	return t.clone(), nil
}

// AddPayment records a card or wallet tender for amount, which must not
// exceed the remaining amount due (ErrOverpaid). Record it as soon as the
// PaymentIntent exists, with its current status, and keep it current with
// SetPaymentStatus; it counts once the status is secured or Offline is set.
func (o *Order) AddPayment(kind TenderKind, amount money.Money, p Payment) (Tender, error) {
	op := "add " + string(kind) + " payment"
	if err := o.tendering(op); err != nil {
		return Tender{}, err
	}
	switch {
	case kind == TenderCash || !kind.valid():
		return Tender{}, o.errf(op, fmt.Errorf("kind %q is not a card or wallet: %w", kind, ErrInvalidTender))
	case amount.Currency != o.config.Currency:
		return Tender{}, o.errf(op, fmt.Errorf("%v in an order in %s: %w", amount, o.config.Currency, money.ErrCurrencyMismatch))
	case amount.Amount <= 0:
		return Tender{}, o.errf(op, fmt.Errorf("amount %v: %w", amount, ErrInvalidTender))
	case p.PaymentIntentID == "" && !p.Offline || len(p.PaymentIntentID) > 255:
		return Tender{}, o.errf(op, fmt.Errorf("missing PaymentIntent id: %w", ErrInvalidTender))
	case p.Offline && (kind != TenderCard || p.PaymentIntentID != "" || p.Ref == "" || len(p.Ref) > 64 || len(p.Stored) == 0 || p.StoredAt.IsZero()):
		return Tender{}, o.errf(op, fmt.Errorf("an offline payment is a card with its reference, its sealed payload and when it was taken, and no PaymentIntent yet: %w", ErrInvalidTender))
	case !p.Offline && len(p.Stored) > 0:
		return Tender{}, o.errf(op, fmt.Errorf("a sealed payload on a payment not taken offline: %w", ErrInvalidTender))
	case !p.Status.valid():
		return Tender{}, o.errf(op, fmt.Errorf("PaymentIntent status %q: %w", p.Status, ErrInvalidTender))
	case len(p.Last4) != 0 && len(p.Last4) != 4:
		return Tender{}, o.errf(op, fmt.Errorf("last4 %q: %w", p.Last4, ErrInvalidTender))
	}
	for _, t := range o.tenders {
		if t.Payment != nil && p.PaymentIntentID != "" && t.Payment.PaymentIntentID == p.PaymentIntentID {
			return Tender{}, o.errf(op, fmt.Errorf("PaymentIntent %s already recorded as tender %d: %w", p.PaymentIntentID, t.ID, ErrInvalidTender))
		}
	}
	if amount.Amount > o.Remaining().Amount {
		return Tender{}, o.errf(op, fmt.Errorf("%v with %v remaining: %w", amount, o.Remaining(), ErrOverpaid))
	}
	p.Stored = slices.Clone(p.Stored)
	p.StoredAt = p.StoredAt.UTC().Round(0)
	t := Tender{ID: o.nextTender + 1, Kind: kind, Amount: amount, Payment: &p, At: o.now()}
	o.tenders = append(o.tenders, t)
	o.nextTender, o.updatedAt = t.ID, t.At
	return t.clone(), nil
}

// SetPaymentStatus updates the PaymentIntent status (and, when non-empty,
// brand and last4) of a card or wallet tender, e.g. after a decline
// (requires_payment_method) or an authorisation (requires_capture).
// A tender that would start counting again must still fit in the amount
// due (ErrOverpaid).
func (o *Order) SetPaymentStatus(tenderID int, status PaymentStatus, brand, last4 string) error {
	op := fmt.Sprintf("update tender %d", tenderID)
	if err := o.tendering(op); err != nil {
		return err
	}
	if !status.valid() {
		return o.errf(op, fmt.Errorf("PaymentIntent status %q: %w", status, ErrInvalidTender))
	}
	if len(last4) != 0 && len(last4) != 4 {
		return o.errf(op, fmt.Errorf("last4 %q: %w", last4, ErrInvalidTender))
	}
	i := slices.IndexFunc(o.tenders, func(t Tender) bool { return t.ID == tenderID })
	if i < 0 || o.tenders[i].Payment == nil {
		return o.errf(op, ErrNoSuchTender)
	}
	t := o.tenders[i].clone()
	if t.Payment.Status == status && (brand == "" || brand == t.Payment.Brand) && (last4 == "" || last4 == t.Payment.Last4) &&
		(status == PaymentRequiresPaymentMethod || t.Payment.Decline == nil) {
		return nil // nothing changes
	}
	before := t.Counts()
	t.Payment.Status = status
	if status != PaymentRequiresPaymentMethod {
		t.Payment.Decline = nil
	}
	if brand != "" {
		t.Payment.Brand = brand
	}
	if last4 != "" {
		t.Payment.Last4 = last4
	}
	if !before && t.Counts() && t.Amount.Amount > o.Remaining().Amount {
		return o.errf(op, fmt.Errorf("%v with %v remaining: %w", t.Amount, o.Remaining(), ErrOverpaid))
	}
	o.tenders[i], o.updatedAt = t, o.now()
	return nil
}

// ReinstatePayment brings a payment given up (cancelled) back into play,
// because the customer paid it after all (a wallet approved while its
// cancel was on the way); its status is then set from the API's answer.
func (o *Order) ReinstatePayment(tenderID int) error {
	op := fmt.Sprintf("reinstate tender %d", tenderID)
	if err := o.tendering(op); err != nil {
		return err
	}
	i := slices.IndexFunc(o.tenders, func(t Tender) bool { return t.ID == tenderID })
	if i < 0 || o.tenders[i].Payment == nil {
		return o.errf(op, ErrNoSuchTender)
	}
	t := o.tenders[i].clone()
	if t.Payment.Status != PaymentCanceled {
		return nil
	}
	t.Payment.Status = PaymentRequiresPaymentMethod
	o.tenders[i], o.updatedAt = t, o.now()
	return nil
}

// SetPaymentAction records what the customer must do for a tendering
// payment (a wallet's QR code), or clears it (nil).
func (o *Order) SetPaymentAction(tenderID int, a *Action) error {
	op := fmt.Sprintf("set action of tender %d", tenderID)
	if err := o.tendering(op); err != nil {
		return err
	}
	i := slices.IndexFunc(o.tenders, func(t Tender) bool { return t.ID == tenderID })
	if i < 0 || o.tenders[i].Payment == nil {
		return o.errf(op, ErrNoSuchTender)
	}
	if a != nil && (a.URL == "" || len(a.URL) > 2048) {
		return o.errf(op, fmt.Errorf("action URL of %d bytes: %w", len(a.URL), ErrInvalidTender))
	}
	t := o.tenders[i].clone()
	if a == nil && t.Payment.Action == nil || a != nil && t.Payment.Action != nil && *a == *t.Payment.Action {
		return nil // nothing changes
	}
	if a != nil {
		aa := *a
		a = &aa
	}
	t.Payment.Action = a
	o.tenders[i], o.updatedAt = t, o.now()
	return nil
}

// SetPaymentMethod records which payment method a tendering payment uses
// (the API's type, and the saved method when one is charged).
func (o *Order) SetPaymentMethod(tenderID int, method, saved string) error {
	op := fmt.Sprintf("set method of tender %d", tenderID)
	if err := o.tendering(op); err != nil {
		return err
	}
	i := slices.IndexFunc(o.tenders, func(t Tender) bool { return t.ID == tenderID })
	if i < 0 || o.tenders[i].Payment == nil {
		return o.errf(op, ErrNoSuchTender)
	}
	if len(method) > 64 || len(saved) > 255 {
		return o.errf(op, fmt.Errorf("method %q: %w", method, ErrInvalidTender))
	}
	t := o.tenders[i].clone()
	if t.Payment.Method == method && t.Payment.SavedMethod == saved {
		return nil // nothing changes
	}
	t.Payment.Method, t.Payment.SavedMethod = method, saved
	o.tenders[i], o.updatedAt = t, o.now()
	return nil
}

// SettlePayment records the final outcome of a payment that was not
// final when its sale completed: a debit being processed (SEPA) or an
// authorisation awaiting capture. It succeeds, or fails
// (requires_payment_method or canceled, with why): a failed payment marks
// the order unpaid (PaymentFailed) for the manager, and the order stays
// completed. On a sale voided after payment, a cancelled authorisation is
// the void's own doing and not a failure. Settling the same outcome again
// changes nothing.
func (o *Order) SettlePayment(tenderID int, status PaymentStatus, d *Decline) error {
	op := fmt.Sprintf("settle tender %d", tenderID)
	if o.status != StatusCompleted && !o.VoidedAfterPayment() {
		return o.errf(op, fmt.Errorf("order is %s, not completed: %w", o.status, ErrInvalidTransition))
	}
	i := slices.IndexFunc(o.tenders, func(t Tender) bool { return t.ID == tenderID })
	if i < 0 || o.tenders[i].Payment == nil {
		return o.errf(op, ErrNoSuchTender)
	}
	t := o.tenders[i].clone()
	if t.Payment.Status == status {
		return nil
	}
	from := t.Payment.Status
	if !from.Pending() && from != PaymentRequiresCapture {
		return o.errf(op, fmt.Errorf("its payment is %s, not processing or awaiting capture: %w", from, ErrInvalidTransition))
	}
	switch status {
	case PaymentSucceeded:
		t.Payment.CaptureBefore = time.Time{}
	case PaymentRequiresPaymentMethod, PaymentCanceled:
		if status == PaymentRequiresPaymentMethod && from != PaymentProcessing {
			return o.errf(op, fmt.Errorf("an authorisation cannot become %s: %w", status, ErrInvalidTransition))
		}
		t.Payment.CaptureBefore = time.Time{}
		if o.status == StatusVoided {
			break
		}
		t.Payment.Failed = true
		if d != nil {
			dd := *d
			t.Payment.Decline = &dd
		}
	default:
		return o.errf(op, fmt.Errorf("a %s payment cannot become %s: %w", from, status, ErrInvalidTransition))
	}
	t.Payment.Status = status
	o.tenders[i], o.updatedAt = t, o.now()
	return nil
}

// SetPaymentAmount changes what a card or wallet tender asks for, after
// the cart changed: its PaymentIntent is updated to match before a card is
// collected again (SPEC §2.1). Only a payment still waiting for a payment
// method can change, and the new amount must fit what remains due.
func (o *Order) SetPaymentAmount(tenderID int, amount money.Money) error {
	op := fmt.Sprintf("change tender %d amount", tenderID)
	if err := o.tendering(op); err != nil {
		return err
	}
	i := slices.IndexFunc(o.tenders, func(t Tender) bool { return t.ID == tenderID })
	switch {
	case i < 0 || o.tenders[i].Payment == nil:
		return o.errf(op, ErrNoSuchTender)
	case o.tenders[i].Payment.Status != PaymentRequiresPaymentMethod:
		return o.errf(op, fmt.Errorf("its payment is %s: %w", o.tenders[i].Payment.Status, ErrInvalidTransition))
	case amount.Currency != o.config.Currency:
		return o.errf(op, fmt.Errorf("%v in an order in %s: %w", amount, o.config.Currency, money.ErrCurrencyMismatch))
	case amount.Amount <= 0:
		return o.errf(op, fmt.Errorf("amount %v: %w", amount, ErrInvalidTender))
	case amount.Amount > o.Remaining().Amount:
		return o.errf(op, fmt.Errorf("%v with %v remaining: %w", amount, o.Remaining(), ErrOverpaid))
	}
	t := o.tenders[i].clone()
	t.Amount = amount
	o.tenders[i], o.updatedAt = t, o.now()
	return nil
}

// RecordDecline notes that an attempt on the tender's PaymentIntent was
// declined: the PaymentIntent is back in requires_payment_method, ready for
// another card on the same PaymentIntent, and the decline says why.
func (o *Order) RecordDecline(tenderID int, code, message string) error {
	op := fmt.Sprintf("record decline on tender %d", tenderID)
	if err := o.tendering(op); err != nil {
		return err
	}
	if code == "" {
		return o.errf(op, fmt.Errorf("empty decline code: %w", ErrInvalidTender))
	}
	i := slices.IndexFunc(o.tenders, func(t Tender) bool { return t.ID == tenderID })
	if i < 0 || o.tenders[i].Payment == nil {
		return o.errf(op, ErrNoSuchTender)
	}
	t := o.tenders[i].clone()
	if d := t.Payment.Decline; t.Payment.Status == PaymentRequiresPaymentMethod && d != nil && d.Code == code && d.Message == message {
		return nil // the same decline again
	}
	t.Payment.Status = PaymentRequiresPaymentMethod
	t.Payment.Decline = &Decline{Code: code, Message: message}
	o.tenders[i], o.updatedAt = t, o.now()
	return nil
}

// Complete finishes a tendering order whose counting tenders cover the
// amount due (ErrUnderpaid otherwise). The order is immutable afterwards.
func (o *Order) Complete() error {
	if err := o.tendering("complete"); err != nil {
		return err
	}
	if paid, due := o.Paid(), o.Due(); paid.Amount < due.Amount {
		return o.errf("complete", fmt.Errorf("paid %v of %v: %w", paid, due, ErrUnderpaid))
	}
	now := o.now()
	o.status, o.completedAt, o.updatedAt = StatusCompleted, now, now
	return nil
}

// Void abandons an open or tendering order. The caller is responsible for
// cancelling PaymentIntents of its card and wallet tenders (through the
// outbox) and for handing back cash; the tenders stay on record.
func (o *Order) Void(reason string) error {
	if o.status.Final() {
		return o.errf("void", fmt.Errorf("order is %s: %w", o.status, ErrImmutable))
	}
	now := o.now()
	o.status, o.voidedAt, o.updatedAt, o.voidReason = StatusVoided, now, now, reason
	return nil
}

// CashDue returns the remaining amount rounded for cash payment, which is
// what the cash screen shows (CHF 12.43 → 12.45).
func (o *Order) CashDue(rules money.CashRules) (money.Money, error) {
	r := o.Remaining()
	if r.Amount <= 0 {
		return money.Zero(o.config.Currency), nil
	}
	return rules.Round(r)
}

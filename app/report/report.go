package report

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"golang.org/x/text/language"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
)

// Action is one payment reconciliation acted on, or a refund.
type Action struct {
	OrderID, PaymentIntent string
	Amount                 money.Money
	Reason                 string // "abandoned", "duplicate", "" for captures, refund reason…
}

// Input is everything an end-of-day Z report is made of: the day's orders
// and what the reconciliation, the outbox and the payment follow-up know.
type Input struct {
	Lane        string
	From, To    time.Time // the reported period [From, To) (a local calendar day)
	GeneratedAt time.Time
	Locale      language.Tag   // money and date formatting
	Orders      []*order.Order // the orders created in the period (any status; open/tendering ones are counted as "still open")
	// Captured, Cancelled and ActionsFailed are this end of day's
	// reconciliation actions, done or dead.
	Captured, Cancelled, ActionsFailed []Action
	Refunds                            []Action // refunds issued in the period (voids after payment)
	OfflinePending                     []Action // store-and-forward card payments not yet forwarded (any day)
	PaymentsFailed                     []Action // payments that failed after their sale (declines after forwarding, SEPA returns)
	OutboxPending, DeadLetters         int
}

// Report is a Z report: the figures of one lane's period, per currency.
// Make builds it; Lines, WriteCSV and WritePNG present it. Its fields are
// plain data (JSON-friendly) for the headless reconcile command.
type Report struct {
	Lane        string       `json:"lane"`
	From        time.Time    `json:"from"`
	To          time.Time    `json:"to"`
	GeneratedAt time.Time    `json:"generated_at"`
	Locale      language.Tag `json:"locale"`
	// Currencies holds one section per currency met in the input, sorted
	// by ISO code. A report with nothing in it has none.
	Currencies    []CurrencyTotals `json:"currencies"`
	OutboxPending int              `json:"outbox_pending"`
	DeadLetters   int              `json:"dead_letters"`
}

// Tally is a count of things and their total amount.
type Tally struct {
	Count  int         `json:"count"`
	Amount money.Money `json:"amount"`
}

// TaxRate is one row of the VAT summary: the base (Net), the tax and their
// sum at one rate, in basis points (810 = 8.1 %).
type TaxRate struct {
	Rate  int         `json:"rate_bp"`
	Net   money.Money `json:"net"`
	Tax   money.Money `json:"tax"`
	Gross money.Money `json:"gross"`
}

// Tender is a row of the payments breakdown. It splits order.TenderCard in
// two: cards read online and cards taken offline (store and forward).
type Tender string

// The tender rows, in the order the report lists them.
const (
	Card        Tender = "card"
	CardOffline Tender = "card_offline"
	Cash        Tender = "cash"
	Twint       Tender = "twint"
	MobilePay   Tender = "mobilepay"
	SEPADebit   Tender = "sepa_debit"
)

// Tenders lists every tender row in report order.
var Tenders = []Tender{Card, CardOffline, Cash, Twint, MobilePay, SEPADebit}

// TenderTotal is how much one kind of tender took.
type TenderTotal struct {
	Tender Tender `json:"tender"`
	Tally
}

// Cancellation is the reconciliation's cancellations for one reason.
type Cancellation struct {
	Reason string `json:"reason"`
	Tally
}

// Cancellation reasons the reconciliation uses (Stripe's
// cancellation_reason values).
const (
	ReasonAbandoned = "abandoned"
	ReasonDuplicate = "duplicate"
)

// CurrencyTotals is the report for one currency. Amounts are exact minor
// units of Currency. Identities that always hold:
//
//	Gross = Net + Tax + CashRounding
//	Σ TaxRates.Net = Net, Σ TaxRates.Tax = Tax
//	Σ Tenders.Amount = Gross + Overpaid
type CurrencyTotals struct {
	Currency money.Currency `json:"currency"`
	// Sales is the number of completed orders; Gross the sum of what they
	// were due (order.Order.Due: total plus cash rounding); Net, Tax and
	// Discounts the sums of their totals' fields; CashRounding the sum of
	// their cash rounding adjustments.
	Sales        int         `json:"sales"`
	Gross        money.Money `json:"gross"`
	Net          money.Money `json:"net"`
	Tax          money.Money `json:"tax"`
	Discounts    money.Money `json:"discounts"`
	CashRounding money.Money `json:"cash_rounding"`
	// Overpaid is what completed sales took beyond what they were due: a
	// cash tender smaller than the cash-rounded balance but larger than
	// the exact one (CHF 12.44 handed over for 12.43 due, which rounds to
	// 12.45). Zero in normal operation.
	Overpaid money.Money `json:"overpaid"`
	// TaxModes are the tax modes of the completed sales (normally one).
	TaxModes []order.TaxMode `json:"tax_modes"`
	// TaxRates is the VAT summary by ascending rate.
	TaxRates []TaxRate `json:"tax_rates"`
	// Tenders has one row per Tender, in the order of Tenders: the tenders
	// of completed sales that paid (including payments that failed after
	// the sale; they are listed again in PaymentsFailed).
	Tenders []TenderTotal `json:"tenders"`
	// Voids: voided orders and their cart totals.
	Voids Tally `json:"voids"`
	// Refunds: refunds issued in the period.
	Refunds Tally `json:"refunds"`
	// Open: orders still open or tendering, what they are due, and
	// OpenPaid what their tenders already took.
	Open     Tally       `json:"open"`
	OpenPaid money.Money `json:"open_paid"`
	// OfflinePending: store-and-forward payments not yet forwarded.
	OfflinePending Tally `json:"offline_pending"`
	// PaymentsFailed: payments that failed after their sale.
	PaymentsFailed Tally `json:"payments_failed"`
	// Captured, Cancelled (abandoned and duplicate first, then any other
	// reason by name) and ActionsFailed are the reconciliation's outcome.
	Captured      Tally          `json:"captured"`
	Cancelled     []Cancellation `json:"cancelled"`
	ActionsFailed Tally          `json:"actions_failed"`
}

// Tender returns the row for t (a zero Tally when t is unknown).
func (c CurrencyTotals) Tender(t Tender) Tally {
	for _, r := range c.Tenders {
		if r.Tender == t {
			return r.Tally
		}
	}
	return Tally{Amount: money.Zero(c.Currency)}
}

// Cancellations returns the cancellations for reason.
func (c CurrencyTotals) Cancellations(reason string) Tally {
	for _, r := range c.Cancelled {
		if r.Reason == reason {
			return r.Tally
		}
	}
	return Tally{Amount: money.Zero(c.Currency)}
}

// Currency returns the section for cur and whether there is one.
func (r Report) Currency(cur money.Currency) (CurrencyTotals, bool) {
	for _, c := range r.Currencies {
		if c.Currency == cur {
			return c, true
		}
	}
	return CurrencyTotals{}, false
}

// Make computes the Z report of in. It checks the input as it goes and
// returns an error wrapping ErrInvalidInput, ErrInconsistent or
// money.ErrOverflow instead of a report that does not add up; it never
// panics and never modifies the orders.
func Make(in Input) (Report, error) {
	if err := in.validate(); err != nil {
		return Report{}, err
	}
	b := builder{in: &in, byCur: map[money.Currency]*CurrencyTotals{}, ids: map[string]bool{}}
	for i, o := range in.Orders {
		if o == nil {
			return Report{}, fmt.Errorf("report: order #%d is nil: %w", i, ErrInconsistent)
		}
		if err := b.addOrder(o); err != nil {
			return Report{}, fmt.Errorf("report: order %s: %w", o.ID(), err)
		}
	}
	if err := b.addActions(&in); err != nil {
		return Report{}, err
	}
	r := Report{
		Lane: in.Lane, From: in.From, To: in.To, GeneratedAt: in.GeneratedAt, Locale: in.Locale,
		OutboxPending: in.OutboxPending, DeadLetters: in.DeadLetters,
		Currencies: make([]CurrencyTotals, 0, len(b.byCur)),
	}
	for cur, c := range b.byCur {
		c.finish(b.rates[cur])
		r.Currencies = append(r.Currencies, *c)
	}
	slices.SortFunc(r.Currencies, func(a, b CurrencyTotals) int { return cmp.Compare(a.Currency.Code(), b.Currency.Code()) })
	return r, nil
}

func (in *Input) validate() error {
	switch {
	case in.From.IsZero() || in.To.IsZero() || !in.From.Before(in.To):
		return fmt.Errorf("report: period %v to %v is empty or reversed: %w", in.From, in.To, ErrInvalidInput)
	case in.GeneratedAt.IsZero():
		return fmt.Errorf("report: no generation time: %w", ErrInvalidInput)
	case in.OutboxPending < 0 || in.DeadLetters < 0:
		return fmt.Errorf("report: negative outbox count (%d pending, %d dead): %w", in.OutboxPending, in.DeadLetters, ErrInvalidInput)
	}
	if err := order.ValidateLane(in.Lane); err != nil {
		return fmt.Errorf("report: %w: %w", ErrInvalidInput, err)
	}
	return nil
}

type builder struct {
	in    *Input
	byCur map[money.Currency]*CurrencyTotals
	ids   map[string]bool
	rates map[money.Currency]map[int]*TaxRate
	modes map[money.Currency]map[order.TaxMode]bool
}

// section returns the totals of cur, creating them with every amount at
// zero in cur and every tender row present.
func (b *builder) section(cur money.Currency) *CurrencyTotals {
	if c, ok := b.byCur[cur]; ok {
		return c
	}
	z := money.Zero(cur)
	zt := Tally{Amount: z}
	c := &CurrencyTotals{
		Currency: cur, Gross: z, Net: z, Tax: z, Discounts: z, CashRounding: z, Overpaid: z,
		TaxModes: []order.TaxMode{}, TaxRates: []TaxRate{},
		Voids: zt, Refunds: zt, Open: zt, OpenPaid: z, OfflinePending: zt, PaymentsFailed: zt,
		Captured: zt, ActionsFailed: zt,
		Cancelled: []Cancellation{{Reason: ReasonAbandoned, Tally: zt}, {Reason: ReasonDuplicate, Tally: zt}},
	}
	for _, t := range Tenders {
		c.Tenders = append(c.Tenders, TenderTotal{Tender: t, Tally: zt})
	}
	b.byCur[cur] = c
	return c
}

// add adds v minor units to m, failing on overflow.
func add(m *money.Money, v int64) error {
	s, ok := money.AddInt64(m.Amount, v)
	if !ok {
		return fmt.Errorf("total %v + %d: %w", *m, v, money.ErrOverflow)
	}
	m.Amount = s
	return nil
}

func (t *Tally) add(v int64) error {
	t.Count++
	return add(&t.Amount, v)
}

// ofCurrency reports whether m is an amount of cur (a zero amount without
// currency also passes: it is how an unset amount looks).
func ofCurrency(m money.Money, cur money.Currency) bool {
	return m.Currency == cur || m.Currency.IsZero() && m.Amount == 0
}

func (b *builder) addOrder(o *order.Order) error {
	id := o.ID()
	switch {
	case b.ids[id]:
		return fmt.Errorf("listed twice: %w", ErrInconsistent)
	case o.Lane() != b.in.Lane:
		return fmt.Errorf("rung up at lane %q, not %q: %w", o.Lane(), b.in.Lane, ErrInconsistent)
	case o.CreatedAt().Before(b.in.From) || !o.CreatedAt().Before(b.in.To):
		return fmt.Errorf("created at %v, outside the period: %w", o.CreatedAt(), ErrInconsistent)
	}
	b.ids[id] = true
	cur := o.Currency()
	if cur.IsZero() {
		return fmt.Errorf("no currency: %w", ErrInconsistent)
	}
	tot := o.Totals()
	tenders := o.Tenders()
	if err := checkCurrency(cur, o, tot, tenders); err != nil {
		return err
	}
	c := b.section(cur)
	switch o.Status() {
	case order.StatusCompleted:
		return b.addSale(c, o, tot, tenders)
	case order.StatusVoided:
		return c.Voids.add(tot.Total.Amount)
	case order.StatusOpen, order.StatusTendering:
		if err := c.Open.add(o.Due().Amount); err != nil {
			return err
		}
		return add(&c.OpenPaid, o.Paid().Amount)
	}
	return fmt.Errorf("status %q: %w", o.Status(), ErrInconsistent)
}

// checkCurrency refuses an order with amounts in another currency than
// its own.
func checkCurrency(cur money.Currency, o *order.Order, tot order.Totals, tenders []order.Tender) error {
	ms := []money.Money{tot.Subtotal, tot.Discounts, tot.Net, tot.Tax, tot.Total, o.CashRounding()}
	for _, r := range tot.ByRate {
		ms = append(ms, r.Net, r.Tax, r.Gross)
	}
	for _, t := range tenders {
		ms = append(ms, t.Amount)
		if t.Cash != nil {
			ms = append(ms, t.Cash.Given, t.Cash.Change)
		}
	}
	for _, m := range ms {
		if !ofCurrency(m, cur) {
			return fmt.Errorf("amount %v in an order in %s: %w: %w", m, cur, ErrInconsistent, money.ErrCurrencyMismatch)
		}
	}
	return nil
}

func (b *builder) addSale(c *CurrencyTotals, o *order.Order, tot order.Totals, tenders []order.Tender) error {
	due := o.Due()
	c.Sales++
	for _, f := range []struct {
		dst *money.Money
		v   int64
	}{
		{&c.Gross, due.Amount}, {&c.Net, tot.Net.Amount}, {&c.Tax, tot.Tax.Amount},
		{&c.Discounts, tot.Discounts.Amount}, {&c.CashRounding, o.CashRounding().Amount},
	} {
		if err := add(f.dst, f.v); err != nil {
			return err
		}
	}
	if b.modes == nil {
		b.modes = map[money.Currency]map[order.TaxMode]bool{}
		b.rates = map[money.Currency]map[int]*TaxRate{}
	}
	mode := o.Config().TaxMode
	if b.modes[c.Currency] == nil {
		b.modes[c.Currency] = map[order.TaxMode]bool{}
		b.rates[c.Currency] = map[int]*TaxRate{}
	}
	if !b.modes[c.Currency][mode] {
		b.modes[c.Currency][mode] = true
		c.TaxModes = append(c.TaxModes, mode)
	}
	for _, r := range tot.ByRate {
		tr := b.rates[c.Currency][r.Rate]
		if tr == nil {
			z := money.Zero(c.Currency)
			tr = &TaxRate{Rate: r.Rate, Net: z, Tax: z, Gross: z}
			b.rates[c.Currency][r.Rate] = tr
		}
		for _, f := range []struct {
			dst *money.Money
			v   int64
		}{{&tr.Net, r.Net.Amount}, {&tr.Tax, r.Tax.Amount}, {&tr.Gross, r.Gross.Amount}} {
			if err := add(f.dst, f.v); err != nil {
				return err
			}
		}
	}
	var took int64
	for _, t := range tenders {
		failed := t.Payment != nil && t.Payment.Failed
		if !t.Counts() && !failed {
			continue // a declined or cancelled attempt: took nothing
		}
		row, err := rowOf(t)
		if err != nil {
			return err
		}
		if err := c.Tenders[row].add(t.Amount.Amount); err != nil {
			return err
		}
		var ok bool
		if took, ok = money.AddInt64(took, t.Amount.Amount); !ok {
			return fmt.Errorf("tenders: %w", money.ErrOverflow)
		}
	}
	over := took - due.Amount // both bounded by the order's own checks
	if over < 0 || took < 0 {
		return fmt.Errorf("completed, but its tenders took %v of %v due: %w", money.New(took, c.Currency), due, ErrInconsistent)
	}
	return add(&c.Overpaid, over)
}

// rowOf returns the index in Tenders of t's row.
func rowOf(t order.Tender) (int, error) {
	var row Tender
	switch t.Kind {
	case order.TenderCash:
		row = Cash
	case order.TenderCard:
		row = Card
		if t.Payment != nil && t.Payment.Offline {
			row = CardOffline
		}
	case order.TenderTwint:
		row = Twint
	case order.TenderMobilePay:
		row = MobilePay
	case order.TenderSEPADebit:
		row = SEPADebit
	default:
		return 0, fmt.Errorf("tender %d of unknown kind %q: %w", t.ID, t.Kind, ErrInconsistent)
	}
	return slices.Index(Tenders, row), nil
}

func (b *builder) addActions(in *Input) error {
	outcome := map[string]string{} // PaymentIntent → list it is in
	lists := []struct {
		name string
		as   []Action
		// needs: which identifiers the action must carry
		needPI, reconcile bool
		tally             func(c *CurrencyTotals, a Action) (*Tally, error)
	}{
		{"captured", in.Captured, true, true, func(c *CurrencyTotals, _ Action) (*Tally, error) { return &c.Captured, nil }},
		{"cancelled", in.Cancelled, true, true, func(c *CurrencyTotals, a Action) (*Tally, error) { return c.cancellation(a.Reason) }},
		{"failed action", in.ActionsFailed, true, true, func(c *CurrencyTotals, _ Action) (*Tally, error) { return &c.ActionsFailed, nil }},
		{"refund", in.Refunds, false, false, func(c *CurrencyTotals, _ Action) (*Tally, error) { return &c.Refunds, nil }},
		{"offline pending", in.OfflinePending, false, false, func(c *CurrencyTotals, _ Action) (*Tally, error) { return &c.OfflinePending, nil }},
		{"payment failed", in.PaymentsFailed, false, false, func(c *CurrencyTotals, _ Action) (*Tally, error) { return &c.PaymentsFailed, nil }},
	}
	for _, l := range lists {
		for i, a := range l.as {
			if err := a.validate(l.needPI); err != nil {
				return fmt.Errorf("report: %s #%d: %w", l.name, i, err)
			}
			if l.reconcile {
				if prev, ok := outcome[a.PaymentIntent]; ok {
					return fmt.Errorf("report: %s #%d: PaymentIntent %s is also %s: %w", l.name, i, a.PaymentIntent, prev, ErrInconsistent)
				}
				outcome[a.PaymentIntent] = l.name
			}
			t, err := l.tally(b.section(a.Amount.Currency), a)
			if err == nil {
				err = t.add(a.Amount.Amount)
			}
			if err != nil {
				return fmt.Errorf("report: %s #%d (%s): %w", l.name, i, a.PaymentIntent, err)
			}
		}
	}
	return nil
}

// MaxReasonLen bounds an Action's Reason.
const MaxReasonLen = 64

func (a Action) validate(needPI bool) error {
	switch {
	case a.Amount.Currency.IsZero():
		return fmt.Errorf("amount %v: %w", a.Amount, ErrInvalidInput)
	case a.Amount.Amount < 0:
		return fmt.Errorf("negative amount %v: %w", a.Amount, ErrInvalidInput)
	case needPI && a.PaymentIntent == "":
		return fmt.Errorf("no PaymentIntent: %w", ErrInvalidInput)
	case a.PaymentIntent == "" && a.OrderID == "":
		return fmt.Errorf("neither order nor PaymentIntent: %w", ErrInvalidInput)
	case len(a.Reason) > MaxReasonLen:
		return fmt.Errorf("reason of %d bytes: %w", len(a.Reason), ErrInvalidInput)
	}
	return nil
}

// cancellation returns the tally for a cancellation reason, which must be
// an API code: lower-case ASCII letters, digits and "_" ("" is listed as
// the reason "unspecified").
func (c *CurrencyTotals) cancellation(reason string) (*Tally, error) {
	if reason == "" {
		reason = "unspecified"
	}
	for _, r := range reason {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return nil, fmt.Errorf("cancellation reason %q is not an API code: %w", reason, ErrInvalidInput)
		}
	}
	for i := range c.Cancelled {
		if c.Cancelled[i].Reason == reason {
			return &c.Cancelled[i].Tally, nil
		}
	}
	c.Cancelled = append(c.Cancelled, Cancellation{Reason: reason, Tally: Tally{Amount: money.Zero(c.Currency)}})
	return &c.Cancelled[len(c.Cancelled)-1].Tally, nil
}

// finish adds the VAT summary and sorts what was collected in map order.
func (c *CurrencyTotals) finish(rates map[int]*TaxRate) {
	for _, r := range rates {
		c.TaxRates = append(c.TaxRates, *r)
	}
	slices.SortFunc(c.TaxRates, func(a, b TaxRate) int { return cmp.Compare(a.Rate, b.Rate) })
	slices.Sort(c.TaxModes)
	slices.SortFunc(c.Cancelled[2:], func(a, b Cancellation) int { return cmp.Compare(a.Reason, b.Reason) })
}

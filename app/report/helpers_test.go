package report

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/text/language"

	"github.com/tillpos/till/app/catalog"
	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
)

// The reported day: 23 November 2026 in Zürich (a fixed zone, so tests do
// not depend on the system's time zone database).
var (
	zurich = time.FixedZone("CET", 3600)
	day    = time.Date(2026, 11, 23, 0, 0, 0, 0, zurich)
	genAt  = time.Date(2026, 11, 23, 22, 4, 0, 0, zurich)
)

var (
	incCHF = order.Config{Currency: money.CHF, TaxMode: order.TaxInclusive}
	excEUR = order.Config{Currency: money.EUR, TaxMode: order.TaxExclusive}
)

func chf(a int64) money.Money { return money.New(a, money.CHF) }
func eur(a int64) money.Money { return money.New(a, money.EUR) }

var (
	espresso = catalog.Product{SKU: "HOT-ESP", Name: "Espresso", Price: chf(420), TaxRate: 260, Category: "Hot drinks"}
	irish    = catalog.Product{SKU: "HOT-IRI", Name: "Irish Coffee", Price: chf(950), TaxRate: 810, Category: "Hot drinks"}
	cake     = catalog.Product{SKU: "PAS-CAR", Name: "Rüeblitorte", Price: chf(543), TaxRate: 260, Category: "Pastries"}
	book     = catalog.Product{SKU: "BOOK", Name: "Book", Price: eur(1000), TaxRate: 700, Category: "Books"}
	wine     = catalog.Product{SKU: "WINE", Name: "Wine", Price: eur(1299), TaxRate: 1900, Category: "Drinks"}
)

// stepClock is an injected clock that moves a minute each time it is read,
// starting at 09:00 on the reported day.
type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time {
	c.t = c.t.Add(time.Minute)
	return c.t
}

func newLane(t testing.TB, cfg order.Config, clk *stepClock) *order.Lane {
	t.Helper()
	l, err := order.NewLane("L1", cfg, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// pay is one tender of a test sale.
type pay struct {
	kind    order.TenderKind
	amount  int64 // 0: what remains due
	given   int64 // cash handed over
	status  order.PaymentStatus
	offline bool
	fail    bool // a processing payment that fails after the sale
}

type item struct {
	p   catalog.Product
	qty int64
}

// end is how a test sale ends.
type end int

const (
	completed end = iota
	voided
	open
	tendering
)

type sale struct {
	items    []item
	discount order.Discount
	pays     []pay
	end      end
}

var piSeq int

// build rings up s at lane l with the real order package.
func build(t testing.TB, l *order.Lane, s sale) *order.Order {
	t.Helper()
	o, err := l.NewOrder()
	must(t, err)
	for _, it := range s.items {
		_, err := o.AddProduct(it.p, it.qty)
		must(t, err)
	}
	if !s.discount.IsZero() {
		must(t, o.SetCartDiscount(s.discount))
	}
	if s.end == open {
		return o
	}
	must(t, o.StartTendering())
	var failing []int
	for _, p := range s.pays {
		cur := o.Currency()
		if p.kind == order.TenderCash {
			_, err := o.AddCash(money.New(p.given, cur), nil)
			must(t, err)
			continue
		}
		amt := p.amount
		if amt == 0 {
			amt = o.Remaining().Amount
		}
		piSeq++
		st := p.status
		if st == "" {
			st = order.PaymentSucceeded
		}
		pay := order.Payment{PaymentIntentID: fmt.Sprintf("pi_%d", piSeq), Status: st}
		if p.offline {
			// Taken offline, not yet forwarded: it counts.
			pay = order.Payment{Status: order.PaymentRequiresConfirmation, Offline: true, Ref: fmt.Sprintf("ref%d", piSeq),
				Stored: []byte("sealed"), StoredAt: time.Unix(1, 0)}
		}
		tn, err := o.AddPayment(p.kind, money.New(amt, cur), pay)
		must(t, err)
		if p.fail {
			failing = append(failing, tn.ID)
		}
	}
	switch s.end {
	case completed:
		must(t, o.Complete())
		for _, id := range failing {
			must(t, o.SettlePayment(id, order.PaymentRequiresPaymentMethod, &order.Decline{Code: "insufficient_funds"}))
		}
	case voided:
		must(t, o.Void("customer left"))
	}
	return o
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func baseInput(orders ...*order.Order) Input {
	return Input{
		Lane: "L1", From: day, To: day.AddDate(0, 0, 1), GeneratedAt: genAt,
		Locale: language.MustParse("de-CH"), Orders: orders,
	}
}

// checkIdentities verifies what must hold in every report, whatever the
// input: the figures of each currency add up.
func checkIdentities(t testing.TB, r Report) {
	t.Helper()
	for _, c := range r.Currencies {
		cur := c.Currency
		sum := func(name string, ms ...money.Money) int64 {
			var s int64
			for _, m := range ms {
				if m.Currency != cur {
					t.Errorf("%s: %s amount %v in another currency", cur, name, m)
				}
				s += m.Amount
			}
			return s
		}
		if g := sum("net+tax+rounding", c.Net, c.Tax, c.CashRounding); g != c.Gross.Amount {
			t.Errorf("%s: net+tax+rounding = %d, gross %d", cur, g, c.Gross.Amount)
		}
		var tn []money.Money
		for _, x := range c.Tenders {
			tn = append(tn, x.Amount)
		}
		if s := sum("tenders", tn...); s != c.Gross.Amount+c.Overpaid.Amount {
			t.Errorf("%s: tenders add up to %d, gross %d + overpaid %d", cur, s, c.Gross.Amount, c.Overpaid.Amount)
		}
		var nets, taxes []money.Money
		for _, x := range c.TaxRates {
			nets, taxes = append(nets, x.Net), append(taxes, x.Tax)
			if x.Net.Amount+x.Tax.Amount != x.Gross.Amount {
				t.Errorf("%s: rate %d: net %v + tax %v != gross %v", cur, x.Rate, x.Net, x.Tax, x.Gross)
			}
		}
		if s := sum("rates net", nets...); s != c.Net.Amount {
			t.Errorf("%s: rates' net %d, net %d", cur, s, c.Net.Amount)
		}
		if s := sum("rates tax", taxes...); s != c.Tax.Amount {
			t.Errorf("%s: rates' tax %d, tax %d", cur, s, c.Tax.Amount)
		}
		if len(c.Tenders) != len(Tenders) {
			t.Errorf("%s: %d tender rows", cur, len(c.Tenders))
		}
		if c.Sales == 0 && (c.Gross.Amount != 0 || len(c.TaxRates) != 0) {
			t.Errorf("%s: no sales but gross %v", cur, c.Gross)
		}
	}
}

// fullDay is a day with a bit of everything, in CHF and EUR.
func fullDay(t testing.TB) Input {
	t.Helper()
	clk := &stepClock{t: day.Add(9 * time.Hour)}
	l := newLane(t, incCHF, clk)
	e := newLane(t, excEUR, clk)
	sepa := build(t, l, sale{items: []item{{irish, 1}}, pays: []pay{{kind: order.TenderSEPADebit, status: order.PaymentProcessing, fail: true}}})
	offline := build(t, l, sale{items: []item{{cake, 2}}, pays: []pay{{kind: order.TenderCard, status: order.PaymentRequiresPaymentMethod, offline: true}}})
	in := baseInput(
		build(t, l, sale{items: []item{{espresso, 2}, {irish, 1}}, pays: []pay{{kind: order.TenderCash, given: 2000}}}),
		build(t, l, sale{items: []item{{cake, 1}, {espresso, 1}}, discount: order.PercentOff(1000), pays: []pay{{kind: order.TenderCard}}}),
		build(t, l, sale{items: []item{{cake, 1}}, pays: []pay{{kind: order.TenderCash, given: 1000}}}),
		build(t, l, sale{items: []item{{espresso, 1}}, pays: []pay{{kind: order.TenderTwint}}}),
		sepa, offline,
		build(t, l, sale{items: []item{{irish, 3}}, end: voided}),
		build(t, l, sale{items: []item{{espresso, 1}}, end: open}),
		build(t, e, sale{items: []item{{book, 2}, {wine, 1}}, pays: []pay{{kind: order.TenderCard}}}),
	)
	in.Captured = []Action{{OrderID: "L1-cap", PaymentIntent: "pi_cap", Amount: chf(1250)}}
	in.Cancelled = []Action{
		{PaymentIntent: "pi_ab", Amount: chf(500), Reason: ReasonAbandoned},
		{OrderID: "L1-dup", PaymentIntent: "pi_dup", Amount: eur(300), Reason: ReasonDuplicate},
	}
	in.Refunds = []Action{{OrderID: "L1-ref", PaymentIntent: "pi_ref", Amount: chf(420), Reason: "requested_by_customer"}}
	in.OfflinePending = []Action{{OrderID: offline.ID(), Amount: offline.Due()}}
	in.PaymentsFailed = []Action{{OrderID: sepa.ID(), PaymentIntent: sepa.Tenders()[0].Payment.PaymentIntentID, Amount: sepa.Due(), Reason: "insufficient_funds"}}
	in.OutboxPending, in.DeadLetters = 2, 1
	return in
}

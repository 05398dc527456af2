package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"testing"
	"time"

	"github.com/tillpos/till/app/catalog"
	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
)

var (
	incSEK  = order.Config{Currency: money.SEK, TaxMode: order.TaxInclusive}
	freebie = catalog.Product{SKU: "FREE", Name: "Water", Price: chf(0), TaxRate: 0, Category: "Drinks"}
	bread   = catalog.Product{SKU: "BREAD", Name: "Bröd", Price: money.New(3490, money.SEK), TaxRate: 1200, Category: "Food"}
	snaps   = catalog.Product{SKU: "SNAPS", Name: "Snaps", Price: money.New(12950, money.SEK), TaxRate: 2500, Category: "Drinks"}
)

// gen reads fuzz bytes as decisions; past the end every decision is 0.
type gen struct{ b []byte }

func (g *gen) next() int {
	if len(g.b) == 0 {
		return 0
	}
	v := int(g.b[0])
	g.b = g.b[1:]
	return v
}

func (g *gen) more() bool { return len(g.b) > 0 }

// fuzzDay rings up the orders and actions the bytes describe, with the
// real order package, and says which error Make must return (nil when the
// input is consistent).
func fuzzDay(t *testing.T, data []byte) (Input, error, bool) {
	g := &gen{data}
	clk := &stepClock{t: day.Add(8 * time.Hour)}
	lanes := []*order.Lane{newLane(t, incCHF, clk), newLane(t, excEUR, clk), newLane(t, incSEK, clk)}
	products := [][]catalog.Product{{espresso, irish, cake, freebie}, {book, wine}, {bread, snaps}}
	mode := g.next() % 8
	in := baseInput()
	for n := 0; n < 40 && g.more(); n++ {
		li := g.next() % len(lanes)
		o, err := lanes[li].NewOrder()
		must(t, err)
		in.Orders = append(in.Orders, o)
		for range 1 + g.next()%3 {
			ps := products[li]
			_, _ = o.AddProduct(ps[g.next()%len(ps)], int64(1+g.next()%5))
		}
		switch g.next() % 4 {
		case 1:
			_ = o.SetCartDiscount(order.PercentOff(int64(g.next() * 40)))
		case 2:
			_ = o.SetCartDiscount(order.AmountOff(money.New(int64(g.next()), o.Currency())))
		}
		switch g.next() % 6 {
		case 0:
			continue // left open
		case 1:
			must(t, o.Void("fuzz"))
			continue
		}
		if o.StartTendering() != nil {
			continue // empty cart (every product refused)
		}
		var processing []int
		for range g.next() % 4 {
			rem := o.Remaining().Amount
			amt := rem
			if g.next()%2 == 1 {
				amt = rem * int64(g.next()) / 255
			}
			kinds := []order.TenderKind{order.TenderCash, order.TenderCard, order.TenderCard, order.TenderTwint, order.TenderMobilePay, order.TenderSEPADebit}
			k := g.next() % len(kinds)
			if kinds[k] == order.TenderCash {
				given := amt + int64(g.next()) - 64
				if given < 1 {
					given = 1
				}
				_, _ = o.AddCash(money.New(given, o.Currency()), nil)
				continue
			}
			statuses := []order.PaymentStatus{order.PaymentSucceeded, order.PaymentRequiresCapture, order.PaymentRequiresPaymentMethod, order.PaymentCanceled, order.PaymentProcessing}
			st := statuses[g.next()%len(statuses)]
			piSeq++
			pay := order.Payment{PaymentIntentID: fmt.Sprintf("pi_f%d", piSeq), Status: st}
			if k == 2 { // a card taken offline, not yet forwarded
				pay = order.Payment{Status: order.PaymentRequiresConfirmation, Offline: true, Ref: fmt.Sprintf("r%d", piSeq),
					Stored: []byte("sealed"), StoredAt: time.Unix(1, 0)}
			}
			tn, err := o.AddPayment(kinds[k], money.New(amt, o.Currency()), pay)
			if err == nil && st == order.PaymentProcessing {
				processing = append(processing, tn.ID)
			}
		}
		switch g.next() % 3 {
		case 0:
			if o.Complete() == nil {
				for _, id := range processing {
					if g.next()%2 == 1 {
						must(t, o.SettlePayment(id, order.PaymentCanceled, nil))
					}
				}
			}
		case 1:
			must(t, o.Void("fuzz"))
		}
	}
	huge := false
	lists := []*[]Action{&in.Captured, &in.Cancelled, &in.ActionsFailed, &in.Refunds, &in.OfflinePending, &in.PaymentsFailed}
	curs := []money.Currency{money.CHF, money.EUR, money.SEK, money.JPY}
	reasons := []string{ReasonAbandoned, ReasonDuplicate, "fraudulent", ""}
	for g.more() {
		l := lists[g.next()%len(lists)]
		amount := int64(g.next() * g.next())
		if g.next() == 255 {
			amount, huge = math.MaxInt64/2, true
		}
		piSeq++
		*l = append(*l, Action{
			OrderID: "L1-x", PaymentIntent: fmt.Sprintf("pi_a%d", piSeq),
			Amount: money.New(amount, curs[g.next()%len(curs)]), Reason: reasons[g.next()%len(reasons)],
		})
	}
	switch {
	case mode == 0 && len(in.Orders) > 0:
		in.Orders = append(in.Orders, in.Orders[0])
		return in, ErrInconsistent, false
	case mode == 1:
		in.Orders = append(in.Orders, nil)
		return in, ErrInconsistent, false
	}
	return in, nil, huge
}

func FuzzMake(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 0, 0, 1, 3, 0, 2, 1, 0, 0, 0})                                  // one CHF sale in cash
	f.Add([]byte{3, 0, 1, 1, 0, 0, 3, 2, 0, 5, 0, 0, 0})                            // SEPA, completed
	f.Add([]byte{4, 2, 2, 0, 1, 1, 2, 1, 0, 3, 1, 100, 0, 17, 0, 0, 1, 2})          // SEK split payment
	f.Add([]byte{5, 1, 1, 1, 2, 0, 4, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0})       // EUR exclusive, cancelled card
	f.Add([]byte{0, 0, 0, 0, 0, 0})                                                 // duplicate order
	f.Add([]byte{1})                                                                // nil order
	f.Add([]byte{6, 0, 1, 2, 2, 1, 30, 5, 2, 0, 1, 9, 2, 1, 0, 0, 7, 7, 255, 1, 0}) // discount, actions, huge amount
	f.Fuzz(func(t *testing.T, data []byte) {
		in, want, mayOverflow := fuzzDay(t, data)
		r, err := Make(in)
		switch {
		case want != nil:
			if !errors.Is(err, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
			return
		case err != nil && mayOverflow && errors.Is(err, money.ErrOverflow):
			return
		case err != nil:
			t.Fatalf("consistent input refused: %v", err)
		}
		checkIdentities(t, r)
		orders := 0
		gross := map[money.Currency]int64{}
		for _, o := range in.Orders {
			if o.Status() == order.StatusCompleted {
				gross[o.Currency()] += o.Due().Amount
			}
		}
		for _, c := range r.Currencies {
			orders += c.Sales + c.Voids.Count + c.Open.Count
			if gross[c.Currency] != c.Gross.Amount {
				t.Errorf("%s gross %v, orders say %d", c.Currency, c.Gross, gross[c.Currency])
			}
		}
		if orders != len(in.Orders) {
			t.Errorf("%d orders counted of %d", orders, len(in.Orders))
		}
		if err := r.WriteCSV(io.Discard); err != nil {
			t.Fatal(err)
		}
		for _, row := range layout(r.Lines(), 46, func(rune) bool { return true }) {
			if len(row.text) > 46 {
				t.Fatalf("row %q too long", string(row.text))
			}
		}
	})
}

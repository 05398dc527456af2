package order

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tillpos/till/app/catalog"
	"github.com/tillpos/till/app/money"
)

// fakeClock is an injected clock that only moves when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func chf(a int64) money.Money { return money.New(a, money.CHF) }

var (
	espresso = catalog.Product{SKU: "HOT-ESP", Name: "Espresso", Price: chf(420), TaxRate: 260, Category: "Hot drinks"}
	irish    = catalog.Product{SKU: "HOT-IRI", Name: "Irish Coffee", Price: chf(950), TaxRate: 810, Category: "Hot drinks"}
	cake     = catalog.Product{SKU: "PAS-CAR", Name: "Rüeblitorte", Price: chf(543), TaxRate: 260, Category: "Pastries"}
)

func newOrder(t *testing.T) (*Order, *fakeClock) {
	t.Helper()
	clk := newClock()
	lane, err := NewLane("L1", incCHF, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	o, err := lane.NewOrder()
	if err != nil {
		t.Fatal(err)
	}
	return o, clk
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRingUp(t *testing.T) {
	o, clk := newOrder(t)
	created := o.CreatedAt()
	clk.Add(time.Second)
	l1, err := o.AddProduct(espresso, 1)
	must(t, err)
	l2, err := o.AddProduct(irish, 1)
	must(t, err)
	again, err := o.AddProduct(espresso, 1) // rescan merges
	must(t, err)
	if again != l1 || len(o.Lines()) != 2 || o.Lines()[0].Quantity != 2 {
		t.Fatalf("rescan did not merge: %+v", o.Lines())
	}
	if o.Totals().Total != chf(1790) || o.Totals().Tax != chf(92) {
		t.Fatalf("totals = %+v", o.Totals())
	}
	if !o.UpdatedAt().After(created) {
		t.Error("UpdatedAt did not move with the clock")
	}
	must(t, o.SetQuantity(l2, 3))
	must(t, o.SetLineDiscount(l1, PercentOff(5000)))
	if _, err := o.AddProduct(espresso, 1); err != nil { // discounted line is not merged into
		t.Fatal(err)
	}
	if len(o.Lines()) != 3 {
		t.Fatalf("lines = %+v", o.Lines())
	}
	must(t, o.RemoveLine(l2))
	must(t, o.SetCartDiscount(AmountOff(chf(20))))
	// 420 (840 − 50 %) + 420 − 20 = 820
	if got := o.Totals().Total; got != chf(820) {
		t.Fatalf("total = %v, want CHF 8.20", got)
	}
}

func TestFailedChangeLeavesOrderUntouched(t *testing.T) {
	o, _ := newOrder(t)
	l, err := o.AddProduct(espresso, 2)
	must(t, err)
	before, _ := o.Marshal()
	tries := []struct {
		name string
		err  error
		f    func() error
	}{
		{"discount too large", ErrDiscountTooLarge, func() error { return o.SetLineDiscount(l, AmountOff(chf(841))) }},
		{"cart discount too large", ErrDiscountTooLarge, func() error { return o.SetCartDiscount(AmountOff(chf(841))) }},
		{"quantity 0", ErrInvalidQuantity, func() error { return o.SetQuantity(l, 0) }},
		{"quantity too big", ErrInvalidQuantity, func() error { return o.SetQuantity(l, DefaultMaxQuantity+1) }},
		{"merge beyond max", ErrInvalidQuantity, func() error { _, err := o.AddProduct(espresso, DefaultMaxQuantity-1); return err }},
		{"unknown line", ErrNoSuchLine, func() error { return o.RemoveLine(99) }},
		{"invalid product", catalog.ErrInvalidProduct, func() error { _, err := o.AddProduct(catalog.Product{SKU: "X"}, 1); return err }},
		{"other currency", money.ErrCurrencyMismatch, func() error {
			p := espresso
			p.SKU, p.Price = "EUR", money.New(100, money.EUR)
			_, err := o.AddProduct(p, 1)
			return err
		}},
		{"overflow", money.ErrOverflow, func() error {
			p := espresso
			p.SKU, p.Price = "BIG", chf(1<<62)
			_, err := o.AddProduct(p, 3)
			return err
		}},
		{"tender while open", ErrInvalidTransition, func() error { _, err := o.AddCash(chf(100), nil); return err }},
		{"complete while open", ErrInvalidTransition, o.Complete},
		{"back to cart while open", ErrInvalidTransition, o.BackToCart},
	}
	for _, tt := range tries {
		if err := tt.f(); !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.err)
		}
		after, _ := o.Marshal()
		if string(after) != string(before) {
			t.Fatalf("%s changed the order:\n%s\n%s", tt.name, before, after)
		}
	}
}

func TestTooManyLines(t *testing.T) {
	clk := newClock()
	lane, err := NewLane("L1", Config{Currency: money.CHF, TaxMode: TaxInclusive, MaxLines: 2}, clk.Now)
	must(t, err)
	o, err := lane.NewOrder()
	must(t, err)
	for _, p := range []catalog.Product{espresso, irish} {
		_, err := o.AddProduct(p, 1)
		must(t, err)
	}
	if _, err := o.AddProduct(cake, 1); !errors.Is(err, ErrTooManyLines) {
		t.Errorf("third line err = %v", err)
	}
}

func TestCashSaleWithRounding(t *testing.T) {
	o, _ := newOrder(t)
	_, err := o.AddProduct(cake, 1) // 5.43
	must(t, err)
	must(t, o.StartTendering())
	if _, err := o.AddProduct(espresso, 1); !errors.Is(err, ErrCartLocked) {
		t.Fatalf("changing the cart while tendering: %v", err)
	}
	due, err := o.CashDue(nil)
	must(t, err)
	if due != chf(545) {
		t.Fatalf("cash due = %v, want CHF 5.45", due)
	}
	tender, err := o.AddCash(chf(2000), nil)
	must(t, err)
	if tender.Amount != chf(545) || tender.Cash.Change != chf(1455) || tender.Cash.Given != chf(2000) {
		t.Fatalf("cash tender = %+v %+v", tender, tender.Cash)
	}
	if o.CashRounding() != chf(2) || o.Due() != chf(545) || o.Remaining() != chf(0) {
		t.Fatalf("rounding %v due %v remaining %v", o.CashRounding(), o.Due(), o.Remaining())
	}
	if _, err := o.AddCash(chf(100), nil); !errors.Is(err, ErrOverpaid) {
		t.Fatalf("cash after settled: %v", err)
	}
	must(t, o.Complete())
	if o.Status() != StatusCompleted || o.CompletedAt().IsZero() {
		t.Fatalf("status %s", o.Status())
	}
}

func TestSplitTenderAndDecline(t *testing.T) {
	o, _ := newOrder(t)
	_, err := o.AddProduct(irish, 2) // 19.00
	must(t, err)
	must(t, o.StartTendering())
	cash, err := o.AddCash(chf(500), nil) // partial: no rounding, no change
	must(t, err)
	if cash.Amount != chf(500) || cash.Cash.Change != chf(0) || o.Remaining() != chf(1400) {
		t.Fatalf("partial cash: %+v remaining %v", cash, o.Remaining())
	}
	if _, err := o.AddPayment(TenderCard, chf(1401), Payment{PaymentIntentID: "pi_1", Status: PaymentRequiresPaymentMethod}); !errors.Is(err, ErrOverpaid) {
		t.Fatalf("card above remaining: %v", err)
	}
	card, err := o.AddPayment(TenderCard, chf(1400), Payment{PaymentIntentID: "pi_1", Status: PaymentRequiresPaymentMethod})
	must(t, err)
	if _, err := o.AddPayment(TenderCard, chf(1), Payment{PaymentIntentID: "pi_1", Status: PaymentRequiresPaymentMethod}); !errors.Is(err, ErrInvalidTender) {
		t.Fatalf("same PaymentIntent twice: %v", err)
	}
	if err := o.Complete(); !errors.Is(err, ErrUnderpaid) {
		t.Fatalf("complete before authorisation: %v", err)
	}
	// Declined, then authorised on the same PaymentIntent.
	if err := o.RecordDecline(card.ID, "", ""); !errors.Is(err, ErrInvalidTender) {
		t.Fatalf("decline without a code: %v", err)
	}
	must(t, o.RecordDecline(card.ID, "insufficient_funds", "Your card has insufficient funds."))
	if d := o.Tenders()[1].Payment.Decline; d == nil || d.Code != "insufficient_funds" || o.Tenders()[1].Counts() {
		t.Fatalf("after a decline: %+v", o.Tenders()[1].Payment)
	}
	b, err := o.Marshal()
	must(t, err)
	back, err := Unmarshal(b, o.now)
	must(t, err)
	if d := back.Tenders()[1].Payment.Decline; d == nil || d.Message != "Your card has insufficient funds." {
		t.Fatalf("decline lost in storage: %+v", back.Tenders()[1].Payment)
	}
	must(t, o.SetPaymentStatus(card.ID, PaymentRequiresCapture, "visa", "4242"))
	if o.Tenders()[1].Payment.Decline != nil {
		t.Fatal("an authorisation kept the earlier decline")
	}
	if err := o.BackToCart(); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("back to cart with counting tenders: %v", err)
	}
	must(t, o.Complete())
	ts := o.Tenders()
	if ts[1].Payment.Brand != "visa" || ts[1].Payment.Last4 != "4242" || !ts[1].Counts() {
		t.Fatalf("card tender = %+v", ts[1].Payment)
	}
	ts[1].Payment.Brand = "changed"
	if o.Tenders()[1].Payment.Brand != "visa" {
		t.Fatal("Tenders returned shared state")
	}
}

func TestBackToCart(t *testing.T) {
	o, _ := newOrder(t)
	if err := o.StartTendering(); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("tendering an empty cart: %v", err)
	}
	_, err := o.AddProduct(espresso, 1)
	must(t, err)
	must(t, o.StartTendering())
	tender, err := o.AddPayment(TenderTwint, chf(420), Payment{PaymentIntentID: "pi_tw", Status: PaymentRequiresAction})
	must(t, err)
	must(t, o.BackToCart()) // the TWINT payment never went through
	_, err = o.AddProduct(cake, 1)
	must(t, err)
	must(t, o.StartTendering())
	if err := o.SetPaymentStatus(tender.ID, PaymentCanceled, "", ""); err != nil {
		t.Fatal(err)
	}
	if o.Paid() != chf(0) || o.Remaining() != chf(963) {
		t.Fatalf("paid %v remaining %v", o.Paid(), o.Remaining())
	}
}

// TestSetPaymentAmount: the cart changes after a card payment was set up;
// the waiting payment follows it, and nothing else may change amount.
func TestSetPaymentAmount(t *testing.T) {
	o, _ := newOrder(t)
	_, err := o.AddProduct(espresso, 1)
	must(t, err)
	_, err = o.AddProduct(cake, 1)
	must(t, err)
	must(t, o.StartTendering())
	card, err := o.AddPayment(TenderCard, chf(963), Payment{PaymentIntentID: "pi_1", Status: PaymentRequiresPaymentMethod})
	must(t, err)
	must(t, o.BackToCart())
	cakeLine := o.Lines()[1].ID
	must(t, o.RemoveLine(cakeLine))
	if err := o.SetPaymentAmount(card.ID, chf(420)); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("changing a payment of an open order: %v", err)
	}
	must(t, o.StartTendering())
	for _, tc := range []struct {
		name   string
		tender int
		amount money.Money
		want   error
	}{
		{"more than due", card.ID, chf(963), ErrOverpaid},
		{"zero", card.ID, chf(0), ErrInvalidTender},
		{"other currency", card.ID, money.New(420, money.EUR), money.ErrCurrencyMismatch},
		{"no such tender", 99, chf(420), ErrNoSuchTender},
	} {
		if err := o.SetPaymentAmount(tc.tender, tc.amount); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	must(t, o.SetPaymentAmount(card.ID, chf(420)))
	if got := o.Tenders()[0].Amount; got != chf(420) {
		t.Fatalf("card tender asks for %v, want CHF 4.20", got)
	}
	must(t, o.SetPaymentStatus(card.ID, PaymentRequiresConfirmation, "visa", "4242"))
	if err := o.SetPaymentAmount(card.ID, chf(400)); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("changing a payment being confirmed: %v", err)
	}
	b, err := o.Marshal()
	must(t, err)
	if _, err := Unmarshal(b, newClock().Now); err != nil {
		t.Fatalf("the order no longer decodes: %v", err)
	}
}

func TestStatusMachine(t *testing.T) {
	type step struct {
		name string
		f    func(o *Order) error
	}
	steps := map[string]step{
		"tender":   {"StartTendering", (*Order).StartTendering},
		"back":     {"BackToCart", (*Order).BackToCart},
		"complete": {"Complete", (*Order).Complete},
		"void":     {"Void", func(o *Order) error { return o.Void("customer left") }},
	}
	tests := []struct {
		path []string
		want Status
		err  error // of the last step
	}{
		{[]string{"tender"}, StatusTendering, nil},
		{[]string{"tender", "back"}, StatusOpen, nil},
		{[]string{"void"}, StatusVoided, nil},
		{[]string{"tender", "void"}, StatusVoided, nil},
		{[]string{"tender", "tender"}, StatusTendering, ErrInvalidTransition},
		{[]string{"back"}, StatusOpen, ErrInvalidTransition},
		{[]string{"complete"}, StatusOpen, ErrInvalidTransition},
		{[]string{"tender", "complete"}, StatusTendering, ErrUnderpaid},
		{[]string{"void", "void"}, StatusVoided, ErrImmutable},
		{[]string{"void", "tender"}, StatusVoided, ErrImmutable},
		{[]string{"void", "back"}, StatusVoided, ErrImmutable},
		{[]string{"void", "complete"}, StatusVoided, ErrImmutable},
	}
	for _, tt := range tests {
		o, _ := newOrder(t)
		_, err := o.AddProduct(espresso, 1)
		must(t, err)
		var last error
		for i, name := range tt.path {
			last = steps[name].f(o)
			if i < len(tt.path)-1 && last != nil {
				t.Fatalf("%v: step %s: %v", tt.path, name, last)
			}
		}
		if !errors.Is(last, tt.err) || (tt.err == nil && last != nil) {
			t.Errorf("%v: last err = %v, want %v", tt.path, last, tt.err)
		}
		if o.Status() != tt.want {
			t.Errorf("%v: status %s, want %s", tt.path, o.Status(), tt.want)
		}
	}
}

// Every mutator of a completed or voided order returns ErrImmutable and
// changes nothing.
func TestClosedOrdersAreImmutable(t *testing.T) {
	completed, _ := newOrder(t)
	l, err := completed.AddProduct(espresso, 1)
	must(t, err)
	must(t, completed.StartTendering())
	card, err := completed.AddPayment(TenderCard, chf(420), Payment{PaymentIntentID: "pi_x", Status: PaymentRequiresCapture})
	must(t, err)
	must(t, completed.Complete())

	voided, _ := newOrder(t)
	_, err = voided.AddProduct(espresso, 1)
	must(t, err)
	must(t, voided.Void("test"))

	for _, o := range []*Order{completed, voided} {
		before, err := o.Marshal()
		must(t, err)
		mutators := map[string]func() error{
			"AddProduct":      func() error { _, err := o.AddProduct(cake, 1); return err },
			"SetQuantity":     func() error { return o.SetQuantity(l, 2) },
			"RemoveLine":      func() error { return o.RemoveLine(l) },
			"SetLineDiscount": func() error { return o.SetLineDiscount(l, PercentOff(100)) },
			"SetCartDiscount": func() error { return o.SetCartDiscount(PercentOff(100)) },
			"StartTendering":  o.StartTendering,
			"BackToCart":      o.BackToCart,
			"AddCash":         func() error { _, err := o.AddCash(chf(100), nil); return err },
			"AddPayment": func() error {
				_, err := o.AddPayment(TenderCard, chf(1), Payment{PaymentIntentID: "pi_y", Status: PaymentSucceeded})
				return err
			},
			"SetPaymentStatus": func() error { return o.SetPaymentStatus(card.ID, PaymentSucceeded, "", "") },
			"Complete":         o.Complete,
			"Void":             func() error { return o.Void("again") },
		}
		for name, f := range mutators {
			if err := f(); !errors.Is(err, ErrImmutable) {
				t.Errorf("%s order: %s err = %v, want ErrImmutable", o.Status(), name, err)
			}
		}
		after, err := o.Marshal()
		must(t, err)
		if string(before) != string(after) {
			t.Errorf("%s order changed", o.Status())
		}
	}
}

func TestTenderValidation(t *testing.T) {
	o, _ := newOrder(t)
	_, err := o.AddProduct(espresso, 1)
	must(t, err)
	must(t, o.StartTendering())
	bad := []struct {
		name string
		err  error
		f    func() error
	}{
		{"cash kind via AddPayment", ErrInvalidTender, func() error {
			_, err := o.AddPayment(TenderCash, chf(1), Payment{PaymentIntentID: "pi", Status: PaymentSucceeded})
			return err
		}},
		{"no PaymentIntent", ErrInvalidTender, func() error {
			_, err := o.AddPayment(TenderCard, chf(1), Payment{Status: PaymentSucceeded})
			return err
		}},
		{"bad status", ErrInvalidTender, func() error {
			_, err := o.AddPayment(TenderCard, chf(1), Payment{PaymentIntentID: "pi", Status: "approved"})
			return err
		}},
		{"bad last4", ErrInvalidTender, func() error {
			_, err := o.AddPayment(TenderCard, chf(1), Payment{PaymentIntentID: "pi", Status: PaymentSucceeded, Last4: "42"})
			return err
		}},
		{"zero amount", ErrInvalidTender, func() error {
			_, err := o.AddPayment(TenderCard, chf(0), Payment{PaymentIntentID: "pi", Status: PaymentSucceeded})
			return err
		}},
		{"foreign cash", money.ErrCurrencyMismatch, func() error { _, err := o.AddCash(money.New(500, money.EUR), nil); return err }},
		{"negative cash", ErrInvalidTender, func() error { _, err := o.AddCash(chf(-5), nil); return err }},
		{"unknown tender", ErrNoSuchTender, func() error { return o.SetPaymentStatus(7, PaymentSucceeded, "", "") }},
	}
	for _, tt := range bad {
		if err := tt.f(); !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.err)
		}
	}
	if len(o.Tenders()) != 0 {
		t.Errorf("rejected tenders were recorded: %+v", o.Tenders())
	}
	// Offline (store-and-forward) card payments count.
	_, err = o.AddPayment(TenderCard, chf(420), Payment{Status: PaymentRequiresConfirmation, Offline: true,
		Ref: "R1", Stored: []byte("sealed"), StoredAt: time.Unix(1, 0)})
	must(t, err)
	must(t, o.Complete())
}

func TestCashRoundingSettlesTinyRemainder(t *testing.T) {
	o, _ := newOrder(t)
	sweet := catalog.Product{SKU: "SWEET", Name: "Sugar cube", Price: chf(2), TaxRate: 260, Category: "Pastries"}
	_, err := o.AddProduct(sweet, 1)
	must(t, err)
	must(t, o.StartTendering())
	tender, err := o.AddCash(chf(100), nil)
	must(t, err)
	if tender.Amount != chf(0) || tender.Cash.Change != chf(100) || o.CashRounding() != chf(-2) || o.Remaining() != chf(0) {
		t.Fatalf("tender %+v %+v rounding %v remaining %v", tender, tender.Cash, o.CashRounding(), o.Remaining())
	}
	must(t, o.Complete())
	b, err := o.Marshal()
	must(t, err)
	if _, err := Unmarshal(b, newClock().Now); err != nil {
		t.Fatalf("order settled by rounding does not decode: %v", err)
	}
}

func TestFreeOrderCompletesWithoutTender(t *testing.T) {
	o, _ := newOrder(t)
	l, err := o.AddProduct(espresso, 1)
	must(t, err)
	must(t, o.SetLineDiscount(l, PercentOff(10_000)))
	must(t, o.StartTendering())
	must(t, o.Complete())
}

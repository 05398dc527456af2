package report

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
)

// ct is a count and an amount in minor units.
type ct [2]int64

// flat lists every figure of r as "CUR item" → count and amount.
func flat(r Report) map[string]ct {
	m := map[string]ct{}
	for _, c := range r.Currencies {
		k := c.Currency.Code() + " "
		tally := func(item string, t Tally) { m[k+item] = ct{int64(t.Count), t.Amount.Amount} }
		amount := func(item string, a money.Money) { m[k+item] = ct{0, a.Amount} }
		m[k+"sales"] = ct{int64(c.Sales), c.Gross.Amount}
		amount("net", c.Net)
		amount("tax", c.Tax)
		amount("discounts", c.Discounts)
		amount("rounding", c.CashRounding)
		amount("overpaid", c.Overpaid)
		for _, tr := range c.TaxRates {
			amount(fmt.Sprintf("net %d", tr.Rate), tr.Net)
			amount(fmt.Sprintf("vat %d", tr.Rate), tr.Tax)
		}
		for _, t := range c.Tenders {
			tally(string(t.Tender), t.Tally)
		}
		tally("voids", c.Voids)
		tally("refunds", c.Refunds)
		tally("open", c.Open)
		amount("open_paid", c.OpenPaid)
		tally("offline_pending", c.OfflinePending)
		tally("payments_failed", c.PaymentsFailed)
		tally("captured", c.Captured)
		for _, cn := range c.Cancelled {
			tally("cancelled_"+cn.Reason, cn.Tally)
		}
		tally("actions_failed", c.ActionsFailed)
	}
	return m
}

func TestMake(t *testing.T) {
	tests := []struct {
		name  string
		input func(t *testing.T) Input
		want  map[string]ct // every figure not listed must be zero
	}{
		{
			name:  "empty day",
			input: func(t *testing.T) Input { return baseInput() },
			want:  map[string]ct{},
		},
		{
			name: "cash and card, one cash sale rounded to 5 Rappen",
			input: func(t *testing.T) Input {
				l := newLane(t, incCHF, &stepClock{t: day.Add(9 * time.Hour)})
				return baseInput(
					build(t, l, sale{items: []item{{espresso, 2}, {irish, 1}}, pays: []pay{{kind: order.TenderCash, given: 2000}}}),
					build(t, l, sale{items: []item{{cake, 1}, {espresso, 1}}, pays: []pay{{kind: order.TenderCard}}}),
					build(t, l, sale{items: []item{{cake, 1}}, pays: []pay{{kind: order.TenderCash, given: 1000}}}),
				)
			},
			want: map[string]ct{
				"CHF sales": {3, 3298}, "CHF net": {0, 3166}, "CHF tax": {0, 130}, "CHF rounding": {0, 2},
				"CHF net 260": {0, 2287}, "CHF vat 260": {0, 59}, "CHF net 810": {0, 879}, "CHF vat 810": {0, 71},
				"CHF cash": {2, 2335}, "CHF card": {1, 963},
			},
		},
		{
			name: "discount, declined card, offline card and cash",
			input: func(t *testing.T) Input {
				l := newLane(t, incCHF, &stepClock{t: day.Add(9 * time.Hour)})
				return baseInput(build(t, l, sale{
					items: []item{{irish, 2}}, discount: order.PercentOff(1000),
					pays: []pay{
						{kind: order.TenderCard, amount: 1000, status: order.PaymentRequiresPaymentMethod},
						{kind: order.TenderCard, amount: 1002, status: order.PaymentRequiresPaymentMethod, offline: true},
						{kind: order.TenderCash, given: 1000},
					},
				}))
			},
			want: map[string]ct{
				"CHF sales": {1, 1712}, "CHF net": {0, 1582}, "CHF tax": {0, 128}, "CHF discounts": {0, 190},
				"CHF rounding": {0, 2}, "CHF net 810": {0, 1582}, "CHF vat 810": {0, 128},
				"CHF card_offline": {1, 1002}, "CHF cash": {1, 710},
			},
		},
		{
			name: "wallets and a SEPA debit returned after the sale",
			input: func(t *testing.T) Input {
				l := newLane(t, incCHF, &stepClock{t: day.Add(9 * time.Hour)})
				sepa := build(t, l, sale{items: []item{{irish, 1}}, pays: []pay{{kind: order.TenderSEPADebit, status: order.PaymentProcessing, fail: true}}})
				in := baseInput(
					build(t, l, sale{items: []item{{espresso, 1}}, pays: []pay{{kind: order.TenderTwint}}}),
					build(t, l, sale{items: []item{{cake, 1}}, pays: []pay{{kind: order.TenderMobilePay, status: order.PaymentRequiresCapture}}}),
					sepa,
				)
				if !sepa.PaymentFailed() {
					t.Fatal("the SEPA debit did not fail")
				}
				in.PaymentsFailed = []Action{{OrderID: sepa.ID(), PaymentIntent: sepa.Tenders()[0].Payment.PaymentIntentID, Amount: chf(950), Reason: "insufficient_funds"}}
				return in
			},
			want: map[string]ct{
				"CHF sales": {3, 1913}, "CHF net": {0, 1817}, "CHF tax": {0, 96},
				"CHF net 260": {0, 938}, "CHF vat 260": {0, 25}, "CHF net 810": {0, 879}, "CHF vat 810": {0, 71},
				"CHF twint": {1, 420}, "CHF mobilepay": {1, 543}, "CHF sepa_debit": {1, 950}, "CHF payments_failed": {1, 950},
			},
		},
		{
			name: "voids and sales still open",
			input: func(t *testing.T) Input {
				l := newLane(t, incCHF, &stepClock{t: day.Add(9 * time.Hour)})
				return baseInput(
					build(t, l, sale{items: []item{{irish, 1}, {espresso, 1}}, end: voided}),
					build(t, l, sale{items: []item{{cake, 1}}, pays: []pay{{kind: order.TenderCard, status: order.PaymentCanceled}}, end: voided}),
					build(t, l, sale{items: []item{{espresso, 2}}, end: open}),
					build(t, l, sale{items: []item{{irish, 1}}, pays: []pay{{kind: order.TenderCash, given: 500}}, end: tendering}),
				)
			},
			want: map[string]ct{"CHF voids": {2, 1913}, "CHF open": {2, 1790}, "CHF open_paid": {0, 500}},
		},
		{
			name: "two currencies after a settings change, VAT added in EUR",
			input: func(t *testing.T) Input {
				clk := &stepClock{t: day.Add(9 * time.Hour)}
				l := newLane(t, incCHF, clk)
				e := newLane(t, excEUR, clk)
				return baseInput(
					build(t, l, sale{items: []item{{espresso, 1}}, pays: []pay{{kind: order.TenderCash, given: 500}}}),
					build(t, e, sale{items: []item{{book, 1}, {wine, 1}}, pays: []pay{{kind: order.TenderCard}}}),
				)
			},
			want: map[string]ct{
				"CHF sales": {1, 420}, "CHF net": {0, 409}, "CHF tax": {0, 11}, "CHF net 260": {0, 409}, "CHF vat 260": {0, 11},
				"CHF cash":  {1, 420},
				"EUR sales": {1, 2616}, "EUR net": {0, 2299}, "EUR tax": {0, 317}, "EUR net 700": {0, 1000}, "EUR vat 700": {0, 70},
				"EUR net 1900": {0, 1299}, "EUR vat 1900": {0, 247}, "EUR card": {1, 2616},
			},
		},
		{
			name: "reconciliation, refunds and follow-up without sales",
			input: func(t *testing.T) Input {
				in := baseInput()
				in.Captured = []Action{{OrderID: "L1-a", PaymentIntent: "pi_a", Amount: chf(1000)}, {OrderID: "L1-b", PaymentIntent: "pi_b", Amount: chf(250)}}
				in.Cancelled = []Action{
					{PaymentIntent: "pi_c", Amount: chf(500), Reason: ReasonAbandoned},
					{OrderID: "L1-d", PaymentIntent: "pi_d", Amount: chf(300), Reason: ReasonDuplicate},
					{PaymentIntent: "pi_e", Amount: chf(100), Reason: "requested_by_customer"},
					{PaymentIntent: "pi_f", Amount: eur(700), Reason: ReasonAbandoned},
				}
				in.ActionsFailed = []Action{{OrderID: "L1-g", PaymentIntent: "pi_g", Amount: chf(900), Reason: "capture: card_declined"}}
				in.Refunds = []Action{
					{OrderID: "L1-h", PaymentIntent: "pi_h", Amount: chf(420), Reason: "requested_by_customer"},
					{OrderID: "L1-h", PaymentIntent: "pi_h", Amount: chf(100)},
				}
				in.OfflinePending = []Action{{OrderID: "L1-y", Amount: chf(1002)}}
				in.OutboxPending, in.DeadLetters = 3, 1
				return in
			},
			want: map[string]ct{
				"CHF captured": {2, 1250}, "CHF cancelled_abandoned": {1, 500}, "CHF cancelled_duplicate": {1, 300},
				"CHF cancelled_requested_by_customer": {1, 100}, "CHF actions_failed": {1, 900},
				"CHF refunds": {2, 520}, "CHF offline_pending": {1, 1002},
				"EUR cancelled_abandoned": {1, 700},
			},
		},
		{
			name: "cash handed over between the exact and the rounded amount",
			input: func(t *testing.T) Input {
				l := newLane(t, incCHF, &stepClock{t: day.Add(9 * time.Hour)})
				return baseInput(build(t, l, sale{items: []item{{cake, 1}}, pays: []pay{{kind: order.TenderCash, given: 544}}}))
			},
			want: map[string]ct{
				"CHF sales": {1, 543}, "CHF net": {0, 529}, "CHF tax": {0, 14}, "CHF net 260": {0, 529}, "CHF vat 260": {0, 14},
				"CHF cash": {1, 544}, "CHF overpaid": {0, 1},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.input(t)
			r, err := Make(in)
			if err != nil {
				t.Fatal(err)
			}
			checkIdentities(t, r)
			got := flat(r)
			for k, w := range tc.want {
				if got[k] != w {
					t.Errorf("%s = %v, want %v", k, got[k], w)
				}
			}
			for _, k := range slices.Sorted(maps.Keys(got)) {
				if _, listed := tc.want[k]; !listed && got[k] != (ct{}) {
					t.Errorf("%s = %v, want zero", k, got[k])
				}
			}
			if r.Lane != in.Lane || !r.From.Equal(in.From) || r.OutboxPending != in.OutboxPending || r.DeadLetters != in.DeadLetters {
				t.Errorf("header = %+v", r)
			}
		})
	}
}

func TestMakeTaxModesAndOrder(t *testing.T) {
	clk := &stepClock{t: day.Add(9 * time.Hour)}
	e := newLane(t, excEUR, clk)
	l := newLane(t, incCHF, clk)
	r, err := Make(baseInput(
		build(t, e, sale{items: []item{{wine, 1}}, pays: []pay{{kind: order.TenderCard}}}),
		build(t, l, sale{items: []item{{irish, 1}}, pays: []pay{{kind: order.TenderCard}}}),
	))
	must(t, err)
	if len(r.Currencies) != 2 || r.Currencies[0].Currency != money.CHF || r.Currencies[1].Currency != money.EUR {
		t.Fatalf("currencies not sorted by code: %+v", r.Currencies)
	}
	if m := r.Currencies[0].TaxModes; !slices.Equal(m, []order.TaxMode{order.TaxInclusive}) {
		t.Errorf("CHF tax modes %v", m)
	}
	if m := r.Currencies[1].TaxModes; !slices.Equal(m, []order.TaxMode{order.TaxExclusive}) {
		t.Errorf("EUR tax modes %v", m)
	}
	c, ok := r.Currency(money.EUR)
	if !ok || c.Tender(Card) != (Tally{Count: 1, Amount: eur(1546)}) {
		t.Errorf("EUR card = %+v", c.Tender(Card))
	}
	if _, ok := r.Currency(money.JPY); ok {
		t.Error("a JPY section out of nowhere")
	}
}

func TestMakeErrors(t *testing.T) {
	l := newLane(t, incCHF, &stepClock{t: day.Add(9 * time.Hour)})
	paid := build(t, l, sale{items: []item{{espresso, 1}}, pays: []pay{{kind: order.TenderCard}}})
	other, err := order.NewLane("L2", incCHF, (&stepClock{t: day.Add(9 * time.Hour)}).Now)
	must(t, err)
	elsewhere := build(t, other, sale{items: []item{{espresso, 1}}, end: open})
	yesterday := build(t, newLane(t, incCHF, &stepClock{t: day.Add(-time.Hour)}), sale{items: []item{{espresso, 1}}, end: open})
	tomorrow := build(t, newLane(t, incCHF, &stepClock{t: day.Add(24*time.Hour - time.Minute)}), sale{items: []item{{espresso, 1}}, end: open})

	big := money.New(math.MaxInt64, money.CHF)
	tests := []struct {
		name   string
		change func(in *Input)
		want   error
	}{
		{"reversed period", func(in *Input) { in.From, in.To = in.To, in.From }, ErrInvalidInput},
		{"empty period", func(in *Input) { in.To = in.From }, ErrInvalidInput},
		{"no generation time", func(in *Input) { in.GeneratedAt = time.Time{} }, ErrInvalidInput},
		{"bad lane", func(in *Input) { in.Lane = "L 1" }, ErrInvalidInput},
		{"negative outbox", func(in *Input) { in.DeadLetters = -1 }, ErrInvalidInput},
		{"nil order", func(in *Input) { in.Orders = append(in.Orders, nil) }, ErrInconsistent},
		{"order twice", func(in *Input) { in.Orders = append(in.Orders, paid) }, ErrInconsistent},
		{"order of another lane", func(in *Input) { in.Orders = append(in.Orders, elsewhere) }, ErrInconsistent},
		{"order of the day before", func(in *Input) { in.Orders = append(in.Orders, yesterday) }, ErrInconsistent},
		{"order of the next day", func(in *Input) { in.Orders = append(in.Orders, tomorrow) }, ErrInconsistent},
		{"action without currency", func(in *Input) {
			in.Captured = []Action{{PaymentIntent: "pi_1", Amount: money.Money{Amount: 5}}}
		}, ErrInvalidInput},
		{"negative refund", func(in *Input) { in.Refunds = []Action{{OrderID: "L1-x", Amount: chf(-5)}} }, ErrInvalidInput},
		{"capture without PaymentIntent", func(in *Input) { in.Captured = []Action{{OrderID: "L1-x", Amount: chf(5)}} }, ErrInvalidInput},
		{"offline payment without order", func(in *Input) { in.OfflinePending = []Action{{Amount: chf(5)}} }, ErrInvalidInput},
		{"reason not an API code", func(in *Input) {
			in.Cancelled = []Action{{PaymentIntent: "pi_1", Amount: chf(5), Reason: "=HYPERLINK(\"x\")"}}
		}, ErrInvalidInput},
		{"reason too long", func(in *Input) {
			in.Refunds = []Action{{PaymentIntent: "pi_1", Amount: chf(5), Reason: strings.Repeat("a", MaxReasonLen+1)}}
		}, ErrInvalidInput},
		{"captured and cancelled", func(in *Input) {
			in.Captured = []Action{{PaymentIntent: "pi_1", Amount: chf(5)}}
			in.Cancelled = []Action{{PaymentIntent: "pi_1", Amount: chf(5), Reason: ReasonDuplicate}}
		}, ErrInconsistent},
		{"captured twice", func(in *Input) {
			in.Captured = []Action{{PaymentIntent: "pi_1", Amount: chf(5)}, {PaymentIntent: "pi_1", Amount: chf(5)}}
		}, ErrInconsistent},
		{"refunds overflow", func(in *Input) {
			in.Refunds = []Action{{PaymentIntent: "pi_1", Amount: big}, {PaymentIntent: "pi_1", Amount: chf(1)}}
		}, money.ErrOverflow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput(paid)
			tc.change(&in)
			r, err := Make(in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "report: ") {
				t.Errorf("error %q does not name the operation", err)
			}
			if len(r.Currencies) != 0 || r.Lane != "" {
				t.Errorf("a report with the error: %+v", r)
			}
		})
	}
}

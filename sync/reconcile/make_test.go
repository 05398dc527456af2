package reconcile_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/reconcile"
)

// now is the reconciliation time of the table: 21:00 on the day.
var (
	day = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	now = day.Add(21 * time.Hour)
)

// piSpec is a compact PaymentIntent for the table (and the fuzz seeds).
type piSpec struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Lane       string `json:"lane,omitempty"`
	Order      string `json:"order,omitempty"`
	Amount     int64  `json:"amount"`
	Capturable int64  `json:"capturable,omitempty"`
	Currency   string `json:"currency,omitempty"`
	// Minute is the creation time in minutes after midnight of day
	// (negative: the day before).
	Minute int64 `json:"minute"`
	// Present makes it a card_present PaymentIntent (48h window).
	Present bool `json:"present,omitempty"`
	// Before is capture_before in minutes after midnight, given by an
	// expanded charge (0: not expanded).
	Before int64 `json:"before,omitempty"`
	// Failure is the last_payment_error decline code.
	Failure string `json:"failure,omitempty"`
	// CancelReason is cancellation_reason.
	CancelReason string `json:"cancel_reason,omitempty"`
	// Nil stands for a nil entry in the list; NoMeta for no metadata.
	Nil    bool `json:"nil,omitempty"`
	NoMeta bool `json:"no_meta,omitempty"`
}

func (s piSpec) intent() *stripe.PaymentIntent {
	if s.Nil {
		return nil
	}
	cur := s.Currency
	if cur == "" {
		cur = "chf"
	}
	pi := &stripe.PaymentIntent{
		ID: s.ID, Status: stripe.PaymentIntentStatus(s.Status), Amount: s.Amount, AmountCapturable: s.Capturable,
		Currency: stripe.Currency(cur), Created: day.Add(time.Duration(s.Minute) * time.Minute).Unix(),
		PaymentMethodTypes: []string{"card"},
	}
	if s.Present {
		pi.PaymentMethodTypes = []string{"card_present"}
	}
	if !s.NoMeta {
		pi.Metadata = map[string]string{}
		if s.Lane != "" {
			pi.Metadata["lane"] = s.Lane
		}
		if s.Order != "" {
			pi.Metadata["order_id"] = s.Order
		}
	}
	if s.Before != 0 {
		at := day.Add(time.Duration(s.Before) * time.Minute).Unix()
		d := &stripe.ChargePaymentMethodDetails{Type: "card"}
		if s.Present {
			d.Type, d.CardPresent = "card_present", &stripe.ChargePaymentMethodDetailsCardPresent{CaptureBefore: at}
		} else {
			d.Card = &stripe.ChargePaymentMethodDetailsCard{CaptureBefore: at}
		}
		pi.LatestCharge = &stripe.Charge{ID: "ch_" + s.ID, PaymentMethodDetails: d}
	}
	if s.Failure != "" {
		pi.LastPaymentError = &stripe.Error{Code: "card_declined", DeclineCode: stripe.DeclineCode(s.Failure)}
	}
	pi.CancellationReason = stripe.PaymentIntentCancellationReason(s.CancelReason)
	return pi
}

// caseSpec is one table case; JSON-encodable so that it seeds FuzzMake.
type caseSpec struct {
	Intents   []piSpec          `json:"intents"`
	Orders    []reconcile.Local `json:"orders"`
	Completed []string          `json:"completed"` // order ids of Orders passed as Input.Completed
	Queued    map[string]string `json:"queued"`
	Window    time.Duration     `json:"window"`
}

func (c caseSpec) input() reconcile.Input {
	in := reconcile.Input{Lane: "lane-1", Now: now, Queued: c.Queued, NearExpiry: c.Window}
	orders := map[string]reconcile.Local{}
	for _, o := range c.Orders {
		orders[o.OrderID] = o
	}
	in.Order = func(id string) (reconcile.Local, bool) { o, ok := orders[id]; return o, ok }
	for _, s := range c.Intents {
		in.Intents = append(in.Intents, s.intent())
	}
	for _, id := range c.Completed {
		if o, ok := orders[id]; ok {
			in.Completed = append(in.Completed, o)
		}
	}
	return in
}

// want is the part of a Row a case checks; Reason must contain Says.
type want struct {
	Kind   reconcile.Kind
	PI     string
	Order  string
	Amount int64
	Near   bool
	Says   string
}

const rc = "requires_capture"

func completed(id string, amount int64, counting ...string) reconcile.Local {
	return reconcile.Local{OrderID: id, Status: "completed", Counting: counting, Amount: amount, Currency: "chf"}
}

func withStatus(id, status string) reconcile.Local {
	return reconcile.Local{OrderID: id, Status: status}
}

var makeCases = []struct {
	name    string
	c       caseSpec
	want    []want
	foreign int
	actions int
}{
	{
		name: "completed order counting the payment: capture amount_capturable",
		c: caseSpec{
			Intents: []piSpec{{ID: "pi_1", Status: rc, Lane: "lane-1", Order: "42", Amount: 1500, Capturable: 1200, Minute: 600}},
			Orders:  []reconcile.Local{completed("42", 1200, "pi_1")},
		},
		want:    []want{{Kind: reconcile.Capture, PI: "pi_1", Order: "42", Amount: 1200, Says: "capture 12.00 CHF"}},
		actions: 1,
	},
	{
		name: "no order on the till: cancel as abandoned",
		c: caseSpec{
			Intents: []piSpec{{ID: "pi_1", Status: rc, Lane: "lane-1", Order: "77", Amount: 990, Capturable: 990, Minute: 600}},
		},
		want:    []want{{Kind: reconcile.CancelAbandoned, PI: "pi_1", Order: "77", Amount: 990, Says: "No order 77"}},
		actions: 1,
	},
	{
		name: "voided order: cancel as abandoned",
		c: caseSpec{
			Intents: []piSpec{{ID: "pi_1", Status: rc, Lane: "lane-1", Order: "43", Amount: 990, Capturable: 990, Minute: 600}},
			Orders:  []reconcile.Local{withStatus("43", "voided")},
		},
		want:    []want{{Kind: reconcile.CancelAbandoned, PI: "pi_1", Order: "43", Amount: 990, Says: "voided"}},
		actions: 1,
	},
	{
		name: "completed and paid by other means: cancel as duplicate",
		c: caseSpec{
			Intents: []piSpec{{ID: "pi_card", Status: rc, Lane: "lane-1", Order: "44", Amount: 2000, Capturable: 2000, Minute: 600}},
			Orders:  []reconcile.Local{{OrderID: "44", Status: "completed"}}, // paid cash: no counting card payment
		},
		want:    []want{{Kind: reconcile.CancelDuplicate, PI: "pi_card", Order: "44", Amount: 2000, Says: "paid by other means"}},
		actions: 1,
	},
	{
		name: "open and tendering orders are left alone",
		c: caseSpec{
			Intents: []piSpec{
				{ID: "pi_1", Status: rc, Lane: "lane-1", Order: "50", Amount: 100, Capturable: 100, Minute: 1200},
				{ID: "pi_2", Status: rc, Lane: "lane-1", Order: "51", Amount: 200, Capturable: 200, Minute: 1201},
			},
			Orders: []reconcile.Local{withStatus("50", "open"), withStatus("51", "tendering")},
		},
		want: []want{
			{Kind: reconcile.InProgress, PI: "pi_1", Order: "50", Amount: 100, Says: "still open"},
			{Kind: reconcile.InProgress, PI: "pi_2", Order: "51", Amount: 200, Says: "still tendering"},
		},
	},
	{
		name: "queued capture or cancel: nothing to do, a mismatch is pointed out",
		c: caseSpec{
			Intents: []piSpec{
				{ID: "pi_1", Status: rc, Lane: "lane-1", Order: "42", Amount: 1200, Capturable: 1200, Minute: 600},
				{ID: "pi_2", Status: rc, Lane: "lane-1", Order: "43", Amount: 500, Capturable: 500, Minute: 601},
				{ID: "pi_3", Status: rc, Lane: "lane-1", Order: "44", Amount: 700, Capturable: 700, Minute: 602},
				{ID: "pi_4", Status: rc, Lane: "lane-1", Order: "45", Amount: 900, Capturable: 900, Minute: 603},
			},
			Orders: []reconcile.Local{completed("42", 1200, "pi_1"), withStatus("43", "voided"), withStatus("44", "open"), completed("45", 900, "pi_4")},
			Queued: map[string]string{"pi_1": "capture", "pi_2": "capture", "pi_3": "cancel", "pi_4": "update"},
		},
		want: []want{
			{Kind: reconcile.AlreadyQueued, PI: "pi_1", Order: "42", Amount: 1200, Says: "A capture for this payment of order 42 is already waiting in the outbox: nothing to do here."},
			{Kind: reconcile.AlreadyQueued, PI: "pi_2", Order: "43", Amount: 500, Says: "calls for a cancel: check the outbox"},
			{Kind: reconcile.AlreadyQueued, PI: "pi_3", Order: "44", Amount: 700, Says: "still open"},
			{Kind: reconcile.AlreadyQueued, PI: "pi_4", Order: "45", Amount: 900, Says: "An operation for this payment of order 45 is already waiting in the outbox: nothing to do here, but the order now calls for a capture"},
		},
	},
	{
		name: "other lanes, no metadata, nil and id-less intents are foreign",
		c: caseSpec{
			Intents: []piSpec{
				{ID: "pi_other", Status: rc, Lane: "lane-2", Order: "42", Amount: 100, Capturable: 100, Minute: 600},
				{ID: "pi_nometa", Status: rc, NoMeta: true, Amount: 100, Capturable: 100, Minute: 600},
				{ID: "pi_noorder", Status: rc, Lane: "lane-1", Amount: 100, Capturable: 100, Minute: 600},
				{ID: "pi_nolane", Status: rc, Order: "42", Amount: 100, Capturable: 100, Minute: 600},
				{Nil: true},
				{ID: "", Status: rc, Lane: "lane-1", Order: "42", Amount: 100, Minute: 600},
			},
			Orders: []reconcile.Local{completed("42", 100, "pi_other", "pi_nometa", "pi_noorder", "pi_nolane")},
		},
		foreign: 6,
	},
	{
		name: "statuses other than requires_capture get no action",
		c: caseSpec{
			Intents: []piSpec{
				{ID: "pi_s", Status: "succeeded", Lane: "lane-1", Order: "1", Amount: 100, Minute: 600},
				{ID: "pi_p", Status: "processing", Lane: "lane-1", Order: "2", Amount: 100, Minute: 600},
				{ID: "pi_c", Status: "canceled", Lane: "lane-1", Order: "3", Amount: 100, Minute: 600, CancelReason: "abandoned"},
				{ID: "pi_r", Status: "requires_payment_method", Lane: "lane-1", Order: "4", Amount: 100, Minute: 600},
				{ID: "pi_a", Status: "requires_action", Lane: "lane-1", Order: "5", Amount: 100, Minute: 600},
				{ID: "pi_f", Status: "requires_confirmation", Lane: "lane-1", Order: "6", Amount: 100, Minute: 600},
			},
			// Order 1 counts pi_s (normal); order 3 was voided; 4 has no order.
			Orders: []reconcile.Local{completed("1", 100, "pi_s"), completed("2", 100, "pi_p"), withStatus("3", "voided")},
		},
	},
	{
		name: "near expiry: flagged on an action row, a row of its own otherwise",
		c: caseSpec{
			Intents: []piSpec{
				// Created yesterday at 08:00 on a reader: lapses today at 08:00 + 48h = tomorrow 08:00, 11h away.
				{ID: "pi_cap", Status: rc, Lane: "lane-1", Order: "42", Amount: 1200, Capturable: 1200, Minute: -16 * 60, Present: true},
				// capture_before from the expanded charge: 22:00 today.
				{ID: "pi_open", Status: rc, Lane: "lane-1", Order: "50", Amount: 300, Capturable: 300, Minute: 600, Before: 22 * 60, Present: true},
				{ID: "pi_q", Status: rc, Lane: "lane-1", Order: "51", Amount: 400, Capturable: 400, Minute: 601, Before: 20 * 60},
				// Online card created today: 7 days, not near.
				{ID: "pi_far", Status: rc, Lane: "lane-1", Order: "52", Amount: 500, Capturable: 500, Minute: 602},
			},
			Orders: []reconcile.Local{completed("42", 1200, "pi_cap"), withStatus("50", "open"), withStatus("51", "tendering"), withStatus("52", "open")},
			Queued: map[string]string{"pi_q": "cancel"},
		},
		want: []want{
			{Kind: reconcile.Capture, PI: "pi_cap", Order: "42", Amount: 1200, Near: true},
			{Kind: reconcile.AlreadyQueued, PI: "pi_q", Order: "51", Amount: 400, Near: true},
			{Kind: reconcile.InProgress, PI: "pi_open", Order: "50", Amount: 300, Near: true},
			{Kind: reconcile.InProgress, PI: "pi_far", Order: "52", Amount: 500},
			{Kind: reconcile.NearExpiry, PI: "pi_open", Order: "50", Amount: 300, Near: true, Says: "lapses at 2026-11-23 22:00 UTC (in 1h0m0s)"},
			{Kind: reconcile.NearExpiry, PI: "pi_q", Order: "51", Amount: 400, Near: true, Says: "lapsed at 2026-11-23 20:00 UTC"},
		},
		actions: 1,
	},
	{
		name: "a custom window: 1h",
		c: caseSpec{
			Intents: []piSpec{
				{ID: "pi_1", Status: rc, Lane: "lane-1", Order: "50", Amount: 300, Capturable: 300, Minute: 600, Before: 22*60 + 30},
				{ID: "pi_2", Status: rc, Lane: "lane-1", Order: "51", Amount: 300, Capturable: 300, Minute: 601, Before: 21*60 + 30},
			},
			Orders: []reconcile.Local{withStatus("50", "open"), withStatus("51", "open")},
			Window: time.Hour,
		},
		want: []want{
			{Kind: reconcile.InProgress, PI: "pi_1", Order: "50", Amount: 300},
			{Kind: reconcile.InProgress, PI: "pi_2", Order: "51", Amount: 300, Near: true},
			{Kind: reconcile.NearExpiry, PI: "pi_2", Order: "51", Amount: 300, Near: true, Says: "in 30m0s"},
		},
	},
	{
		name: "completed order whose payment the server did not list",
		c: caseSpec{
			Intents: []piSpec{
				{ID: "pi_here", Status: "succeeded", Lane: "lane-1", Order: "60", Amount: 1000, Minute: 600},
				// Listed, though in another lane: it is on the server.
				{ID: "pi_elsewhere", Status: "succeeded", Lane: "lane-2", Order: "61", Amount: 1000, Minute: 600},
			},
			Orders: []reconcile.Local{
				completed("60", 3000, "pi_here", "pi_gone"),
				completed("61", 1000, "pi_elsewhere"),
				completed("62", 2550, "pi_lost", ""),
			},
			Completed: []string{"60", "61", "62", "62"}, // 62 twice: one row
		},
		want: []want{
			{Kind: reconcile.MissingOnServer, PI: "pi_gone", Order: "60", Amount: 3000, Says: "Order 60 was completed with payment pi_gone (card and wallet payments 30.00 CHF in all)"},
			{Kind: reconcile.MissingOnServer, PI: "pi_lost", Order: "62", Amount: 2550, Says: "25.50 CHF"},
		},
		foreign: 1,
	},
	{
		name: "several PaymentIntents per order",
		c: caseSpec{
			Intents: []piSpec{
				{ID: "pi_b", Status: rc, Lane: "lane-1", Order: "70", Amount: 1000, Capturable: 1000, Minute: 601},
				{ID: "pi_a", Status: rc, Lane: "lane-1", Order: "70", Amount: 2000, Capturable: 2000, Minute: 600},
				// A first try abandoned on the reader, then paid by the two above.
				{ID: "pi_c", Status: rc, Lane: "lane-1", Order: "70", Amount: 3000, Capturable: 3000, Minute: 599},
				{ID: "pi_d", Status: "canceled", Lane: "lane-1", Order: "70", Amount: 3000, Minute: 598},
			},
			Orders: []reconcile.Local{completed("70", 3000, "pi_a", "pi_b")},
		},
		want: []want{
			{Kind: reconcile.Capture, PI: "pi_a", Order: "70", Amount: 2000},
			{Kind: reconcile.Capture, PI: "pi_b", Order: "70", Amount: 1000},
			{Kind: reconcile.CancelDuplicate, PI: "pi_c", Order: "70", Amount: 3000},
		},
		actions: 3,
	},
	{
		name: "a counted payment that failed or lapsed after the sale",
		c: caseSpec{
			Intents: []piSpec{
				{ID: "pi_sepa", Status: "requires_payment_method", Lane: "lane-1", Order: "80", Amount: 4500, Currency: "eur", Minute: 600, Failure: "insufficient_funds"},
				{ID: "pi_lapsed", Status: "canceled", Lane: "lane-1", Order: "81", Amount: 1200, Minute: 601, CancelReason: "automatic"},
			},
			Orders: []reconcile.Local{completed("80", 4500, "pi_sepa"), completed("81", 1200, "pi_lapsed")},
		},
		want: []want{
			{Kind: reconcile.PaymentFailed, PI: "pi_sepa", Order: "80", Amount: 4500, Says: "45.00 EUR payment, but it failed on the server (insufficient_funds)"},
			{Kind: reconcile.PaymentFailed, PI: "pi_lapsed", Order: "81", Amount: 1200, Says: "lapsed before capture"},
		},
	},
	{
		name: "an intent listed twice is planned once",
		c: caseSpec{
			Intents: []piSpec{
				{ID: "pi_1", Status: rc, Lane: "lane-1", Order: "42", Amount: 1200, Capturable: 1200, Minute: 600},
				{ID: "pi_1", Status: rc, Lane: "lane-1", Order: "42", Amount: 1200, Capturable: 1200, Minute: 600},
			},
			Orders: []reconcile.Local{completed("42", 1200, "pi_1")},
		},
		want:    []want{{Kind: reconcile.Capture, PI: "pi_1", Order: "42", Amount: 1200}},
		actions: 1,
	},
	{
		name: "order: capture, then cancels, then listings; by creation time then id",
		c: caseSpec{
			Intents: []piSpec{
				{ID: "pi_z", Status: rc, Lane: "lane-1", Order: "9", Amount: 100, Capturable: 100, Minute: 500},
				{ID: "pi_y", Status: rc, Lane: "lane-1", Order: "8", Amount: 100, Capturable: 100, Minute: 500},
				{ID: "pi_x", Status: rc, Lane: "lane-1", Order: "7", Amount: 100, Capturable: 100, Minute: 400},
				{ID: "pi_w", Status: rc, Lane: "lane-1", Order: "6", Amount: 100, Capturable: 100, Minute: 300},
				{ID: "pi_v", Status: rc, Lane: "lane-1", Order: "5", Amount: 100, Capturable: 100, Minute: 200},
			},
			Orders: []reconcile.Local{completed("9", 100, "pi_z"), completed("8", 100, "pi_y"), withStatus("6", "open"), {OrderID: "5", Status: "completed"}},
		},
		want: []want{
			{Kind: reconcile.Capture, PI: "pi_y", Order: "8", Amount: 100},
			{Kind: reconcile.Capture, PI: "pi_z", Order: "9", Amount: 100},
			{Kind: reconcile.CancelAbandoned, PI: "pi_x", Order: "7", Amount: 100},
			{Kind: reconcile.CancelDuplicate, PI: "pi_v", Order: "5", Amount: 100},
			{Kind: reconcile.InProgress, PI: "pi_w", Order: "6", Amount: 100},
		},
		actions: 4,
	},
	{
		name: "zero-decimal and three-decimal currencies in reasons",
		c: caseSpec{
			Intents: []piSpec{
				{ID: "pi_jpy", Status: rc, Lane: "lane-1", Order: "1", Amount: 1500, Capturable: 1500, Currency: "jpy", Minute: 600},
				{ID: "pi_kwd", Status: rc, Lane: "lane-1", Order: "2", Amount: 1005, Capturable: 1005, Currency: "kwd", Minute: 601},
				{ID: "pi_eur", Status: rc, Lane: "lane-1", Order: "3", Amount: 5, Capturable: 5, Currency: "eur", Minute: 602},
			},
		},
		want: []want{
			{Kind: reconcile.CancelAbandoned, PI: "pi_jpy", Order: "1", Amount: 1500, Says: "1500 JPY"},
			{Kind: reconcile.CancelAbandoned, PI: "pi_kwd", Order: "2", Amount: 1005, Says: "1.005 KWD"},
			{Kind: reconcile.CancelAbandoned, PI: "pi_eur", Order: "3", Amount: 5, Says: "0.05 EUR"},
		},
		actions: 3,
	},
	{
		name: "nothing fetched, nothing completed",
		c:    caseSpec{},
	},
}

func TestMake(t *testing.T) {
	for _, tc := range makeCases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.c.input()
			plan := reconcile.Make(in)
			checkInvariants(t, in, plan)
			if plan.Foreign != tc.foreign || plan.Actions != tc.actions || plan.Fetched != len(tc.c.Intents) {
				t.Errorf("foreign %d actions %d fetched %d, want %d %d %d", plan.Foreign, plan.Actions, plan.Fetched, tc.foreign, tc.actions, len(tc.c.Intents))
			}
			if len(plan.Rows) != len(tc.want) {
				t.Fatalf("%d rows, want %d:\n%s", len(plan.Rows), len(tc.want), dump(plan))
			}
			for i, w := range tc.want {
				r := plan.Rows[i]
				if r.Kind != w.Kind || r.PaymentIntent != w.PI || r.OrderID != w.Order || r.Amount != w.Amount || r.NearExpiry != w.Near {
					t.Errorf("row %d = %s %s order %s amount %d near %v, want %s %s order %s amount %d near %v",
						i, r.Kind, r.PaymentIntent, r.OrderID, r.Amount, r.NearExpiry, w.Kind, w.PI, w.Order, w.Amount, w.Near)
				}
				if !strings.Contains(r.Reason, w.Says) {
					t.Errorf("row %d reason %q does not say %q", i, r.Reason, w.Says)
				}
			}
		})
	}
}

// checkInvariants holds for every plan, whatever the input.
func checkInvariants(t *testing.T, in reconcile.Input, plan reconcile.Plan) {
	t.Helper()
	byID := map[string]*stripe.PaymentIntent{}
	for _, pi := range in.Intents {
		if pi != nil && pi.ID != "" {
			if _, dup := byID[pi.ID]; !dup {
				byID[pi.ID] = pi
			}
		}
	}
	actions, perPI := 0, map[string]int{}
	for i, r := range plan.Rows {
		if r.Action != r.Kind.Action() || r.CancellationReason != r.Kind.CancellationReason() {
			t.Errorf("row %d: action %q/%q for kind %s", i, r.Action, r.CancellationReason, r.Kind)
		}
		if r.Reason == "" || !strings.HasSuffix(r.Reason, ".") {
			t.Errorf("row %d: reason %q is not a sentence", i, r.Reason)
		}
		if r.Action == "" {
			continue
		}
		actions++
		perPI[r.PaymentIntent]++
		pi := byID[r.PaymentIntent]
		switch {
		case pi == nil:
			t.Errorf("row %d: action on %q, not a fetched intent", i, r.PaymentIntent)
		case pi.Status != stripe.PaymentIntentStatusRequiresCapture:
			t.Errorf("row %d: action on %s in status %s", i, pi.ID, pi.Status)
		case pi.Metadata["lane"] != in.Lane || in.Lane == "" || pi.Metadata["order_id"] == "":
			t.Errorf("row %d: action on foreign intent %s (metadata %v)", i, pi.ID, pi.Metadata)
		}
		if _, queued := in.Queued[r.PaymentIntent]; queued {
			t.Errorf("row %d: action on %s, already queued", i, r.PaymentIntent)
		}
	}
	for id, n := range perPI {
		if n > 1 {
			t.Errorf("%d actions for %s", n, id)
		}
	}
	if plan.Actions != actions || plan.Fetched != len(in.Intents) || plan.Foreign < 0 || plan.Foreign > plan.Fetched {
		t.Errorf("counts: actions %d (rows say %d), fetched %d of %d, foreign %d", plan.Actions, actions, plan.Fetched, len(in.Intents), plan.Foreign)
	}
	sorted := slices.Clone(plan.Rows)
	reconcile.SortRows(sorted)
	if !slices.EqualFunc(sorted, plan.Rows, func(a, b reconcile.Row) bool { return a == b }) {
		t.Errorf("rows not in plan order:\n%s", dump(plan))
	}
	seenAction := false
	for i := len(plan.Rows) - 1; i >= 0; i-- {
		if plan.Rows[i].Action != "" {
			seenAction = true
		} else if seenAction {
			t.Errorf("listing row %d before an action row", i)
		}
	}
	if _, err := json.Marshal(plan); err != nil {
		t.Errorf("plan does not encode: %v", err)
	}
}

func dump(p reconcile.Plan) string {
	b, _ := json.MarshalIndent(p, "", "  ")
	return string(b)
}

func TestKindActions(t *testing.T) {
	for _, tc := range []struct {
		k              reconcile.Kind
		action, reason string
	}{
		{reconcile.Capture, "capture", ""},
		{reconcile.CancelAbandoned, "cancel", "abandoned"},
		{reconcile.CancelDuplicate, "cancel", "duplicate"},
		{reconcile.AlreadyQueued, "", ""},
		{reconcile.InProgress, "", ""},
		{reconcile.NearExpiry, "", ""},
		{reconcile.MissingOnServer, "", ""},
		{reconcile.OutboxPending, "", ""},
		{reconcile.OutboxDead, "", ""},
		{reconcile.OfflineUnforwarded, "", ""},
		{reconcile.ForwardDeclined, "", ""},
		{reconcile.PaymentFailed, "", ""},
		{reconcile.Kind("bogus"), "", ""},
	} {
		if got, gotR := tc.k.Action(), tc.k.CancellationReason(); got != tc.action || gotR != tc.reason {
			t.Errorf("%s: action %q reason %q, want %q %q", tc.k, got, gotR, tc.action, tc.reason)
		}
	}
}

func TestCaptureBefore(t *testing.T) {
	created := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	given := created.Add(5 * 24 * time.Hour) // Visa's 5 days, as the API says
	for _, tc := range []struct {
		name string
		pi   *stripe.PaymentIntent
		want time.Time
	}{
		{"nil", nil, time.Time{}},
		{"card_present from the charge", &stripe.PaymentIntent{Created: created.Unix(), PaymentMethodTypes: []string{"card_present"},
			LatestCharge: &stripe.Charge{PaymentMethodDetails: &stripe.ChargePaymentMethodDetails{Type: "card_present",
				CardPresent: &stripe.ChargePaymentMethodDetailsCardPresent{CaptureBefore: given.Unix()}}}}, given},
		{"card from the charge", &stripe.PaymentIntent{Created: created.Unix(), PaymentMethodTypes: []string{"card"},
			LatestCharge: &stripe.Charge{PaymentMethodDetails: &stripe.ChargePaymentMethodDetails{Type: "card",
				Card: &stripe.ChargePaymentMethodDetailsCard{CaptureBefore: given.Unix()}}}}, given},
		{"card_present, charge not expanded", &stripe.PaymentIntent{Created: created.Unix(), PaymentMethodTypes: []string{"card_present"},
			LatestCharge: &stripe.Charge{ID: "ch_1"}}, created.Add(48 * time.Hour)},
		{"interac_present", &stripe.PaymentIntent{Created: created.Unix(), PaymentMethodTypes: []string{"interac_present"}}, created.Add(48 * time.Hour)},
		{"online card", &stripe.PaymentIntent{Created: created.Unix(), PaymentMethodTypes: []string{"card"}}, created.Add(7 * 24 * time.Hour)},
		{"mobilepay charge without capture_before", &stripe.PaymentIntent{Created: created.Unix(), PaymentMethodTypes: []string{"mobilepay", "card_present"},
			LatestCharge: &stripe.Charge{PaymentMethodDetails: &stripe.ChargePaymentMethodDetails{Type: "mobilepay"}}}, created.Add(7 * 24 * time.Hour)},
	} {
		if got := reconcile.CaptureBefore(tc.pi); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPlanJSON(t *testing.T) {
	in := makeCases[8].c.input() // near expiry
	plan := reconcile.Make(in)
	b, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Rows []map[string]any `json:"rows"`
		reconcile.Plan
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	first := back.Rows[0]
	for k, v := range map[string]any{"kind": "capture", "action": "capture", "order_id": "42", "payment_intent": "pi_cap",
		"amount": 1200.0, "currency": "chf", "status": "requires_capture", "near_expiry": true,
		"created": "2026-11-22T08:00:00Z", "capture_before": "2026-11-24T08:00:00Z"} {
		if first[k] != v {
			t.Errorf("rows[0].%s = %#v, want %#v (%s)", k, first[k], v, b)
		}
	}
	if _, ok := first["entry"]; ok {
		t.Errorf("entry written for a row without one: %s", b)
	}
	if _, ok := first["cancellation_reason"]; ok {
		t.Errorf("cancellation_reason written for a capture: %s", b)
	}
	missing := reconcile.Row{Kind: reconcile.MissingOnServer, OrderID: "1", PaymentIntent: "pi_1", Amount: 0, Reason: "x."}
	mb, _ := json.Marshal(missing)
	if want := `{"kind":"missing_on_server","order_id":"1","payment_intent":"pi_1","amount":0,"reason":"x."}`; string(mb) != want {
		t.Errorf("row JSON %s, want %s", mb, want)
	}
	if back.Actions != plan.Actions || back.Fetched != 4 || back.Foreign != 0 {
		t.Errorf("counts %+v", back.Plan)
	}
}

func TestSortRowsAppRows(t *testing.T) {
	rows := []reconcile.Row{
		{Kind: reconcile.OutboxDead, Entry: 9},
		{Kind: reconcile.OutboxPending, Entry: 12},
		{Kind: reconcile.OutboxPending, Entry: 3},
		{Kind: reconcile.CancelAbandoned, PaymentIntent: "pi_2"},
		{Kind: reconcile.ForwardDeclined, OrderID: "5"},
		{Kind: reconcile.Capture, PaymentIntent: "pi_9"},
	}
	reconcile.SortRows(rows)
	var got []string
	for _, r := range rows {
		got = append(got, string(r.Kind))
	}
	want := []string{"capture", "cancel_abandoned", "outbox_pending", "outbox_pending", "outbox_dead", "forward_declined"}
	if !slices.Equal(got, want) || rows[2].Entry != 3 {
		t.Fatalf("sorted %v (entries %d, %d), want %v", got, rows[2].Entry, rows[3].Entry, want)
	}
}

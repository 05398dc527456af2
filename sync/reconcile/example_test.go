package reconcile_test

import (
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/reconcile"
)

func ExampleMake() {
	created := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	auth := func(id, order string, amount int64) *stripe.PaymentIntent {
		return &stripe.PaymentIntent{ID: id, Status: "requires_capture", Amount: amount, AmountCapturable: amount,
			Currency: "chf", Created: created.Unix(), PaymentMethodTypes: []string{"card_present"},
			Metadata: map[string]string{"lane": "lane-1", "order_id": order}}
	}
	orders := map[string]reconcile.Local{
		"42": {OrderID: "42", Status: "completed", Counting: []string{"pi_A"}, Amount: 1200, Currency: "chf"},
		"43": {OrderID: "43", Status: "completed"}, // paid cash in the end
	}
	plan := reconcile.Make(reconcile.Input{
		Lane:    "lane-1",
		Intents: []*stripe.PaymentIntent{auth("pi_A", "42", 1200), auth("pi_B", "43", 800), auth("pi_C", "44", 950)},
		Order:   func(id string) (reconcile.Local, bool) { o, ok := orders[id]; return o, ok },
		Now:     time.Date(2026, 11, 23, 22, 0, 0, 0, time.UTC),
	})
	for _, r := range plan.Rows {
		fmt.Println(r.Kind, r.PaymentIntent, r.Action, r.CancellationReason, r.Amount)
		fmt.Println("  ", r.Reason)
	}
	fmt.Println(plan.Actions, "actions")
	// Output:
	// capture pi_A capture  1200
	//    Order 42 was completed with this payment but it was never captured: capture 12.00 CHF or the money is not collected.
	// cancel_abandoned pi_C cancel abandoned 950
	//    No order 44 exists on this till, so the sale was abandoned: cancel to release the 9.50 CHF hold on the customer's card.
	// cancel_duplicate pi_B cancel duplicate 800
	//    Order 43 was completed and paid by other means, not by this payment: cancel the duplicate 8.00 CHF hold.
	// 3 actions
}

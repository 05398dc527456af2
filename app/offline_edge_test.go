package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/manager"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/reconcile"
)

// flakyLine is the shop's line to the payment service, as a test
// drives it: down (every request dropped without an answer), and two
// faults of the offline forwarding request — its answer lost after the
// service acted on it, or the request itself kept on the wire while the
// till gives up on it, to land later.
type flakyLine struct {
	down atomic.Bool
	// loseForward: the next forwarding is handled by the service, its
	// answer dropped; from then on only the end of day's listing (the
	// one with created[lt]) gets through, the rest waits for gate.
	loseForward atomic.Bool
	lost        chan struct{}
	onlyPlan    atomic.Bool
	// holdForward: the next forwarding is kept (on held) without
	// reaching the service, and every forwarding after it is dropped
	// while holdForward stays set.
	holdForward atomic.Bool
	heldOne     atomic.Bool
	held        chan *http.Request
	gate        chan struct{}
}

func isForward(r *http.Request, body []byte) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents" &&
		bytes.Contains(body, []byte("offline_reference"))
}

func (l *flakyLine) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.down.Load() {
			panic(http.ErrAbortHandler)
		}
		if l.onlyPlan.Load() && !r.URL.Query().Has("created[lt]") {
			select {
			case <-l.gate:
			case <-r.Context().Done():
			}
			panic(http.ErrAbortHandler)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if isForward(r, body) {
			if l.loseForward.CompareAndSwap(true, false) {
				next.ServeHTTP(httptest.NewRecorder(), r)
				l.onlyPlan.Store(true)
				close(l.lost)
				panic(http.ErrAbortHandler)
			}
			if l.holdForward.Load() {
				if l.heldOne.CompareAndSwap(false, true) {
					kept := r.Clone(context.Background())
					kept.Body = io.NopCloser(bytes.NewReader(body))
					l.held <- kept
				}
				// The service's front end gives up waiting for it.
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, `{"error":{"type":"api_error","message":"the request timed out upstream"}}`)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func openFlakyTill(t *testing.T, mutate func(*Params)) (*offlineTill, *flakyLine) {
	t.Helper()
	l := &flakyLine{lost: make(chan struct{}), held: make(chan *http.Request, 1), gate: make(chan struct{})}
	lt := openLiveTillWith(t, mutate, l.front)
	// Registered after the till: runs before its Close, so held
	// requests let go and the till can stop.
	t.Cleanup(func() { close(l.gate) })
	down := &l.down
	return &offlineTill{liveTill: lt, down: down}, l
}

// The end of day must never cancel the authorisation of an offline card
// payment whose completed sale is still waiting to record it: when the
// forwarding's answer is lost, the sale holds no PaymentIntent id yet,
// but the PaymentIntent carries the sale's order_id and the till's
// till_payment reference and is the money for that sale (the customer has
// left with the goods). Proposing "cancel, duplicate" for it (the sale
// "paid by other means") releases the only payment the sale has.
func TestEndOfDayKeepsAnOfflinePaymentWhoseForwardingIsUnrecorded(t *testing.T) {
	ot, line := openFlakyTill(t, func(p *Params) { p.Config.CaptureAtEndOfDay = true })
	ctx := testCtx(t)
	r := openRegister(t, ot.liveTill)
	o := sellOffline(t, ctx, ot, r, "visa")

	line.loseForward.Store(true)
	ot.down.Store(false)
	select {
	case <-line.lost:
	case <-ctx.Done():
		t.Fatal("the offline payment was never forwarded")
	}
	var pi *stripe.PaymentIntent
	for _, p := range ot.intentsFor(t, ctx, o.ID()) {
		if p.Metadata["offline"] == "true" {
			pi = p
		}
	}
	if pi == nil || pi.Status != stripe.PaymentIntentStatusRequiresCapture {
		t.Fatalf("the forwarded payment at the service: %+v", pi)
	}
	if got := mustOrder(t, ot.liveTill, o.ID()); got.Status() != order.StatusCompleted {
		t.Fatalf("the offline sale is %s", got.Status())
	}

	dp, err := ot.PlanDay(ctx, ot.now())
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range dp.Plan.Rows {
		if row.PaymentIntent == pi.ID && row.Action == "cancel" {
			t.Fatalf("the end of day would cancel the offline sale's only payment (%s of %d): %+v", pi.ID, pi.Amount, row)
		}
	}
}

// A sale voided after payment while its offline payment's forwarding is
// on the wire (sent, no answer) must not end with the customer's money
// taken: the forwarding request may still land, and only a request sent
// again under the same idempotency key (which the service then replays
// rather than acting twice) or a give-back after it can make sure. The
// retry must not conclude "nothing to send" from a lookup that ran before
// the first request arrived.
func TestVoidDuringForwardingLeavesNoMoneyTaken(t *testing.T) {
	hash, err := manager.HashPIN("2468")
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	ot, line := openFlakyTill(t, func(p *Params) {
		p.Config.ManagerPINHash = hash
		p.Now = clk.Now
		// A failed attempt is retried an hour later: the test says when.
		p.DrainBackoff = func(int) time.Duration { return time.Hour }
	})
	ctx := testCtx(t)
	r := openRegister(t, ot.liveTill)
	o := sellOffline(t, ctx, ot, r, "visa")

	line.holdForward.Store(true)
	ot.down.Store(false)
	var held *http.Request
	select {
	case held = <-line.held:
	case <-ctx.Done():
		t.Fatal("the offline payment was never forwarded")
	}
	// The till has sent the forwarding and got no answer; once that
	// attempt is over, the manager voids the sale.
	if err := ot.waitUntil(ctx, "the first forwarding attempt to fail", func() (bool, error) {
		failed := false
		err := ot.store.View(func(tx *queue.Tx) error {
			es, err := tx.OrderEntries(o.ID())
			for _, e := range es {
				if p, _ := decodePayload(e.Payload); p.Offline && e.Attempts >= 1 && e.State == queue.StatePending {
					failed = true
				}
			}
			return err
		})
		return failed, err
	}); err != nil {
		t.Fatal(err)
	}
	mustDo(t, "void after payment", ot.VoidPaid(o.ID(), "customer returned the goods", "2468"))
	line.holdForward.Store(false)
	clk.advance(2 * time.Hour)
	ot.drainer.Wake()
	ot.waitIdle(t, ctx)

	// The request kept on the wire reaches the service after all.
	rec := httptest.NewRecorder()
	ot.srv.Server.ServeHTTP(rec, held)
	ot.waitIdle(t, ctx)

	for _, pi := range ot.intentsFor(t, ctx, o.ID()) {
		t.Logf("PaymentIntent %s: %s offline=%s", pi.ID, pi.Status, pi.Metadata["offline"])
		params := &stripe.PaymentIntentRetrieveParams{}
		params.AddExpand("latest_charge")
		pi, _, err := ot.api.RetrievePaymentIntent(ctx, pi.ID, params)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case pi.Status == stripe.PaymentIntentStatusCanceled, pi.Status == stripe.PaymentIntentStatusRequiresPaymentMethod:
		case pi.Status == stripe.PaymentIntentStatusSucceeded && pi.LatestCharge != nil && pi.LatestCharge.Refunded:
		default:
			t.Errorf("PaymentIntent %s of the voided sale is %s for %d: the customer's money is taken and nothing in the outbox gives it back",
				pi.ID, pi.Status, pi.Amount)
		}
	}
	var pending int
	if err := ot.store.View(func(tx *queue.Tx) error {
		return tx.ForEachPending(func(queue.Entry) error { pending++; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Fatalf("%d entries still pending", pending)
	}
}

// The manager's list says of a declined forwarding that "the sale is
// unpaid". Once the manager has voided that sale after payment (the
// customer came back and the goods were returned), nothing is owed any
// more: the list, the status bar's count and the end of day's plan must
// follow the order and stop asking the manager to chase it.
func TestVoidedSaleLeavesTheManagersList(t *testing.T) {
	hash, err := manager.HashPIN("2468")
	if err != nil {
		t.Fatal(err)
	}
	ot := openOfflineTill(t, func(c *Config) { c.ManagerPINHash = hash })
	ctx := testCtx(t)
	r := openRegister(t, ot.liveTill)
	o := sellOffline(t, ctx, ot, r, "charge_declined_insufficient_funds")
	ot.down.Store(false)
	ot.waitIdle(t, ctx)
	if st := r.Status(); st.Attention != 1 {
		t.Fatalf("status bar after the decline: %+v", st)
	}

	mustDo(t, "void after payment", ot.VoidPaid(o.ID(), "goods returned, nothing owed", "2468"))
	ot.waitIdle(t, ctx)
	if got := mustOrder(t, ot.liveTill, o.ID()); got.Status() != order.StatusVoided {
		t.Fatalf("the sale is %s after the void", got.Status())
	}
	dp, err := ot.PlanDay(ctx, ot.now())
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range dp.Plan.Rows {
		if row.OrderID == o.ID() && row.Kind == reconcile.ForwardDeclined {
			t.Errorf("the end of day still calls the voided sale unpaid: %+v", row)
		}
	}
	if st := r.Status(); st.Attention != 0 {
		t.Errorf("the status bar still counts the voided sale for the manager: %+v", st)
	}
}

package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/app/report"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/reconcile"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
	"github.com/tillpos/till/ui"
)

// authorise creates and confirms a manually captured card PaymentIntent
// on the sandbox directly, as another device (or a lost answer) would
// have: it is left in requires_capture.
func (lt *liveTill) authorise(t *testing.T, ctx context.Context, lane, orderID string, amount int64) *stripe.PaymentIntent {
	t.Helper()
	var pi stripe.PaymentIntent
	post(t, ctx, lt.api, "/v1/payment_intents", url.Values{
		"amount": {strconv.FormatInt(amount, 10)}, "currency": {"chf"}, "capture_method": {"manual"},
		"payment_method": {"pm_card_visa"}, "confirm": {"true"},
		"metadata[order_id]": {orderID}, "metadata[lane]": {lane},
	}, &pi)
	if pi.Status != stripe.PaymentIntentStatusRequiresCapture {
		t.Fatalf("authorise for %s: %s", orderID, pi.Status)
	}
	return &pi
}

func (lt *liveTill) intent(t *testing.T, ctx context.Context, id string) *stripe.PaymentIntent {
	t.Helper()
	pi, _, err := lt.api.RetrievePaymentIntent(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pi
}

// cashSale rings up the demo sale and pays it in cash.
func cashSale(t *testing.T, r *Register) string {
	t.Helper()
	ringUp(t, r)
	v := r.Sale()
	mustDo(t, "cash", r.PayCash(v.CashDue))
	id := r.Sale().OrderID
	mustDo(t, "new sale", r.NewSale())
	return id
}

// TestEndOfDayEveryRow makes every row of the plan happen on a real
// sandbox, applies the plan, checks the payment service and the Z report,
// and runs the end of day again: the second run changes nothing.
func TestEndOfDayEveryRow(t *testing.T) {
	var down, dropCreates atomic.Bool
	lt := openLiveTillOn(t, sandbox.Options{AuthExpiry: 20 * time.Hour}, func(p *Params) {
		p.Config.CaptureAtEndOfDay = true
	}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() || dropCreates.Load() && r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents" {
				panic(http.ErrAbortHandler)
			}
			next.ServeHTTP(w, r)
		})
	})
	ot := &offlineTill{liveTill: lt, down: &down}
	ctx := testCtx(t)
	r := openRegister(t, lt)

	// A card sale whose capture waits for the end of day: capture.
	ringUp(t, r)
	mustDo(t, "charge", r.ChargeCard())
	tapWhenAsked(t, ctx, lt, r, "visa")
	sale := waitSale(t, ctx, r, "paid", stageIs(ui.StageDone)).OrderID
	mustDo(t, "new sale", r.NewSale())
	if st := r.Status(); st.NearExpiry != 1 {
		t.Fatalf("an authorisation lapsing in 20 h is not flagged in the status bar: %+v", st)
	}
	// A sale paid in cash whose PaymentIntent was authorised after all:
	// cancel (duplicate).
	dup := cashSale(t, r)
	dupPI := lt.authorise(t, ctx, "lane1", dup, 1120)
	// An authorisation for no sale of the till: cancel (abandoned).
	lostPI := lt.authorise(t, ctx, "lane1", "lane1-01KAAAAAAAAAAAAAAAAAAAAAAA", 990)
	// Another lane's: never touched.
	foreignPI := lt.authorise(t, ctx, "lane2", "lane2-01KAAAAAAAAAAAAAAAAAAAAAAA", 500)
	// A sale whose PaymentIntent the service does not list.
	missing := cashSale(t, r)
	mustDo(t, "forge a card payment the service never saw", lt.store.Update(func(tx *queue.Tx) error {
		o, err := lt.lane.NewOrder()
		if err != nil {
			return err
		}
		p, _ := lt.catalog.BySKU("HOT-ESP")
		if _, err := o.AddProduct(p, 1); err != nil {
			return err
		}
		if err := o.StartTendering(); err != nil {
			return err
		}
		if _, err := o.AddPayment(order.TenderCard, o.Remaining(), order.Payment{PaymentIntentID: "pi_never_seen", Status: order.PaymentSucceeded}); err != nil {
			return err
		}
		if err := o.Complete(); err != nil {
			return err
		}
		missing = o.ID()
		return putOrder(tx, o)
	}))
	// A dead letter: a capture the service refuses for good.
	deadOrder := cashSale(t, r)
	mustDo(t, "enqueue a hopeless capture", lt.store.Update(func(tx *queue.Tx) error {
		_, err := tx.Enqueue(queue.NewEntry{OrderID: deadOrder, Op: queue.OpCapture,
			Payload: encodePayload(opPayload{PaymentIntent: "pi_does_not_exist", Form: "amount_to_capture=100"})})
		return err
	}))
	lt.waitIdle(t, ctx)
	// An offline payment declined when forwarded.
	declined := sellOffline(t, ctx, ot, r, "charge_declined_insufficient_funds").ID()
	mustDo(t, "new sale", r.NewSale())
	down.Store(false)
	lt.waitIdle(t, ctx)
	// An offline payment that cannot be forwarded yet (creations are
	// lost on the way): pending in the outbox, stored offline.
	dropCreates.Store(true)
	ringUp(t, r)
	mustDo(t, "charge", r.ChargeCard())
	tapOffline(t, ctx, lt, "visa")
	stored := waitSale(t, ctx, r, "paid offline", stageIs(ui.StageDone)).OrderID
	mustDo(t, "new sale", r.NewSale())

	dp, err := lt.PlanDay(ctx, lt.now())
	if err != nil {
		t.Fatal(err)
	}
	saleOrder := mustOrder(t, lt, sale)
	saleCard, _ := CurrentCard(saleOrder)
	want := []struct {
		kind  reconcile.Kind
		order string
		pi    string
	}{
		{reconcile.Capture, sale, saleCard.Payment.PaymentIntentID},
		{reconcile.CancelDuplicate, dup, dupPI.ID},
		{reconcile.CancelAbandoned, "lane1-01KAAAAAAAAAAAAAAAAAAAAAAA", lostPI.ID},
		{reconcile.MissingOnServer, missing, "pi_never_seen"},
		{reconcile.OutboxDead, deadOrder, "pi_does_not_exist"},
		{reconcile.OutboxPending, stored, ""},
		{reconcile.OfflineUnforwarded, stored, ""},
		{reconcile.ForwardDeclined, declined, ""},
	}
	for _, w := range want {
		row := findRowFor(t, dp, w.kind, w.order)
		if w.pi != "" && row.PaymentIntent != w.pi {
			t.Errorf("%s row of %s names %s, want %s", w.kind, w.order, row.PaymentIntent, w.pi)
		}
	}
	if row := findRowFor(t, dp, reconcile.Capture, sale); !row.NearExpiry {
		t.Errorf("the capture of an authorisation lapsing in 20 h is not flagged: %+v", row)
	}
	if dp.Plan.Actions != 3 || dp.Plan.Foreign < 1 {
		t.Fatalf("plan: %d actions (want 3), %d foreign: %+v", dp.Plan.Actions, dp.Plan.Foreign, dp.Plan.Rows)
	}
	for _, row := range dp.Plan.Rows {
		if row.PaymentIntent == foreignPI.ID {
			t.Fatalf("another lane's PaymentIntent is in the plan: %+v", row)
		}
	}

	// Apply: one call per action, each through the outbox.
	var progress []int
	res, err := lt.ApplyDay(ctx, dp, func(done, total int) {
		if total != 3 {
			t.Errorf("progress total %d, want 3", total)
		}
		progress = append(progress, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Enqueued != 3 || res.Done != 3 || res.Failed != 0 || progress[len(progress)-1] != 3 {
		t.Fatalf("apply: %+v, progress %v", res, progress)
	}
	for id, want := range map[string]stripe.PaymentIntentStatus{
		saleCard.Payment.PaymentIntentID: stripe.PaymentIntentStatusSucceeded,
		dupPI.ID:                         stripe.PaymentIntentStatusCanceled,
		lostPI.ID:                        stripe.PaymentIntentStatusCanceled,
		foreignPI.ID:                     stripe.PaymentIntentStatusRequiresCapture,
	} {
		if pi := lt.intent(t, ctx, id); pi.Status != want {
			t.Errorf("PaymentIntent %s is %s, want %s", id, pi.Status, want)
		}
	}
	if pi := lt.intent(t, ctx, dupPI.ID); pi.CancellationReason != "duplicate" {
		t.Errorf("duplicate cancelled as %q", pi.CancellationReason)
	}
	if pi := lt.intent(t, ctx, lostPI.ID); pi.CancellationReason != "abandoned" {
		t.Errorf("abandoned cancelled as %q", pi.CancellationReason)
	}
	// The sale records its capture; nothing is near expiry any more.
	if c, _ := CurrentCard(mustOrder(t, lt, sale)); c.Payment.Status != order.PaymentSucceeded {
		t.Errorf("captured sale's payment: %s", c.Payment.Status)
	}
	if st := r.Status(); st.NearExpiry != 0 || st.OfflineStored != 1 || st.Attention != 2 {
		t.Errorf("status bar after the end of day: %+v", st)
	}

	// The Z report counts what the end of day did.
	z, err := lt.ZReport(lt.now())
	if err != nil {
		t.Fatal(err)
	}
	chf, _ := z.Currency(money.MustCurrency("CHF"))
	if chf.Captured.Count != 1 || chf.Cancellations(report.ReasonAbandoned).Count != 1 || chf.Cancellations(report.ReasonDuplicate).Count != 1 ||
		chf.OfflinePending.Count != 1 || chf.PaymentsFailed.Count != 1 || z.DeadLetters != 1 {
		t.Fatalf("Z report: %+v", chf)
	}

	// A second end of day acts on nothing.
	again, err := lt.PlanDay(ctx, lt.now())
	if err != nil {
		t.Fatal(err)
	}
	if again.Plan.Actions != 0 {
		t.Fatalf("second plan proposes %d actions: %+v", again.Plan.Actions, again.Plan.Rows)
	}
	res, err = lt.ApplyDay(ctx, dp, nil) // even the first plan, applied twice
	if err != nil || res.Enqueued != 0 {
		t.Fatalf("applying the same plan again: %+v, %v", res, err)
	}
}

func findRowFor(t *testing.T, dp DayPlan, kind reconcile.Kind, orderID string) reconcile.Row {
	t.Helper()
	for _, r := range dp.Plan.Rows {
		if r.Kind == kind && r.OrderID == orderID {
			return r
		}
	}
	t.Fatalf("no %s row for order %s in the plan: %+v", kind, orderID, dp.Plan.Rows)
	return reconcile.Row{}
}

// TestEndOfDayHeadlessManyPagesFaults: a lane rings up more sales than
// fit in one page of the list, all left uncaptured for the end of day
// (till-lane -capture eod); the headless end of day applies the plan
// through faults on the capture calls, each capture lands once, the calls
// are ceil(N/100) list pages plus one per action (plus the faults'
// retries), and a second run acts on nothing.
func TestEndOfDayHeadlessManyPagesFaults(t *testing.T) {
	const sales = 130
	srv := sandboxtest.New(t, sandbox.Options{})
	var lists, captures atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v1/payment_intents" && r.URL.Query().Has("created[gte]"):
			lists.Add(1) // the drainer's probe (limit=1) is not reconciliation
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/capture"):
			captures.Add(1)
		}
		srv.Server.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	cfg := DefaultConfig()
	cfg.Database = filepath.Join(t.TempDir(), "till.db")
	cfg.API = APIConfig{BaseURL: front.URL, Key: Secret(srv.Key)}
	cfg.CaptureAtEndOfDay = true
	ctx := testCtx(t)
	sum, err := RunLane(ctx, LaneParams{Config: cfg, Sales: sales, Seed: 8, Concurrency: 4})
	if err != nil || sum.Completed != sales {
		t.Fatalf("lane: %+v, %v", sum, err)
	}
	srv.InjectFaults(t, sandbox.FaultConfig{Seed: 8, Rules: []sandbox.FaultRule{
		{Method: "POST", Path: "/v1/payment_intents/*/capture", Kind: sandbox.FaultDropAfterCommit, Times: 3},
		{Method: "POST", Path: "/v1/payment_intents/*/capture", Kind: sandbox.FaultErrorBeforeCommit, Times: 3},
		{Method: "POST", Path: "/v1/payment_intents/*/capture", Kind: sandbox.FaultRateLimit, Times: 2},
	}})
	lists.Store(0)
	out, err := RunReconcile(ctx, ReconcileParams{Config: cfg, Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if out.Plan.Pages != 2 || lists.Load() != 2 || out.Plan.Plan.Actions != sales {
		t.Fatalf("plan: %d pages (%d list calls), %d actions; want 2, 2, %d", out.Plan.Pages, lists.Load(), out.Plan.Plan.Actions, sales)
	}
	if r := out.Result; r == nil || r.Done != sales || r.Failed != 0 || r.Waiting != 0 {
		t.Fatalf("apply: %+v", out.Result)
	}
	// One capture call per action, plus the faults' cost: a dropped
	// answer or a 429 one more call, a saved 500 two (its replay, then
	// the next key).
	if got, max := captures.Load(), int64(sales+3+2*3+2); got < sales || got > max {
		t.Errorf("%d capture calls for %d actions with 8 faults", got, sales)
	}
	chf, _ := out.Report.Currency(money.MustCurrency("CHF"))
	if chf.Sales != sales || chf.Captured.Count != sales {
		t.Fatalf("Z report: %d sales, %d captured; want %d", chf.Sales, chf.Captured.Count, sales)
	}
	// Every PaymentIntent captured exactly its amount, once.
	c, err := api.New(api.Config{BaseURL: srv.URL, Key: srv.Key})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for pi, err := range c.PaymentIntents(ctx, &stripe.PaymentIntentListParams{}) {
		if err != nil {
			t.Fatal(err)
		}
		if pi.Status == stripe.PaymentIntentStatusSucceeded {
			n++
			if pi.AmountReceived != pi.Amount {
				t.Errorf("%s received %d of %d", pi.ID, pi.AmountReceived, pi.Amount)
			}
		}
	}
	if n != sales {
		t.Fatalf("%d PaymentIntents captured, want %d", n, sales)
	}
	// Again: nothing to do, nothing done.
	captures.Store(0)
	again, err := RunReconcile(ctx, ReconcileParams{Config: cfg, Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.Plan.Plan.Actions != 0 || again.Result.Enqueued != 0 || captures.Load() != 0 {
		t.Fatalf("second end of day: %d actions, %+v, %d capture calls", again.Plan.Plan.Actions, again.Result, captures.Load())
	}
	if chf, _ := again.Report.Currency(money.MustCurrency("CHF")); chf.Captured.Count != sales {
		t.Fatalf("the second report lost the day's captures: %+v", chf.Captured)
	}
}

package app

import (
	"bytes"
	"context"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/reader/sim"
	"github.com/tillpos/till/reader/wire"
	"github.com/tillpos/till/sync/reconcile"
	"github.com/tillpos/till/ui"
)

// offlineTill is a live till whose connection to the sandbox the test
// cuts and restores: while down, every request is dropped without an
// HTTP answer, as when the shop's line is out.
type offlineTill struct {
	*liveTill
	down *atomic.Bool
}

func openOfflineTill(t *testing.T, mutate func(*Config)) *offlineTill {
	t.Helper()
	down := new(atomic.Bool)
	lt := openLiveTillWith(t, func(p *Params) {
		if mutate != nil {
			mutate(&p.Config)
		}
	}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				panic(http.ErrAbortHandler)
			}
			next.ServeHTTP(w, r)
		})
	})
	return &offlineTill{liveTill: lt, down: down}
}

// cut takes the till's line down; the outbox finds out with its next
// call (the card payment's creation).
func (ot *offlineTill) cut() { ot.down.Store(true) }

// tapOffline plays the customer at a reader collecting offline: card is
// tapped once the reader asks for it against an offline reference.
func tapOffline(t *testing.T, ctx context.Context, lt *liveTill, card string) string {
	t.Helper()
	for {
		changed := lt.sim.Changed()
		s := lt.sim.Snapshot()
		if s.Phase == sim.PhaseWaiting && s.Collecting != nil && strings.HasPrefix(s.Collecting.PaymentIntent, "offline_") {
			if !s.Collecting.OfflineAllowed {
				t.Fatalf("offline collection without OfflineAllowed: %+v", s.Collecting)
			}
			mustDo(t, "tap "+card, lt.sim.Tap(card))
			return s.Collecting.PaymentIntent
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("the reader never asked for a card offline; it shows %+v", s)
		}
	}
}

// offlineAtReader: the reader asks for a card for deferred authorisation.
func offlineAtReader(lt *liveTill) func(ui.SaleView) bool {
	return func(ui.SaleView) bool {
		s := lt.sim.Snapshot()
		return s.Collecting != nil && s.Collecting.OfflineAllowed
	}
}

// sellOffline rings up a sale, takes the till offline and pays it by card
// on the reader, offline; it returns the completed order.
func sellOffline(t *testing.T, ctx context.Context, ot *offlineTill, r *Register, card string) *order.Order {
	t.Helper()
	ringUp(t, r)
	ot.cut()
	mustDo(t, "charge", r.ChargeCard())
	tapOffline(t, ctx, ot.liveTill, card)
	v := waitSale(t, ctx, r, "receipt", stageIs(ui.StageDone))
	o := mustOrder(t, ot.liveTill, v.OrderID)
	if o.Status() != order.StatusCompleted {
		t.Fatalf("offline sale is %s, want completed", o.Status())
	}
	return o
}

func TestOfflineCardSaleForwardedWhenTheConnectionReturns(t *testing.T) {
	ot := openOfflineTill(t, nil)
	ctx := testCtx(t)
	r := openRegister(t, ot.liveTill)
	o := sellOffline(t, ctx, ot, r, "visa")

	// Completed, marked offline, the payload sealed on the order and not
	// anywhere in the outbox.
	tn, ok := CurrentCard(o)
	if !ok || !tn.Payment.Forwarding() || len(tn.Payment.Stored) == 0 || tn.Payment.PaymentIntentID != "" {
		t.Fatalf("offline tender: %+v", tn.Payment)
	}
	rec := r.Receipts(1)
	if len(rec) != 1 || len(rec[0].Tenders) != 1 || !strings.Contains(rec[0].Tenders[0].Detail, "offline, to be forwarded") {
		t.Fatalf("receipt: %+v", rec)
	}
	st := r.Status()
	if st.OfflineStored != 1 || st.OfflineAmount != o.Totals().Total.Format(ot.locale) || st.OfflineOverdue {
		t.Fatalf("status bar: %+v", st)
	}
	raw := payloadOf(t, ot, o, tn)
	assertNotInStore(t, ot.liveTill, raw)
	// The customer is told the card was taken offline.
	waitDisplay(t, ctx, ot.Simulator(), "the offline approval", func(d wire.Display) bool {
		return d.Screen == wire.ScreenThankYou && d.Message == "Approved offline. Thank you!"
	})

	// The connection returns: created, confirmed with the payload,
	// captured — one PaymentIntent, marked offline by the service.
	ot.down.Store(false)
	ot.waitIdle(t, ctx)
	o = mustOrder(t, ot.liveTill, o.ID())
	tn, _ = CurrentCard(o)
	if tn.Payment.Forwarding() || tn.Payment.Stored != nil || tn.Payment.Status != order.PaymentSucceeded || tn.Payment.Failed {
		t.Fatalf("forwarded tender: %+v", tn.Payment)
	}
	pis := ot.intentsFor(t, ctx, o.ID())
	var paid []*stripe.PaymentIntent
	for _, pi := range pis {
		if pi.Status != stripe.PaymentIntentStatusCanceled && pi.Status != stripe.PaymentIntentStatusRequiresPaymentMethod {
			paid = append(paid, pi)
		}
	}
	want, _ := o.Totals().Total.StripeAmount()
	if len(paid) != 1 || paid[0].ID != tn.Payment.PaymentIntentID || paid[0].AmountReceived != want || paid[0].Metadata["offline"] != "true" {
		t.Fatalf("PaymentIntents of the offline sale: %d with money (want 1 for %d): %+v", len(paid), want, paid)
	}
	if st := r.Status(); st.OfflineStored != 0 || st.Attention != 0 {
		t.Fatalf("status bar after forwarding: %+v", st)
	}
}

func TestOfflineCardDeclinedWhenForwardedGoesToTheManager(t *testing.T) {
	ot := openOfflineTill(t, nil)
	ctx := testCtx(t)
	r := openRegister(t, ot.liveTill)
	o := sellOffline(t, ctx, ot, r, "charge_declined_insufficient_funds")
	ot.down.Store(false)
	ot.waitIdle(t, ctx)

	o = mustOrder(t, ot.liveTill, o.ID())
	tn, _ := CurrentCard(o)
	if !tn.Payment.Failed || tn.Payment.Decline == nil || tn.Payment.Decline.Code != "insufficient_funds" || !o.PaymentFailed() {
		t.Fatalf("declined forward: %+v", tn.Payment)
	}
	if st := r.Status(); st.OfflineStored != 0 || st.Attention != 1 {
		t.Fatalf("status bar: %+v", st)
	}
	// On the end of day's plan, with order, amount and reason.
	dp, err := ot.PlanDay(ctx, ot.now())
	if err != nil {
		t.Fatal(err)
	}
	row := findRow(t, dp, reconcile.ForwardDeclined)
	want, _ := o.Totals().Total.StripeAmount()
	if row.OrderID != o.ID() || row.Amount != want || !strings.Contains(row.Reason, "insufficient_funds") {
		t.Fatalf("manager's row: %+v", row)
	}
	// Still there the next time: never dropped.
	if dp, err = ot.PlanDay(ctx, ot.now()); err != nil {
		t.Fatal(err)
	}
	findRow(t, dp, reconcile.ForwardDeclined)
}

func TestOfflineLimitsRefuseBeforeCollection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limit  OfflineLimit
		before int // sales taken offline first
	}{
		{"per sale", OfflineLimit{PerSale: "1.00", Total: "1000.00"}, 0},
		{"in all", OfflineLimit{PerSale: "20.00", Total: "20.00"}, 1}, // one demo sale is CHF 11.20
	} {
		t.Run(tc.name, func(t *testing.T) {
			ot := openOfflineTill(t, func(c *Config) {
				c.Offline.Limits = map[string]OfflineLimit{"CHF": tc.limit}
			})
			ctx := testCtx(t)
			r := openRegister(t, ot.liveTill)
			for range tc.before {
				sellOffline(t, ctx, ot, r, "visa")
				mustDo(t, "new sale", r.NewSale())
			}
			ringUp(t, r)
			ot.cut()
			last := ot.sim.Snapshot().LastCollected
			mustDo(t, "charge", r.ChargeCard())
			if v := r.Sale(); !strings.Contains(v.Total, "11.20") {
				t.Fatalf("the demo sale is %s; the limits above assume CHF 11.20", v.Total)
			}
			v := waitSale(t, ctx, r, "refused offline", func(v ui.SaleView) bool {
				return v.Stage == ui.StageCard && v.Card.Step == ui.CardOffline && strings.Contains(v.Card.Message, "Take cash")
			})
			if !strings.Contains(v.Card.Message, "CHF") {
				t.Errorf("the message names no limit: %q", v.Card.Message)
			}
			if s := ot.sim.Snapshot(); s.Collecting != nil || !reflect.DeepEqual(s.LastCollected, last) {
				t.Fatalf("the reader was asked for a card: %+v", s)
			}
			// Cash still works.
			mustDo(t, "cash", r.PayCash(v.CashDue))
			waitSale(t, ctx, r, "receipt", stageIs(ui.StageDone))
		})
	}
}

func findRow(t *testing.T, dp DayPlan, kind reconcile.Kind) reconcile.Row {
	t.Helper()
	for _, r := range dp.Plan.Rows {
		if r.Kind == kind {
			return r
		}
	}
	t.Fatalf("no %s row in the plan: %+v", kind, dp.Plan.Rows)
	return reconcile.Row{}
}

// payloadOf opens the stored payload, as the executor would.
func payloadOf(t *testing.T, ot *offlineTill, o *order.Order, tn order.Tender) []byte {
	t.Helper()
	b, err := ot.seal.open(o.ID(), tn.Payment.Ref, tn.Payment.Stored)
	if err != nil || len(b) < 16 {
		t.Fatalf("open stored payload: %v (%d bytes)", err, len(b))
	}
	return b
}

// assertNotInStore checks that raw appears nowhere in the database file.
func assertNotInStore(t *testing.T, lt *liveTill, raw []byte) {
	t.Helper()
	var found []string
	err := lt.store.View(func(tx *queue.Tx) error {
		if err := tx.ForEachOrder("", func(id string, data []byte) error {
			if bytes.Contains(data, raw) {
				found = append(found, "order "+id)
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.ForEachPending(func(e queue.Entry) error {
			if bytes.Contains(e.Payload, raw) {
				found = append(found, "entry "+e.IdempotencyKey)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Fatalf("the reader's payload is in clear in %v", found)
	}
}

// TestOfflineLimitCodesAreCanonical: limits are looked up by the exact
// ISO code, so a code written otherwise is refused when the config is
// read rather than silently ignored.
func TestOfflineLimitCodesAreCanonical(t *testing.T) {
	for _, code := range []string{"chf", " CHF", "Chf", "XYZ1"} {
		cfg := DefaultConfig()
		cfg.Offline.Limits = map[string]OfflineLimit{code: {PerSale: "1.00", Total: "1000.00"}}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "offline") {
			t.Errorf("limits under %q: %v, want refused", code, err)
		}
	}
	cfg := DefaultConfig()
	cfg.Offline.Limits = map[string]OfflineLimit{"CHF": {PerSale: "1.00", Total: "1000.00"}}
	if err := cfg.Validate(); err != nil {
		t.Errorf("limits under CHF: %v", err)
	}
}

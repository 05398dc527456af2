package app

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/manager"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/reader/sim"
	"github.com/tillpos/till/reader/wire"
	"github.com/tillpos/till/ui"
)

// openRegister opens a register on a live till and closes it at cleanup.
func openRegister(t *testing.T, lt *liveTill) *Register {
	t.Helper()
	r, err := lt.NewRegister()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// waitSale waits until the register's sale satisfies cond, re-checking
// after every change the register reports.
func waitSale(t *testing.T, ctx context.Context, r *Register, what string, cond func(ui.SaleView) bool) ui.SaleView {
	t.Helper()
	changed := make(chan struct{}, 1)
	r.Subscribe(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	for {
		v := r.Sale()
		if cond(v) {
			return v
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("sale never reached %s; last: stage %d, card %+v", what, v.Stage, v.Card)
		}
	}
}

// waitDisplay waits until the simulated reader shows what cond wants.
func waitDisplay(t *testing.T, ctx context.Context, d *sim.Device, what string, cond func(wire.Display) bool) wire.Display {
	t.Helper()
	return waitSim(t, ctx, d, "the reader showing "+what, func(s sim.Snapshot) bool { return cond(s.Display) }).Display
}

// waitSim waits until the built-in simulator's snapshot satisfies cond.
func waitSim(t *testing.T, ctx context.Context, d *sim.Device, what string, cond func(sim.Snapshot) bool) sim.Snapshot {
	t.Helper()
	for {
		changed := d.Changed() // taken before looking: no change slips between
		if s := d.Snapshot(); cond(s) {
			return s
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("never saw %s; the simulator shows %+v in phase %s", what, d.Snapshot().Display, d.Snapshot().Phase)
		}
	}
}

// atTheReader opens a register on lt, rings up a sale and charges it by
// card, returning once the reader asks the customer for the card.
func atTheReader(t *testing.T, lt *liveTill) (context.Context, *Register) {
	t.Helper()
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	mustDo(t, "charge", r.ChargeCard())
	waitSale(t, ctx, r, "present card", stepIs(ui.CardPresent))
	return ctx, r
}

func stepIs(step ui.CardStep) func(ui.SaleView) bool {
	return func(v ui.SaleView) bool { return v.Stage == ui.StageCard && v.Card.Step == step }
}

func stageIs(stage ui.Stage) func(ui.SaleView) bool {
	return func(v ui.SaleView) bool { return v.Stage == stage }
}

func mustDo(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// ringUp scans a few demo products: a barcode, a SKU and the same barcode
// again (one line, quantity 2).
func ringUp(t *testing.T, r *Register) {
	t.Helper()
	mustDo(t, "scan", r.Scan("7610335001202"))
	mustDo(t, "add", r.Add("HOT-ESP"))
	mustDo(t, "scan again", r.Scan("7610335001202"))
}

// tapWhenAsked plays the customer: card is tapped once the reader asks.
func tapWhenAsked(t *testing.T, ctx context.Context, lt *liveTill, r *Register, card string) {
	t.Helper()
	v := waitSale(t, ctx, r, "present card", stepIs(ui.CardPresent))
	o, err := lt.Order(v.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := CurrentCard(o)
	mustDo(t, "tap "+card, lt.PresentSimulatedCard(ctx, c.Payment.PaymentIntentID, card))
}

func TestRegisterCardSaleDeclinedThenApproved(t *testing.T) {
	lt := openLiveTill(t, nil)
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	v := r.Sale()
	if len(v.Lines) != 2 || v.Lines[0].Quantity != 2 || !v.CanCharge {
		t.Fatalf("cart after scans: %+v", v)
	}
	// The customer display shows the cart (in the API's minor units). The
	// wait is for the whole cart: the display may be sent between the
	// second scan and the third, showing two lines with water once.
	shown := waitDisplay(t, ctx, lt.Simulator(), "the cart", func(d wire.Display) bool {
		return d.Screen == wire.ScreenCart && d.Cart != nil && len(d.Cart.Lines) == 2 && d.Cart.Lines[0].Quantity == 2
	})
	if shown.Cart.Total != 1120 || shown.Cart.Currency != "chf" || shown.Cart.Lines[0].Quantity != 2 {
		t.Fatalf("customer display: %+v, want 2 lines totalling 1120 chf", shown.Cart)
	}
	mustDo(t, "charge", r.ChargeCard())
	tapWhenAsked(t, ctx, lt, r, "charge_declined_insufficient_funds")
	v = waitSale(t, ctx, r, "declined", stepIs(ui.CardDeclined))
	if !strings.Contains(v.Card.Message, "insufficient funds") || !v.CanRetryCard || !v.CanPayCash {
		t.Fatalf("after a decline: %+v", v)
	}
	mustDo(t, "retry", r.RetryCard())
	tapWhenAsked(t, ctx, lt, r, "visa")
	v = waitSale(t, ctx, r, "paid", stageIs(ui.StageDone))
	if v.Receipt == nil || len(v.Receipt.Tenders) != 1 || !strings.Contains(v.Receipt.Tenders[0].Detail, "VISA •••• 4242") {
		t.Fatalf("receipt: %+v", v.Receipt)
	}
	o, err := lt.Order(v.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	lt.waitIdle(t, ctx)
	lt.assertPaid(t, ctx, o) // one PaymentIntent: the decline was retried on it
	waitDisplay(t, ctx, lt.Simulator(), "thank you", func(d wire.Display) bool { return d.Screen == wire.ScreenThankYou })
	mustDo(t, "new sale", r.NewSale())
	if v := r.Sale(); v.OrderID != "" || v.Stage != ui.StageCart {
		t.Fatalf("after new sale: %+v", v)
	}
	waitDisplay(t, ctx, lt.Simulator(), "idle", func(d wire.Display) bool { return d.Screen == wire.ScreenIdle })
	if rs := r.Receipts(5); len(rs) != 1 || rs[0].OrderID != o.ID() {
		t.Fatalf("receipts: %+v", rs)
	}
}

func TestRegisterCustomerCancelThenCash(t *testing.T) {
	lt := openLiveTill(t, nil)
	ctx, r := atTheReader(t, lt)
	mustDo(t, "customer cancel", lt.Simulator().CustomerCancel())
	v := waitSale(t, ctx, r, "cancelled", stepIs(ui.CardCancelled))
	if !strings.Contains(v.Card.Message, "customer cancelled") || !v.CanRetryCard {
		t.Fatalf("after a customer cancel: %+v", v)
	}
	if _, err := r.ChangeFor("1"); err != nil {
		t.Fatal(err)
	}
	change, err := r.ChangeFor("50")
	if err != nil || change == "" {
		t.Fatalf("change for 50: %q, %v", change, err)
	}
	mustDo(t, "cash", r.PayCash("50"))
	v = r.Sale()
	if v.Stage != ui.StageDone || v.Receipt.Change != change {
		t.Fatalf("after cash: stage %d, receipt %+v; want change %s", v.Stage, v.Receipt, change)
	}
	// The card's PaymentIntent is cancelled through the outbox.
	lt.waitIdle(t, ctx)
	pis := lt.intentsFor(t, ctx, v.OrderID)
	if len(pis) != 1 || pis[0].Status != stripe.PaymentIntentStatusCanceled {
		t.Fatalf("PaymentIntents of a sale paid in cash after a cancelled card: %+v", pis)
	}
}

func TestRegisterCashierCancelAndVoid(t *testing.T) {
	lt := openLiveTill(t, nil)
	ctx, r := atTheReader(t, lt)
	mustDo(t, "cancel card", r.CancelCard())
	if v := r.Sale(); v.Card.Step != ui.CardCancelled {
		t.Fatalf("after the cashier cancelled: %+v", v.Card)
	}
	if s := waitPhase(t, ctx, lt.Simulator(), sim.PhaseIdle); s.Collecting != nil {
		t.Fatalf("reader still collecting: %+v", s)
	}
	mustDo(t, "void", r.Void())
	v := r.Sale()
	if v.Stage != ui.StageVoided || v.Receipt == nil || !v.Receipt.Voided {
		t.Fatalf("after void: %+v", v)
	}
	lt.waitIdle(t, ctx)
	pis := lt.intentsFor(t, ctx, v.OrderID)
	if len(pis) != 1 || pis[0].Status != stripe.PaymentIntentStatusCanceled || pis[0].CancellationReason != "abandoned" {
		t.Fatalf("PaymentIntents of a voided sale: %+v", pis)
	}
}

func TestRegisterCartRules(t *testing.T) {
	hash, err := manager.HashPIN("2468")
	if err != nil {
		t.Fatal(err)
	}
	lt := openLiveTill(t, func(c *Config) { c.ManagerPINHash = hash })
	r := openRegister(t, lt)
	if err := r.Scan("0000000000000"); !errors.Is(err, ui.ErrUnknownCode) {
		t.Fatalf("unknown code: %v", err)
	}
	if v := r.Sale(); v.OrderID != "" || v.CanCharge {
		t.Fatalf("an unknown code started a sale: %+v", v)
	}
	ringUp(t, r)
	line := r.Sale().Lines[1].ID
	mustDo(t, "small discount", r.SetLineDiscount(line, "10%", ""))
	if err := r.SetLineDiscount(line, "50%", ""); !errors.Is(err, ui.ErrManagerPIN) {
		t.Fatalf("50%% without PIN: %v", err)
	}
	if err := r.SetCartDiscount("50%", "1111"); !errors.Is(err, ui.ErrWrongPIN) || strings.Contains(err.Error(), "1111") {
		t.Fatalf("wrong PIN: %v", err)
	}
	mustDo(t, "big discount with PIN", r.SetCartDiscount("50%", "2468"))
	v := r.Sale()
	if v.Lines[1].Discount != "−10 %" || v.CartDiscount == "" {
		t.Fatalf("discounts not shown: %+v", v)
	}
	if err := r.SetCartDiscount("12.345", ""); err == nil {
		t.Fatal("an amount with three decimals was accepted")
	}
	mustDo(t, "quantity", r.SetQuantity(line, 3))
	mustDo(t, "quantity 0 removes", r.SetQuantity(line, 0))
	if v := r.Sale(); len(v.Lines) != 1 {
		t.Fatalf("lines after removing one: %+v", v.Lines)
	}
	if err := r.PayCash("lots"); err == nil {
		t.Fatal("nonsense cash accepted")
	}
	if err := r.PayCash("7610335001202"); !errors.Is(err, ErrImplausibleCash) {
		t.Fatalf("a barcode typed as cash given: %v", err)
	}
	if _, err := r.ChangeFor("7610335001202"); !errors.Is(err, ErrImplausibleCash) {
		t.Fatalf("change for a barcode: %v", err)
	}
	if change, err := r.ChangeFor("1000"); err != nil || change == "" {
		t.Fatalf("change for a 1000 note on a small sale: %q, %v", change, err)
	}
	mustDo(t, "exact cash", r.PayCash(strings.TrimPrefix(r.Sale().CashDue, "CHF ")))
	if v := r.Sale(); v.Stage != ui.StageDone {
		t.Fatalf("after exact cash: %+v", v)
	}
	if err := r.Add("HOT-ESP"); !errors.Is(err, ErrSaleFinished) {
		t.Fatalf("adding to a paid sale: %v", err)
	}
}

// TestRegisterOfflineAtCharge: the API is unreachable when the cashier
// charges a card, on a till that takes no cards offline. The cashier sees
// it, takes cash, and nothing is lost:
// when the API is back, the PaymentIntent the outbox creates is cancelled.
func TestRegisterOfflineAtCharge(t *testing.T) {
	var offline atomic.Bool
	offline.Store(true)
	lt := openLiveTillWith(t, func(p *Params) {
		p.DrainBackoff = func(int) time.Duration { return 20 * time.Millisecond }
		p.Config.Offline.Disabled = true
	}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if offline.Load() {
				panic(http.ErrAbortHandler) // the connection drops: no answer at all
			}
			next.ServeHTTP(w, r)
		})
	})
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	mustDo(t, "charge", r.ChargeCard())
	v := waitSale(t, ctx, r, "offline", stepIs(ui.CardOffline))
	if !v.CanPayCash || !strings.Contains(v.Card.Message, "wait for the connection") {
		t.Fatalf("offline at charge: %+v", v)
	}
	mustDo(t, "cash", r.PayCash("100"))
	if v := r.Sale(); v.Stage != ui.StageDone {
		t.Fatalf("cash while offline: %+v", v)
	}
	offline.Store(false)
	lt.waitIdle(t, ctx)
	// The creation that waited offline is either never sent (the sale
	// was settled in cash) or cancelled: no PaymentIntent stays open.
	for _, pi := range lt.intentsFor(t, ctx, v.OrderID) {
		if pi.Status != stripe.PaymentIntentStatusCanceled {
			t.Fatalf("PaymentIntent %s after an offline charge paid in cash is %s", pi.ID, pi.Status)
		}
	}
	o, err := lt.Order(v.OrderID)
	if err != nil || o.Status() != order.StatusCompleted {
		t.Fatalf("order: %v, %v", o.Status(), err)
	}
}

// TestRegisterResumesAfterRestart: a cart survives the till closing.
func TestRegisterResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() (*Till, *Register) {
		cfg := DefaultConfig()
		cfg.Database = filepath.Join(dir, "till.db")
		cfg.API = unusedAPI
		till, err := Open(Params{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		r, err := till.NewRegister()
		if err != nil {
			t.Fatal(err)
		}
		return till, r
	}
	till, r := open()
	ringUp(t, r)
	want := r.Sale()
	r.Close()
	if err := till.Close(); err != nil {
		t.Fatal(err)
	}
	till, r = open()
	defer till.Close()
	defer r.Close()
	if got := r.Sale(); got.OrderID != want.OrderID || len(got.Lines) != len(want.Lines) || got.Total != want.Total {
		t.Fatalf("after restart: %+v, want %+v", got, want)
	}
}

// TestRegisterCartChangeAfterDecline: after a decline the customer puts
// something back. The same PaymentIntent is updated to the new amount and
// collects again (SPEC §2.1): one PaymentIntent, captured for the new total.
func TestRegisterCartChangeAfterDecline(t *testing.T) {
	lt := openLiveTill(t, nil)
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	mustDo(t, "charge", r.ChargeCard())
	tapWhenAsked(t, ctx, lt, r, "charge_declined")
	v := waitSale(t, ctx, r, "declined", stepIs(ui.CardDeclined))
	if !v.CanBackToCart {
		t.Fatalf("after a decline the cart cannot change: %+v", v)
	}
	mustDo(t, "back to cart", r.BackToCart())
	v = r.Sale()
	if v.Stage != ui.StageCart || !v.CanEdit || !v.CanCharge {
		t.Fatalf("back in the cart: %+v", v)
	}
	mustDo(t, "put the espresso back", r.Remove(v.Lines[1].ID))
	mustDo(t, "charge again", r.ChargeCard())
	tapWhenAsked(t, ctx, lt, r, "visa")
	v = waitSale(t, ctx, r, "paid", stageIs(ui.StageDone))
	o, err := lt.Order(v.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Totals().Total.Amount != 700 {
		t.Fatalf("total after putting the espresso back: %v", o.Totals().Total)
	}
	lt.waitIdle(t, ctx)
	lt.assertPaid(t, ctx, o) // one PaymentIntent, captured for CHF 7.00
}

// TestRegisterBackToCartThenCash: a card payment waiting for a card is
// cancelled when the changed cart is paid in cash.
func TestRegisterBackToCartThenCash(t *testing.T) {
	lt := openLiveTill(t, nil)
	ctx, r := atTheReader(t, lt)
	mustDo(t, "cancel", r.CancelCard())
	mustDo(t, "back to cart", r.BackToCart())
	mustDo(t, "cash", r.PayCash("20"))
	v := r.Sale()
	if v.Stage != ui.StageDone {
		t.Fatalf("after cash: %+v", v)
	}
	lt.waitIdle(t, ctx)
	if pis := lt.intentsFor(t, ctx, v.OrderID); len(pis) != 1 || pis[0].Status != stripe.PaymentIntentStatusCanceled {
		t.Fatalf("the card payment left behind: %+v", pis)
	}
}

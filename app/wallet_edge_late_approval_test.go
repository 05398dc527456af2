package app

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
)

// edgeLateMoney reports whether the till accounts for a wallet
// PaymentIntent the customer paid: either the order counts it, or a dead
// letter tells the manager to refund it.
func edgeLateMoney(t *testing.T, ctx context.Context, lt *liveTill, orderID string) (paid *stripe.PaymentIntent, counted bool, dead int) {
	t.Helper()
	st := lt.waitIdle(t, ctx)
	for _, pi := range lt.intentsFor(t, ctx, orderID) {
		if pi.Status == stripe.PaymentIntentStatusSucceeded && pi.PaymentMethod != nil && pi.PaymentMethod.Type == "twint" ||
			pi.Status == stripe.PaymentIntentStatusSucceeded && len(pi.PaymentMethodTypes) == 1 && pi.PaymentMethodTypes[0] == "twint" {
			paid = pi
		}
	}
	if paid == nil {
		t.Fatal("the customer's TWINT payment is not on the API: the scenario did not happen")
	}
	o := mustOrder(t, lt, orderID)
	if tn, ok := tenderFor(o, paid.ID); ok && tn.Counts() {
		counted = true
	}
	return paid, counted, st.Dead
}

// TestLateWalletAfterCartShrunk: the cashier cancels TWINT, the
// customer takes an item back (the cart shrinks), and the customer, still
// scanning, approves the old QR code while the cancel is on its way. The
// cancel finds the TWINT payment succeeded for the old, larger total,
// which no longer matches the sale: the till must either count it or tell
// the manager (a dead letter) to refund it, never only log it.
func TestLateWalletAfterCartShrunk(t *testing.T) {
	g := newEdgeCancelGate()
	lt := openWalletTill(t, "CHF", "de-CH", g.front)
	t.Cleanup(g.free)
	ctx := testCtx(t)
	r := openRegister(t, lt)
	v := twintGivenUp(t, ctx, r, g)
	// Back in the cart: the customer puts the coffee back.
	lines := r.Sale().Lines
	if len(lines) < 2 {
		t.Fatalf("cart lines: %+v", lines)
	}
	mustDo(t, "remove a line", r.Remove(lines[len(lines)-1].ID))
	mustDo(t, "the customer approves the old QR code", newWalletSimulator(lt.Till.api.BaseURL).ApproveWallet(v.Wallet.URL))
	g.free()

	paid, counted, dead := edgeLateMoney(t, ctx, lt, v.OrderID)
	if !counted && dead == 0 {
		o := mustOrder(t, lt, v.OrderID)
		t.Fatalf("TWINT %s took %d for a sale now due %v, yet the order (%s, tenders %s) does not count it and there is no dead letter: a payment lost but for a log line",
			paid.ID, paid.AmountReceived, o.Due(), o.Status(), edgeTenders(o))
	}
}

// edgeHook is a slog handler that runs fn, once, when a record with
// the given message is logged.
type edgeHook struct {
	slog.Handler
	msg  string
	once *sync.Once
	fn   func()
}

func (h edgeHook) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Message == h.msg {
		h.once.Do(h.fn)
	}
	return nil
}
func (h edgeHook) Enabled(context.Context, slog.Level) bool { return true }
func (h edgeHook) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h edgeHook) WithGroup(string) slog.Handler            { return h }

// TestLateWalletRacesCash: the cashier cancels TWINT; the cancel
// is on its way when the customer approves on the phone. paidBeforeCancel
// reads the order (still being paid) outside any transaction and decides
// "reinstate": at that instant the cashier takes cash (the log line the
// executor writes between its read and its record is the hook that puts
// the cash exactly there). The customer has paid twice: the manager must
// be told by a dead letter, not only the log.
func TestLateWalletRacesCash(t *testing.T) {
	g := newEdgeCancelGate()
	var (
		once     sync.Once
		cashDone = make(chan error, 1)
		reg      *Register
		ready    = make(chan struct{})
	)
	lt := openLiveTillWith(t, func(p *Params) {
		walletParams(p, "CHF", "de-CH")
		p.Logger = slog.New(edgeHook{Handler: slog.DiscardHandler, once: &once,
			msg: "outbox: a payment given up was paid after all; it settles the sale",
			fn: func() {
				<-ready
				cashDone <- reg.PayCash("1000")
			}})
	}, g.front)
	t.Cleanup(g.free)
	ctx := testCtx(t)
	reg = openRegister(t, lt)
	close(ready)
	v := twintGivenUp(t, ctx, reg, g)
	mustDo(t, "the customer approves anyway", newWalletSimulator(lt.Till.api.BaseURL).ApproveWallet(v.Wallet.URL))
	g.free()
	select {
	case err := <-cashDone:
		mustDo(t, "cash at the racing instant", err)
	case <-ctx.Done():
		t.Fatal("the cancel never found the TWINT payment paid")
	}
	paid, counted, dead := edgeLateMoney(t, ctx, lt, v.OrderID)
	o := mustOrder(t, lt, v.OrderID)
	if o.Status() != order.StatusCompleted {
		t.Fatalf("order %s after cash", o.Status())
	}
	if !counted && dead == 0 {
		t.Fatalf("the customer paid TWINT %s (%d) and cash; the order (%s) counts only %s and there is no dead letter: the double payment is only in the log",
			paid.ID, paid.AmountReceived, o.Status(), edgeTenders(o))
	}
}

// TestLateWalletAfterCartGrew: the cashier cancels TWINT, the
// customer adds an item, and the cashier starts a card for the new total;
// the customer, still scanning, approves the old QR code while the cancel
// is on its way. The payment no longer matches the sale: the manager is
// asked to refund it (a dead letter), and the cashier can still settle
// the new total.
func TestLateWalletAfterCartGrew(t *testing.T) {
	g := newEdgeCancelGate()
	lt := openWalletTill(t, "CHF", "de-CH", g.front)
	t.Cleanup(g.free)
	ctx := testCtx(t)
	r := openRegister(t, lt)
	v := twintGivenUp(t, ctx, r, g)
	mustDo(t, "one more coffee", r.Add("HOT-ESP"))
	mustDo(t, "card for the new total", r.ChargeCard())
	mustDo(t, "the customer approves the old QR code", newWalletSimulator(lt.Till.api.BaseURL).ApproveWallet(v.Wallet.URL))
	g.free()

	// The late payment does not match the sale any more: it must reach
	// the manager as a dead letter asking for a refund, and the cashier
	// must still be able to settle the sale.
	if err := lt.waitUntil(ctx, "the late payment to reach the manager", func() (bool, error) {
		st, err := lt.store.Stats()
		return st.Dead > 0 && st.InFlight == 0, err
	}); err != nil {
		t.Fatal(err)
	}
	var dead []queue.Entry
	if err := lt.store.View(func(tx *queue.Tx) error {
		return tx.ForEachDead(func(e queue.Entry) error { dead = append(dead, e); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Op != queue.OpCancel || !strings.Contains(dead[0].LastError, "refund") {
		t.Fatalf("dead letters after a late payment that no longer fits: %+v", dead)
	}
	mustDo(t, "cash for the new total", r.PayCash(r.Sale().CashDue))
	if o := mustOrder(t, lt, v.OrderID); o.Status() != order.StatusCompleted {
		t.Fatalf("the sale is %s after cash", o.Status())
	}
}

package app

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/ui"
)

// TestCreateInDoubtAfterWalletFindsOldIntent: a TWINT payment is
// refused and the cashier takes a card instead (the wallet's PaymentIntent
// is cancelled and a card PaymentIntent created, both through the outbox).
// The card create's first attempt is dropped before it reaches the API, so
// the retry is "in doubt" and first looks for the order's PaymentIntent by
// metadata[order_id]. The only one it finds is the cancelled TWINT one: the
// create must not resolve to it; the order must end with a card payment
// waiting for a card.
func TestCreateInDoubtAfterWalletFindsOldIntent(t *testing.T) {
	var creates atomic.Int32
	var drop atomic.Bool
	lt := openWalletTill(t, "CHF", "de-CH", func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents" {
				creates.Add(1)
				if drop.Load() {
					panic(http.ErrAbortHandler) // the card create never reaches the API
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	mustDo(t, "twint", r.ChargeWallet("twint"))
	v := waitSale(t, ctx, r, "QR code", walletStep(ui.WalletScan))
	mustDo(t, "refuse", newWalletSimulator(lt.Till.api.BaseURL).RefuseWallet(v.Wallet.URL))
	waitSale(t, ctx, r, "refused, follower gone", func(v ui.SaleView) bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return walletStep(ui.WalletFailed)(v) && r.run == nil
	})
	drop.Store(true)
	mustDo(t, "card instead", r.ChargeCard())
	// The card create's first attempt fails (no answer at all); then the
	// API is reachable again.
	if err := lt.waitUntil(ctx, "a failed card create", func() (bool, error) {
		failed := false
		err := lt.store.View(func(tx *queue.Tx) error {
			es, err := tx.OrderEntries(v.OrderID)
			for _, e := range es {
				if e.Op == queue.OpCreate && e.State != queue.StateDone && e.LastError != "" {
					failed = true
				}
			}
			return err
		})
		return failed, err
	}); err != nil {
		t.Fatal(err)
	}
	drop.Store(false)
	lt.waitIdle(t, ctx)
	if n := creates.Load(); n < 2 {
		t.Fatalf("only %d creates were sent", n)
	}
	o := mustOrder(t, lt, v.OrderID)
	c, ok := CurrentCard(o)
	if !ok {
		t.Fatalf("the outbox is idle and the order is %s with tenders %s, no card payment: the card create, retried in doubt, resolved to the cancelled TWINT PaymentIntent; the cashier sees %+v",
			o.Status(), edgeTenders(o), r.Sale().Card)
	}
	if c.Payment.Status != order.PaymentRequiresPaymentMethod {
		t.Fatalf("card payment %s", c.Payment.Status)
	}
}

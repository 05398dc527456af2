package app

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/tillpos/till/ui"
)

// TestCancelWalletWhileItsCreateWaitsOffline (failed on f64f165,
// passes since f95e808, kept as its regression test): the connection drops
// just after the cashier chose TWINT, so its creation waits in the outbox.
// The screen says "Cancel the payment and take a card or cash" and offers
// Cancel; Cancel must then work (the creation is cancelled through the
// outbox, as Void and cash already do), and the sale go back to the cart.
func TestCancelWalletWhileItsCreateWaitsOffline(t *testing.T) {
	var down atomic.Bool
	lt := openWalletTill(t, "CHF", "de-CH", func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				panic(http.ErrAbortHandler)
			}
			next.ServeHTTP(w, r)
		})
	})
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	if v := r.Sale(); len(v.Wallets) != 1 || !v.Wallets[0].Enabled {
		t.Fatalf("wallets: %+v", v.Wallets)
	}
	down.Store(true)
	mustDo(t, "twint", r.ChargeWallet("twint"))
	v := waitSale(t, ctx, r, "offline", walletStep(ui.WalletOffline))
	if !v.CanCancelWallet {
		t.Fatalf("offline wallet without a cancel: %+v", v)
	}
	if err := r.CancelWallet(); err != nil {
		t.Fatalf("the screen offers Cancel, which fails: %v", err)
	}
	if v := r.Sale(); v.Stage != ui.StageCart {
		t.Fatalf("after cancel: stage %d", v.Stage)
	}
}

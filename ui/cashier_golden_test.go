package ui

import (
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2/test"
)

// TestCashierLooksRight keeps golden images of the main screens at
// 1366×768, the smallest screen the till is made for. To regenerate one,
// delete it from testdata and run the test again, then look at it.
func TestCashierLooksRight(t *testing.T) {
	offline := func(v *SaleView, st *StatusBarView) {
		cardSale(CardOffline, "POST /v1/payment_intents: dial tcp: connection refused")(v, st)
		st.Connectivity, st.Pending, st.OldestPending = ConnOffline, 4, t0.Add(-7*time.Minute)
	}
	for _, tc := range []struct {
		file string
		sale func(*SaleView, *StatusBarView)
		sim  bool
	}{
		{"cashier_empty.png", func(v *SaleView, st *StatusBarView) {}, false},
		{"cashier_cart.png", func(v *SaleView, st *StatusBarView) {
			cartSale(v, st)
			st.Pending, st.OldestPending, st.Dead = 2, t0.Add(-3*time.Minute), 1
		}, false},
		{"cashier_card_present.png", cardSale(CardPresent, "Tap, insert or swipe the card"), true},
		{"cashier_declined.png", cardSale(CardDeclined, "Insufficient funds (card_declined: insufficient_funds)"), false},
		{"cashier_offline.png", offline, false},
		{"cashier_receipt.png", doneSale, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := newFakeRegister()
				reg.set(tc.sale)
				p := CashierParams{Register: reg, Version: "0.1.0"}
				if tc.sim {
					p.Simulator = fakeSimulator{reg}
				}
				_, w := startCashier(t, p)
				test.AssertImageMatches(t, tc.file, w.Canvas().Capture())
			})
		})
	}
}

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
		// open, when set, opens a dialog before the picture is taken.
		open func(s *CashierScreen, reg *fakeRegister)
	}{
		{"cashier_empty.png", func(v *SaleView, st *StatusBarView) {}, false, nil},
		{"cashier_cart.png", func(v *SaleView, st *StatusBarView) {
			cartSale(v, st)
			st.Pending, st.OldestPending, st.Dead = 2, t0.Add(-3*time.Minute), 1
		}, false, nil},
		{"cashier_card_present.png", cardSale(CardPresent, "Tap, insert or swipe the card"), true, nil},
		{"cashier_declined.png", cardSale(CardDeclined, "Insufficient funds (card_declined: insufficient_funds)"), false, nil},
		{"cashier_offline.png", offline, false, nil},
		{"cashier_receipt.png", doneSale, false, nil},
		{"cashier_wallet_twint.png", twintScan, true, nil},
		{"cashier_wallet_mobilepay.png", mobilePayScan, true, nil},
		{"cashier_customer.png", func(v *SaleView, st *StatusBarView) {
			annaCart(v, st)
			v.Wallets = []WalletOption{
				{Kind: "twint", Label: "TWINT", Enabled: true},
				{Kind: "mobilepay", Label: "MobilePay", Why: "MobilePay takes DKK, EUR, SEK and NOK only"},
			}
			v.SaveCard = true
		}, false, nil},
		{"cashier_saved_methods.png", annaCart, false, func(s *CashierScreen, reg *fakeRegister) {
			reg.methods = annaMethods()
			tap(s.cust.saved)
		}},
		{"cashier_card_authenticate.png", func(v *SaleView, st *StatusBarView) {
			cardSale(CardAuthenticate, "The bank wants the customer to confirm this payment, which the till cannot do here. Take the card on the reader: the same payment, no second charge.")(v, st)
			v.CanPayCash, v.CanVoid = true, true
		}, false, nil},
		{"cashier_receipt_pending.png", func(v *SaleView, st *StatusBarView) {
			doneSale(v, st)
			v.Receipt.Pending = true
			v.Receipt.Tenders = []TenderView{{Kind: "SEPA Direct Debit", Amount: "CHF 11.96", Detail: "SEPA Direct Debit •••• 3000 · payment pending"}}
		}, false, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := newFakeRegister()
				reg.set(tc.sale)
				p := CashierParams{Register: reg, Version: "0.1.0"}
				if tc.sim {
					p.Simulator, p.WalletSimulator = fakeSimulator{reg}, fakeWalletSimulator{reg}
				}
				s, w := startCashier(t, p)
				if tc.open != nil {
					tc.open(s, reg)
				}
				test.AssertImageMatches(t, tc.file, w.Canvas().Capture())
			})
		})
	}
}

// mobilePayScan is a Danish sale waiting for the customer's MobilePay,
// with 4:32 of the five minutes left.
func mobilePayScan(v *SaleView, _ *StatusBarView) {
	*v = SaleView{
		OrderID: "lane2-01KAQ9M0B1LE9AY0C4SH2QR5DK", Stage: StageWallet,
		Lines: []LineView{
			{ID: 1, Name: "Cappuccino", Quantity: 2, UnitPrice: "42,00 kr.", Total: "84,00 kr."},
			{ID: 2, Name: "Kanelsnegl", Quantity: 1, UnitPrice: "28,00 kr.", Total: "28,00 kr."},
		},
		Subtotal: "112,00 kr.", Tax: "22,40 kr.", Total: "112,00 kr.",
		TaxLines: []TaxLineView{{Label: "Moms 25 %", Amount: "22,40 kr."}},
		Due:      "112,00 kr.", CashDue: "112,00 kr.",
		CanCancelWallet: true, CanVoid: true,
		Wallet: WalletView{Kind: "mobilepay", Label: "MobilePay", Step: WalletScan, Amount: "112,00 kr.",
			Message: "Ask the customer to scan the code with the MobilePay app and confirm.",
			URL:     "https://sandbox.till.local/wallet/mobilepay/pi_3QfU2b2eZvKYlo2C1mP4dk77?token=wt_51c9e0",
			Expires: t0.Add(4*time.Minute + 32*time.Second)},
	}
}

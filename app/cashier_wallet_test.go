package app

import (
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2/widget"
	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/ui"
	"github.com/tillpos/till/ui/uitest"
)

// The real cashier screen on a live till, driven by taps: wallets by QR
// code, a returning customer's saved methods, and a SEPA debit settled
// by events.

func TestCashierTwintApprovedAndRefused(t *testing.T) {
	lt := openWalletTill(t, "CHF", "de-CH", nil)
	c := openCashier(t, lt)
	ctx := c.ctx

	// Refused first, then approved on the same PaymentIntent.
	c.typeIn("HOT-ESP")
	c.shown("an espresso", lines(1))
	c.tap("TWINT (F7)")
	first := c.shown("QR code", walletStep(ui.WalletScan))
	c.wantText("Ask the customer to scan the code with the TWINT app and confirm.")
	c.tap("Customer refuses")
	c.shown("refused", walletStep(ui.WalletFailed))
	c.waitText("The customer refused the payment, or their time ran out.")
	c.tap("Try again (F5)")
	c.shown("a new QR code", func(v ui.SaleView) bool {
		return walletStep(ui.WalletScan)(v) && v.Wallet.URL != first.Wallet.URL
	})
	c.tap("Customer approves")
	v := c.shown("paid", stageIs(ui.StageDone))
	c.waitText("TWINT")
	lt.waitIdle(t, ctx)
	if pi := lt.onlyIntent(t, ctx, v.OrderID); pi.Status != stripe.PaymentIntentStatusSucceeded {
		t.Fatalf("TWINT PaymentIntent %s", pi.Status)
	}
}

func TestCashierMobilePay(t *testing.T) {
	t.Run("approved", func(t *testing.T) {
		lt := openWalletTill(t, "DKK", "da-DK", nil)
		c := openCashier(t, lt)
		c.typeIn("HOT-ESP")
		c.shown("an espresso", lines(1))
		c.tap("MobilePay (F7)")
		c.shown("QR code", walletStep(ui.WalletScan))
		c.waitText("left") // the five-minute countdown
		c.tap("Customer approves")
		v := c.shown("paid", stageIs(ui.StageDone))
		lt.waitIdle(t, c.ctx)
		if pi := lt.onlyIntent(t, c.ctx, v.OrderID); pi.Status != stripe.PaymentIntentStatusSucceeded || pi.AmountReceived != pi.Amount {
			t.Fatalf("MobilePay PaymentIntent %s, received %d of %d", pi.Status, pi.AmountReceived, pi.Amount)
		}
	})
	t.Run("expired then cancelled", func(t *testing.T) {
		lt := openWalletTill(t, "DKK", "da-DK", nil)
		c := openCashier(t, lt)
		c.typeIn("HOT-ESP")
		c.shown("an espresso", lines(1))
		c.tap("MobilePay (F7)")
		c.shown("QR code", walletStep(ui.WalletScan))
		lt.srv.AdvanceClock(t, 5*time.Minute+time.Second)
		c.shown("expired", walletStep(ui.WalletFailed))
		c.tap("Cancel payment")
		v := c.shown("back at the cart", stageIs(ui.StageCart))
		lt.waitIdle(t, c.ctx)
		if pi := lt.onlyIntent(t, c.ctx, v.OrderID); pi.Status != stripe.PaymentIntentStatusCanceled {
			t.Fatalf("cancelled MobilePay PaymentIntent is %s", pi.Status)
		}
		c.tap("Cash (F6)")
		c.tap("Exact amount")
		c.shown("paid in cash", stageIs(ui.StageDone))
	})
}

func TestCashierWalletsRefusedOffline(t *testing.T) {
	for _, tc := range []struct{ currency, locale, wallet string }{
		{"CHF", "de-CH", "TWINT"},
		{"DKK", "da-DK", "MobilePay"},
		{"EUR", "fi-FI", "MobilePay"},
	} {
		t.Run(tc.wallet+" "+tc.currency, func(t *testing.T) {
			var down atomic.Bool
			lt := openWalletTill(t, tc.currency, tc.locale, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if down.Load() {
						panic(http.ErrAbortHandler)
					}
					next.ServeHTTP(w, r)
				})
			})
			c := openCashier(t, lt)
			down.Store(true)
			c.typeIn("HOT-ESP")
			c.shown("an espresso", lines(1))
			// The first payment finds the service gone: the reader asks
			// for the card offline, and the cashier takes cash instead.
			c.tap("Card (F5)")
			c.shown("the reader offline", offlineAtReader(lt))
			c.tap("Cancel card payment (Esc)")
			c.shown("card cancelled", stepIs(ui.CardCancelled))
			c.tap("Cash (F6)")
			c.tap("Exact amount")
			c.shown("paid in cash", stageIs(ui.StageDone))
			c.tap("New sale (Enter)")
			c.typeIn("HOT-ESP")
			v := c.shown("the wallet refused", func(v ui.SaleView) bool {
				return len(v.Lines) == 1 && len(v.Wallets) == 1 && !v.Wallets[0].Enabled
			})
			c.waitText("Needs a connection")
			if b := c.button(tc.wallet); b == nil || !b.Disabled() {
				t.Fatalf("%s button while offline: %+v", tc.wallet, b)
			}
			if err := c.reg.ChargeWallet(v.Wallets[0].Kind); err == nil {
				t.Fatal("a wallet was charged offline")
			}
		})
	}
}

func TestCashierSavedCard(t *testing.T) {
	t.Run("approved", func(t *testing.T) {
		lt := openWalletTill(t, "CHF", "de-CH", nil)
		cus, _ := lt.customer(t, testCtx(t), "Anna Muster", "anna@example.ch", url.Values{"type": {"card"}, "card[token]": {"tok_visa"}})
		c := openCashier(t, lt)
		c.chargeSaved("anna@example.ch", "Anna Muster", "VISA •••• 4242")
		v := c.shown("paid", stageIs(ui.StageDone))
		c.waitText("VISA •••• 4242")
		lt.waitIdle(t, c.ctx)
		if pi := lt.onlyIntent(t, c.ctx, v.OrderID); pi.Status != stripe.PaymentIntentStatusSucceeded || pi.Customer == nil || pi.Customer.ID != cus {
			t.Fatalf("saved card PaymentIntent %s, customer %+v", pi.Status, pi.Customer)
		}
	})
	t.Run("authentication falls back to the reader", func(t *testing.T) {
		lt := openWalletTill(t, "CHF", "de-CH", nil)
		lt.customer(t, testCtx(t), "Beat Keller", "beat@example.ch", url.Values{"type": {"card"}, "card[token]": {"tok_authenticationRequired"}})
		c := openCashier(t, lt)
		c.chargeSaved("beat@example.ch", "Beat Keller", "VISA •••• 3184")
		c.shown("authentication needed", stepIs(ui.CardAuthenticate))
		c.waitText("The bank asks for authentication")
		c.tap("Use the card reader (F5)")
		c.shown("the reader asks for the card", stepIs(ui.CardPresent))
		c.tap("Tap visa")
		v := c.shown("paid", stageIs(ui.StageDone))
		lt.waitIdle(t, c.ctx)
		pi := lt.onlyIntent(t, c.ctx, v.OrderID)
		if pi.Status != stripe.PaymentIntentStatusSucceeded || pi.PaymentMethodTypes[0] != "card_present" {
			t.Fatalf("after the fallback: %s, %v", pi.Status, pi.PaymentMethodTypes)
		}
	})
}

func TestCashierSEPAPendingThenSucceeded(t *testing.T) {
	lt := openWalletTill(t, "EUR", "de-DE", nil)
	lt.customer(t, testCtx(t), "Clara Weber", "clara@example.de", url.Values{"type": {"sepa_debit"}, "sepa_debit[iban]": {"DE89370400440532013000"}})
	c := openCashier(t, lt)
	c.chargeSaved("Weber", "Clara Weber", "SEPA Direct Debit •••• 3000")
	v := c.shown("sale done, payment pending", func(v ui.SaleView) bool {
		return v.Stage == ui.StageDone && v.Receipt != nil && v.Receipt.Pending
	})
	c.waitText("Payment pending")
	lt.srv.AdvanceClock(t, 2*time.Minute)
	o, err := lt.WaitOrder(c.ctx, v.OrderID, func(o *order.Order) bool { return !o.PaymentPending() })
	if err != nil {
		t.Fatal(err)
	}
	if o.PaymentFailed() {
		t.Fatal("a good IBAN's debit failed")
	}
	c.shown("receipt no longer pending", func(v ui.SaleView) bool { return v.Receipt != nil && !v.Receipt.Pending })
}

// chargeSaved rings up an espresso, looks the customer up (query, shown
// as name), attaches them, and charges their saved method shown as label.
func (c *cashier) chargeSaved(query, name, label string) {
	c.t.Helper()
	c.typeIn("HOT-ESP")
	c.shown("an espresso", lines(1))
	c.findCustomer(query, name)
	c.shown(name+" on the sale", func(v ui.SaleView) bool { return v.Customer != nil && v.Customer.Name == name })
	c.tap("Saved methods…")
	c.waitText(label)
	c.tap("Charge")
}

// findCustomer looks a customer up in the screen's dialog and picks the
// first match, which must be name.
func (c *cashier) findCustomer(query, name string) {
	c.t.Helper()
	c.tap("Customer… (F3)")
	c.waitText("Returning customer")
	c.typeIn(query)
	c.waitText(name)
	c.onUI(func() {
		for _, o := range c.win.Canvas().Overlays().List() {
			if uitest.SelectRow(o, 0) {
				return
			}
		}
		c.t.Fatal("no list of customers on screen")
	})
}

// button finds a button whose label starts with label.
func (c *cashier) button(label string) (b *widget.Button) {
	c.onUI(func() {
		for _, l := range []string{label, label + " (F7)"} {
			if b = uitest.Button(c.win.Content(), l); b != nil {
				return
			}
		}
	})
	return b
}

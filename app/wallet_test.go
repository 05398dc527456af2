package app

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/reader/wire"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/ui"
)

// openWalletTill is a live till whose wallet follower and event poller
// look every few milliseconds, so tests wait for outcomes, not for ticks.
func openWalletTill(t *testing.T, currency, locale string, front func(http.Handler) http.Handler) *liveTill {
	t.Helper()
	return openLiveTillWith(t, func(p *Params) { walletParams(p, currency, locale) }, front)
}

// walletParams sets p up as openWalletTill does.
func walletParams(p *Params, currency, locale string) {
	p.Config.Currency, p.Config.Locale = currency, locale
	p.WalletPoll = 10 * time.Millisecond
	p.EventsEvery = 10 * time.Millisecond
	p.PendingEvery = 20 * time.Millisecond
	p.DrainBackoff = func(int) time.Duration { return 20 * time.Millisecond }
}

// phone plays the customer's phone on the sandbox's wallet pages.
func (lt *liveTill) phone() walletSimulator { return newWalletSimulator(lt.srv.URL) }

func walletStep(step ui.WalletStep) func(ui.SaleView) bool {
	return func(v ui.SaleView) bool { return v.Stage == ui.StageWallet && v.Wallet.Step == step }
}

// onlyIntent returns the order's one PaymentIntent, failing if there are
// more or none: one PaymentIntent per transaction.
func (lt *liveTill) onlyIntent(t *testing.T, ctx context.Context, orderID string) *stripe.PaymentIntent {
	t.Helper()
	pis := lt.intentsFor(t, ctx, orderID)
	if len(pis) != 1 {
		t.Fatalf("order %s has %d PaymentIntents, want 1", orderID, len(pis))
	}
	return pis[0]
}

func TestTwintApproved(t *testing.T) {
	lt := openWalletTill(t, "CHF", "de-CH", nil)
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	v := r.Sale()
	if len(v.Wallets) != 1 || v.Wallets[0].Kind != "twint" || !v.Wallets[0].Enabled {
		t.Fatalf("a CHF till offers %+v, want TWINT enabled", v.Wallets)
	}
	mustDo(t, "twint", r.ChargeWallet("twint"))
	v = waitSale(t, ctx, r, "QR code", walletStep(ui.WalletScan))
	if !strings.HasPrefix(v.Wallet.URL, lt.srv.URL+"/pm-redirects/") || !v.Wallet.Expires.IsZero() || v.Wallet.Label != "TWINT" {
		t.Fatalf("TWINT view: %+v", v.Wallet)
	}
	// The reader shows the same code to the customer.
	waitDisplay(t, ctx, lt.Simulator(), "the QR code", func(d wire.Display) bool {
		return d.Screen == wire.ScreenQR && d.QR != nil && d.QR.Payload == v.Wallet.URL
	})
	mustDo(t, "approve", lt.phone().ApproveWallet(v.Wallet.URL))
	v = waitSale(t, ctx, r, "paid", stageIs(ui.StageDone))
	if tv := v.Receipt.Tenders; len(tv) != 1 || tv[0].Kind != "TWINT" {
		t.Fatalf("receipt tenders: %+v", tv)
	}
	lt.waitIdle(t, ctx)
	pi := lt.onlyIntent(t, ctx, v.OrderID)
	want, _ := mustOrder(t, lt, v.OrderID).Totals().Total.StripeAmount()
	if pi.Status != stripe.PaymentIntentStatusSucceeded || pi.AmountReceived != want || pi.CaptureMethod != stripe.PaymentIntentCaptureMethodAutomatic {
		t.Fatalf("TWINT PaymentIntent: %s, received %d of %d, capture %s", pi.Status, pi.AmountReceived, want, pi.CaptureMethod)
	}
}

func mustOrder(t *testing.T, lt *liveTill, id string) *order.Order {
	t.Helper()
	o, err := lt.Order(id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestTwintRefusedThenRetriedOnSamePaymentIntent(t *testing.T) {
	lt := openWalletTill(t, "CHF", "de-CH", nil)
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	mustDo(t, "twint", r.ChargeWallet("twint"))
	first := waitSale(t, ctx, r, "QR code", walletStep(ui.WalletScan))
	mustDo(t, "refuse", lt.phone().RefuseWallet(first.Wallet.URL))
	v := waitSale(t, ctx, r, "refused", walletStep(ui.WalletFailed))
	if !v.CanRetryWallet || !v.CanCancelWallet || !v.CanPayCash || v.Wallet.URL != "" {
		t.Fatalf("after a refusal: %+v", v)
	}
	mustDo(t, "retry", r.RetryWallet())
	second := waitSale(t, ctx, r, "a new QR code", func(v ui.SaleView) bool {
		return walletStep(ui.WalletScan)(v) && v.Wallet.URL != first.Wallet.URL
	})
	mustDo(t, "approve", lt.phone().ApproveWallet(second.Wallet.URL))
	waitSale(t, ctx, r, "paid", stageIs(ui.StageDone))
	lt.waitIdle(t, ctx)
	if pi := lt.onlyIntent(t, ctx, v.OrderID); pi.Status != stripe.PaymentIntentStatusSucceeded {
		t.Fatalf("PaymentIntent %s", pi.Status)
	}
}

func TestMobilePayApprovedAndCaptured(t *testing.T) {
	lt := openWalletTill(t, "DKK", "da-DK", nil)
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	mustDo(t, "mobilepay", r.ChargeWallet("mobilepay"))
	v := waitSale(t, ctx, r, "QR code", walletStep(ui.WalletScan))
	if left := time.Until(v.Wallet.Expires); left <= 4*time.Minute || left > 5*time.Minute {
		t.Fatalf("MobilePay countdown ends in %v, want 5 minutes", left)
	}
	mustDo(t, "approve", lt.phone().ApproveWallet(v.Wallet.URL))
	waitSale(t, ctx, r, "paid", stageIs(ui.StageDone))
	lt.waitIdle(t, ctx)
	// Manual capture: authorised, then captured in full.
	pi := lt.onlyIntent(t, ctx, v.OrderID)
	if pi.Status != stripe.PaymentIntentStatusSucceeded || pi.CaptureMethod != stripe.PaymentIntentCaptureMethodManual || pi.AmountReceived != pi.Amount {
		t.Fatalf("MobilePay PaymentIntent: %s, capture %s, received %d of %d", pi.Status, pi.CaptureMethod, pi.AmountReceived, pi.Amount)
	}
}

func TestMobilePayExpiresThenCancelled(t *testing.T) {
	lt := openWalletTill(t, "DKK", "da-DK", nil)
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	mustDo(t, "mobilepay", r.ChargeWallet("mobilepay"))
	waitSale(t, ctx, r, "QR code", walletStep(ui.WalletScan))
	// The customer never answers: five minutes pass on the API's clock.
	lt.srv.AdvanceClock(t, 5*time.Minute+time.Second)
	v := waitSale(t, ctx, r, "expired", walletStep(ui.WalletFailed))
	if !strings.Contains(v.Wallet.Message, "time ran out") {
		t.Errorf("expiry message: %q", v.Wallet.Message)
	}
	mustDo(t, "cancel", r.CancelWallet())
	v = r.Sale()
	if v.Stage != ui.StageCart || !v.CanEdit || !v.CanCharge {
		t.Fatalf("after cancelling the wallet: %+v", v)
	}
	lt.waitIdle(t, ctx)
	if pi := lt.onlyIntent(t, ctx, v.OrderID); pi.Status != stripe.PaymentIntentStatusCanceled {
		t.Fatalf("cancelled MobilePay PaymentIntent is %s", pi.Status)
	}
	mustDo(t, "cash", r.PayCash(v.CashDue))
	if v := r.Sale(); v.Stage != ui.StageDone {
		t.Fatalf("cash after a cancelled wallet: %+v", v)
	}
}

func TestWalletsRefused(t *testing.T) {
	t.Run("offline", func(t *testing.T) {
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
		down.Store(true)
		ringUp(t, r)
		// A card charge shows the till the API is gone: the reader asks
		// for the card offline.
		mustDo(t, "charge", r.ChargeCard())
		waitSale(t, ctx, r, "the reader offline", offlineAtReader(lt))
		mustDo(t, "back", r.Void())
		mustDo(t, "new sale", r.NewSale())
		ringUp(t, r)
		v := r.Sale()
		if len(v.Wallets) != 1 || v.Wallets[0].Enabled || v.Wallets[0].Why == "" {
			t.Fatalf("offline wallets: %+v", v.Wallets)
		}
		err := r.ChargeWallet("twint")
		if !errors.Is(err, ui.ErrOffline) {
			t.Fatalf("TWINT offline: %v, want ErrOffline", err)
		}
		if v := r.Sale(); v.Stage != ui.StageCart {
			t.Fatalf("a refused wallet changed the sale: %+v", v)
		}
	})
	t.Run("currency", func(t *testing.T) {
		lt := openWalletTill(t, "DKK", "da-DK", nil)
		r := openRegister(t, lt)
		ringUp(t, r)
		if err := r.ChargeWallet("twint"); !errors.Is(err, ErrWalletCurrency) {
			t.Fatalf("TWINT in DKK: %v", err)
		}
	})
	t.Run("TWINT limit", func(t *testing.T) {
		lt := openWalletTill(t, "CHF", "de-CH", nil)
		r := openRegister(t, lt)
		ringUp(t, r)
		line := r.Sale().Lines[0]
		mustDo(t, "quantity", r.SetQuantity(line.ID, 1500)) // far above CHF 5,000
		v := r.Sale()
		if v.Wallets[0].Enabled {
			t.Fatalf("TWINT offered for %s", v.Total)
		}
		if err := r.ChargeWallet("twint"); !errors.Is(err, ErrWalletLimit) {
			t.Fatalf("TWINT above its limit: %v", err)
		}
	})
}

// customer creates a customer on the sandbox and saves a payment method
// for them, as a shop's website would have: form is the payment method
// (e.g. type=card&card[token]=tok_visa).
func (lt *liveTill) customer(t *testing.T, ctx context.Context, name, email string, pm url.Values) (cus, pmID string) {
	t.Helper()
	var c stripe.Customer
	post(t, ctx, lt.api, "/v1/customers", url.Values{"name": {name}, "email": {email}}, &c)
	var m stripe.PaymentMethod
	post(t, ctx, lt.api, "/v1/payment_methods", pm, &m)
	post(t, ctx, lt.api, "/v1/payment_methods/"+m.ID+"/attach", url.Values{"customer": {c.ID}}, &m)
	return c.ID, m.ID
}

func post(t *testing.T, ctx context.Context, c *api.Client, path string, form url.Values, v any) {
	t.Helper()
	resp, err := c.Post(ctx, path, []byte(form.Encode()), "test-"+path+"-"+form.Encode())
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	if err := resp.Decode(v); err != nil {
		t.Fatal(err)
	}
}

// chooseCustomer looks the customer up as the cashier does and attaches
// them; it returns the sale's saved methods.
func chooseCustomer(t *testing.T, r *Register, query, id string) []ui.SavedMethodView {
	t.Helper()
	found, err := r.FindCustomers(query)
	if err != nil || len(found) != 1 || found[0].ID != id {
		t.Fatalf("find %q: %+v, %v", query, found, err)
	}
	mustDo(t, "set customer", r.SetCustomer(id))
	if v := r.Sale(); v.Customer == nil || v.Customer.ID != id || !v.CanChargeSaved {
		t.Fatalf("customer on the sale: %+v", v)
	}
	pms, err := r.SavedMethods()
	if err != nil {
		t.Fatal(err)
	}
	return pms
}

func TestSavedCardCharged(t *testing.T) {
	lt := openWalletTill(t, "CHF", "de-CH", nil)
	ctx := testCtx(t)
	cus, pm := lt.customer(t, ctx, "Anna Muster", "anna@example.ch", url.Values{"type": {"card"}, "card[token]": {"tok_visa"}})
	r := openRegister(t, lt)
	ringUp(t, r)
	pms := chooseCustomer(t, r, "Muster", cus)
	if len(pms) != 1 || pms[0].ID != pm || pms[0].Label != "VISA •••• 4242" || pms[0].Expiry == "" || !pms[0].Usable {
		t.Fatalf("saved methods: %+v", pms)
	}
	mustDo(t, "charge saved", r.ChargeSaved(pm))
	v := waitSale(t, ctx, r, "paid", stageIs(ui.StageDone))
	if tv := v.Receipt.Tenders; len(tv) != 1 || !strings.Contains(tv[0].Detail, "4242") {
		t.Fatalf("receipt: %+v", tv)
	}
	lt.waitIdle(t, ctx)
	pi := lt.onlyIntent(t, ctx, v.OrderID)
	if pi.Status != stripe.PaymentIntentStatusSucceeded || pi.Customer == nil || pi.Customer.ID != cus {
		t.Fatalf("saved-card PaymentIntent: %s, customer %+v", pi.Status, pi.Customer)
	}
}

func TestSavedCardNeedingAuthenticationFallsBackToReader(t *testing.T) {
	lt := openWalletTill(t, "CHF", "de-CH", nil)
	ctx := testCtx(t)
	cus, pm := lt.customer(t, ctx, "Beat Keller", "beat@example.ch", url.Values{"type": {"card"}, "card[token]": {"tok_authenticationRequired"}})
	r := openRegister(t, lt)
	ringUp(t, r)
	chooseCustomer(t, r, "beat@example.ch", cus)
	mustDo(t, "charge saved", r.ChargeSaved(pm))
	v := waitSale(t, ctx, r, "authentication needed", stepIs(ui.CardAuthenticate))
	if !v.CanRetryCard || !strings.Contains(v.Card.Message, "card reader") {
		t.Fatalf("authentication needed: %+v", v)
	}
	// The customer presents the card on the reader: same order, same
	// PaymentIntent.
	mustDo(t, "use the reader", r.RetryCard())
	tapWhenAsked(t, ctx, lt, r, "visa")
	v = waitSale(t, ctx, r, "paid", stageIs(ui.StageDone))
	lt.waitIdle(t, ctx)
	pi := lt.onlyIntent(t, ctx, v.OrderID)
	if pi.Status != stripe.PaymentIntentStatusSucceeded || len(pi.PaymentMethodTypes) != 1 || pi.PaymentMethodTypes[0] != "card_present" {
		t.Fatalf("PaymentIntent after the reader fallback: %s, types %v", pi.Status, pi.PaymentMethodTypes)
	}
}

func TestSEPADebitPendingThenSettledByEvents(t *testing.T) {
	for _, tc := range []struct {
		iban   string
		failed bool
	}{
		{"DE89370400440532013000", false},
		{"DE62370400440532013001", true},
	} {
		t.Run(tc.iban, func(t *testing.T) {
			lt := openWalletTill(t, "EUR", "de-DE", nil)
			ctx := testCtx(t)
			cus, pm := lt.customer(t, ctx, "Clara Weber", "clara@example.de", url.Values{"type": {"sepa_debit"}, "sepa_debit[iban]": {tc.iban}})
			r := openRegister(t, lt)
			ringUp(t, r)
			pms := chooseCustomer(t, r, "clara@example.de", cus)
			if len(pms) != 1 || !strings.HasPrefix(pms[0].Label, "SEPA") || !pms[0].Usable {
				t.Fatalf("saved methods: %+v", pms)
			}
			mustDo(t, "charge saved", r.ChargeSaved(pm))
			v := waitSale(t, ctx, r, "sale done, payment pending", stageIs(ui.StageDone))
			if !v.Receipt.Pending {
				t.Fatalf("a SEPA debit's receipt is not pending: %+v", v.Receipt)
			}
			// The debit settles a minute later on the API's clock; the
			// event poller brings the outcome.
			lt.srv.AdvanceClock(t, 2*time.Minute)
			o, err := lt.WaitOrder(ctx, v.OrderID, func(o *order.Order) bool { return !o.PaymentPending() })
			if err != nil {
				t.Fatal(err)
			}
			if o.PaymentFailed() != tc.failed || o.Status() != order.StatusCompleted {
				t.Fatalf("settled order: failed %v, status %s", o.PaymentFailed(), o.Status())
			}
			// Replaying every event changes nothing.
			before, _ := o.Marshal()
			for ev, err := range lt.api.Events(ctx, &stripe.EventListParams{}) {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := lt.applyEvent(ctx, ev); err != nil {
					t.Fatalf("replay %s: %v", ev.Type, err)
				}
			}
			after, _ := mustOrder(t, lt, v.OrderID).Marshal()
			if !bytes.Equal(before, after) {
				t.Fatalf("replayed events changed the order:\n%s\n%s", before, after)
			}
		})
	}
}

func TestSaveCardForLaterOnReaderSale(t *testing.T) {
	lt := openWalletTill(t, "CHF", "de-CH", nil)
	ctx := testCtx(t)
	cus, _ := lt.customer(t, ctx, "Dora Frei", "dora@example.ch", url.Values{"type": {"card"}, "card[token]": {"tok_mastercard"}})
	r := openRegister(t, lt)
	ringUp(t, r)
	chooseCustomer(t, r, "dora@example.ch", cus)
	if v := r.Sale(); !v.CanSaveCard || v.SaveCard {
		t.Fatalf("before consent: %+v", v)
	}
	mustDo(t, "consent", r.SetSaveCard(true))
	if v := r.Sale(); !v.SaveCard {
		t.Fatal("the consent is not on the sale")
	}
	mustDo(t, "charge", r.ChargeCard())
	tapWhenAsked(t, ctx, lt, r, "visa")
	v := waitSale(t, ctx, r, "paid", stageIs(ui.StageDone))
	lt.waitIdle(t, ctx)
	pi := lt.onlyIntent(t, ctx, v.OrderID)
	if pi.Customer == nil || pi.Customer.ID != cus || pi.SetupFutureUsage != stripe.PaymentIntentSetupFutureUsageOffSession {
		t.Fatalf("card sale with consent: customer %+v, setup_future_usage %q", pi.Customer, pi.SetupFutureUsage)
	}
	// Next time, the card read on the reader is among the saved methods.
	mustDo(t, "next sale", r.NewSale())
	ringUp(t, r)
	if pms := chooseCustomer(t, r, "dora@example.ch", cus); len(pms) != 2 || !pms[0].Usable || pms[0].Type != "card" {
		t.Fatalf("saved methods after the reader sale: %+v", pms)
	}
}

func TestCustomerQuery(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{"anna@example.ch", "email:'anna@example.ch'", false},
		{"+41 79 123 45 67", "phone:'+41 79 123 45 67'", false},
		{"Müller", "name:'Müller' OR name~'Müller'", false},
		{"O'Brien", `name:'O\'Brien' OR name~'O\'Brien'`, false},
		{"ab", "", true},
		{"  ", "", true},
		{"bad\x00name", "", true},
	} {
		got, err := customerQuery(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("customerQuery(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// FuzzCustomerQuery: whatever the cashier types becomes a refused query or
// one whose quoted values cannot be broken out of.
func FuzzCustomerQuery(f *testing.F) {
	for _, s := range []string{"anna@example.ch", "+41 79 123 45 67", "Müller", "O'Brien", `a\'b OR x`, "ab", "bad\x00name"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := customerQuery(s)
		if err != nil {
			if !errors.Is(err, ErrQuery) {
				t.Fatalf("customerQuery(%q): %v", s, err)
			}
			return
		}
		// Walk the query: outside quotes only field names, operators and
		// spaces; inside, every quote and backslash is escaped.
		in := false
		for i := 0; i < len(q); i++ {
			switch c := q[i]; {
			case in && c == '\\':
				i++ // the escaped character
			case c == '\'':
				in = !in
			case !in && !strings.ContainsRune("emailphonr:~ OR", rune(c)):
				t.Fatalf("customerQuery(%q) = %q: %q outside quotes", s, q, c)
			}
		}
		if in {
			t.Fatalf("customerQuery(%q) = %q: unterminated quote", s, q)
		}
	})
}

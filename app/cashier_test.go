package app

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/ui"
	"github.com/tillpos/till/ui/uitest"
)

// cashier is the real cashier screen on a live till (sandbox over loopback,
// built-in simulated reader), in a Fyne test window, driven the way a
// cashier drives it: typing into the scan field and tapping buttons.
type cashier struct {
	t       *testing.T
	lt      *liveTill
	reg     *Register
	win     fyne.Window
	applied chan ui.SaleView
	ctx     context.Context
}

// uiGoroutine stands for Fyne's UI goroutine: the test driver runs
// fyne.Do at once on the calling goroutine, so the screens' updates and
// the tests' taps take turns through it. It is one for the whole test
// binary because the driver's text shaper is shared: a screen from an
// earlier test may still be winding down.
var uiGoroutine sync.Mutex

func openCashier(t *testing.T, lt *liveTill) *cashier {
	t.Helper()
	c := &cashier{t: t, lt: lt, reg: openRegister(t, lt), applied: make(chan ui.SaleView, 1024), ctx: testCtx(t)}
	var s *ui.CashierScreen
	c.onUI(func() {
		s = ui.NewCashierScreen(ui.CashierParams{
			Register:        c.reg,
			Simulator:       simulatorControls{lt.Simulator()},
			WalletSimulator: lt.phone(),
			Version:         "test",
			Do:              c.onUI,
			OnApplied: func(v ui.SaleView) {
				select {
				case c.applied <- v:
				default: // the next refresh shows it again
				}
			},
		})
	})
	c.win = test.NewTempApp(t).NewWindow("Till")
	c.onUI(func() {
		c.win.SetContent(s.Content())
		c.win.Resize(fyne.NewSize(1366, 768))
		s.Attach(c.win.Canvas())
	})
	ctx, cancel := context.WithCancel(context.Background())
	s.Start(ctx)
	t.Cleanup(func() {
		cancel()
		s.Wait() // no screen outlives its test: the driver's text shaper is shared
	})
	return c
}

func (c *cashier) onUI(f func()) {
	uiGoroutine.Lock()
	defer uiGoroutine.Unlock()
	f()
}

// shown waits until the screen has shown a sale that satisfies cond.
func (c *cashier) shown(what string, cond func(ui.SaleView) bool) ui.SaleView {
	c.t.Helper()
	for {
		select {
		case v := <-c.applied:
			if cond(v) {
				return v
			}
		case <-c.ctx.Done():
			c.t.Fatalf("the screen never showed %s; it shows %q", what, c.texts())
		}
	}
}

// texts is what the window shows, pop-ups included.
func (c *cashier) texts() []string {
	var out []string
	c.onUI(func() {
		out = uitest.ShownTexts(c.win.Content())
		for _, o := range c.win.Canvas().Overlays().List() {
			out = append(out, uitest.ShownTexts(o)...)
		}
	})
	return out
}

// tap taps the visible button labelled label, in a pop-up first.
func (c *cashier) tap(label string) {
	c.t.Helper()
	c.onUI(func() {
		var b *widget.Button
		for _, o := range c.win.Canvas().Overlays().List() {
			if b = uitest.Button(o, label); b != nil {
				break
			}
		}
		if b == nil {
			b = uitest.Button(c.win.Content(), label)
		}
		if b == nil {
			c.t.Fatalf("no button %q on screen; it shows %q", label, uitest.ShownTexts(c.win.Content()))
		}
		if b.Disabled() {
			c.t.Fatalf("button %q is disabled", label)
		}
		test.Tap(b)
	})
}

// typeIn types text into the focused field, then Enter, as a barcode
// scanner does.
func (c *cashier) typeIn(text string) {
	c.t.Helper()
	c.onUI(func() {
		f := c.win.Canvas().Focused()
		if f == nil {
			c.t.Fatal("nothing has the keyboard focus")
		}
		test.Type(f, text)
		f.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	})
}

// waitText waits until the screen shows s, checking after each refresh.
func (c *cashier) waitText(s string) {
	c.t.Helper()
	has := func() bool {
		return slices.ContainsFunc(c.texts(), func(t string) bool { return strings.Contains(t, s) })
	}
	for !has() {
		select {
		case <-c.applied:
		case <-c.ctx.Done():
			c.t.Fatalf("%q never shown; the screen shows %q", s, c.texts())
		}
	}
}

func (c *cashier) wantText(s string) {
	c.t.Helper()
	if texts := c.texts(); !slices.ContainsFunc(texts, func(t string) bool { return strings.Contains(t, s) }) {
		c.t.Fatalf("%q not on screen; it shows %q", s, texts)
	}
}

func lines(n int) func(ui.SaleView) bool {
	return func(v ui.SaleView) bool { return len(v.Lines) == n && v.Stage == ui.StageCart }
}

func TestCashierCardDeclinedThenApproved(t *testing.T) {
	lt := openLiveTill(t, nil)
	c := openCashier(t, lt)
	c.typeIn("7610335001202") // a barcode
	c.shown("the scanned water", lines(1))
	c.typeIn("HOT-CAP") // a SKU
	v := c.shown("two lines", lines(2))
	c.wantText("Cappuccino")
	c.wantText(v.Total)

	c.tap("Card (F5)")
	c.shown("present card", stepIs(ui.CardPresent))
	c.tap("Tap charge_declined_insufficient_funds")
	c.shown("the decline", stepIs(ui.CardDeclined))
	c.wantText("insufficient funds")

	c.tap("Try another card (F5)")
	c.shown("present card again", stepIs(ui.CardPresent))
	c.tap("Tap visa")
	v = c.shown("the receipt", stageIs(ui.StageDone))
	c.wantText("VISA •••• 4242")
	c.wantText(v.OrderID)

	o, err := lt.Order(v.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	lt.waitIdle(t, c.ctx)
	lt.assertPaid(t, c.ctx, o) // exactly one PaymentIntent, captured for the total
}

func TestCashierCustomerCancelThenCashWithChange(t *testing.T) {
	lt := openLiveTill(t, nil)
	c := openCashier(t, lt)
	c.typeIn("HOT-ESP")
	c.shown("an espresso", lines(1))
	c.tap("Card (F5)")
	c.shown("present card", stepIs(ui.CardPresent))
	c.tap("Customer cancels")
	c.shown("the cancellation", stepIs(ui.CardCancelled))
	c.wantText("The customer cancelled on the reader.")

	c.tap("Cash (F6)")
	c.typeIn("10")
	v := c.shown("the receipt", stageIs(ui.StageDone))
	if v.Receipt.Change != "CHF\u00a05.80" {
		t.Fatalf("change for CHF 10.00 on CHF 4.20: %q", v.Receipt.Change)
	}
	c.wantText("CHF\u00a05.80")

	lt.waitIdle(t, c.ctx)
	if pis := lt.intentsFor(t, c.ctx, v.OrderID); len(pis) != 1 || pis[0].Status != stripe.PaymentIntentStatusCanceled {
		t.Fatalf("the card's PaymentIntent after paying cash: %+v", pis)
	}
}

func TestCashierUnknownBarcodeAndVoid(t *testing.T) {
	lt := openLiveTill(t, nil)
	c := openCashier(t, lt)
	c.typeIn("4006381333931") // a valid EAN-13 this café does not sell
	c.waitText("4006381333931")
	if v := c.reg.Sale(); len(v.Lines) != 0 {
		t.Fatalf("an unknown code added %+v", v.Lines)
	}
	c.typeIn("HOT-LAT")
	c.shown("a latte", lines(1))

	c.tap("Void (F8)")
	c.tap("Void the sale (Enter)")
	v := c.shown("the void slip", stageIs(ui.StageVoided))
	if o, err := lt.Order(v.OrderID); err != nil || o.VoidReason() == "" {
		t.Fatalf("voided order: %v", err)
	}
}

func TestCashierOfflineBanner(t *testing.T) {
	lt := openLiveTillWith(t, func(p *Params) { p.Config.Offline.Disabled = true }, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler) // the payment API never answers
		})
	})
	c := openCashier(t, lt)
	c.typeIn("HOT-ESP")
	c.shown("an espresso", lines(1))
	c.tap("Card (F5)")
	c.shown("offline", stepIs(ui.CardOffline))
	c.wantText("No connection to the payment service — take cash; the sale is kept.")
	c.tap("Cash (F6)")
	c.tap("Exact amount")
	c.shown("paid in cash", stageIs(ui.StageDone))
}

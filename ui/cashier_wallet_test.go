package ui

import (
	"fmt"
	"image"
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"rsc.io/qr"
)

// twintURL is a wallet page as the sandbox hands it out, for the QR code.
const twintURL = "https://sandbox.till.local/wallet/twint/pi_3QfT9x2eZvKYlo2C0a1b2c3d?token=wt_8f3a1c"

// walletCart is a cart that TWINT can take and MobilePay cannot.
func walletCart(v *SaleView, st *StatusBarView) {
	cartSale(v, st)
	v.Wallets = []WalletOption{
		{Kind: "twint", Label: "TWINT", Enabled: true},
		{Kind: "mobilepay", Label: "MobilePay", Why: "MobilePay takes DKK, EUR, SEK and NOK only"},
	}
}

// walletSale is the cart of cartSale paid with a wallet, at step.
func walletSale(kind, label string, step WalletStep, msg, url string, expires time.Time) func(*SaleView, *StatusBarView) {
	return func(v *SaleView, st *StatusBarView) {
		cartSale(v, st)
		v.Stage, v.CanEdit, v.CanCharge, v.CanPayCash = StageWallet, false, false, false
		v.Wallet = WalletView{Kind: kind, Label: label, Step: step, Message: msg, Amount: "CHF 11.96", URL: url, Expires: expires}
		switch step {
		case WalletCreating, WalletScan:
			v.CanCancelWallet, v.CanVoid = true, true
		default:
			v.CanRetryWallet, v.CanCancelWallet, v.CanPayCash, v.CanVoid = true, true, true, true
		}
	}
}

func twintScan(v *SaleView, st *StatusBarView) {
	walletSale("twint", "TWINT", WalletScan, "Ask the customer to scan the code with the TWINT app and confirm.", twintURL, time.Time{})(v, st)
}

func TestCashierWalletTenders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(walletCart)
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		twint, mobile := button(t, c, "TWINT (F7)"), button(t, c, "MobilePay")
		if twint.Disabled() || !mobile.Disabled() {
			t.Errorf("TWINT enabled %v, MobilePay enabled %v; want true, false", !twint.Disabled(), !mobile.Disabled())
		}
		wantShown(t, c, "MobilePay takes DKK, EUR, SEK and NOK only")
		tap(twint)
		tap(mobile) // disabled: nothing
		key(c, fyne.KeyF7)
		wantCalls(t, reg, "ChargeWallet[twint]", "ChargeWallet[twint]")

		// The other way round: F7 moves to MobilePay, on the same buttons.
		reg.set(func(v *SaleView, _ *StatusBarView) {
			v.Wallets = []WalletOption{
				{Kind: "twint", Label: "TWINT", Why: "TWINT takes CHF only"},
				{Kind: "mobilepay", Label: "MobilePay", Enabled: true},
			}
		})
		synctest.Wait()
		if got := button(t, c, "MobilePay (F7)"); got != mobile {
			t.Errorf("the wallet buttons were made again for a change of what they can take")
		}
		wantShown(t, c, "TWINT takes CHF only")
		wantNotShown(t, c, "MobilePay takes DKK, EUR, SEK and NOK only")
		key(c, fyne.KeyF7)
		tap(button(t, c, "TWINT"))
		wantCalls(t, reg, "ChargeWallet[mobilepay]")

		// Offline, both say so; F7 does nothing.
		reg.set(func(v *SaleView, _ *StatusBarView) {
			v.Wallets = []WalletOption{{Kind: "twint", Label: "TWINT", Why: "Needs a connection"}, {Kind: "mobilepay", Label: "MobilePay", Why: "Needs a connection"}}
		})
		synctest.Wait()
		key(c, fyne.KeyF7)
		wantCalls(t, reg)
		// An error from the app is shown as it is.
		reg.set(walletCart)
		reg.fail["ChargeWallet"] = fmt.Errorf("charge TWINT: %w", ErrOffline)
		synctest.Wait()
		key(c, fyne.KeyF7)
		wantShown(t, c, "charge TWINT: the payment service is not reachable")

		// A till without wallets shows no row for them.
		reg.set(func(v *SaleView, _ *StatusBarView) { v.Wallets = nil })
		synctest.Wait()
		if s.walletRow.Visible() || hasButton(c, "TWINT") {
			t.Errorf("wallet row shown with no wallets")
		}
	})
}

// qrModules reads the modules of a QR code back from img: each module's
// centre, after finding the code's first dark pixel (the top-left finder
// pattern's corner) and its module size from the finder's 7-module width.
func qrModules(t *testing.T, img *image.Gray, size int) [][]bool {
	t.Helper()
	b := img.Bounds()
	x0, y0 := -1, -1
	for y := b.Min.Y; y < b.Max.Y && x0 < 0; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if img.GrayAt(x, y).Y < 0x80 {
				x0, y0 = x, y
				break
			}
		}
	}
	if x0 < 0 {
		t.Fatal("no dark pixel: the QR code is blank")
	}
	w := 0
	for x := x0; x < b.Max.X && img.GrayAt(x, y0).Y < 0x80; x++ {
		w++
	}
	if w%7 != 0 {
		t.Fatalf("finder pattern %d px wide: modules are not whole pixels", w)
	}
	m := w / 7
	out := make([][]bool, size)
	for y := range size {
		out[y] = make([]bool, size)
		for x := range size {
			out[y][x] = img.GrayAt(x0+x*m+m/2, y0+y*m+m/2).Y < 0x80
		}
	}
	return out
}

// wantQR fails the test unless img shows code, module for module.
func wantQR(t *testing.T, img *image.Gray, code *qr.Code) {
	t.Helper()
	got := qrModules(t, img, code.Size)
	for y := range code.Size {
		for x := range code.Size {
			if got[y][x] != code.Black(x, y) {
				t.Fatalf("module (%d,%d) dark = %v, want %v", x, y, got[y][x], code.Black(x, y))
			}
		}
	}
}

// TestQRImage: the drawn code reads back as the URL's code, module for
// module, at the screen's size and at twice it (a HiDPI screen), with a
// quiet zone of at least four modules on every side.
func TestQRImage(t *testing.T) {
	for _, tc := range []struct {
		url  string
		w, h int
	}{
		{twintURL, qrSide, qrSide},
		{twintURL, 2 * qrSide, 2 * qrSide},
		{"https://sandbox.till.local/wallet/mobilepay/pi_1", 300, 280},
		{"x", 25, 25}, // smaller than the code with its border: one pixel a module
	} {
		t.Run(fmt.Sprintf("%dx%d", tc.w, tc.h), func(t *testing.T) {
			code, err := qr.Encode(tc.url, qr.M)
			if err != nil {
				t.Fatal(err)
			}
			img := qrImage(code, tc.w, tc.h)
			if got := img.Bounds().Size(); got != image.Pt(tc.w, tc.h) {
				t.Fatalf("image %v, want %dx%d", got, tc.w, tc.h)
			}
			wantQR(t, img, code)
			// The quiet zone: nothing dark within four modules of the code.
			m := max(min(tc.w, tc.h)/(code.Size+2*qrQuiet), 1)
			for y := range tc.h {
				for x := range tc.w {
					if img.GrayAt(x, y).Y < 0x80 {
						cx, cy := (tc.w-m*(code.Size+2*qrQuiet))/2, (tc.h-m*(code.Size+2*qrQuiet))/2
						if x < cx+qrQuiet*m || y < cy+qrQuiet*m || x >= cx+(qrQuiet+code.Size)*m || y >= cy+(qrQuiet+code.Size)*m {
							t.Fatalf("dark pixel (%d,%d) in the quiet zone", x, y)
						}
					}
				}
			}
		})
	}
}

func BenchmarkQRImage(b *testing.B) {
	code, err := qr.Encode(twintURL, qr.M)
	if err != nil {
		b.Fatal(err)
	}
	for _, side := range []int{qrSide, 2 * qrSide} {
		b.Run(fmt.Sprint(side), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				qrImage(code, side, side)
			}
		})
	}
}

func TestCashierWalletPanel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(walletSale("twint", "TWINT", WalletCreating, "Asking the payment service for the QR code…", "", time.Time{}))
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		wantShown(t, c, "TWINT", "CHF 11.96", "Asking the payment service for the QR code…")
		if !s.wallet.progress.Visible() || s.wallet.qrBox.Visible() || s.wallet.qr != nil {
			t.Errorf("creating: progress %v, QR shown %v; want progress and no QR", s.wallet.progress.Visible(), s.wallet.qrBox.Visible())
		}
		if hasButton(c, "Card (F5)") || s.linesScroll.Visible() {
			t.Errorf("the tenders or the lines are shown during a wallet payment")
		}

		reg.set(twintScan)
		synctest.Wait()
		qrShown := s.wallet.qr
		if qrShown == nil || !s.wallet.qrBox.Visible() || s.wallet.progress.Visible() {
			t.Fatalf("scan: QR %v shown %v, progress %v; want the QR and no progress", qrShown != nil, s.wallet.qrBox.Visible(), s.wallet.progress.Visible())
		}
		if sz := qrShown.MinSize(); sz.Width < qrSide || sz.Height < qrSide {
			t.Errorf("QR code %v, want at least %d square", sz, qrSide)
		}
		code, err := qr.Encode(twintURL, qr.M)
		if err != nil {
			t.Fatal(err)
		}
		img, ok := qrShown.Generator(qrSide, qrSide).(*image.Gray)
		if !ok {
			t.Fatalf("QR raster draws a %T", qrShown.Generator(qrSide, qrSide))
		}
		wantQR(t, img, code)
		if m := s.wallet.message; m.Text != "Ask the customer to scan the code with the TWINT app and confirm." || !m.Visible() {
			t.Errorf("message %q shown %v, want the app's", m.Text, m.Visible())
		}
		wantNotShown(t, c, "Try again (F5)", "Customer approves")
		if s.wallet.countdown.Visible() {
			t.Errorf("countdown shown for a wallet without a time limit")
		}
		tap(button(t, c, "Cancel payment"))
		wantCalls(t, reg, "CancelWallet")

		// A refresh with the same URL keeps the code; a new one draws it again.
		s.Changed()
		synctest.Wait()
		if s.wallet.qr != qrShown {
			t.Errorf("a refresh drew the same QR code again")
		}

		reg.set(walletSale("twint", "TWINT", WalletFailed, "The customer refused the payment, or their time ran out.", "", time.Time{}))
		synctest.Wait()
		if s.wallet.qrBox.Visible() || s.wallet.qr != nil {
			t.Errorf("QR code still shown after the payment failed")
		}
		wantShown(t, c, "Not paid", "The customer refused the payment, or their time ran out.")
		tap(button(t, c, "Try again (F5)"))
		key(c, fyne.KeyF5)
		tap(button(t, c, "Cancel payment"))
		wantCalls(t, reg, "RetryWallet", "RetryWallet", "CancelWallet")
		tap(button(t, c, "Cash (F6)"))
		wantShown(t, c, "To pay in cash", "CHF 11.95")
		key(c, fyne.KeyEscape)
		tap(button(t, c, "Void (F8)"))
		wantShown(t, c, "Void this sale?")
		key(c, fyne.KeyEscape)

		// Buttons follow the flags.
		reg.set(func(v *SaleView, _ *StatusBarView) { v.CanRetryWallet, v.CanCancelWallet = false, false })
		synctest.Wait()
		tap(button(t, c, "Try again (F5)"))
		tap(button(t, c, "Cancel payment"))
		key(c, fyne.KeyF5)
		wantCalls(t, reg)

		reg.set(walletSale("twint", "TWINT", WalletOffline, "The payment service is not reachable.", "", time.Time{}))
		synctest.Wait()
		wantShown(t, c, "Offline", "No connection to the payment service — take cash; the sale is kept.")

		// Back to the cart: the panel goes, the tenders come back.
		reg.set(walletCart)
		synctest.Wait()
		if s.wallet.scroll.Visible() || !s.linesScroll.Visible() {
			t.Errorf("wallet panel shown %v, lines %v after the wallet was given up", s.wallet.scroll.Visible(), s.linesScroll.Visible())
		}
		button(t, c, "TWINT (F7)")
	})
}

func TestCashierWalletCountdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(walletSale("mobilepay", "MobilePay", WalletScan, "Ask the customer to scan the code with the MobilePay app and confirm.",
			"https://sandbox.till.local/wallet/mobilepay/pi_1", time.Now().Add(5*time.Minute)))
		// The bubble's clock is the screen's: it moves only as the test sleeps.
		s, w := startCashier(t, CashierParams{Register: reg, Now: time.Now, Every: time.Hour})
		c := w.Canvas()
		wantShown(t, c, "5:00 left")
		for _, want := range []struct {
			after time.Duration
			text  string
		}{
			{time.Second, "4:59 left"},
			{time.Second, "4:58 left"},
			{58 * time.Second, "4:00 left"},
			{3*time.Minute + 59*time.Second, "0:01 left"},
			{time.Second, "Time is up"},
		} {
			time.Sleep(want.after)
			synctest.Wait()
			var got string
			// The ticks write the label on the UI goroutine: read it there.
			onUI(func() { got = s.wallet.countdown.Text })
			if got != want.text {
				t.Errorf("countdown %q, want %q", got, want.text)
			}
		}
		wantCalls(t, reg) // the ticks ask the Register nothing

		// Without a countdown on screen, the screen does not tick.
		reg.set(walletSale("mobilepay", "MobilePay", WalletFailed, "Time ran out.", "", time.Time{}))
		synctest.Wait()
		var shown bool
		onUI(func() { shown = s.wallet.countdown.Visible() })
		if s.counting.Load() || shown {
			t.Errorf("still counting (%v) or countdown shown (%v) after the payment failed", s.counting.Load(), shown)
		}
	})
}

func TestCountdownText(t *testing.T) {
	for _, tc := range []struct {
		left time.Duration
		want string
	}{
		{5 * time.Minute, "5:00 left"},
		{5*time.Minute - time.Millisecond, "5:00 left"},
		{4*time.Minute + 59*time.Second, "4:59 left"},
		{61 * time.Second, "1:01 left"},
		{time.Millisecond, "0:01 left"},
		{0, "Time is up"},
		{-time.Second, "Time is up"},
		{12 * time.Minute, "12:00 left"},
	} {
		if got := countdownText(tc.left); got != tc.want {
			t.Errorf("countdownText(%v) = %q, want %q", tc.left, got, tc.want)
		}
	}
}

func TestCashierWalletSimulator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(twintScan)
		_, w := startCashier(t, CashierParams{Register: reg, WalletSimulator: fakeWalletSimulator{reg}})
		c := w.Canvas()
		tap(button(t, c, "Customer approves"))
		tap(button(t, c, "Customer refuses"))
		wantCalls(t, reg, "ApproveWallet["+twintURL+"]", "RefuseWallet["+twintURL+"]")

		reg.set(walletSale("twint", "TWINT", WalletFailed, "Refused", "", time.Time{}))
		synctest.Wait()
		if hasButton(c, "Customer approves") {
			t.Errorf("the phone's buttons are shown with no QR code")
		}
	})
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(twintScan)
		_, w := startCashier(t, CashierParams{Register: reg})
		if hasButton(w.Canvas(), "Customer approves") {
			t.Errorf("the phone's buttons are shown without a wallet simulator")
		}
	})
}

func TestCashierCardAuthenticate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		msg := "The bank wants the customer to confirm this payment. Ask for the card on the reader."
		reg.set(func(v *SaleView, st *StatusBarView) {
			cardSale(CardAuthenticate, msg)(v, st)
			v.CanPayCash, v.CanVoid = true, true
		})
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		wantShown(t, c, "The bank asks for authentication")
		if m := s.card.message; m.Text != msg || !m.Visible() {
			t.Errorf("message %q shown %v, want the app's", m.Text, m.Visible())
		}
		if m := s.card.message; m.SizeName != theme.SizeNameSubHeadingText || m.Importance != widget.WarningImportance {
			t.Errorf("the message is not prominent: size %q importance %v", m.SizeName, m.Importance)
		}
		tap(button(t, c, "Use the card reader (F5)"))
		key(c, fyne.KeyF5)
		wantCalls(t, reg, "RetryCard", "RetryCard")
		for _, b := range []string{"Cash (F6)", "Void (F8)"} {
			if button(t, c, b).Disabled() {
				t.Errorf("%q disabled", b)
			}
		}
		// Once on the reader, the message is ordinary again.
		reg.set(cardSale(CardPresent, "Present card"))
		synctest.Wait()
		if s.card.message.SizeName != theme.SizeNameText {
			t.Errorf("the reader's prompt is shown as loudly as the authentication")
		}
	})
}

func TestCashierReceiptPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(func(v *SaleView, st *StatusBarView) {
			doneSale(v, st)
			v.Receipt.Pending = true
			v.Receipt.Tenders = []TenderView{{Kind: "SEPA Direct Debit", Amount: "CHF 11.96", Detail: "DE89 •••• 3000 · payment pending"}}
		})
		_, w := startCashier(t, CashierParams{Register: reg})
		wantShown(t, w.Canvas(), "Receipt", "Payment pending", "SEPA Direct Debit", "DE89 •••• 3000 · payment pending")
	})
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(doneSale)
		_, w := startCashier(t, CashierParams{Register: reg})
		wantNotShown(t, w.Canvas(), "Payment pending")
	})
}

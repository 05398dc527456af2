package ui

import (
	"fmt"
	"image"
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"rsc.io/qr"
)

// qrSide is the QR code's size on screen: big enough for a phone held
// at arm's length across the counter.
const qrSide = 280

// qrQuiet is the quiet zone around a QR code, in modules, as the standard
// asks: scanners find the code by its white border.
const qrQuiet = 4

// walletPanel shows a TWINT or MobilePay payment under way, in place of
// the cart lines: the QR code the customer scans with the wallet's app,
// the time left to do it, and the ways out.
type walletPanel struct {
	s      *CashierScreen
	scroll *container.Scroll // what the screen shows and hides
	box    *fyne.Container

	title, amount    *canvas.Text
	state            *widget.Label // the step, when it is not the QR code
	message, banner  *widget.Label
	countdown        *widget.Label
	progress         *widget.ProgressBarInfinite
	qr               *canvas.Raster // nil until a URL is shown
	qrBox            *fyne.Container
	url              string    // what qr encodes
	expires          time.Time // the countdown's end; zero: no countdown
	retry            *widget.Button
	retryRow         *fyne.Container // shown and hidden with retry: a hidden button still holds its row's height
	cancel, cash     *widget.Button
	void             *widget.Button
	sim              *fyne.Container
	approve, refuse  *widget.Button
	counting, scanOK bool // a countdown is shown; the QR code is up
}

func newWalletPanel(s *CashierScreen) *walletPanel {
	w := &walletPanel{s: s}
	fg := theme.Color(theme.ColorNameForeground)
	w.title = canvas.NewText("", fg)
	w.title.TextSize = 30
	w.title.TextStyle.Bold = true
	w.amount = canvas.NewText("", fg)
	w.amount.TextSize = 40
	w.amount.TextStyle.Bold = true
	w.state = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	w.state.SizeName = theme.SizeNameSubHeadingText
	w.message = widget.NewLabel("")
	w.message.Wrapping = fyne.TextWrapWord
	w.countdown = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	w.countdown.SizeName = theme.SizeNameSubHeadingText
	w.countdown.Hide()
	w.banner = widget.NewLabelWithStyle(lang.L("No connection to the payment service — take cash; the sale is kept."),
		fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	w.banner.Importance = widget.DangerImportance
	w.banner.Wrapping = fyne.TextWrapWord
	w.banner.Hide()
	w.progress = widget.NewProgressBarInfinite()
	w.progress.Hide()
	w.qrBox = container.NewCenter()
	w.qrBox.Hide()

	w.retry = bigButton(lang.L("Try again")+" (F5)", theme.ViewRefreshIcon(), widget.HighImportance, s.retryWallet)
	w.retryRow = tall(56, w.retry)
	w.retryRow.Hide()
	w.cancel = bigButton(lang.L("Cancel payment"), theme.CancelIcon(), widget.MediumImportance, s.cancelWallet)
	w.cash = bigButton(lang.L("Cash")+" (F6)", nil, widget.HighImportance, s.openCash)
	w.void = bigButton(lang.L("Void")+" (F8)", theme.DeleteIcon(), widget.DangerImportance, s.confirmVoid)

	// The sandbox's phone: only the built-in sandbox offers it, so the
	// buttons need no caption to tell them from the customer's own.
	w.approve = widget.NewButtonWithIcon(lang.L("Customer approves"), theme.ConfirmIcon(), func() { w.answer(true) })
	w.refuse = widget.NewButtonWithIcon(lang.L("Customer refuses"), theme.CancelIcon(), func() { w.answer(false) })
	w.sim = container.NewGridWithColumns(2, tall(44, w.approve), tall(44, w.refuse))
	w.sim.Hide()

	// The QR code and, beside it, what it is for; the message under both
	// at full width. The state has no wrapping: wrapped labels beside the
	// code would make its row as tall as a one-word-per-line text.
	info := container.NewVBox(w.title, w.amount, w.countdown, w.state)
	w.box = container.NewVBox(
		container.NewBorder(nil, nil, w.qrBox, nil, info),
		w.message, w.progress, w.banner,
		w.retryRow,
		container.NewGridWithColumns(3, tall(56, w.cancel), tall(56, w.cash), tall(56, w.void)),
		w.sim)
	w.scroll = container.NewVScroll(w.box)
	w.scroll.Hide()
	return w
}

// answer plays the customer on the sandbox's wallet page of the QR code
// shown now. The call runs on the worker, like every other.
func (w *walletPanel) answer(approve bool) {
	sim, url := w.s.p.WalletSimulator, w.s.sale.Wallet.URL
	if sim == nil || url == "" {
		return
	}
	w.s.act(func() error {
		if approve {
			return sim.ApproveWallet(url)
		}
		return sim.RefuseWallet(url)
	})
}

// show shows the wallet payment of sale as read at now; it says whether
// the panel appeared or went.
func (w *walletPanel) show(sale SaleView, now time.Time) bool {
	if sale.Stage != StageWallet {
		w.progress.Stop()
		w.counting = false
		return setVisible(w.scroll, false)
	}
	v := sale.Wallet
	fg := theme.Color(theme.ColorNameForeground)
	if w.title.Text != v.Label || w.title.Color != fg {
		w.title.Text, w.title.Color = v.Label, fg
		w.title.Refresh()
	}
	if w.amount.Text != v.Amount || w.amount.Color != fg {
		w.amount.Text, w.amount.Color = v.Amount, fg
		w.amount.Refresh()
	}
	state, imp, busy := "", widget.MediumImportance, false
	switch v.Step {
	case WalletCreating:
		busy = true // the message says what for
	case WalletFailed:
		state, imp = lang.L("Not paid"), widget.DangerImportance
	case WalletOffline:
		state, imp = lang.L("Offline"), widget.DangerImportance
	}
	moved := w.showQR(v)
	if w.state.Importance != imp {
		w.state.Importance = imp
		w.state.Refresh()
	}
	moved = setText(w.state, state) || moved
	moved = setVisible(w.state, state != "") || moved
	moved = setText(w.message, v.Message) || moved
	moved = setVisible(w.message, v.Message != "") || moved
	moved = setVisible(w.banner, v.Step == WalletOffline) || moved
	moved = setVisible(w.progress, busy) || moved
	if busy {
		w.progress.Start()
	} else {
		w.progress.Stop()
	}

	w.expires = time.Time{}
	if v.Step == WalletScan {
		w.expires = v.Expires
	}
	w.counting = !w.expires.IsZero()
	moved = setVisible(w.countdown, w.counting) || moved
	w.tick(now)

	failed := v.Step == WalletFailed || v.Step == WalletOffline
	moved = setVisible(w.retryRow, failed) || moved
	setEnabled(w.retry, sale.CanRetryWallet)
	setEnabled(w.cancel, sale.CanCancelWallet)
	setEnabled(w.cash, sale.CanPayCash)
	setEnabled(w.void, sale.CanVoid)
	moved = setVisible(w.sim, w.s.p.WalletSimulator != nil && w.scanOK) || moved
	if moved {
		w.box.Refresh()
	}
	return setVisible(w.scroll, true) || moved
}

// showQR shows the QR code of v.URL, drawn again only when the URL
// changes (a retry brings a new one); it says whether the layout changed.
func (w *walletPanel) showQR(v WalletView) bool {
	if v.URL != w.url {
		w.url, w.qr = v.URL, nil
		w.qrBox.Objects = nil
		if v.URL != "" {
			if code, err := qr.Encode(v.URL, qr.M); err == nil {
				w.qr = qrRaster(code)
				w.qrBox.Objects = []fyne.CanvasObject{w.qr}
			}
		}
		w.qrBox.Refresh()
	}
	w.scanOK = v.Step == WalletScan && w.qr != nil
	return setVisible(w.qrBox, w.scanOK)
}

// tick moves the countdown on to now.
func (w *walletPanel) tick(now time.Time) {
	if !w.counting {
		return
	}
	left := w.expires.Sub(now)
	imp := widget.MediumImportance
	if left < time.Minute {
		imp = widget.WarningImportance
	}
	if w.countdown.Importance != imp {
		w.countdown.Importance = imp
		w.countdown.Refresh()
	}
	setText(w.countdown, countdownText(left))
}

// countdownText says how long is left, "4:59 left", in whole seconds
// rounded up: it reads 0:01 until the last second is over.
func countdownText(left time.Duration) string {
	if left <= 0 {
		return lang.L("Time is up")
	}
	secs := int64((left + time.Second - 1) / time.Second)
	return lang.L("{{.Left}} left", map[string]any{"Left": fmt.Sprintf("%d:%02d", secs/60, secs%60)})
}

// qrRaster draws code at qrSide, crisp at any scale: see qrImage.
func qrRaster(code *qr.Code) *canvas.Raster {
	var last *image.Gray
	r := canvas.NewRaster(func(w, h int) image.Image {
		if last == nil || last.Rect.Dx() != w || last.Rect.Dy() != h {
			last = qrImage(code, w, h)
		}
		return last
	})
	r.ScaleMode = canvas.ImageScalePixels
	r.SetMinSize(fyne.NewSize(qrSide, qrSide))
	return r
}

// qrImage draws code in a w×h white image, with its quiet zone, each
// module the same whole number of pixels and no smoothing: the largest
// such code that fits, centred.
func qrImage(code *qr.Code, w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0xFF
	}
	n := code.Size + 2*qrQuiet
	m := max(min(w, h)/n, 1)
	x0, y0 := (w-m*n)/2+qrQuiet*m, (h-m*n)/2+qrQuiet*m
	black := color.Gray{}
	for y := range code.Size {
		for x := range code.Size {
			if !code.Black(x, y) {
				continue
			}
			for py := y0 + y*m; py < y0+(y+1)*m; py++ {
				for px := x0 + x*m; px < x0+(x+1)*m; px++ {
					img.SetGray(px, py, black)
				}
			}
		}
	}
	return img
}

// walletTender is a wallet's button among the tenders, with a caption
// saying why it cannot take the sale when it cannot.
type walletTender struct {
	kind string
	btn  *widget.Button
	why  *widget.Label
	box  *fyne.Container
}

// showWallets shows a button per wallet tender the sale offers. The
// buttons are made again only when the wallets themselves change; F7
// takes the first one enabled, and its label says so.
func (s *CashierScreen) showWallets() bool {
	ws := s.sale.Wallets
	moved := false
	same := len(ws) == len(s.walletTenders)
	for i := 0; same && i < len(ws); i++ {
		same = ws[i].Kind == s.walletTenders[i].kind
	}
	if !same {
		s.walletTenders = s.walletTenders[:0]
		objs := make([]fyne.CanvasObject, 0, len(ws))
		for _, o := range ws {
			kind := o.Kind
			t := &walletTender{kind: kind}
			t.btn = bigButton(o.Label, nil, widget.HighImportance, func() { s.chargeWallet(kind) })
			t.why = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{})
			t.why.SizeName = theme.SizeNameCaptionText
			t.why.Importance = widget.WarningImportance
			t.why.Wrapping = fyne.TextWrapWord
			t.why.Hide()
			t.box = container.NewVBox(tall(56, t.btn), t.why)
			s.walletTenders = append(s.walletTenders, t)
			objs = append(objs, t.box)
		}
		s.walletRow.Layout = layout.NewGridLayoutWithColumns(max(len(ws), 1))
		s.walletRow.Objects = objs
		moved = true
	}
	first := true
	for i, o := range ws {
		t := s.walletTenders[i]
		label := o.Label
		if o.Enabled && first {
			label += " (F7)"
			first = false
		}
		if t.btn.Text != label {
			t.btn.SetText(label)
		}
		setEnabled(t.btn, o.Enabled)
		why := ""
		if !o.Enabled {
			why = o.Why
		}
		moved = setText(t.why, why) || moved
		moved = setVisible(t.why, why != "") || moved
	}
	moved = setVisible(s.walletRow, len(ws) > 0) || moved
	if moved {
		s.walletRow.Refresh()
	}
	return moved
}

// chargeWallet starts a payment with the wallet kind, if the sale takes it.
func (s *CashierScreen) chargeWallet(kind string) {
	for _, o := range s.sale.Wallets {
		if o.Kind == kind && o.Enabled {
			s.hideNotice()
			reg := s.p.Register
			s.act(func() error { return reg.ChargeWallet(kind) })
			return
		}
	}
}

// chargeFirstWallet is F7: the first wallet that takes the sale.
func (s *CashierScreen) chargeFirstWallet() {
	for _, o := range s.sale.Wallets {
		if o.Enabled {
			s.chargeWallet(o.Kind)
			return
		}
	}
}

func (s *CashierScreen) retryWallet() {
	if s.sale.CanRetryWallet {
		s.act(s.p.Register.RetryWallet)
	}
}

func (s *CashierScreen) cancelWallet() {
	if s.sale.CanCancelWallet {
		s.act(s.p.Register.CancelWallet)
	}
}

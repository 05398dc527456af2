package main

import (
	"context"
	"fmt"
	"image"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"golang.org/x/text/language"
	"rsc.io/qr"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/reader/sim"
	"github.com/tillpos/till/reader/wire"
)

// amountDecides is the card list's entry for the empty test card.
const amountDecides = "(amount decides)"

// readerWindow is the simulated reader's face: it renders Snapshots and
// turns button presses into the device's controls. It keeps no state of
// its own beyond the last Snapshot; all its methods run on Fyne's thread.
type readerWindow struct {
	dev  *sim.Device
	addr string
	now  func() time.Time

	last sim.Snapshot

	status  *widget.Label
	screen  *fyne.Container
	prompt  *widget.Label
	problem *widget.Label
	cards   *widget.Select

	tap, insert, swipe, decline, cancel, plug *widget.Button

	qrPayload string        // the payload qrImage shows
	qrImage   *canvas.Image // cached: encoding is not free
	countdown *widget.Label // on the QR screen
}

func newReaderWindow(dev *sim.Device, addr string, now func() time.Time) *readerWindow {
	w := &readerWindow{dev: dev, addr: addr, now: now}
	w.status = widget.NewLabel("")
	w.status.Alignment = fyne.TextAlignCenter
	w.screen = container.NewStack()
	w.prompt = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	w.prompt.Wrapping = fyne.TextWrapWord
	w.problem = widget.NewLabel("")
	w.problem.Wrapping = fyne.TextWrapWord
	w.problem.Importance = widget.DangerImportance
	w.countdown = widget.NewLabel("")
	w.countdown.Alignment = fyne.TextAlignCenter

	w.cards = widget.NewSelect(append([]string{amountDecides}, sim.TestCards()...), nil)
	w.cards.SetSelected("visa")
	w.tap = widget.NewButtonWithIcon("Tap card", theme.RadioButtonCheckedIcon(), func() { w.act(w.dev.Tap(w.card())) })
	w.insert = widget.NewButtonWithIcon("Insert card (PIN)", theme.LoginIcon(), func() { w.act(w.dev.Insert(w.card(), true)) })
	w.swipe = widget.NewButtonWithIcon("Swipe", theme.MailForwardIcon(), func() { w.act(w.dev.Swipe(w.card())) })
	w.decline = widget.NewButtonWithIcon("Decline card", theme.CancelIcon(), func() { w.act(w.dev.Tap(sim.DeclineCard)) })
	w.cancel = widget.NewButtonWithIcon("Customer cancel", theme.ContentClearIcon(), func() { w.act(w.dev.CustomerCancel()) })
	w.plug = widget.NewButtonWithIcon("Unplug", theme.MediaStopIcon(), func() {
		if w.last.Unplugged {
			w.dev.Replug()
		} else {
			w.dev.Unplug()
		}
		w.act(nil)
	})
	return w
}

// card is the selected test card's name.
func (w *readerWindow) card() string {
	if c := w.cards.Selected; c != amountDecides {
		return c
	}
	return ""
}

// act shows what a control said; the change itself arrives by OnChange.
func (w *readerWindow) act(err error) {
	if err != nil {
		w.problem.SetText(err.Error())
		return
	}
	w.problem.SetText("")
}

// content is the window's whole content.
func (w *readerWindow) content() fyne.CanvasObject {
	screenBox := container.NewStack(canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground)), container.NewPadded(w.screen))
	controls := container.NewVBox(
		widget.NewForm(widget.NewFormItem("Card", w.cards)),
		container.NewGridWithColumns(2, w.tap, w.insert, w.swipe, w.decline, w.cancel, w.plug),
		w.problem,
	)
	top := container.NewVBox(w.status, widget.NewSeparator())
	bottom := container.NewVBox(widget.NewSeparator(), w.prompt, widget.NewSeparator(), controls)
	return container.NewBorder(top, bottom, nil, nil, screenBox)
}

// onChange is the device's OnChange: it hands the Snapshot to Fyne's thread.
func (w *readerWindow) onChange(s sim.Snapshot) {
	fyne.Do(func() { w.render(s) })
}

// run refreshes the QR countdown every second until ctx ends.
func (w *readerWindow) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fyne.Do(w.tick)
		}
	}
}

func (w *readerWindow) tick() {
	d := w.last.Display
	if d.Screen != wire.ScreenQR || d.QR == nil || d.QR.ExpiresIn == 0 {
		w.countdown.SetText("")
		return
	}
	left := time.Duration(d.QR.ExpiresIn)*time.Second - w.now().Sub(w.last.DisplayAt)
	if left <= 0 {
		w.countdown.SetText("Expired")
		return
	}
	left = left.Round(time.Second)
	w.countdown.SetText(fmt.Sprintf("Expires in %d:%02d", int(left.Minutes()), int(left.Seconds())%60))
}

// render shows s.
func (w *readerWindow) render(s sim.Snapshot) {
	w.last = s
	switch {
	case s.Unplugged:
		w.status.SetText("Unplugged")
	case s.Connected && s.Host != "":
		w.status.SetText("Connected to " + s.Host)
	case s.Connected:
		w.status.SetText("Connected, waiting for Identify")
	default:
		w.status.SetText("Waiting for Till on " + w.addr)
	}
	w.screen.Objects = []fyne.CanvasObject{w.screenFor(s)}
	w.screen.Refresh()
	w.tick()

	prompt := s.Prompt
	if s.Phase == sim.PhaseWaiting && s.Collecting != nil {
		prompt += " — " + formatAmount(s.Collecting.Amount, s.Collecting.Currency, s.Display.Language)
	}
	w.prompt.SetText(prompt)

	waiting := s.Phase == sim.PhaseWaiting
	for _, b := range []*widget.Button{w.tap, w.insert, w.swipe, w.decline} {
		enable(b, waiting)
	}
	enable(w.cancel, (waiting || s.Phase == sim.PhasePIN) && s.Collecting != nil && s.Collecting.CustomerCancel)
	if s.Unplugged {
		w.plug.SetText("Replug")
		w.plug.SetIcon(theme.MediaPlayIcon())
	} else {
		w.plug.SetText("Unplug")
		w.plug.SetIcon(theme.MediaStopIcon())
	}
}

func enable(b *widget.Button, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

func (w *readerWindow) screenFor(s sim.Snapshot) fyne.CanvasObject {
	d := s.Display
	switch d.Screen {
	case wire.ScreenCart:
		if d.Cart != nil {
			return cartView(d.Cart, d.Language)
		}
	case wire.ScreenThankYou:
		title := widget.NewLabelWithStyle("Thank you", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
		msg := widget.NewLabelWithStyle(d.Message, fyne.TextAlignCenter, fyne.TextStyle{})
		msg.Wrapping = fyne.TextWrapWord
		return container.NewVBox(layout.NewSpacer(), title, msg, layout.NewSpacer())
	case wire.ScreenMessage:
		msg := widget.NewLabelWithStyle(d.Message, fyne.TextAlignCenter, fyne.TextStyle{})
		msg.Wrapping = fyne.TextWrapWord
		return container.NewVBox(layout.NewSpacer(), msg, layout.NewSpacer())
	case wire.ScreenQR:
		if d.QR != nil {
			return w.qrView(d.QR)
		}
	}
	name := widget.NewLabelWithStyle(s.Model, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	welcome := widget.NewLabelWithStyle("Welcome", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	return container.NewVBox(layout.NewSpacer(), name, welcome, layout.NewSpacer())
}

func cartView(c *wire.Cart, lang string) fyne.CanvasObject {
	rows := container.NewVBox()
	for _, l := range c.Lines {
		rows.Add(container.NewBorder(nil, nil,
			widget.NewLabel(fmt.Sprintf("%d × %s", l.Quantity, l.Name)),
			widget.NewLabel(formatAmount(l.Amount, c.Currency, lang))))
	}
	total := func(label string, amount int64, bold bool) fyne.CanvasObject {
		style := fyne.TextStyle{Bold: bold}
		return container.NewBorder(nil, nil,
			widget.NewLabelWithStyle(label, fyne.TextAlignLeading, style),
			widget.NewLabelWithStyle(formatAmount(amount, c.Currency, lang), fyne.TextAlignTrailing, style))
	}
	totals := container.NewVBox(widget.NewSeparator(),
		total("Subtotal", c.Subtotal, false), total("Tax", c.Tax, false), total("Total", c.Total, true))
	return container.NewBorder(nil, totals, nil, nil, container.NewVScroll(rows))
}

func (w *readerWindow) qrView(q *wire.QR) fyne.CanvasObject {
	if w.qrImage == nil || w.qrPayload != q.Payload {
		w.qrPayload, w.qrImage = q.Payload, qrImage(q.Payload)
	}
	caption := widget.NewLabelWithStyle(q.Caption, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	return container.NewBorder(nil, container.NewVBox(caption, w.countdown), nil, nil, w.qrImage)
}

// qrImage draws payload as a QR code.
func qrImage(payload string) *canvas.Image {
	c := canvas.NewImageFromImage(qrBitmap(payload))
	c.FillMode = canvas.ImageFillContain
	c.ScaleMode = canvas.ImageScalePixels
	c.SetMinSize(fyne.NewSize(200, 200))
	return c
}

// qrBitmap is payload's QR code, one pixel per module, with the standard
// quiet zone of four modules. (The qr package's own Image ignores its
// Scale and quiet zone; its PNG does not, but would cost a decode.)
func qrBitmap(payload string) image.Image {
	code, err := qr.Encode(payload, qr.M)
	if err != nil { // over a version-40 code's capacity: SetDisplay limits prevent it
		return image.NewGray(image.Rect(0, 0, 1, 1))
	}
	const quiet = 4
	n := code.Size + 2*quiet
	img := image.NewGray(image.Rect(0, 0, n, n))
	for y := range n {
		for x := range n {
			if !code.Black(x-quiet, y-quiet) {
				img.Pix[y*img.Stride+x] = 0xFF
			}
		}
	}
	return img
}

// formatAmount renders an amount in the payment API's minor units of a
// currency code for people reading lang (BCP 47; English when empty or
// unknown).
func formatAmount(amount int64, currency, lang string) string {
	cur, err := money.ParseCurrency(currency)
	if err != nil {
		return fmt.Sprintf("%d %s", amount, currency)
	}
	m, err := money.FromStripeAmount(amount, cur)
	if err != nil {
		return fmt.Sprintf("%d %s", amount, currency)
	}
	tag := language.English
	if lang != "" {
		if t, err := language.Parse(lang); err == nil {
			tag = t
		}
	}
	return m.Format(tag)
}

package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"golang.org/x/text/language"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/sim"
	"github.com/tillpos/till/reader/simcard"
	"github.com/tillpos/till/reader/wire"
	"github.com/tillpos/till/ui/uitest"
)

func chf(amount int64) string { return money.New(amount, money.CHF).Format(language.English) }

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func TestRender(t *testing.T) {
	collect := &wire.Collect{PaymentIntent: "pi_1", Amount: 1250, Currency: "chf", CustomerCancel: true}
	tests := []struct {
		name        string
		snap        sim.Snapshot
		want        []string // shown
		absent      []string
		cardButtons bool
		cancel      bool
	}{
		{name: "waiting for till", snap: sim.Snapshot{Model: "Till Sim R1"},
			want: []string{"Waiting for Till on 127.0.0.1:7070", "Till Sim R1", "Welcome", "Unplug"}},
		{name: "unplugged", snap: sim.Snapshot{Model: "Till Sim R1", Unplugged: true},
			want: []string{"Unplugged", "Replug"}, absent: []string{"Unplug"}},
		{name: "cart while collecting", snap: sim.Snapshot{Connected: true, Host: "Till 1.0 lane_1",
			Display: wire.Display{Screen: wire.ScreenCart, Cart: &wire.Cart{Currency: "chf", Subtotal: 1150, Tax: 100, Total: 1250,
				Lines: []wire.Line{{Name: "Espresso", Quantity: 2, Amount: 900}, {Name: "Croissant", Quantity: 1, Amount: 250}}}},
			Collecting: collect, Phase: sim.PhaseWaiting, Prompt: sim.PromptPresentCard},
			want: []string{"Connected to Till 1.0 lane_1", "2 × Espresso", chf(900), "1 × Croissant", chf(250),
				"Subtotal", chf(1150), "Tax", chf(100), "Total", chf(1250), "Present card — " + chf(1250)},
			cardButtons: true, cancel: true},
		{name: "entering PIN", snap: sim.Snapshot{Connected: true, Collecting: collect, Phase: sim.PhasePIN, Prompt: sim.PromptEnterPIN},
			want: []string{"Enter PIN"}, cancel: true},
		{name: "processing", snap: sim.Snapshot{Connected: true, Collecting: collect, Phase: sim.PhaseProcessing, Prompt: sim.PromptProcessing},
			want: []string{"Processing…"}},
		{name: "thank you", snap: sim.Snapshot{Connected: true, Display: wire.Display{Screen: wire.ScreenThankYou, Message: "Merci!"}},
			want: []string{"Thank you", "Merci!"}},
		{name: "message", snap: sim.Snapshot{Connected: true, Display: wire.Display{Screen: wire.ScreenMessage, Message: "Lane closed"}},
			want: []string{"Lane closed"}},
		{name: "qr", snap: sim.Snapshot{Connected: true, DisplayAt: t0.Add(-75 * time.Second),
			Display: wire.Display{Screen: wire.ScreenQR, QR: &wire.QR{Payload: "https://pay.example/twint/123", Caption: "Scan with TWINT", ExpiresIn: 300}}},
			want: []string{"Scan with TWINT", "Expires in 3:45"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			test.NewTempApp(t)
			w := newReaderWindow(sim.New(sim.Options{}), "127.0.0.1:7070", func() time.Time { return t0 })
			content := w.content()
			w.render(tt.snap)
			shown := uitest.ShownTexts(content)
			for _, s := range tt.want {
				if !slices.Contains(shown, s) {
					t.Errorf("%q not shown in %q", s, shown)
				}
			}
			for _, s := range tt.absent {
				if slices.Contains(shown, s) {
					t.Errorf("%q shown", s)
				}
			}
			for _, b := range []*widget.Button{w.tap, w.insert, w.swipe, w.decline} {
				if b.Disabled() == tt.cardButtons {
					t.Errorf("%q enabled = %v, want %v", b.Text, !b.Disabled(), tt.cardButtons)
				}
			}
			if w.cancel.Disabled() == tt.cancel {
				t.Errorf("customer cancel enabled = %v, want %v", !w.cancel.Disabled(), tt.cancel)
			}
			if tt.snap.Display.Screen == wire.ScreenQR && (w.qrImage == nil || w.qrImage.Image.Bounds().Dx() < 21) {
				t.Error("no QR code drawn")
			}
		})
	}
}

// TestButtonsDriveTheDevice: the window's buttons, pressed while the till
// (a reader.Client) collects, produce its outcomes.
func TestButtonsDriveTheDevice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		test.NewTempApp(t)
		changes := make(chan sim.Snapshot, 1024)
		dev := sim.New(sim.Options{OnChange: func(s sim.Snapshot) { changes <- s }})
		w := newReaderWindow(dev, "pipe", time.Now)
		content := w.content()
		c := reader.New(reader.Options{Dialer: dev.Dialer(), Host: "Till test"})
		defer func() { _ = c.Close() }()
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		// render drains the device's changes on this goroutine, as fyne.Do
		// would on Fyne's.
		render := func() {
			synctest.Wait()
			for {
				select {
				case s := <-changes:
					w.render(s)
				default:
					return
				}
			}
		}
		type outcome struct {
			col reader.Collected
			err error
		}
		collect := func() <-chan outcome {
			ch := make(chan outcome, 1)
			go func() {
				col, err := c.Collect(context.Background(), reader.CollectRequest{PaymentIntent: "pi_win", Amount: 1250, Currency: "CHF", CustomerCancel: true})
				ch <- outcome{col, err}
			}()
			return ch
		}

		done := collect()
		render()
		if got := w.prompt.Text; got != "Present card — "+chf(1250) {
			t.Fatalf("prompt %q", got)
		}
		if !slices.Contains(uitest.ShownTexts(content), "Connected to Till test") {
			t.Errorf("status not shown: %q", uitest.ShownTexts(content))
		}
		w.cards.SetSelected("mastercard")
		test.Tap(w.tap)
		out := <-done
		if out.err != nil {
			t.Fatal(out.err)
		}
		if card, err := simcard.Open("pi_win", out.col.Payload); err != nil || card.TestCard != "mastercard" || card.ReadMethod != "contactless_emv" {
			t.Fatalf("tapped card %+v, %v", card, err)
		}
		render()
		if got := w.prompt.Text; got != sim.PromptProcessing || !w.tap.Disabled() {
			t.Fatalf("after the tap: prompt %q, tap enabled %v", got, !w.tap.Disabled())
		}

		done = collect()
		render()
		test.Tap(w.decline)
		if out := <-done; out.err != nil || out.col.Last4 != "0002" {
			t.Fatalf("decline card: %v, %v", out.col, out.err)
		}

		done = collect()
		render()
		test.Tap(w.cancel)
		if out := <-done; !errors.Is(out.err, reader.ErrCustomerCancelled) {
			t.Fatalf("customer cancel: %v", out.err)
		}
		render()
		if w.problem.Text != "" {
			t.Errorf("problem shown: %q", w.problem.Text)
		}
		if !w.tap.Disabled() || !w.cancel.Disabled() {
			t.Errorf("with nothing to collect, tap enabled %v, cancel enabled %v", !w.tap.Disabled(), !w.cancel.Disabled())
		}
		if got := w.prompt.Text; got != sim.PromptCancelled {
			t.Errorf("prompt %q", got)
		}

		test.Tap(w.plug)
		render()
		if w.status.Text != "Unplugged" || w.plug.Text != "Replug" {
			t.Fatalf("after unplug: %q, %q", w.status.Text, w.plug.Text)
		}
		test.Tap(w.plug)
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		render()
		if w.status.Text != "Connected to Till test" {
			t.Errorf("after replug: %q", w.status.Text)
		}
	})
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:7070", true}, {"127.0.0.2:7070", true}, {"[::1]:7070", true}, {"localhost:7070", true},
		{"0.0.0.0:7070", false}, {":7070", false}, {"192.168.1.10:7070", false}, {"example.com:7070", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		err := checkLoopback(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q) = %v", tt.addr, err)
		}
		if !tt.ok && strings.Contains(tt.addr, ":7070") && tt.addr != ":7070" && !errors.Is(err, errNotLoopback) {
			t.Errorf("checkLoopback(%q) = %v, want errNotLoopback", tt.addr, err)
		}
	}
}

func TestRunRefusesNonLoopback(t *testing.T) {
	var stderr strings.Builder
	if code := run([]string{"-listen", "0.0.0.0:7070"}, &stderr); code != 2 || !strings.Contains(stderr.String(), "non-loopback") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

package sim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/simcard"
	"github.com/tillpos/till/reader/wire"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func TestIdentify(t *testing.T) {
	tests := []struct {
		name     string
		version  uint8 // frame version byte
		payload  any
		wantCode wire.ErrorCode // 0: Info expected
	}{
		{"v1", 1, wire.Identify{Versions: []uint8{1}, Host: "Till"}, 0},
		{"v1 among others", 1, wire.Identify{Versions: []uint8{3, 2, 1}}, 0},
		{"only v2", 1, wire.Identify{Versions: []uint8{2}}, wire.CodeUnsupportedVersion},
		{"no versions", 1, wire.Identify{}, wire.CodeUnsupportedVersion},
		{"frame version 2", 2, wire.Identify{Versions: []uint8{1}}, wire.CodeUnsupportedVersion},
		{"not CBOR", 1, []byte{0xff, 0x00}, wire.CodeBadPayload},
		{"wrong shape", 1, []byte{0xa1, 0x01, 0x63, 'a', 'b', 'c'}, wire.CodeBadPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d, h := start(t, Options{Serial: "SIM-42"})
				f := h.reply(h.sendFrame(tt.version, wire.TypeIdentify, tt.payload))
				if f.Version != wire.Version1 {
					t.Errorf("answer sent with version %d", f.Version)
				}
				if tt.wantCode == 0 {
					info := decodeAs[wire.Info](t, f)
					if f.Type != wire.TypeIdentify.Response() || info.Version != 1 || info.Model != DefaultModel ||
						info.Serial != "SIM-42" || info.Firmware != DefaultFirmware || info.Capabilities != DefaultCapabilities {
						t.Fatalf("got %s %+v", f.Type, info)
					}
					waitFor(t, d, "identified", func(s Snapshot) bool { return s.Connected })
					return
				}
				if f.Type != wire.TypeNak {
					t.Fatalf("got %s, want Nak %s", f.Type, tt.wantCode)
				}
				n := decodeAs[wire.Nak](t, f)
				if n.Code != tt.wantCode {
					t.Fatalf("Nak %s (%s), want %s", n.Code, n.Message, tt.wantCode)
				}
				if n.Code == wire.CodeUnsupportedVersion && !bytes.Equal(n.Versions, []uint8{1}) {
					t.Errorf("Nak lists versions %v, want [1]", n.Versions)
				}
				// Still not identified.
				if n := h.refused(wire.TypeHeartbeat, nil); n.Code != wire.CodeNotIdentified {
					t.Errorf("Heartbeat after a failed Identify: %s", n.Code)
				}
			})
		})
	}
}

func TestRequestsBeforeIdentify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, h := start(t, Options{})
		for _, typ := range []wire.Type{wire.TypeSetDisplay, wire.TypeClearDisplay, wire.TypeCollect,
			wire.TypeCancelCollect, wire.TypeHeartbeat, wire.TypeEventAck} {
			if n := h.refused(typ, nil); n.Code != wire.CodeNotIdentified {
				t.Errorf("%s before Identify: %s, want not_identified", typ, n.Code)
			}
		}
		if n := h.refused(wire.Type(0x3E), nil); n.Code != wire.CodeUnknownMessage {
			t.Errorf("unknown type: %s", n.Code)
		}
		h.identify()
		h.ok(wire.TypeHeartbeat, nil)
	})
}

func cart(lines int) *wire.Cart {
	c := &wire.Cart{Currency: "chf", Subtotal: 1150, Tax: 100, Total: 1250}
	for i := range lines {
		c.Lines = append(c.Lines, wire.Line{Name: "Espresso", Quantity: int32(i + 1), Amount: 450})
	}
	return c
}

func TestRequests(t *testing.T) {
	okCollect := wire.Collect{PaymentIntent: "pi_1", Amount: 1250, Currency: "chf", TimeoutMS: 60000}
	tests := []struct {
		name     string
		typ      wire.Type
		msg      any
		wantCode wire.ErrorCode // 0: the request's reply
		check    func(*testing.T, Snapshot)
	}{
		{"cart", wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenCart, Cart: cart(3)}, 0, func(t *testing.T, s Snapshot) {
			if s.Display.Screen != wire.ScreenCart || s.Display.Cart.Total != 1250 || len(s.Display.Cart.Lines) != 3 || !s.DisplayAt.Equal(t0) {
				t.Errorf("display %+v at %v", s.Display, s.DisplayAt)
			}
		}},
		{"cart of 200 lines", wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenCart, Cart: cart(200)}, 0, nil},
		{"cart of 201 lines", wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenCart, Cart: cart(201)}, wire.CodeTooLarge, nil},
		{"cart without currency", wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenCart, Cart: &wire.Cart{Currency: "ch"}}, wire.CodeBadPayload, nil},
		{"cart currency not letters", wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenCart, Cart: &wire.Cart{Currency: "ch1"}}, wire.CodeBadPayload, nil},
		{"cart screen without cart", wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenCart}, wire.CodeBadPayload, nil},
		{"thank you", wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenThankYou, Message: "Merci"}, 0, func(t *testing.T, s Snapshot) {
			if s.Display.Screen != wire.ScreenThankYou || s.Display.Message != "Merci" {
				t.Errorf("display %+v", s.Display)
			}
		}},
		{"message", wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenMessage, Message: "Lane closed"}, 0, nil},
		{"empty message", wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenMessage}, wire.CodeBadPayload, nil},
		{"long message", wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenMessage, Message: strings.Repeat("x", MaxMessageLen+1)}, wire.CodeTooLarge, nil},
		{"qr", wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenQR, QR: &wire.QR{Payload: strings.Repeat("q", MaxQRPayload), Caption: "TWINT", ExpiresIn: 300}}, 0, func(t *testing.T, s Snapshot) {
			if s.Display.QR == nil || s.Display.QR.ExpiresIn != 300 {
				t.Errorf("display %+v", s.Display)
			}
		}},
		{"qr too large", wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenQR, QR: &wire.QR{Payload: strings.Repeat("q", MaxQRPayload+1)}}, wire.CodeTooLarge, nil},
		{"qr empty", wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenQR, QR: &wire.QR{}}, wire.CodeBadPayload, nil},
		{"unknown screen", wire.TypeSetDisplay, wire.Display{Screen: 9}, wire.CodeBadPayload, nil},
		{"display not CBOR", wire.TypeSetDisplay, []byte{0x1c}, wire.CodeBadPayload, nil},
		{"clear", wire.TypeClearDisplay, nil, 0, func(t *testing.T, s Snapshot) {
			if s.Display.Screen != wire.ScreenIdle {
				t.Errorf("display %+v", s.Display)
			}
		}},
		{"heartbeat", wire.TypeHeartbeat, nil, 0, nil},
		{"ack of nothing", wire.TypeEventAck, wire.EventAck{Seq: 77}, 0, nil},
		{"unknown request", wire.Type(0x20), nil, wire.CodeUnknownMessage, nil},
		{"collect", wire.TypeCollect, okCollect, 0, func(t *testing.T, s Snapshot) {
			if s.Phase != PhaseWaiting || s.Prompt != PromptPresentCard || s.Collecting == nil || *s.Collecting != okCollect {
				t.Errorf("snapshot %+v", s)
			}
		}},
		{"collect without PI", wire.TypeCollect, wire.Collect{Amount: 1, Currency: "chf"}, wire.CodeBadPayload, nil},
		{"collect of zero", wire.TypeCollect, wire.Collect{PaymentIntent: "pi_1", Currency: "chf"}, wire.CodeBadPayload, nil},
		{"collect of less than zero", wire.TypeCollect, wire.Collect{PaymentIntent: "pi_1", Amount: -5, Currency: "chf"}, wire.CodeBadPayload, nil},
		{"collect without currency", wire.TypeCollect, wire.Collect{PaymentIntent: "pi_1", Amount: 5}, wire.CodeBadPayload, nil},
		{"cancel nothing", wire.TypeCancelCollect, wire.CancelCollect{PaymentIntent: "pi_1"}, wire.CodeNoCollection, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d, h := start(t, Options{Now: func() time.Time { return t0 }})
				h.identify()
				h.ok(wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenMessage, Message: "before"})
				f := h.call(tt.typ, tt.msg)
				if tt.wantCode != 0 {
					if f.Type != wire.TypeNak {
						t.Fatalf("got %s, want Nak %s", f.Type, tt.wantCode)
					}
					if n := decodeAs[wire.Nak](t, f); n.Code != tt.wantCode || n.Message == "" {
						t.Fatalf("Nak %s %q, want %s with a message", n.Code, n.Message, tt.wantCode)
					}
					if s := d.Snapshot(); s.Display.Message != "before" || s.Phase != PhaseIdle {
						t.Errorf("a refused request changed the device: %+v", s)
					}
					return
				}
				if f.Type != tt.typ.Response() || len(f.Payload) != 0 {
					t.Fatalf("got %s (%s) with %d payload bytes, want an empty %s", f.Type, nakOf(f), len(f.Payload), tt.typ.Response())
				}
				if tt.check != nil {
					tt.check(t, d.Snapshot())
				}
			})
		})
	}
}

type step struct {
	typ wire.Type
	msg any // the event's expected payload; nil: not checked
}

func TestCollectControls(t *testing.T) {
	const pi = "pi_3Ctl"
	tests := []struct {
		name      string
		opts      Options
		collect   wire.Collect
		control   func(*Device) error // nil: none (auto or timeout)
		want      []step
		wantPhase Phase
		wantCard  simcard.Card // checked when the last step is Collected
	}{
		{
			name: "tap", control: func(d *Device) error { return d.Tap("mastercard") },
			want: []step{{wire.TypeWaitingForCard, wire.WaitingForCard{PaymentIntent: pi}},
				{wire.TypeCardPresented, wire.CardPresented{PaymentIntent: pi, Method: wire.ReadContactless}},
				{wire.TypeCollected, nil}},
			wantPhase: PhaseProcessing,
			wantCard:  simcard.Card{TestCard: "mastercard", Brand: "mastercard", Last4: "4444", ReadMethod: "contactless_emv"},
		},
		{
			name: "tap amount decides", control: func(d *Device) error { return d.Tap("") },
			want:      []step{{wire.TypeWaitingForCard, nil}, {wire.TypeCardPresented, nil}, {wire.TypeCollected, nil}},
			wantPhase: PhaseProcessing,
			wantCard:  simcard.Card{Brand: "visa", Last4: "4242", ReadMethod: "contactless_emv"},
		},
		{
			name: "insert without PIN", control: func(d *Device) error { return d.Insert("amex", false) },
			want: []step{{wire.TypeWaitingForCard, nil},
				{wire.TypeCardPresented, wire.CardPresented{PaymentIntent: pi, Method: wire.ReadChip}},
				{wire.TypeCollected, nil}},
			wantPhase: PhaseProcessing,
			wantCard:  simcard.Card{TestCard: "amex", Brand: "amex", Last4: "8431", ReadMethod: "contact_emv"},
		},
		{
			name: "insert with PIN", control: func(d *Device) error { return d.Insert("charge_declined_insufficient_funds", true) },
			want: []step{{wire.TypeWaitingForCard, nil},
				{wire.TypeCardPresented, wire.CardPresented{PaymentIntent: pi, Method: wire.ReadChip}},
				{wire.TypePINEntry, wire.PINEntry{PaymentIntent: pi, Digits: 1}},
				{wire.TypePINEntry, wire.PINEntry{PaymentIntent: pi, Digits: 2}},
				{wire.TypePINEntry, wire.PINEntry{PaymentIntent: pi, Digits: 3}},
				{wire.TypePINEntry, wire.PINEntry{PaymentIntent: pi, Digits: 4}},
				{wire.TypePINEntry, wire.PINEntry{PaymentIntent: pi, Digits: 4, Done: true}},
				{wire.TypeCollected, nil}},
			wantPhase: PhaseProcessing,
			wantCard:  simcard.Card{TestCard: "charge_declined_insufficient_funds", Brand: "visa", Last4: "9995", ReadMethod: "contact_emv"},
		},
		{
			name: "swipe", control: func(d *Device) error { return d.Swipe("interac") },
			want: []step{{wire.TypeWaitingForCard, nil},
				{wire.TypeCardPresented, wire.CardPresented{PaymentIntent: pi, Method: wire.ReadSwipe}},
				{wire.TypeCollected, nil}},
			wantPhase: PhaseProcessing,
			wantCard:  simcard.Card{TestCard: "interac", Brand: "interac", Last4: "0000", ReadMethod: "magnetic_stripe_track2"},
		},
		{
			name: "auto", opts: Options{Auto: &Auto{After: 2 * time.Second, Card: "charge_declined"}},
			want:      []step{{wire.TypeWaitingForCard, nil}, {wire.TypeCardPresented, wire.CardPresented{PaymentIntent: pi, Method: wire.ReadContactless}}, {wire.TypeCollected, nil}},
			wantPhase: PhaseProcessing,
			wantCard:  simcard.Card{TestCard: "charge_declined", Brand: "visa", Last4: "0002", ReadMethod: "contactless_emv"},
		},
		{
			name: "auto chip", opts: Options{Auto: &Auto{Card: "jcb", Method: wire.ReadChip}},
			want:      []step{{wire.TypeWaitingForCard, nil}, {wire.TypeCardPresented, wire.CardPresented{PaymentIntent: pi, Method: wire.ReadChip}}, {wire.TypeCollected, nil}},
			wantPhase: PhaseProcessing,
			wantCard:  simcard.Card{TestCard: "jcb", Brand: "jcb", Last4: "0505", ReadMethod: "contact_emv"},
		},
		{
			name:    "customer cancel",
			collect: wire.Collect{CustomerCancel: true}, control: (*Device).CustomerCancel,
			want: []step{{wire.TypeWaitingForCard, nil}, {wire.TypeCustomerCancelled, wire.CustomerCancelled{PaymentIntent: pi}}},
		},
		{
			name: "card read failed", control: (*Device).FailRead,
			want: []step{{wire.TypeWaitingForCard, nil}, {wire.TypeError, wire.ErrorEvent{PaymentIntent: pi, Code: wire.CodeCardReadFailed, Message: "the card could not be read"}}},
		},
		{
			name: "timeout", collect: wire.Collect{TimeoutMS: 1500},
			want: []step{{wire.TypeWaitingForCard, nil}, {wire.TypeError, wire.ErrorEvent{PaymentIntent: pi, Code: wire.CodeCollectTimeout, Message: "no card presented in time"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt.opts.Now = time.Now // the bubble's clock
				d, h := start(t, tt.opts)
				h.identify()
				c := tt.collect
				c.PaymentIntent, c.Amount, c.Currency = pi, 1250, "chf"
				if c.TimeoutMS == 0 {
					c.TimeoutMS = 60000
				}
				began := time.Now()
				h.ok(wire.TypeCollect, c)
				if tt.control != nil {
					waitFor(t, d, "waiting", func(s Snapshot) bool { return s.Phase == PhaseWaiting })
					if err := tt.control(d); err != nil {
						t.Fatal(err)
					}
				}
				var last wire.Frame
				for i, st := range tt.want {
					last = h.event()
					if last.Type != st.typ {
						t.Fatalf("event %d is %s, want %s", i, last.Type, st.typ)
					}
					if st.msg != nil {
						want, _ := wire.Marshal(st.msg)
						if !bytes.Equal(last.Payload, want) {
							t.Fatalf("event %d %s payload %x, want %+v", i, last.Type, last.Payload, st.msg)
						}
					}
				}
				ended := time.Now()
				h.quiet(3 * time.Second)
				s := d.Snapshot()
				if s.Phase != tt.wantPhase {
					t.Errorf("phase %s, want %s", s.Phase, tt.wantPhase)
				}
				if tt.name == "timeout" {
					if took := ended.Sub(began); took != 1500*time.Millisecond {
						t.Errorf("timed out after %v, want 1.5s", took)
					}
					if s.Prompt != PromptTimedOut {
						t.Errorf("prompt %q", s.Prompt)
					}
				}
				if last.Type != wire.TypeCollected {
					if s.Collecting != nil || s.LastCollected != nil {
						t.Errorf("snapshot after the end: %+v", s)
					}
					return
				}
				ev := decodeAs[wire.Collected](t, last)
				card, err := simcard.Open(pi, ev.Payload)
				if err != nil {
					t.Fatalf("open payload: %v", err)
				}
				want := tt.wantCard
				want.ExpMonth, want.ExpYear, want.CollectedAt = 12, ended.Year()+3, ended.Unix()
				want.Amount, want.Currency = c.Amount, c.Currency
				if card != want {
					t.Errorf("card %+v, want %+v", card, want)
				}
				if ev.Brand != want.Brand || ev.Last4 != want.Last4 || ev.PaymentIntent != pi || ev.ExpYear != uint16(want.ExpYear) {
					t.Errorf("Collected %+v", ev)
				}
				if _, err := simcard.Open("pi_other", ev.Payload); !errors.Is(err, simcard.ErrInvalid) {
					t.Errorf("payload opened for another PaymentIntent: %v", err)
				}
				if s.Prompt != PromptProcessing || s.LastCollected == nil || s.LastCollected.Last4 != want.Last4 || s.LastCollected.Payload != nil {
					t.Errorf("snapshot %+v", s)
				}
				// The host finishes: the reader leaves "processing".
				h.ok(wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenThankYou})
				if ev.Method == wire.ReadChip {
					if f := h.event(); f.Type != wire.TypeCardRemoved {
						t.Fatalf("after releasing a chip card: %s", f.Type)
					}
				}
				if s := d.Snapshot(); s.Phase != PhaseIdle || s.Prompt != "" || s.Display.Screen != wire.ScreenThankYou {
					t.Errorf("after SetDisplay: %+v", s)
				}
			})
		})
	}
}

func TestControlsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, h := start(t, Options{Capabilities: wire.Capabilities{Contactless: true}})
		h.identify()
		for name, f := range map[string]func() error{
			"tap": func() error { return d.Tap("visa") }, "insert": func() error { return d.Insert("visa", false) },
			"swipe": func() error { return d.Swipe("visa") }, "cancel": d.CustomerCancel, "fail": d.FailRead,
		} {
			if err := f(); err == nil {
				t.Errorf("%s with no collection: no error", name)
			}
		}
		h.ok(wire.TypeCollect, wire.Collect{PaymentIntent: "pi_1", Amount: 100, Currency: "eur", TimeoutMS: 60000})
		if err := d.CustomerCancel(); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("customer cancel not allowed: %v", err)
		}
		if err := d.Insert("visa", true); !errors.Is(err, ErrNotCapable) {
			t.Errorf("insert on a contactless-only reader: %v", err)
		}
		if err := d.Tap("nonsense"); !errors.Is(err, ErrUnknownCard) {
			t.Errorf("unknown card: %v", err)
		}
		if s := d.Snapshot(); s.Phase != PhaseWaiting {
			t.Errorf("a refused control changed the phase: %s", s.Phase)
		}
		if f := h.event(); f.Type != wire.TypeWaitingForCard {
			t.Fatalf("got %s", f.Type)
		}
		h.quiet(time.Second) // nothing from the refused controls
		if err := d.Tap("visa"); err != nil {
			t.Fatal(err)
		}
		if err := d.Tap("visa"); !errors.Is(err, ErrNoCollection) {
			t.Errorf("second tap: %v", err)
		}
	})
}

func TestBusyAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, h := start(t, Options{})
		h.identify()
		req := wire.Collect{PaymentIntent: "pi_A", Amount: 500, Currency: "chf", TimeoutMS: 5000}
		h.ok(wire.TypeCollect, req)
		h.event() // WaitingForCard
		other := req
		other.PaymentIntent = "pi_B"
		if n := h.refused(wire.TypeCollect, other); n.Code != wire.CodeBusy {
			t.Fatalf("second Collect: %s", n.Code)
		}
		if n := h.refused(wire.TypeCancelCollect, wire.CancelCollect{PaymentIntent: "pi_B"}); n.Code != wire.CodeNoCollection {
			t.Fatalf("cancel of another PI: %s", n.Code)
		}
		h.ok(wire.TypeCancelCollect, wire.CancelCollect{PaymentIntent: "pi_A"})
		// No terminal event, not even when the timeout would have fired.
		h.quiet(10 * time.Second)
		if s := d.Snapshot(); s.Phase != PhaseIdle || s.Collecting != nil {
			t.Fatalf("after cancel: %+v", s)
		}
		if n := h.refused(wire.TypeCancelCollect, wire.CancelCollect{PaymentIntent: "pi_A"}); n.Code != wire.CodeNoCollection {
			t.Fatalf("cancel twice: %s", n.Code)
		}

		// A collected card is released by CancelCollect; a new Collect may
		// follow a collected card (a decline, then another card).
		h.ok(wire.TypeCollect, other)
		h.event()
		if err := d.Insert("visa", false); err != nil {
			t.Fatal(err)
		}
		h.event()
		if f := h.event(); f.Type != wire.TypeCollected {
			t.Fatalf("got %s", f.Type)
		}
		h.ok(wire.TypeCollect, other)
		if f := h.event(); f.Type != wire.TypeCardRemoved {
			t.Fatalf("got %s, want CardRemoved for the first card", f.Type)
		}
		if f := h.event(); f.Type != wire.TypeWaitingForCard {
			t.Fatalf("got %s", f.Type)
		}
		if err := d.Tap("visa"); err != nil {
			t.Fatal(err)
		}
		h.event()
		h.event()
		h.ok(wire.TypeCancelCollect, wire.CancelCollect{PaymentIntent: "pi_B"})
		h.quiet(time.Second) // a tapped card is not "removed"
		if s := d.Snapshot(); s.Phase != PhaseIdle || s.Prompt != "" {
			t.Fatalf("after releasing: %+v", s)
		}
	})
}

func TestRetransmitUntilAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, h := start(t, Options{RetransmitEvery: time.Second, RetransmitMax: 3})
		h.identify()
		h.ok(wire.TypeCollect, wire.Collect{PaymentIntent: "pi_1", Amount: 100, Currency: "chf", TimeoutMS: 60000})
		first := h.eventNoAck()
		began := time.Now()
		for i := 1; i <= 3; i++ {
			again := h.eventNoAck()
			if again.Seq != first.Seq || again.Type != first.Type || !bytes.Equal(again.Payload, first.Payload) {
				t.Fatalf("retransmission %d differs: %+v vs %+v", i, again, first)
			}
			if took := time.Since(began); took != time.Duration(i)*time.Second {
				t.Fatalf("retransmission %d after %v", i, took)
			}
		}
		h.quiet(5 * time.Second) // gave up after RetransmitMax

		// An acknowledged event is not sent again; a duplicate ack is fine.
		h.ok(wire.TypeHeartbeat, nil)
		h.ok(wire.TypeCancelCollect, wire.CancelCollect{PaymentIntent: "pi_1"})
		h.ok(wire.TypeCollect, wire.Collect{PaymentIntent: "pi_2", Amount: 100, Currency: "chf", TimeoutMS: 60000})
		ev := h.event()
		if ev.Seq == first.Seq {
			t.Fatalf("new event reused seq %d", ev.Seq)
		}
		h.ack(ev.Seq)
		h.quiet(5 * time.Second)
	})
}

func TestGarbledFrameIsRetransmitted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, h := start(t, Options{})
		h.identify()
		h.ok(wire.TypeCollect, wire.Collect{PaymentIntent: "pi_1", Amount: 100, Currency: "chf", TimeoutMS: 60000})
		h.event()
		d.GarbleNext(1)
		if err := d.Tap("visa"); err != nil {
			t.Fatal(err)
		}
		_, err := h.read(hostWait)
		if g, ok := errors.AsType[*wire.GarbledError](err); !ok || g.Skipped == 0 {
			t.Fatalf("first frame after GarbleNext: %v, want a GarbledError", err)
		}
		collected := h.event()
		if collected.Type != wire.TypeCollected {
			t.Fatalf("got %s", collected.Type)
		}
		again := h.event()
		if again.Type != wire.TypeCardPresented || again.Seq != collected.Seq-1 {
			t.Fatalf("retransmission: %s seq %d", again.Type, again.Seq)
		}
		h.quiet(5 * time.Second)
	})
}

func TestGarbledInputIsSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, h := start(t, Options{})
		h.identify()
		hb, _ := wire.AppendFrame(nil, wire.Frame{Version: 1, Type: wire.TypeHeartbeat, Seq: 500})
		bad := append([]byte(nil), hb...)
		bad[len(bad)-1] ^= 0xff
		h.write(append(append([]byte("noise"), bad...), hb...))
		if f := h.reply(500); f.Type != wire.TypeHeartbeat.Response() {
			t.Fatalf("got %s", f.Type)
		}
		if s := d.Snapshot(); s.GarbledIn == 0 {
			t.Error("garbled bytes not counted")
		}
	})
}

func TestPartialFrameTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, h := start(t, Options{})
		h.identify()
		// A header announcing 100 payload bytes that never come, then a
		// whole Heartbeat: the decoder waits for the rest of the first
		// frame until the partial-frame timeout makes it resync.
		partial := []byte{wire.Magic0, wire.Magic1, 1, byte(wire.TypeHeartbeat), 9, 0, 100, 0}
		hb, _ := wire.AppendFrame(nil, wire.Frame{Version: 1, Type: wire.TypeHeartbeat, Seq: 10})
		began := time.Now()
		h.write(append(partial, hb...))
		if f := h.reply(10); f.Type != wire.TypeHeartbeat.Response() {
			t.Fatalf("got %s", f.Type)
		}
		if took := time.Since(began); took != PartialFrameTimeout {
			t.Errorf("answered after %v, want %v", took, PartialFrameTimeout)
		}
	})
}

func TestMuteAndLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, h := start(t, Options{Latency: 300 * time.Millisecond})
		h.identify()
		began := time.Now()
		h.ok(wire.TypeHeartbeat, nil)
		if took := time.Since(began); took != 300*time.Millisecond {
			t.Errorf("reply after %v, want the latency", took)
		}
		d.SetLatency(0)
		d.SetMute(true)
		h.send(wire.TypeHeartbeat, nil)
		h.quiet(10 * time.Second)
		d.SetMute(false)
		began = time.Now()
		h.ok(wire.TypeHeartbeat, nil)
		if took := time.Since(began); took != 0 {
			t.Errorf("reply after %v", took)
		}
		if s := d.Snapshot(); s.Dropped != 1 || s.Muted {
			t.Errorf("snapshot %+v", s)
		}
	})
}

func TestUnplugDuringCollect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := New(Options{})
		dial := d.Dialer()
		if dial.String() != "simulator" {
			t.Errorf("String() = %q", dial.String())
		}
		tr, err := dial.Dial(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		h := newRawHost(t, tr)
		h.identify()
		h.ok(wire.TypeSetDisplay, wire.Display{Screen: wire.ScreenCart, Cart: cart(1)})
		h.ok(wire.TypeCollect, wire.Collect{PaymentIntent: "pi_1", Amount: 100, Currency: "chf", TimeoutMS: 60000})
		h.event()
		d.Unplug()
		if _, err := h.read(hostWait); !errors.Is(err, reader.ErrDisconnected) {
			t.Fatalf("host read after unplug: %v", err)
		}
		s := waitFor(t, d, "disconnected", func(s Snapshot) bool { return !s.Connected })
		if !s.Unplugged || s.Phase != PhaseIdle || s.Display.Screen != wire.ScreenIdle || s.Host != "" {
			t.Errorf("after unplug: %+v", s)
		}
		if err := d.Tap("visa"); !errors.Is(err, ErrNoCollection) {
			t.Errorf("tap after unplug: %v", err)
		}
		_, err = dial.Dial(t.Context())
		if !errors.Is(err, reader.ErrNoReader) || !strings.Contains(err.Error(), "no reader found (simulator unplugged)") {
			t.Fatalf("dial while unplugged: %v", err)
		}
		_, dev := reader.Pipe()
		if err := d.Serve(t.Context(), dev); !errors.Is(err, ErrUnplugged) {
			t.Fatalf("serve while unplugged: %v", err)
		}
		d.Replug()
		tr, err = dial.Dial(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		h = newRawHost(t, tr)
		h.identify()
		h.ok(wire.TypeCollect, wire.Collect{PaymentIntent: "pi_1", Amount: 100, Currency: "chf", TimeoutMS: 60000})
		if f := h.event(); f.Type != wire.TypeWaitingForCard {
			t.Fatalf("got %s", f.Type)
		}
		// A second Dial takes the reader over from the first host.
		tr2, err := dial.Dial(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.read(hostWait); !errors.Is(err, reader.ErrDisconnected) {
			t.Fatalf("first host after a second dial: %v", err)
		}
		h2 := newRawHost(t, tr2)
		h2.identify()
		_ = tr2.Close()
		waitFor(t, d, "disconnected", func(s Snapshot) bool { return !s.Connected })
	})
}

func TestServeOneAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, h := start(t, Options{})
		h.identify()
		_, dev := reader.Pipe()
		if err := d.Serve(t.Context(), dev); !errors.Is(err, ErrInUse) {
			t.Fatalf("second Serve: %v", err)
		}
		if _, err := dev.ReadContext(t.Context(), make([]byte, 1)); !errors.Is(err, reader.ErrDisconnected) {
			t.Errorf("refused transport not closed: %v", err)
		}
		h.ok(wire.TypeHeartbeat, nil) // the first host is still served
	})
}

func TestServeEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := New(Options{})
		host, dev := reader.Pipe()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- d.Serve(ctx, dev) }()
		h := newRawHost(t, host)
		h.identify()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Serve: %v", err)
		}
		if _, err := h.read(hostWait); !errors.Is(err, reader.ErrDisconnected) {
			t.Fatalf("host after Serve ended: %v", err)
		}
	})
}

func TestOnChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu   sync.Mutex
			seen []Snapshot
		)
		d, h := start(t, Options{OnChange: func(s Snapshot) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, s)
		}})
		h.identify()
		h.ok(wire.TypeCollect, wire.Collect{PaymentIntent: "pi_1", Amount: 100, Currency: "chf", TimeoutMS: 60000})
		h.event()
		if err := d.Tap("visa"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		var prompts []string
		for _, s := range seen {
			if len(prompts) == 0 || prompts[len(prompts)-1] != s.Prompt {
				prompts = append(prompts, s.Prompt)
			}
		}
		want := []string{"", PromptPresentCard, PromptProcessing}
		if strings.Join(prompts, "|") != strings.Join(want, "|") || !seen[len(seen)-1].Connected || seen[len(seen)-1].Host != "test host" {
			t.Errorf("prompts %q, want %q; last %+v", prompts, want, seen[len(seen)-1])
		}
	})
}

func TestTestCards(t *testing.T) {
	names := TestCards()
	if len(names) != 14 || names[0] != "visa" || !slices.Contains(names, DeclineCard) {
		t.Fatalf("TestCards() = %q", names)
	}
	seenDecline := false
	for _, n := range names {
		c, ok := lookupCard(n)
		if !ok || len(c.last4) != 4 || strings.Trim(c.last4, "0123456789") != "" || c.brand == "" {
			t.Errorf("card %q: %+v, %v", n, c, ok)
		}
		decline := strings.HasPrefix(n, "charge_declined")
		if seenDecline && !decline {
			t.Errorf("approving card %q listed after a declining one", n)
		}
		seenDecline = seenDecline || decline
	}
	if _, ok := lookupCard("visa "); ok {
		t.Error("a misspelt card was accepted")
	}
	if p := PhaseProcessing.String(); p != "processing" {
		t.Errorf("Phase string %q", p)
	}
}

// TestWaitDialed: once the host has closed its end, WaitDialed returns
// only after the device has finished with the connection, its last log
// line included, so nothing of it outlives a host that closed and waited.
func TestWaitDialed(t *testing.T) {
	var mu sync.Mutex
	var logged bytes.Buffer
	d := New(Options{Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, nil))})
	tr, err := d.Dialer().Dial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	h := newRawHost(t, tr)
	h.identify()
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	d.WaitDialed()
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logged.String(), "host connection ended") {
		t.Fatalf("WaitDialed returned before the connection was wound down; log:\n%s", logged.String())
	}
	if s := d.Snapshot(); s.Connected {
		t.Errorf("still connected after WaitDialed: %+v", s)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

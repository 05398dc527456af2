package reader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillpos/till/reader/wire"
)

// rawDevice is a scripted reader on the device end of a Pipe: the test
// reads the host's frames from it and writes replies and events by hand.
// It answers Heartbeats and EventAcks itself unless told not to.
type rawDevice struct {
	t     testing.TB
	tr    Transport
	dec   wire.Decoder
	buf   []byte
	evSeq uint16

	silent    bool // answer nothing, Heartbeats and EventAcks included
	mu        sync.Mutex
	acks      []uint16
	heartbeat int
}

func newRawDevice(t testing.TB, tr Transport) *rawDevice {
	return &rawDevice{t: t, tr: tr, buf: make([]byte, 4096)}
}

// read returns the next frame the host sent, with its payload copied.
func (d *rawDevice) read() (wire.Frame, error) {
	for {
		f, err := d.dec.Next()
		if err == nil {
			f.Payload = bytes.Clone(f.Payload)
			return f, nil
		}
		if !errors.Is(err, wire.ErrNeedMore) {
			return wire.Frame{}, fmt.Errorf("host sent a damaged frame: %w", err)
		}
		n, err := d.tr.ReadContext(context.Background(), d.buf)
		if err != nil {
			return wire.Frame{}, err
		}
		d.dec.Feed(d.buf[:n])
	}
}

// next returns the next frame that is not a Heartbeat or EventAck
// (those are answered, unless the device is silent).
func (d *rawDevice) next() (wire.Frame, error) {
	for {
		f, err := d.read()
		if err != nil {
			return f, err
		}
		switch f.Type {
		case wire.TypeHeartbeat:
			d.mu.Lock()
			d.heartbeat++
			d.mu.Unlock()
			if !d.silent {
				d.reply(f, nil)
			}
		case wire.TypeEventAck:
			var ack wire.EventAck
			if err := wire.Unmarshal(f.Payload, &ack); err != nil {
				return f, fmt.Errorf("EventAck payload: %w", err)
			}
			d.mu.Lock()
			d.acks = append(d.acks, ack.Seq)
			d.mu.Unlock()
			if !d.silent {
				d.reply(f, nil)
			}
		default:
			return f, nil
		}
	}
}

// expect reads the next request and checks its type; the test fails
// if it is anything else.
func (d *rawDevice) expect(typ wire.Type) wire.Frame {
	d.t.Helper()
	f, err := d.next()
	if err != nil {
		d.t.Fatalf("waiting for %s: %v", typ, err)
	}
	if f.Type != typ || f.Version != wire.Version1 {
		d.t.Fatalf("got %s (version %d), want %s", f.Type, f.Version, typ)
	}
	return f
}

// serve answers requests until the pipe closes: every request with an
// empty reply, except those answer overrides (returning false).
func (d *rawDevice) serve(answer func(f wire.Frame) bool) {
	for {
		f, err := d.next()
		if err != nil {
			return
		}
		if answer == nil || !answer(f) {
			d.reply(f, nil)
		}
	}
}

func (d *rawDevice) ackedSeqs() []uint16 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.acks)
}

func (d *rawDevice) heartbeats() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.heartbeat
}

func rawFrame(t testing.TB, typ wire.Type, seq uint16, msg any) []byte {
	t.Helper()
	if raw, ok := msg.([]byte); ok { // raw bytes go as they are
		b, err := wire.AppendFrame(nil, wire.Frame{Version: wire.Version1, Type: typ, Seq: seq, Payload: raw})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b, err := wire.AppendMessage(nil, typ, seq, msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (d *rawDevice) write(b []byte) {
	// The host going away mid-script is for the test to notice, not a write fault.
	if _, err := d.tr.WriteContext(context.Background(), b); err != nil && !errors.Is(err, ErrDisconnected) {
		d.t.Errorf("device write: %v", err)
	}
}

func (d *rawDevice) reply(req wire.Frame, msg any) {
	d.write(rawFrame(d.t, req.Type.Response(), req.Seq, msg))
}

func (d *rawDevice) nak(req wire.Frame, code wire.ErrorCode, message string) {
	d.write(rawFrame(d.t, wire.TypeNak, req.Seq, &wire.Nak{Code: code, Message: message}))
}

// event sends an event with the device's next sequence number.
func (d *rawDevice) event(typ wire.Type, msg any) uint16 {
	d.evSeq++
	d.write(rawFrame(d.t, typ, d.evSeq, msg))
	return d.evSeq
}

func (d *rawDevice) unplug() { _ = d.tr.Close() }

// scriptDialer hands out whatever the test pushes: a transport or an error.
type scriptDialer struct {
	next     chan dialResult
	mu       sync.Mutex
	attempts int
}

type dialResult struct {
	t   Transport
	err error
}

func (d *scriptDialer) String() string { return "script" }

func (d *scriptDialer) Dial(ctx context.Context) (Transport, error) {
	d.mu.Lock()
	d.attempts++
	d.mu.Unlock()
	select {
	case r := <-d.next:
		return r.t, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (d *scriptDialer) dials() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.attempts
}

// harness is a Client over a scriptDialer, recording its events.
type harness struct {
	t      *testing.T
	c      *Client
	dialer *scriptDialer
	offset time.Duration // the injected clock runs this far ahead of the bubble's
	mu     sync.Mutex
	evs    []Event
}

// testInfo is what rawDevice answers to Identify in plug.
var testInfo = wire.Info{Version: 1, Model: "TL-1", Serial: "SN-42", Firmware: "1.2.3",
	Capabilities: wire.Capabilities{DisplayLines: 8, Contactless: true, Chip: true, PINPad: true}}

// newHarness starts a Client; call it inside a synctest bubble.
func newHarness(t *testing.T, opts Options) *harness {
	h := &harness{t: t, dialer: &scriptDialer{next: make(chan dialResult)}, offset: 24 * time.Hour}
	opts.Dialer = h.dialer
	if opts.Host == "" {
		opts.Host = "Till test lane_1"
	}
	opts.Now = h.now
	opts.OnEvent = func(ev Event) {
		h.mu.Lock()
		h.evs = append(h.evs, ev)
		h.mu.Unlock()
	}
	h.c = New(opts)
	t.Cleanup(func() {
		if err := h.c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

func (h *harness) now() time.Time { return time.Now().Add(h.offset) }

// events returns the events so far, after letting the bubble settle.
func (h *harness) events() []Event {
	synctest.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.evs)
}

func (h *harness) eventsOf(kind EventKind) []Event {
	var out []Event
	for _, ev := range h.events() {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (h *harness) states() []State {
	var out []State
	for _, ev := range h.eventsOf(EventState) {
		out = append(out, ev.State)
	}
	return out
}

// connect hands the Client a pipe; the returned device has not answered
// Identify yet.
func (h *harness) connect() *rawDevice {
	host, dev := Pipe()
	h.dialer.next <- dialResult{t: host}
	return newRawDevice(h.t, dev)
}

// plug connects a device that identifies itself and waits for StateReady.
func (h *harness) plug() *rawDevice {
	h.t.Helper()
	d := h.connect()
	f := d.expect(wire.TypeIdentify)
	var id wire.Identify
	if err := wire.Unmarshal(f.Payload, &id); err != nil {
		h.t.Fatal(err)
	}
	if !slices.Equal(id.Versions, []uint8{1}) || id.Host != h.c.opts.Host {
		h.t.Fatalf("Identify = %+v", id)
	}
	d.reply(f, &testInfo)
	if err := h.c.Connect(h.t.Context()); err != nil {
		h.t.Fatal(err)
	}
	return d
}

// async runs fn in a goroutine and returns its result channel.
func async[T any](fn func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- fn() }()
	return ch
}

// advance lets d of the bubble's fake time pass.
func advance(d time.Duration) {
	<-time.After(d)
	synctest.Wait()
}

func TestIdentifyAndInfo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		if _, err := h.c.Info(); !errors.Is(err, ErrNotConnected) {
			t.Fatalf("Info before connecting: %v", err)
		}
		h.plug()
		info, err := h.c.Info()
		if err != nil || !reflect.DeepEqual(info, testInfo) {
			t.Fatalf("Info = %+v, %v", info, err)
		}
		if st := h.c.State(); st != StateReady {
			t.Fatalf("State = %s", st)
		}
		if got, want := h.states(), []State{StateConnecting, StateReady}; !slices.Equal(got, want) {
			t.Fatalf("state events %v, want %v", got, want)
		}
		if ev := h.events()[0]; !ev.At.Equal(h.now()) {
			t.Fatalf("event At %v, want the injected clock's %v", ev.At, h.now())
		}
	})
}

func testCart() Display {
	return Display{Screen: wire.ScreenCart, Cart: &wire.Cart{Currency: "eur", Subtotal: 1000, Tax: 200, Total: 1200,
		Lines: []wire.Line{{Name: "Café crème", Quantity: 2, Amount: 700}, {Name: "Croissant", Quantity: 1, Amount: 300}}}}
}

func TestRequests(t *testing.T) {
	tests := []struct {
		name    string
		call    func(c *Client, ctx context.Context) error
		want    wire.Type
		payload any // the request payload expected, decoded into a new value of its type
		answer  func(d *rawDevice, f wire.Frame)
		check   func(t *testing.T, err error)
	}{
		{
			name: "SetDisplay cart", want: wire.TypeSetDisplay, payload: testCart(),
			call:   func(c *Client, ctx context.Context) error { return c.SetDisplay(ctx, testCart()) },
			answer: func(d *rawDevice, f wire.Frame) { d.reply(f, nil) },
			check:  wantNoError,
		},
		{
			name: "SetDisplay QR", want: wire.TypeSetDisplay,
			payload: Display{Screen: wire.ScreenQR, QR: &wire.QR{Payload: "https://pay.example/r/1", Caption: "TWINT", ExpiresIn: 300}},
			call: func(c *Client, ctx context.Context) error {
				return c.SetDisplay(ctx, Display{Screen: wire.ScreenQR, QR: &wire.QR{Payload: "https://pay.example/r/1", Caption: "TWINT", ExpiresIn: 300}})
			},
			answer: func(d *rawDevice, f wire.Frame) { d.reply(f, nil) },
			check:  wantNoError,
		},
		{
			name: "ClearDisplay", want: wire.TypeClearDisplay,
			call:   func(c *Client, ctx context.Context) error { return c.ClearDisplay(ctx) },
			answer: func(d *rawDevice, f wire.Frame) { d.reply(f, nil) },
			check:  wantNoError,
		},
		{
			name: "CancelCollect with nothing running", want: wire.TypeCancelCollect,
			payload: wire.CancelCollect{PaymentIntent: "pi_1"},
			call:    func(c *Client, ctx context.Context) error { return c.CancelCollect(ctx, "pi_1") },
			answer:  func(d *rawDevice, f wire.Frame) { d.nak(f, wire.CodeNoCollection, "idle") },
			check: func(t *testing.T, err error) {
				var de *DeviceError
				if !errors.As(err, &de) || de.Code != wire.CodeNoCollection || de.Op != "CancelCollect" || de.Message != "idle" {
					t.Fatalf("err = %v, want a DeviceError no_collection", err)
				}
				if errors.Is(err, ErrBusy) {
					t.Fatalf("no_collection matches ErrBusy")
				}
			},
		},
		{
			name: "Nak busy", want: wire.TypeSetDisplay,
			call:   func(c *Client, ctx context.Context) error { return c.SetDisplay(ctx, testCart()) },
			answer: func(d *rawDevice, f wire.Frame) { d.nak(f, wire.CodeBusy, "") },
			check: func(t *testing.T, err error) {
				var de *DeviceError
				if !errors.Is(err, ErrBusy) || !errors.As(err, &de) || de.Code != wire.CodeBusy {
					t.Fatalf("err = %v, want ErrBusy and a DeviceError", err)
				}
				if got := err.Error(); got != "card reader SetDisplay: busy" {
					t.Fatalf("message %q", got)
				}
			},
		},
		{
			name: "Nak too large", want: wire.TypeSetDisplay,
			call:   func(c *Client, ctx context.Context) error { return c.SetDisplay(ctx, testCart()) },
			answer: func(d *rawDevice, f wire.Frame) { d.nak(f, wire.CodeTooLarge, "12 lines max") },
			check: func(t *testing.T, err error) {
				var de *DeviceError
				if !errors.As(err, &de) || de.Code != wire.CodeTooLarge || errors.Is(err, ErrBusy) {
					t.Fatalf("err = %v", err)
				}
			},
		},
		{
			name: "undecodable Nak", want: wire.TypeClearDisplay,
			call:   func(c *Client, ctx context.Context) error { return c.ClearDisplay(ctx) },
			answer: func(d *rawDevice, f wire.Frame) { d.write(rawFrame(t, wire.TypeNak, f.Seq, []byte{0xff})) },
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "undecodable Nak") {
					t.Fatalf("err = %v", err)
				}
			},
		},
		{
			name: "reply of the wrong type", want: wire.TypeSetDisplay,
			call: func(c *Client, ctx context.Context) error { return c.SetDisplay(ctx, testCart()) },
			answer: func(d *rawDevice, f wire.Frame) {
				d.write(rawFrame(t, wire.TypeClearDisplay.Response(), f.Seq, nil))
			},
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "answered with ClearDisplayReply") {
					t.Fatalf("err = %v", err)
				}
			},
		},
		{
			name: "ctx cancelled while waiting", want: wire.TypeSetDisplay,
			call: func(c *Client, ctx context.Context) error {
				ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				defer cancel()
				return c.SetDisplay(ctx, testCart())
			},
			answer: func(d *rawDevice, f wire.Frame) {},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, Options{})
				d := h.plug()
				res := async(func() error { return tt.call(h.c, t.Context()) })
				f := d.expect(tt.want)
				if tt.payload != nil {
					got := reflect.New(reflect.TypeOf(tt.payload))
					if err := wire.Unmarshal(f.Payload, got.Interface()); err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got.Elem().Interface(), tt.payload) {
						t.Fatalf("payload %+v, want %+v", got.Elem().Interface(), tt.payload)
					}
				}
				tt.answer(d, f)
				tt.check(t, <-res)

				// The session goes on: the next request is answered.
				go d.serve(nil)
				if err := h.c.ClearDisplay(t.Context()); err != nil {
					t.Fatalf("ClearDisplay after: %v", err)
				}
				if st := h.c.State(); st != StateReady {
					t.Fatalf("state %s", st)
				}
			})
		})
	}
}

func wantNoError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRequestsWithoutReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		if err := h.c.SetDisplay(t.Context(), testCart()); !errors.Is(err, ErrNotConnected) {
			t.Fatalf("SetDisplay: %v", err)
		}
		if _, err := h.c.Collect(t.Context(), CollectRequest{PaymentIntent: "pi_1", Amount: 100, Currency: "eur"}); !errors.Is(err, ErrNotConnected) {
			t.Fatalf("Collect: %v", err)
		}
		if err := h.c.CancelCollect(t.Context(), "pi_1"); !errors.Is(err, ErrNotConnected) {
			t.Fatalf("CancelCollect: %v", err)
		}
	})
}

func TestDisplayTooLargeForAFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d := h.plug()
		go d.serve(nil)
		err := h.c.SetDisplay(t.Context(), Display{Screen: wire.ScreenMessage, Message: strings.Repeat("x", wire.MaxFrame)})
		if !errors.Is(err, wire.ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
		if err := h.c.ClearDisplay(t.Context()); err != nil {
			t.Fatalf("session broken after a refused frame: %v", err)
		}
	})
}

func TestEventsInOrderAndAcked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d := h.plug()
		go d.serve(nil)
		payload := []byte{1, 2, 3, 4}
		d.event(wire.TypeWaitingForCard, &wire.WaitingForCard{PaymentIntent: "pi_1"})
		d.event(wire.TypeCardPresented, &wire.CardPresented{PaymentIntent: "pi_1", Method: wire.ReadChip})
		d.event(wire.TypePINEntry, &wire.PINEntry{PaymentIntent: "pi_1", Digits: 2})
		d.event(wire.TypePINEntry, &wire.PINEntry{PaymentIntent: "pi_1", Digits: 4, Done: true})
		d.event(wire.TypeCardRemoved, &wire.CardRemoved{PaymentIntent: "pi_1"})
		d.event(wire.TypeCustomerCancelled, &wire.CustomerCancelled{PaymentIntent: "pi_2"})
		d.event(wire.TypeCollected, &wire.Collected{PaymentIntent: "pi_3", Payload: payload, Brand: "visa", Last4: "4242",
			Method: wire.ReadContactless, ExpMonth: 12, ExpYear: 2030})
		d.event(wire.TypeError, &wire.ErrorEvent{PaymentIntent: "pi_4", Code: wire.CodeCardReadFailed, Message: "try again"})

		var got []Event
		for _, ev := range h.events() {
			if ev.Kind != EventState {
				got = append(got, ev)
			}
		}
		at := h.now()
		want := []Event{
			{Kind: EventWaitingForCard, PaymentIntent: "pi_1", At: at},
			{Kind: EventCardPresented, PaymentIntent: "pi_1", Method: wire.ReadChip, At: at},
			{Kind: EventPINEntry, PaymentIntent: "pi_1", Digits: 2, At: at},
			{Kind: EventPINEntry, PaymentIntent: "pi_1", Digits: 4, Done: true, At: at},
			{Kind: EventCardRemoved, PaymentIntent: "pi_1", At: at},
			{Kind: EventCustomerCancelled, PaymentIntent: "pi_2", At: at},
			{Kind: EventCollected, PaymentIntent: "pi_3", Method: wire.ReadContactless, At: at, Collected: &Collected{
				PaymentIntent: "pi_3", Payload: payload, Brand: "visa", Last4: "4242", Method: wire.ReadContactless,
				ExpMonth: 12, ExpYear: 2030, At: at, ProcessBy: at.Add(ProcessWindow)}},
			{Kind: EventError, PaymentIntent: "pi_4", At: at, Err: &DeviceError{Op: "collect", Code: wire.CodeCardReadFailed, Message: "try again"}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("events:\n got %+v\nwant %+v", got, want)
		}
		if acks := d.ackedSeqs(); !slices.Equal(acks, []uint16{1, 2, 3, 4, 5, 6, 7, 8}) {
			t.Fatalf("acks %v", acks)
		}
	})
}

func TestDuplicateEventDeliveredOnceAckedTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d := h.plug()
		go d.serve(nil)
		ev := rawFrame(t, wire.TypeCardPresented, 7, &wire.CardPresented{PaymentIntent: "pi_1", Method: wire.ReadContactless})
		d.write(ev)
		d.write(ev) // a retransmission: the ack crossed it
		d.write(rawFrame(t, wire.TypeCardRemoved, 8, &wire.CardRemoved{PaymentIntent: "pi_1"}))
		advance(500 * time.Millisecond)
		d.write(ev) // a late one
		if got := h.eventsOf(EventCardPresented); len(got) != 1 {
			t.Fatalf("CardPresented delivered %d times", len(got))
		}
		if got := h.eventsOf(EventCardRemoved); len(got) != 1 {
			t.Fatalf("CardRemoved delivered %d times", len(got))
		}
		if acks := d.ackedSeqs(); !slices.Equal(acks, []uint16{7, 7, 8, 7}) {
			t.Fatalf("acks %v, want every copy acked", acks)
		}
		if s := h.c.Stats(); s.Duplicates != 2 {
			t.Fatalf("Stats.Duplicates = %d", s.Duplicates)
		}
	})
}

func TestDedupeWindowForgetsOldSeqs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d := h.plug()
		go d.serve(nil)
		for i := range dedupeWindow + 1 {
			d.write(rawFrame(t, wire.TypeCardRemoved, uint16(i+1), &wire.CardRemoved{PaymentIntent: "pi_1"}))
		}
		// Seq 1 fell out of the window of 64: a new event with it is new.
		d.write(rawFrame(t, wire.TypeCardRemoved, 1, &wire.CardRemoved{PaymentIntent: "pi_1"}))
		// Seq 65 is in it.
		d.write(rawFrame(t, wire.TypeCardRemoved, dedupeWindow+1, &wire.CardRemoved{PaymentIntent: "pi_1"}))
		if got := len(h.eventsOf(EventCardRemoved)); got != dedupeWindow+2 {
			t.Fatalf("%d events delivered, want %d", got, dedupeWindow+2)
		}
		if got := len(d.ackedSeqs()); got != dedupeWindow+3 {
			t.Fatalf("%d acks, want %d", got, dedupeWindow+3)
		}
	})
}

func TestPipelinedRepliesOutOfOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d := h.plug()
		first := async(func() error { return h.c.SetDisplay(t.Context(), testCart()) })
		a := d.expect(wire.TypeSetDisplay)
		second := async(func() error { return h.c.ClearDisplay(t.Context()) })
		b := d.expect(wire.TypeClearDisplay)
		if a.Seq == b.Seq {
			t.Fatalf("two requests with seq %d", a.Seq)
		}
		d.write(rawFrame(t, wire.TypeSetDisplay.Response(), 999, nil)) // nobody asked
		d.nak(b, wire.CodeInternal, "second")
		d.reply(a, nil)
		if err := <-first; err != nil {
			t.Fatalf("SetDisplay: %v", err)
		}
		var de *DeviceError
		if err := <-second; !errors.As(err, &de) || de.Message != "second" {
			t.Fatalf("ClearDisplay: %v", err)
		}
		if s := h.c.Stats(); s.LateReplies != 1 {
			t.Fatalf("LateReplies = %d", s.LateReplies)
		}
	})
}

func TestGarbageBetweenFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d := h.plug()
		go d.serve(nil)
		good := rawFrame(t, wire.TypeWaitingForCard, 1, &wire.WaitingForCard{PaymentIntent: "pi_1"})
		badCRC := rawFrame(t, wire.TypeCardRemoved, 2, &wire.CardRemoved{PaymentIntent: "pi_1"})
		badCRC[len(badCRC)-1] ^= 0xff
		d.write([]byte("line noise \x00\xff TL"))
		d.write(good)
		d.write(badCRC)
		d.write([]byte{0x54, 0x4c, 9, 0x81, 0, 0}) // a header cut short by the next frame
		d.write(rawFrame(t, wire.TypeCardPresented, 3, &wire.CardPresented{PaymentIntent: "pi_1", Method: wire.ReadSwipe}))
		d.write(rawFrame(t, wire.TypePINEntry, 4, []byte{0xff})) // valid frame, payload not CBOR
		d.write(rawFrame(t, 0xBE, 5, nil))                       // an event type from the future
		if err := h.c.SetDisplay(t.Context(), testCart()); err != nil {
			t.Fatalf("SetDisplay after garbage: %v", err)
		}
		var kinds []EventKind
		for _, ev := range h.events() {
			if ev.Kind != EventState {
				kinds = append(kinds, ev.Kind)
			}
		}
		if want := []EventKind{EventWaitingForCard, EventCardPresented}; !slices.Equal(kinds, want) {
			t.Fatalf("events %v, want %v", kinds, want)
		}
		s := h.c.Stats()
		if s.GarbledFrames == 0 || s.GarbledBytes < uint64(len(badCRC)) {
			t.Fatalf("Stats %+v: garbage not counted", s)
		}
		if s.BadFrames != 2 {
			t.Fatalf("BadFrames = %d, want 2 (bad payload, unknown event)", s.BadFrames)
		}
		if acks := d.ackedSeqs(); !slices.Equal(acks, []uint16{1, 3, 4, 5}) {
			t.Fatalf("acks %v: every whole event frame is acked", acks)
		}
		if h.c.State() != StateReady {
			t.Fatalf("state %s", h.c.State())
		}
	})
}

func TestTruncatedFrameResync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d := h.plug()
		// A header announcing 1000 payload bytes, then silence.
		d.write([]byte{0x54, 0x4c, 1, 0x81, 1, 0, 0xe8, 0x03, 0xa1, 0x01})
		advance(DefaultResyncAfter + 10*time.Millisecond)
		if s := h.c.Stats(); s.Resyncs == 0 {
			t.Fatalf("no resync after %v of silence: %+v", DefaultResyncAfter, s)
		}
		// Without the resync this reply would be read as part of the
		// 1000-byte payload and SetDisplay would time out.
		go d.serve(nil)
		if err := h.c.SetDisplay(t.Context(), testCart()); err != nil {
			t.Fatalf("SetDisplay after resync: %v", err)
		}
		if s := h.c.Stats(); s.GarbledBytes < 10 {
			t.Fatalf("truncated frame not counted as garbled: %+v", s)
		}
	})
}

func TestSilentReaderDisconnectsAndReconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d := h.plug()
		d.silent = true
		go d.serve(func(wire.Frame) bool { return true }) // read, never answer
		start := time.Now()
		err := h.c.SetDisplay(t.Context(), testCart())
		if !errors.Is(err, ErrNoResponse) || !strings.Contains(err.Error(), "SetDisplay") {
			t.Fatalf("SetDisplay: %v", err)
		}
		if waited := time.Since(start); waited != DefaultRequestTimeout {
			t.Fatalf("gave up after %v, want %v", waited, DefaultRequestTimeout)
		}
		if h.c.State() != StateReady {
			t.Fatalf("one miss disconnected: %s", h.c.State())
		}
		// Heartbeats go unanswered too; the third miss in a row ends it.
		next := h.connect()
		if st := h.c.State(); st != StateConnecting {
			t.Fatalf("state %s after the reader stopped answering", st)
		}
		if d.heartbeats() < 2 {
			t.Fatalf("%d heartbeats sent", d.heartbeats())
		}
		var cause error
		for _, ev := range h.eventsOf(EventState) {
			if ev.State == StateDisconnected {
				cause = ev.Err
			}
		}
		if !errors.Is(cause, ErrNoResponse) || !strings.Contains(cause.Error(), "3 requests in a row") {
			t.Fatalf("disconnect cause %v", cause)
		}
		f := next.expect(wire.TypeIdentify)
		next.reply(f, &testInfo)
		if err := h.c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		if s := h.c.Stats(); s.Reconnects != 1 || s.Timeouts != 3 {
			t.Fatalf("Stats %+v", s)
		}
	})
}

func TestHeartbeatOnlyWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{HeartbeatEvery: time.Second})
		d := h.plug()
		go d.serve(nil)
		for range 5 { // busy: a request every 600ms
			advance(600 * time.Millisecond)
			if err := h.c.ClearDisplay(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if n := d.heartbeats(); n != 0 {
			t.Fatalf("%d heartbeats while requests flowed", n)
		}
		advance(3500 * time.Millisecond)
		if n := d.heartbeats(); n != 3 {
			t.Fatalf("%d heartbeats in 3.5s idle at 1/s, want 3", n)
		}
	})
}

func TestIdentifyFailures(t *testing.T) {
	tests := []struct {
		name   string
		answer func(d *rawDevice, f wire.Frame)
		want   string
	}{
		{"unsupported version", func(d *rawDevice, f wire.Frame) {
			d.write(rawFrame(t, wire.TypeNak, f.Seq, &wire.Nak{Code: wire.CodeUnsupportedVersion, Versions: []uint8{2, 3}}))
		}, "unsupported_version: the reader speaks protocol versions [2 3], Till speaks [1]"},
		{"no reply", func(d *rawDevice, f wire.Frame) {}, "card reader Identify: card reader did not answer within 2s"},
		{"bad Info", func(d *rawDevice, f wire.Frame) {
			d.write(rawFrame(t, wire.TypeIdentify.Response(), f.Seq, []byte{0x61}))
		}, "card reader Identify: bad reply"},
		{"other version chosen", func(d *rawDevice, f wire.Frame) {
			d.reply(f, &wire.Info{Version: 2, Model: "TL-9"})
		}, "the reader chose protocol version 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, Options{})
				d := h.connect()
				tt.answer(d, d.expect(wire.TypeIdentify))
				// The Client gives up on this reader and dials again.
				retry := h.connect()
				if _, err := retry.read(); err != nil {
					t.Fatal(err)
				}
				evs := h.eventsOf(EventState)
				last := evs[len(evs)-1]
				if last.State != StateConnecting {
					t.Fatalf("last state %s", last.State)
				}
				disc := evs[len(evs)-2]
				if disc.State != StateDisconnected || disc.Err == nil || !strings.Contains(disc.Err.Error(), tt.want) {
					t.Fatalf("disconnect event %+v, want error containing %q", disc, tt.want)
				}
				if !strings.Contains(disc.Err.Error(), "identify reader on script") {
					t.Fatalf("error %q does not name the step", disc.Err)
				}
				if _, err := h.c.Info(); !errors.Is(err, ErrNotConnected) {
					t.Fatalf("Info: %v", err)
				}
			})
		})
	}
}

func TestDialFailuresBackoffAndReportOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var attempts []int
		h := newHarness(t, Options{Backoff: func(n int) time.Duration {
			mu.Lock()
			attempts = append(attempts, n)
			mu.Unlock()
			return time.Duration(n) * time.Second
		}})
		noReader := fmt.Errorf("%w (USB 2fe3:0001)", ErrNoReader)
		start := time.Now()
		for range 4 {
			h.dialer.next <- dialResult{err: noReader}
		}
		h.dialer.next <- dialResult{err: errors.New("permission denied")}
		h.plug()
		// Waits of 1+2+3+4+5 s between the six dials.
		if waited := time.Since(start); waited != 15*time.Second {
			t.Fatalf("connected after %v, want 15s of backoff", waited)
		}
		mu.Lock()
		if !slices.Equal(attempts, []int{1, 2, 3, 4, 5}) {
			t.Fatalf("backoff attempts %v", attempts)
		}
		mu.Unlock()
		var errs []string
		for _, ev := range h.eventsOf(EventState) {
			if ev.State == StateDisconnected {
				errs = append(errs, ev.Err.Error())
			}
		}
		want := []string{"dial: no card reader found (USB 2fe3:0001)", "dial: permission denied"}
		if !slices.Equal(errs, want) {
			t.Fatalf("disconnect events %q, want one per distinct failure %q", errs, want)
		}
		if got := h.states(); !slices.Equal(got, []State{StateDisconnected, StateDisconnected, StateConnecting, StateReady}) {
			t.Fatalf("states %v", got)
		}
		if h.dialer.dials() != 6 {
			t.Fatalf("%d dials", h.dialer.dials())
		}
	})
}

func TestDefaultBackoff(t *testing.T) {
	for n, base := range map[int]time.Duration{1: 250 * time.Millisecond, 2: 500 * time.Millisecond,
		3: time.Second, 6: 8 * time.Second, 7: 10 * time.Second, 50: 10 * time.Second} {
		for range 100 {
			d := DefaultBackoff(n)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("DefaultBackoff(%d) = %v, want %v ±20%%", n, d, base)
			}
		}
	}
}

func TestConnectWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		connected := async(func() error { return h.c.Connect(t.Context()) })
		synctest.Wait()
		select {
		case err := <-connected:
			t.Fatalf("Connect returned %v with no reader", err)
		default:
		}
		h.plug()
		if err := <-connected; err != nil {
			t.Fatal(err)
		}

		// With no reader, Connect ends with ctx and says what went wrong.
		h2 := newHarness(t, Options{})
		h2.dialer.next <- dialResult{err: ErrNoReader}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		err := h2.c.Connect(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no card reader found") {
			t.Fatalf("Connect: %v", err)
		}
	})
}

// collectFlow plugs a reader, starts Collect and reads the Collect request.
func collectFlow(t *testing.T, h *harness, ctx context.Context, req CollectRequest) (*rawDevice, <-chan collectResult) {
	t.Helper()
	d := h.plug()
	res := async(func() collectResult {
		c, err := h.c.Collect(ctx, req)
		return collectResult{collected: c, err: err}
	})
	f := d.expect(wire.TypeCollect)
	var got wire.Collect
	if err := wire.Unmarshal(f.Payload, &got); err != nil {
		t.Fatal(err)
	}
	timeout := req.Timeout
	if timeout == 0 {
		timeout = DefaultCollectTimeout
	}
	want := wire.Collect{PaymentIntent: req.PaymentIntent, Amount: req.Amount, Currency: strings.ToLower(req.Currency),
		CustomerCancel: req.CustomerCancel, OfflineAllowed: req.OfflineAllowed, TimeoutMS: uint32(timeout.Milliseconds())}
	if got != want {
		t.Fatalf("Collect sent %+v, want %+v", got, want)
	}
	d.reply(f, nil)
	synctest.Wait()
	if st := h.c.State(); st != StateBusy {
		t.Fatalf("state %s while collecting", st)
	}
	return d, res
}

var collectReq = CollectRequest{PaymentIntent: "pi_1", Amount: 1200, Currency: "EUR", CustomerCancel: true}

func TestCollectOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		terminal func(d *rawDevice)
		check    func(t *testing.T, h *harness, c Collected, err error)
	}{
		{"approved", func(d *rawDevice) {
			d.event(wire.TypeCollected, &wire.Collected{PaymentIntent: "pi_1", Payload: []byte("sealed"), Brand: "visa",
				Last4: "4242", Method: wire.ReadContactless, ExpMonth: 12, ExpYear: 2031})
		}, func(t *testing.T, h *harness, c Collected, err error) {
			at := h.now()
			want := Collected{PaymentIntent: "pi_1", Payload: []byte("sealed"), Brand: "visa", Last4: "4242",
				Method: wire.ReadContactless, ExpMonth: 12, ExpYear: 2031, At: at, ProcessBy: at.Add(ProcessWindow)}
			if err != nil || !reflect.DeepEqual(c, want) {
				t.Fatalf("Collect = %+v, %v; want %+v", c, err, want)
			}
		}},
		{"customer cancel", func(d *rawDevice) {
			d.event(wire.TypeCustomerCancelled, &wire.CustomerCancelled{PaymentIntent: "pi_1"})
		}, func(t *testing.T, h *harness, c Collected, err error) {
			if !errors.Is(err, ErrCustomerCancelled) {
				t.Fatalf("err = %v", err)
			}
		}},
		{"collect timeout", func(d *rawDevice) {
			d.event(wire.TypeError, &wire.ErrorEvent{PaymentIntent: "pi_1", Code: wire.CodeCollectTimeout})
		}, func(t *testing.T, h *harness, c Collected, err error) {
			var de *DeviceError
			if !errors.Is(err, ErrCollectTimeout) || !errors.As(err, &de) || de.Op != "collect" {
				t.Fatalf("err = %v", err)
			}
		}},
		{"card read failed", func(d *rawDevice) {
			d.event(wire.TypeError, &wire.ErrorEvent{PaymentIntent: "pi_1", Code: wire.CodeCardReadFailed, Message: "chip error"})
		}, func(t *testing.T, h *harness, c Collected, err error) {
			var de *DeviceError
			if !errors.As(err, &de) || de.Code != wire.CodeCardReadFailed || errors.Is(err, ErrCollectTimeout) {
				t.Fatalf("err = %v", err)
			}
			if err.Error() != "card reader collect: card_read_failed: chip error" {
				t.Fatalf("message %q", err)
			}
		}},
		{"unreadable outcome", func(d *rawDevice) {
			d.event(wire.TypeCollected, []byte{0x01})
			f := d.expect(wire.TypeCancelCollect) // the Client releases whatever the reader holds
			d.reply(f, nil)
		}, func(t *testing.T, h *harness, c Collected, err error) {
			if err == nil || !strings.Contains(err.Error(), "outcome was unreadable") {
				t.Fatalf("err = %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, Options{})
				d, res := collectFlow(t, h, t.Context(), collectReq)
				// Progress, and events about another PaymentIntent, do not end it.
				d.event(wire.TypeWaitingForCard, &wire.WaitingForCard{PaymentIntent: "pi_1"})
				d.event(wire.TypeCustomerCancelled, &wire.CustomerCancelled{PaymentIntent: "pi_old"})
				d.event(wire.TypeCardPresented, &wire.CardPresented{PaymentIntent: "pi_1", Method: wire.ReadContactless})
				synctest.Wait()
				select {
				case r := <-res:
					t.Fatalf("Collect ended early: %+v", r)
				default:
				}
				tt.terminal(d)
				r := <-res
				tt.check(t, h, r.collected, r.err)
				if st := h.c.State(); st != StateReady {
					t.Fatalf("state %s after the collection", st)
				}
				if got := h.states(); !slices.Equal(got, []State{StateConnecting, StateReady, StateBusy, StateReady}) {
					t.Fatalf("states %v", got)
				}
				if cc := h.eventsOf(EventCustomerCancelled); len(cc) == 0 || cc[0].PaymentIntent != "pi_old" || len(h.eventsOf(EventWaitingForCard)) != 1 {
					t.Fatalf("progress events not all reported: %v", h.events())
				}
				go d.serve(nil)
				if err := h.c.ClearDisplay(t.Context()); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func TestCollectNakBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d := h.plug()
		res := async(func() error { _, err := h.c.Collect(t.Context(), collectReq); return err })
		d.nak(d.expect(wire.TypeCollect), wire.CodeBusy, "collecting for pi_0")
		if err := <-res; !errors.Is(err, ErrBusy) {
			t.Fatalf("err = %v", err)
		}
		if h.c.State() != StateReady {
			t.Fatalf("state %s", h.c.State())
		}
	})
}

func TestCollectOneAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d, res := collectFlow(t, h, t.Context(), collectReq)
		_, err := h.c.Collect(t.Context(), CollectRequest{PaymentIntent: "pi_2", Amount: 100, Currency: "eur"})
		if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "pi_1") {
			t.Fatalf("second Collect: %v", err)
		}
		d.event(wire.TypeCustomerCancelled, &wire.CustomerCancelled{PaymentIntent: "pi_1"})
		if r := <-res; !errors.Is(r.err, ErrCustomerCancelled) {
			t.Fatal(r.err)
		}
	})
}

func TestCollectValidation(t *testing.T) {
	tests := []struct {
		req  CollectRequest
		want string
	}{
		{CollectRequest{Amount: 100, Currency: "eur"}, "no PaymentIntent"},
		{CollectRequest{PaymentIntent: "pi_1", Currency: "eur"}, "amount 0 is not positive"},
		{CollectRequest{PaymentIntent: "pi_1", Amount: -5, Currency: "eur"}, "amount -5 is not positive"},
		{CollectRequest{PaymentIntent: "pi_1", Amount: 100, Currency: "euro"}, `currency "euro"`},
		{CollectRequest{PaymentIntent: "pi_1", Amount: 100, Currency: "e1r"}, `currency "e1r"`},
		{CollectRequest{PaymentIntent: "pi_1", Amount: 100}, `currency ""`},
		{CollectRequest{PaymentIntent: "pi_1", Amount: 100, Currency: "eur", Timeout: -time.Second}, "timeout -1s out of range"},
		{CollectRequest{PaymentIntent: strings.Repeat("p", 300), Amount: 100, Currency: "eur"}, "too long"},
	}
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		h.plug()
		for _, tt := range tests {
			_, err := h.c.Collect(t.Context(), tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Collect(%+v) = %v, want %q", tt.req, err, tt.want)
			}
		}
		if h.c.State() != StateReady {
			t.Fatalf("state %s", h.c.State())
		}
	})
}

func TestCollectContextCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		ctx, cancel := context.WithCancel(t.Context())
		d, res := collectFlow(t, h, ctx, collectReq)
		cancel()
		f := d.expect(wire.TypeCancelCollect)
		var cc wire.CancelCollect
		if err := wire.Unmarshal(f.Payload, &cc); err != nil || cc.PaymentIntent != "pi_1" {
			t.Fatalf("CancelCollect %+v, %v", cc, err)
		}
		d.reply(f, nil)
		r := <-res
		if !errors.Is(r.err, ErrCollectCanceled) || !errors.Is(r.err, context.Canceled) {
			t.Fatalf("err = %v", r.err)
		}
		// A Collected that crossed the cancel is reported but already released.
		d.event(wire.TypeCollected, &wire.Collected{PaymentIntent: "pi_1", Payload: []byte("x"), Brand: "visa", Last4: "4242"})
		go d.serve(nil)
		advance(ProcessWindow + time.Second)
		if len(h.eventsOf(EventCollected)) != 1 || len(h.eventsOf(EventError)) != 0 {
			t.Fatalf("events %v", h.events())
		}
	})
}

func TestCancelCollectByApp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d, res := collectFlow(t, h, t.Context(), collectReq)
		cancelled := async(func() error { return h.c.CancelCollect(t.Context(), "pi_1") })
		f := d.expect(wire.TypeCancelCollect)
		// The card was tapped just before the cancel arrived.
		d.event(wire.TypeCollected, &wire.Collected{PaymentIntent: "pi_1", Payload: []byte("x"), Brand: "visa", Last4: "4242"})
		d.reply(f, nil)
		if err := <-cancelled; err != nil {
			t.Fatal(err)
		}
		if r := <-res; !errors.Is(r.err, ErrCollectCanceled) {
			t.Fatalf("Collect = %+v, want ErrCollectCanceled", r)
		}
	})
}

func TestCollectHostTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{CollectGrace: 3 * time.Second})
		req := collectReq
		req.Timeout = 10 * time.Second
		start := time.Now()
		d, res := collectFlow(t, h, t.Context(), req)
		f := d.expect(wire.TypeCancelCollect) // heartbeats are answered meanwhile
		if waited := time.Since(start); waited != 13*time.Second {
			t.Fatalf("gave up after %v, want 13s", waited)
		}
		d.reply(f, nil)
		r := <-res
		if !errors.Is(r.err, ErrCollectTimeout) || !strings.Contains(r.err.Error(), "no outcome from the reader within 13s") {
			t.Fatalf("err = %v", r.err)
		}
	})
}

func TestUnplugMidCollect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d, res := collectFlow(t, h, t.Context(), collectReq)
		d.event(wire.TypeWaitingForCard, &wire.WaitingForCard{PaymentIntent: "pi_1"})
		d.unplug()
		r := <-res
		if !errors.Is(r.err, ErrDisconnected) || !strings.Contains(r.err.Error(), "collect for pi_1") {
			t.Fatalf("err = %v", r.err)
		}
		synctest.Wait()
		if st := h.c.State(); st != StateDisconnected {
			t.Fatalf("state %s", st)
		}
		h.plug() // replugged
		if s := h.c.Stats(); s.Reconnects != 1 {
			t.Fatalf("Reconnects = %d", s.Reconnects)
		}
		want := []State{StateConnecting, StateReady, StateBusy, StateDisconnected, StateConnecting, StateReady}
		if got := h.states(); !slices.Equal(got, want) {
			t.Fatalf("states %v, want %v", got, want)
		}
	})
}

func TestProcessWindow(t *testing.T) {
	collected := func(d *rawDevice) {
		d.event(wire.TypeCollected, &wire.Collected{PaymentIntent: "pi_1", Payload: []byte("sealed"), Brand: "visa", Last4: "4242"})
	}
	t.Run("expires", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, Options{})
			d, res := collectFlow(t, h, t.Context(), collectReq)
			collected(d)
			r := <-res
			if r.err != nil {
				t.Fatal(r.err)
			}
			start := time.Now()
			f := d.expect(wire.TypeCancelCollect)
			if waited := time.Since(start); waited != ProcessWindow {
				t.Fatalf("released after %v", waited)
			}
			var cc wire.CancelCollect
			if err := wire.Unmarshal(f.Payload, &cc); err != nil || cc.PaymentIntent != "pi_1" {
				t.Fatalf("CancelCollect %+v %v", cc, err)
			}
			d.reply(f, nil)
			errs := h.eventsOf(EventError)
			if len(errs) != 1 || errs[0].PaymentIntent != "pi_1" || !errors.Is(errs[0].Err, ErrProcessWindow) {
				t.Fatalf("error events %+v", errs)
			}
			if errs[0].At.Sub(r.collected.ProcessBy) != 0 {
				t.Fatalf("released at %v, ProcessBy %v", errs[0].At, r.collected.ProcessBy)
			}
		})
	})
	for name, done := range map[string]func(c *Client) error{
		"released by SetDisplay":    func(c *Client) error { return c.SetDisplay(context.Background(), testCart()) },
		"released by ClearDisplay":  func(c *Client) error { return c.ClearDisplay(context.Background()) },
		"released by CancelCollect": func(c *Client) error { return c.CancelCollect(context.Background(), "pi_1") },
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, Options{})
				d, res := collectFlow(t, h, t.Context(), collectReq)
				collected(d)
				if r := <-res; r.err != nil {
					t.Fatal(r.err)
				}
				var mu sync.Mutex
				var cancels int
				go d.serve(func(f wire.Frame) bool {
					mu.Lock()
					defer mu.Unlock()
					if f.Type == wire.TypeCancelCollect {
						cancels++
					}
					return false
				})
				advance(ProcessWindow - time.Second)
				if err := done(h.c); err != nil {
					t.Fatal(err)
				}
				advance(10 * time.Second)
				mu.Lock()
				defer mu.Unlock()
				want := 0
				if strings.Contains(name, "CancelCollect") {
					want = 1 // the app's own
				}
				if cancels != want || len(h.eventsOf(EventError)) != 0 {
					t.Fatalf("%d CancelCollect sent, error events %v", cancels, h.eventsOf(EventError))
				}
			})
		})
	}
}

func TestCloseDuringCollect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		_, res := collectFlow(t, h, t.Context(), collectReq)
		if err := h.c.Close(); err != nil {
			t.Fatal(err)
		}
		if r := <-res; !errors.Is(r.err, ErrClosed) {
			t.Fatalf("Collect: %v", r.err)
		}
		if err := h.c.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		states := h.states()
		if states[len(states)-1] != StateClosed || h.c.State() != StateClosed {
			t.Fatalf("states %v", states)
		}
		if err := h.c.Connect(t.Context()); !errors.Is(err, ErrClosed) {
			t.Fatalf("Connect after Close: %v", err)
		}
		if err := h.c.SetDisplay(t.Context(), testCart()); !errors.Is(err, ErrClosed) {
			t.Fatalf("SetDisplay after Close: %v", err)
		}
		if _, err := h.c.Info(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Info after Close: %v", err)
		}
	})
}

func TestCloseWhileDialling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		synctest.Wait() // the Client is blocked in Dial
		if err := h.c.Close(); err != nil {
			t.Fatal(err)
		}
		if got := h.states(); !slices.Equal(got, []State{StateClosed}) {
			t.Fatalf("states %v", got)
		}
	})
}

func TestCloseFailsWaitingRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d := h.plug()
		res := async(func() error { return h.c.SetDisplay(t.Context(), testCart()) })
		d.expect(wire.TypeSetDisplay)
		h.c.Close()
		if err := <-res; !errors.Is(err, ErrClosed) {
			t.Fatalf("SetDisplay: %v", err)
		}
		if _, err := d.read(); !errors.Is(err, ErrDisconnected) {
			t.Fatalf("device end after Close: %v", err)
		}
	})
}

func TestPayloadNeverLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		h := newHarness(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		secret := []byte("SECRET-CARD-PAYLOAD")
		d, res := collectFlow(t, h, t.Context(), collectReq)
		// The same payload in a malformed event (Brand must be text) and a
		// retransmission, to go through the paths that log.
		bad := map[int]any{1: "pi_1", 2: secret, 3: secret}
		d.write(rawFrame(t, wire.TypeCollected, 9, bad))
		f := d.expect(wire.TypeCancelCollect)
		d.reply(f, nil)
		if r := <-res; r.err == nil {
			t.Fatal("malformed Collected accepted")
		}
		res2 := async(func() collectResult {
			c, err := h.c.Collect(t.Context(), CollectRequest{PaymentIntent: "pi_2", Amount: 100, Currency: "eur"})
			return collectResult{collected: c, err: err}
		})
		d.reply(d.expect(wire.TypeCollect), nil)
		ok := rawFrame(t, wire.TypeCollected, 10, &wire.Collected{PaymentIntent: "pi_2", Payload: secret, Brand: "visa", Last4: "4242"})
		d.write(ok)
		d.write(ok)
		if r := <-res2; r.err != nil || !bytes.Equal(r.collected.Payload, secret) {
			t.Fatalf("Collect = %+v", r)
		}
		go d.serve(nil)
		advance(ProcessWindow + time.Second)
		if logs.Len() == 0 {
			t.Fatal("nothing logged: the test checks nothing")
		}
		if bytes.Contains(logs.Bytes(), secret) || strings.Contains(logs.String(), fmt.Sprintf("%x", secret)) {
			t.Fatalf("payload in the log:\n%s", logs.String())
		}
	})
}

// TestFailedCallSeesDisconnected: a call cut short by an unplug returns
// with the Client already disconnected, so the caller's next call waits for
// a new connection instead of starting on the dead one.
func TestFailedCallSeesDisconnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{})
		d := h.plug()
		done := async(func() error { return h.c.SetDisplay(t.Context(), testCart()) })
		d.expect(wire.TypeSetDisplay)
		d.unplug()
		if err := <-done; !errors.Is(err, ErrDisconnected) {
			t.Fatalf("SetDisplay across an unplug: %v, want ErrDisconnected", err)
		}
		if st := h.c.State(); st != StateDisconnected {
			t.Fatalf("state right after the failed call: %s, want disconnected", st)
		}
		if err := h.c.ClearDisplay(t.Context()); !errors.Is(err, ErrNotConnected) {
			t.Fatalf("next call: %v, want ErrNotConnected", err)
		}
	})
}

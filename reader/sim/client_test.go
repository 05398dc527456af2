package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/simcard"
	"github.com/tillpos/till/reader/wire"
)

// End-to-end: the host side (reader.Client) against the simulator.

type events struct {
	mu      sync.Mutex
	list    []reader.Event
	changed chan struct{}
}

func (e *events) add(ev reader.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
}

// waitFor waits for an event matching ok, however long ago it came.
func (e *events) waitFor(t *testing.T, what string, ok func(reader.Event) bool) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		e.mu.Lock()
		for _, ev := range e.list {
			if ok(ev) {
				e.mu.Unlock()
				return
			}
		}
		if e.changed == nil {
			e.changed = make(chan struct{})
		}
		ch := e.changed
		e.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no event %s", what)
		}
	}
}

func (e *events) kinds() []reader.EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ks []reader.EventKind
	for _, ev := range e.list {
		if ev.Kind != reader.EventState {
			ks = append(ks, ev.Kind)
		}
	}
	return ks
}

func connectClient(t *testing.T, d *Device) (*reader.Client, *events) {
	t.Helper()
	evs := &events{}
	c := reader.New(reader.Options{Dialer: d.Dialer(), Host: "Till test lane_1", OnEvent: evs.add})
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	return c, evs
}

func collectAsync(c *reader.Client, req reader.CollectRequest) <-chan collectOutcome {
	ch := make(chan collectOutcome, 1)
	go func() {
		col, err := c.Collect(context.Background(), req)
		ch <- collectOutcome{col, err}
	}()
	return ch
}

type collectOutcome struct {
	col reader.Collected
	err error
}

func TestClientEndToEnd(t *testing.T) {
	const pi = "pi_E2E"
	req := reader.CollectRequest{PaymentIntent: pi, Amount: 1250, Currency: "CHF", CustomerCancel: true, Timeout: 30 * time.Second}
	tests := []struct {
		name        string
		opts        Options
		act         func(*Device) error // once the reader waits for a card
		wantErr     error               // nil: a card is collected
		wantCode    wire.ErrorCode      // with a *reader.DeviceError
		wantCard    string
		wantLast4   string
		wantKinds   []reader.EventKind
		wantGarbled bool
	}{
		{name: "approve (auto)", opts: Options{Auto: &Auto{Card: "visa"}}, wantCard: "visa", wantLast4: "4242",
			wantKinds: []reader.EventKind{reader.EventWaitingForCard, reader.EventCardPresented, reader.EventCollected}},
		{name: "decline card", act: func(d *Device) error { return d.Tap(DeclineCard) }, wantCard: DeclineCard, wantLast4: "0002",
			wantKinds: []reader.EventKind{reader.EventWaitingForCard, reader.EventCardPresented, reader.EventCollected}},
		{name: "chip and PIN", act: func(d *Device) error { return d.Insert("mastercard", true) }, wantCard: "mastercard", wantLast4: "4444",
			wantKinds: []reader.EventKind{reader.EventWaitingForCard, reader.EventCardPresented, reader.EventPINEntry, reader.EventPINEntry,
				reader.EventPINEntry, reader.EventPINEntry, reader.EventPINEntry, reader.EventCollected,
				reader.EventCardRemoved}}, // when the thank-you screen releases it
		{name: "customer cancel", act: (*Device).CustomerCancel, wantErr: reader.ErrCustomerCancelled,
			wantKinds: []reader.EventKind{reader.EventWaitingForCard, reader.EventCustomerCancelled}},
		{name: "timeout", wantErr: reader.ErrCollectTimeout},
		{name: "card read failed", act: (*Device).FailRead, wantCode: wire.CodeCardReadFailed},
		// Events lost to damage arrive again, perhaps after later ones.
		{name: "garbled events", act: func(d *Device) error { d.GarbleNext(2); return d.Swipe("amex") }, wantCard: "amex", wantLast4: "8431",
			wantGarbled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := New(tt.opts)
				c, evs := connectClient(t, d)
				if s := waitFor(t, d, "identified", func(s Snapshot) bool { return s.Host != "" }); s.Host != "Till test lane_1" {
					t.Errorf("host %q", s.Host)
				}
				if err := c.SetDisplay(t.Context(), reader.Display{Screen: wire.ScreenCart, Cart: cart(2)}); err != nil {
					t.Fatal(err)
				}
				done := collectAsync(c, req)
				if tt.act != nil {
					waitFor(t, d, "waiting", func(s Snapshot) bool { return s.Phase == PhaseWaiting })
					if err := tt.act(d); err != nil {
						t.Fatal(err)
					}
				}
				out := <-done
				switch {
				case tt.wantErr != nil:
					if !errors.Is(out.err, tt.wantErr) {
						t.Fatalf("Collect: %v, want %v", out.err, tt.wantErr)
					}
				case tt.wantCode != 0:
					if de, ok := errors.AsType[*reader.DeviceError](out.err); !ok || de.Code != tt.wantCode {
						t.Fatalf("Collect: %v, want a DeviceError %s", out.err, tt.wantCode)
					}
				default:
					if out.err != nil {
						t.Fatal(out.err)
					}
					card, err := simcard.Open(pi, out.col.Payload)
					if err != nil || card.TestCard != tt.wantCard || out.col.Last4 != tt.wantLast4 || card.Last4 != tt.wantLast4 {
						t.Fatalf("collected %v (card %+v, %v)", out.col, card, err)
					}
					if s := d.Snapshot(); s.Phase != PhaseProcessing {
						t.Errorf("reader phase %s", s.Phase)
					}
					if err := c.SetDisplay(t.Context(), reader.Display{Screen: wire.ScreenThankYou}); err != nil {
						t.Fatal(err)
					}
					if s := d.Snapshot(); s.Phase != PhaseIdle || s.Display.Screen != wire.ScreenThankYou {
						t.Errorf("after thank-you: %+v", s)
					}
				}
				synctest.Wait()
				if tt.wantGarbled && c.Stats().GarbledFrames == 0 {
					t.Error("the client saw no garbled frame")
				}
				if tt.wantKinds != nil && fmt.Sprint(evs.kinds()) != fmt.Sprint(tt.wantKinds) {
					t.Errorf("events %v, want %v", evs.kinds(), tt.wantKinds)
				}
			})
		})
	}
}

func TestClientUnplugReplug(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := New(Options{})
		c, evs := connectClient(t, d)
		done := collectAsync(c, reader.CollectRequest{PaymentIntent: "pi_U", Amount: 500, Currency: "EUR"})
		waitFor(t, d, "waiting", func(s Snapshot) bool { return s.Phase == PhaseWaiting })
		d.Unplug()
		if out := <-done; !errors.Is(out.err, reader.ErrDisconnected) {
			t.Fatalf("Collect across an unplug: %v", out.err)
		}
		evs.waitFor(t, "no reader found", func(ev reader.Event) bool {
			return ev.Kind == reader.EventState && errors.Is(ev.Err, reader.ErrNoReader)
		})
		if st := c.State(); st != reader.StateDisconnected {
			t.Fatalf("state while unplugged: %s", st)
		}
		d.Replug()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := c.Connect(ctx); err != nil {
			t.Fatalf("reconnect after replug: %v", err)
		}
		if got := c.Stats().Reconnects; got != 1 {
			t.Errorf("reconnects %d", got)
		}
		done = collectAsync(c, reader.CollectRequest{PaymentIntent: "pi_U", Amount: 500, Currency: "EUR"})
		waitFor(t, d, "waiting", func(s Snapshot) bool { return s.Phase == PhaseWaiting })
		if err := d.Tap("visa"); err != nil {
			t.Fatal(err)
		}
		if out := <-done; out.err != nil || out.col.Last4 != "4242" {
			t.Fatalf("Collect after reconnecting: %v, %v", out.col, out.err)
		}
	})
}

func TestClientSlowAndHungReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := New(Options{})
		c, evs := connectClient(t, d)
		d.SetLatency(1500 * time.Millisecond)
		began := time.Now()
		if err := c.ClearDisplay(t.Context()); err != nil {
			t.Fatalf("slow but in time: %v", err)
		}
		if took := time.Since(began); took != 1500*time.Millisecond {
			t.Errorf("took %v", took)
		}
		d.SetLatency(3 * time.Second) // over the Client's 2 s request timeout
		if err := c.ClearDisplay(t.Context()); !errors.Is(err, reader.ErrNoResponse) {
			t.Fatalf("too slow: %v", err)
		}
		d.SetLatency(0)
		d.SetMute(true)
		evs.waitFor(t, "disconnected from the hung reader", func(ev reader.Event) bool {
			return ev.Kind == reader.EventState && ev.State == reader.StateDisconnected
		})
		d.SetMute(false)
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkCollectRoundTrip(b *testing.B) {
	d := New(Options{Auto: &Auto{Card: "visa"}})
	c := reader.New(reader.Options{Dialer: d.Dialer()})
	defer func() { _ = c.Close() }()
	if err := c.Connect(b.Context()); err != nil {
		b.Fatal(err)
	}
	req := reader.CollectRequest{PaymentIntent: "pi_bench", Amount: 1250, Currency: "CHF"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Collect(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}

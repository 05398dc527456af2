package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/sim"
)

func TestParseReader(t *testing.T) {
	for _, tc := range []struct {
		in, kind, want, wantErr string
	}{
		{in: "simulator", kind: "simulator"},
		{in: "usb", kind: "usb", want: "1209:0001"},
		{in: "usb:2fe3:0100,1209:0001", kind: "usb", want: "2fe3:0100 1209:0001"},
		{in: "tcp://127.0.0.1:7070", kind: "tcp", want: "127.0.0.1:7070"},
		{in: "tcp://localhost:7070", kind: "tcp", want: "localhost:7070"},
		{in: "tcp://[::1]:7070", kind: "tcp", want: "[::1]:7070"},
		{in: "tcp://192.168.1.20:7070", wantErr: "loopback only"},
		{in: "tcp://127.0.0.1", wantErr: "missing port"},
		{in: "usb:zz:01", wantErr: "usb id"},
		{in: "bluetooth", wantErr: "is not simulator"},
		{in: "", wantErr: "is not simulator"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			spec, err := parseReader(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseReader(%q) = %v, want an error with %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := spec.addr
			if spec.kind == "usb" {
				var ids []string
				for _, id := range spec.ids {
					ids = append(ids, id.String())
				}
				got = strings.Join(ids, " ")
			}
			if spec.kind != tc.kind || got != tc.want {
				t.Errorf("parseReader(%q) = %s %q, want %s %q", tc.in, spec.kind, got, tc.kind, tc.want)
			}
		})
	}
}

// waitPhase waits until the built-in simulator is in phase (for the
// order's PaymentIntent when it collects).
func waitPhase(t *testing.T, ctx context.Context, d *sim.Device, phase sim.Phase) sim.Snapshot {
	t.Helper()
	return waitSim(t, ctx, d, "phase "+phase.String(), func(s sim.Snapshot) bool { return s.Phase == phase })
}

// collectAsync starts CollectCard for the order and returns its outcome
// channel.
func (lt *liveTill) collectAsync(ctx context.Context, id string) <-chan error {
	done := make(chan error, 1)
	go func() { _, err := lt.CollectCard(ctx, id); done <- err }()
	return done
}

// TestReaderCardSale is a card sale through the reader: what the reader
// collected (brand, last 4) reaches the order, and the reader is released
// into "processing" once the confirmation is in the outbox.
func TestReaderCardSale(t *testing.T) {
	lt := openLiveTill(t, nil)
	ctx := testCtx(t)
	o := lt.charge(t, ctx)
	done := lt.collectAsync(ctx, o.ID())
	s := waitPhase(t, ctx, lt.Simulator(), sim.PhaseWaiting)
	card, _ := CurrentCard(o)
	if s.Collecting.PaymentIntent != card.Payment.PaymentIntentID {
		t.Fatalf("reader collects for %s, want %s", s.Collecting.PaymentIntent, card.Payment.PaymentIntentID)
	}
	if want, _ := card.Amount.StripeAmount(); s.Collecting.Amount != want || s.Collecting.Currency != "chf" {
		t.Errorf("reader collects %d %s, want %d chf", s.Collecting.Amount, s.Collecting.Currency, want)
	}
	if err := lt.Simulator().Insert("mastercard", true); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	o, err := lt.WaitOrder(ctx, o.ID(), func(o *order.Order) bool { return o.Status() == order.StatusCompleted })
	if err != nil {
		t.Fatal(err)
	}
	card, _ = CurrentCard(o)
	if card.Payment.Brand != "mastercard" || card.Payment.Last4 != "4444" {
		t.Errorf("order's card is %s %s, want mastercard 4444 from the reader", card.Payment.Brand, card.Payment.Last4)
	}
	if s := lt.Simulator().Snapshot(); s.Phase != sim.PhaseIdle || s.Display.Message != "Processing…" {
		t.Errorf("reader after the sale: phase %s, message %q; want idle showing Processing…", s.Phase, s.Display.Message)
	}
	lt.waitIdle(t, ctx)
	lt.assertPaid(t, ctx, o)
}

// TestReaderInterruptions: the customer cancels on the reader, then the
// reader is unplugged mid-collection; each time the order waits for a card
// on the same PaymentIntent, and the next card pays it.
func TestReaderInterruptions(t *testing.T) {
	lt := openLiveTill(t, nil)
	ctx := testCtx(t)
	o := lt.charge(t, ctx)
	d := lt.Simulator()

	done := lt.collectAsync(ctx, o.ID())
	waitPhase(t, ctx, d, sim.PhaseWaiting)
	if err := d.CustomerCancel(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, reader.ErrCustomerCancelled) {
		t.Fatalf("customer cancel: %v, want ErrCustomerCancelled", err)
	}

	done = lt.collectAsync(ctx, o.ID())
	waitPhase(t, ctx, d, sim.PhaseWaiting)
	d.Unplug()
	if err := <-done; !errors.Is(err, reader.ErrDisconnected) {
		t.Fatalf("unplug: %v, want ErrDisconnected", err)
	}
	if o, err := lt.Order(o.ID()); err != nil || o.Status() != order.StatusTendering {
		t.Fatalf("order after the interruptions: %v, %v; want it still tendering", o.Status(), err)
	}
	d.Replug()

	o, decline := lt.collect(t, ctx, o.ID(), "visa")
	if decline != nil || o.Status() != order.StatusCompleted {
		t.Fatalf("after replug: %s, decline %+v", o.Status(), decline)
	}
	lt.waitIdle(t, ctx)
	lt.assertPaid(t, ctx, o)
}

// clock is a wall clock the test can move forward.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// TestProcessWindowPassed: the API takes longer than the reader's process
// window to accept the collected card. The till must not confirm it: the
// card is released on the reader, the order still waits for a card, and
// the next card is processed on the same PaymentIntent.
func TestProcessWindowPassed(t *testing.T) {
	clk := &clock{}
	var once sync.Once
	lt := openLiveTillWith(t, func(p *Params) { p.Now = clk.Now }, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/present_payment_method") {
				once.Do(func() { clk.advance(reader.ProcessWindow + time.Second) })
			}
			next.ServeHTTP(w, r)
		})
	})
	ctx := testCtx(t)
	o := lt.charge(t, ctx)
	_, err := lt.collectSimulated(ctx, o.ID(), "visa")
	if !errors.Is(err, reader.ErrProcessWindow) {
		t.Fatalf("collect with a slow API: %v, want ErrProcessWindow", err)
	}
	if s := waitPhase(t, ctx, lt.Simulator(), sim.PhaseIdle); s.Prompt == sim.PromptProcessing {
		t.Errorf("reader still shows %q: the card was not released", s.Prompt)
	}
	got, err := lt.Order(o.ID())
	if err != nil {
		t.Fatal(err)
	}
	if card, _ := CurrentCard(got); got.Status() != order.StatusTendering || card.Payment.Status != order.PaymentRequiresPaymentMethod {
		t.Fatalf("order after the window passed: %s, payment %s; want tendering, requires_payment_method", got.Status(), card.Payment.Status)
	}
	o, decline := lt.collect(t, ctx, o.ID(), "visa")
	if decline != nil || o.Status() != order.StatusCompleted {
		t.Fatalf("next card: %s, decline %+v", o.Status(), decline)
	}
	lt.waitIdle(t, ctx)
	lt.assertPaid(t, ctx, o)
}

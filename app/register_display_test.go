package app

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/sim"
	"github.com/tillpos/till/reader/wire"
	"github.com/tillpos/till/ui"
)

// holdConfirms is a server in front of the sandbox that parks every card
// confirmation until the test lets it through, so the test can look at
// the reader while the till waits for the payment service's answer.
type holdConfirms struct {
	next    http.Handler
	held    chan struct{} // a confirmation arrived and is parked
	release chan struct{} // lets one parked confirmation through
	stop    chan struct{} // closed at cleanup: nothing is parked any more
}

func (h *holdConfirms) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/confirm") {
		for _, ch := range []chan struct{}{h.held, h.release} {
			select {
			case ch <- struct{}{}:
			case <-h.stop:
			case <-r.Context().Done():
			}
		}
	}
	h.next.ServeHTTP(w, r)
}

// await takes a step from the parked confirmation: its arrival (h.held)
// or its release (h.release).
func (h *holdConfirms) await(t *testing.T, ctx context.Context, step chan struct{}, what string) {
	t.Helper()
	select {
	case <-step:
	case <-ctx.Done():
		t.Fatalf("the card confirmation never %s", what)
	}
}

// TestRegisterCustomerDisplayThroughCardSale: with a register open, what
// the customer sees comes from the sale's state, written by the register's
// display loop alone: "Processing…" while the card's confirmation is with
// the payment service, "Card declined" after a decline, "Processing…"
// again for the next card, and "Thank you!" once paid.
func TestRegisterCustomerDisplayThroughCardSale(t *testing.T) {
	h := &holdConfirms{held: make(chan struct{}), release: make(chan struct{}), stop: make(chan struct{})}
	lt := openLiveTillWith(t, nil, func(next http.Handler) http.Handler { h.next = next; return h })
	t.Cleanup(func() { close(h.stop) })
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	message := func(m string) func(wire.Display) bool {
		return func(d wire.Display) bool { return d.Screen == wire.ScreenMessage && d.Message == m }
	}

	// attempt taps card, and watches the reader while its confirmation is
	// parked at the front server.
	attempt := func(card string) {
		t.Helper()
		tapWhenAsked(t, ctx, lt, r, card)
		h.await(t, ctx, h.held, "reached the payment service")
		waitDisplay(t, ctx, lt.Simulator(), "processing "+card, message("Processing…"))
		h.await(t, ctx, h.release, "went through")
	}

	mustDo(t, "charge", r.ChargeCard())
	attempt("charge_declined_insufficient_funds")
	waitSale(t, ctx, r, "declined", stepIs(ui.CardDeclined))
	waitDisplay(t, ctx, lt.Simulator(), "the decline", message("Card declined"))

	mustDo(t, "retry", r.RetryCard())
	attempt("visa")
	waitSale(t, ctx, r, "paid", stageIs(ui.StageDone))
	d := waitDisplay(t, ctx, lt.Simulator(), "thank you", func(d wire.Display) bool { return d.Screen == wire.ScreenThankYou })
	if d.Message != "Thank you!" {
		t.Errorf("thank-you screen says %q", d.Message)
	}
}

// TestLateDisplayWriteIsCoveredAgain: the card worker writes the reader
// itself (SetDisplay is what releases a reader holding a collected card),
// and that write can land after the register's display loop has moved on.
// The loop is told, and puts its own screen back over the late one.
func TestLateDisplayWriteIsCoveredAgain(t *testing.T) {
	var mu sync.Mutex
	tick := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	lt := openLiveTillWith(t, func(p *Params) {
		// Every screen the reader takes gets a later time than the one before.
		p.Simulator.Now = func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			tick = tick.Add(time.Second)
			return tick
		}
	}, nil)
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	mustDo(t, "cash", r.PayCash("20"))
	dev := lt.Simulator()
	waitDisplay(t, ctx, dev, "thank you", func(d wire.Display) bool { return d.Screen == wire.ScreenThankYou })
	before := dev.Snapshot().DisplayAt

	lt.showOnReader(ctx, r.Sale().OrderID, "a late screen", reader.Display{Screen: wire.ScreenMessage, Message: "Processing…"})
	waitSim(t, ctx, dev, "the register's screen back over the late one", func(s sim.Snapshot) bool {
		return s.Display.Screen == wire.ScreenThankYou && s.DisplayAt.After(before)
	})
}

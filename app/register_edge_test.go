package app

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/ui"
)

// Edge cases of the cashier-side card flow, against a real sandbox over
// loopback: refused confirmations, late declines, restarts, closed registers.

// confirmGate is a server in front of the sandbox that holds the first
// PaymentIntent confirmation until released (reporting when it holds
// it), and can refuse every confirmation with a permanent 400 instead.
type confirmGate struct {
	refuse bool // every confirm gets a permanent invalid_request_error

	once    sync.Once
	held    chan struct{}
	release chan struct{}
	freed   sync.Once
}

func newConfirmGate(refuse bool) *confirmGate {
	return &confirmGate{refuse: refuse, held: make(chan struct{}), release: make(chan struct{})}
}

func (g *confirmGate) free() { g.freed.Do(func() { close(g.release) }) }

func (g *confirmGate) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/confirm") {
			next.ServeHTTP(w, r)
			return
		}
		if g.refuse {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"parameter_invalid_empty","message":"refused by the test's front"}}`)
			return
		}
		first := false
		g.once.Do(func() { first = true })
		if first {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			close(g.held)
			<-g.release
		}
		next.ServeHTTP(w, r)
	})
}

// openGatedTill is a live till whose confirmations pass through g.
func openGatedTill(t *testing.T, g *confirmGate) *liveTill {
	t.Helper()
	lt := openLiveTillWith(t, nil, g.front)
	t.Cleanup(g.free) // runs before the front server closes
	return lt
}

func currentPI(t *testing.T, lt *liveTill, id string) string {
	t.Helper()
	o, err := lt.Order(id)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := CurrentCard(o)
	if !ok {
		t.Fatalf("order %s has no card in play", id)
	}
	return c.Payment.PaymentIntentID
}

// TestRegisterDeadConfirmationLeavesAWayOut: the API refuses a card's
// confirmation for good (a 400; the PaymentIntent stays in
// requires_confirmation, so nothing was authorised). The outbox
// dead-letters it and writes nothing on the order, whose card stays
// requires_confirmation. The sale must not be stuck "authorising": the
// screen says the payment was refused, and cash or a void settles it,
// discarding the dead confirmation so nothing can authorise that card later.
func TestRegisterDeadConfirmationLeavesAWayOut(t *testing.T) {
	g := newConfirmGate(true)
	lt := openGatedTill(t, g)
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	mustDo(t, "charge", r.ChargeCard())
	tapWhenAsked(t, ctx, lt, r, "visa")
	err := lt.waitUntil(ctx, "the confirmation to be dead-lettered", func() (bool, error) {
		st, err := lt.store.Stats()
		return st.Dead == 1, err
	})
	mustDo(t, "wait for the dead letter", err)
	id := r.Sale().OrderID
	pi := currentPI(t, lt, id)
	if got, _, err := lt.api.RetrievePaymentIntent(ctx, pi, &stripe.PaymentIntentRetrieveParams{}); err != nil ||
		got.Status == stripe.PaymentIntentStatusRequiresCapture || got.Status == stripe.PaymentIntentStatusSucceeded {
		t.Fatalf("PaymentIntent %s: %+v, %v; the front refused the confirm, nothing may be authorised", pi, got, err)
	}

	v := r.Sale()
	if !v.CanVoid && !v.CanPayCash {
		t.Errorf("a confirmation the API refused for good leaves the cashier no way out: card %+v, CanVoid %v, CanPayCash %v, CanRetryCard %v",
			v.Card, v.CanVoid, v.CanPayCash, v.CanRetryCard)
	}
	if err := r.Void(); err != nil {
		t.Fatalf("void a sale whose card was never authorised: %v", err)
	}
	if o, err := lt.Order(id); err != nil || o.Status() != order.StatusVoided {
		t.Fatalf("order after void: %v, %v", o.Status(), err)
	}
}

// TestRegisterDeclineAfterCancelWhileAuthorisingIsShown: the cashier stops
// watching while the card is being authorised (CancelCard: the
// confirmation is in the outbox and carries on). The bank then declines
// it. The screen must say so, though no worker watches the order any more.
func TestRegisterDeclineAfterCancelWhileAuthorisingIsShown(t *testing.T) {
	g := newConfirmGate(false)
	lt := openGatedTill(t, g)
	ctx := testCtx(t)
	r := openRegister(t, lt)
	ringUp(t, r)
	mustDo(t, "charge", r.ChargeCard())
	tapWhenAsked(t, ctx, lt, r, "charge_declined_insufficient_funds")
	select {
	case <-g.held: // the confirmation is committed and on the wire
	case <-ctx.Done():
		t.Fatal("the confirmation never reached the API")
	}
	id := r.Sale().OrderID
	mustDo(t, "cancel card while authorising", r.CancelCard())
	g.free()
	if _, err := lt.WaitOrder(ctx, id, func(o *order.Order) bool { settled, _ := CardOutcome(o); return settled }); err != nil {
		t.Fatal(err)
	}
	v := r.Sale()
	if v.Card.Step != ui.CardDeclined || !strings.Contains(v.Card.Message, "insufficient funds") {
		t.Errorf("after the bank declined the card the screen shows step %d %q, want the decline", v.Card.Step, v.Card.Message)
	}
	if !v.CanRetryCard || !v.CanPayCash {
		t.Errorf("after a decline: CanRetryCard %v, CanPayCash %v", v.CanRetryCard, v.CanPayCash)
	}
}

// TestRegisterRefusedCashKeepsTheCardCollection: the customer is at the
// reader when the cashier types too little cash. PayCash is refused
// (underpaid) and must change nothing: the card collection on the reader
// carries on.
func TestRegisterRefusedCashKeepsTheCardCollection(t *testing.T) {
	lt := openLiveTill(t, nil)
	_, r := atTheReader(t, lt)
	if err := r.PayCash("0.05"); !errors.Is(err, order.ErrUnderpaid) {
		t.Fatalf("5 centimes for an 11 franc sale: %v, want ErrUnderpaid", err)
	}
	if v := r.Sale(); v.Card.Step != ui.CardPresent || !v.CanCancelCard {
		t.Errorf("a refused cash payment stopped the card collection: card %+v, CanCancelCard %v", v.Card, v.CanCancelCard)
	}
}

// TestRegisterClosedRegisterStartsNoCardWorker: after Close (the app is
// quitting; the screen's worker may still run a queued tap), ChargeCard
// must be refused like every cart change is: no PaymentIntent creation is
// enqueued and no card worker starts that nobody would stop or wait for.
func TestRegisterClosedRegisterStartsNoCardWorker(t *testing.T) {
	lt := openLiveTill(t, nil)
	r, err := lt.NewRegister()
	if err != nil {
		t.Fatal(err)
	}
	ringUp(t, r)
	r.Close()
	err = r.ChargeCard()
	r.mu.Lock()
	run := r.run
	r.mu.Unlock()
	if run != nil {
		// Stop the stray worker so the till closes cleanly.
		run.cancel()
		<-run.done
	}
	if !errors.Is(err, ErrClosed) {
		t.Errorf("ChargeCard on a closed register: %v, want ErrClosed", err)
	}
	if run != nil {
		t.Error("a closed register started a card worker")
	}
	var creates int
	err = lt.store.View(func(tx *queue.Tx) error {
		es, err := tx.OrderEntries(r.id)
		for _, e := range es {
			if e.Op == queue.OpCreate {
				creates++
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if creates != 0 {
		t.Errorf("a closed register enqueued %d PaymentIntent creation(s)", creates)
	}
}

// TestRegisterResumedAuthorisationShowsItsDecline: the till restarts (here:
// the register is reopened) while a card is being authorised. The resumed
// card worker waits for that authorisation's outcome, and a decline is
// shown with its reason; the reader does not start another collection
// unasked (SPEC §2.1: a decline shows its reason, then another card on the
// same PaymentIntent).
func TestRegisterResumedAuthorisationShowsItsDecline(t *testing.T) {
	g := newConfirmGate(false)
	lt := openGatedTill(t, g)
	ctx := testCtx(t)
	r1, err := lt.NewRegister()
	if err != nil {
		t.Fatal(err)
	}
	ringUp(t, r1)
	mustDo(t, "charge", r1.ChargeCard())
	tapWhenAsked(t, ctx, lt, r1, "charge_declined_insufficient_funds")
	select {
	case <-g.held:
	case <-ctx.Done():
		t.Fatal("the confirmation never reached the API")
	}
	id := r1.Sale().OrderID
	r1.Close()
	r2 := openRegister(t, lt)
	if v := r2.Sale(); v.OrderID != id || v.Card.Step != ui.CardProcessing {
		t.Fatalf("resumed sale: %s, card %+v; want %s authorising", v.OrderID, v.Card, id)
	}
	changed := make(chan struct{}, 1)
	r2.Subscribe(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	g.free()
	d := lt.Simulator()
	for {
		simChanged := d.Changed()
		if v := r2.Sale(); v.Card.Step == ui.CardDeclined {
			return // the cashier sees the decline
		}
		if s := d.Snapshot(); s.Collecting != nil {
			t.Fatalf("the reader asks for another card and the cashier was never told of the decline: card %+v", r2.Sale().Card)
		}
		select {
		case <-changed:
		case <-simChanged:
		case <-ctx.Done():
			t.Fatalf("neither a decline shown nor a new collection: card %+v", r2.Sale().Card)
		}
	}
}

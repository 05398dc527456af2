package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/drain"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

// liveTill is a till talking to a real sandbox over loopback, with its
// drainer running, and a client of its own to inspect the sandbox.
type liveTill struct {
	*Till
	srv *sandboxtest.Server
	api *api.Client
}

func openLiveTill(t *testing.T, mutate func(*Config)) *liveTill {
	t.Helper()
	return openLiveTillWith(t, func(p *Params) {
		if mutate != nil {
			mutate(&p.Config)
		}
	}, nil)
}

// openLiveTillWith opens a started till on a fresh sandbox; mutate adjusts
// its Params, and front, when not nil, wraps the sandbox in a server of the
// test's own that the till talks to instead.
func openLiveTillWith(t *testing.T, mutate func(*Params), front func(sandbox http.Handler) http.Handler) *liveTill {
	t.Helper()
	return openLiveTillOn(t, sandbox.Options{}, mutate, front)
}

// openLiveTillOn is openLiveTillWith on a sandbox with opts.
func openLiveTillOn(t *testing.T, opts sandbox.Options, mutate func(*Params), front func(sandbox http.Handler) http.Handler) *liveTill {
	t.Helper()
	srv := sandboxtest.New(t, opts)
	url := srv.URL
	if front != nil {
		fs := httptest.NewServer(front(srv.Server))
		t.Cleanup(fs.Close)
		url = fs.URL
	}
	p := Params{Config: DefaultConfig()}
	p.Config.Database = filepath.Join(t.TempDir(), "till.db")
	p.Config.API = APIConfig{BaseURL: url, Key: Secret(srv.Key)}
	if mutate != nil {
		mutate(&p)
	}
	till, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	till.Start()
	t.Cleanup(func() {
		if err := till.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	c, err := api.New(api.Config{BaseURL: srv.URL, Key: srv.Key})
	if err != nil {
		t.Fatal(err)
	}
	return &liveTill{Till: till, srv: srv, api: c}
}

// ctx bounds a test's waits. It is a safety net for a broken build, never
// a way to wait for something.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func (lt *liveTill) waitIdle(t *testing.T, ctx context.Context) queue.Stats {
	t.Helper()
	if err := lt.waitDrained(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := lt.store.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// intentsFor lists the sandbox's PaymentIntents for an order.
func (lt *liveTill) intentsFor(t *testing.T, ctx context.Context, orderID string) []*stripe.PaymentIntent {
	t.Helper()
	var out []*stripe.PaymentIntent
	for pi, err := range lt.api.PaymentIntents(ctx, &stripe.PaymentIntentListParams{}) {
		if err != nil {
			t.Fatal(err)
		}
		if pi.Metadata["order_id"] == orderID {
			out = append(out, pi)
		}
	}
	return out
}

// charge rings up a demo basket, charges it by card and waits for its
// PaymentIntent to exist.
func (lt *liveTill) charge(t *testing.T, ctx context.Context) *order.Order {
	t.Helper()
	o, err := lt.demoBasket()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lt.ChargeCard(o); err != nil {
		t.Fatal(err)
	}
	o, err = lt.WaitOrder(ctx, o.ID(), func(o *order.Order) bool { _, ok := CurrentCard(o); return ok })
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (lt *liveTill) collect(t *testing.T, ctx context.Context, id, card string) (*order.Order, *order.Decline) {
	t.Helper()
	if _, err := lt.collectSimulated(ctx, id, card); err != nil {
		t.Fatal(err)
	}
	o, err := lt.WaitOrder(ctx, id, func(o *order.Order) bool { settled, _ := CardOutcome(o); return settled })
	if err != nil {
		t.Fatal(err)
	}
	_, decline := CardOutcome(o)
	return o, decline
}

// assertPaid checks the sandbox's side of a completed card sale: one
// PaymentIntent for the order, captured for exactly the order's total.
func (lt *liveTill) assertPaid(t *testing.T, ctx context.Context, o *order.Order) {
	t.Helper()
	pis := lt.intentsFor(t, ctx, o.ID())
	if len(pis) != 1 {
		t.Fatalf("order %s has %d PaymentIntents, want 1", o.ID(), len(pis))
	}
	want, _ := o.Totals().Total.StripeAmount()
	if pi := pis[0]; pi.Status != stripe.PaymentIntentStatusSucceeded || pi.AmountReceived != want || pi.Metadata["lane"] != "lane1" {
		t.Fatalf("PaymentIntent %s: status %s, received %d, lane %q; want succeeded, %d, lane1",
			pi.ID, pi.Status, pi.AmountReceived, pi.Metadata["lane"], want)
	}
}

func TestCardSaleApprovedAndCaptured(t *testing.T) {
	lt := openLiveTill(t, nil)
	ctx := testCtx(t)
	o := lt.charge(t, ctx)
	o, decline := lt.collect(t, ctx, o.ID(), "mastercard")
	if decline != nil || o.Status() != order.StatusCompleted {
		t.Fatalf("order %s: %s, decline %+v", o.ID(), o.Status(), decline)
	}
	card, _ := CurrentCard(o)
	if card.Payment.Brand != "mastercard" || card.Payment.Last4 == "" {
		t.Errorf("receipt card = %s %s, want mastercard and its last 4", card.Payment.Brand, card.Payment.Last4)
	}
	if st := lt.waitIdle(t, ctx); st.Dead != 0 {
		t.Fatalf("dead letters: %+v", st)
	}
	lt.assertPaid(t, ctx, o)
}

// TestDeclineThenApproveOnSamePaymentIntent follows SPEC §2.1's first
// failure row: a decline shows its reason, and the next card goes on the
// same PaymentIntent.
func TestDeclineThenApproveOnSamePaymentIntent(t *testing.T) {
	lt := openLiveTill(t, nil)
	ctx := testCtx(t)
	o := lt.charge(t, ctx)
	first, _ := CurrentCard(o)
	o, decline := lt.collect(t, ctx, o.ID(), "charge_declined_insufficient_funds")
	if decline == nil || decline.Code != "insufficient_funds" || o.Status() != order.StatusTendering {
		t.Fatalf("after a declined card: %s, decline %+v", o.Status(), decline)
	}
	o, decline = lt.collect(t, ctx, o.ID(), "visa")
	if decline != nil || o.Status() != order.StatusCompleted {
		t.Fatalf("after an approved card: %s, decline %+v", o.Status(), decline)
	}
	if second, _ := CurrentCard(o); second.Payment.PaymentIntentID != first.Payment.PaymentIntentID {
		t.Fatalf("a new PaymentIntent after a decline: %s, then %s", first.Payment.PaymentIntentID, second.Payment.PaymentIntentID)
	}
	lt.waitIdle(t, ctx)
	lt.assertPaid(t, ctx, o)
}

// TestCreateWhoseAnswerIsASaved500 covers the indeterminate creates. The
// server saves a 500 for the key and replays it on every retry, either
// after the create committed (the next attempt must find the PaymentIntent
// by metadata[order_id] and never create another) or before anything
// happened (the lookup proves it, and only then does a superseding key
// create the PaymentIntent).
func TestCreateWhoseAnswerIsASaved500(t *testing.T) {
	for _, kind := range []sandbox.FaultKind{sandbox.FaultErrorAfterCommit, sandbox.FaultErrorBeforeCommit} {
		t.Run(string(kind), func(t *testing.T) {
			lt := openLiveTill(t, nil)
			ctx := testCtx(t)
			lt.srv.InjectFaults(t, sandbox.FaultConfig{Seed: 1, Rules: []sandbox.FaultRule{{
				Method: "POST", Path: "/v1/payment_intents", Kind: kind, Times: 1}}})
			o := lt.charge(t, ctx)
			o, _ = lt.collect(t, ctx, o.ID(), "visa")
			lt.waitIdle(t, ctx)
			lt.assertPaid(t, ctx, o)
			if n := lt.srv.Faults().Rules[0].Injected; n != 1 {
				t.Fatalf("fault injected %d times, want 1", n)
			}
		})
	}
}

// TestConfirmResponseLost drops the connection after the confirm committed:
// the retry must record the authorisation, not confirm twice.
func TestConfirmResponseLost(t *testing.T) {
	lt := openLiveTill(t, nil)
	ctx := testCtx(t)
	o := lt.charge(t, ctx)
	lt.srv.InjectFaults(t, sandbox.FaultConfig{Seed: 1, Rules: []sandbox.FaultRule{
		{Method: "POST", Path: "/v1/payment_intents/*/confirm", Kind: sandbox.FaultDropAfterCommit, Times: 1},
	}})
	o, decline := lt.collect(t, ctx, o.ID(), "visa")
	if decline != nil || o.Status() != order.StatusCompleted {
		t.Fatalf("order %s: %s, decline %+v", o.ID(), o.Status(), decline)
	}
	lt.waitIdle(t, ctx)
	lt.assertPaid(t, ctx, o)
	if n := lt.srv.Faults().Rules[0].Injected; n != 1 {
		t.Fatalf("the dropped response was injected %d times, want 1", n)
	}
}

// TestCaptureAfterExpiryIsDeadLettered: an authorisation that expired
// before its capture cannot be captured; the entry goes to the manager.
func TestCaptureAfterExpiryIsDeadLettered(t *testing.T) {
	lt := openLiveTill(t, func(c *Config) { c.CaptureAtEndOfDay = true })
	ctx := testCtx(t)
	o := lt.charge(t, ctx)
	o, _ = lt.collect(t, ctx, o.ID(), "visa")
	if o.Status() != order.StatusCompleted {
		t.Fatalf("order %s: %s", o.ID(), o.Status())
	}
	lt.waitIdle(t, ctx)
	card, _ := CurrentCard(o)
	if pis := lt.intentsFor(t, ctx, o.ID()); len(pis) != 1 || pis[0].Status != stripe.PaymentIntentStatusRequiresCapture {
		t.Fatalf("with capture at end of day the authorisation must stay open: %+v", pis)
	}
	lt.srv.AdvanceClock(t, 49*time.Hour)
	err := lt.store.Update(func(tx *queue.Tx) error {
		return enqueueCapture(tx, o, card.Payment.PaymentIntentID, 100)
	})
	if err != nil {
		t.Fatal(err)
	}
	st := lt.waitIdle(t, ctx)
	if st.Dead != 1 {
		t.Fatalf("stats %+v, want one dead letter", st)
	}
	err = lt.store.View(func(tx *queue.Tx) error {
		return tx.ForEachDead(func(e queue.Entry) error {
			if e.Op != queue.OpCapture || !strings.Contains(e.LastError, "canceled") {
				t.Errorf("dead letter %s: %s", e.Op, e.LastError)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// holdFirst is a server in front of the sandbox that parks the first
// request whose Idempotency-Key ends with suffix: it reads it, reports it
// held, and forwards it only when released, detached from its client — a
// request still running on the server after its client was killed.
type holdFirst struct {
	next          http.Handler
	suffix        string
	once          sync.Once
	held, release chan struct{}
	forwarded     chan struct{}
}

func (h *holdFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	first := false
	if strings.HasSuffix(r.Header.Get("Idempotency-Key"), h.suffix) {
		h.once.Do(func() { first = true })
	}
	if !first {
		h.next.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	close(h.held)
	<-h.release
	parked := r.Clone(context.Background())
	parked.Body = io.NopCloser(bytes.NewReader(body))
	h.next.ServeHTTP(httptest.NewRecorder(), parked) // its client is gone
	close(h.forwarded)
}

// TestSupersedingCreateStillInFlight pins the race the chaos test caught
// once as a double charge. The create's own key holds a saved 500 from a
// request that had no effect, so the executor proves that and sends a
// superseding create — which is still running on the server when its lane
// is killed. The next attempt's lookup cannot see it yet. The superseding
// keys form a fixed chain, so the next attempt sends the very same key,
// and the server runs the create once.
func TestSupersedingCreateStillInFlight(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.SetFaults(sandbox.FaultConfig{Seed: 1, Rules: []sandbox.FaultRule{{
		Method: "POST", Path: "/v1/payment_intents", Kind: sandbox.FaultErrorBeforeCommit, Times: 1}}}); err != nil {
		t.Fatal(err)
	}
	hold := &holdFirst{next: sb, suffix: ":retry1", held: make(chan struct{}), release: make(chan struct{}), forwarded: make(chan struct{})}
	front := httptest.NewServer(hold)
	defer front.Close()
	key := "sk_test_hold"
	cfg := DefaultConfig()
	cfg.Database = filepath.Join(t.TempDir(), "till.db")
	cfg.API = APIConfig{BaseURL: front.URL, Key: Secret(key)}
	till, err := Open(Params{Config: cfg}) // not started: the test plays the drainer
	if err != nil {
		t.Fatal(err)
	}
	defer till.Close()
	o, err := till.demoBasket()
	if err != nil {
		t.Fatal(err)
	}
	entry, err := till.ChargeCard(o)
	if err != nil {
		t.Fatal(err)
	}
	x := &executor{client: till.client, now: time.Now, log: till.log}

	// Attempt 1: the create's key gets a saved 500 that had no effect, so
	// a superseding create goes out — and is held; then the lane dies.
	killed, kill := context.WithCancel(t.Context())
	first := make(chan drain.Outcome, 1)
	entry.Attempts = 1
	go func() { first <- x.Execute(killed, entry) }()
	select {
	case <-hold.held:
	case out := <-first:
		t.Fatalf("attempt 1 ended (%v: %v) without a superseding create", out.Kind, out.Err)
	}
	kill()
	if out := <-first; out.Kind == drain.Done {
		t.Fatal("a killed attempt reports done")
	}

	// Attempt 2 runs while attempt 1's create is still on the server.
	entry.Attempts = 2
	if out := x.Execute(testCtx(t), entry); out.Kind != drain.Done {
		t.Fatalf("attempt 2: %v: %v", out.Kind, out.Err)
	}
	close(hold.release)
	<-hold.forwarded

	lt := &liveTill{Till: till, api: till.client}
	if pis := lt.intentsFor(t, testCtx(t), o.ID()); len(pis) != 1 {
		t.Fatalf("order %s has %d PaymentIntents: a double charge", o.ID(), len(pis))
	}
}

package events_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/events"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

// waitLimit bounds every wait on the poller; reaching it fails the test
// (it is a deadline, not a pause).
const waitLimit = 30 * time.Second

// store is the test's cursor store: what the app keeps in bbolt, here a
// mutex-protected cursor with the history of what was applied.
type store struct {
	mu       sync.Mutex
	cursor   string
	saved    []string
	applied  []*stripe.Event
	attempts []string       // event ids offered to Apply, failures included
	failures map[string]int // event id → Apply failures still to produce
	states   []events.State // OnState, in order
	notify   chan struct{}  // poked after every change
	block    chan struct{}  // if non-nil, Apply waits on it (or ctx)
	inApply  chan struct{}  // if non-nil, Apply signals it on entry
	loadErr  error
	seen     map[string]bool // applied ids
	twice    []string        // ids applied more than once
}

func newStore(cursor string) *store {
	return &store{cursor: cursor, failures: map[string]int{}, notify: make(chan struct{}, 1), seen: map[string]bool{}}
}

func (s *store) poke() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *store) load() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor, s.loadErr
}

func (s *store) save(_ context.Context, c string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursor = c
	s.saved = append(s.saved, c)
	s.poke()
	return nil
}

func (s *store) apply(ctx context.Context, ev *stripe.Event) (string, error) {
	if s.inApply != nil {
		s.inApply <- struct{}{}
	}
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.poke()
	s.attempts = append(s.attempts, ev.ID)
	if n := s.failures[ev.ID]; n > 0 {
		s.failures[ev.ID] = n - 1
		return "", fmt.Errorf("order for %s: disk on fire", ev.ID)
	}
	if s.seen[ev.ID] {
		s.twice = append(s.twice, ev.ID)
	}
	s.seen[ev.ID] = true
	s.applied = append(s.applied, ev)
	s.cursor = ev.ID
	return ev.ID, nil
}

func (s *store) onState(st events.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states = append(s.states, st)
	s.poke()
}

// waitUntil waits until cond (called with the lock held) holds.
func (s *store) waitUntil(t *testing.T, what string, cond func(s *store) bool) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok := cond(s)
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-s.notify:
		case <-deadline.C:
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("timed out waiting for %s: applied %d, attempts %v, states %v", what, len(s.applied), s.attempts, statuses(s.states))
		}
	}
}

func (s *store) waitApplied(t *testing.T, n int) {
	t.Helper()
	s.waitUntil(t, fmt.Sprintf("%d applied events", n), func(s *store) bool { return len(s.applied) >= n })
}

// waitState waits for a state with status st reported after the first
// `after` states.
func (s *store) waitState(t *testing.T, after int, st events.Status) events.State {
	t.Helper()
	var got events.State
	s.waitUntil(t, "state "+st.String(), func(s *store) bool {
		for _, x := range s.states[min(after, len(s.states)):] {
			if x.Status == st {
				got = x
				return true
			}
		}
		return false
	})
	return got
}

func (s *store) numStates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.states)
}

func (s *store) appliedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, len(s.applied))
	for i, e := range s.applied {
		ids[i] = e.ID
	}
	return ids
}

func statuses(sts []events.State) []string {
	out := make([]string, len(sts))
	for i, s := range sts {
		out[i] = s.Status.String()
	}
	return out
}

// newClient builds an API client for baseURL that retries once without
// waiting, so failures reach the poller fast.
func newClient(t testing.TB, baseURL, key string) *api.Client {
	t.Helper()
	c, err := api.New(api.Config{
		BaseURL: baseURL, Key: key, MaxAttempts: 2,
		Backoff: func(int, time.Duration) time.Duration { return 0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// running is a poller started on its own goroutine.
type running struct {
	p      *events.Poller
	cancel context.CancelFunc
	done   chan error
}

// start builds a poller over st and runs it until the test ends (or stop).
// Polls are driven by Wake and by the quick backoff; Every is long so that
// the test decides when a caught-up poller looks again.
func start(t *testing.T, c *api.Client, st *store, mod ...func(*events.Config)) *running {
	t.Helper()
	cfg := events.Config{
		Client: c, Load: st.load, Save: st.save, Apply: st.apply, OnState: st.onState,
		Every:   time.Hour,
		Backoff: func(int) time.Duration { return time.Millisecond },
	}
	for _, m := range mod {
		m(&cfg)
	}
	p, err := events.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{p: p, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the poller and waits for Run to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Run: %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after cancel")
	}
}

// driver makes PaymentIntent events happen on the sandbox.
type driver struct {
	t   testing.TB
	srv *sandboxtest.Server
	c   *api.Client
	n   atomic.Int64
}

func newDriver(t testing.TB, srv *sandboxtest.Server) *driver {
	return &driver{t: t, srv: srv, c: newClient(t, srv.URL, srv.Key)}
}

func (d *driver) key(op string) string { return fmt.Sprintf("%s-%d", op, d.n.Add(1)) }

func (d *driver) params(pm string) *stripe.PaymentIntentCreateParams {
	p := &stripe.PaymentIntentCreateParams{
		Amount: stripe.Int64(1000), Currency: stripe.String("eur"),
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
		PaymentMethod:      stripe.String(pm), Confirm: stripe.Bool(true),
	}
	p.AddMetadata("order_id", fmt.Sprint(d.n.Load()))
	p.AddMetadata("lane", "lane-1")
	return p
}

// succeeded: a card payment with automatic capture (payment_intent.succeeded).
func (d *driver) succeeded() *stripe.PaymentIntent {
	d.t.Helper()
	pi, _, err := d.c.CreatePaymentIntent(context.Background(), d.params("pm_card_visa"), d.key("succeed"))
	if err != nil || pi.Status != stripe.PaymentIntentStatusSucceeded {
		d.t.Fatalf("create succeeded payment: %v %v", err, pi)
	}
	return pi
}

// authorised: manual capture (payment_intent.amount_capturable_updated).
func (d *driver) authorised() *stripe.PaymentIntent {
	d.t.Helper()
	p := d.params("pm_card_visa")
	p.CaptureMethod = stripe.String("manual")
	pi, _, err := d.c.CreatePaymentIntent(context.Background(), p, d.key("auth"))
	if err != nil || pi.Status != stripe.PaymentIntentStatusRequiresCapture {
		d.t.Fatalf("create authorised payment: %v %v", err, pi)
	}
	return pi
}

// declined: payment_intent.payment_failed.
func (d *driver) declined() {
	d.t.Helper()
	_, _, err := d.c.CreatePaymentIntent(context.Background(), d.params("pm_card_chargeDeclined"), d.key("decline"))
	if !errors.Is(err, api.ErrDeclined) {
		d.t.Fatalf("create declined payment: %v", err)
	}
}

// canceled: payment_intent.canceled.
func (d *driver) canceled() *stripe.PaymentIntent {
	d.t.Helper()
	pi := d.authorised()
	pi, _, err := d.c.CancelPaymentIntent(context.Background(), pi.ID, nil, d.key("cancel"))
	if err != nil || pi.Status != stripe.PaymentIntentStatusCanceled {
		d.t.Fatalf("cancel: %v %v", err, pi)
	}
	return pi
}

// sepa: payment_intent.processing now; succeeded (or payment_failed for
// the failing IBAN) once the sandbox clock passes the processing delay.
func (d *driver) sepa(iban string) *stripe.PaymentIntent {
	d.t.Helper()
	p := &stripe.PaymentIntentCreateParams{
		Amount: stripe.Int64(2000), Currency: stripe.String("eur"),
		PaymentMethodTypes: stripe.StringSlice([]string{"sepa_debit"}),
		PaymentMethodData: &stripe.PaymentIntentCreatePaymentMethodDataParams{
			Type: stripe.String("sepa_debit"), SEPADebit: &stripe.PaymentMethodSEPADebitParams{IBAN: stripe.String(iban)}},
		Confirm: stripe.Bool(true),
	}
	pi, _, err := d.c.CreatePaymentIntent(context.Background(), p, d.key("sepa"))
	if err != nil || pi.Status != stripe.PaymentIntentStatusProcessing {
		d.t.Fatalf("create SEPA payment: %v %v", err, pi)
	}
	return pi
}

// twint: a TWINT payment the customer authorises (action "authorize") or
// refuses ("fail") on the sandbox's redirect page, as on a phone.
func (d *driver) twint(action string) *stripe.PaymentIntent {
	d.t.Helper()
	p := &stripe.PaymentIntentCreateParams{
		Amount: stripe.Int64(1250), Currency: stripe.String("chf"),
		PaymentMethodTypes: stripe.StringSlice([]string{"twint"}),
		PaymentMethodData:  &stripe.PaymentIntentCreatePaymentMethodDataParams{Type: stripe.String("twint")},
		Confirm:            stripe.Bool(true), ReturnURL: stripe.String("https://till.invalid/back"),
	}
	pi, _, err := d.c.CreatePaymentIntent(context.Background(), p, d.key("twint"))
	if err != nil || pi.Status != stripe.PaymentIntentStatusRequiresAction || pi.NextAction == nil || pi.NextAction.RedirectToURL == nil {
		d.t.Fatalf("create TWINT payment: %v %+v", err, pi)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.PostForm(pi.NextAction.RedirectToURL.URL, url.Values{"action": {action}})
	if err != nil {
		d.t.Fatal(err)
	}
	res.Body.Close()
	hc.CloseIdleConnections()
	if res.StatusCode != http.StatusSeeOther {
		d.t.Fatalf("authorise page: %s", res.Status)
	}
	return pi
}

// listed returns the ids of the events of types on the sandbox, oldest
// first, read directly (not through the poller).
func (d *driver) listed(types ...string) []string {
	d.t.Helper()
	if len(types) == 0 {
		types = events.DefaultTypes
	}
	var ids []string
	for ev, err := range d.c.Events(context.Background(), &stripe.EventListParams{Types: stripe.StringSlice(types), ListParams: stripe.ListParams{Limit: stripe.Int64(100)}}) {
		if err != nil {
			d.t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	slices.Reverse(ids)
	return ids
}

// proxy is a front proxy to the sandbox that can be switched off: then it
// aborts every connection without an answer, as a dead link does.
type proxy struct {
	URL  string
	down atomic.Bool
	hits atomic.Int64
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &proxy{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		if p.down.Load() {
			panic(http.ErrAbortHandler)
		}
		rp.ServeHTTP(w, r)
	}))
	hs.Config.ErrorLog = nil
	t.Cleanup(hs.Close)
	p.URL = hs.URL
	return p
}

func newSandbox(t testing.TB) *sandboxtest.Server {
	return sandboxtest.New(t, sandbox.Options{})
}

func typeOf(ev *stripe.Event) string { return string(ev.Type) }

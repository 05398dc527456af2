package events_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/events"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestNewRejectsBadConfig(t *testing.T) {
	c, err := api.New(api.Config{BaseURL: "http://127.0.0.1:1", Key: "sk_test_x"})
	if err != nil {
		t.Fatal(err)
	}
	st := newStore("")
	ok := events.Config{Client: c, Load: st.load, Save: st.save, Apply: st.apply}
	many := make([]string, events.MaxTypes+1)
	for i := range many {
		many[i] = "payment_intent.t" + string(rune('a'+i))
	}
	tests := []struct {
		name string
		mod  func(*events.Config)
	}{
		{"no client", func(c *events.Config) { c.Client = nil }},
		{"no load", func(c *events.Config) { c.Load = nil }},
		{"no save", func(c *events.Config) { c.Save = nil }},
		{"no apply", func(c *events.Config) { c.Apply = nil }},
		{"negative every", func(c *events.Config) { c.Every = -time.Second }},
		{"negative retry", func(c *events.Config) { c.RetryPermanent = -time.Second }},
		{"too many types", func(c *events.Config) { c.Types = many }},
		{"empty type", func(c *events.Config) { c.Types = []string{"payment_intent.succeeded", ""} }},
		{"repeated type", func(c *events.Config) { c.Types = []string{"payment_intent.succeeded", "payment_intent.succeeded"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			if _, err := events.New(cfg); !errors.Is(err, events.ErrInvalidConfig) {
				t.Fatalf("New: %v, want ErrInvalidConfig", err)
			}
		})
	}
	if _, err := events.New(ok); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

// A till without a cursor starts after the newest event: history is
// saved as the starting point, never applied; then every kind of outcome
// is applied, in order, once.
func TestStartsFromNowThenAppliesEveryOutcomeInOrder(t *testing.T) {
	srv := newSandbox(t)
	d := newDriver(t, srv)
	for range 3 {
		d.succeeded()
	}
	d.canceled() // amount_capturable_updated, canceled
	history := d.listed()
	if len(history) != 5 {
		t.Fatalf("history %v", history)
	}

	st := newStore("")
	r := start(t, newClient(t, srv.URL, srv.Key), st)
	st.waitState(t, 0, events.CaughtUp)
	st.mu.Lock()
	saved, applied := slices.Clone(st.saved), len(st.applied)
	st.mu.Unlock()
	if !slices.Equal(saved, history[len(history)-1:]) || applied != 0 {
		t.Fatalf("first poll saved %v (want the newest event %s) and applied %d events (want 0)", saved, history[len(history)-1], applied)
	}

	mark := st.numStates()
	d.twint("authorize")               // succeeded
	d.twint("fail")                    // payment_failed
	d.sepa("DE89370400440532013000")   // processing, then succeeded
	d.sepa("DE62370400440532013001")   // processing, then payment_failed
	d.authorised()                     // amount_capturable_updated
	d.declined()                       // payment_failed
	d.canceled()                       // amount_capturable_updated, canceled
	srv.AdvanceClock(t, 2*time.Minute) // SEPA debits settle
	want := d.listed()[len(history):]
	r.p.Wake()
	st.waitApplied(t, len(want))
	st.waitState(t, mark, events.CaughtUp)

	if got := st.appliedIDs(); !slices.Equal(got, want) {
		t.Fatalf("applied %v\nwant    %v", got, want)
	}
	seen := map[string]int{}
	st.mu.Lock()
	for _, ev := range st.applied {
		seen[typeOf(ev)]++
		if ev.Data == nil || ev.Data.Object["object"] != "payment_intent" {
			t.Errorf("event %s carries no PaymentIntent", ev.ID)
		}
	}
	st.mu.Unlock()
	for _, typ := range events.DefaultTypes {
		if seen[typ] == 0 {
			t.Errorf("no %s applied (applied types %v)", typ, seen)
		}
	}
	if seen["payment_intent.created"] != 0 || seen["payment_intent.requires_action"] != 0 {
		t.Errorf("unwanted types applied: %v", seen)
	}
}

// More than two pages of new events are applied oldest first, across
// page boundaries, each once.
func TestCatchesUpAcrossPagesInOrder(t *testing.T) {
	srv := newSandbox(t)
	d := newDriver(t, srv)
	d.succeeded()
	startAt := d.listed()
	if len(startAt) != 1 {
		t.Fatalf("listed %v", startAt)
	}
	const n = 2*events.PageSize + 37
	for range n {
		d.succeeded()
	}
	want := d.listed()[1:]
	if len(want) != n {
		t.Fatalf("sandbox listed %d new events, want %d", len(want), n)
	}

	st := newStore(startAt[0])
	start(t, newClient(t, srv.URL, srv.Key), st)
	st.waitApplied(t, n)
	st.waitState(t, 0, events.CaughtUp)
	if got := st.appliedIDs(); !slices.Equal(got, want) {
		t.Fatalf("applied %d events out of order or wrong:\n%v\nwant\n%v", len(got), got, want)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.saved) != 0 || len(st.twice) != 0 || st.cursor != want[len(want)-1] {
		t.Fatalf("saved %v, applied twice %v, cursor %s (want %s)", st.saved, st.twice, st.cursor, want[len(want)-1])
	}
}

// Stopping and starting again from the persisted cursor applies nothing
// twice, and then what is new.
func TestRestartAppliesNothingTwice(t *testing.T) {
	srv := newSandbox(t)
	d := newDriver(t, srv)
	d.succeeded()
	st := newStore(d.listed()[0])
	c := newClient(t, srv.URL, srv.Key)

	for range 5 {
		d.succeeded()
	}
	r := start(t, c, st)
	st.waitApplied(t, 5)
	st.waitState(t, 0, events.CaughtUp)
	r.stop(t)

	// Restart with nothing new: the poller catches up without applying.
	mark := st.numStates()
	r = start(t, c, st)
	st.waitState(t, mark, events.CaughtUp)
	r.stop(t)
	if got := len(st.appliedIDs()); got != 5 {
		t.Fatalf("restart with nothing new applied %d events in all, want 5", got)
	}

	// Restart with one new event: only that one is applied.
	extra := d.canceled()
	r = start(t, c, st)
	st.waitApplied(t, 7)
	r.stop(t)
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.twice) != 0 || len(st.applied) != 7 {
		t.Fatalf("applied %d events, twice: %v", len(st.applied), st.twice)
	}
	last := st.applied[len(st.applied)-1]
	if typeOf(last) != "payment_intent.canceled" || last.Data.Object["id"] != extra.ID {
		t.Fatalf("last applied %s %v, want the cancel of %s", last.Type, last.Data.Object["id"], extra.ID)
	}
}

// An event Apply fails on is offered again, nothing after it is applied
// meanwhile, and the failure is reported.
func TestApplyFailureRetriesTheSameEvent(t *testing.T) {
	srv := newSandbox(t)
	d := newDriver(t, srv)
	d.succeeded()
	st := newStore(d.listed()[0])
	for range 3 {
		d.succeeded()
	}
	ids := d.listed()[1:]
	st.failures[ids[1]] = 2

	start(t, newClient(t, srv.URL, srv.Key), st)
	st.waitApplied(t, 3)
	failing := st.waitState(t, 0, events.Failing)
	st.waitState(t, 0, events.CaughtUp)

	if !errors.Is(failing.Err, events.ErrApply) || failing.Cursor != ids[0] {
		t.Fatalf("failing state %+v, want ErrApply at cursor %s", failing, ids[0])
	}
	if got := st.appliedIDs(); !slices.Equal(got, ids) {
		t.Fatalf("applied %v, want %v", got, ids)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	wantAttempts := []string{ids[0], ids[1], ids[1], ids[1], ids[2]}
	if !slices.Equal(st.attempts, wantAttempts) {
		t.Fatalf("Apply offered %v, want %v", st.attempts, wantAttempts)
	}
}

// If Apply committed but still returned an error, the poller reads the
// cursor back and does not apply the event again.
func TestApplyErrorAfterCommitIsNotReapplied(t *testing.T) {
	srv := newSandbox(t)
	d := newDriver(t, srv)
	d.succeeded()
	st := newStore(d.listed()[0])
	d.succeeded()
	d.succeeded()
	want := d.listed()[1:]

	calls := 0
	start(t, newClient(t, srv.URL, srv.Key), st, func(c *events.Config) {
		c.Apply = func(ctx context.Context, ev *stripe.Event) (string, error) {
			cur, err := st.apply(ctx, ev)
			calls++
			if calls == 1 {
				return "", errors.New("commit reported lost")
			}
			return cur, err
		}
	})
	st.waitApplied(t, 2)
	st.waitState(t, 0, events.CaughtUp)
	st.mu.Lock()
	defer st.mu.Unlock()
	if !slices.Equal(st.attempts, want) || len(st.twice) != 0 {
		t.Fatalf("attempts %v (want %v), twice %v", st.attempts, want, st.twice)
	}
}

// With the API unreachable the poller reports Offline; events that happen
// meanwhile are applied once it answers again.
func TestOfflineThenCatchesUp(t *testing.T) {
	srv := newSandbox(t)
	d := newDriver(t, srv)
	d.succeeded()
	st := newStore(d.listed()[0])
	front := newProxy(t, srv.URL)
	front.down.Store(true)

	start(t, newClient(t, front.URL, srv.Key), st)
	off := st.waitState(t, 0, events.Offline)
	if !errors.Is(off.Err, api.ErrTransient) {
		t.Fatalf("offline state error %v, want a transient API error", off.Err)
	}

	d.twint("authorize")
	d.authorised()
	want := d.listed()[1:]
	mark := st.numStates()
	if got := len(st.appliedIDs()); got != 0 {
		t.Fatalf("applied %d events while offline", got)
	}
	front.down.Store(false)
	st.waitApplied(t, len(want))
	st.waitState(t, mark, events.CaughtUp)
	if got := st.appliedIDs(); !slices.Equal(got, want) {
		t.Fatalf("applied %v, want %v", got, want)
	}
}

// A refused key is reported as Failing with the permanent error and
// retried slowly; cancelling returns at once.
func TestPermanentErrorIsReported(t *testing.T) {
	srv := newSandbox(t)
	st := newStore("")
	r := start(t, newClient(t, srv.URL, "sk_test_wrong_key_0000"), st, func(c *events.Config) {
		c.RetryPermanent = time.Hour
	})
	f := st.waitState(t, 0, events.Failing)
	if !errors.Is(f.Err, api.ErrPermanent) || api.ClassOf(f.Err) != api.Permanent {
		t.Fatalf("failing state error %v, want a permanent API error", f.Err)
	}
	if msg := f.Err.Error(); !strings.HasPrefix(msg, "events: list events: GET /v1/events: HTTP 401") {
		t.Fatalf("error text %q", msg)
	}
	if strings.Contains(f.Err.Error(), "wrong_key") {
		t.Fatalf("error text shows the key: %q", f.Err)
	}
	r.stop(t)
}

// The cursor event aged out of the list (30 days): the poller resumes
// from the oldest event still listed, all newer than the lost cursor.
func TestLostCursorResumesFromOldestListed(t *testing.T) {
	srv := newSandbox(t)
	d := newDriver(t, srv)
	d.succeeded()
	st := newStore(d.listed()[0])
	srv.AdvanceClock(t, 31*24*time.Hour)
	for range 3 {
		d.succeeded()
	}
	want := d.listed()
	if len(want) != 3 {
		t.Fatalf("sandbox still lists %v", want)
	}
	start(t, newClient(t, srv.URL, srv.Key), st)
	st.waitApplied(t, 3)
	st.waitState(t, 0, events.CaughtUp)
	if got := st.appliedIDs(); !slices.Equal(got, want) {
		t.Fatalf("applied %v, want %v", got, want)
	}
}

// With nothing listed at the first poll the cursor stays empty, and what
// appears afterwards is applied from its first event.
func TestEmptyHistoryAppliesEverythingNew(t *testing.T) {
	srv := newSandbox(t)
	d := newDriver(t, srv)
	d.sepa("AT611904300234573201") // processing is wanted; created is not listed
	st := newStore("")
	// Only settled outcomes: the first poll lists nothing.
	types := []string{"payment_intent.succeeded", "payment_intent.payment_failed"}
	r := start(t, newClient(t, srv.URL, srv.Key), st, func(c *events.Config) { c.Types = types })
	st.waitState(t, 0, events.CaughtUp)
	if cur, _ := st.load(); cur != "" || len(st.appliedIDs()) != 0 {
		t.Fatalf("cursor %q with nothing listed", cur)
	}
	mark := st.numStates()
	srv.AdvanceClock(t, 2*time.Minute)
	d.succeeded()
	d.declined()
	want := d.listed(types...)
	if len(want) != 3 {
		t.Fatalf("listed %v", want)
	}
	r.p.Wake()
	st.waitApplied(t, 3)
	st.waitState(t, mark, events.CaughtUp)
	if got := st.appliedIDs(); !slices.Equal(got, want) {
		t.Fatalf("applied %v, want %v", got, want)
	}
}

// Cancelling while Apply runs returns promptly; the event is not counted
// as applied; a second Run at the same time is refused.
func TestCancelReturnsPromptly(t *testing.T) {
	srv := newSandbox(t)
	d := newDriver(t, srv)
	d.succeeded()
	st := newStore(d.listed()[0])
	d.succeeded()
	st.block = make(chan struct{}) // never released
	st.inApply = make(chan struct{}, 1)
	r := start(t, newClient(t, srv.URL, srv.Key), st)
	select {
	case <-st.inApply:
	case <-time.After(waitLimit):
		t.Fatal("Apply not called")
	}
	if err := r.p.Run(context.Background()); !errors.Is(err, events.ErrRunning) {
		t.Fatalf("second Run: %v, want ErrRunning", err)
	}
	r.stop(t)
	if got := len(st.appliedIDs()); got != 0 {
		t.Fatalf("applied %d", got)
	}
}

func TestLoadErrorEndsRun(t *testing.T) {
	srv := newSandbox(t)
	st := newStore("")
	st.loadErr = errors.New("bolt: database not open")
	p, err := events.New(events.Config{Client: newClient(t, srv.URL, srv.Key), Load: st.load, Save: st.save, Apply: st.apply})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err == nil || !errors.Is(err, st.loadErr) {
		t.Fatalf("Run: %v, want the load error", err)
	}
}

// A panic in Apply is an Apply failure: reported, and the event retried.
func TestApplyPanicIsRetried(t *testing.T) {
	srv := newSandbox(t)
	d := newDriver(t, srv)
	d.succeeded()
	st := newStore(d.listed()[0])
	d.succeeded()
	want := d.listed()[1:]
	var panicked atomic.Bool
	start(t, newClient(t, srv.URL, srv.Key), st, func(c *events.Config) {
		c.Apply = func(ctx context.Context, ev *stripe.Event) (string, error) {
			if panicked.CompareAndSwap(false, true) {
				panic("nil order")
			}
			return st.apply(ctx, ev)
		}
	})
	st.waitApplied(t, 1)
	f := st.waitState(t, 0, events.Failing)
	if !errors.Is(f.Err, events.ErrApply) || !strings.Contains(f.Err.Error(), "panic: nil order") {
		t.Fatalf("failing state %v", f.Err)
	}
	if got := st.appliedIDs(); !slices.Equal(got, want) {
		t.Fatalf("applied %v, want %v", got, want)
	}
}

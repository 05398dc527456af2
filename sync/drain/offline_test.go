package drain_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/drain"
)

// fakeAPI is an API that can be switched off: while down every call and
// probe fails as unreachable. It records when each call was made.
type fakeAPI struct {
	up     atomic.Bool
	mu     sync.Mutex
	calls  []time.Time
	probes int
}

func (a *fakeAPI) Execute(_ context.Context, e queue.Entry) drain.Outcome {
	a.mu.Lock()
	a.calls = append(a.calls, time.Now())
	a.mu.Unlock()
	if !a.up.Load() {
		return drain.Outcome{Kind: drain.Retry, Unreachable: true, Err: errDown}
	}
	return drain.Outcome{Kind: drain.Done}
}

func (a *fakeAPI) probe(context.Context) error {
	a.mu.Lock()
	a.probes++
	a.mu.Unlock()
	if !a.up.Load() {
		return errDown
	}
	return nil
}

func (a *fakeAPI) callsSince(t time.Time) []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []time.Time
	for _, c := range a.calls {
		if !c.Before(t) {
			out = append(out, c)
		}
	}
	return out
}

func (a *fakeAPI) counts() (calls, probes int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.calls), a.probes
}

// TestOfflineResume: with the API down, the drainer goes offline after one
// attempt, burns no attempts during a long outage, and resumes within one
// ProbeEvery of the API coming back, whatever the outage's length.
func TestOfflineResume(t *testing.T) {
	for _, outage := range []time.Duration{3 * time.Second, 90 * time.Minute} {
		t.Run(outage.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := openStore(t, t.TempDir(), nil)
				defer s.Close()
				var seqs []uint64
				for i := range 10 {
					e := addOrder(t, s, fmt.Sprintf("o%d", i), queue.NewEntry{Op: queue.OpCreate})
					seqs = append(seqs, e[0].Seq)
				}
				// Entries that already failed many times (an earlier outage):
				// their backoff is long, which must not delay the resume.
				age(t, s, 20)
				api := &fakeAPI{}
				rec := newRecorder()
				d := mustNew(t, drain.Config{Store: s, Executor: api, Probe: api.probe, OnEvent: rec.on,
					Backoff: drain.ExponentialBackoff(time.Second, 5*time.Minute)})
				stop := running(t, d)
				synctest.Wait()
				if d.State() != drain.Offline {
					t.Fatalf("state with the API down = %v", d.State())
				}
				rec.waitFor(t, "offline", func(ev drain.Event) bool { return ev.State == drain.Offline })

				// A long outage costs no attempts.
				time.Sleep(outage)
				synctest.Wait()
				calls, probes := api.counts()
				if calls > 1 {
					t.Fatalf("%d calls during a %v outage, want at most 1 (the one that found it)", calls, outage)
				}
				if wantProbes := int(outage / time.Second); probes < wantProbes || probes > wantProbes+2 {
					t.Errorf("%d probes in %v, want about one a second", probes, outage)
				}

				// Back at an odd moment between two probes.
				time.Sleep(337 * time.Millisecond)
				back := time.Now()
				api.up.Store(true)
				ev := rec.waitFor(t, "drained", func(ev drain.Event) bool { return drained(ev) && ev.State == drain.Online })
				sent := api.callsSince(back)
				if len(sent) != 10 {
					t.Fatalf("%d calls after the API came back, want 10", len(sent))
				}
				if resume := sent[0].Sub(back); resume > time.Second {
					t.Fatalf("first entry sent %v after the API came back, want within 1s", resume)
				} else {
					t.Logf("resumed after %v (fake clock)", resume)
				}
				if all := sent[len(sent)-1].Sub(back); all > time.Second {
					t.Fatalf("last entry sent %v after the API came back, want all within 1s", all)
				}
				if ev.Dead != 0 {
					t.Fatalf("dead letters from an outage: %d", ev.Dead)
				}
				for _, seq := range seqs {
					if e := entry(t, s, seq); e.State != queue.StateDone || e.Attempts > 22 {
						t.Errorf("entry %d: %v after %d attempts", seq, e.State, e.Attempts)
					}
				}
				if err := stop(); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// TestOfflineWithoutProbe: with no Probe, one due entry per ProbeEvery
// finds out whether the API is back.
func TestOfflineWithoutProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStore(t, t.TempDir(), nil)
		defer s.Close()
		for i := range 5 {
			addOrder(t, s, fmt.Sprintf("o%d", i), queue.NewEntry{Op: queue.OpCreate})
		}
		api := &fakeAPI{}
		rec := newRecorder()
		d := mustNew(t, drain.Config{Store: s, Executor: api, OnEvent: rec.on, Concurrency: 4})
		stop := running(t, d)
		time.Sleep(10*time.Second + 500*time.Millisecond)
		synctest.Wait()
		if d.State() != drain.Offline {
			t.Fatalf("state = %v", d.State())
		}
		if calls, _ := api.counts(); calls != 11 {
			t.Fatalf("%d trial calls in 10.5s offline, want 11 (one at start, then one a second)", calls)
		}
		back := time.Now()
		api.up.Store(true)
		rec.waitFor(t, "drained", drained)
		sent := api.callsSince(back)
		if len(sent) != 5 || sent[0].Sub(back) > time.Second {
			t.Fatalf("after the API came back: %d calls, first after %v", len(sent), sent[0].Sub(back))
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestIdleProbe: online with nothing to do, the drainer probes every
// IdleProbeEvery and notices the API going away.
func TestIdleProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStore(t, t.TempDir(), nil)
		defer s.Close()
		api := &fakeAPI{}
		api.up.Store(true)
		rec := newRecorder()
		d := mustNew(t, drain.Config{Store: s, Executor: api, Probe: api.probe, OnEvent: rec.on})
		stop := running(t, d)
		synctest.Wait()
		if d.State() != drain.Online {
			t.Fatalf("state after the first probe = %v", d.State())
		}
		time.Sleep(10*time.Minute + time.Second)
		synctest.Wait()
		if _, probes := api.counts(); probes != 21 {
			t.Fatalf("%d probes in 10 min idle, want 21 (at start, then every 30s)", probes)
		}
		api.up.Store(false)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if d.State() != drain.Offline {
			t.Fatalf("state 30s after the API went away = %v", d.State())
		}
		if ev := rec.all(); ev[len(ev)-1].State != drain.Offline {
			t.Fatalf("last event %+v, want offline", ev[len(ev)-1])
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPersistedBackoff: a transient failure's next attempt is on disk; a
// drainer on the reopened store waits for it and no longer.
func TestPersistedBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir, nil)
		e := addOrder(t, s, "o1", queue.NewEntry{Op: queue.OpCreate})[0]
		hour := func(int) time.Duration { return time.Hour }
		var calls atomic.Int32
		exec := drain.ExecutorFunc(func(context.Context, queue.Entry) drain.Outcome {
			if calls.Add(1) == 1 {
				return drain.Outcome{Kind: drain.Retry, Err: errors.New("HTTP 503 service unavailable")}
			}
			return drain.Outcome{Kind: drain.Done}
		})
		start := time.Now()
		stop := running(t, mustNew(t, drain.Config{Store: s, Executor: exec, Backoff: hour}))
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		s = openStore(t, dir, nil)
		defer s.Close()
		got := entry(t, s, e.Seq)
		if got.State != queue.StatePending || !got.NextAttempt.Equal(start.Add(time.Hour)) || got.Attempts != 1 ||
			!strings.Contains(got.LastError, "503") {
			t.Fatalf("after reopen: %+v, want pending until %v after 1 attempt with the 503", got, start.Add(time.Hour))
		}
		stop = running(t, mustNew(t, drain.Config{Store: s, Executor: exec, Backoff: hour}))
		time.Sleep(time.Hour - time.Millisecond)
		synctest.Wait()
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d calls before the persisted next attempt", n)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if n := calls.Load(); n != 2 {
			t.Fatalf("%d calls at the persisted next attempt, want 2", n)
		}
		if got := entry(t, s, e.Seq); got.State != queue.StateDone || !got.Finished.Equal(start.Add(time.Hour)) {
			t.Fatalf("entry %+v, want done at the next attempt", got)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestGracefulStop: stopping cancels executions in flight; an interrupted
// call is due again at once with the same key, and a call that finished
// anyway is recorded.
func TestGracefulStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStore(t, t.TempDir(), nil)
		defer s.Close()
		cut := addOrder(t, s, "cut", queue.NewEntry{Op: queue.OpCreate})[0]
		finished := addOrder(t, s, "finished", queue.NewEntry{Op: queue.OpCreate})[0]
		var keys []string
		var mu sync.Mutex
		started := make(chan struct{}, 2)
		exec := drain.ExecutorFunc(func(ctx context.Context, e queue.Entry) drain.Outcome {
			mu.Lock()
			keys = append(keys, e.IdempotencyKey)
			mu.Unlock()
			started <- struct{}{}
			<-ctx.Done()
			if e.OrderID == "finished" {
				return drain.Outcome{Kind: drain.Done, Record: updateOrder(e.OrderID, func(o *testOrder) { o.PI = "pi_f" })}
			}
			return drain.Outcome{Kind: drain.Retry, Err: fmt.Errorf("create: %w", ctx.Err())}
		})
		d := mustNew(t, drain.Config{Store: s, Executor: exec, Probe: func(context.Context) error { return nil }})
		stop := running(t, d)
		<-started
		<-started
		stopAt := time.Now()
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if st := stats(t, s); st.InFlight != 0 {
			t.Fatalf("%d entries left in flight after stop", st.InFlight)
		}
		got := entry(t, s, cut.Seq)
		if got.State != queue.StatePending || !got.NextAttempt.Equal(stopAt) || !strings.Contains(got.LastError, "interrupted") {
			t.Fatalf("interrupted entry: %+v", got)
		}
		if got := entry(t, s, finished.Seq); got.State != queue.StateDone || readOrder(t, s, "finished").PI != "pi_f" {
			t.Fatalf("entry finished during stop: %+v", got)
		}
		if ev := d.Snapshot(); ev.InFlight != 0 || ev.Pending != 1 {
			t.Fatalf("final snapshot %+v", ev)
		}

		// A new drainer on the same open store sends it again at once, with
		// the same idempotency key.
		again := drain.ExecutorFunc(func(_ context.Context, e queue.Entry) drain.Outcome {
			mu.Lock()
			keys = append(keys, e.IdempotencyKey)
			mu.Unlock()
			return drain.Outcome{Kind: drain.Done}
		})
		stop = running(t, mustNew(t, drain.Config{Store: s, Executor: again}))
		synctest.Wait()
		if !time.Now().Equal(stopAt) {
			t.Fatalf("resent after %v, want at once", time.Since(stopAt))
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got := entry(t, s, cut.Seq); got.State != queue.StateDone {
			t.Fatalf("after restart: %+v", got)
		}
		if n := strings.Count(strings.Join(keys, " "), cut.IdempotencyKey); n != 2 {
			t.Fatalf("key %s sent %d times, want 2: %v", cut.IdempotencyKey, n, keys)
		}
	})
}

// TestPanickingExecutorDoesNotStopOthers: an order whose executor panics
// every time is retried with backoff; the other orders drain.
func TestPanickingExecutorDoesNotStopOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStore(t, t.TempDir(), nil)
		defer s.Close()
		bad := addOrder(t, s, "bad", queue.NewEntry{Op: queue.OpCreate})[0]
		for i := range 5 {
			addOrder(t, s, fmt.Sprintf("good%d", i), queue.NewEntry{Op: queue.OpCreate}, queue.NewEntry{Op: queue.OpCapture})
		}
		d := mustNew(t, drain.Config{Store: s, Backoff: minutes, Probe: func(context.Context) error { return nil },
			Executor: drain.ExecutorFunc(func(_ context.Context, e queue.Entry) drain.Outcome {
				if e.OrderID == "bad" {
					panic(fmt.Errorf("decode payload of %s: %w", e.OrderID, errors.ErrUnsupported))
				}
				return drain.Outcome{Kind: drain.Done}
			})})
		stop := running(t, d)
		time.Sleep(3*time.Minute + time.Second) // fake: attempts at 0, +1m, +3m
		synctest.Wait()
		st := stats(t, s)
		if st.Pending != 1 || st.Done != 10 {
			t.Fatalf("stats %+v, want the 10 good entries done and the bad one pending", st)
		}
		got := entry(t, s, bad.Seq)
		if got.Attempts != 3 || !strings.Contains(got.LastError, "executor panicked: decode payload of bad") {
			t.Fatalf("bad entry %+v", got)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestWake: an idle drainer sleeps without a timer and picks up a new
// entry at once when woken, with no time passing.
func TestWake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wake := make(chan struct{}, 1)
		s := openStore(t, t.TempDir(), wake)
		defer s.Close()
		var calls atomic.Int32
		d := mustNew(t, drain.Config{Store: s, Wake: wake, Executor: drain.ExecutorFunc(func(context.Context, queue.Entry) drain.Outcome {
			calls.Add(1)
			return drain.Outcome{Kind: drain.Done}
		})})
		stop := running(t, d)
		synctest.Wait()
		t0 := time.Now()
		addOrder(t, s, "o1", queue.NewEntry{Op: queue.OpCreate})
		synctest.Wait()
		if calls.Load() != 1 || !time.Now().Equal(t0) {
			t.Fatalf("after enqueue: %d calls, %v later", calls.Load(), time.Since(t0))
		}
		// Without the store's signal, Drainer.Wake does the same.
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		s2 := openStore(t, t.TempDir(), nil)
		defer s2.Close()
		d2 := mustNew(t, drain.Config{Store: s2, Executor: drain.ExecutorFunc(func(context.Context, queue.Entry) drain.Outcome {
			calls.Add(1)
			return drain.Outcome{Kind: drain.Done}
		})})
		stop = running(t, d2)
		synctest.Wait()
		addOrder(t, s2, "o2", queue.NewEntry{Op: queue.OpCreate})
		time.Sleep(time.Hour)
		synctest.Wait()
		if calls.Load() != 1 {
			t.Fatalf("an unwoken drainer with no due time ran the entry (%d calls)", calls.Load())
		}
		d2.Wake()
		synctest.Wait()
		if calls.Load() != 2 {
			t.Fatalf("Wake did not run the entry (%d calls)", calls.Load())
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEvents: events carry the counts and state, are deduplicated, spaced
// by EventInterval unless the state changes, and end on the final state.
func TestEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStore(t, t.TempDir(), nil)
		defer s.Close()
		const n = 60
		for i := range n {
			ops := []queue.NewEntry{{Op: queue.OpCreate}, {Op: queue.OpCapture}}
			addOrder(t, s, fmt.Sprintf("o%02d", i), ops...)
		}
		oldest := time.Now()
		time.Sleep(time.Minute)
		rec := newRecorder()
		d := mustNew(t, drain.Config{Store: s, OnEvent: rec.on, Concurrency: 4, EventInterval: 100 * time.Millisecond,
			Probe: func(context.Context) error { return nil },
			Executor: drain.ExecutorFunc(func(_ context.Context, e queue.Entry) drain.Outcome {
				time.Sleep(5 * time.Millisecond)
				if e.OrderID == "o07" && e.Op == queue.OpCreate {
					return drain.Outcome{Kind: drain.Dead, Err: errors.New("HTTP 400 amount_too_small")}
				}
				return drain.Outcome{Kind: drain.Done}
			})})
		stop := running(t, d)
		last := rec.waitFor(t, "drained", func(ev drain.Event) bool { return ev.Pending == 1 && ev.InFlight == 0 })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		evs := rec.all()
		first := evs[0]
		if first.Pending != 2*n || !first.OldestPending.Equal(oldest) || first.OldestPendingAge() != time.Minute {
			t.Errorf("first event %+v, want %d pending, the oldest a minute old", first, 2*n)
		}
		if last.Dead != 1 || last.Blocked != 1 || last.State != drain.Online || !strings.Contains(last.LastError, "amount_too_small") {
			t.Errorf("final event %+v", last)
		}
		if len(evs) > 20 {
			t.Errorf("%d events for %d entries drained in ~%v: not coalesced", len(evs), 2*n, last.At.Sub(first.At))
		}
		for i := 1; i < len(evs); i++ {
			prev, ev := evs[i-1], evs[i]
			if ev.State == prev.State && ev.At.Sub(prev.At) < 100*time.Millisecond {
				t.Errorf("events %d and %d only %v apart", i-1, i, ev.At.Sub(prev.At))
			}
			same := ev
			same.At = prev.At
			if same == prev {
				t.Errorf("event %d repeats event %d", i, i-1)
			}
		}
		t.Logf("%d events, %d entries", len(evs), 2*n)
	})
}

// age leases and reschedules every due entry n times, as an earlier run
// that met transient failures would have.
func age(tb testing.TB, s *queue.Store, n int) {
	tb.Helper()
	for range n {
		var leases []queue.Lease
		for {
			l, err := s.Lease(time.Now())
			if errors.Is(err, queue.ErrNoneDue) {
				break
			} else if err != nil {
				tb.Fatal(err)
			}
			leases = append(leases, l)
		}
		for _, l := range leases {
			if err := s.Reschedule(l, time.Now(), "payment API unreachable: earlier outage"); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

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

// minutes is a deterministic backoff for tests: attempts × 1 min.
func minutes(attempts int) time.Duration { return time.Duration(attempts) * time.Minute }

func TestNewConfig(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	defer s.Close()
	exec := drain.ExecutorFunc(func(context.Context, queue.Entry) drain.Outcome { return drain.Outcome{Kind: drain.Done} })
	for _, tc := range []struct {
		name string
		cfg  drain.Config
		ok   bool
	}{
		{"no store", drain.Config{Executor: exec}, false},
		{"no executor", drain.Config{Store: s}, false},
		{"negative concurrency", drain.Config{Store: s, Executor: exec, Concurrency: -1}, false},
		{"negative probe period", drain.Config{Store: s, Executor: exec, ProbeEvery: -time.Second}, false},
		{"defaults", drain.Config{Store: s, Executor: exec}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := drain.New(tc.cfg)
			if tc.ok != (err == nil) {
				t.Fatalf("New: %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, drain.ErrConfig) {
				t.Fatalf("New: %v, want ErrConfig", err)
			}
			if tc.ok && d.State() != drain.Unknown {
				t.Fatalf("state before Run = %v", d.State())
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStore(t, t.TempDir(), nil)
		defer s.Close()
		d := mustNew(t, drain.Config{Store: s, Executor: drain.ExecutorFunc(func(context.Context, queue.Entry) drain.Outcome {
			return drain.Outcome{Kind: drain.Done}
		})})
		stop := running(t, d)
		synctest.Wait()
		if err := d.Run(t.Context()); !errors.Is(err, drain.ErrRunning) {
			t.Fatalf("second Run: %v, want ErrRunning", err)
		}
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		// Run again after it returned.
		stop = running(t, d)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatalf("Run again: %v", err)
		}
	})
}

func TestExponentialBackoff(t *testing.T) {
	b := drain.ExponentialBackoff(time.Second, 5*time.Minute)
	for _, tc := range []struct {
		attempts int
		want     time.Duration // the upper bound; the lower is half of it
	}{
		{-3, time.Second}, {0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{9, 256 * time.Second}, {10, 5 * time.Minute}, {64, 5 * time.Minute}, {1 << 30, 5 * time.Minute},
	} {
		for range 200 {
			if got := b(tc.attempts); got < tc.want/2 || got > tc.want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", tc.attempts, got, tc.want/2, tc.want)
			}
		}
	}
}

// TestOutcomes checks what each kind of outcome leaves on disk: state,
// next attempt (on the fake clock, exactly), error and the order's record.
func TestOutcomes(t *testing.T) {
	errRecord := errors.New("order does not decode")
	for _, tc := range []struct {
		name      string
		out       func(orderID string) drain.Outcome
		panics    bool
		wantState queue.State
		wantNext  time.Duration // from the lease, for pending entries
		wantErr   string        // substring of LastError
		wantOrder testOrder
		wantConn  drain.Connectivity
	}{
		{name: "done records on the order",
			out: func(id string) drain.Outcome {
				return drain.Outcome{Kind: drain.Done, Record: updateOrder(id, func(o *testOrder) { o.PI, o.Status = "pi_1", "requires_capture" })}
			},
			wantState: queue.StateDone, wantOrder: testOrder{PI: "pi_1", Status: "requires_capture", Amount: 1000}, wantConn: drain.Online},
		{name: "done without record",
			out:       func(string) drain.Outcome { return drain.Outcome{Kind: drain.Done} },
			wantState: queue.StateDone, wantOrder: testOrder{Amount: 1000}, wantConn: drain.Online},
		{name: "done whose record fails is retried",
			out: func(string) drain.Outcome {
				return drain.Outcome{Kind: drain.Done, Record: func(*queue.Tx) error { return errRecord }}
			},
			wantState: queue.StatePending, wantNext: time.Minute, wantErr: "record result: order does not decode",
			wantOrder: testOrder{Amount: 1000}, wantConn: drain.Online},
		{name: "done whose record panics is retried",
			out: func(id string) drain.Outcome {
				return drain.Outcome{Kind: drain.Done, Record: func(tx *queue.Tx) error {
					_ = updateOrder(id, func(o *testOrder) { o.PI = "pi_lost" })(tx) // rolled back
					panic("boom in record")
				}}
			},
			wantState: queue.StatePending, wantNext: time.Minute, wantErr: "record panicked: boom in record",
			wantOrder: testOrder{Amount: 1000}, wantConn: drain.Online},
		{name: "retry backs off",
			out: func(string) drain.Outcome {
				return drain.Outcome{Kind: drain.Retry, Err: errors.New("HTTP 503 api_error")}
			},
			wantState: queue.StatePending, wantNext: time.Minute, wantErr: "HTTP 503 api_error",
			wantOrder: testOrder{Amount: 1000}, wantConn: drain.Online},
		{name: "retry-after longer than backoff wins",
			out: func(string) drain.Outcome {
				return drain.Outcome{Kind: drain.Retry, RetryAfter: 7 * time.Minute, Err: errors.New("HTTP 429 rate_limit")}
			},
			wantState: queue.StatePending, wantNext: 7 * time.Minute, wantErr: "429",
			wantOrder: testOrder{Amount: 1000}, wantConn: drain.Online},
		{name: "retry-after is capped",
			out: func(string) drain.Outcome {
				return drain.Outcome{Kind: drain.Retry, RetryAfter: 1000 * time.Hour, Err: errors.New("HTTP 429 rate_limit")}
			},
			wantState: queue.StatePending, wantNext: time.Hour, wantErr: "429",
			wantOrder: testOrder{Amount: 1000}, wantConn: drain.Online},
		{name: "unreachable is due at once and turns offline",
			out: func(string) drain.Outcome {
				return drain.Outcome{Kind: drain.Retry, Unreachable: true, Err: errDown}
			},
			wantState: queue.StatePending, wantNext: 0, wantErr: "payment API unreachable: connection refused",
			wantOrder: testOrder{Amount: 1000}, wantConn: drain.Offline},
		{name: "dead records on the order",
			out: func(id string) drain.Outcome {
				return drain.Outcome{Kind: drain.Dead, Err: errors.New("HTTP 400 parameter_invalid_integer"),
					Record: updateOrder(id, func(o *testOrder) { o.Dead = "parameter_invalid_integer" })}
			},
			wantState: queue.StateDead, wantErr: "parameter_invalid_integer",
			wantOrder: testOrder{Dead: "parameter_invalid_integer", Amount: 1000}, wantConn: drain.Online},
		{name: "dead without error",
			out:       func(string) drain.Outcome { return drain.Outcome{Kind: drain.Dead} },
			wantState: queue.StateDead, wantErr: "no error given", wantOrder: testOrder{Amount: 1000}, wantConn: drain.Online},
		{name: "zero outcome is not success",
			out:       func(string) drain.Outcome { return drain.Outcome{} },
			wantState: queue.StatePending, wantNext: time.Minute, wantErr: "invalid outcome",
			wantOrder: testOrder{Amount: 1000}, wantConn: drain.Unknown},
		{name: "executor panic is recovered",
			panics:    true,
			wantState: queue.StatePending, wantNext: time.Minute, wantErr: "executor panicked: kaboom",
			wantOrder: testOrder{Amount: 1000}, wantConn: drain.Unknown},
		{name: "secrets are redacted",
			out: func(string) drain.Outcome {
				return drain.Outcome{Kind: drain.Retry, Err: errors.New("HTTP 500 with key sk_test_abcDEF123456 in it")}
			},
			wantState: queue.StatePending, wantNext: time.Minute, wantErr: "sk_test_[redacted]",
			wantOrder: testOrder{Amount: 1000}, wantConn: drain.Online},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := openStore(t, t.TempDir(), nil)
				defer s.Close()
				e := addOrder(t, s, "o1", queue.NewEntry{Op: queue.OpCreate, Payload: []byte("amount=1000")})[0]
				var calls atomic.Int32
				rec := newRecorder()
				d := mustNew(t, drain.Config{
					Store: s, Backoff: minutes, MaxRetryAfter: time.Hour, OnEvent: rec.on,
					Executor: drain.ExecutorFunc(func(_ context.Context, e queue.Entry) drain.Outcome {
						calls.Add(1)
						if tc.panics {
							panic("kaboom")
						}
						return tc.out(e.OrderID)
					}),
				})
				start := time.Now()
				stop := running(t, d)
				synctest.Wait()
				if d.State() != tc.wantConn {
					t.Errorf("state = %v, want %v", d.State(), tc.wantConn)
				}
				if err := stop(); err != nil {
					t.Fatalf("Run: %v", err)
				}
				if n := calls.Load(); n != 1 {
					t.Fatalf("executor called %d times before any time passed, want 1", n)
				}
				got := entry(t, s, e.Seq)
				if got.State != tc.wantState {
					t.Fatalf("entry state = %v, want %v (LastError %q)", got.State, tc.wantState, got.LastError)
				}
				if got.Attempts != 1 {
					t.Errorf("attempts = %d, want 1", got.Attempts)
				}
				if tc.wantState == queue.StatePending {
					if next := got.NextAttempt.Sub(start); next != tc.wantNext {
						t.Errorf("next attempt in %v, want %v", next, tc.wantNext)
					}
				}
				if !strings.Contains(got.LastError, tc.wantErr) {
					t.Errorf("LastError = %q, want it to contain %q", got.LastError, tc.wantErr)
				}
				if strings.Contains(got.LastError, "abcDEF123456") {
					t.Errorf("secret stored: %q", got.LastError)
				}
				if o := readOrder(t, s, "o1"); o != tc.wantOrder {
					t.Errorf("order = %+v, want %+v", o, tc.wantOrder)
				}
				last := d.Snapshot()
				if last.LastError != got.LastError {
					t.Errorf("event LastError = %q, want the stored %q", last.LastError, got.LastError)
				}
				for _, ev := range rec.all() {
					if strings.Contains(ev.LastError, "abcDEF123456") {
						t.Errorf("secret in event: %q", ev.LastError)
					}
				}
			})
		})
	}
}

// TestConcurrencyBound: different orders run in parallel, never more than
// Concurrency at once, and never two entries of one order.
func TestConcurrencyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStore(t, t.TempDir(), nil)
		defer s.Close()
		const orders, conc = 12, 3
		for i := range orders {
			addOrder(t, s, fmt.Sprintf("o%02d", i),
				queue.NewEntry{Op: queue.OpCreate}, queue.NewEntry{Op: queue.OpCapture})
		}
		var mu sync.Mutex
		executing, maxExecuting := 0, 0
		perOrder := map[string]int{}
		release := make(chan struct{})
		d := mustNew(t, drain.Config{
			Store: s, Concurrency: conc,
			Probe: func(context.Context) error { return nil },
			Executor: drain.ExecutorFunc(func(ctx context.Context, e queue.Entry) drain.Outcome {
				mu.Lock()
				executing++
				maxExecuting = max(maxExecuting, executing)
				perOrder[e.OrderID]++
				if perOrder[e.OrderID] > 1 {
					t.Errorf("two entries of %s at once", e.OrderID)
				}
				mu.Unlock()
				select {
				case <-release:
				case <-ctx.Done():
				}
				mu.Lock()
				executing--
				perOrder[e.OrderID]--
				mu.Unlock()
				return drain.Outcome{Kind: drain.Done}
			}),
		})
		stop := running(t, d)
		for done := 0; done < 2*orders; done++ {
			synctest.Wait()
			mu.Lock()
			want := min(conc, 2*orders-done)
			if executing != want {
				t.Fatalf("after %d done: %d executing, want %d", done, executing, want)
			}
			mu.Unlock()
			if st := stats(t, s); st.InFlight != want {
				t.Fatalf("after %d done: store has %d in flight, want %d", done, st.InFlight, want)
			}
			release <- struct{}{}
		}
		synctest.Wait()
		if st := stats(t, s); st.Pending != 0 || st.Done != 2*orders {
			t.Fatalf("stats after drain: %+v", st)
		}
		if maxExecuting != conc {
			t.Fatalf("max concurrent executions = %d, want %d", maxExecuting, conc)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestStrictOrderPerOrder: with many workers, each order's entries are
// executed in enqueue order, each only after the previous one completed.
func TestStrictOrderPerOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStore(t, t.TempDir(), nil)
		defer s.Close()
		ops := []queue.Op{queue.OpCreate, queue.OpUpdate, queue.OpConfirm, queue.OpCapture}
		want := map[string][]uint64{}
		for i := range 20 {
			id := fmt.Sprintf("o%02d", i)
			var news []queue.NewEntry
			for _, op := range ops {
				news = append(news, queue.NewEntry{Op: op})
			}
			for _, e := range addOrder(t, s, id, news...) {
				want[id] = append(want[id], e.Seq)
			}
		}
		var mu sync.Mutex
		got := map[string][]uint64{}
		failed := map[uint64]bool{}
		d := mustNew(t, drain.Config{
			Store: s, Concurrency: 8, Backoff: func(int) time.Duration { return time.Second },
			Probe: func(context.Context) error { return nil },
			Executor: drain.ExecutorFunc(func(ctx context.Context, e queue.Entry) drain.Outcome {
				// The previous entry of the order must be in the history.
				err := s.View(func(tx *queue.Tx) error {
					es, err := tx.OrderEntries(e.OrderID)
					if err != nil {
						return err
					}
					if len(es) == 0 || es[0].Seq != e.Seq {
						return fmt.Errorf("entry %d executed while not first of %s", e.Seq, e.OrderID)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
				}
				time.Sleep(time.Duration(e.Seq%7) * time.Millisecond) // fake time: interleave orders
				mu.Lock()
				defer mu.Unlock()
				got[e.OrderID] = append(got[e.OrderID], e.Seq)
				if e.Seq%5 == 0 && !failed[e.Seq] {
					failed[e.Seq] = true // one transient failure for some entries
					return drain.Outcome{Kind: drain.Retry, Err: errors.New("HTTP 500")}
				}
				return drain.Outcome{Kind: drain.Done}
			}),
		})
		stop := running(t, d)
		for stats(t, s).Pending > 0 {
			time.Sleep(time.Second)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		for id, seqs := range want {
			var exp []uint64
			for _, seq := range seqs {
				exp = append(exp, seq)
				if seq%5 == 0 {
					exp = append(exp, seq) // executed twice in a row
				}
			}
			if fmt.Sprint(got[id]) != fmt.Sprint(exp) {
				t.Errorf("order %s executed %v, want %v", id, got[id], exp)
			}
		}
	})
}

// TestBatchedWritesIsolateFailures: outcomes written together (group
// commit) do not share failures: a Record that fails leaves only its own
// entry pending.
func TestBatchedWritesIsolateFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStore(t, t.TempDir(), nil)
		defer s.Close()
		const n = 8
		for i := range n {
			addOrder(t, s, fmt.Sprintf("o%d", i), queue.NewEntry{Op: queue.OpCreate})
		}
		var arrived sync.WaitGroup
		arrived.Add(n)
		d := mustNew(t, drain.Config{Store: s, Concurrency: n, Backoff: minutes, Probe: func(context.Context) error { return nil },
			Executor: drain.ExecutorFunc(func(_ context.Context, e queue.Entry) drain.Outcome {
				arrived.Done()
				arrived.Wait() // all n finish together, so their writes can share a commit
				if e.OrderID == "o3" {
					return drain.Outcome{Kind: drain.Done, Record: func(*queue.Tx) error { return errors.New("order o3 does not decode") }}
				}
				return drain.Outcome{Kind: drain.Done, Record: updateOrder(e.OrderID, func(o *testOrder) { o.PI = "pi_" + e.OrderID })}
			})})
		stop := running(t, d)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if st := stats(t, s); st.Done != n-1 || st.Pending != 1 {
			t.Fatalf("stats %+v, want %d done and o3 pending", st, n-1)
		}
		for i := range n {
			id := fmt.Sprintf("o%d", i)
			if o := readOrder(t, s, id); (o.PI == "") != (id == "o3") {
				t.Errorf("order %s recorded %+v", id, o)
			}
		}
	})
}

// TestRetryAfterPausesAll: a 429 with Retry-After holds every call, not
// only the entry that met it.
func TestRetryAfterPausesAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStore(t, t.TempDir(), nil)
		defer s.Close()
		for i := range 4 {
			addOrder(t, s, fmt.Sprintf("o%d", i), queue.NewEntry{Op: queue.OpCreate})
		}
		start := time.Now()
		var mu sync.Mutex
		var calls []time.Duration
		d := mustNew(t, drain.Config{Store: s, Concurrency: 1, Backoff: func(int) time.Duration { return time.Second },
			Probe: func(context.Context) error { return nil },
			Executor: drain.ExecutorFunc(func(_ context.Context, e queue.Entry) drain.Outcome {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, time.Since(start))
				if len(calls) == 1 {
					return drain.Outcome{Kind: drain.Retry, RetryAfter: 30 * time.Second, Err: errors.New("HTTP 429 rate_limit")}
				}
				return drain.Outcome{Kind: drain.Done}
			})})
		stop := running(t, d)
		time.Sleep(time.Minute)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if st := stats(t, s); st.Done != 4 {
			t.Fatalf("stats %+v", st)
		}
		want := []time.Duration{0, 30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}
		if fmt.Sprint(calls) != fmt.Sprint(want) {
			t.Fatalf("calls at %v, want %v", calls, want)
		}
	})
}

package drain_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/drain"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

// fill enqueues n create entries, one order each, in transactions of 1000.
func fill(tb testing.TB, s *queue.Store, prefix string, n int) {
	tb.Helper()
	for lo := 0; lo < n; lo += 1000 {
		err := s.Update(func(tx *queue.Tx) error {
			for i := lo; i < min(lo+1000, n); i++ {
				id := fmt.Sprintf("%s-%06d", prefix, i)
				if err := tx.PutOrder(id, []byte(`{"amount":1000}`)); err != nil {
					return err
				}
				if _, err := tx.Enqueue(queue.NewEntry{OrderID: id, Op: queue.OpCreate, Payload: createPayload(id)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkDrain measures entries drained per second against the sandbox
// on loopback (create a confirmed manual-capture PaymentIntent, record it on
// the order) and, in the same run, the floor: the same number of bare
// net/http POSTs of the same bodies to the same endpoint from the same
// number of goroutines. x-floor is the ratio. "fsync" is the production
// store; "nosync" shows the drainer's own cost without the disk.
func BenchmarkDrain(b *testing.B) {
	for _, conc := range []int{1, 8} {
		for _, nosync := range []bool{false, true} {
			name := fmt.Sprintf("concurrency=%d/fsync", conc)
			if nosync {
				name = fmt.Sprintf("concurrency=%d/nosync", conc)
			}
			b.Run(name, func(b *testing.B) { benchDrain(b, conc, nosync) })
		}
	}
}

func benchDrain(b *testing.B, conc int, nosync bool) {
	srv := sandboxtest.New(b, sandbox.Options{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	n := b.N

	// The floor: bare POSTs.
	var next atomic.Int64
	var wg sync.WaitGroup
	floorStart := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				id := fmt.Sprintf("floor-%06d", i)
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/payment_intents", strings.NewReader(string(createPayload(id))))
				req.Header.Set("Authorization", "Bearer "+srv.Key)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Idempotency-Key", id)
				res, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Errorf("floor POST: HTTP %d", res.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	floor := time.Since(floorStart)

	// The drain.
	s, err := queue.Open(filepath.Join(b.TempDir(), "till.db"), queue.Options{NoSync: nosync})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	fill(b, s, "drain", n)
	rec := newRecorder()
	d := mustNew(b, drain.Config{Store: s, Concurrency: conc, OnEvent: rec.on, Probe: probeHTTP(client, srv.URL, srv.Key),
		Executor: &httpExecutor{base: srv.URL, key: srv.Key, client: client, store: s}})
	b.ResetTimer()
	start := time.Now()
	stop := running(b, d)
	ev := rec.waitFor(b, "drained", drained)
	elapsed := time.Since(start)
	b.StopTimer()
	if err := stop(); err != nil {
		b.Fatal(err)
	}
	if ev.Dead != 0 {
		b.Fatalf("dead letters: %+v", ev)
	}
	// The drained event may come up to EventInterval after the last
	// completion; take the history's last finish time instead.
	var last time.Time
	if err := s.View(func(tx *queue.Tx) error {
		return tx.ForEachDone(0, func(e queue.Entry) error {
			if e.Finished.After(last) {
				last = e.Finished
			}
			return nil
		})
	}); err != nil {
		b.Fatal(err)
	}
	if !last.IsZero() && last.Sub(start) < elapsed {
		elapsed = last.Sub(start)
	}
	rate := float64(n) / elapsed.Seconds()
	floorRate := float64(n) / floor.Seconds()
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(n), "ns/op")
	b.ReportMetric(rate, "entries/s")
	b.ReportMetric(floorRate, "floor-posts/s")
	b.ReportMetric(rate/floorRate, "x-floor")
}

// gate fronts the sandbox and can refuse every connection (closing it
// without an answer) until upAt, to stage an outage on the real clock.
type gate struct {
	h     http.Handler
	mu    sync.Mutex
	upAt  time.Time // the API is back from this instant
	first chan time.Time
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	g.mu.Lock()
	up := !now.Before(g.upAt)
	first := g.first
	if up && r.Method == http.MethodPost && first != nil {
		g.first = nil
	}
	g.mu.Unlock()
	if !up {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	if r.Method == http.MethodPost && first != nil {
		first <- now
	}
	g.h.ServeHTTP(w, r)
}

func (g *gate) set(upAt time.Time, first chan time.Time) {
	g.mu.Lock()
	g.upAt, g.first = upAt, first
	g.mu.Unlock()
}

// BenchmarkResume measures, on the real clock, the time from the API
// coming back to the first entry reaching it, with the default ProbeEvery
// (1s). Each iteration takes the API down, lets the drainer find out,
// then brings the API back at a random moment of the probe cycle.
func BenchmarkResume(b *testing.B) {
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		b.Fatal(err)
	}
	g := &gate{h: sb}
	srv := httptest.NewServer(g)
	defer srv.Close()
	key := sandboxtest.Key
	client := &http.Client{Timeout: 2 * time.Second}
	wake := make(chan struct{}, 1)
	s := openStore(b, b.TempDir(), wake)
	defer s.Close()
	rec := newRecorder()
	d := mustNew(b, drain.Config{Store: s, Wake: wake, OnEvent: rec.on, Probe: probeHTTP(client, srv.URL, key),
		Executor: &httpExecutor{base: srv.URL, key: key, client: client, store: s}})
	stop := running(b, d)
	defer stop()
	rec.waitFor(b, "online", func(ev drain.Event) bool { return ev.State == drain.Online })

	var resumes []time.Duration
	b.ResetTimer()
	for i := range b.N {
		g.set(time.Now().Add(time.Hour), nil) // down
		id := fmt.Sprintf("resume-%d", i)
		addOrder(b, s, id, queue.NewEntry{Op: queue.OpCreate, Payload: createPayload(id)})
		rec.waitFor(b, "offline", func(ev drain.Event) bool { return ev.State == drain.Offline })
		first := make(chan time.Time, 1)
		back := time.Now().Add(time.Duration(rand.Int64N(int64(time.Second))))
		g.set(back, first)
		resumes = append(resumes, (<-first).Sub(back))
		rec.waitFor(b, "drained", func(ev drain.Event) bool { return drained(ev) && ev.State == drain.Online })
	}
	b.StopTimer()
	var sum time.Duration
	for _, r := range resumes {
		sum += r
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(len(resumes)), "resume-ms-mean")
	b.ReportMetric(float64(slices.Max(resumes).Milliseconds()), "resume-ms-max")
}

// BenchmarkPending10k measures heap in use with 10,000 pending entries:
// with no drainer, with the drainer running offline over them (after GC),
// and the peak (sampled on every event, garbage included) while draining
// them at concurrency 8 against a stateless loopback peer, so that the
// figure is the client side's alone (an in-process sandbox would add its
// own 10,000 PaymentIntents).
func BenchmarkPending10k(b *testing.B) {
	const n = 10_000
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"pi_123","object":"payment_intent","status":"requires_capture"}`)
	}))
	defer peer.Close()
	for range b.N {
		s, err := queue.Open(filepath.Join(b.TempDir(), "till.db"), queue.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		fill(b, s, "mem", n)
		base := heap()

		// Offline over 10k pending.
		down := drain.ExecutorFunc(func(context.Context, queue.Entry) drain.Outcome {
			return drain.Outcome{Kind: drain.Retry, Unreachable: true, Err: errDown}
		})
		rec := newRecorder()
		probes := make(chan struct{}, 16)
		d := mustNew(b, drain.Config{Store: s, Executor: down, OnEvent: rec.on, ProbeEvery: time.Millisecond,
			Probe: func(context.Context) error {
				select {
				case probes <- struct{}{}:
				default:
				}
				return errDown
			}})
		stop := running(b, d)
		rec.waitFor(b, "offline", func(ev drain.Event) bool { return ev.State == drain.Offline && ev.Pending == n })
		for range 10 {
			<-probes
		}
		offline := heap()
		if err := stop(); err != nil {
			b.Fatal(err)
		}

		// Draining them, sampling the heap on each event.
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
		var peak atomic.Uint64
		rec = newRecorder()
		d = mustNew(b, drain.Config{Store: s, Concurrency: 8, Probe: probeHTTP(client, peer.URL, "sk_test_x"),
			OnEvent: func(ev drain.Event) {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
				rec.on(ev)
			},
			Executor: &httpExecutor{base: peer.URL, key: "sk_test_x", client: client, store: s}})
		stop = running(b, d)
		ev := rec.waitFor(b, "drained", drained)
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		if ev.Dead != 0 {
			b.Fatalf("dead: %+v", ev)
		}
		s.Close()
		b.ReportMetric(float64(base)/(1<<20), "heap-MB-10k-pending")
		b.ReportMetric(float64(offline)/(1<<20), "heap-MB-drainer-offline")
		b.ReportMetric(float64(peak.Load())/(1<<20), "heap-MB-peak-draining")
	}
}

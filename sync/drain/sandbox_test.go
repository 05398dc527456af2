package drain_test

import (
	"context"
	"fmt"
	"net/http"
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

// probeHTTP is a cheap probe: any HTTP answer means the API is reachable.
func probeHTTP(client *http.Client, base, key string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/payment_intents?limit=1", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		return res.Body.Close()
	}
}

// TestSandboxCreateThenCapture drains create+capture pairs of many orders
// with 8 workers against the sandbox over HTTP: every capture finds its
// create's PaymentIntent recorded on the order, each order has exactly one
// PaymentIntent, and all end succeeded.
func TestSandboxCreateThenCapture(t *testing.T) {
	srv := sandboxtest.New(t, sandbox.Options{})
	s := openStore(t, t.TempDir(), nil)
	defer s.Close()
	const orders, conc = 40, 8
	for i := range orders {
		id := fmt.Sprintf("lane1-%03d", i)
		addOrder(t, s, id, queue.NewEntry{Op: queue.OpCreate, Payload: createPayload(id)}, queue.NewEntry{Op: queue.OpCapture})
	}
	var inFlight, maxInFlight atomic.Int32
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	exec := &httpExecutor{base: srv.URL, key: srv.Key, client: client, store: s}
	rec := newRecorder()
	d := mustNew(t, drain.Config{
		Store: s, Concurrency: conc, OnEvent: rec.on, Probe: probeHTTP(client, srv.URL, srv.Key),
		Executor: drain.ExecutorFunc(func(ctx context.Context, e queue.Entry) drain.Outcome {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
			}
			if e.Op == queue.OpCapture {
				if o, err := exec.order(e.OrderID); err != nil || o.PI == "" || o.Status != "requires_capture" {
					t.Errorf("capture of %s executed before its create completed: %+v %v", e.OrderID, o, err)
				}
			}
			return exec.Execute(ctx, e)
		}),
	})
	stop := running(t, d)
	ev := rec.waitFor(t, "drained", drained)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if ev.Dead != 0 || ev.State != drain.Online {
		t.Fatalf("final event %+v", ev)
	}
	if m := maxInFlight.Load(); m > conc {
		t.Fatalf("%d executions at once, Concurrency is %d", m, conc)
	}
	byOrder := intentsByOrder(t, srv.URL, srv.Key)
	for i := range orders {
		id := fmt.Sprintf("lane1-%03d", i)
		if pis := byOrder[id]; len(pis) != 1 || !strings.HasSuffix(pis[0], " succeeded") {
			t.Errorf("order %s: PaymentIntents %v, want one succeeded", id, pis)
		}
		if o := readOrder(t, s, id); o.Status != "succeeded" {
			t.Errorf("order %s recorded %+v", id, o)
		}
	}
	t.Logf("max concurrent executions: %d", maxInFlight.Load())
}

// TestSandboxDeadLetterBlocksOrder: a permanent error dead-letters the
// entry, flags the order, blocks its later entries and nothing else.
func TestSandboxDeadLetterBlocksOrder(t *testing.T) {
	srv := sandboxtest.New(t, sandbox.Options{})
	s := openStore(t, t.TempDir(), nil)
	defer s.Close()
	bad := addOrder(t, s, "lane1-bad",
		queue.NewEntry{Op: queue.OpCapture, Payload: []byte("pi=pi_doesnotexist")},
		queue.NewEntry{Op: queue.OpCancel})
	addOrder(t, s, "lane1-good", queue.NewEntry{Op: queue.OpCreate, Payload: createPayload("lane1-good")}, queue.NewEntry{Op: queue.OpCapture})
	client := &http.Client{}
	rec := newRecorder()
	d := mustNew(t, drain.Config{Store: s, OnEvent: rec.on, Probe: probeHTTP(client, srv.URL, srv.Key),
		Executor: &httpExecutor{base: srv.URL, key: srv.Key, client: client, store: s}})
	stop := running(t, d)
	ev := rec.waitFor(t, "dead and blocked", func(ev drain.Event) bool {
		return ev.Dead == 1 && ev.Blocked == 1 && ev.Pending == 1 && ev.InFlight == 0
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ev.LastError, "404") || ev.State != drain.Online {
		t.Errorf("event %+v", ev)
	}
	if e := entry(t, s, bad[0].Seq); e.State != queue.StateDead || e.Attempts != 1 || !strings.Contains(e.LastError, "resource_missing") {
		t.Errorf("dead entry %+v", e)
	}
	if e := entry(t, s, bad[1].Seq); e.State != queue.StateBlocked || e.Attempts != 0 {
		t.Errorf("entry behind the dead letter %+v", e)
	}
	if o := readOrder(t, s, "lane1-bad"); o.Dead != "capture: resource_missing" {
		t.Errorf("bad order not flagged: %+v", o)
	}
	if o := readOrder(t, s, "lane1-good"); o.Status != "succeeded" {
		t.Errorf("good order %+v", o)
	}
}

// TestSandboxReclaimAfterCrash: a drainer that sent a create and died
// before recording it leaves a lease; a drainer on the reopened store takes
// it, sends it again with the same key and gets the same PaymentIntent.
func TestSandboxReclaimAfterCrash(t *testing.T) {
	srv := sandboxtest.New(t, sandbox.Options{})
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	addOrder(t, s, "lane1-crash", queue.NewEntry{Op: queue.OpCreate, Payload: createPayload("lane1-crash")}, queue.NewEntry{Op: queue.OpCapture})
	client := &http.Client{}

	// The "crashed" process: lease, call the API, never complete.
	l, err := s.Lease(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	first := (&httpExecutor{base: srv.URL, key: srv.Key, client: client, store: s}).Execute(t.Context(), l.Entry)
	if first.Kind != drain.Done {
		t.Fatalf("first call: %+v", first)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir, nil)
	defer s.Close()
	if st := stats(t, s); st.InFlight != 0 || st.NextDue.IsZero() {
		t.Fatalf("after reopen: %+v, want the lease reclaimed", st)
	}
	var keys []string
	var mu sync.Mutex
	exec := &httpExecutor{base: srv.URL, key: srv.Key, client: client, store: s, onCall: func(e queue.Entry) error {
		mu.Lock()
		keys = append(keys, e.IdempotencyKey)
		mu.Unlock()
		return nil
	}}
	rec := newRecorder()
	stop := running(t, mustNew(t, drain.Config{Store: s, Executor: exec, OnEvent: rec.on}))
	rec.waitFor(t, "drained", drained)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0] != l.Entry.IdempotencyKey {
		t.Fatalf("keys sent after restart %v, want the reclaimed create's %s then the capture", keys, l.Entry.IdempotencyKey)
	}
	if pis := intentsByOrder(t, srv.URL, srv.Key)["lane1-crash"]; len(pis) != 1 || !strings.HasSuffix(pis[0], " succeeded") {
		t.Fatalf("PaymentIntents %v, want exactly one, succeeded", pis)
	}
}

// TestSandboxTransientFaults: 429s with Retry-After and answers dropped
// after commit are retried (the replay gives the real answer); nothing is
// dead and every order has exactly one PaymentIntent.
func TestSandboxTransientFaults(t *testing.T) {
	srv := sandboxtest.New(t, sandbox.Options{})
	srv.InjectFaults(t, sandbox.FaultConfig{Seed: 7, Rules: []sandbox.FaultRule{
		{Method: "POST", Path: "/v1/payment_intents", Kind: sandbox.FaultDropAfterCommit, Probability: 0.3},
		{Method: "POST", Path: "/v1/payment_intents/*/capture", Kind: sandbox.FaultRateLimit, RetryAfter: 1, Times: 2},
	}})
	s := openStore(t, t.TempDir(), nil)
	defer s.Close()
	const orders = 20
	for i := range orders {
		id := fmt.Sprintf("lane1-%03d", i)
		addOrder(t, s, id, queue.NewEntry{Op: queue.OpCreate, Payload: createPayload(id)}, queue.NewEntry{Op: queue.OpCapture})
	}
	client := &http.Client{}
	rec := newRecorder()
	d := mustNew(t, drain.Config{Store: s, OnEvent: rec.on, Concurrency: 4,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }, ProbeEvery: 50 * time.Millisecond,
		Probe:    probeHTTP(client, srv.URL, srv.Key),
		Executor: &httpExecutor{base: srv.URL, key: srv.Key, client: client, store: s}})
	stop := running(t, d)
	ev := rec.waitFor(t, "drained", drained)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if ev.Dead != 0 {
		t.Fatalf("dead letters from transient faults: %+v", ev)
	}
	byOrder := intentsByOrder(t, srv.URL, srv.Key)
	for i := range orders {
		id := fmt.Sprintf("lane1-%03d", i)
		if pis := byOrder[id]; len(pis) != 1 || !strings.HasSuffix(pis[0], " succeeded") {
			t.Errorf("order %s: %v, want one succeeded PaymentIntent", id, pis)
		}
	}
	faults := srv.Faults()
	hits := 0
	for _, r := range faults.Rules {
		hits += r.Injected
	}
	if hits == 0 {
		t.Fatal("no fault was injected: the test proves nothing")
	}
	t.Logf("faults injected: %d", hits)
}

package drain_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/drain"
)

// openStore opens a real bbolt store in dir whose OnChange sends on wake
// (which may be nil).
func openStore(tb testing.TB, dir string, wake chan struct{}) *queue.Store {
	tb.Helper()
	opts := queue.Options{}
	if wake != nil {
		opts.OnChange = func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}
	s, err := queue.Open(filepath.Join(dir, "till.db"), opts)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	return s
}

// testOrder is the order data the tests store: what the executor recorded.
type testOrder struct {
	PI     string `json:"pi,omitempty"`
	Status string `json:"status,omitempty"`
	Dead   string `json:"dead,omitempty"`
	Amount int64  `json:"amount"`
}

// addOrder stores an order and its outbox entries in one transaction, as
// the app does when a sale is committed.
func addOrder(tb testing.TB, s *queue.Store, id string, entries ...queue.NewEntry) []queue.Entry {
	tb.Helper()
	var out []queue.Entry
	err := s.Update(func(tx *queue.Tx) error {
		data, _ := json.Marshal(testOrder{Amount: 1000})
		if err := tx.PutOrder(id, data); err != nil {
			return err
		}
		for _, n := range entries {
			n.OrderID = id
			e, err := tx.Enqueue(n)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("add order %s: %v", id, err)
	}
	return out
}

func readOrder(tb testing.TB, s *queue.Store, id string) testOrder {
	tb.Helper()
	var o testOrder
	err := s.View(func(tx *queue.Tx) error {
		data, err := tx.Order(id)
		if err != nil {
			return err
		}
		return json.Unmarshal(data, &o)
	})
	if err != nil {
		tb.Fatalf("read order %s: %v", id, err)
	}
	return o
}

func entry(tb testing.TB, s *queue.Store, seq uint64) queue.Entry {
	tb.Helper()
	var e queue.Entry
	err := s.View(func(tx *queue.Tx) error {
		var err error
		e, err = tx.Entry(seq)
		return err
	})
	if err != nil {
		tb.Fatalf("entry %d: %v", seq, err)
	}
	return e
}

func stats(tb testing.TB, s *queue.Store) queue.Stats {
	tb.Helper()
	st, err := s.Stats()
	if err != nil {
		tb.Fatalf("stats: %v", err)
	}
	return st
}

// updateOrder returns a Record function that rewrites the order with f.
func updateOrder(id string, f func(*testOrder)) func(*queue.Tx) error {
	return func(tx *queue.Tx) error {
		data, err := tx.Order(id)
		if err != nil {
			return err
		}
		var o testOrder
		if err := json.Unmarshal(data, &o); err != nil {
			return err
		}
		f(&o)
		data, _ = json.Marshal(o)
		return tx.PutOrder(id, data)
	}
}

// recorder collects events and lets a test wait for one.
type recorder struct {
	mu     sync.Mutex
	events []drain.Event
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) on(ev drain.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) all() []drain.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]drain.Event(nil), r.events...)
}

// waitFor blocks until an event satisfying ok was recorded and returns it.
// Outside a synctest bubble the wait is bounded (a failure, never a pause).
func (r *recorder) waitFor(tb testing.TB, what string, ok func(drain.Event) bool) drain.Event {
	tb.Helper()
	seen := 0
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	for {
		evs := r.all()
		for _, ev := range evs[seen:] {
			if ok(ev) {
				return ev
			}
		}
		seen = len(evs)
		select {
		case <-r.notify:
		case <-deadline.C:
			tb.Fatalf("no event %s after a minute; last events: %+v", what, evs[max(0, len(evs)-3):])
		}
	}
}

func drained(ev drain.Event) bool { return ev.Pending == 0 && ev.InFlight == 0 }

// running starts d.Run and returns a stop function that cancels it and
// returns Run's error.
func running(tb testing.TB, d *drain.Drainer) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	tb.Cleanup(func() { _ = stop() })
	return stop
}

func mustNew(tb testing.TB, cfg drain.Config) *drain.Drainer {
	tb.Helper()
	d, err := drain.New(cfg)
	if err != nil {
		tb.Fatalf("new drainer: %v", err)
	}
	return d
}

// httpExecutor performs entries against a Stripe-compatible API over real
// HTTP, the way the app's executor does, but with only what the tests
// need: create posts the payload, capture and confirm use the PaymentIntent
// id recorded on the order by the create.
type httpExecutor struct {
	base, key string
	client    *http.Client
	store     *queue.Store
	// onCall, if set, is called with each entry before its request.
	onCall func(queue.Entry) error
}

func (x *httpExecutor) Execute(ctx context.Context, e queue.Entry) drain.Outcome {
	if x.onCall != nil {
		if err := x.onCall(e); err != nil {
			return drain.Outcome{Kind: drain.Dead, Err: err}
		}
	}
	path := "/v1/payment_intents"
	if e.Op != queue.OpCreate {
		o, err := x.order(e.OrderID)
		if err != nil {
			return drain.Outcome{Kind: drain.Retry, Err: fmt.Errorf("%s order %s: %w", e.Op, e.OrderID, err)}
		}
		pi := o.PI
		if p, ok := strings.CutPrefix(string(e.Payload), "pi="); ok {
			pi = p // the test names the PaymentIntent itself
		}
		if pi == "" {
			return drain.Outcome{Kind: drain.Dead, Err: fmt.Errorf("%s order %s: no PaymentIntent recorded", e.Op, e.OrderID)}
		}
		path += "/" + pi + "/" + e.Op.String()
	}
	body := string(e.Payload)
	if e.Op != queue.OpCreate {
		body = ""
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.base+path, strings.NewReader(body))
	if err != nil {
		return drain.Outcome{Kind: drain.Dead, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+x.key)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Idempotency-Key", e.IdempotencyKey)
	res, err := x.client.Do(req)
	if err != nil {
		return drain.Outcome{Kind: drain.Retry, Unreachable: ctx.Err() == nil, Err: fmt.Errorf("%s order %s: %w", e.Op, e.OrderID, err)}
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return drain.Outcome{Kind: drain.Retry, Unreachable: true, Err: fmt.Errorf("%s order %s: read answer: %w", e.Op, e.OrderID, err)}
	}
	switch {
	case res.StatusCode == http.StatusOK:
		var pi struct{ ID, Status string }
		if err := json.Unmarshal(data, &pi); err != nil {
			return drain.Outcome{Kind: drain.Retry, Err: fmt.Errorf("%s order %s: decode answer: %w", e.Op, e.OrderID, err)}
		}
		return drain.Outcome{Kind: drain.Done, Record: updateOrder(e.OrderID, func(o *testOrder) {
			o.PI, o.Status = pi.ID, pi.Status
		})}
	case res.StatusCode == 429, res.StatusCode == 409, res.StatusCode >= 500:
		ra, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		return drain.Outcome{Kind: drain.Retry, RetryAfter: time.Duration(ra) * time.Second,
			Err: fmt.Errorf("%s order %s: HTTP %d: %s", e.Op, e.OrderID, res.StatusCode, data)}
	default:
		var se struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.Unmarshal(data, &se)
		return drain.Outcome{Kind: drain.Dead,
			Err: fmt.Errorf("%s order %s: HTTP %d %s", e.Op, e.OrderID, res.StatusCode, se.Error.Code),
			Record: updateOrder(e.OrderID, func(o *testOrder) {
				o.Dead = fmt.Sprintf("%s: %s", e.Op, se.Error.Code)
			})}
	}
}

func (x *httpExecutor) order(id string) (testOrder, error) {
	var o testOrder
	err := x.store.View(func(tx *queue.Tx) error {
		data, err := tx.Order(id)
		if err != nil {
			return err
		}
		return json.Unmarshal(data, &o)
	})
	return o, err
}

// createPayload is a manual-capture card PaymentIntent confirmed at
// creation, tagged with its order.
func createPayload(orderID string) []byte {
	return []byte("amount=1000&currency=usd&capture_method=manual&confirm=true&payment_method=pm_card_visa" +
		"&payment_method_types[]=card&metadata[order_id]=" + orderID + "&metadata[lane]=lane1")
}

// intentsByOrder lists every PaymentIntent on the API and counts them by
// metadata[order_id].
func intentsByOrder(tb testing.TB, base, key string) map[string][]string {
	tb.Helper()
	out := map[string][]string{}
	after := ""
	for {
		u := base + "/v1/payment_intents?limit=100"
		if after != "" {
			u += "&starting_after=" + after
		}
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			tb.Fatalf("list intents: %v", err)
		}
		var page struct {
			Data []struct {
				ID       string
				Status   string
				Metadata map[string]string
			}
			HasMore bool `json:"has_more"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil {
			tb.Fatalf("list intents: %v", err)
		}
		for _, pi := range page.Data {
			id := pi.Metadata["order_id"]
			out[id] = append(out[id], pi.ID+" "+pi.Status)
		}
		if !page.HasMore || len(page.Data) == 0 {
			return out
		}
		after = page.Data[len(page.Data)-1].ID
	}
}

var errDown = errors.New("connection refused (test)")

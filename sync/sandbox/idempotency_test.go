package sandbox_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillpos/till/sync/sandbox"
)

func TestIdempotencyReplay(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	body := form("amount", "1000", "currency", "usd", "payment_method_types[]", "card_present", "metadata[order_id]", "1")
	first := c.post("/v1/payment_intents", body, "Idempotency-Key", "order-1-create").ok()
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Fatal("first answer marked replayed")
	}
	again := c.post("/v1/payment_intents", body, "Idempotency-Key", "order-1-create").ok()
	if again.header.Get("Idempotent-Replayed") != "true" || string(again.body) != string(first.body) ||
		again.header.Get("Original-Request") != first.header.Get("Request-Id") {
		t.Fatalf("replay differs or unmarked:\n%s\n%s", first.body, again.body)
	}
	if n := len(c.get("/v1/payment_intents", "").ok().list()); n != 1 {
		t.Fatalf("%d PaymentIntents after a replay, want 1", n)
	}
	// Same parameters in another order are the same request.
	reordered := form("metadata[order_id]", "1", "payment_method_types[]", "card_present", "currency", "usd", "amount", "1000")
	c.post("/v1/payment_intents", reordered, "Idempotency-Key", "order-1-create").ok()

	// Different parameters, different endpoint.
	c.post("/v1/payment_intents", form("amount", "2000", "currency", "usd"), "Idempotency-Key", "order-1-create").
		wantError(400, "idempotency_error", "")
	c.post("/v1/customers", "", "Idempotency-Key", "order-1-create").wantError(400, "idempotency_error", "")

	// Keys are scoped per API key.
	c2 := newSandbox(t, sandbox.Options{Keys: []string{"sk_test_one", "sk_test_two"}})
	c2.post("/v1/customers", "", "Idempotency-Key", "k").ok()
	o := *c2
	o.key = "sk_test_two"
	if o.post("/v1/customers", "", "Idempotency-Key", "k").ok().header.Get("Idempotent-Replayed") == "true" {
		t.Fatal("key replayed across API keys")
	}
}

func TestIdempotencySavesDeclinesAndStateErrors(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	id := c.newReaderIntent(1005, "manual").s("id")
	c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", "").ok()
	d1 := c.post("/v1/payment_intents/"+id+"/confirm", "", "Idempotency-Key", "confirm-1").wantError(402, "card_error", "card_declined")
	// A new card is presented; a retry with the old key must not charge it.
	c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", "").ok()
	d2 := c.post("/v1/payment_intents/"+id+"/confirm", "", "Idempotency-Key", "confirm-1")
	if d2.status != 402 || d2.header.Get("Idempotent-Replayed") != "true" || string(d1.body) != string(d2.body) {
		t.Fatalf("decline not replayed: %d %s", d2.status, d2.body)
	}
	c.get("/v1/payment_intents/"+id, "").ok().want("status", "requires_confirmation")
}

func TestIdempotencyValidationNotSaved(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	c.post("/v1/payment_intents", form("amount", "-5", "currency", "usd"), "Idempotency-Key", "k1").wantError(400, "invalid_request_error", "parameter_invalid_integer")
	// The key is still fresh: different (valid) parameters run.
	r := c.post("/v1/payment_intents", form("amount", "500", "currency", "usd"), "Idempotency-Key", "k1").ok()
	if r.header.Get("Idempotent-Replayed") != "" {
		t.Fatal("validation failure was saved")
	}
	long := strings.Repeat("k", 256)
	c.post("/v1/customers", "", "Idempotency-Key", long).wantError(400, "invalid_request_error", "")
}

func TestIdempotencyPruning(t *testing.T) {
	c := newSandbox(t, sandbox.Options{IdempotencyTTL: 24 * time.Hour})
	c.post("/v1/customers", form("email", "a@example.com"), "Idempotency-Key", "k").ok()
	c.advance(24*time.Hour - time.Second)
	c.post("/v1/customers", form("email", "b@example.com"), "Idempotency-Key", "k").wantError(400, "idempotency_error", "")
	c.advance(time.Second)
	r := c.post("/v1/customers", form("email", "b@example.com"), "Idempotency-Key", "k").ok()
	if r.header.Get("Idempotent-Replayed") != "" || r.s("email") != "b@example.com" {
		t.Fatalf("pruned key not fresh: %s", r.body)
	}
}

// TestIdempotencyKeyInUse holds a first request in flight with injected
// latency (fake time inside a synctest bubble, no network) and sends the
// same key meanwhile.
func TestIdempotencyKeyInUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := sandbox.New(sandbox.Options{Keys: []string{"sk_test_a"}, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetFaults(sandbox.FaultConfig{Rules: []sandbox.FaultRule{{Path: "/v1/customers", Kind: sandbox.FaultLatency, LatencyMS: 2000, Times: 1}}}); err != nil {
			t.Fatal(err)
		}
		send := func(ctx context.Context) *httptest.ResponseRecorder {
			req := httptest.NewRequestWithContext(ctx, "POST", "/v1/customers", strings.NewReader("email=a%40example.com"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer sk_test_a")
			req.Header.Set("Idempotency-Key", "same")
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			return rec
		}
		done := make(chan *httptest.ResponseRecorder)
		go func() { done <- send(context.Background()) }()
		synctest.Wait() // the first request is now sleeping in flight

		second := send(context.Background())
		if second.Code != http.StatusConflict || !strings.Contains(second.Body.String(), "idempotency_key_in_use") {
			t.Fatalf("second: %d %s", second.Code, second.Body)
		}
		first := <-done
		if first.Code != 200 {
			t.Fatalf("first: %d %s", first.Code, first.Body)
		}
		// The 409 was not saved: the retry replays the first answer.
		third := send(context.Background())
		if third.Code != 200 || third.Header().Get("Idempotent-Replayed") != "true" || third.Body.String() != first.Body.String() {
			t.Fatalf("third: %d %s", third.Code, third.Body)
		}
	})
}

// A client that gives up during injected latency leaves the key fresh.
func TestLatencyHonoursRequestContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := sandbox.New(sandbox.Options{Keys: []string{"sk_test_a"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetFaults(sandbox.FaultConfig{Rules: []sandbox.FaultRule{{Kind: sandbox.FaultLatency, LatencyMS: 5000, Times: 1}}}); err != nil {
			t.Fatal(err)
		}
		post := func(ctx context.Context) *httptest.ResponseRecorder {
			req := httptest.NewRequestWithContext(ctx, "POST", "/v1/customers", nil)
			req.Header.Set("Authorization", "Bearer sk_test_a")
			req.Header.Set("Idempotency-Key", "k")
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			return rec
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		post(ctx)
		if waited := time.Since(start); waited != time.Second {
			t.Fatalf("request held %v, want the client's 1s deadline", waited)
		}
		r := post(context.Background())
		if r.Code != 200 || r.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("after abandoned request: %d replayed=%q", r.Code, r.Header().Get("Idempotent-Replayed"))
		}
	})
}

package sandbox_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tillpos/till/sync/sandbox"
)

// Eight racing captures of one authorisation: exactly one succeeds, the
// others see the PaymentIntent already succeeded.
func TestConcurrentCapturesCaptureOnce(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	id := authorizedIntent(c)
	statuses := make(chan int, 8)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			statuses <- c.post("/v1/payment_intents/"+id+"/capture", "", "Idempotency-Key", fmt.Sprintf("cap-%d", i)).status
		})
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[200] != 1 || counts[400] != 7 {
		t.Fatalf("statuses %v, want one 200 and seven 400", counts)
	}
	n := 0
	for _, typ := range c.eventTypes(id) {
		if typ == "payment_intent.succeeded" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d succeeded events", n)
	}
}

// Eight racing creates with one key make one PaymentIntent; every answer
// is the original, a replay of it, or a 409.
func TestConcurrentSameKeyCreatesOnce(t *testing.T) {
	c := newSandbox(t, sandbox.Options{DataFile: filepath.Join(t.TempDir(), "s.db")})
	body := form("amount", "1000", "currency", "usd")
	var mu sync.Mutex
	var bodies []string
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			r := c.post("/v1/payment_intents", body, "Idempotency-Key", "same")
			mu.Lock()
			defer mu.Unlock()
			switch r.status {
			case http.StatusOK:
				bodies = append(bodies, string(r.body))
			case http.StatusConflict:
				r.wantError(409, "invalid_request_error", "idempotency_key_in_use")
			default:
				t.Errorf("status %d: %s", r.status, r.body)
			}
		})
	}
	wg.Wait()
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Fatal("different answers for one key")
		}
	}
	if n := len(c.get("/v1/payment_intents", "").ok().list()); n != 1 {
		t.Fatalf("%d PaymentIntents for one key", n)
	}
}

func TestResetIsPersisted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s1, err := sandbox.New(sandbox.Options{DataFile: path, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	url, err := s1.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	c := &tclient{t: t, key: "sk_test_r", hc: noRedirects(), srv: serverAt(url)}
	c.post("/v1/customers", "").ok()
	if err := s1.Reset(); err != nil {
		t.Fatal(err)
	}
	keep := c.post("/v1/customers", form("email", "kept@example.com")).ok().s("id")
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := sandbox.New(sandbox.Options{DataFile: path, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	url2, err := s2.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	c.srv = serverAt(url2)
	if ids := c.get("/v1/customers", "").ok().ids(); len(ids) != 1 || ids[0] != keep {
		t.Fatalf("after reset and restart: %v, want [%s]", ids, keep)
	}
}

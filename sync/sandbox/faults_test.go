package sandbox_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tillpos/till/sync/sandbox"
)

func captureFault(kind sandbox.FaultKind) sandbox.FaultConfig {
	return sandbox.FaultConfig{Seed: 7, Rules: []sandbox.FaultRule{{Method: "POST", Path: "/v1/payment_intents/*/capture", Kind: kind, Times: 1}}}
}

func authorizedIntent(c *tclient) string {
	c.t.Helper()
	id := c.newReaderIntent(1000, "manual").s("id")
	c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", "").ok()
	c.post("/v1/payment_intents/"+id+"/confirm", "").ok()
	return id
}

func TestFaultErrorBeforeCommit(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	id := authorizedIntent(c)
	c.srv.InjectFaults(t, captureFault(sandbox.FaultErrorBeforeCommit))
	c.post("/v1/payment_intents/"+id+"/capture", "", "Idempotency-Key", "cap").wantError(500, "api_error", "")
	c.get("/v1/payment_intents/"+id, "").ok().want("status", "requires_capture")
	// Stripe saves 500s: the same key replays it.
	r := c.post("/v1/payment_intents/"+id+"/capture", "", "Idempotency-Key", "cap").wantError(500, "api_error", "")
	if r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("saved 500 not replayed")
	}
	// A new key runs the capture.
	c.post("/v1/payment_intents/"+id+"/capture", "", "Idempotency-Key", "cap-2").ok().want("status", "succeeded")
}

func TestFaultErrorAfterCommit(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	id := authorizedIntent(c)
	c.srv.InjectFaults(t, captureFault(sandbox.FaultErrorAfterCommit))
	c.post("/v1/payment_intents/"+id+"/capture", "", "Idempotency-Key", "cap").wantError(500, "api_error", "")
	c.get("/v1/payment_intents/"+id, "").ok().want("status", "succeeded")
	c.post("/v1/payment_intents/"+id+"/capture", "", "Idempotency-Key", "cap").wantError(500, "api_error", "")
	if got := c.srv.Faults().Rules[0].Injected; got != 1 {
		t.Fatalf("injected %d, want 1", got)
	}
}

func TestFaultDropAfterCommit(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	id := authorizedIntent(c)
	c.srv.InjectFaults(t, captureFault(sandbox.FaultDropAfterCommit))
	req, _ := http.NewRequest("POST", c.srv.URL+"/v1/payment_intents/"+id+"/capture", nil)
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Idempotency-Key", "cap")
	// A connection of its own: net/http silently retries a request carrying
	// an Idempotency-Key when a reused keep-alive connection drops.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if res, err := fresh.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("got an answer (%d), want a dropped connection", res.StatusCode)
	}
	c.get("/v1/payment_intents/"+id, "").ok().want("status", "succeeded")
	// The response was saved: the retry learns the outcome.
	r := c.post("/v1/payment_intents/"+id+"/capture", "", "Idempotency-Key", "cap").ok().want("status", "succeeded")
	if r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("retry after drop not replayed")
	}
}

func TestFaultRateLimit(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	c.srv.InjectFaults(t, sandbox.FaultConfig{Rules: []sandbox.FaultRule{{Path: "/v1/customers", Kind: sandbox.FaultRateLimit, RetryAfter: 3, Times: 1}}})
	r := c.post("/v1/customers", "", "Idempotency-Key", "k").wantError(429, "invalid_request_error", "rate_limit")
	if r.header.Get("Retry-After") != "3" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// 429s are not saved.
	if c.post("/v1/customers", "", "Idempotency-Key", "k").ok().header.Get("Idempotent-Replayed") != "" {
		t.Fatal("429 was saved")
	}
}

// hits runs n GETs against a fresh sandbox with a 50% fault and returns
// which ones failed.
func hits(t *testing.T, seed int64, n int) []int {
	c := newSandbox(t, sandbox.Options{})
	c.srv.InjectFaults(t, sandbox.FaultConfig{Seed: seed, Rules: []sandbox.FaultRule{{Method: "GET", Kind: sandbox.FaultErrorBeforeCommit, Probability: 0.5}}})
	var out []int
	for i := range n {
		if c.get("/v1/customers", "").status == 500 {
			out = append(out, i)
		}
	}
	return out
}

func TestFaultsDeterministicPerSeed(t *testing.T) {
	a, b, other := hits(t, 42, 64), hits(t, 42, 64), hits(t, 43, 64)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	if slices.Equal(a, other) {
		t.Fatal("different seeds gave identical faults")
	}
	if len(a) < 16 || len(a) > 48 {
		t.Fatalf("%d/64 hits for p=0.5", len(a))
	}
}

func TestFaultRulesValidated(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	for _, r := range []sandbox.FaultRule{
		{Kind: "explode"},
		{Kind: sandbox.FaultLatency},
		{Kind: sandbox.FaultRateLimit, Probability: 1.5},
		{Kind: sandbox.FaultRateLimit, Path: "["},
		{Kind: sandbox.FaultRateLimit, Times: -1},
	} {
		if err := c.srv.SetFaults(sandbox.FaultConfig{Rules: []sandbox.FaultRule{r}}); !errors.Is(err, sandbox.ErrBadFault) {
			t.Errorf("rule %+v: err %v, want ErrBadFault", r, err)
		}
	}
}

func TestControlEndpoints(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	ctl := func(method, path, body string) *resp {
		t.Helper()
		req, _ := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		r := &resp{t: t, status: res.StatusCode, header: res.Header, body: b}
		if err := json.Unmarshal(b, &r.m); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, b)
		}
		return r
	}
	g := ctl("GET", "/_sandbox/clock", "").ok()
	if g.n("now") != epoch.Unix() {
		t.Fatalf("clock: %s", g.body)
	}
	a := ctl("POST", "/_sandbox/clock", `{"advance":"90m"}`).ok()
	if a.n("now") != epoch.Unix()+5400 || a.n("offset_seconds") != 5400 {
		t.Fatalf("advance: %s", a.body)
	}
	ctl("POST", "/_sandbox/clock", `{"advance_seconds":30}`).ok()
	s := ctl("POST", "/_sandbox/clock", `{"now":`+strconv.FormatInt(epoch.Unix()+86400, 10)+`}`).ok()
	if s.n("now") != epoch.Unix()+86400 {
		t.Fatalf("set: %s", s.body)
	}
	ctl("POST", "/_sandbox/clock", `{"now":`+strconv.FormatInt(epoch.Unix(), 10)+`}`).wantError(400, "invalid_request_error", "")
	ctl("POST", "/_sandbox/clock", `{"advance":"-1h"}`).wantError(400, "invalid_request_error", "")
	ctl("POST", "/_sandbox/clock", `{"bogus":1}`).wantError(400, "invalid_request_error", "")
	ctl("POST", "/_sandbox/clock", `{}`).wantError(400, "invalid_request_error", "")

	f := ctl("POST", "/_sandbox/faults", `{"seed":3,"rules":[{"method":"GET","path":"/v1/customers","kind":"rate_limit","times":1}]}`).ok()
	if f.n("seed") != 3 || f.s("rules.0.kind") != "rate_limit" {
		t.Fatalf("faults: %s", f.body)
	}
	c.get("/v1/customers", "").wantError(429, "invalid_request_error", "rate_limit")
	if ctl("GET", "/_sandbox/faults", "").ok().n("rules.0.injected") != 1 {
		t.Fatal("injected count not reported")
	}
	ctl("POST", "/_sandbox/faults", `{"rules":[{"kind":"nope"}]}`).wantError(400, "invalid_request_error", "")
	ctl("DELETE", "/_sandbox/faults", "").ok()

	c.post("/v1/customers", "", "Idempotency-Key", "x").ok()
	ctl("POST", "/_sandbox/reset", "").ok()
	if len(c.get("/v1/customers", "").ok().list()) != 0 {
		t.Fatal("reset kept customers")
	}
	if ctl("GET", "/_sandbox/clock", "").ok().n("now") != epoch.Unix() {
		t.Fatal("reset kept the clock offset")
	}
	ctl("GET", "/_sandbox/reset", "").wantError(405, "invalid_request_error", "")
}

func TestControlIsLoopbackOnly(t *testing.T) {
	s, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/_sandbox/clock", "/_sandbox/reset", "/_sandbox/faults"} {
		req := httptest.NewRequest("POST", path, strings.NewReader(`{}`))
		req.RemoteAddr = "192.0.2.10:5555"
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"invalid_request_error"`) {
			t.Errorf("%s from the LAN: %d %s", path, rec.Code, rec.Body)
		}
	}
}

func TestReplaysDoNotSpendFaults(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	c.post("/v1/customers", "", "Idempotency-Key", "k").ok()
	c.srv.InjectFaults(t, sandbox.FaultConfig{Rules: []sandbox.FaultRule{{Path: "/v1/customers", Kind: sandbox.FaultErrorBeforeCommit, Times: 1}}})
	if c.post("/v1/customers", "", "Idempotency-Key", "k").ok().header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("not a replay")
	}
	c.post("/v1/customers", "", "Idempotency-Key", "k2").wantError(500, "api_error", "")
	c.post("/v1/customers", "", "Idempotency-Key", "k3").ok()
}

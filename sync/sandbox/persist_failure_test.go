package sandbox_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/sync/sandbox"
)

var errDiskFull = errors.New("disk full (test)")

// startOnFile runs a sandbox on the data file at path.
func startOnFile(t *testing.T, path string) (*sandbox.Server, *tclient) {
	t.Helper()
	s, err := sandbox.New(sandbox.Options{DataFile: path, Now: fixedNow, Keys: []string{"sk_test_w"}})
	if err != nil {
		t.Fatal(err)
	}
	url, err := s.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	return s, &tclient{t: t, srv: serverAt(url), key: "sk_test_w", hc: noRedirects()}
}

// TestDataFileWriteFailure: when the data file cannot be written, every
// entry point that changes state answers 500 instead of its real answer,
// the change stays pending, and the next successful write puts it in the
// file.
func TestDataFileWriteFailure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(c *tclient) string
		act    func(c *tclient, arg string) *resp
		json   bool // the 500 is a Stripe api_error
		verify func(t *testing.T, s *sandbox.Server, c *tclient, arg string)
	}{
		{
			name: "api request",
			act:  func(c *tclient, _ string) *resp { return c.post("/v1/customers", form("email", "lost@example.com")) },
			json: true,
			verify: func(t *testing.T, _ *sandbox.Server, c *tclient, _ string) {
				if n := len(c.get("/v1/customers", "email=lost@example.com").ok().ids()); n != 1 {
					t.Fatalf("%d customers in the file, want 1", n)
				}
			},
		},
		{
			name: "clock control",
			act:  func(c *tclient, _ string) *resp { return c.post("/_sandbox/clock", `{"advance":"1h"}`) },
			json: true,
			verify: func(t *testing.T, s *sandbox.Server, _ *tclient, _ string) {
				if got := s.Now(); !got.Equal(epoch.Add(time.Hour)) {
					t.Fatalf("clock %v after restart, want %v", got, epoch.Add(time.Hour))
				}
			},
		},
		{
			name:  "reset control",
			setup: func(c *tclient) string { return c.post("/v1/customers", "").ok().s("id") },
			act:   func(c *tclient, _ string) *resp { return c.post("/_sandbox/reset", "") },
			json:  true,
			verify: func(t *testing.T, _ *sandbox.Server, c *tclient, id string) {
				c.get("/v1/customers/"+id, "").wantError(404, "invalid_request_error", "resource_missing")
			},
		},
		{
			name: "redirect page action",
			setup: func(c *tclient) string {
				r := c.post("/v1/payment_intents", form("amount", "1000", "currency", "chf", "payment_method_types[]", "twint",
					"payment_method_data[type]", "twint", "confirm", "true", "return_url", "https://till.example/back")).ok()
				return r.s("id") + " " + strings.TrimPrefix(r.s("next_action.redirect_to_url.url"), c.srv.URL)
			},
			act: func(c *tclient, arg string) *resp {
				_, page, _ := strings.Cut(arg, " ")
				return c.post(page, form("action", "authorize"))
			},
			verify: func(t *testing.T, _ *sandbox.Server, c *tclient, arg string) {
				id, _, _ := strings.Cut(arg, " ")
				c.get("/v1/payment_intents/"+id, "").ok().want("status", "succeeded")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sandbox.db")
			s1, c := startOnFile(t, path)
			var arg string
			if tc.setup != nil {
				arg = tc.setup(c)
			}
			sandbox.FailDataWrites(s1, errDiskFull)
			r := tc.act(c, arg)
			if r.status != 500 {
				t.Fatalf("status %d while the file cannot be written, want 500: %s", r.status, r.body)
			}
			if tc.json {
				r.wantError(500, "api_error", "")
			}
			sandbox.FailDataWrites(s1, nil)
			// The next write carries the failed change along.
			c.post("/v1/customers", form("email", "next@example.com")).ok()
			if err := s1.Close(); err != nil {
				t.Fatal(err)
			}
			s2, c2 := startOnFile(t, path)
			defer s2.Close()
			tc.verify(t, s2, c2, arg)
			if n := len(c2.get("/v1/customers", "email=next@example.com").ok().ids()); n != 1 {
				t.Fatalf("%d later customers in the file, want 1", n)
			}
		})
	}
}

// TestDataFileWriteFailureGoAPI: Advance reports a failed write.
func TestDataFileWriteFailureGoAPI(t *testing.T) {
	s, _ := startOnFile(t, filepath.Join(t.TempDir(), "sandbox.db"))
	defer s.Close()
	sandbox.FailDataWrites(s, errDiskFull)
	if err := s.Advance(time.Minute); err == nil || !strings.Contains(err.Error(), errDiskFull.Error()) {
		t.Fatalf("Advance with a failing file: %v", err)
	}
	sandbox.FailDataWrites(s, nil)
	if err := s.Advance(time.Minute); err != nil {
		t.Fatal(err)
	}
}

// TestDataFileWriteFailureIdempotency: the 500 for a failed write is not
// saved for the idempotency key; the key keeps the real answer, which is
// replayed once it is in the file.
func TestDataFileWriteFailureIdempotency(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.db")
	s1, c := startOnFile(t, path)
	key := []string{"Idempotency-Key", "cus-once"}
	sandbox.FailDataWrites(s1, errDiskFull)
	c.post("/v1/customers", form("email", "once@example.com"), key...).wantError(500, "api_error", "")
	// Still failing: the retry must not answer 200 for a change not in the file.
	c.post("/v1/customers", form("email", "once@example.com"), key...).wantError(500, "api_error", "")
	sandbox.FailDataWrites(s1, nil)
	r := c.post("/v1/customers", form("email", "once@example.com"), key...).ok()
	if r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry was not a replay: %v", r.header)
	}
	id := r.s("id")
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2, c2 := startOnFile(t, path)
	defer s2.Close()
	if ids := c2.get("/v1/customers", "").ok().ids(); len(ids) != 1 || ids[0] != id {
		t.Fatalf("customers in the file %v, want [%s]", ids, id)
	}
	if c2.post("/v1/customers", form("email", "once@example.com"), key...).ok().header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("key not saved in the file")
	}
}

package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillpos/till/sync/api"
)

const testKey = "sk_test_retrytable_0123456789abcdef"

// step is one scripted answer of a misbehaving peer.
type step struct {
	status int
	header map[string]string
	body   string
	// short declares a Content-Length longer than the body: the client
	// reads a truncated answer.
	short bool
	// drop closes the connection without answering.
	drop bool
}

func errBody(typ, code, msg string) string {
	return fmt.Sprintf(`{"error":{"type":%q,"code":%q,"message":%q}}`, typ, code, msg)
}

const declineBody = `{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined.","payment_intent":{"id":"pi_1","object":"payment_intent","status":"requires_payment_method"}}}`

const piBody = `{"id":"pi_1","object":"payment_intent","amount":1000,"currency":"eur","status":"requires_capture"}`

// scripted serves steps in order (the last one repeats) and counts hits.
func scripted(t *testing.T, steps []step) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(hits.Add(1)) - 1
		s := steps[min(i, len(steps)-1)]
		if s.drop {
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Error("no hijacker")
				return
			}
			conn, _, err := hj.Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		for k, v := range s.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Request-Id", fmt.Sprintf("req_%d", i+1))
		w.Header().Set("Content-Type", "application/json")
		if s.short {
			w.Header().Set("Content-Length", fmt.Sprint(len(s.body)+100))
		}
		w.WriteHeader(s.status)
		fmt.Fprint(w, s.body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

var retryCases = []struct {
	name     string
	method   string // default POST
	steps    []step
	attempts int       // attempts made (MaxAttempts is 3)
	class    api.Class // Unknown: success
	replayed bool
	message  string // expected Error.Message
}{
	{name: "200", steps: []step{{status: 200, body: piBody}}, attempts: 1},
	{name: "500 POST retried, indeterminate", steps: []step{{status: 500, body: errBody("api_error", "", "boom")}}, attempts: 3, class: api.Indeterminate, message: "boom"},
	{name: "500 GET retried, transient", method: "GET", steps: []step{{status: 500, body: errBody("api_error", "", "boom")}}, attempts: 3, class: api.Transient},
	{name: "502 then 200", steps: []step{{status: 502, body: "<html>bad gateway</html>"}, {status: 200, body: piBody}}, attempts: 2},
	{name: "503", steps: []step{{status: 503, body: errBody("api_error", "", "unavailable")}}, attempts: 3, class: api.Indeterminate, message: "unavailable"},
	{name: "504", steps: []step{{status: 504}}, attempts: 3, class: api.Indeterminate, message: "empty answer"},
	{name: "501 not retried", steps: []step{{status: 501, body: errBody("api_error", "", "no")}}, attempts: 1, class: api.Indeterminate},
	{name: "429 retried, transient", steps: []step{{status: 429, header: map[string]string{"Retry-After": "1"}, body: errBody("invalid_request_error", "rate_limit", "slow down")}}, attempts: 3, class: api.Transient, message: "slow down"},
	{name: "429 then 200", steps: []step{{status: 429, body: errBody("invalid_request_error", "rate_limit", "")}, {status: 200, body: piBody}}, attempts: 2},
	{name: "409 idempotency_key_in_use retried", steps: []step{{status: 409, body: errBody("invalid_request_error", "idempotency_key_in_use", "in use")}}, attempts: 3, class: api.Transient},
	{name: "409 in use then 200", steps: []step{{status: 409, body: errBody("invalid_request_error", "idempotency_key_in_use", "")}, {status: 200, body: piBody}}, attempts: 2},
	{name: "409 other code not retried", steps: []step{{status: 409, body: errBody("invalid_request_error", "resource_already_exists", "exists")}}, attempts: 1, class: api.Permanent},
	{name: "400 invalid", steps: []step{{status: 400, body: errBody("invalid_request_error", "parameter_missing", "Missing amount")}}, attempts: 1, class: api.Permanent, message: "Missing amount"},
	{name: "400 idempotency_error", steps: []step{{status: 400, body: errBody("idempotency_error", "", "Keys for idempotent requests can only be used with the same parameters")}}, attempts: 1, class: api.Permanent},
	{name: "401 authentication_error", steps: []step{{status: 401, body: errBody("authentication_error", "", "Invalid API Key provided: sk_test_****cdef")}}, attempts: 1, class: api.Permanent},
	{name: "404", method: "GET", steps: []step{{status: 404, body: errBody("invalid_request_error", "resource_missing", "No such payment_intent")}}, attempts: 1, class: api.Permanent},
	{name: "402 card_error", steps: []step{{status: 402, body: declineBody}}, attempts: 1, class: api.Declined, message: "Your card was declined."},
	{name: "Stripe-Should-Retry false on 500", steps: []step{{status: 500, header: map[string]string{"Stripe-Should-Retry": "false"}, body: errBody("api_error", "", "x")}}, attempts: 1, class: api.Indeterminate},
	{name: "Stripe-Should-Retry false on 429", steps: []step{{status: 429, header: map[string]string{"Stripe-Should-Retry": "false"}}}, attempts: 1, class: api.Transient},
	{name: "Stripe-Should-Retry true on 400", steps: []step{{status: 400, header: map[string]string{"Stripe-Should-Retry": "true"}, body: errBody("invalid_request_error", "lock_timeout", "")}}, attempts: 3, class: api.Transient},
	{name: "Stripe-Should-Retry true then 200", steps: []step{{status: 400, header: map[string]string{"Stripe-Should-Retry": "true"}}, {status: 200, body: piBody}}, attempts: 2},
	{name: "replayed 500 not retried", steps: []step{{status: 500, header: map[string]string{"Idempotent-Replayed": "true"}, body: errBody("api_error", "", "saved")}}, attempts: 1, class: api.Indeterminate, replayed: true},
	{name: "500 then replayed 500", steps: []step{{status: 500, body: errBody("api_error", "", "first")}, {status: 500, header: map[string]string{"Idempotent-Replayed": "true"}, body: errBody("api_error", "", "saved")}}, attempts: 2, class: api.Indeterminate, replayed: true, message: "saved"},
	{name: "replayed 200", steps: []step{{status: 200, header: map[string]string{"Idempotent-Replayed": "true"}, body: piBody}}, attempts: 1, replayed: true},
	{name: "200 not JSON", steps: []step{{status: 200, body: "<html>hello</html>"}}, attempts: 1, class: api.Indeterminate},
	{name: "200 not JSON GET", method: "GET", steps: []step{{status: 200, body: "nope"}}, attempts: 1, class: api.Transient},
	{name: "200 wrong object", steps: []step{{status: 200, body: `{"id":"cus_1","object":"customer"}`}}, attempts: 1, class: api.Indeterminate},
	{name: "200 no object", steps: []step{{status: 200, body: `{"id":"pi_1"}`}}, attempts: 1, class: api.Indeterminate},
	{name: "200 truncated retried", steps: []step{{status: 200, body: piBody[:20], short: true}}, attempts: 3, class: api.Indeterminate},
	{name: "200 truncated then whole", steps: []step{{status: 200, body: piBody[:20], short: true}, {status: 200, body: piBody}}, attempts: 2},
	{name: "dropped connection POST", steps: []step{{drop: true}}, attempts: 3, class: api.Indeterminate},
	{name: "dropped connection GET", method: "GET", steps: []step{{drop: true}}, attempts: 3, class: api.Transient},
	{name: "dropped then 200", steps: []step{{drop: true}, {status: 200, body: piBody}}, attempts: 2},
	{name: "500 then 429: may have acted", steps: []step{{status: 500}, {status: 429}}, attempts: 3, class: api.Indeterminate},
	{name: "429 then 400", steps: []step{{status: 429}, {status: 400, body: errBody("invalid_request_error", "parameter_missing", "")}}, attempts: 2, class: api.Permanent},
	{name: "302 not followed", steps: []step{{status: 302, header: map[string]string{"Location": "/elsewhere"}}}, attempts: 1, class: api.Indeterminate},
}

func TestRetryPolicy(t *testing.T) {
	for _, tc := range retryCases {
		t.Run(tc.name, func(t *testing.T) {
			srv, hits := scripted(t, tc.steps)
			c := newClient(t, srv.URL, testKey)
			var (
				resp *api.Response
				err  error
			)
			if tc.method == "GET" {
				_, resp, err = c.RetrievePaymentIntent(context.Background(), "pi_1", nil)
			} else {
				_, resp, err = c.CapturePaymentIntent(context.Background(), "pi_1", nil, "key-1")
			}
			if got := int(hits.Load()); got != tc.attempts {
				t.Errorf("server saw %d requests, want %d", got, tc.attempts)
			}
			if got := len(c.waits.got()); got != tc.attempts-1 {
				t.Errorf("back-off called %d times, want %d", got, tc.attempts-1)
			}
			if tc.class == api.Unknown {
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
				if resp.Attempts != tc.attempts || resp.StatusCode != 200 || resp.IdempotentReplayed != tc.replayed {
					t.Errorf("response = %+v", resp)
				}
				if resp.RequestID != fmt.Sprintf("req_%d", tc.attempts) {
					t.Errorf("RequestID = %q, want the last attempt's", resp.RequestID)
				}
				return
			}
			if err == nil {
				t.Fatalf("success, want a %s error", tc.class)
			}
			e := asAPIError(t, err)
			if e.Class != tc.class || api.ClassOf(err) != tc.class {
				t.Errorf("class = %s, want %s (%v)", e.Class, tc.class, err)
			}
			if e.Attempts != tc.attempts {
				t.Errorf("Error.Attempts = %d, want %d", e.Attempts, tc.attempts)
			}
			if e.IdempotentReplayed != tc.replayed {
				t.Errorf("IdempotentReplayed = %v, want %v", e.IdempotentReplayed, tc.replayed)
			}
			if tc.message != "" && e.Message != tc.message {
				t.Errorf("Message = %q, want %q (passthrough of the last body)", e.Message, tc.message)
			}
			sentinel := map[api.Class]error{api.Transient: api.ErrTransient, api.Indeterminate: api.ErrIndeterminate,
				api.Permanent: api.ErrPermanent, api.Declined: api.ErrDeclined}
			for cl, s := range sentinel {
				if errors.Is(err, s) != (cl == tc.class) {
					t.Errorf("errors.Is(err, %v) = %v", s, !(cl == tc.class))
				}
			}
			if tc.attempts > 1 && !strings.Contains(err.Error(), fmt.Sprintf("%d attempts over", tc.attempts)) {
				t.Errorf("error %q does not say what was tried", err)
			}
		})
	}
}

func TestDeclineCarriesPaymentIntent(t *testing.T) {
	srv, _ := scripted(t, []step{{status: 402, body: declineBody}})
	c := newClient(t, srv.URL, testKey)
	_, _, err := c.ConfirmPaymentIntent(context.Background(), "pi_1", nil, "k")
	e := asAPIError(t, err)
	if e.Type != "card_error" || e.Code != "card_declined" || e.DeclineCode != "generic_decline" || e.HTTPStatus != 402 {
		t.Fatalf("error = %+v", e)
	}
	if e.PaymentIntent == nil || e.PaymentIntent.ID != "pi_1" || e.PaymentIntent.Status != "requires_payment_method" {
		t.Fatalf("PaymentIntent = %+v", e.PaymentIntent)
	}
	if !e.MayHaveActed() {
		t.Error("a decline is a processed request")
	}
}

func TestConnectionRefusedIsTransientEvenForPOST(t *testing.T) {
	c := newClient(t, closedURL(t), testKey)
	_, _, err := c.CreatePaymentIntent(context.Background(), nil, "k")
	e := asAPIError(t, err)
	if e.Class != api.Transient || e.Attempts != 3 || e.HTTPStatus != 0 {
		t.Fatalf("err = %v (class %s, attempts %d)", err, e.Class, e.Attempts)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Errorf("cause %v is not the dial error", errors.Unwrap(err))
	}
	if e.MayHaveActed() {
		t.Error("a refused connection cannot have acted")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		header string
		want   time.Duration
	}{
		{"2", 2 * time.Second},
		{"86400", 7 * time.Second}, // capped
		{"999999999999999999999", 7 * time.Second},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second},
		{now.Add(time.Hour).Format(http.TimeFormat), 7 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"-3", 0},
		{"soon", 0},
		{"", 0},
	}
	for _, tc := range cases {
		t.Run(tc.header, func(t *testing.T) {
			h := map[string]string{}
			if tc.header != "" {
				h["Retry-After"] = tc.header
			}
			srv, _ := scripted(t, []step{{status: 429, header: h}, {status: 200, body: piBody}})
			c := newClient(t, srv.URL, testKey, func(cfg *api.Config) {
				cfg.RetryAfterCap = 7 * time.Second
				cfg.Now = func() time.Time { return now }
			})
			if _, _, err := c.CapturePaymentIntent(context.Background(), "pi_1", nil, "k"); err != nil {
				t.Fatal(err)
			}
			got := c.waits.got()
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("back-off saw Retry-After %v, want [%v]", got, tc.want)
			}
		})
	}
}

func TestExponentialBackoff(t *testing.T) {
	b := api.ExponentialBackoff(100*time.Millisecond, time.Second)
	for i := 0; i < 200; i++ {
		for n, bounds := range map[int][2]time.Duration{
			1:  {50 * time.Millisecond, 100 * time.Millisecond},
			2:  {100 * time.Millisecond, 200 * time.Millisecond},
			4:  {400 * time.Millisecond, 800 * time.Millisecond},
			5:  {500 * time.Millisecond, time.Second},
			64: {500 * time.Millisecond, time.Second},
		} {
			if d := b(n, 0); d < bounds[0] || d > bounds[1] {
				t.Fatalf("backoff(%d) = %v, want in %v", n, d, bounds)
			}
		}
	}
	if d := b(1, 30*time.Second); d != 30*time.Second {
		t.Errorf("backoff with Retry-After 30s = %v, want 30s", d)
	}
}

func TestPerAttemptDeadline(t *testing.T) {
	stop := make(chan struct{})
	arrived := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		io.Copy(io.Discard, r.Body) // lets the server notice the client leaving
		select {                    // never answers; the client's deadline ends it
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	c := newClient(t, srv.URL, testKey, func(cfg *api.Config) {
		// Long enough that connecting and writing never eat it under
		// -race, so both attempts are sent; the server never answers.
		cfg.RequestTimeout = time.Second
		cfg.MaxAttempts = 2
	})
	_, _, err := c.CreatePaymentIntent(context.Background(), nil, "k")
	e := asAPIError(t, err)
	if e.Class != api.Indeterminate || e.Attempts != 2 {
		t.Fatalf("err = %v, class %s, attempts %d", err, e.Class, e.Attempts)
	}
	// The client may give up on an attempt it has written before a
	// starved server goroutine has run the handler, so the arrivals are
	// waited for rather than counted the moment the call returns.
	for i := range 2 {
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
			t.Fatalf("the server saw %d of 2 attempts", i)
		}
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("cause of %v is not a timeout", err)
	}
}

func TestContextCancelMidRequest(t *testing.T) {
	stop := make(chan struct{})
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	c := newClient(t, srv.URL, testKey)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, _, err := c.CapturePaymentIntent(ctx, "pi_1", nil, "k")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	e := asAPIError(t, err)
	if e.Class != api.Indeterminate || e.Attempts != 1 {
		t.Errorf("class %s attempts %d: a sent POST cut short may have acted", e.Class, e.Attempts)
	}
}

func TestContextCancelDuringBackoff(t *testing.T) {
	srv, hits := scripted(t, []step{{status: 503, body: errBody("api_error", "", "down")}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newClient(t, srv.URL, testKey, func(cfg *api.Config) {
		cfg.Backoff = func(int, time.Duration) time.Duration {
			cancel() // the caller gives up while the client would wait
			return time.Hour
		}
	})
	_, _, err := c.ListPaymentIntents(ctx, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	e := asAPIError(t, err)
	if hits.Load() != 1 || e.Attempts != 1 || e.HTTPStatus != 503 || e.Message != "down" || e.Class != api.Transient {
		t.Errorf("err = %+v", e)
	}
}

func TestInvalidIdempotencyKeyNotSent(t *testing.T) {
	srv, hits := scripted(t, []step{{status: 200, body: piBody}})
	c := newClient(t, srv.URL, testKey)
	for _, k := range []string{"", strings.Repeat("k", 256), "a\nb", "é"} {
		_, err := c.Post(context.Background(), "/v1/payment_intents", []byte("amount=100"), k)
		if !errors.Is(err, api.ErrInvalidIdempotencyKey) || !errors.Is(err, api.ErrPermanent) {
			t.Errorf("key %q: err = %v", k, err)
		}
	}
	if _, err := c.Post(context.Background(), "/v1/payment_intents", nil, strings.Repeat("k", 255)); err != nil {
		t.Errorf("255-byte key refused: %v", err)
	}
	if hits.Load() != 1 {
		t.Errorf("server saw %d requests, want only the valid one", hits.Load())
	}
}

func TestRequestHeaders(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		fmt.Fprint(w, piBody)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, testKey, func(cfg *api.Config) { cfg.UserAgent = "till-test/1" })
	if _, err := c.Post(context.Background(), "/v1/payment_intents", []byte("amount=100&currency=eur"), "order-1-create"); err != nil {
		t.Fatal(err)
	}
	h := <-got
	for k, want := range map[string]string{
		"Authorization": "Bearer " + testKey, "Idempotency-Key": "order-1-create",
		"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "till-test/1",
	} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	if h.Get("Stripe-Version") == "" {
		t.Error("no Stripe-Version")
	}
}

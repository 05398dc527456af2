package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/sync/api"
)

// answerTransport answers every request with one fixed answer, in process:
// the fuzzer drives the client's whole answer path (retry decision, body
// buffering, envelope and error decoding, classification) without sockets.
type answerTransport struct {
	status int
	header http.Header
	body   []byte
}

func (a answerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: a.status, Header: a.header.Clone(), Request: r,
		Body: io.NopCloser(bytes.NewReader(a.body)), ContentLength: int64(len(a.body)),
	}, nil
}

func FuzzDecode(f *testing.F) {
	for _, tc := range retryCases {
		for _, s := range tc.steps {
			if s.drop || s.short {
				continue
			}
			f.Add(uint16(s.status), s.header["Idempotent-Replayed"] == "true", s.header["Stripe-Should-Retry"], []byte(s.body))
		}
	}
	f.Add(uint16(200), false, "", []byte(`{"object":"list","data":[{"id":"pi_1","object":"payment_intent"}],"has_more":false}`))
	f.Add(uint16(200), false, "", []byte(`{"object":"payment_intent","amount":"ten"}`))
	f.Add(uint16(402), false, "", []byte(`{"error":{"type":"card_error","payment_intent":"pi_1"}}`))
	f.Add(uint16(400), false, "", []byte(`{"error":null}`))
	f.Add(uint16(200), false, "", []byte(`null`))
	f.Add(uint16(500), true, "true", []byte{0xff, 0xfe, 0})

	f.Fuzz(func(t *testing.T, status uint16, replayed bool, shouldRetry string, body []byte) {
		if status < 100 || status > 599 {
			t.Skip()
		}
		h := http.Header{"Content-Type": {"application/json"}, "Request-Id": {"req_fuzz"}}
		if replayed {
			h.Set("Idempotent-Replayed", "true")
		}
		if shouldRetry != "" && !strings.ContainsAny(shouldRetry, "\r\n") {
			h.Set("Stripe-Should-Retry", shouldRetry)
		}
		c, err := api.New(api.Config{
			BaseURL: "http://fuzz.invalid", Key: testKey, MaxAttempts: 2,
			HTTPClient: &http.Client{Transport: answerTransport{int(status), h, body}},
			Backoff:    (&waits{}).backoff,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()

		pi, resp, err := c.CapturePaymentIntent(ctx, "pi_1", nil, "k")
		check(t, "POST", status, pi != nil, resp, err)
		pi, resp, err = c.RetrievePaymentIntent(ctx, "pi_1", nil)
		check(t, "GET", status, pi != nil, resp, err)
		list, resp, err := c.ListPaymentIntents(ctx, nil)
		check(t, "GET", status, list != nil, resp, err)

		// The drainer's path: raw Post, then Decode.
		resp, err = c.Post(ctx, "/v1/payment_intents/pi_1/capture", []byte("amount_to_capture=100"), "k")
		if err != nil {
			check(t, "POST", status, false, resp, err)
			return
		}
		var v stripe.PaymentIntent
		if err := resp.Decode(&v); err != nil {
			if !errors.Is(err, api.ErrMalformedResponse) || api.ClassOf(err) != api.Indeterminate {
				t.Fatalf("Decode after Post: %v (class %s)", err, api.ClassOf(err))
			}
		}
	})
}

func check(t *testing.T, method string, status uint16, gotValue bool, resp *api.Response, err error) {
	t.Helper()
	if err == nil {
		if !gotValue || resp == nil || resp.StatusCode/100 != 2 || resp.Object == "" {
			t.Fatalf("%s: success without a value: %+v", method, resp)
		}
		return
	}
	if gotValue {
		t.Fatalf("%s: a value and an error %v", method, err)
	}
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: error %T is not an *api.Error", method, err)
	}
	msg := e.Error()
	if msg == "" || strings.Contains(msg, testKey) {
		t.Fatalf("%s: bad message %q", method, msg)
	}
	if e.Attempts < 1 || e.Attempts > 2 || e.HTTPStatus != int(status) {
		t.Fatalf("%s: attempts %d status %d", method, e.Attempts, e.HTTPStatus)
	}
	switch e.Class {
	case api.Transient, api.Permanent, api.Declined:
	case api.Indeterminate:
		if method != "POST" {
			t.Fatalf("GET classified indeterminate: %v", err)
		}
	default:
		t.Fatalf("%s: class %v", method, e.Class)
	}
	if status/100 == 2 && !errors.Is(err, api.ErrMalformedResponse) {
		t.Fatalf("%s: a 2xx failure must be a malformed response: %v", method, err)
	}
	if status/100 == 2 && method == "POST" && e.Class != api.Indeterminate {
		t.Fatalf("malformed 2xx to a POST must be indeterminate: %v", err)
	}
}

package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/api"
)

const secretKey = "sk_test_SECRETsecretSECRET_9f8e7d6c5b4a"

// TestKeyNeverLeaks drives a client through successes, retries, echoing
// errors and refused connections with a debug log, then looks for the key
// in everything a user could print.
func TestKeyNeverLeaks(t *testing.T) {
	var hits atomic.Int32
	// A hostile peer: it echoes the Authorization header in messages,
	// headers and bodies.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		w.Header().Set("Request-Id", "req_"+auth)
		switch n := hits.Add(1); {
		case n == 1:
			fmt.Fprint(w, piBody)
		case strings.HasSuffix(r.URL.Path, "/capture"):
			w.WriteHeader(503)
			fmt.Fprintf(w, `{"error":{"type":"api_error","message":"down for %s"}}`, auth)
		default:
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"error":{"type":"authentication_error","message":"Invalid API Key provided: %s","param":%q}}`, auth, auth)
		}
	}))
	t.Cleanup(srv.Close)

	c := newClient(t, srv.URL, secretKey)
	ctx := context.Background()
	var errs []error
	if _, _, err := c.RetrievePaymentIntent(ctx, "pi_1", &stripe.PaymentIntentRetrieveParams{}); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.CapturePaymentIntent(ctx, "pi_1", nil, "k1")
	errs = append(errs, err)
	_, _, err = c.ListCustomers(ctx, &stripe.CustomerListParams{Email: stripe.String("ana@example.com")})
	errs = append(errs, err)
	down := newClient(t, closedURL(t), secretKey)
	_, _, err = down.CreatePaymentIntent(ctx, nil, "k2")
	errs = append(errs, err, down.Probe(ctx))
	_, err = api.New(api.Config{BaseURL: "http://x", Key: secretKey + " "})
	errs = append(errs, err)
	_, err = api.New(api.Config{BaseURL: "http://user:" + secretKey + "@x", Key: secretKey})
	errs = append(errs, err)

	var printed bytes.Buffer
	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d did not fail", i)
		}
		fmt.Fprintf(&printed, "%v %+v %#v %s %q\n", err, err, err, err, err)
		if e, ok := err.(*api.Error); ok {
			printed.Write(e.Body)
			printed.WriteString(e.Message + e.Param + e.RequestID)
		}
	}
	cfg := api.Config{BaseURL: srv.URL, Key: secretKey}
	fmt.Fprintf(&printed, "%v %+v %#v %s %q\n", cfg, cfg, cfg, cfg, cfg)
	fmt.Fprintf(&printed, "%v %+v %#v %s %q\n", &cfg, &cfg, &cfg, &cfg, &cfg)
	fmt.Fprintf(&printed, "%v %+v %#v %s %q\n", c.Client, c.Client, c.Client, c.Client, c.Client)
	js, err := json.Marshal(struct{ C api.Config }{cfg})
	if err != nil {
		t.Fatal(err)
	}
	printed.Write(js)
	var slogOut bytes.Buffer
	slog.New(slog.NewJSONHandler(&slogOut, nil)).Info("config", "cfg", cfg, "client", c.Client)
	slog.New(slog.NewTextHandler(&slogOut, nil)).Info("config", "cfg", cfg, "client", c.Client)
	printed.Write(slogOut.Bytes())

	logs := c.logs.String() + down.logs.String()
	for what, s := range map[string]string{"errors and formatted values": printed.String(), "logs": logs} {
		if strings.Contains(s, secretKey) || strings.Contains(s, "SECRETsecretSECRET") {
			t.Errorf("the key leaked into %s:\n%s", what, s)
		}
	}
	// The logs are not empty and do name what happened, with the key
	// masked the way Stripe masks it.
	for _, want := range []string{"api call failed", "retryablehttp: performing request", "POST /v1/payment_intents/pi_1/capture", "sk_test_****5b4a"} {
		if !strings.Contains(logs+printed.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(logs, "ana@example.com") {
		t.Error("a query string (customer e-mail) reached the log")
	}
}

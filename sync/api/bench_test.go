package api_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/api/apitest"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

var benchRun atomic.Int64

func benchKey(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), benchRun.Add(1))
}

// BenchmarkCreateConfirmCapture: one card flow (create with pm_card_visa,
// manual capture; confirm; capture) through the client against the
// in-memory sandbox on loopback. flows/s is reported.
func BenchmarkCreateConfirmCapture(b *testing.B) {
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", conc), func(b *testing.B) {
			srv := sandboxtest.New(b, sandbox.Options{})
			c, err := api.New(api.Config{BaseURL: srv.URL, Key: srv.Key})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			params := &stripe.PaymentIntentCreateParams{
				Amount: stripe.Int64(1200), Currency: stripe.String("eur"),
				PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
				PaymentMethod:      stripe.String("pm_card_visa"), CaptureMethod: stripe.String("manual"),
			}
			params.AddMetadata("order_id", "bench")
			params.AddMetadata("lane", "bench")
			flow := func() {
				k := benchKey("flow")
				pi, _, err := c.CreatePaymentIntent(ctx, params, k+"-create")
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.ConfirmPaymentIntent(ctx, pi.ID, nil, k+"-confirm"); err != nil {
					b.Fatal(err)
				}
				if pi, _, err = c.CapturePaymentIntent(ctx, pi.ID, nil, k+"-capture"); err != nil || pi.Status != stripe.PaymentIntentStatusSucceeded {
					b.Fatal(err, pi.Status)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			if conc == 1 {
				for b.Loop() {
					flow()
				}
			} else {
				b.SetParallelism(conc)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						flow()
					}
				})
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "flows/s")
		})
	}
}

// BenchmarkPost is the client's raw Post of a create body, and
// BenchmarkBareHTTPPost the floor: the same POSTs with bare net/http
// (apitest.BarePosts), to the same endpoint. Compare their req/s.
func BenchmarkPost(b *testing.B) {
	srv := sandboxtest.New(b, sandbox.Options{})
	c, err := api.New(api.Config{BaseURL: srv.URL, Key: srv.Key})
	if err != nil {
		b.Fatal(err)
	}
	body := benchBody()
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if _, err := c.Post(ctx, "/v1/payment_intents", body, benchKey("post")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

func BenchmarkBareHTTPPost(b *testing.B) {
	srv := sandboxtest.New(b, sandbox.Options{})
	body := benchBody()
	b.ReportAllocs()
	elapsed, err := apitest.BarePosts(context.Background(), srv.URL, srv.Key, "/v1/payment_intents", body, b.N, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}

func benchBody() []byte {
	p := &stripe.PaymentIntentCreateParams{
		Amount: stripe.Int64(1200), Currency: stripe.String("eur"),
		PaymentMethodTypes: stripe.StringSlice([]string{"card_present"}), CaptureMethod: stripe.String("manual"),
	}
	p.AddMetadata("order_id", "bench")
	p.AddMetadata("lane", "bench")
	return api.Encode(p)
}

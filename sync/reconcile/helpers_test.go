package reconcile_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"
	"go.uber.org/goleak"

	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

// TestMain checks that no test leaves a goroutine behind (Fetch starts
// none; the sandboxes and idle connections are closed by each test).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// opening is the sandbox's base time in these tests: the shop opens at
// 08:00 on the day (day, in make_test.go).
var opening = day.Add(8 * time.Hour)

// counting is an http.RoundTripper that counts the requests the client
// sends (every attempt), and can run a hook before the n-th one.
type counting struct {
	next   http.RoundTripper
	n      atomic.Int64
	before func(n int64)
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	n := c.n.Add(1)
	if c.before != nil {
		c.before(n)
	}
	return c.next.RoundTrip(r)
}

// newSandbox starts a sandbox whose clock starts at opening, and a client
// whose requests are counted.
func newSandbox(tb testing.TB) (*sandboxtest.Server, *api.Client, *counting) {
	tb.Helper()
	srv := sandboxtest.New(tb, sandbox.Options{Now: func() time.Time { return opening }})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	cnt := &counting{next: tr}
	c, err := api.New(api.Config{
		BaseURL: srv.URL, Key: srv.Key, HTTPClient: &http.Client{Transport: cnt},
		MaxAttempts: 2, Backoff: func(int, time.Duration) time.Duration { return 0 },
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(tr.CloseIdleConnections)
	return srv, c, cnt
}

// seedSpec describes one PaymentIntent to create.
type seedSpec struct {
	order, lane string
	amount      int64
	// how: "auth" (manual capture, pm_card_visa, confirmed: requires_capture),
	// "present" (card_present on the simulated reader, confirmed:
	// requires_capture), "paid" (automatic capture: succeeded), "open"
	// (created only: requires_payment_method).
	how string
}

// seed creates the PaymentIntents, 8 at a time, and returns them in the
// order of specs.
func seed(tb testing.TB, c *api.Client, prefix string, specs []seedSpec) []*stripe.PaymentIntent {
	tb.Helper()
	ctx := context.Background()
	out := make([]*stripe.PaymentIntent, len(specs))
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(specs) {
					return
				}
				pi, err := create(ctx, c, fmt.Sprintf("%s-%d", prefix, i), specs[i])
				if err != nil {
					errOnce.Do(func() { first = fmt.Errorf("seed %d (%+v): %w", i, specs[i], err) })
					return
				}
				out[i] = pi
			}
		}()
	}
	wg.Wait()
	if first != nil {
		tb.Fatal(first)
	}
	return out
}

func create(ctx context.Context, c *api.Client, key string, s seedSpec) (*stripe.PaymentIntent, error) {
	p := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(s.amount), Currency: stripe.String("chf")}
	p.AddMetadata("order_id", s.order)
	p.AddMetadata("lane", s.lane)
	switch s.how {
	case "auth":
		p.CaptureMethod, p.PaymentMethod, p.Confirm = stripe.String("manual"), stripe.String("pm_card_visa"), stripe.Bool(true)
		p.PaymentMethodTypes = stripe.StringSlice([]string{"card"})
	case "paid":
		p.CaptureMethod, p.PaymentMethod, p.Confirm = stripe.String("automatic"), stripe.String("pm_card_visa"), stripe.Bool(true)
		p.PaymentMethodTypes = stripe.StringSlice([]string{"card"})
	case "present":
		p.CaptureMethod = stripe.String("manual")
		p.PaymentMethodTypes = stripe.StringSlice([]string{"card_present"})
	case "open":
		p.PaymentMethodTypes = stripe.StringSlice([]string{"card_present"})
	default:
		return nil, fmt.Errorf("unknown seed %q", s.how)
	}
	pi, _, err := c.CreatePaymentIntent(ctx, p, key+"-create")
	if err != nil || s.how != "present" {
		return pi, err
	}
	card := &api.PresentPaymentMethodParams{CardPresent: &api.PresentPaymentMethodCardParams{SimulatedCard: stripe.String("visa")}}
	if _, _, err := c.PresentPaymentMethod(ctx, pi.ID, card, key+"-present"); err != nil {
		return nil, err
	}
	pi, _, err = c.ConfirmPaymentIntent(ctx, pi.ID, nil, key+"-confirm")
	return pi, err
}

// many is n specs of one kind for one lane.
func many(n int, how string) []seedSpec {
	s := make([]seedSpec, n)
	for i := range s {
		s[i] = seedSpec{order: fmt.Sprint(i + 1), lane: "lane-1", amount: 1000 + int64(i%50)*100, how: how}
	}
	return s
}

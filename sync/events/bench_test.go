package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/events"
)

// BenchmarkCatchUp measures catching up a backlog of 1,000 events (ten
// pages) from the real sandbox over loopback, Apply doing nothing but
// keeping the cursor.
func BenchmarkCatchUp(b *testing.B) {
	const backlog = 1000
	srv := newSandbox(b)
	d := newDriver(b, srv)
	d.succeeded()
	from := d.listed()[0]
	for range backlog {
		d.succeeded()
	}
	c := newClient(b, srv.URL, srv.Key)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cursor := from
		applied := 0
		ctx, cancel := context.WithCancel(context.Background())
		p, err := events.New(events.Config{
			Client: c, Every: time.Hour,
			Load: func() (string, error) { return cursor, nil },
			Save: func(context.Context, string) error { return nil },
			Apply: func(_ context.Context, ev *stripe.Event) (string, error) {
				cursor = ev.ID
				applied++
				return ev.ID, nil
			},
			OnState: func(s events.State) {
				if s.Status == events.CaughtUp {
					cancel()
				}
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Run(ctx); err != nil {
			b.Fatal(err)
		}
		if applied != backlog {
			b.Fatalf("applied %d, want %d", applied, backlog)
		}
	}
	b.ReportMetric(float64(backlog*b.N)/b.Elapsed().Seconds(), "events/s")
}

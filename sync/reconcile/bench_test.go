package reconcile_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/reconcile"
)

// BenchmarkFetchAndPlan reconciles N PaymentIntents of one day against the
// sandbox over loopback: Fetch (every page, charges expanded) and Make.
// Half the PaymentIntents are authorisations awaiting capture, matched to
// orders that call for each action in turn. calls/op counts the HTTP
// requests of the timed part and must be ceil(N/100); actions/op is what
// applying the plan would add, one call each.
func BenchmarkFetchAndPlan(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			srv, c, cnt := newSandbox(b)
			specs := make([]seedSpec, n)
			for i := range specs {
				how := "auth"
				switch {
				case i%2 == 0:
				case i%4 == 1:
					how = "paid"
				default:
					how = "open"
				}
				specs[i] = seedSpec{order: fmt.Sprint(i), lane: "lane-1", amount: 1000 + int64(i%90)*100, how: how}
			}
			pis := seed(b, c, "bench", specs)
			orders := make(map[string]reconcile.Local, n)
			var completed []reconcile.Local
			for i, pi := range pis {
				id := specs[i].order
				switch {
				case pi.Status == stripe.PaymentIntentStatusSucceeded:
					orders[id] = reconcile.Local{OrderID: id, Status: "completed", Counting: []string{pi.ID}, Amount: pi.Amount, Currency: "chf"}
					completed = append(completed, orders[id])
				case pi.Status != stripe.PaymentIntentStatusRequiresCapture:
				case i%8 == 0: // capture
					orders[id] = reconcile.Local{OrderID: id, Status: "completed", Counting: []string{pi.ID}, Amount: pi.Amount, Currency: "chf"}
					completed = append(completed, orders[id])
				case i%8 == 2: // no order: cancel abandoned
				case i%8 == 4: // paid cash: cancel duplicate
					orders[id] = reconcile.Local{OrderID: id, Status: "completed"}
				default: // still open
					orders[id] = reconcile.Local{OrderID: id, Status: "open"}
				}
			}
			in := reconcile.Input{
				Lane: "lane-1", Now: srv.Now(), Completed: completed,
				Order: func(id string) (reconcile.Local, bool) { o, ok := orders[id]; return o, ok },
			}
			from, to := srv.Now(), srv.Now().Add(time.Second)
			ctx := context.Background()

			cnt.n.Store(0)
			pages, actions := 0, 0
			b.ReportAllocs()
			for b.Loop() {
				got, err := reconcile.Fetch(ctx, c, from, to)
				if err != nil {
					b.Fatal(err)
				}
				in.Intents = got.Intents
				plan := reconcile.Make(in)
				if plan.Fetched != n || plan.Foreign != 0 {
					b.Fatalf("fetched %d, foreign %d; want %d, 0", plan.Fetched, plan.Foreign, n)
				}
				pages += got.Pages
				actions += plan.Actions
			}
			calls := float64(cnt.n.Load()) / float64(b.N)
			if want := float64((n + 99) / 100); calls != want || float64(pages)/float64(b.N) != want {
				b.Fatalf("%.2f calls/op, %.2f pages/op; want %.0f", calls, float64(pages)/float64(b.N), want)
			}
			b.ReportMetric(float64(pages)/float64(b.N), "pages/op")
			b.ReportMetric(calls, "calls/op")
			b.ReportMetric(float64(actions)/float64(b.N), "actions/op")
		})
	}
}

// BenchmarkMake is the planning alone, without I/O, for 10,000 intents.
func BenchmarkMake(b *testing.B) {
	const n = 10000
	in := reconcile.Input{Lane: "lane-1", Now: now}
	orders := make(map[string]reconcile.Local, n)
	for i := range n {
		s := piSpec{ID: fmt.Sprintf("pi_%05d", i), Status: fuzzStatuses[i%len(fuzzStatuses)], Lane: "lane-1",
			Order: fmt.Sprint(i), Amount: 1200, Capturable: 1200, Minute: int64(i % 1200), Present: i%3 == 0}
		in.Intents = append(in.Intents, s.intent())
		orders[s.Order] = reconcile.Local{OrderID: s.Order, Status: fuzzOrderStatuses[i%len(fuzzOrderStatuses)], Counting: []string{s.ID}}
	}
	in.Order = func(id string) (reconcile.Local, bool) { o, ok := orders[id]; return o, ok }
	b.ReportAllocs()
	for b.Loop() {
		reconcile.Make(in)
	}
}

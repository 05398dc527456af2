package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

// BenchmarkEndOfDay reconciles a day of N card sales whose captures all
// wait for the end of day (till-lane -capture eod) against the sandbox,
// over loopback: plan (every page of the day's PaymentIntents) and apply
// (one capture each, through the outbox), timed together. It reports the
// list pages and the capture calls made, which must be ceil(N/100) and N.
//
//	go test -run '^$' -bench 'EndOfDay/N=10000' -benchtime 1x -timeout 30m ./app/
func BenchmarkEndOfDay(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				srv := sandboxtest.New(b, sandbox.Options{})
				var lists, captures, other atomic.Int64
				front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					switch {
					case r.Method == http.MethodGet && r.URL.Path == "/v1/payment_intents" && r.URL.Query().Has("created[gte]"):
						lists.Add(1)
					case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/capture"):
						captures.Add(1)
					case r.Method == http.MethodPost:
						other.Add(1)
					}
					srv.Server.ServeHTTP(w, r)
				}))
				cfg := DefaultConfig()
				cfg.Database = filepath.Join(b.TempDir(), "till.db")
				cfg.API = APIConfig{BaseURL: front.URL, Key: Secret(srv.Key)}
				cfg.CaptureAtEndOfDay = true
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
				sum, err := RunLane(ctx, LaneParams{Config: cfg, Sales: n, Seed: 1, Concurrency: 8})
				if err != nil || sum.Completed != n {
					b.Fatalf("lane: %+v, %v", sum, err)
				}
				lists.Store(0)
				captures.Store(0)
				other.Store(0)
				b.StartTimer()
				start := time.Now()
				out, err := RunReconcile(ctx, ReconcileParams{Config: cfg, Apply: true})
				wall := time.Since(start)
				b.StopTimer()
				cancel()
				front.Close()
				if err != nil {
					b.Fatal(err)
				}
				if want := int64((n + 99) / 100); lists.Load() != want || captures.Load() != int64(n) || other.Load() != 0 || out.Result.Done != n {
					b.Fatalf("calls: %d list pages (want %d), %d captures and %d other POSTs (want %d and 0); %+v",
						lists.Load(), want, captures.Load(), other.Load(), n, out.Result)
				}
				b.ReportMetric(float64(lists.Load()), "pages/op")
				b.ReportMetric(float64(captures.Load()), "captures/op")
				b.ReportMetric(float64(lists.Load()+captures.Load()), "calls/op")
				b.ReportMetric(wall.Seconds(), "wall-s/op")
			}
		})
	}
}

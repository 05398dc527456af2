package sandbox_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

// BenchmarkCreateConfirmCapture measures full payment flows per second over
// loopback HTTP: create (manual capture, pm_card_visa), confirm, capture,
// each with its own Idempotency-Key, from 1 and 8 concurrent clients.
func BenchmarkCreateConfirmCapture(b *testing.B) {
	for _, tc := range []struct {
		clients int
		persist bool
	}{{1, false}, {8, false}, {1, true}, {8, true}} {
		name := fmt.Sprintf("clients=%d", tc.clients)
		if tc.persist {
			name += "/data-file"
		}
		b.Run(name, func(b *testing.B) {
			opts := sandbox.Options{}
			if tc.persist {
				opts.DataFile = filepath.Join(b.TempDir(), "bench.json")
			}
			srv := sandboxtest.New(b, opts)
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			var seq atomic.Int64
			post := func(path, body string) string {
				req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+srv.Key)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", seq.Add(1)))
				res, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				data, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 {
					b.Fatalf("%s: %d %s %v", path, res.StatusCode, data, err)
				}
				// "id":"pi_…" is the first field of the answer.
				s := string(data)
				i := strings.Index(s, `"id":"`) + 6
				return s[i : i+strings.IndexByte(s[i:], '"')]
			}
			flow := func() {
				id := post("/v1/payment_intents", "amount=1000&currency=usd&capture_method=manual&payment_method=pm_card_visa&metadata[order_id]=1")
				post("/v1/payment_intents/"+id+"/confirm", "")
				post("/v1/payment_intents/"+id+"/capture", "")
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			var next atomic.Int64
			for range tc.clients {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						flow()
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "flows/s")
		})
	}
}

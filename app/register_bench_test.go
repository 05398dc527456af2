package app

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/tillpos/till/reader/sim"
	"github.com/tillpos/till/ui"
)

// openEmbedded opens a started till on the embedded default — the built-in
// sandbox API (with its data file) and simulated reader — as `make run`
// does, and a register on it.
func openEmbedded(b *testing.B) (*Till, *Register) {
	b.Helper()
	cfg := DefaultConfig()
	cfg.Database = filepath.Join(b.TempDir(), "till.db")
	till, err := Open(Params{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	till.Start()
	r, err := till.NewRegister()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		r.Close()
		if err := till.Close(); err != nil {
			b.Error(err)
		}
	})
	return till, r
}

// waitFor waits for cond on the register's sale, for benchmarks.
func waitFor(b *testing.B, ctx context.Context, r *Register, cond func(ui.SaleView) bool) {
	changed := make(chan struct{}, 1)
	r.Subscribe(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	for !cond(r.Sale()) {
		select {
		case <-changed:
		case <-ctx.Done():
			b.Fatalf("sale never got there: %+v", r.Sale())
		}
	}
}

// BenchmarkChargeToPresentCard times what a cashier waits for after
// pressing Card on the embedded default: the sale and its PaymentIntent
// creation committed, the outbox creating the PaymentIntent on the API,
// and the reader prompting the customer ("present card").
func BenchmarkChargeToPresentCard(b *testing.B) {
	till, r := openEmbedded(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	d := till.Simulator()
	for b.Loop() {
		b.StopTimer()
		if err := r.Scan("7610335001202"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := r.ChargeCard(); err != nil {
			b.Fatal(err)
		}
		for {
			changed := d.Changed()
			if d.Snapshot().Phase == sim.PhaseWaiting {
				break
			}
			<-changed
		}
		b.StopTimer()
		if err := d.Tap("visa"); err != nil {
			b.Fatal(err)
		}
		waitFor(b, ctx, r, func(v ui.SaleView) bool { return v.Stage == ui.StageDone })
		if err := r.NewSale(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkRegisterWith1000Sales measures the register on a store holding
// 1,000 finished sales: the views the screen reads on every change, and
// the heap in use afterwards (heap-MB, after a GC).
func BenchmarkRegisterWith1000Sales(b *testing.B) {
	till, r := openEmbedded(b)
	for range 1000 {
		for _, code := range []string{"7610335001202", "HOT-ESP", "7610335001370"} {
			if err := r.Scan(code); err != nil {
				b.Fatal(err)
			}
		}
		if err := r.PayCash("100"); err != nil {
			b.Fatal(err)
		}
		if err := r.NewSale(); err != nil {
			b.Fatal(err)
		}
	}
	if n, err := till.orderCount(); err != nil || n != 1000 {
		b.Fatalf("%d orders, %v", n, err)
	}
	for b.Loop() {
		_ = r.Sale()
		_ = r.Status()
		if rs := r.Receipts(20); len(rs) != 20 {
			b.Fatalf("%d receipts", len(rs))
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
}

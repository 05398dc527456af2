package report

import (
	"io"
	"testing"
	"time"

	"github.com/tillpos/till/app/order"
)

// BenchmarkMake adds up a busy day: 2,000 orders of mixed tenders.
func BenchmarkMake(b *testing.B) {
	// A clock stepping a second per reading keeps 2,000 orders in the day.
	now := day.Add(6 * time.Hour)
	l, err := order.NewLane("L1", incCHF, func() time.Time { now = now.Add(time.Second); return now })
	if err != nil {
		b.Fatal(err)
	}
	var orders []*order.Order
	for i := range 2000 {
		s := sale{items: []item{{espresso, int64(1 + i%3)}, {cake, 1}}}
		switch i % 5 {
		case 0:
			s.pays = []pay{{kind: order.TenderCash, given: 5000}}
		case 1:
			s.pays = []pay{{kind: order.TenderCard, amount: 500}, {kind: order.TenderCash, given: 5000}}
		case 2:
			s.pays = []pay{{kind: order.TenderTwint}}
		case 3:
			s.items = append(s.items, item{irish, 2})
			s.pays = []pay{{kind: order.TenderCard, offline: true, status: order.PaymentRequiresPaymentMethod}}
		case 4:
			s.end = voided
		}
		orders = append(orders, build(b, l, s))
	}
	in := baseInput(orders...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Make(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWritePNG(b *testing.B) {
	r, err := Make(fullDay(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := r.WritePNG(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

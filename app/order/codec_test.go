package order

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// sampleOrders returns orders in every status, for round trips and as fuzz
// seeds.
func sampleOrders(t testing.TB) []*Order {
	clk := newClock()
	lane, err := NewLane("L1", incCHF, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(steps ...func(o *Order) error) *Order {
		o, err := lane.NewOrder()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			clk.Add(1500 * time.Millisecond)
			if err := s(o); err != nil {
				t.Fatal(err)
			}
		}
		return o
	}
	add := func(o *Order) error { _, err := o.AddProduct(espresso, 2); return err }
	add2 := func(o *Order) error { _, err := o.AddProduct(cake, 1); return err }
	disc := func(o *Order) error { return o.SetLineDiscount(1, PercentOff(1000)) }
	cart := func(o *Order) error { return o.SetCartDiscount(AmountOff(chf(50))) }
	tender := (*Order).StartTendering
	cash := func(o *Order) error { _, err := o.AddCash(chf(5000), nil); return err }
	card := func(o *Order) error {
		_, err := o.AddPayment(TenderCard, o.Remaining(), Payment{PaymentIntentID: "pi_3Q", Status: PaymentRequiresCapture, Brand: "visa", Last4: "4242"})
		return err
	}
	partial := func(o *Order) error { _, err := o.AddCash(chf(300), nil); return err }
	return []*Order{
		mk(),
		mk(add, add2, disc, cart),
		mk(add, tender),
		mk(add, add2, tender, cash, (*Order).Complete),
		mk(add, add2, disc, tender, partial, card, (*Order).Complete),
		mk(add, func(o *Order) error { return o.Void("customer left") }),
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, o := range sampleOrders(t) {
		b, err := o.Marshal()
		must(t, err)
		if !bytes.HasPrefix(b, []byte(`{"v":1,`)) {
			t.Fatalf("encoding does not start with the version: %.40s", b)
		}
		got, err := Unmarshal(b, newClock().Now)
		if err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		b2, err := got.Marshal()
		must(t, err)
		if !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the order:\n%s\n%s", b, b2)
		}
		if got.ID() != o.ID() || got.Status() != o.Status() || got.Totals().Total != o.Totals().Total ||
			!got.CreatedAt().Equal(o.CreatedAt()) || !got.CompletedAt().Equal(o.CompletedAt()) || got.Paid() != o.Paid() {
			t.Fatalf("decoded order differs: %+v vs %+v", got, o)
		}
	}
}

// An open order restored after a restart keeps working, with the new clock.
func TestUnmarshalledOrderContinues(t *testing.T) {
	o := sampleOrders(t)[1]
	b, err := o.Marshal()
	must(t, err)
	clk := newClock()
	clk.Add(time.Hour)
	got, err := Unmarshal(b, clk.Now)
	must(t, err)
	id, err := got.AddProduct(irish, 1)
	must(t, err)
	if id != 3 || !got.UpdatedAt().Equal(clk.Now()) {
		t.Fatalf("new line id %d (want 3), updated %v", id, got.UpdatedAt())
	}
}

func mutate(t *testing.T, b []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	must(t, json.Unmarshal(b, &m))
	f(m)
	out, err := json.Marshal(m)
	must(t, err)
	return out
}

func TestUnmarshalRejects(t *testing.T) {
	orders := sampleOrders(t)
	open, _ := orders[1].Marshal()
	done, _ := orders[4].Marshal()
	tests := []struct {
		name string
		data []byte
		err  error
		msg  string
	}{
		{"empty", nil, ErrCorrupt, ""},
		{"garbage", []byte("\x00\xff garbage"), ErrCorrupt, ""},
		{"not an object", []byte(`[1,2]`), ErrCorrupt, ""},
		{"no version", mutate(t, open, func(m map[string]any) { delete(m, "v") }), ErrUnsupportedVersion, "no schema version"},
		{"newer version", mutate(t, open, func(m map[string]any) { m["v"] = 2 }), ErrUnsupportedVersion, "schema version 2"},
		{"version as string", mutate(t, open, func(m map[string]any) { m["v"] = "1" }), ErrCorrupt, ""},
		{"unknown field", mutate(t, open, func(m map[string]any) { m["loyalty"] = true }), ErrCorrupt, "loyalty"},
		{"trailing data", append(bytes.Clone(open), []byte(` {}`)...), ErrCorrupt, "after top-level value"},
		{"tampered total", mutate(t, open, func(m map[string]any) {
			m["totals"].(map[string]any)["total"].(map[string]any)["amount"] = 1
		}), ErrCorrupt, "totals differ"},
		{"tampered price", mutate(t, open, func(m map[string]any) {
			m["cart"].(map[string]any)["lines"].([]any)[0].(map[string]any)["unit_price"].(map[string]any)["amount"] = 1
		}), ErrCorrupt, "totals differ"},
		{"bad status", mutate(t, open, func(m map[string]any) { m["status"] = "paid" }), ErrCorrupt, "status"},
		{"bad id", mutate(t, open, func(m map[string]any) { m["id"] = "L1-nope" }), ErrCorrupt, ""},
		{"lane mismatch", mutate(t, open, func(m map[string]any) { m["lane"] = "L2" }), ErrCorrupt, "lane"},
		{"unknown currency", mutate(t, open, func(m map[string]any) { m["config"].(map[string]any)["currency"] = "QQQ" }), ErrCorrupt, ""},
		{"duplicate line id", mutate(t, open, func(m map[string]any) {
			lines := m["cart"].(map[string]any)["lines"].([]any)
			lines[1].(map[string]any)["id"] = lines[0].(map[string]any)["id"]
		}), ErrCorrupt, "line id"},
		{"completed but unpaid", mutate(t, done, func(m map[string]any) {
			m["tenders"] = []any{}
		}), ErrCorrupt, "not paid"},
		{"cash that does not add up", mutate(t, done, func(m map[string]any) {
			m["tenders"].([]any)[0].(map[string]any)["cash"].(map[string]any)["change"].(map[string]any)["amount"] = 7
		}), ErrCorrupt, "cash tender"},
		{"too large", bytes.Repeat([]byte(" "), MaxEncodedSize+1), ErrCorrupt, "more than"},
	}
	for _, tt := range tests {
		o, err := Unmarshal(tt.data, newClock().Now)
		if o != nil || !errors.Is(err, tt.err) {
			t.Errorf("%s: Unmarshal = %v, %v; want %v", tt.name, o, err, tt.err)
			continue
		}
		if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: err %q does not mention %q", tt.name, err, tt.msg)
		}
	}
	if _, err := Unmarshal(open, nil); err == nil {
		t.Error("Unmarshal with nil clock succeeded")
	}
}

// FuzzUnmarshal: arbitrary bytes never panic; whatever decodes re-encodes
// to bytes that decode to the same order.
func FuzzUnmarshal(f *testing.F) {
	for _, o := range sampleOrders(f) {
		b, err := o.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := Unmarshal(data, newClock().Now)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("error is neither ErrCorrupt nor ErrUnsupportedVersion: %v", err)
			}
			return
		}
		b, err := o.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		o2, err := Unmarshal(b, newClock().Now)
		if err != nil {
			t.Fatalf("re-encoded order does not decode: %v\n%s", err, b)
		}
		b2, _ := o2.Marshal()
		if !bytes.Equal(b, b2) {
			t.Fatalf("unstable encoding:\n%s\n%s", b, b2)
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	o := sampleOrders(b)[4]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	data, err := sampleOrders(b)[4].Marshal()
	if err != nil {
		b.Fatal(err)
	}
	clk := newClock()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(data, clk.Now); err != nil {
			b.Fatal(err)
		}
	}
}

package reconcile_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tillpos/till/sync/reconcile"
)

var fuzzStatuses = []string{"requires_payment_method", "requires_confirmation", "requires_action", "processing",
	"requires_capture", "succeeded", "canceled"}

var fuzzOrderStatuses = []string{"open", "tendering", "completed", "voided", ""}

// scramble applies noise to a case: each byte picks an intent (or order)
// and changes one thing about it, so the fuzzer explores random statuses,
// lanes, metadata, queued operations and expiry times from a table case.
func scramble(c *caseSpec, noise []byte) {
	for i, b := range noise {
		op, arg := b&7, int(b>>3)
		if len(c.Intents) == 0 {
			c.Intents = append(c.Intents, piSpec{ID: "pi_f", Status: "requires_capture", Lane: "lane-1", Order: "1", Amount: 100, Capturable: 100})
		}
		s := &c.Intents[(i+arg)%len(c.Intents)]
		switch op {
		case 0:
			s.Status = fuzzStatuses[arg%len(fuzzStatuses)]
		case 1:
			s.Lane = []string{"lane-1", "lane-2", ""}[arg%3]
		case 2:
			s.Order = []string{"1", "2", "42", "", "70"}[arg%5]
		case 3:
			if c.Queued == nil {
				c.Queued = map[string]string{}
			}
			c.Queued[s.ID] = []string{"capture", "cancel", ""}[arg%3]
		case 4:
			id := []string{"1", "2", "42", "70"}[arg%4]
			o := reconcile.Local{OrderID: id, Status: fuzzOrderStatuses[arg%len(fuzzOrderStatuses)], Amount: s.Amount, Currency: "chf"}
			if arg&1 == 1 {
				o.Counting = []string{s.ID, "pi_gone"}
			}
			c.Orders = append(c.Orders, o)
			c.Completed = append(c.Completed, id)
		case 5:
			s.Before = int64(arg-16) * 90
			s.Present = arg&1 == 0
		case 6:
			s.NoMeta, s.Nil = arg%5 == 0, arg%7 == 0
		case 7:
			dup := *s
			dup.Status = fuzzStatuses[arg%len(fuzzStatuses)]
			c.Intents = append(c.Intents, dup) // the same id listed twice
		}
	}
}

func FuzzMake(f *testing.F) {
	for i, tc := range makeCases {
		spec, err := json.Marshal(tc.c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(spec, []byte{})
		f.Add(spec, []byte{byte(i), byte(i * 37), byte(i*11 + 3), 0x24, 0x05})
	}
	f.Fuzz(func(t *testing.T, spec, noise []byte) {
		var c caseSpec
		if json.Unmarshal(spec, &c) != nil {
			return
		}
		if len(c.Intents) > 200 || len(c.Orders) > 200 || len(noise) > 256 {
			return
		}
		c.Window = min(max(c.Window, -time.Hour), 30*24*time.Hour)
		scramble(&c, noise)
		in := c.input()
		plan := reconcile.Make(in)
		checkInvariants(t, in, plan)
		if again := reconcile.Make(c.input()); !reflect.DeepEqual(plan, again) {
			t.Fatalf("Make is not deterministic:\n%s\n%s", dump(plan), dump(again))
		}
		// Rows about an intent of the lane need it to be of the lane.
		lane := map[string]bool{}
		for _, pi := range in.Intents {
			if pi != nil && pi.Metadata["lane"] == in.Lane && pi.Metadata["order_id"] != "" {
				lane[pi.ID] = true
			}
		}
		for i, r := range plan.Rows {
			if r.Kind != reconcile.MissingOnServer && !lane[r.PaymentIntent] {
				t.Fatalf("row %d (%s) about %q, not an intent of the lane", i, r.Kind, r.PaymentIntent)
			}
		}
	})
}

package app

import (
	"testing"

	"github.com/tillpos/till/sync/reconcile"
)

// An applied end of day keeps its record in the orders bucket. Whatever
// walks that bucket as sales must still work afterwards: the headless
// lane's summary (and its resume of unfinished sales, which walks the
// same way) must not fail on the record, and the status screen's recent
// orders must not show the record as an unreadable sale.
func TestEndOfDayRecordIsNotAnUnreadableSale(t *testing.T) {
	lt := openLiveTill(t, nil)
	ctx := testCtx(t)
	pi := lt.authorise(t, ctx, lt.lane.Name(), lt.lane.Name()+"-no-such-sale", 700)

	dp, err := lt.PlanDay(ctx, lt.now())
	if err != nil {
		t.Fatal(err)
	}
	row := findRow(t, dp, reconcile.CancelAbandoned)
	if row.PaymentIntent != pi.ID {
		t.Fatalf("abandoned row: %+v", row)
	}
	res, err := lt.ApplyDay(ctx, dp, nil)
	if err != nil || res.Enqueued != 1 || res.Done != 1 {
		t.Fatalf("apply: %+v, %v", res, err)
	}

	if _, err := lt.laneSummary(); err != nil {
		t.Errorf("the lane's summary after an end of day: %v", err)
	}
	st, err := lt.StoreState()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range st.Recent {
		if o.Status == "unreadable" {
			t.Errorf("the status screen lists %s as an unreadable sale", o.ID)
		}
	}
}

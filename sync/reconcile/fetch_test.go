package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/reconcile"
	"github.com/tillpos/till/sync/sandbox"
)

func TestFetchPagesAndPeriod(t *testing.T) {
	for _, tc := range []struct{ n, pages int }{{0, 1}, {1, 1}, {100, 1}, {101, 2}, {250, 3}} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			srv, c, cnt := newSandbox(t)
			// Outside the period: 4 before it, 3 at its end (created[lt] excludes them).
			seed(t, c, "before", many(4, "paid"))
			srv.AdvanceClock(t, time.Hour)
			from := srv.Now()
			in := seed(t, c, "in", append(many(tc.n/2, "auth"), many(tc.n-tc.n/2, "paid")...))
			srv.AdvanceClock(t, time.Hour)
			to := srv.Now()
			seed(t, c, "after", many(3, "auth"))

			cnt.n.Store(0)
			got, err := reconcile.Fetch(context.Background(), c, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if got.Pages != tc.pages || cnt.n.Load() != int64(tc.pages) {
				t.Errorf("%d pages, %d requests; want %d", got.Pages, cnt.n.Load(), tc.pages)
			}
			want := map[string]bool{}
			for _, pi := range in {
				want[pi.ID] = true
			}
			if len(got.Intents) != tc.n {
				t.Fatalf("%d intents, want %d", len(got.Intents), tc.n)
			}
			for _, pi := range got.Intents {
				if !want[pi.ID] {
					t.Fatalf("%s (created %d) is not of the period [%d, %d) or listed twice", pi.ID, pi.Created, from.Unix(), to.Unix())
				}
				delete(want, pi.ID)
				if pi.Status == stripe.PaymentIntentStatusRequiresCapture {
					// The charge came expanded: its capture_before is the sandbox's 7 days.
					if pi.LatestCharge == nil || pi.LatestCharge.PaymentMethodDetails == nil || pi.LatestCharge.PaymentMethodDetails.Card == nil {
						t.Fatalf("%s: latest_charge not expanded: %+v", pi.ID, pi.LatestCharge)
					}
					if cb := reconcile.CaptureBefore(pi); !cb.Equal(from.Add(7 * 24 * time.Hour)) {
						t.Fatalf("%s: capture_before %v, want %v", pi.ID, cb, from.Add(7*24*time.Hour))
					}
				}
			}
		})
	}
}

func TestFetchFaultWhileListing(t *testing.T) {
	srv, c, cnt := newSandbox(t)
	seed(t, c, "pi", many(250, "auth"))
	from, to := srv.Now(), srv.Now().Add(time.Hour)
	// From the third list request on, the sandbox answers 500.
	cnt.n.Store(0)
	cnt.before = func(n int64) {
		if n == 3 {
			if err := srv.SetFaults(sandbox.FaultConfig{Rules: []sandbox.FaultRule{
				{Method: "GET", Path: "/v1/payment_intents", Kind: sandbox.FaultErrorBeforeCommit}}}); err != nil {
				t.Error(err)
			}
		}
	}
	got, err := reconcile.Fetch(context.Background(), c, from, to)
	if err == nil {
		t.Fatalf("no error; %d intents", len(got.Intents))
	}
	want := "list PaymentIntents created 2026-11-23T08:00:00Z..2026-11-23T09:00:00Z: page 3: GET /v1/payment_intents: 2 attempts"
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "HTTP 500 api_error") {
		t.Errorf("error %q\nwant it to start %q and name the 500", err, want)
	}
	t.Log(err)
	if !errors.Is(err, api.ErrTransient) || api.ClassOf(err) != api.Transient {
		t.Errorf("error %v is not transient (class %v)", err, api.ClassOf(err))
	}
	if got.Intents != nil || got.Pages != 2 || cnt.n.Load() != 4 {
		t.Errorf("got %d intents, %d pages, %d requests; want none, 2, 4", len(got.Intents), got.Pages, cnt.n.Load())
	}
	if strings.Contains(err.Error(), srv.Key) {
		t.Errorf("error shows the key: %v", err)
	}

	// The fault gone, the same fetch gets everything.
	srv.ClearFaults()
	if got, err = reconcile.Fetch(context.Background(), c, from, to); err != nil || len(got.Intents) != 250 || got.Pages != 3 {
		t.Fatalf("after the fault: %v, %d intents, %d pages", err, len(got.Intents), got.Pages)
	}
}

func TestFetchRetriedPageCountsOnce(t *testing.T) {
	srv, c, cnt := newSandbox(t)
	seed(t, c, "pi", many(150, "paid"))
	srv.InjectFaults(t, sandbox.FaultConfig{Rules: []sandbox.FaultRule{
		{Method: "GET", Path: "/v1/payment_intents", Kind: sandbox.FaultRateLimit, Times: 1}}})
	cnt.n.Store(0)
	got, err := reconcile.Fetch(context.Background(), c, srv.Now(), srv.Now().Add(time.Second))
	if err != nil || len(got.Intents) != 150 {
		t.Fatalf("%v, %d intents", err, len(got.Intents))
	}
	// Two pages; the 429 cost one more HTTP request, not a page.
	if got.Pages != 2 || cnt.n.Load() != 3 {
		t.Fatalf("%d pages, %d requests; want 2, 3", got.Pages, cnt.n.Load())
	}
}

func TestFetchRefusesBadPeriods(t *testing.T) {
	_, c, cnt := newSandbox(t)
	at := opening.Add(200 * time.Millisecond)
	for _, tc := range []struct {
		name     string
		from, to time.Time
	}{
		{"empty", opening, opening},
		{"reversed", opening.Add(time.Hour), opening},
		{"within one second", at, at.Add(500 * time.Millisecond)},
	} {
		got, err := reconcile.Fetch(context.Background(), c, tc.from, tc.to)
		if !errors.Is(err, reconcile.ErrInvalidPeriod) || !strings.HasPrefix(err.Error(), "list PaymentIntents created ") || got.Pages != 0 {
			t.Errorf("%s: %v, %+v", tc.name, err, got)
		}
	}
	if _, err := reconcile.Fetch(context.Background(), nil, opening, opening.Add(time.Hour)); !errors.Is(err, api.ErrInvalidConfig) {
		t.Errorf("nil client: %v", err)
	}
	if n := cnt.n.Load(); n != 0 {
		t.Errorf("%d requests sent for refused periods", n)
	}
}

func TestFetchCancelled(t *testing.T) {
	srv, c, _ := newSandbox(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := reconcile.Fetch(ctx, c, srv.Now(), srv.Now().Add(time.Hour))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "page 1") {
		t.Fatalf("cancelled fetch: %v", err)
	}
}

// TestEndOfDay runs the engine against the sandbox for every rule that
// comes from the server, applies the actions as the app's outbox would,
// and runs it again: the second plan has no action.
func TestEndOfDay(t *testing.T) {
	srv, c, cnt := newSandbox(t)
	specs := []seedSpec{
		{order: "1", lane: "lane-1", amount: 1200, how: "present"}, // completed, counts it: capture
		{order: "2", lane: "lane-1", amount: 900, how: "present"},  // unknown to the till: cancel abandoned
		{order: "3", lane: "lane-1", amount: 4000, how: "auth"},    // completed, paid cash: cancel duplicate
		{order: "4", lane: "lane-1", amount: 700, how: "present"},  // still open: in progress, near expiry
		{order: "5", lane: "lane-1", amount: 1500, how: "paid"},    // completed and paid: nothing
		{order: "6", lane: "lane-1", amount: 800, how: "present"},  // voided: cancel abandoned
		{order: "1", lane: "lane-2", amount: 500, how: "present"},  // another till's: foreign
	}
	pis := seed(t, c, "eod", specs)
	orders := map[string]reconcile.Local{
		"1": {OrderID: "1", Status: "completed", Counting: []string{pis[0].ID}, Amount: 1200, Currency: "chf"},
		"3": {OrderID: "3", Status: "completed"},
		"4": {OrderID: "4", Status: "open"},
		"5": {OrderID: "5", Status: "completed", Counting: []string{pis[4].ID}, Amount: 1500, Currency: "chf"},
		"6": {OrderID: "6", Status: "voided"},
		"7": {OrderID: "7", Status: "completed", Counting: []string{"pi_never_created"}, Amount: 2500, Currency: "chf"},
	}
	from, to := opening, opening.Add(14*time.Hour)
	srv.AdvanceClock(t, 30*time.Hour) // 18h left on the reader authorisations

	plan := func() reconcile.Plan {
		got, err := reconcile.Fetch(context.Background(), c, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return reconcile.Make(reconcile.Input{
			Lane: "lane-1", Intents: got.Intents, Now: srv.Now(),
			Order:     func(id string) (reconcile.Local, bool) { o, ok := orders[id]; return o, ok },
			Completed: []reconcile.Local{orders["1"], orders["5"], orders["7"]},
		})
	}
	first := plan()
	type row struct {
		kind   reconcile.Kind
		pi     string
		amount int64
		near   bool
	}
	var gotRows []row
	for _, r := range first.Rows {
		gotRows = append(gotRows, row{r.Kind, r.PaymentIntent, r.Amount, r.NearExpiry})
	}
	// pis 1 and 5 were seeded concurrently at the same second: cancels sort by id.
	cancels := []row{{reconcile.CancelAbandoned, pis[1].ID, 900, true}, {reconcile.CancelAbandoned, pis[5].ID, 800, true}}
	if pis[5].ID < pis[1].ID {
		cancels[0], cancels[1] = cancels[1], cancels[0]
	}
	want := append(append([]row{{reconcile.Capture, pis[0].ID, 1200, true}}, cancels...),
		row{reconcile.CancelDuplicate, pis[2].ID, 4000, false},
		row{reconcile.InProgress, pis[3].ID, 700, true},
		row{reconcile.NearExpiry, pis[3].ID, 700, true},
		row{reconcile.MissingOnServer, "pi_never_created", 2500, false})
	if fmt.Sprint(gotRows) != fmt.Sprint(want) {
		t.Fatalf("plan rows\n got %v\nwant %v\n%s", gotRows, want, dump(first))
	}
	if first.Actions != 4 || first.Foreign != 1 || first.Fetched != 7 {
		t.Fatalf("counts %d actions, %d foreign, %d fetched", first.Actions, first.Foreign, first.Fetched)
	}
	if cb := first.Rows[0].CaptureBefore; !cb.Equal(opening.Add(48 * time.Hour)) {
		t.Fatalf("capture_before %v, want the sandbox's %v", cb, opening.Add(48*time.Hour))
	}

	// Apply the actions as the outbox would: one call each.
	cnt.n.Store(0)
	ctx := context.Background()
	for _, r := range first.Rows {
		var err error
		switch r.Action {
		case "capture":
			_, _, err = c.CapturePaymentIntent(ctx, r.PaymentIntent, &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(r.Amount)}, "eod-"+r.PaymentIntent)
		case "cancel":
			_, _, err = c.CancelPaymentIntent(ctx, r.PaymentIntent, &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String(r.CancellationReason)}, "eod-"+r.PaymentIntent)
		}
		if err != nil {
			t.Fatalf("%s %s: %v", r.Action, r.PaymentIntent, err)
		}
	}
	if n := cnt.n.Load(); n != int64(first.Actions) {
		t.Fatalf("%d calls to apply %d actions", n, first.Actions)
	}
	dup, _, err := c.RetrievePaymentIntent(ctx, pis[2].ID, nil)
	if err != nil || dup.Status != stripe.PaymentIntentStatusCanceled || dup.CancellationReason != "duplicate" {
		t.Fatalf("duplicate after apply: %v %+v", err, dup)
	}

	second := plan()
	if second.Actions != 0 {
		t.Fatalf("second run proposes actions:\n%s", dump(second))
	}
	for _, r := range second.Rows {
		if r.Kind != reconcile.InProgress && r.Kind != reconcile.NearExpiry && r.Kind != reconcile.MissingOnServer {
			t.Fatalf("second run: unexpected %s row for %s", r.Kind, r.PaymentIntent)
		}
	}
}

package sandbox_test

// What end-of-day reconciliation (sync/reconcile) relies on in the list of
// PaymentIntents: a half-open created range, pages of 100 walked with
// starting_after, stable cursors while new PaymentIntents arrive, and
// expand[]=data.latest_charge for capture_before.

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tillpos/till/sync/sandbox"
)

// lrCreate creates n PaymentIntents (created only) and returns their ids
// in creation order.
func lrCreate(c *tclient, n int) []string {
	c.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = c.newReaderIntent(100+int64(i), "manual", "metadata[lane]", "lane-1").s("id")
	}
	return ids
}

// lrAuthorise creates a card_present PaymentIntent and authorises it on
// the simulated reader: requires_capture.
func lrAuthorise(c *tclient) string {
	c.t.Helper()
	id := c.newReaderIntent(1200, "manual").s("id")
	c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", form("card_present[simulated_card]", "visa")).ok()
	c.post("/v1/payment_intents/"+id+"/confirm", "").ok().want("status", "requires_capture")
	return id
}

// lrWalk pages through GET /v1/payment_intents with query plus limit=100
// and starting_after, and returns the ids and the page count.
func lrWalk(c *tclient, query string) ([]string, int) {
	c.t.Helper()
	var ids []string
	after := ""
	for pages := 1; ; pages++ {
		q := query + "&limit=100"
		if after != "" {
			q += "&starting_after=" + after
		}
		r := c.get("/v1/payment_intents", q).ok()
		page := r.ids()
		ids = append(ids, page...)
		more, _ := r.get("has_more").(bool)
		if !more {
			return ids, pages
		}
		if len(page) == 0 {
			c.t.Fatalf("page %d: has_more with no data", pages)
		}
		after = page[len(page)-1]
	}
}

func lrReversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func TestListCreatedRangeIsHalfOpen(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	early := lrCreate(c, 2) // at epoch
	c.advance(10 * time.Second)
	mid := lrCreate(c, 3) // at epoch+10
	c.advance(10 * time.Second)
	late := lrCreate(c, 2) // at epoch+20
	at := func(d int64) string { return strconv.FormatInt(epoch.Unix()+d, 10) }

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"created[gte]=" + at(10) + "&created[lt]=" + at(20), mid},
		{"created[gte]=" + at(0) + "&created[lt]=" + at(10), early},
		{"created[gte]=" + at(10), append(slices.Clone(mid), late...)},
		{"created[lt]=" + at(20), append(slices.Clone(early), mid...)},
		{"created[gt]=" + at(10) + "&created[lte]=" + at(20), late},
		{"created=" + at(10), mid},
		{"created[gte]=" + at(21), nil},
		{"created[gte]=" + at(20) + "&created[lt]=" + at(10), nil},
	} {
		got, pages := lrWalk(c, tc.query)
		if want := lrReversed(tc.want); !slices.Equal(got, want) || pages != 1 {
			t.Errorf("%s: %v in %d pages, want %v (newest first)", tc.query, got, pages, want)
		}
	}
}

func TestListPagesOf100WithStartingAfter(t *testing.T) {
	for _, n := range []int{99, 100, 200, 250} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			c := newSandbox(t, sandbox.Options{})
			lrCreate(c, 3) // before the period
			c.advance(time.Minute)
			ids := lrCreate(c, n)
			c.advance(time.Minute)
			lrCreate(c, 2) // after it
			from := strconv.FormatInt(epoch.Add(time.Minute).Unix(), 10)
			to := strconv.FormatInt(epoch.Add(2*time.Minute).Unix(), 10)
			got, pages := lrWalk(c, "created[gte]="+from+"&created[lt]="+to)
			if want := (n + 99) / 100; pages != want {
				t.Errorf("%d pages, want %d (no empty last page)", pages, want)
			}
			if !slices.Equal(got, lrReversed(ids)) {
				t.Errorf("listed %d ids, want the %d of the period newest first, each once", len(got), n)
			}
		})
	}
}

func TestListCursorIsStableWhileIntentsArrive(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	ids := lrCreate(c, 150)
	first := c.get("/v1/payment_intents", "limit=100").ok()
	if more, _ := first.get("has_more").(bool); !more || len(first.ids()) != 100 {
		t.Fatalf("first page: %d ids, has_more %v", len(first.ids()), first.get("has_more"))
	}
	lrCreate(c, 20) // a till keeps selling while the manager reconciles
	page := first.ids()
	second := c.get("/v1/payment_intents", "limit=100&starting_after="+page[len(page)-1]).ok()
	if more, _ := second.get("has_more").(bool); more {
		t.Fatalf("second page has_more")
	}
	if got := append(page, second.ids()...); !slices.Equal(got, lrReversed(ids)) {
		t.Fatalf("pages changed under new PaymentIntents: %d ids", len(got))
	}
}

func TestListExpandsLatestCharge(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	open := c.newReaderIntent(500, "manual").s("id")
	auth := lrAuthorise(c)

	r := c.get("/v1/payment_intents", form("limit", "100", "expand[]", "data.latest_charge")).ok()
	if got := r.ids(); !slices.Equal(got, []string{auth, open}) {
		t.Fatalf("ids %v", got)
	}
	r.want("data.0.latest_charge.object", "charge").want("data.0.latest_charge.payment_intent", auth).
		want("data.0.latest_charge.payment_method_details.type", "card_present")
	if got, want := r.n("data.0.latest_charge.payment_method_details.card_present.capture_before"), epoch.Add(48*time.Hour).Unix(); got != want {
		t.Fatalf("capture_before %d, want %d", got, want)
	}
	if !r.isNull("data.1.latest_charge") {
		t.Fatalf("a PaymentIntent without a charge: latest_charge %v", r.get("data.1.latest_charge"))
	}
	// The indexed form stripe-go sends (expand[0]=…) works the same.
	r = c.get("/v1/payment_intents", "limit=1&expand[0]=data.latest_charge").ok()
	r.want("data.0.latest_charge.object", "charge")
	// Without expand, the charge is its id.
	plain := c.get("/v1/payment_intents", "limit=1").ok()
	if id := plain.s("data.0.latest_charge"); id == "" || id != r.s("data.0.latest_charge.id") {
		t.Fatalf("unexpanded latest_charge %v", plain.get("data.0.latest_charge"))
	}
}

func TestListRefusesBadReconcileParameters(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	id := lrCreate(c, 1)[0]
	for _, tc := range []struct {
		query, code, param string
	}{
		{"limit=101", "parameter_invalid_integer", "limit"},
		{"limit=0", "parameter_invalid_integer", "limit"},
		{"created[gte]=yesterday", "parameter_invalid_integer", "created[gte]"},
		{"created[lt]=", "parameter_invalid_empty", "created[lt]"},
		{"created[between]=1", "parameter_unknown", "created[between]"},
		{"starting_after=pi_nonexistent", "resource_missing", "starting_after"},
	} {
		r := c.get("/v1/payment_intents", tc.query).wantError(http.StatusBadRequest, "invalid_request_error", tc.code)
		if got := r.s("error.param"); got != tc.param {
			t.Errorf("%s: param %q, want %q", tc.query, got, tc.param)
		}
	}
	c.get("/v1/payment_intents", "starting_after="+id+"&ending_before="+id).wantError(http.StatusBadRequest, "invalid_request_error", "parameters_exclusive")
}

package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/sandbox"
)

// paidIntent creates a PaymentIntent paid by card (automatic capture).
func paidIntent(c *tclient, amount int64) *resp {
	c.t.Helper()
	return c.post("/v1/payment_intents", form("amount", itoa(amount), "currency", "usd", "payment_method_types[]", "card",
		"payment_method", "pm_card_visa", "confirm", "true")).ok().want("status", "succeeded")
}

// refundEvents describes the refund.created and charge.refunded events,
// oldest first: type, object, amount, and the previous attributes.
func refundEvents(c *tclient) []string {
	c.t.Helper()
	r := c.get("/v1/events", "limit=100").ok()
	var out []string
	for _, it := range r.list() {
		e := it.(map[string]any)
		typ := e["type"].(string)
		if typ != "refund.created" && typ != "charge.refunded" {
			continue
		}
		obj := e["data"].(map[string]any)["object"].(map[string]any)
		desc := fmt.Sprintf("%s %s %v", typ, obj["object"], obj["amount_refunded"])
		if typ == "refund.created" {
			desc = fmt.Sprintf("%s %s %v", typ, obj["object"], obj["amount"])
		}
		if prev, ok := e["data"].(map[string]any)["previous_attributes"].(map[string]any); ok {
			desc += fmt.Sprintf(" was %v/%v", prev["amount_refunded"], prev["refunded"])
		}
		out = append([]string{desc}, out...)
	}
	return out
}

func TestRefundLifecycle(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	pi := paidIntent(c, 2500)
	id, chID := pi.s("id"), pi.s("latest_charge")

	r := c.post("/v1/refunds", form("payment_intent", id, "amount", "1000", "reason", "requested_by_customer", "metadata[order_id]", "42"),
		"Idempotency-Key", "ref-1").ok()
	r.want("object", "refund").want("status", "succeeded").want("currency", "usd").want("payment_intent", id).want("charge", chID).
		want("reason", "requested_by_customer").want("metadata.order_id", "42")
	if r.n("amount") != 1000 || r.n("created") != epoch.Unix() || len(r.s("id")) != len("re_")+24 || r.s("id")[:3] != "re_" {
		t.Fatalf("refund %s", r.body)
	}
	first := r.s("id")
	ch := c.get("/v1/charges/"+chID, "").ok()
	if ch.n("amount_refunded") != 1000 || ch.get("refunded") != false {
		t.Fatalf("charge after a partial refund: %s", ch.body)
	}

	// The rest, by default; reason and metadata are optional.
	r = c.post("/v1/refunds", form("payment_intent", id)).ok()
	if r.n("amount") != 1500 || !r.isNull("reason") || len(r.get("metadata").(map[string]any)) != 0 {
		t.Fatalf("second refund %s", r.body)
	}
	second := r.s("id")
	ch = c.get("/v1/charges/"+chID, "").ok()
	if ch.n("amount_refunded") != 2500 || ch.get("refunded") != true {
		t.Fatalf("charge after the full refund: %s", ch.body)
	}
	c.post("/v1/refunds", form("payment_intent", id, "amount", "1")).
		wantError(http.StatusBadRequest, "invalid_request_error", "charge_already_refunded").want("error.charge", chID)
	c.get("/v1/payment_intents/"+id, "").ok().want("status", "succeeded")

	c.get("/v1/refunds/"+first, "").ok().want("id", first).want("metadata.order_id", "42")
	c.get("/v1/refunds/re_nope", "").wantError(http.StatusNotFound, "invalid_request_error", "resource_missing")

	// Another PaymentIntent's refund, to see the filters work.
	other := paidIntent(c, 700)
	third := c.post("/v1/refunds", form("charge", other.s("latest_charge"))).ok().s("id")

	if got := c.get("/v1/refunds", "payment_intent="+id).ok().ids(); !slices.Equal(got, []string{second, first}) {
		t.Errorf("refunds of %s: %v", id, got)
	}
	if got := c.get("/v1/refunds", "charge="+chID).ok().ids(); !slices.Equal(got, []string{second, first}) {
		t.Errorf("refunds of %s: %v", chID, got)
	}
	if got := c.get("/v1/refunds", "").ok().ids(); !slices.Equal(got, []string{third, second, first}) {
		t.Errorf("all refunds: %v", got)
	}
	page := c.get("/v1/refunds", "limit=1&starting_after="+second).ok()
	if got := page.ids(); !slices.Equal(got, []string{first}) || page.get("has_more") != false {
		t.Errorf("page after %s: %s", second, page.body)
	}
	if got := c.get("/v1/refunds", "payment_intent=pi_nope").ok().ids(); len(got) != 0 {
		t.Errorf("refunds of an unknown PaymentIntent: %v", got)
	}
	c.get("/v1/refunds", "limit=1000").wantError(http.StatusBadRequest, "invalid_request_error", "parameter_invalid_integer")

	want := []string{
		"refund.created refund 1000", "charge.refunded charge 1000 was 0/<nil>",
		"refund.created refund 1500", "charge.refunded charge 2500 was 1000/false",
		"refund.created refund 700", "charge.refunded charge 700 was 0/false",
	}
	if got := refundEvents(c); !slices.Equal(got, want) {
		t.Errorf("events\n got %q\nwant %q", got, want)
	}
}

// TestRefundRefused: each refusal names why, changes nothing, and a
// PaymentIntent that can be refunded still can be afterwards.
func TestRefundRefused(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	paid := paidIntent(c, 2500)
	paidID := paid.s("id")
	authorized := authorizedIntent(c)
	canceled := c.newReaderIntent(1000, "manual").s("id")
	c.post("/v1/payment_intents/"+canceled+"/cancel", "").ok()
	unpaid := c.newReaderIntent(1000, "manual").s("id")
	declined := c.post("/v1/payment_intents", form("amount", "1000", "currency", "usd", "payment_method_types[]", "card",
		"payment_method", "pm_card_chargeDeclined", "confirm", "true")).wantError(http.StatusPaymentRequired, "card_error", "card_declined")

	// Declined once, then paid by another card: the first charge failed.
	retried := c.post("/v1/payment_intents", form("amount", "1000", "currency", "usd", "payment_method_types[]", "card",
		"payment_method", "pm_card_chargeDeclined", "confirm", "true")).wantError(http.StatusPaymentRequired, "card_error", "card_declined")
	c.post("/v1/payment_intents/"+retried.s("error.payment_intent.id")+"/confirm", form("payment_method", "pm_card_visa")).ok().want("status", "succeeded")

	tests := []struct {
		name      string
		body      string
		status    int
		code      string
		wantPI    string // the PaymentIntent the error carries
		wantParam string
	}{
		{"authorised, not captured", form("payment_intent", authorized), 400, "charge_not_captured", authorized, "payment_intent"},
		{"canceled", form("payment_intent", canceled), 400, "payment_intent_unexpected_state", canceled, ""},
		{"never paid", form("payment_intent", unpaid), 400, "payment_intent_unexpected_state", unpaid, ""},
		{"declined charge", form("charge", declined.s("error.charge")), 400, "payment_intent_unexpected_state", declined.s("error.payment_intent.id"), ""},
		{"declined attempt of a paid PaymentIntent", form("charge", retried.s("error.charge")), 400, "charge_not_refundable", "", "charge"},
		{"unknown PaymentIntent", form("payment_intent", "pi_nope"), 400, "resource_missing", "", "payment_intent"},
		{"unknown charge", form("charge", "ch_nope"), 400, "resource_missing", "", "charge"},
		{"more than paid", form("payment_intent", paidID, "amount", "2501"), 400, "amount_too_large", "", "amount"},
		{"zero", form("payment_intent", paidID, "amount", "0"), 400, "parameter_invalid_integer", "", "amount"},
		{"negative", form("payment_intent", paidID, "amount", "-5"), 400, "parameter_invalid_integer", "", "amount"},
		{"not a number", form("payment_intent", paidID, "amount", "12.5"), 400, "parameter_invalid_integer", "", "amount"},
		{"bad reason", form("payment_intent", paidID, "reason", "changed_mind"), 400, "parameter_invalid_string", "", "reason"},
		{"neither", form("amount", "100"), 400, "parameter_missing", "", "payment_intent"},
		{"both", form("payment_intent", paidID, "charge", paid.s("latest_charge")), 400, "parameters_exclusive", "", "charge"},
		{"unknown parameter", form("payment_intent", paidID, "refund_everything", "true"), 400, "parameter_unknown", "", "refund_everything"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			r := c.post("/v1/refunds", tt.body).wantError(tt.status, "invalid_request_error", tt.code)
			if r.s("error.payment_intent.id") != tt.wantPI || r.s("error.param") != tt.wantParam {
				t.Errorf("error carries PaymentIntent %q, param %q: %s", r.s("error.payment_intent.id"), r.s("error.param"), r.body)
			}
		})
	}
	c.t = t
	if n := len(c.get("/v1/refunds", "").ok().list()); n != 0 {
		t.Fatalf("%d refunds after refusals", n)
	}
	if ch := c.get("/v1/charges/"+paid.s("latest_charge"), "").ok(); ch.n("amount_refunded") != 0 {
		t.Fatalf("charge changed: %s", ch.body)
	}
	c.post("/v1/refunds", form("payment_intent", paidID, "amount", "2500")).ok()
}

// TestRefundAfterPartialCapture: only what was captured can be refunded;
// the released remainder already counts in amount_refunded, as on Stripe.
func TestRefundAfterPartialCapture(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	id := authorizedIntent(c)
	chID := c.post("/v1/payment_intents/"+id+"/capture", form("amount_to_capture", "900")).ok().s("latest_charge")
	if ch := c.get("/v1/charges/"+chID, "").ok(); ch.n("amount_refunded") != 100 || ch.get("refunded") != false {
		t.Fatalf("after partial capture: %s", ch.body)
	}
	c.post("/v1/refunds", form("payment_intent", id, "amount", "901")).wantError(http.StatusBadRequest, "invalid_request_error", "amount_too_large")
	if r := c.post("/v1/refunds", form("payment_intent", id)).ok(); r.n("amount") != 900 {
		t.Fatalf("default amount: %s", r.body)
	}
	if ch := c.get("/v1/charges/"+chID, "").ok(); ch.n("amount_refunded") != 1000 || ch.get("refunded") != true {
		t.Fatalf("after refunding the rest: %s", ch.body)
	}
}

func TestRefundIdempotency(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	id := paidIntent(c, 2500).s("id")
	body := form("payment_intent", id, "amount", "1000")
	first := c.post("/v1/refunds", body, "Idempotency-Key", "refund-order-42").ok()
	again := c.post("/v1/refunds", body, "Idempotency-Key", "refund-order-42").ok().want("id", first.s("id"))
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Error("not replayed")
	}
	c.post("/v1/refunds", form("payment_intent", id, "amount", "1001"), "Idempotency-Key", "refund-order-42").
		wantError(http.StatusBadRequest, "idempotency_error", "")
	// A state refusal is saved: the key keeps answering it.
	over := form("payment_intent", id, "amount", "2000")
	c.post("/v1/refunds", over, "Idempotency-Key", "too-much").wantError(http.StatusBadRequest, "invalid_request_error", "amount_too_large")
	c.post("/v1/refunds", over, "Idempotency-Key", "too-much").wantError(http.StatusBadRequest, "invalid_request_error", "amount_too_large")
	if ids := c.get("/v1/refunds", "").ok().ids(); len(ids) != 1 {
		t.Fatalf("refunds %v, want one", ids)
	}
}

// TestRefundOfflinePayment refunds a payment that was collected offline
// and forwarded.
func TestRefundOfflinePayment(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	const ref = "off_lane3_0001"
	pi := c.post("/v1/payment_intents", forwardForm(ref, sealB64(ref, offlineCard("", 4200)), 4200, "automatic")).ok().want("status", "succeeded")
	c.post("/v1/refunds", form("payment_intent", pi.s("id"), "reason", "duplicate")).ok().want("charge", pi.s("latest_charge")).want("reason", "duplicate")
	ch := c.get("/v1/charges/"+pi.s("latest_charge"), "").ok().want("payment_method_details.card_present.offline.type", "deferred")
	if ch.get("refunded") != true {
		t.Fatalf("charge %s", ch.body)
	}
}

func TestRefundPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.db")
	start := func() (*sandbox.Server, *tclient) {
		s, err := sandbox.New(sandbox.Options{DataFile: path, Now: fixedNow, Keys: []string{"sk_test_r"}})
		if err != nil {
			t.Fatal(err)
		}
		url, err := s.StartLoopback()
		if err != nil {
			t.Fatal(err)
		}
		return s, &tclient{t: t, key: "sk_test_r", hc: noRedirects(), srv: serverAt(url)}
	}
	s1, c := start()
	pi := paidIntent(c, 2500)
	re := c.post("/v1/refunds", form("payment_intent", pi.s("id"), "amount", "600", "metadata[why]", "broken cup"), "Idempotency-Key", "r-1").ok().s("id")
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2, c := start()
	defer s2.Close()
	c.get("/v1/refunds/"+re, "").ok().want("metadata.why", "broken cup").want("payment_intent", pi.s("id"))
	if ch := c.get("/v1/charges/"+pi.s("latest_charge"), "").ok(); ch.n("amount_refunded") != 600 {
		t.Fatalf("amount_refunded lost: %s", ch.body)
	}
	if got := c.get("/v1/refunds", "payment_intent="+pi.s("id")).ok().ids(); !slices.Equal(got, []string{re}) {
		t.Fatalf("refunds after restart: %v", got)
	}
	if c.post("/v1/refunds", form("payment_intent", pi.s("id"), "amount", "600", "metadata[why]", "broken cup"), "Idempotency-Key", "r-1").ok().header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("idempotency key lost across restart")
	}
	c.post("/v1/refunds", form("payment_intent", pi.s("id"), "amount", "1901")).wantError(http.StatusBadRequest, "invalid_request_error", "amount_too_large")
}

// TestRefundStripeGo: stripe-go creates, retrieves and lists refunds.
func TestRefundStripeGo(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	sc := stripeClient(t, c)
	ctx := context.Background()
	id := paidIntent(c, 2500).s("id")
	re, err := sc.V1Refunds.Create(ctx, &stripe.RefundCreateParams{PaymentIntent: stripe.String(id), Amount: stripe.Int64(400),
		Reason: stripe.String(string(stripe.RefundReasonRequestedByCustomer)), Params: stripe.Params{Metadata: map[string]string{"order_id": "7"}}})
	if err != nil {
		t.Fatal(err)
	}
	if re.Amount != 400 || re.Status != stripe.RefundStatusSucceeded || re.PaymentIntent == nil || re.PaymentIntent.ID != id ||
		re.Charge == nil || re.Charge.ID == "" || re.Reason != stripe.RefundReasonRequestedByCustomer || re.Metadata["order_id"] != "7" {
		t.Fatalf("refund %+v", re)
	}
	got, err := sc.V1Refunds.Retrieve(ctx, re.ID, nil)
	if err != nil || got.ID != re.ID || got.Currency != stripe.CurrencyUSD {
		t.Fatalf("retrieve: %+v %v", got, err)
	}
	n := 0
	for r, err := range sc.V1Refunds.List(ctx, &stripe.RefundListParams{PaymentIntent: stripe.String(id)}).All(ctx) {
		if err != nil || r.ID != re.ID {
			t.Fatalf("list: %v %v", r, err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("listed %d refunds", n)
	}
	_, err = sc.V1Refunds.Create(ctx, &stripe.RefundCreateParams{PaymentIntent: stripe.String(id), Amount: stripe.Int64(2101)})
	wantStripeError(t, err, http.StatusBadRequest, stripe.ErrorTypeInvalidRequest, stripe.ErrorCodeAmountTooLarge)
}

// BenchmarkRefundLookup measures retrieving a refund and listing a
// PaymentIntent's refunds among n refunded charges: refunds are stored
// with their charges, so a retrieve by id walks the charges.
func BenchmarkRefundLookup(b *testing.B) {
	for _, n := range []int{100, 5000} {
		c := newSandbox(b, sandbox.Options{})
		var lastPI, lastRefund string
		for range n {
			lastPI = paidIntent(c, 2500).s("id")
			lastRefund = c.post("/v1/refunds", form("payment_intent", lastPI, "amount", "100")).ok().s("id")
		}
		b.Run(fmt.Sprintf("retrieve/charges=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.get("/v1/refunds/"+lastRefund, "").ok()
			}
		})
		b.Run(fmt.Sprintf("list_by_payment_intent/charges=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.get("/v1/refunds", "payment_intent="+lastPI).ok()
			}
		})
	}
}

// FuzzCreateRefund throws arbitrary bodies at POST /v1/refunds ("{pi}"
// stands for a paid PaymentIntent): the answer is JSON, never a 5xx, a 200
// is a refund, and the charge never gives back more than it took.
func FuzzCreateRefund(f *testing.F) {
	for _, body := range []string{
		"payment_intent={pi}", "payment_intent={pi}&amount=1000&reason=duplicate&metadata[k]=v",
		"payment_intent={pi}&amount=2501", "payment_intent={pi}&amount=0", "payment_intent={pi}&amount=-1",
		"payment_intent={pi}&reason=nope", "charge=ch_nope", "amount=5", "payment_intent={pi}&charge=ch_x",
		"payment_intent[]={pi}", "payment_intent={pi}&amount[x]=1", "payment_intent={pi}&metadata=x",
		"payment_intent=pi_nope", "",
	} {
		f.Add(body)
	}
	srv, err := sandbox.New(sandbox.Options{Keys: []string{"sk_test_f"}, Seed: 1, Now: fixedNow})
	if err != nil {
		f.Fatal(err)
	}
	call := func(t *testing.T, method, path, body string) (int, map[string]any) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sk_test_f")
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, rec.Body)
		}
		return rec.Code, m
	}
	f.Fuzz(func(t *testing.T, body string) {
		if err := srv.Reset(); err != nil {
			t.Fatal(err)
		}
		status, pi := call(t, http.MethodPost, "/v1/payment_intents", "amount=2500&currency=usd&payment_method_types[]=card&payment_method=pm_card_visa&confirm=true")
		if status != http.StatusOK {
			t.Fatalf("paid PaymentIntent: %d %v", status, pi)
		}
		for range 2 { // twice: the second meets the first's refund
			status, m := call(t, http.MethodPost, "/v1/refunds", strings.ReplaceAll(body, "{pi}", pi["id"].(string)))
			switch {
			case status >= 500:
				t.Fatalf("%d for %q: %v", status, body, m)
			case status == http.StatusOK && m["object"] != "refund":
				t.Fatalf("200 without a refund: %v", m)
			case status != http.StatusOK && m["error"] == nil:
				t.Fatalf("%d without an error: %v", status, m)
			}
		}
		_, ch := call(t, http.MethodGet, "/v1/charges/"+pi["latest_charge"].(string), "")
		if refunded := ch["amount_refunded"].(float64); refunded < 0 || refunded > 2500 || (refunded == 2500) != (ch["refunded"] == true) {
			t.Fatalf("charge after %q: %v", body, ch)
		}
	})
}

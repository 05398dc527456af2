package sandbox_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/reader/simcard"
	"github.com/tillpos/till/sync/sandbox"
)

// Store and forward: a card collected offline by a (simulated) reader is
// forwarded when the connection returns, as a PaymentIntent created and
// confirmed with payment_method_data[card_present][reader_payload] and
// payment_method_data[card_present][offline_reference].

// collectedAt is when the test reader collected the offline cards: an
// hour before the sandbox's clock, as if the till was offline that long.
var collectedAt = epoch.Add(-time.Hour).Unix()

// offlineCard is a card a reader collected offline for amount in eur.
func offlineCard(testCard string, amount int64) simcard.Card {
	return simcard.Card{TestCard: testCard, Brand: "visa", Last4: "4242", ExpMonth: 9, ExpYear: 2030, ReadMethod: "contactless_emv",
		Offline: true, Amount: amount, Currency: "eur", CollectedAt: collectedAt}
}

func sealB64(key string, card simcard.Card) string {
	return base64.StdEncoding.EncodeToString(simcard.Seal(key, card))
}

// forwardForm is the create request that forwards an offline payment.
func forwardForm(ref, payload string, amount int64, capture string, extra ...string) string {
	kv := []string{"amount", itoa(amount), "currency", "eur", "payment_method_types[]", "card_present", "capture_method", capture,
		"confirm", "true", "payment_method_data[type]", "card_present",
		"payment_method_data[card_present][reader_payload]", payload}
	if ref != "" {
		kv = append(kv, "payment_method_data[card_present][offline_reference]", ref)
	}
	return form(append(kv, extra...)...)
}

func TestForwardOffline(t *testing.T) {
	tests := []struct {
		name        string
		card        string // test card; "" lets the amount decide
		amount      int64
		capture     string
		wantStatus  string // after an approval
		wantDecline string // decline_code of a 402
	}{
		{name: "manual capture, amount approves", amount: 4200, capture: "manual", wantStatus: "requires_capture"},
		{name: "automatic capture, amount approves", amount: 4200, capture: "automatic", wantStatus: "succeeded"},
		{name: "automatic_async capture", amount: 900, capture: "automatic_async", wantStatus: "succeeded"},
		{name: "test card approves any amount", card: "mastercard", amount: 1742, capture: "manual", wantStatus: "requires_capture"},
		{name: "amount declines", amount: 4205, capture: "manual", wantDecline: "generic_decline"},
		{name: "amount ending 55 declines", amount: 4255, capture: "automatic", wantDecline: "incorrect_pin"},
		{name: "test card declines", card: "charge_declined_insufficient_funds", amount: 4200, capture: "manual", wantDecline: "insufficient_funds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSandbox(t, sandbox.Options{})
			const ref = "off_lane1_0001"
			r := c.post("/v1/payment_intents", forwardForm(ref, sealB64(ref, offlineCard(tt.card, tt.amount)), tt.amount, tt.capture,
				"metadata[order_id]", "42"), "Idempotency-Key", "fwd-1")
			var id string
			if tt.wantDecline != "" {
				r.wantError(http.StatusPaymentRequired, "card_error", "card_declined").want("error.decline_code", tt.wantDecline).
					want("error.payment_intent.status", "requires_payment_method").
					want("error.payment_intent.last_payment_error.decline_code", tt.wantDecline)
				id = r.s("error.payment_intent.id")
				if !r.isNull("error.payment_intent.payment_method") {
					t.Errorf("a declined PaymentIntent keeps its method: %s", r.body)
				}
				ch := c.get("/v1/charges/"+r.s("error.charge"), "").ok().want("status", "failed")
				ch.want("payment_method_details.card_present.offline.type", "deferred")
				if got := c.eventTypes(id); !slices.Equal(got, []string{"payment_intent.created", "payment_intent.payment_failed"}) {
					t.Errorf("events %v", got)
				}
				return
			}
			r.ok().want("status", tt.wantStatus).want("metadata.order_id", "42")
			id = r.s("id")
			pm := c.get("/v1/payment_methods/"+r.s("payment_method"), "").ok().want("type", "card_present").
				want("card_present.last4", "4242").want("card_present.read_method", "contactless_emv")
			if pm.n("card_present.exp_month") != 9 || pm.n("card_present.exp_year") != 2030 {
				t.Errorf("expiry not from the payload: %s", pm.body)
			}
			ch := c.get("/v1/charges/"+r.s("latest_charge"), "").ok().want("status", "succeeded").
				want("payment_method_details.card_present.offline.type", "deferred")
			if got := ch.n("payment_method_details.card_present.offline.stored_at"); got != collectedAt {
				t.Errorf("offline.stored_at %d, want %d", got, collectedAt)
			}
			if tt.wantStatus == "requires_capture" {
				if r.n("amount_capturable") != tt.amount {
					t.Errorf("amount_capturable %d", r.n("amount_capturable"))
				}
				// Authorised when forwarded, not when collected.
				if got, want := ch.n("payment_method_details.card_present.capture_before"), epoch.Add(48*time.Hour).Unix(); got != want {
					t.Errorf("capture_before %d, want %d", got, want)
				}
				c.post("/v1/payment_intents/"+id+"/capture", "").ok().want("status", "succeeded")
			} else if r.n("amount_received") != tt.amount || !ch.isNull("payment_method_details.card_present.capture_before") {
				t.Errorf("automatic capture: %s / %s", r.body, ch.body)
			}
		})
	}
}

// TestForwardOfflineRefused: a payload that does not belong to this
// forward is refused with 400 naming the parameter, the message never
// echoes the payload, and nothing is created.
func TestForwardOfflineRefused(t *testing.T) {
	const ref = "off_lane1_0002"
	good := sealB64(ref, offlineCard("visa", 4200))
	tampered := func() string {
		raw := simcard.Seal(ref, offlineCard("visa", 4200))
		raw[len(raw)-1] ^= 1
		return base64.StdEncoding.EncodeToString(raw)
	}()
	online := offlineCard("visa", 4200)
	online.Offline = false
	const payloadParam = "payment_method_data[card_present][reader_payload]"
	const refParam = "payment_method_data[card_present][offline_reference]"
	tests := []struct {
		name      string
		body      string
		wantCode  string
		wantParam string
	}{
		{"collected online", forwardForm(ref, sealB64(ref, online), 4200, "manual"), "parameter_invalid_string", payloadParam},
		{"sealed for another reference", forwardForm(ref, sealB64("off_lane1_0003", offlineCard("visa", 4200)), 4200, "manual"), "parameter_invalid_string", payloadParam},
		{"sealed for a PaymentIntent id", forwardForm(ref, sealB64("pi_3QxYz2LkdIwHu7ix0a1b2c3d", offlineCard("visa", 4200)), 4200, "manual"), "parameter_invalid_string", payloadParam},
		{"tampered", forwardForm(ref, tampered, 4200, "manual"), "parameter_invalid_string", payloadParam},
		{"not base64", forwardForm(ref, "%%%not-base64", 4200, "manual"), "parameter_invalid_string", payloadParam},
		{"not a payload", forwardForm(ref, base64.StdEncoding.EncodeToString([]byte("4242424242424242 12/30")), 4200, "manual"), "parameter_invalid_string", payloadParam},
		{"unknown test card", forwardForm(ref, sealB64(ref, offlineCard("monopoly_money", 4200)), 4200, "manual"), "parameter_invalid_string", payloadParam},
		{"another amount", forwardForm(ref, good, 4300, "manual"), "parameter_invalid_string", payloadParam},
		{"another currency", strings.Replace(forwardForm(ref, good, 4200, "manual"), "currency=eur", "currency=chf", 1), "parameter_invalid_string", payloadParam},
		{"offline payload without a reference", forwardForm("", good, 4200, "manual"), "parameter_missing", refParam},
		{"empty reference", forwardForm("", good, 4200, "manual", refParam, ""), "parameter_invalid_empty", refParam},
		{"reference too long", forwardForm(strings.Repeat("r", 256), good, 4200, "manual"), "parameter_invalid_string", refParam},
		{"no payload", strings.Replace(forwardForm(ref, "x", 4200, "manual"), "&"+strings.ReplaceAll(strings.ReplaceAll(payloadParam, "[", "%5B"), "]", "%5D")+"=x", "", 1), "parameter_missing", payloadParam},
		{"with payment_method too", forwardForm(ref, good, 4200, "manual", "payment_method", "pm_card_visa"), "parameters_exclusive", "payment_method_data"},
		{"not a card_present PaymentIntent", strings.Replace(forwardForm(ref, good, 4200, "manual"), "payment_method_types%5B%5D=card_present", "payment_method_types%5B%5D=card", 1), "payment_intent_incompatible_payment_method", "payment_method"},
		{"unknown field", forwardForm(ref, good, 4200, "manual", "payment_method_data[card_present][pan]", "4242424242424242"), "parameter_unknown", "payment_method_data[card_present][pan]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSandbox(t, sandbox.Options{})
			r := c.post("/v1/payment_intents", tt.body, "Idempotency-Key", "k-"+tt.name).
				wantError(http.StatusBadRequest, "invalid_request_error", tt.wantCode).want("error.param", tt.wantParam)
			msg := r.s("error.message")
			for _, secret := range []string{good, tampered, "4242424242424242"} {
				if strings.Contains(msg, secret) || strings.Contains(msg, secret[:16]) {
					t.Errorf("error message echoes the payload: %s", msg)
				}
			}
			if n := len(c.get("/v1/payment_intents", "").ok().list()); n != 0 {
				t.Errorf("%d PaymentIntents created by a refused forward", n)
			}
			// Validation failures are not saved: the key is still fresh.
			if tt.wantCode != "parameter_unknown" && tt.name != "no payload" {
				c.post("/v1/payment_intents", forwardForm(ref, good, 4200, "manual"), "Idempotency-Key", "fresh-"+tt.name).ok()
			}
		})
	}
}

// TestForwardOfflineReplay: an offline reference is forwarded once. The
// same request under the same key replays; under another key it is
// refused with offline_reference_used naming the first PaymentIntent,
// approved or declined.
func TestForwardOfflineReplay(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	const ref = "off_lane1_0004"
	body := forwardForm(ref, sealB64(ref, offlineCard("", 4200)), 4200, "manual")
	first := c.post("/v1/payment_intents", body, "Idempotency-Key", "fwd-a").ok().want("status", "requires_capture")
	id := first.s("id")

	again := c.post("/v1/payment_intents", body, "Idempotency-Key", "fwd-a").ok().want("id", id)
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Error("same key: not a replay")
	}
	dup := c.post("/v1/payment_intents", body, "Idempotency-Key", "fwd-b").
		wantError(http.StatusBadRequest, "invalid_request_error", "offline_reference_used").
		want("error.param", "payment_method_data[card_present][offline_reference]").
		want("error.payment_intent.id", id).want("error.payment_intent.status", "requires_capture")
	if !strings.Contains(dup.s("error.message"), id) {
		t.Errorf("message does not name %s: %s", id, dup.s("error.message"))
	}
	// A new payload sealed for the same reference is no way around it.
	c.post("/v1/payment_intents", forwardForm(ref, sealB64(ref, offlineCard("visa", 4200)), 4200, "automatic"), "Idempotency-Key", "fwd-c").
		wantError(http.StatusBadRequest, "invalid_request_error", "offline_reference_used")

	const declinedRef = "off_lane1_0005"
	declBody := forwardForm(declinedRef, sealB64(declinedRef, offlineCard("charge_declined", 4200)), 4200, "manual")
	decl := c.post("/v1/payment_intents", declBody, "Idempotency-Key", "fwd-d").wantError(http.StatusPaymentRequired, "card_error", "card_declined")
	declID := decl.s("error.payment_intent.id")
	c.post("/v1/payment_intents", declBody, "Idempotency-Key", "fwd-d").wantError(http.StatusPaymentRequired, "card_error", "card_declined").
		want("error.payment_intent.id", declID)
	c.post("/v1/payment_intents", declBody, "Idempotency-Key", "fwd-e").
		wantError(http.StatusBadRequest, "invalid_request_error", "offline_reference_used").want("error.payment_intent.id", declID)

	if ids := c.get("/v1/payment_intents", "").ok().ids(); len(ids) != 2 {
		t.Errorf("PaymentIntents %v, want exactly two", ids)
	}
}

// TestConfirmReaderPayload forwards through confirm (the PaymentIntent
// created first) and checks the online counterpart: a payload collected
// for the PaymentIntent itself.
func TestConfirmReaderPayload(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	newIntent := func() string {
		return c.post("/v1/payment_intents", form("amount", "4200", "currency", "eur", "payment_method_types[]", "card_present",
			"capture_method", "manual")).ok().s("id")
	}
	confirm := func(id, payload, ref string) *resp {
		kv := []string{"payment_method_data[type]", "card_present", "payment_method_data[card_present][reader_payload]", payload}
		if ref != "" {
			kv = append(kv, "payment_method_data[card_present][offline_reference]", ref)
		}
		return c.post("/v1/payment_intents/"+id+"/confirm", form(kv...))
	}

	// Offline, forwarded as create then confirm.
	const ref = "off_lane2_0001"
	id := newIntent()
	r := confirm(id, sealB64(ref, offlineCard("", 4200)), ref).ok().want("status", "requires_capture")
	c.get("/v1/charges/"+r.s("latest_charge"), "").ok().want("payment_method_details.card_present.offline.type", "deferred")
	other := newIntent()
	confirm(other, sealB64(ref, offlineCard("", 4200)), ref).
		wantError(http.StatusBadRequest, "invalid_request_error", "offline_reference_used").want("error.payment_intent.id", id)

	// Online: sealed for the PaymentIntent, not marked offline.
	on := newIntent()
	card := offlineCard("amex", 4200)
	card.Offline = false
	r = confirm(on, sealB64(on, card), "").ok().want("status", "requires_capture")
	ch := c.get("/v1/charges/"+r.s("latest_charge"), "").ok()
	if !ch.isNull("payment_method_details.card_present.offline") || ch.s("payment_method_details.card_present.read_method") != "contactless_emv" {
		t.Errorf("online reader charge: %s", ch.body)
	}

	// Marked offline but given without a reference: refused, on confirm
	// and on the reader test helper alike.
	off := newIntent()
	offCard := offlineCard("visa", 4200)
	confirm(off, sealB64(off, offCard), "").wantError(http.StatusBadRequest, "invalid_request_error", "parameter_invalid_string").
		want("error.param", "payment_method_data[card_present][reader_payload]")
	c.post("/v1/test_helpers/payment_intents/"+off+"/present_payment_method", form("card_present[reader_payload]", sealB64(off, offCard))).
		wantError(http.StatusBadRequest, "invalid_request_error", "parameter_invalid_string").want("error.param", "card_present[reader_payload]")
	c.get("/v1/payment_intents/"+off, "").ok().want("status", "requires_payment_method")

	// A PaymentIntent forwarded for one reference takes no other, even
	// after a decline; it may be confirmed again for its own.
	const declRef, otherRef = "off_lane2_0002", "off_lane2_0003"
	decl := newIntent()
	confirm(decl, sealB64(declRef, offlineCard("charge_declined", 4200)), declRef).
		wantError(http.StatusPaymentRequired, "card_error", "card_declined").want("error.payment_intent.status", "requires_payment_method")
	confirm(decl, sealB64(otherRef, offlineCard("", 4200)), otherRef).
		wantError(http.StatusBadRequest, "invalid_request_error", "payment_intent_invalid_parameter").
		want("error.param", "payment_method_data[card_present][offline_reference]")
	confirm(decl, sealB64(declRef, offlineCard("visa", 4200)), declRef).ok().want("status", "requires_capture")
	// A confirm of a PaymentIntent that is already authorised is a state error.
	confirm(id, sealB64(otherRef, offlineCard("", 4200)), otherRef).
		wantError(http.StatusBadRequest, "invalid_request_error", "payment_intent_unexpected_state")
}

// FuzzForwardOffline forwards arbitrary payloads under arbitrary offline
// references: the answer is JSON, never a 5xx, never echoes the payload,
// and only a payload sealed offline for exactly that reference is taken.
func FuzzForwardOffline(f *testing.F) {
	const ref = "off_fuzz_0001"
	online := offlineCard("visa", 4200)
	online.Offline = false
	seeds := []struct {
		ref     string
		payload []byte
	}{
		{ref, simcard.Seal(ref, offlineCard("visa", 4200))},
		{ref, simcard.Seal(ref, offlineCard("", 4200))},
		{ref, simcard.Seal(ref, offlineCard("charge_declined", 4200))},
		{ref, simcard.Seal(ref, online)},
		{ref, simcard.Seal("off_other", offlineCard("visa", 4200))},
		{ref, simcard.Seal(ref, offlineCard("visa", 4300))},
		{"", simcard.Seal("", offlineCard("visa", 4200))},
		{ref, []byte("4242424242424242 12/30")},
		{ref, nil},
		{"pi_3QxYz2LkdIwHu7ix0a1b2c3d", simcard.Seal("pi_3QxYz2LkdIwHu7ix0a1b2c3d", offlineCard("visa", 4200))},
	}
	for _, s := range seeds {
		f.Add(s.ref, s.payload)
	}
	srv, err := sandbox.New(sandbox.Options{Keys: []string{"sk_test_f"}, Seed: 1, Now: fixedNow})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string, payload []byte) {
		// Each run starts empty, so that replay protection does not hide
		// what the payload would do.
		if err := srv.Reset(); err != nil {
			t.Fatal(err)
		}
		b64 := base64.StdEncoding.EncodeToString(payload)
		body := forwardForm(key, b64, 4200, "manual")
		req := httptest.NewRequest(http.MethodPost, "/v1/payment_intents", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sk_test_f")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%d: %s", rec.Code, rec.Body)
		}
		var m struct {
			Object string         `json:"object"`
			Error  map[string]any `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %s", rec.Body)
		}
		if len(b64) >= 12 && strings.Contains(rec.Body.String(), b64) {
			t.Fatalf("the answer echoes the payload: %s", rec.Body)
		}
		card, openErr := simcard.Open(key, payload)
		taken := openErr == nil && card.Offline && (card.Amount == 0 || card.Amount == 4200) && (card.Currency == "" || card.Currency == "eur")
		switch rec.Code {
		case http.StatusOK, http.StatusPaymentRequired:
			if !taken {
				t.Fatalf("%d for a payload that is not an offline one for %q: %s", rec.Code, key, rec.Body)
			}
		case http.StatusBadRequest:
			if m.Error == nil {
				t.Fatalf("400 without an error: %s", rec.Body)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

// BenchmarkForwardOffline forwards offline payments (create + confirm in
// one request, manual capture) into a sandbox already holding n
// PaymentIntents: the offline reference's replay check walks them.
func BenchmarkForwardOffline(b *testing.B) {
	for _, n := range []int{0, 5000} {
		b.Run(fmt.Sprintf("intents=%d", n), func(b *testing.B) {
			c := newSandbox(b, sandbox.Options{})
			for range n {
				c.newReaderIntent(1000, "manual")
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				ref := fmt.Sprintf("off_bench_%d", i)
				c.post("/v1/payment_intents", forwardForm(ref, sealB64(ref, offlineCard("", 4200)), 4200, "manual")).ok()
			}
		})
	}
}

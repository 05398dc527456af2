package sandbox_test

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/reader/simcard"
	"github.com/tillpos/till/sync/sandbox"
)

func TestReaderLifecycleManualCapture(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	pi := c.newReaderIntent(1000, "manual", "metadata[order_id]", "42", "metadata[lane]", "2")
	id := pi.s("id")
	if !strings.HasPrefix(id, "pi_") || !strings.HasPrefix(pi.s("client_secret"), id+"_secret_") {
		t.Fatalf("bad ids: %s", pi.body)
	}
	pi.want("object", "payment_intent").want("status", "requires_payment_method").want("metadata.order_id", "42")
	if pi.get("livemode") != false || pi.n("created") != epoch.Unix() {
		t.Fatalf("livemode/created wrong: %s", pi.body)
	}

	r := c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", form("card_present[brand]", "mastercard", "card_present[last4]", "4444")).ok()
	r.want("status", "requires_confirmation")
	pm := c.get("/v1/payment_methods/"+r.s("payment_method"), "").ok()
	pm.want("type", "card_present").want("card_present.brand", "mastercard").want("card_present.last4", "4444")

	r = c.post("/v1/payment_intents/"+id+"/confirm", "").ok()
	r.want("status", "requires_capture")
	if r.n("amount_capturable") != 1000 {
		t.Fatalf("amount_capturable = %d", r.n("amount_capturable"))
	}
	ch := c.get("/v1/charges/"+r.s("latest_charge"), "").ok()
	if got, want := ch.n("payment_method_details.card_present.capture_before"), epoch.Add(48*time.Hour).Unix(); got != want {
		t.Fatalf("capture_before = %d, want %d", got, want)
	}
	exp := c.get("/v1/payment_intents/"+id, "expand[]=latest_charge").ok()
	exp.want("latest_charge.object", "charge")

	r = c.post("/v1/payment_intents/"+id+"/capture", form("amount_to_capture", "900")).ok()
	r.want("status", "succeeded")
	if r.n("amount_received") != 900 || r.n("amount_capturable") != 0 {
		t.Fatalf("after capture: %s", r.body)
	}
	got := c.eventTypes(id)
	want := []string{"payment_intent.created", "payment_intent.amount_capturable_updated", "payment_intent.succeeded"}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestReaderAutomaticCapture(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	id := c.newReaderIntent(2500, "automatic").s("id")
	c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", "").ok()
	r := c.post("/v1/payment_intents/"+id+"/confirm", "").ok().want("status", "succeeded")
	if r.n("amount_received") != 2500 {
		t.Fatalf("amount_received = %d", r.n("amount_received"))
	}
}

func TestCardPresentTestAmounts(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	for _, tc := range []struct {
		amount  int64
		decline string // "" approves
	}{
		{1000, ""}, {100, ""}, {1001, "call_issuer"}, {1005, "generic_decline"}, {1055, "incorrect_pin"},
		{1065, "withdrawal_count_limit_exceeded"}, {1075, "pin_try_exceeded"}, {1042, "generic_decline"}, {1099, "generic_decline"},
	} {
		t.Run(itoa(tc.amount), func(t *testing.T) {
			c.t = t
			id := c.newReaderIntent(tc.amount, "manual").s("id")
			c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", "").ok()
			r := c.post("/v1/payment_intents/"+id+"/confirm", "")
			if tc.decline == "" {
				r.ok().want("status", "requires_capture")
				return
			}
			r.wantError(http.StatusPaymentRequired, "card_error", "card_declined").want("error.decline_code", tc.decline)
			r.want("error.payment_intent.id", id).want("error.payment_intent.status", "requires_payment_method")
			after := c.get("/v1/payment_intents/"+id, "").ok()
			after.want("status", "requires_payment_method").want("last_payment_error.decline_code", tc.decline)
			if !after.isNull("payment_method") {
				t.Fatalf("payment_method not detached after decline: %s", after.body)
			}
			if got := c.eventTypes(id); got[len(got)-1] != "payment_intent.payment_failed" {
				t.Fatalf("last event %v", got)
			}
			// The same PaymentIntent takes another card.
			c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", "").ok().want("status", "requires_confirmation")
		})
	}
}

// TestSimulatedCards checks that a named simulated card decides the
// outcome whatever the amount, and that its brand reaches the charge.
func TestSimulatedCards(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	for _, tc := range []struct {
		card    string
		amount  int64
		brand   string
		decline string
	}{
		{"visa", 1742, "visa", ""},
		{"mastercard", 1005, "mastercard", ""},
		{"charge_declined", 1000, "visa", "generic_decline"},
		{"charge_declined_insufficient_funds", 2500, "visa", "insufficient_funds"},
	} {
		t.Run(tc.card, func(t *testing.T) {
			c.t = t
			id := c.newReaderIntent(tc.amount, "manual").s("id")
			c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", form("card_present[simulated_card]", tc.card)).ok()
			r := c.post("/v1/payment_intents/"+id+"/confirm", "")
			if tc.decline != "" {
				r.wantError(http.StatusPaymentRequired, "card_error", "card_declined").want("error.decline_code", tc.decline)
				return
			}
			r.ok().want("status", "requires_capture")
			pm := c.get("/v1/payment_methods/"+r.s("payment_method"), "").ok()
			pm.want("card_present.brand", tc.brand)
		})
	}
	c.t = t
	id := c.newReaderIntent(1000, "manual").s("id")
	c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", form("card_present[simulated_card]", "monopoly_money")).
		wantError(http.StatusBadRequest, "invalid_request_error", "parameter_invalid_string")
}

// TestReaderPayload presents what a simulated reader collected: the card
// it names decides the outcome, and a payload sealed for another
// PaymentIntent, or not sealed at all, is refused.
func TestReaderPayload(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	present := func(id, payload string, extra ...string) *resp {
		return c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method",
			form(append([]string{"card_present[reader_payload]", payload}, extra...)...))
	}
	seal := func(id string, card simcard.Card) string {
		return base64.StdEncoding.EncodeToString(simcard.Seal(id, card))
	}
	mc := simcard.Card{TestCard: "mastercard", Brand: "mastercard", Last4: "4444", ExpMonth: 7, ExpYear: 2031, ReadMethod: "contact_emv"}

	id := c.newReaderIntent(1742, "manual").s("id")
	present(id, seal(id, mc)).ok().want("status", "requires_confirmation")
	r := c.post("/v1/payment_intents/"+id+"/confirm", "").ok().want("status", "requires_capture")
	pm := c.get("/v1/payment_methods/"+r.s("payment_method"), "").ok().
		want("card_present.brand", "mastercard").want("card_present.last4", "4444").
		want("card_present.read_method", "contact_emv")
	if m, y := pm.n("card_present.exp_month"), pm.n("card_present.exp_year"); m != 7 || y != 2031 {
		t.Errorf("expiry %d/%d, want 7/2031 from the payload", m, y)
	}

	declined := c.newReaderIntent(1000, "manual").s("id")
	present(declined, seal(declined, simcard.Card{TestCard: "charge_declined_insufficient_funds", Brand: "visa", Last4: "9995", ReadMethod: "contactless_emv"})).ok()
	c.post("/v1/payment_intents/"+declined+"/confirm", "").
		wantError(http.StatusPaymentRequired, "card_error", "card_declined").want("error.decline_code", "insufficient_funds")

	other := c.newReaderIntent(1000, "manual").s("id")
	for name, tc := range map[string]struct {
		payload string
		extra   []string
	}{
		"sealed for another PaymentIntent": {payload: seal(id, mc)},
		"not base64":                       {payload: "%%%"},
		"not sealed":                       {payload: base64.StdEncoding.EncodeToString([]byte("4242424242424242"))},
		"unknown test card":                {payload: seal(other, simcard.Card{TestCard: "monopoly_money", Brand: "visa", Last4: "4242"})},
		"with simulated_card too":          {payload: seal(other, mc), extra: []string{"card_present[simulated_card]", "visa"}},
	} {
		t.Run(name, func(t *testing.T) {
			c.t = t
			r := present(other, tc.payload, tc.extra...).wantError(http.StatusBadRequest, "invalid_request_error", "parameter_invalid_string")
			if msg := r.s("error.message"); strings.Contains(msg, tc.payload) && len(tc.payload) > 8 {
				t.Errorf("error message echoes the payload: %s", msg)
			}
		})
	}
	c.t = t
	c.get("/v1/payment_intents/"+other, "").ok().want("status", "requires_payment_method")
}

func TestInvalidTransitions(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	succeeded := func() string {
		id := c.newReaderIntent(1000, "automatic").s("id")
		c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", "").ok()
		c.post("/v1/payment_intents/"+id+"/confirm", "").ok()
		return id
	}
	canceled := func() string {
		id := c.newReaderIntent(1000, "manual").s("id")
		c.post("/v1/payment_intents/"+id+"/cancel", "").ok()
		return id
	}
	authorized := func() string {
		id := c.newReaderIntent(1000, "manual").s("id")
		c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", "").ok()
		c.post("/v1/payment_intents/"+id+"/confirm", "").ok()
		return id
	}
	fresh := func() string { return c.newReaderIntent(1000, "manual").s("id") }
	for _, tc := range []struct {
		name, op, form string
		make           func() string
		status         string
	}{
		{"cancel succeeded", "cancel", "", succeeded, "succeeded"},
		{"cancel canceled", "cancel", "", canceled, "canceled"},
		{"confirm succeeded", "confirm", "", succeeded, "succeeded"},
		{"confirm canceled", "confirm", "", canceled, "canceled"},
		{"confirm authorized", "confirm", "", authorized, "requires_capture"},
		{"capture fresh", "capture", "", fresh, "requires_payment_method"},
		{"capture canceled", "capture", "", canceled, "canceled"},
		{"capture succeeded", "capture", "", succeeded, "succeeded"},
		{"present authorized", "present", "", authorized, "requires_capture"},
		{"update amount authorized", "update", "amount=2000", authorized, "requires_capture"},
		{"confirm without method", "confirm", "", fresh, "requires_payment_method"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			id := tc.make()
			path := "/v1/payment_intents/" + id + "/" + tc.op
			switch tc.op {
			case "present":
				path = "/v1/test_helpers/payment_intents/" + id + "/present_payment_method"
			case "update":
				path = "/v1/payment_intents/" + id
			}
			r := c.post(path, tc.form).wantError(http.StatusBadRequest, "invalid_request_error", "payment_intent_unexpected_state")
			r.want("error.payment_intent.id", id).want("error.payment_intent.status", tc.status)
		})
	}
}

func TestCancelAndUpdate(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	for _, reason := range []string{"duplicate", "fraudulent", "requested_by_customer", "abandoned"} {
		id := c.newReaderIntent(1000, "manual").s("id")
		r := c.post("/v1/payment_intents/"+id+"/cancel", form("cancellation_reason", reason)).ok()
		r.want("status", "canceled").want("cancellation_reason", reason)
		if r.n("canceled_at") != epoch.Unix() {
			t.Fatalf("canceled_at %d", r.n("canceled_at"))
		}
	}
	id := c.newReaderIntent(1000, "manual").s("id")
	c.post("/v1/payment_intents/"+id+"/cancel", form("cancellation_reason", "bored")).wantError(400, "invalid_request_error", "parameter_invalid_string")
	c.get("/v1/payment_intents/"+id, "").ok().want("status", "requires_payment_method")
	c.post("/v1/payment_intents/"+id+"/cancel", "").ok()

	// Update: metadata merge and delete, amount change, metadata on a finished PaymentIntent.
	r := c.post("/v1/payment_intents/"+id, form("metadata[a]", "1")).ok()
	r.want("metadata.a", "1").want("status", "canceled")
	id = c.newReaderIntent(1000, "manual", "metadata[a]", "1", "metadata[b]", "2").s("id")
	r = c.post("/v1/payment_intents/"+id, form("amount", "1500", "metadata[a]", "", "metadata[c]", "3")).ok()
	if r.n("amount") != 1500 || r.get("metadata.a") != nil || r.s("metadata.b") != "2" || r.s("metadata.c") != "3" {
		t.Fatalf("update: %s", r.body)
	}
	c.post("/v1/payment_intents/"+id, form("amount", "10")).wantError(400, "invalid_request_error", "amount_too_small")
}

func TestAuthorisationExpiry(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	id := c.newReaderIntent(1000, "manual").s("id")
	c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", "").ok()
	c.post("/v1/payment_intents/"+id+"/confirm", "").ok()

	c.advance(48*time.Hour - time.Second)
	c.get("/v1/payment_intents/"+id, "").ok().want("status", "requires_capture")
	c.advance(time.Second)
	r := c.get("/v1/payment_intents/"+id, "").ok().want("status", "canceled").want("cancellation_reason", "automatic")
	if r.n("canceled_at") != epoch.Add(48*time.Hour).Unix() {
		t.Fatalf("canceled_at = %d", r.n("canceled_at"))
	}
	c.post("/v1/payment_intents/"+id+"/capture", "").wantError(400, "invalid_request_error", "charge_expired_for_capture").want("error.payment_intent.id", id)
	if got := c.eventTypes(id); got[len(got)-1] != "payment_intent.canceled" {
		t.Fatalf("events %v", got)
	}
}

func TestAuthExpiryIsConfigurable(t *testing.T) {
	c := newSandbox(t, sandbox.Options{AuthExpiry: time.Hour})
	id := c.newReaderIntent(1000, "manual").s("id")
	c.post("/v1/test_helpers/payment_intents/"+id+"/present_payment_method", "").ok()
	r := c.post("/v1/payment_intents/"+id+"/confirm", form("expand[]", "latest_charge")).ok()
	if got := r.n("latest_charge.payment_method_details.card_present.capture_before"); got != epoch.Add(time.Hour).Unix() {
		t.Fatalf("capture_before %d", got)
	}
	c.advance(time.Hour)
	c.get("/v1/payment_intents/"+id, "").ok().want("status", "canceled")
}

func TestSavedCards(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	t.Run("visa succeeds", func(t *testing.T) {
		c.t = t
		r := c.post("/v1/payment_intents", form("amount", "1099", "currency", "usd", "payment_method", "pm_card_visa", "confirm", "true")).ok()
		r.want("status", "succeeded")
		if pm := r.s("payment_method"); pm == "pm_card_visa" || !strings.HasPrefix(pm, "pm_") {
			t.Fatalf("test token not turned into a PaymentMethod: %q", pm)
		}
	})
	t.Run("insufficient funds", func(t *testing.T) {
		c.t = t
		r := c.post("/v1/payment_intents", form("amount", "1099", "currency", "usd", "payment_method", "pm_card_chargeDeclinedInsufficientFunds", "confirm", "true"))
		r.wantError(402, "card_error", "card_declined").want("error.decline_code", "insufficient_funds")
		r.want("error.payment_intent.status", "requires_payment_method").want("error.payment_intent.last_payment_error.decline_code", "insufficient_funds")
	})
	t.Run("authentication required then confirmed", func(t *testing.T) {
		c.t = t
		r := c.post("/v1/payment_intents", form("amount", "1099", "currency", "usd", "payment_method", "pm_card_authenticationRequired", "confirm", "true")).ok()
		r.want("status", "requires_action").want("next_action.type", "use_stripe_sdk")
		id, page := r.s("id"), r.s("next_action.use_stripe_sdk.stripe_js")
		// Confirming again before the customer acts changes nothing.
		c.post("/v1/payment_intents/"+id+"/confirm", "").ok().want("status", "requires_action")
		loc := c.authorizePage(page, "authorize")
		if loc != "" {
			t.Fatalf("no return_url, got redirect %q", loc)
		}
		c.get("/v1/payment_intents/"+id, "").ok().want("status", "requires_confirmation")
		c.advance(59 * time.Minute)
		c.post("/v1/payment_intents/"+id+"/confirm", "").ok().want("status", "succeeded")
	})
	t.Run("authentication window ends", func(t *testing.T) {
		c.t = t
		r := c.post("/v1/payment_intents", form("amount", "1099", "currency", "usd", "payment_method", "pm_card_authenticationRequired", "confirm", "true", "return_url", "https://till.example/done")).ok()
		r.want("next_action.type", "redirect_to_url")
		id := r.s("id")
		c.advance(time.Hour)
		after := c.get("/v1/payment_intents/"+id, "").ok().want("status", "requires_payment_method")
		after.want("last_payment_error.code", "payment_intent_authentication_failure")
		if !after.isNull("payment_method") || !after.isNull("next_action") {
			t.Fatalf("method/next_action kept: %s", after.body)
		}
	})
	t.Run("off session needs authentication", func(t *testing.T) {
		c.t = t
		c.post("/v1/payment_intents", form("amount", "1099", "currency", "usd", "payment_method", "pm_card_authenticationRequired", "confirm", "true", "off_session", "true")).
			wantError(402, "card_error", "authentication_required")
	})
}

// authorizePage loads a wallet/authentication page, checks its buttons,
// posts the action and returns the redirect Location ("" for none).
func (c *tclient) authorizePage(pageURL, action string) string {
	c.t.Helper()
	path := strings.TrimPrefix(pageURL, c.srv.URL)
	if path == pageURL {
		c.t.Fatalf("page %q is not on the sandbox %s", pageURL, c.srv.URL)
	}
	page := c.get(path, "")
	if page.status != 200 || !strings.Contains(string(page.body), "Authorize test payment") || !strings.Contains(string(page.body), "Fail test payment") {
		c.t.Fatalf("page %d: %s", page.status, page.body)
	}
	r := c.post(path, form("action", action))
	switch r.status {
	case http.StatusSeeOther:
		return r.header.Get("Location")
	case http.StatusOK:
		return ""
	}
	c.t.Fatalf("page action %d: %s", r.status, r.body)
	return ""
}

func TestSEPAProcessing(t *testing.T) {
	c := newSandbox(t, sandbox.Options{ProcessingDelay: 3 * time.Minute})
	for _, tc := range []struct {
		iban, final string
		event       string
	}{
		{"DE89370400440532013000", "succeeded", "payment_intent.succeeded"},
		{"DE62370400440532013001", "requires_payment_method", "payment_intent.payment_failed"},
	} {
		t.Run(tc.iban, func(t *testing.T) {
			c.t = t
			r := c.post("/v1/payment_intents", form("amount", "2000", "currency", "eur", "payment_method_types[]", "sepa_debit",
				"payment_method_data[type]", "sepa_debit", "payment_method_data[sepa_debit][iban]", tc.iban,
				"payment_method_data[billing_details][name]", "Jenny Rosen", "payment_method_data[billing_details][email]", "jenny@example.com",
				"confirm", "true", "mandate_data[customer_acceptance][type]", "offline")).ok()
			r.want("status", "processing")
			id := r.s("id")
			c.advance(3 * time.Minute)
			c.get("/v1/payment_intents/"+id, "").ok().want("status", tc.final)
			want := []string{"payment_intent.created", "payment_intent.processing", tc.event}
			if got := c.eventTypes(id); !slices.Equal(got, want) {
				t.Fatalf("events %v, want %v", got, want)
			}
		})
	}
	c.t = t
	c.post("/v1/payment_intents", form("amount", "2000", "currency", "eur", "payment_method_data[type]", "sepa_debit", "payment_method_data[sepa_debit][iban]", "DE00123")).
		wantError(400, "invalid_request_error", "invalid_bank_account_iban")
}

func TestTwint(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	base := []string{"currency", "chf", "payment_method_types[]", "twint", "payment_method_data[type]", "twint"}
	bad := []struct {
		name string
		kv   []string
		code string
	}{
		{"usd", []string{"amount", "1000", "currency", "usd", "payment_method_types[]", "twint"}, "payment_intent_invalid_parameter"},
		{"over 5000 chf", append([]string{"amount", "500001"}, base...), "amount_too_large"},
		{"manual capture", append([]string{"amount", "1000", "capture_method", "manual"}, base...), "payment_intent_invalid_parameter"},
		{"confirm without return_url", append([]string{"amount", "1000", "confirm", "true"}, base...), "parameter_missing"},
	}
	for _, tc := range bad {
		c.t = t
		c.post("/v1/payment_intents", form(tc.kv...)).wantError(400, "invalid_request_error", tc.code)
	}
	c.post("/v1/payment_intents", form(append([]string{"amount", "500000"}, base...)...)).ok()

	for _, tc := range []struct{ action, status, redirect string }{
		{"authorize", "succeeded", "succeeded"},
		{"fail", "requires_payment_method", "failed"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			c.t = t
			r := c.post("/v1/payment_intents", form(append([]string{"amount", "1000", "confirm", "true", "return_url", "https://till.example/back?lane=3"}, base...)...)).ok()
			r.want("status", "requires_action").want("next_action.type", "redirect_to_url").want("next_action.redirect_to_url.return_url", "https://till.example/back?lane=3")
			id := r.s("id")
			loc := c.authorizePage(r.s("next_action.redirect_to_url.url"), tc.action)
			for _, want := range []string{"https://till.example/back?", "lane=3", "payment_intent=" + id, "payment_intent_client_secret=" + r.s("client_secret"), "redirect_status=" + tc.redirect} {
				if !strings.Contains(loc, want) {
					t.Fatalf("redirect %q lacks %q", loc, want)
				}
			}
			c.get("/v1/payment_intents/"+id, "").ok().want("status", tc.status)
		})
	}
}

func TestMobilePay(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	create := func() string {
		r := c.post("/v1/payment_intents", form("amount", "1099", "currency", "dkk", "capture_method", "manual",
			"payment_method_types[]", "mobilepay", "payment_method_data[type]", "mobilepay")).ok()
		r.want("status", "requires_confirmation")
		return r.s("id")
	}
	c.post("/v1/payment_intents", form("amount", "1099", "currency", "chf", "payment_method_types[]", "mobilepay")).wantError(400, "invalid_request_error", "payment_intent_invalid_parameter")

	id := create()
	r := c.post("/v1/payment_intents/"+id+"/confirm", form("return_url", "https://till.example/complete")).ok()
	r.want("status", "requires_action")
	c.authorizePage(r.s("next_action.redirect_to_url.url"), "authorize")
	after := c.get("/v1/payment_intents/"+id, "").ok().want("status", "requires_capture")
	if after.n("amount_capturable") != 1099 {
		t.Fatalf("amount_capturable %d", after.n("amount_capturable"))
	}
	if got := c.eventTypes(id); !slices.Contains(got, "payment_intent.amount_capturable_updated") {
		t.Fatalf("events %v", got)
	}
	c.post("/v1/payment_intents/"+id+"/capture", form("amount_to_capture", "1000")).wantError(400, "invalid_request_error", "payment_intent_invalid_parameter")
	c.post("/v1/payment_intents/"+id+"/capture", form("amount_to_capture", "1099")).ok().want("status", "succeeded")

	// The five-minute window.
	id = create()
	c.post("/v1/payment_intents/"+id+"/confirm", form("return_url", "https://till.example/complete")).ok()
	c.advance(5*time.Minute - time.Second)
	c.get("/v1/payment_intents/"+id, "").ok().want("status", "requires_action")
	c.advance(time.Second)
	exp := c.get("/v1/payment_intents/"+id, "").ok().want("status", "requires_payment_method")
	if !exp.isNull("payment_method") {
		t.Fatalf("method not detached: %s", exp.body)
	}

	// Cancel before expiry.
	id = create()
	c.post("/v1/payment_intents/"+id+"/confirm", form("return_url", "https://till.example/complete")).ok()
	c.post("/v1/payment_intents/"+id+"/cancel", "").ok().want("status", "canceled")
}

func TestListAndSearchIntents(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	cus := c.post("/v1/customers", form("email", "a@example.com")).ok().s("id")
	var ids []string
	for i := range 25 {
		kv := []string{"metadata[order_id]", itoa(int64(i))}
		if i%5 == 0 {
			kv = append(kv, "customer", cus)
		}
		ids = append(ids, c.newReaderIntent(int64(1000+i*100), "manual", kv...).s("id"))
		c.advance(time.Minute)
	}
	slices.Reverse(ids) // newest first
	p1 := c.get("/v1/payment_intents", "limit=10").ok()
	if !slices.Equal(p1.ids(), ids[:10]) || p1.get("has_more") != true || p1.s("url") != "/v1/payment_intents" || p1.s("object") != "list" {
		t.Fatalf("page 1: %v", p1.ids())
	}
	p3 := c.get("/v1/payment_intents", "limit=10&starting_after="+ids[19]).ok()
	if !slices.Equal(p3.ids(), ids[20:]) || p3.get("has_more") != false {
		t.Fatalf("page 3: %v", p3.ids())
	}
	back := c.get("/v1/payment_intents", "limit=3&ending_before="+ids[10]).ok()
	if !slices.Equal(back.ids(), ids[7:10]) || back.get("has_more") != true {
		t.Fatalf("ending_before: %v want %v", back.ids(), ids[7:10])
	}
	gte := c.get("/v1/payment_intents", "limit=100&created[gte]="+itoa(epoch.Add(20*time.Minute).Unix())).ok()
	if !slices.Equal(gte.ids(), ids[:5]) {
		t.Fatalf("created[gte]: %v", gte.ids())
	}
	byCus := c.get("/v1/payment_intents", "customer="+cus).ok()
	if len(byCus.ids()) != 5 {
		t.Fatalf("customer filter: %v", byCus.ids())
	}
	c.get("/v1/payment_intents", "limit=101").wantError(400, "invalid_request_error", "parameter_invalid_integer")
	c.get("/v1/payment_intents", "limit=0").wantError(400, "invalid_request_error", "parameter_invalid_integer")
	c.get("/v1/payment_intents", "starting_after=pi_nope").wantError(400, "invalid_request_error", "resource_missing")

	for _, tc := range []struct {
		q    string
		want int
	}{
		{"metadata['order_id']:'7'", 1},
		{`metadata["order_id"]:"7" AND status:'requires_payment_method'`, 1},
		{"status:'requires_payment_method'", 25},
		{"amount>=3000", 5},
		{"amount<1200 OR amount>3300", 3},
		{"currency:'usd' AND -metadata['order_id']:'3'", 24},
		{"customer:'" + cus + "'", 5},
	} {
		r := c.get("/v1/payment_intents/search", form("query", tc.q, "limit", "100")).ok()
		if r.s("object") != "search_result" || len(r.list()) != tc.want {
			t.Fatalf("search %q: %d results, want %d", tc.q, len(r.list()), tc.want)
		}
	}
	s1 := c.get("/v1/payment_intents/search", form("query", "status:'requires_payment_method'", "limit", "20")).ok()
	s2 := c.get("/v1/payment_intents/search", form("query", "status:'requires_payment_method'", "page", s1.s("next_page"))).ok()
	if len(s2.ids()) != 5 || s2.get("has_more") != false || !s2.isNull("next_page") || slices.Contains(s1.ids(), s2.ids()[0]) {
		t.Fatalf("search paging: %v / %v", s1.ids(), s2.ids())
	}
	for _, q := range []string{"", "nope:'x'", "status:'a' AND amount>1 OR amount<2", "amount>'x'", "metadata:'x'", "status:unquoted"} {
		c.get("/v1/payment_intents/search", form("query", q)).wantError(400, "invalid_request_error", map[bool]string{true: "parameter_invalid_empty", false: "parameter_invalid_string"}[q == ""])
	}
}

// TestUpdateClearsMethodWhileChangingTypes: payment_method= removes the
// method, so the old method's type need not be in the new
// payment_method_types; keeping the method still needs it.
func TestUpdateClearsMethodWhileChangingTypes(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	for _, tc := range []struct {
		name       string
		update     []string
		wantStatus int
		wantPM     bool
	}{
		{"clear and switch to sepa", []string{"payment_method", "", "payment_method_types[]", "sepa_debit"}, 200, false},
		{"keep card, switch to sepa", []string{"payment_method_types[]", "sepa_debit"}, 400, true},
		{"clear only", []string{"payment_method", ""}, 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			pi := c.post("/v1/payment_intents", form("amount", "2000", "currency", "eur", "payment_method_types[]", "card", "payment_method", "pm_card_visa")).ok()
			pi.want("status", "requires_confirmation")
			r := c.post("/v1/payment_intents/"+pi.s("id"), form(tc.update...))
			if tc.wantStatus != 200 {
				r.wantError(tc.wantStatus, "invalid_request_error", "payment_intent_incompatible_payment_method")
			} else {
				r.ok().want("status", "requires_payment_method")
				if !r.isNull("payment_method") {
					t.Fatalf("payment_method not cleared: %s", r.body)
				}
			}
			after := c.get("/v1/payment_intents/"+pi.s("id"), "").ok()
			if hasPM := !after.isNull("payment_method"); hasPM != tc.wantPM {
				t.Fatalf("payment_method present %v, want %v: %s", hasPM, tc.wantPM, after.body)
			}
		})
	}
}

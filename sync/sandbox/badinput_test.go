package sandbox_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tillpos/till/sync/sandbox"
)

var badInputs = []struct {
	name, path, body, ctype string
	status                  int
	code                    string
}{
	{"non-integer amount", "/v1/payment_intents", "amount=10.5&currency=usd", "", 400, "parameter_invalid_integer"},
	{"negative amount", "/v1/payment_intents", "amount=-100&currency=usd", "", 400, "parameter_invalid_integer"},
	{"zero amount", "/v1/payment_intents", "amount=0&currency=usd", "", 400, "parameter_invalid_integer"},
	{"plus sign", "/v1/payment_intents", "amount=%2B100&currency=usd", "", 400, "parameter_invalid_integer"},
	{"overflow", "/v1/payment_intents", "amount=99999999999999999999&currency=usd", "", 400, "parameter_invalid_integer"},
	{"too large", "/v1/payment_intents", "amount=100000000&currency=usd", "", 400, "amount_too_large"},
	{"below minimum", "/v1/payment_intents", "amount=49&currency=usd", "", 400, "amount_too_small"},
	{"below dkk minimum", "/v1/payment_intents", "amount=249&currency=dkk", "", 400, "amount_too_small"},
	{"unknown currency", "/v1/payment_intents", "amount=100&currency=xyz", "", 400, "parameter_invalid_string"},
	{"uppercase currency", "/v1/payment_intents", "amount=100&currency=USD", "", 400, "parameter_invalid_string"},
	{"missing amount", "/v1/payment_intents", "currency=usd", "", 400, "parameter_missing"},
	{"missing currency", "/v1/payment_intents", "amount=100", "", 400, "parameter_missing"},
	{"empty amount", "/v1/payment_intents", "amount=&currency=usd", "", 400, "parameter_invalid_empty"},
	{"unknown parameter", "/v1/payment_intents", "amount=100&currency=usd&colour=red", "", 400, "parameter_unknown"},
	{"unknown nested parameter", "/v1/payment_intents", "amount=100&currency=usd&payment_method_data[type]=twint&payment_method_data[x]=1", "", 400, "parameter_unknown"},
	{"amount as hash", "/v1/payment_intents", "amount[x]=1&currency=usd", "", 400, "parameter_invalid_string"},
	{"types as string", "/v1/payment_intents", "amount=100&currency=usd&payment_method_types=card", "", 400, "parameter_invalid_array"},
	{"unknown method type", "/v1/payment_intents", "amount=100&currency=usd&payment_method_types[]=cash", "", 400, "payment_intent_invalid_parameter"},
	{"bad capture method", "/v1/payment_intents", "amount=100&currency=usd&capture_method=later", "", 400, "parameter_invalid_string"},
	{"bad boolean", "/v1/payment_intents", "amount=100&currency=usd&confirm=yes", "", 400, "parameter_invalid_boolean"},
	{"metadata too long key", "/v1/payment_intents", "amount=100&currency=usd&metadata[" + strings.Repeat("k", 41) + "]=v", "", 400, "parameter_invalid_string"},
	{"exclusive types", "/v1/payment_intents", "amount=100&currency=usd&payment_method_types[]=card&automatic_payment_methods[enabled]=true", "", 400, "parameters_exclusive"},
	{"unknown test card", "/v1/payment_intents", "amount=100&currency=usd&payment_method=pm_card_bogus", "", 400, "resource_missing"},
	{"unknown customer", "/v1/payment_intents", "amount=100&currency=usd&customer=cus_nope", "", 400, "resource_missing"},
	{"malformed escape", "/v1/payment_intents", "amount=%G1&currency=usd", "", 400, ""},
	{"semicolons", "/v1/payment_intents", "amount=100;currency=usd", "", 400, ""},
	{"nested bracket abuse", "/v1/payment_intents", "metadata[a[b]]=1", "", 400, ""},
	{"deep nesting", "/v1/payment_intents", "a" + strings.Repeat("[a]", 50) + "=1", "", 400, ""},
	{"bracket bomb", "/v1/payment_intents", strings.Repeat("[", 100000) + "=1", "", 400, ""},
	{"many keys", "/v1/customers", strings.Repeat("metadata[]=1&", 5000), "", 400, ""},
	{"json body", "/v1/payment_intents", `{"amount":100,"currency":"usd"}`, "application/json", 400, ""},
	{"text body", "/v1/customers", "email=a@b.c", "text/plain", 400, ""},
	{"bad content type", "/v1/customers", "email=a@b.c", "%%%", 400, ""},
	{"unknown route", "/v1/transfers", "", "", 404, ""},
	{"missing object", "/v1/payment_intents/pi_nope/confirm", "", "", 404, "resource_missing"},
	{"cancel missing", "/v1/payment_intents/pi_nope/cancel", "", "", 404, "resource_missing"},
	{"invalid email", "/v1/customers", "email=notanemail", "", 400, "email_invalid"},
}

func TestBadInputIsStripeShaped(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	for _, tc := range badInputs {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", c.srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+c.key)
			ct := tc.ctype
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Idempotency-Key", "bad-"+tc.name)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			r := readResp(t, res)
			r.wantError(tc.status, "invalid_request_error", tc.code)
		})
	}
	// Nothing was created by any of them.
	if n := len(c.get("/v1/payment_intents", "").ok().list()); n != 0 {
		t.Fatalf("%d PaymentIntents created by bad input", n)
	}
}

func readResp(t *testing.T, res *http.Response) *resp {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := &resp{t: t, status: res.StatusCode, header: res.Header, body: b}
	if err := json.Unmarshal(b, &r.m); err != nil {
		t.Fatalf("status %d, body not JSON: %.200s", res.StatusCode, b)
	}
	return r
}

func TestHugeBodyIsRejected(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	body := "description=" + strings.Repeat("x", 10<<20)
	req, _ := http.NewRequest("POST", c.srv.URL+"/v1/customers", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	readResp(t, res).wantError(http.StatusRequestEntityTooLarge, "invalid_request_error", "")
	if n := len(c.get("/v1/customers", "").ok().list()); n != 0 {
		t.Fatalf("%d customers created", n)
	}
}

func TestAuthentication(t *testing.T) {
	c := newSandbox(t, sandbox.Options{Keys: []string{"sk_test_right_key_1234"}})
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("sk_test_right_key_1234:"))
	for _, tc := range []struct {
		name, header string
		status       int
	}{
		{"none", "", 401},
		{"wrong key", "Bearer sk_test_wrong_key_9876", 401},
		{"live key", "Bearer sk_live_right_key_1234", 401},
		{"garbage basic", "Basic !!!", 401},
		{"bearer", "Bearer sk_test_right_key_1234", 200},
		{"basic", basic, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", c.srv.URL+"/v1/customers", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			r := readResp(t, res)
			if tc.status == 200 {
				r.ok()
				return
			}
			r.wantError(401, "invalid_request_error", r.s("error.code"))
			if strings.Contains(string(r.body), "wrong_key") || strings.Contains(string(r.body), "right_key") {
				t.Fatalf("key echoed in clear: %s", r.body)
			}
		})
	}
	// Default: any sk_test_ key.
	s, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"sk_test_anything": 200, "sk_test_": 401, "pk_test_abc": 401} {
		req := httptest.NewRequest("GET", "/v1/customers", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("key %q: %d, want %d", key, rec.Code, want)
		}
	}
}

// FuzzCreateIntent throws arbitrary bodies at the create endpoint: the
// answer is always JSON, never a 5xx, and a 200 is a PaymentIntent.
func FuzzCreateIntent(f *testing.F) {
	for _, tc := range badInputs {
		if len(tc.body) < 2048 {
			f.Add(tc.body)
		}
	}
	f.Add("amount=1000&currency=usd&payment_method_types[]=card_present&capture_method=manual&metadata[order_id]=1")
	f.Add("amount=1000&currency=chf&payment_method_types[]=twint&payment_method_data[type]=twint&confirm=true&return_url=https://x")
	s, err := sandbox.New(sandbox.Options{Keys: []string{"sk_test_f"}, Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/v1/payment_intents", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sk_test_f")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%d for %q: %s", rec.Code, body, rec.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("not JSON for %q: %s", body, rec.Body)
		}
		if rec.Code == 200 && m["object"] != "payment_intent" {
			t.Fatalf("200 without a PaymentIntent: %s", rec.Body)
		}
		if rec.Code != 200 && m["error"] == nil {
			t.Fatalf("%d without an error object: %s", rec.Code, rec.Body)
		}
	})
}

// TestPaymentMethodDataMetadataLimits: payment_method_data[metadata] has the
// limits of the top-level metadata parameter.
func TestPaymentMethodDataMetadataLimits(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	base := []string{"amount", "2000", "currency", "eur", "payment_method_types[]", "sepa_debit",
		"payment_method_data[type]", "sepa_debit", "payment_method_data[sepa_debit][iban]", "DE89370400440532013000", "expand[]", "payment_method"}
	many := []string{}
	for i := range 51 {
		many = append(many, "payment_method_data[metadata][k"+itoa(int64(i))+"]", "v")
	}
	for _, tc := range []struct {
		name  string
		extra []string
		param string // empty: accepted
	}{
		{"not a hash", []string{"payment_method_data[metadata]", "junk"}, "payment_method_data[metadata]"},
		{"51 keys", many, "payment_method_data[metadata]"},
		{"long value", []string{"payment_method_data[metadata][k]", strings.Repeat("x", 501)}, "payment_method_data[metadata][k]"},
		{"long key", []string{"payment_method_data[metadata][" + strings.Repeat("k", 41) + "]", "v"}, "payment_method_data[metadata][" + strings.Repeat("k", 41) + "]"},
		{"nested value", []string{"payment_method_data[metadata][k][x]", "v"}, "payment_method_data[metadata][k]"},
		{"valid", []string{"payment_method_data[metadata][order]", "42"}, ""},
		{"emptied", []string{"payment_method_data[metadata]", ""}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			r := c.post("/v1/payment_intents", form(append(slices.Clone(base), tc.extra...)...))
			if tc.param != "" {
				r.wantError(400, "invalid_request_error", "parameter_invalid_string")
				if got := r.s("error.param"); got != tc.param {
					t.Fatalf("error.param %q, want %q", got, tc.param)
				}
				return
			}
			r.ok()
			if tc.name == "valid" {
				r.want("payment_method.metadata.order", "42")
			}
		})
	}
}

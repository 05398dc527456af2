package sandbox_test

import (
	"errors"
	bolt "go.etcd.io/bbolt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/sync/sandbox"
)

func TestCustomersAndSavedMethods(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	cus := c.post("/v1/customers", form("email", "jenny@example.com", "name", "Jenny Rosen", "phone", "+41791234567", "metadata[loyalty]", "gold")).ok()
	id := cus.s("id")
	if !strings.HasPrefix(id, "cus_") {
		t.Fatalf("id %q", id)
	}
	cus.want("object", "customer").want("email", "jenny@example.com")
	c.post("/v1/customers", form("email", "other@example.com")).ok()
	c.get("/v1/customers/"+id, "").ok().want("name", "Jenny Rosen")
	c.get("/v1/customers/cus_nope", "").wantError(404, "invalid_request_error", "resource_missing")

	byEmail := c.get("/v1/customers", "email=jenny@example.com").ok()
	if !slices.Equal(byEmail.ids(), []string{id}) {
		t.Fatalf("list by email: %v", byEmail.ids())
	}
	for _, q := range []string{"email:'jenny@example.com'", "name~'rose'", "phone:'+41791234567'", "metadata['loyalty']:'gold'"} {
		r := c.get("/v1/customers/search", form("query", q)).ok()
		if !slices.Equal(r.ids(), []string{id}) {
			t.Fatalf("search %q: %v", q, r.ids())
		}
	}

	// Attach test cards, then list by type.
	visa := c.post("/v1/payment_methods/pm_card_visa/attach", form("customer", id)).ok()
	visa.want("customer", id).want("card.last4", "4242")
	sepa := c.post("/v1/payment_methods", form("type", "sepa_debit", "sepa_debit[iban]", "DE89370400440532013000", "billing_details[name]", "Jenny Rosen", "billing_details[email]", "jenny@example.com")).ok()
	c.post("/v1/payment_methods/"+sepa.s("id")+"/attach", form("customer", id)).ok()
	all := c.get("/v1/customers/"+id+"/payment_methods", "").ok()
	if len(all.ids()) != 2 {
		t.Fatalf("methods: %v", all.ids())
	}
	cards := c.get("/v1/customers/"+id+"/payment_methods", "type=card").ok()
	if !slices.Equal(cards.ids(), []string{visa.s("id")}) {
		t.Fatalf("cards: %v", cards.ids())
	}
	twint := c.post("/v1/payment_methods", form("type", "twint")).ok()
	c.post("/v1/payment_methods/"+twint.s("id")+"/attach", form("customer", id)).wantError(400, "invalid_request_error", "payment_method_invalid_parameter")

	// Pay with a saved card; a card saved by setup_future_usage appears in the list.
	c.post("/v1/payment_intents", form("amount", "1099", "currency", "usd", "customer", id, "payment_method", visa.s("id"), "confirm", "true")).ok().want("status", "succeeded")
	r := c.post("/v1/payment_intents", form("amount", "1099", "currency", "usd", "customer", id, "payment_method", "pm_card_mastercard", "setup_future_usage", "off_session", "confirm", "true")).ok()
	r.want("status", "succeeded").want("setup_future_usage", "off_session")
	if n := len(c.get("/v1/customers/"+id+"/payment_methods", "type=card").ok().ids()); n != 2 {
		t.Fatalf("%d saved cards after setup_future_usage, want 2", n)
	}
	// A card read on a reader with setup_future_usage is saved as a
	// generated card, named on the charge.
	cp := c.post("/v1/payment_intents", form("amount", "2000", "currency", "chf", "customer", id, "payment_method_types[]", "card_present",
		"capture_method", "manual", "setup_future_usage", "off_session")).ok()
	c.post("/v1/test_helpers/payment_intents/"+cp.s("id")+"/present_payment_method", form("card_present[brand]", "mastercard", "card_present[last4]", "4444")).ok()
	c.post("/v1/payment_intents/"+cp.s("id")+"/confirm", "").ok().want("status", "requires_capture")
	cards = c.get("/v1/customers/"+id+"/payment_methods", "type=card").ok()
	if len(cards.ids()) != 3 {
		t.Fatalf("%d saved cards after a reader sale with setup_future_usage, want 3", len(cards.ids()))
	}
	gen := c.get("/v1/payment_methods/"+cards.ids()[0], "").ok()
	gen.want("type", "card").want("card.last4", "4444").want("customer", id)
	ch := c.get("/v1/payment_intents/"+cp.s("id"), "expand[]=latest_charge").ok()
	ch.want("latest_charge.payment_method_details.card_present.generated_card", gen.s("id"))

	// Someone else's card is refused.
	other := c.post("/v1/customers", "").ok().s("id")
	c.post("/v1/payment_intents", form("amount", "1099", "currency", "usd", "customer", other, "payment_method", visa.s("id"))).
		wantError(400, "invalid_request_error", "payment_method_invalid_parameter")

	sess := c.post("/v1/customer_sessions", form("customer", id, "components[payment_element][enabled]", "true",
		"components[payment_element][features][payment_method_redisplay]", "enabled")).ok()
	sess.want("object", "customer_session").want("customer", id).want("components.payment_element.features.payment_method_redisplay", "enabled")
	if !strings.HasPrefix(sess.s("client_secret"), "cuss_") || sess.n("expires_at") != epoch.Add(30*time.Minute).Unix() {
		t.Fatalf("session: %s", sess.body)
	}
	c.post("/v1/customer_sessions", form("customer", id)).wantError(400, "invalid_request_error", "parameter_missing")
	c.post("/v1/customer_sessions", form("customer", "cus_nope", "components[payment_element][enabled]", "true")).wantError(400, "invalid_request_error", "resource_missing")
}

func TestEventsList(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	authorizedIntent(c)
	c.advance(time.Minute)
	b := c.newReaderIntent(1000, "manual").s("id")
	c.post("/v1/payment_intents/"+b+"/cancel", "").ok()

	all := c.get("/v1/events", "").ok()
	var types []string
	for _, it := range all.list() {
		types = append(types, it.(map[string]any)["type"].(string))
	}
	want := []string{"payment_intent.canceled", "payment_intent.created", "payment_intent.amount_capturable_updated", "payment_intent.created"}
	if !slices.Equal(types, want) {
		t.Fatalf("events newest first: %v", types)
	}
	ev := all.list()[0].(map[string]any)
	if !strings.HasPrefix(ev["id"].(string), "evt_") || ev["object"] != "event" || ev["api_version"] == "" {
		t.Fatalf("event shape: %v", ev)
	}
	if prev := ev["data"].(map[string]any)["previous_attributes"].(map[string]any); prev["status"] != "requires_payment_method" {
		t.Fatalf("previous_attributes: %v", prev)
	}
	for _, tc := range []struct {
		query string
		n     int
	}{
		{"type=payment_intent.created", 2},
		{"type=payment_intent.*", 4},
		{"types[]=payment_intent.canceled&types[]=payment_intent.amount_capturable_updated", 2},
		{"created[gte]=" + itoa(epoch.Add(time.Minute).Unix()), 2},
		{"created[lt]=" + itoa(epoch.Add(time.Minute).Unix()), 2},
		{"limit=1", 1},
	} {
		if got := len(c.get("/v1/events", tc.query).ok().list()); got != tc.n {
			t.Errorf("%s: %d events, want %d", tc.query, got, tc.n)
		}
	}
	p1 := c.get("/v1/events", "limit=2").ok()
	p2 := c.get("/v1/events", "limit=2&starting_after="+p1.ids()[1]).ok()
	if len(p2.ids()) != 2 || p2.get("has_more") != false || slices.Contains(p1.ids(), p2.ids()[0]) {
		t.Fatalf("paging: %v %v", p1.ids(), p2.ids())
	}
	c.get("/v1/events/"+p1.ids()[0], "").ok().want("id", p1.ids()[0])
	c.get("/v1/events", "type=a&types[]=b").wantError(400, "invalid_request_error", "parameters_exclusive")
}

func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.db")
	s1, err := sandbox.New(sandbox.Options{DataFile: path, Now: fixedNow, Keys: []string{"sk_test_p"}})
	if err != nil {
		t.Fatal(err)
	}
	url, err := s1.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	c := &tclient{t: t, key: "sk_test_p", hc: noRedirects()}
	c.srv = serverAt(url)
	id := authorizedIntent(c)
	c.post("/v1/customers", form("email", "a@example.com"), "Idempotency-Key", "cus-1").ok()
	if err := s1.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	// The file is written before the answer: read it while still running.
	if b, err := os.ReadFile(path); err != nil || !strings.Contains(string(b), id) {
		t.Fatalf("data file lacks %s (err %v)", id, err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := sandbox.New(sandbox.Options{DataFile: path, Now: fixedNow, Keys: []string{"sk_test_p"}})
	if err != nil {
		t.Fatal(err)
	}
	url2, err := s2.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	c.srv = serverAt(url2)
	c.get("/v1/payment_intents/"+id, "").ok().want("status", "requires_capture")
	if s2.Now().Unix() != epoch.Add(time.Hour).Unix() {
		t.Fatal("clock offset not restored")
	}
	// Saved idempotency keys and timers survive the restart.
	if c.post("/v1/customers", form("email", "a@example.com"), "Idempotency-Key", "cus-1").ok().header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("idempotency key lost across restart")
	}
	if err := s2.Advance(47 * time.Hour); err != nil {
		t.Fatal(err)
	}
	c.get("/v1/payment_intents/"+id, "").ok().want("status", "canceled")
	// Ids keep flowing without collisions.
	c.post("/v1/customers", "").ok()
}

func TestCorruptDataFileIsRefusedAndKept(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("outbox")); return err }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{foreign, garbage} {
		before, _ := os.ReadFile(path)
		_, err := sandbox.New(sandbox.Options{DataFile: path})
		if !errors.Is(err, sandbox.ErrCorruptData) {
			t.Errorf("%s: err %v, want ErrCorruptData", filepath.Base(path), err)
		}
		if after, _ := os.ReadFile(path); string(after) != string(before) {
			t.Errorf("%s: file changed", filepath.Base(path))
		}
	}
}

func TestCustomerUpdateDetachAndExpand(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	var ids []string
	for i := range 3 {
		ids = append(ids, c.post("/v1/customers", form("email", itoa(int64(i))+"@example.com")).ok().s("id"))
	}
	id := ids[0]
	p := c.get("/v1/customers", "limit=2").ok()
	if !slices.Equal(p.ids(), []string{ids[2], ids[1]}) || p.get("has_more") != true {
		t.Fatalf("customers page: %v", p.ids())
	}
	if rest := c.get("/v1/customers", "starting_after="+ids[1]).ok().ids(); !slices.Equal(rest, []string{id}) {
		t.Fatalf("customers after: %v", rest)
	}
	pm := c.post("/v1/payment_methods/pm_card_visa/attach", form("customer", id)).ok().s("id")
	c.post("/v1/payment_methods/pm_card_mastercard/attach", form("customer", id)).ok()
	up := c.post("/v1/customers/"+id, form("name", "Renamed", "metadata[tier]", "1", "invoice_settings[default_payment_method]", pm)).ok()
	up.want("name", "Renamed").want("metadata.tier", "1").want("invoice_settings.default_payment_method", pm)
	c.post("/v1/customers/"+id, form("invoice_settings[default_payment_method]", "pm_nope")).wantError(400, "invalid_request_error", "resource_missing")
	page := c.get("/v1/customers/"+id+"/payment_methods", "limit=1").ok()
	next := c.get("/v1/customers/"+id+"/payment_methods", "limit=1&starting_after="+page.ids()[0]).ok()
	if len(page.ids()) != 1 || len(next.ids()) != 1 || page.ids()[0] == next.ids()[0] || next.get("has_more") != false {
		t.Fatalf("methods paging: %v %v", page.ids(), next.ids())
	}
	c.post("/v1/payment_methods/"+pm+"/detach", "").ok()
	c.post("/v1/payment_methods/"+pm+"/detach", "").wantError(400, "invalid_request_error", "payment_method_unexpected_state")
	if n := len(c.get("/v1/customers/"+id+"/payment_methods", "").ok().ids()); n != 1 {
		t.Fatalf("%d methods after detach", n)
	}

	pi := c.post("/v1/payment_intents", form("amount", "1000", "currency", "usd", "customer", id, "payment_method", "pm_card_visa", "confirm", "true",
		"expand[]", "customer", "expand[]", "payment_method")).ok()
	pi.want("customer.object", "customer").want("payment_method.object", "payment_method")
	l := c.get("/v1/payment_intents", "expand[]=data.latest_charge").ok()
	if l.s("data.0.latest_charge.object") != "charge" {
		t.Fatalf("list expand: %s", l.body)
	}
	c.get("/v1/charges/ch_nope", "").wantError(404, "invalid_request_error", "resource_missing")
	c.get("/v1/events/evt_nope", "").wantError(404, "invalid_request_error", "resource_missing")
}

func TestEventsGoBackThirtyDays(t *testing.T) {
	c := newSandbox(t, sandbox.Options{DataFile: filepath.Join(t.TempDir(), "s.db")})
	old := c.post("/v1/customers", "").ok().s("id")
	c.advance(24 * time.Hour)
	recent := c.post("/v1/customers", "").ok().s("id")
	c.advance(29*24*time.Hour + time.Second)
	r := c.get("/v1/events", "").ok()
	if len(r.list()) != 1 || r.s("data.0.data.object.id") != recent {
		t.Fatalf("events after 30 days: %s", r.body)
	}
	c.get("/v1/customers/"+old, "").ok()
}

// TestDetachClearsDefaultPaymentMethod: detaching the customer's invoice
// default clears it, in memory and in the data file; detaching another
// method keeps it.
func TestDetachClearsDefaultPaymentMethod(t *testing.T) {
	for _, tc := range []struct {
		name          string
		detachDefault bool
	}{
		{"default", true},
		{"other", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sandbox.db")
			start := func() (*sandbox.Server, *tclient) {
				s, err := sandbox.New(sandbox.Options{DataFile: path, Now: fixedNow, Keys: []string{"sk_test_d"}})
				if err != nil {
					t.Fatal(err)
				}
				url, err := s.StartLoopback()
				if err != nil {
					t.Fatal(err)
				}
				return s, &tclient{t: t, srv: serverAt(url), key: "sk_test_d", hc: noRedirects()}
			}
			s1, c := start()
			cus := c.post("/v1/customers", "").ok().s("id")
			def := c.post("/v1/payment_methods/pm_card_visa/attach", form("customer", cus)).ok().s("id")
			other := c.post("/v1/payment_methods/pm_card_mastercard/attach", form("customer", cus)).ok().s("id")
			c.post("/v1/customers/"+cus, form("invoice_settings[default_payment_method]", def)).ok()
			detach, want := other, def
			if tc.detachDefault {
				detach, want = def, ""
			}
			c.post("/v1/payment_methods/"+detach+"/detach", "").ok()
			check := func(c *tclient) {
				t.Helper()
				r := c.get("/v1/customers/"+cus, "").ok()
				if got, _ := r.get("invoice_settings.default_payment_method").(string); got != want {
					t.Fatalf("default_payment_method %q, want %q", got, want)
				}
			}
			check(c)
			if err := s1.Close(); err != nil {
				t.Fatal(err)
			}
			s2, c2 := start()
			defer s2.Close()
			check(c2)
		})
	}
}

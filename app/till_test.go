package app

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
)

// fixedClock is a test clock that moves only when told to.
type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

// unusedAPI is a configured API nobody listens on. Tests that run inside a
// synctest bubble use it: the embedded sandbox's listener would keep the
// bubble from ever settling.
var unusedAPI = APIConfig{BaseURL: "http://127.0.0.1:9", Key: "sk_test_unused"}

// openTill opens a till on a fresh database in t.TempDir and checks the
// store's consistency when the test ends. It does not start the embedded
// sandbox (see unusedAPI).
func openTill(t *testing.T, mutate func(*Config)) (*Till, *fixedClock) {
	t.Helper()
	clock := &fixedClock{t: time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)}
	cfg := DefaultConfig()
	cfg.Database = filepath.Join(t.TempDir(), "till.db")
	cfg.API = unusedAPI
	if mutate != nil {
		mutate(&cfg)
	}
	till, err := Open(Params{Config: cfg, Now: clock.Now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := till.store.Check(); err != nil {
			t.Errorf("store check: %v", err)
		}
		if err := till.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return till, clock
}

func TestChargeCardCommitsOrderAndCreateTogether(t *testing.T) {
	till, _ := openTill(t, nil)
	o, err := till.demoBasket()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := till.ChargeCard(o); err != nil {
		t.Fatalf("ChargeCard: %v", err)
	}
	var entries []queue.Entry
	var stored *order.Order
	err = till.store.View(func(tx *queue.Tx) error {
		b, err := tx.Order(o.ID())
		if err != nil {
			return err
		}
		if stored, err = order.Unmarshal(b, till.now); err != nil {
			return err
		}
		entries, err = tx.OrderEntries(o.ID())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status() != order.StatusTendering {
		t.Errorf("stored order status = %s, want tendering", stored.Status())
	}
	if len(entries) != 1 || entries[0].Op != queue.OpCreate {
		t.Fatalf("entries = %+v, want one create", entries)
	}
	e := entries[0]
	if e.IdempotencyKey == "" || !strings.Contains(e.IdempotencyKey, o.ID()) {
		t.Errorf("idempotency key %q does not name the order", e.IdempotencyKey)
	}
	p, err := decodePayload(e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	form, err := url.ParseQuery(p.Form)
	if err != nil {
		t.Fatalf("payload is not a form: %v", err)
	}
	amount, _ := o.Totals().Total.StripeAmount()
	want := map[string]string{
		"amount":                  strconv.FormatInt(amount, 10),
		"currency":                "chf",
		"capture_method":          "manual",
		"payment_method_types[0]": "card_present",
		"metadata[order_id]":      o.ID(),
		"metadata[lane]":          "lane1",
	}
	for k, v := range want {
		if got := form.Get(k); got != v {
			t.Errorf("payload %s = %q, want %q (payload %s)", k, got, v, e.Payload)
		}
	}
	st, err := till.StoreState()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 1 || st.Orders != 1 || len(st.Recent) != 1 || st.Recent[0].ID != o.ID() {
		t.Errorf("StoreState = %+v", st)
	}
}

// TestSecondChargeIsRefused: charging an order again (a double tap, a
// stale copy) must not queue a second PaymentIntent.
func TestSecondChargeIsRefused(t *testing.T) {
	till, _ := openTill(t, nil)
	o, err := till.demoBasket()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := till.ChargeCard(o); err != nil {
		t.Fatal(err)
	}
	if _, err := till.ChargeCard(o); !errors.Is(err, ErrBusy) {
		t.Fatalf("second ChargeCard = %v, want ErrBusy", err)
	}
	var entries []queue.Entry
	if err := till.store.View(func(tx *queue.Tx) (err error) { entries, err = tx.OrderEntries(o.ID()); return err }); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d outbox entries after a refused second charge, want 1", len(entries))
	}
}

func TestPayCashCompletesWithoutOutbox(t *testing.T) {
	till, _ := openTill(t, nil)
	o, err := till.DemoCashSale()
	if err != nil {
		t.Fatalf("DemoCashSale: %v", err)
	}
	if o.Status() != order.StatusCompleted {
		t.Errorf("status = %s, want completed", o.Status())
	}
	st, err := till.StoreState()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 0 || st.Orders != 1 || st.Recent[0].Status != "completed" {
		t.Errorf("StoreState = %+v", st)
	}
	// A completed order is immutable: paying it again must fail and
	// change nothing.
	if _, err := till.PayCash(o, o.Totals().Total); !errors.Is(err, order.ErrImmutable) && !errors.Is(err, order.ErrInvalidTransition) {
		t.Errorf("PayCash on a completed order: %v", err)
	}
}

func TestEmptyCartIsRefused(t *testing.T) {
	till, _ := openTill(t, nil)
	o, err := till.lane.NewOrder()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := till.ChargeCard(o); !errors.Is(err, ErrEmptyCart) {
		t.Errorf("ChargeCard(empty) = %v, want ErrEmptyCart", err)
	}
	if _, err := till.PayCash(o, money.New(1000, money.CHF)); !errors.Is(err, ErrEmptyCart) {
		t.Errorf("PayCash(empty) = %v, want ErrEmptyCart", err)
	}
	st, _ := till.StoreState()
	if st.Orders != 0 || st.Pending != 0 {
		t.Errorf("a refused sale left state behind: %+v", st)
	}
}

func TestSecondTillOnSameFileIsRefused(t *testing.T) {
	till, clock := openTill(t, nil)
	cfg := till.Config()
	_, err := Open(Params{Config: cfg, Now: clock.Now, LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, queue.ErrAlreadyRunning) {
		t.Fatalf("second Open = %v, want ErrAlreadyRunning", err)
	}
	if !strings.Contains(err.Error(), "Till is already running with "+cfg.Database) {
		t.Errorf("message %q does not say which file", err)
	}
}

func TestCorruptDatabaseIsNeverReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.db")
	garbage := []byte(strings.Repeat("not a bbolt file ", 2000))
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Database = path
	_, err := Open(Params{Config: cfg})
	var corrupt *queue.CorruptError
	if !errors.As(err, &corrupt) || corrupt.Path != path {
		t.Fatalf("Open(corrupt) = %v, want a CorruptError naming %s", err, path)
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(garbage) {
		t.Fatal("Open modified the corrupt file")
	}
	moved, err := queue.MoveAside(path, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(moved); string(b) != string(garbage) {
		t.Error("the moved file lost its content")
	}
	till, err := Open(Params{Config: cfg})
	if err != nil {
		t.Fatalf("Open after MoveAside: %v", err)
	}
	till.Close()
}

// TestEmbeddedSandboxServesAndStops checks the zero-configuration default:
// a real Stripe-compatible API on loopback, answering the till's key, and
// gone once the till closes.
func TestEmbeddedSandboxServesAndStops(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Database = filepath.Join(t.TempDir(), "till.db")
	till, err := Open(Params{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if !till.api.Embedded || !strings.HasPrefix(till.api.BaseURL, "http://127.0.0.1:") {
		t.Fatalf("api = %+v, want the embedded sandbox on loopback", till.api)
	}
	get := func() (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, till.api.BaseURL+"/v1/payment_intents?limit=1", nil)
		req.Header.Set("Authorization", "Bearer "+till.api.Key.Reveal())
		return http.DefaultClient.Do(req)
	}
	resp, err := get()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sandbox answered %s", resp.Status)
	}
	if err := till.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, err := get(); err == nil {
		resp.Body.Close()
		t.Fatal("the sandbox still answers after Close")
	}
}

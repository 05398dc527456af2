package app

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tillpos/till/ui"
)

// edgeCreateGate holds the first PaymentIntent creation whose body contains
// match in front of the sandbox until released, reporting when it holds it.
type edgeCreateGate struct {
	match   string
	once    sync.Once
	held    chan struct{}
	release chan struct{}
	freed   sync.Once
}

func newEdgeCreateGate(match string) *edgeCreateGate {
	return &edgeCreateGate{match: match, held: make(chan struct{}), release: make(chan struct{})}
}

func (g *edgeCreateGate) free() { g.freed.Do(func() { close(g.release) }) }

func (g *edgeCreateGate) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents" {
			if err := r.ParseForm(); err == nil && strings.Contains(r.PostForm.Encode(), g.match) {
				first := false
				g.once.Do(func() { first = true })
				if first {
					close(g.held)
					<-g.release
				}
				// ParseForm consumed the body: send the form on.
				body := r.PostForm.Encode()
				r2 := r.Clone(r.Context())
				r2.ContentLength = int64(len(body))
				r2.Body = io.NopCloser(strings.NewReader(body))
				next.ServeHTTP(w, r2)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// TestCashWhileSavedMethodIsCharged (failed on f64f165, passes since
// f95e808, kept as its regression test): a returning customer's SEPA
// debit is charged (created and confirmed at once through the outbox).
// While that creation is on the wire the screen offers Cash and Void, and
// cash completes the sale, enqueuing a cancel behind the creation. But the
// creation confirms: the debit is processing and cannot be cancelled; it
// goes through. The customer pays twice (cash and SEPA) and the till's
// order only says "cash". A create that confirms must block other
// tenders the way a queued confirmation does.
func TestCashWhileSavedMethodIsCharged(t *testing.T) {
	g := newEdgeCreateGate("sepa_debit")
	lt := openWalletTill(t, "EUR", "de-DE", g.front)
	t.Cleanup(g.free)
	ctx := testCtx(t)
	cus, pm := lt.customer(t, ctx, "Clara Weber", "clara@example.de", url.Values{"type": {"sepa_debit"}, "sepa_debit[iban]": {"DE89370400440532013000"}})
	r := openRegister(t, lt)
	ringUp(t, r)
	chooseCustomer(t, r, "clara@example.de", cus)
	mustDo(t, "charge saved", r.ChargeSaved(pm))
	select {
	case <-g.held:
	case <-ctx.Done():
		t.Fatal("the SEPA create was never sent")
	}
	v := r.Sale()
	total, _ := mustOrder(t, lt, v.OrderID).Totals().Total.StripeAmount()
	if v.CanPayCash || v.CanVoid {
		t.Errorf("while the debit is being created the screen offers cash %v, void %v", v.CanPayCash, v.CanVoid)
	}
	errCash := r.PayCash(v.CashDue)
	if errCash == nil {
		g.free()
		lt.waitIdle(t, ctx)
		lt.srv.AdvanceClock(t, 2*time.Minute) // the debit settles
		edgeEventsCaughtUp(t, ctx, lt)
		var taken int64
		var seen []string
		for _, pi := range lt.intentsFor(t, ctx, v.OrderID) {
			taken += pi.AmountReceived
			seen = append(seen, string(pi.Status))
		}
		o := mustOrder(t, lt, v.OrderID)
		t.Fatalf("cash accepted while the SEPA debit was being created: sale of %d, SEPA took %d (PaymentIntents %v); the order is %s with tenders %s",
			total, taken, seen, o.Status(), edgeTenders(o))
	}
	if !errors.Is(errCash, ErrCardInProgress) {
		t.Errorf("cash while the debit is being created: %v, want ErrCardInProgress", errCash)
	}
	if err := r.Void(); !errors.Is(err, ErrCardInProgress) {
		t.Errorf("void while the debit is being created: %v, want ErrCardInProgress", err)
	}
	g.free()
	v = waitSale(t, ctx, r, "sale done, payment pending", stageIs(ui.StageDone))
	if !v.Receipt.Pending || len(v.Receipt.Tenders) != 1 {
		t.Fatalf("receipt: %+v", v.Receipt)
	}
}

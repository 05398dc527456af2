package app

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/ui"
)

// edgeAnswerGate lets the first PaymentIntent creation whose form contains
// match reach the sandbox, then holds its answer until released.
type edgeAnswerGate struct {
	match   string
	once    sync.Once
	held    chan struct{}
	release chan struct{}
	freed   sync.Once
}

func (g *edgeAnswerGate) free() { g.freed.Do(func() { close(g.release) }) }

func (g *edgeAnswerGate) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/payment_intents" {
			next.ServeHTTP(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body := r.PostForm.Encode()
		r2 := r.Clone(r.Context())
		r2.Body, r2.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
		first := false
		if strings.Contains(body, g.match) {
			g.once.Do(func() { first = true })
		}
		if !first {
			next.ServeHTTP(w, r2)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r2)
		close(g.held)
		<-g.release
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// TestSEPASettledWhileItsCreateAnswerIsOnTheWire: a SEPA debit is
// created (processing) and settles before the till has recorded the
// creation's answer. The event poller sees payment_intent.succeeded for an
// order still tendering with its creation "queued", skips it, and moves
// its cursor past it. The creation's answer then completes the sale
// "payment pending" — and nothing will ever settle it.
func TestSEPASettledWhileItsCreateAnswerIsOnTheWire(t *testing.T) {
	g := &edgeAnswerGate{match: "sepa_debit", held: make(chan struct{}), release: make(chan struct{})}
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
	lt.srv.AdvanceClock(t, 2*time.Minute) // the debit settles
	edgeEventsCaughtUp(t, ctx, lt)        // while the answer is on the wire
	g.free()
	v := waitSale(t, ctx, r, "sale done", stageIs(ui.StageDone))
	lt.waitIdle(t, ctx)
	edgeEventsCaughtUp(t, ctx, lt)
	// The settlement event was skipped while the creation's answer was on
	// the wire; the till settles the sale by retrieving its payment.
	o, err := lt.WaitOrder(ctx, v.OrderID, func(o *order.Order) bool { return !o.PaymentPending() })
	if err != nil {
		t.Fatalf("the debit is %s on the API and the order still says payment pending: %v", lt.onlyIntent(t, ctx, v.OrderID).Status, err)
	}
	if o.PaymentFailed() {
		t.Fatal("a good debit was recorded as failed")
	}
}

package app

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/ui"
)

// edgeCancelGate holds the first PaymentIntent cancel in front of the sandbox
// until released, reporting when it holds it.
type edgeCancelGate struct {
	once    sync.Once
	held    chan struct{}
	release chan struct{}
	freed   sync.Once
}

func newEdgeCancelGate() *edgeCancelGate {
	return &edgeCancelGate{held: make(chan struct{}), release: make(chan struct{})}
}

func (g *edgeCancelGate) free() { g.freed.Do(func() { close(g.release) }) }

func (g *edgeCancelGate) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/cancel") {
			first := false
			g.once.Do(func() { first = true })
			if first {
				close(g.held)
				<-g.release
			}
		}
		next.ServeHTTP(w, r)
	})
}

// TestLateTwintApprovalThenCard: the QR code is on screen, the
// cashier cancels TWINT and takes a card. The TWINT cancel is on its
// way when the customer, still scanning, approves on the phone: TWINT
// captures at once, so the cancel cannot undo it. The till must not then
// take the same amount again on the card: the customer pays once.
func TestLateTwintApprovalThenCard(t *testing.T) {
	g := newEdgeCancelGate()
	lt := openWalletTill(t, "CHF", "de-CH", g.front)
	t.Cleanup(g.free)
	ctx := testCtx(t)
	phone := newWalletSimulator(lt.Till.api.BaseURL)
	r := openRegister(t, lt)
	// The cashier cancels the wallet (back to the cart) and takes a card.
	v := twintGivenUp(t, ctx, r, g)
	total, _ := mustOrder(t, lt, v.OrderID).Totals().Total.StripeAmount()
	mustDo(t, "card instead", r.ChargeCard())
	mustDo(t, "the customer approves anyway", phone.ApproveWallet(v.Wallet.URL))
	g.free()
	lt.waitIdle(t, ctx)

	// The outbox is idle and every event is applied: the till knows all
	// it will ever know. The customer paid by TWINT; the sale must say so
	// (completed by TWINT), not wait for a card, and not leave the cashier
	// only cash (a second payment) or a void (a paid sale voided).
	edgeEventsCaughtUp(t, ctx, lt)
	pis := lt.intentsFor(t, ctx, v.OrderID)
	if len(pis) != 1 || pis[0].Status != stripe.PaymentIntentStatusSucceeded || pis[0].AmountReceived != total {
		t.Fatalf("PaymentIntents: %+v", pis)
	}
	o := mustOrder(t, lt, v.OrderID)
	if o.Status() != order.StatusCompleted {
		v = r.Sale()
		t.Fatalf("TWINT took %d, yet the order is %s with tenders %s; the cashier sees stage %d %+v (can pay cash %v, void %v)",
			total, o.Status(), edgeTenders(o), v.Stage, v.Card, v.CanPayCash, v.CanVoid)
	}
}

func edgeTenders(o *order.Order) string {
	var parts []string
	for _, tn := range o.Tenders() {
		s := string(tn.Kind)
		if tn.Payment != nil {
			s += ":" + string(tn.Payment.Status)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

// TestLateWalletApprovalThenSavedCard: as above, the customer approves
// TWINT while its cancel is on the way. The approval settles the sale, so
// the cashier cannot charge the customer's saved card on top of it, and
// the API has the one TWINT payment only.
func TestLateWalletApprovalThenSavedCard(t *testing.T) {
	g := newEdgeCancelGate()
	lt := openWalletTill(t, "CHF", "de-CH", g.front)
	t.Cleanup(g.free)
	ctx := testCtx(t)
	cus, pm := lt.customer(t, ctx, "Anna Muster", "anna@example.ch", url.Values{"type": {"card"}, "card[token]": {"tok_visa"}})
	phone := newWalletSimulator(lt.Till.api.BaseURL)
	r := openRegister(t, lt)
	v := twintGivenUp(t, ctx, r, g)
	chooseCustomer(t, r, "Muster", cus)
	mustDo(t, "the customer approves anyway", phone.ApproveWallet(v.Wallet.URL))
	g.free()
	lt.waitIdle(t, ctx)
	if err := r.ChargeSaved(pm); err == nil {
		t.Fatal("the saved card was charged on a sale TWINT paid")
	}
	lt.waitIdle(t, ctx)
	o := mustOrder(t, lt, v.OrderID)
	pis := lt.intentsFor(t, ctx, v.OrderID)
	if o.Status() != order.StatusCompleted || len(pis) != 1 || pis[0].Status != stripe.PaymentIntentStatusSucceeded {
		t.Fatalf("order %s (%s), PaymentIntents %d", o.Status(), edgeTenders(o), len(pis))
	}
	if st := lt.waitIdle(t, ctx); st.Dead != 0 {
		t.Fatalf("%d dead letters after a late approval that settled the sale", st.Dead)
	}
}

// twintGivenUp rings up a sale on r, shows its TWINT QR code and cancels
// it; it returns once the cancel is held by g in front of the sandbox, so
// the customer can still approve the QR code shown (the returned view)
// before the cancel lands. The caller frees g.
func twintGivenUp(t *testing.T, ctx context.Context, r *Register, g *edgeCancelGate) ui.SaleView {
	t.Helper()
	ringUp(t, r)
	mustDo(t, "twint", r.ChargeWallet("twint"))
	v := waitSale(t, ctx, r, "QR code", walletStep(ui.WalletScan))
	mustDo(t, "cancel wallet", r.CancelWallet())
	select {
	case <-g.held:
	case <-ctx.Done():
		t.Fatal("the TWINT cancel was never sent")
	}
	return v
}

package app

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/reader/simcard"
	"github.com/tillpos/till/sync/api"
)

// TestRefreshLeavesAPresentedCardToTheTill: a refresh (an event, a
// follower) that retrieves a PaymentIntent in the moment between the card
// being presented and the till's transaction that enqueues its
// confirmation must not record requires_confirmation: only that
// transaction moves the payment there, and it refuses a payment that
// moved meanwhile — the sale would then wait for nothing.
func TestRefreshLeavesAPresentedCardToTheTill(t *testing.T) {
	lt := openLiveTill(t, nil)
	ctx := testCtx(t)
	o := lt.charge(t, ctx)
	card, _ := CurrentCard(o)
	pi := card.Payment.PaymentIntentID
	amount, _ := card.Amount.StripeAmount()
	payload := simcard.Seal(pi, simcard.Card{Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2031,
		ReadMethod: "contactless_emv", CollectedAt: time.Now().Unix(), Amount: amount, Currency: card.Amount.Currency.StripeCode()})
	got, _, err := lt.api.PresentPaymentMethod(ctx, pi, &api.PresentPaymentMethodParams{CardPresent: &api.PresentPaymentMethodCardParams{
		ReaderPayload: stripe.String(base64.StdEncoding.EncodeToString(payload)),
	}}, "present-race")
	if err != nil || got.Status != stripe.PaymentIntentStatusRequiresConfirmation {
		t.Fatalf("present: %v, %v", got, err)
	}
	if err := lt.refreshIntent(ctx, o.ID(), pi, nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := CurrentCard(mustOrder(t, lt, o.ID())); c.Payment.Status != order.PaymentRequiresPaymentMethod {
		t.Fatalf("after the refresh the card is %s; the till's own confirmation step would now be refused", c.Payment.Status)
	}
}

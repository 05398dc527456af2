package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/api"
)

// This file holds what every kind of payment shares: which payment of an
// order is in play, how one is started in one transaction with the order,
// and how what the API says about a PaymentIntent is written onto its
// order — by the outbox's executor, by following a wallet payment, and by
// the event poller alike.

// CurrentPayment is the order's card or wallet tender still in play: the
// last one whose PaymentIntent was not cancelled. ok is false when there
// is none.
func CurrentPayment(o *order.Order) (t order.Tender, ok bool) {
	ts := o.Tenders()
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].Payment != nil && ts[i].Payment.Status != order.PaymentCanceled {
			return ts[i], true
		}
	}
	return order.Tender{}, false
}

// CurrentCard is the order's current payment when it is a card (on the
// reader or a saved card).
func CurrentCard(o *order.Order) (t order.Tender, ok bool) {
	t, ok = CurrentPayment(o)
	if !ok || t.Kind != order.TenderCard {
		return order.Tender{}, false
	}
	return t, true
}

// paymentStart is a payment to start on an order: the tender it becomes
// and the PaymentIntent creation to enqueue.
type paymentStart struct {
	kind   order.TenderKind
	method string // the API's payment method type
	saved  string // a saved payment method, for a returning customer
	form   func(o *order.Order, amount int64, currency string) *stripe.PaymentIntentParams
}

// startPayment starts a payment for what remains due on the stored order,
// in one transaction: the order moves to tendering, a payment still in
// play but not authorised (a failed wallet, a card waiting for a card) is
// cancelled through the outbox, and the PaymentIntent creation is
// enqueued with its idempotency key fixed there and then.
func (t *Till) startPayment(id string, p paymentStart) error {
	err := t.store.Update(func(tx *queue.Tx) error {
		o, err := loadOrder(tx, id, t.now)
		if err != nil {
			return err
		}
		if len(o.Lines()) == 0 {
			return ErrEmptyCart
		}
		if o.Status().Final() {
			return fmt.Errorf("the order is %s: %w", o.Status(), order.ErrImmutable)
		}
		es, err := tx.OrderEntries(id)
		if err != nil {
			return err
		}
		if hasQueued(es, queue.OpCreate) {
			return fmt.Errorf("a payment is still being set up with the payment service: %w", ErrBusy)
		}
		if o.Status() == order.StatusOpen {
			if err := o.StartTendering(); err != nil {
				return err
			}
		}
		if c, ok := CurrentPayment(o); ok {
			if c.Payment.Status == order.PaymentRequiresAction {
				// The customer may be approving it right now.
				return fmt.Errorf("the customer may be paying the %s payment: cancel it first: %w", c.Kind, ErrBusy)
			}
			if err := t.dropCard(tx, o); err != nil {
				return err
			}
		}
		due := o.Remaining()
		amount, err := due.StripeAmount()
		if err != nil {
			return err
		}
		if amount <= 0 {
			return fmt.Errorf("nothing is due (%s)", due)
		}
		params := p.form(o, amount, due.Currency.StripeCode())
		params.Amount = stripe.Int64(amount)
		params.Currency = stripe.String(due.Currency.StripeCode())
		params.AddMetadata("order_id", o.ID())
		params.AddMetadata("lane", o.Lane())
		params.AddExpand("latest_charge") // brand and last 4 of a saved card, for the receipt
		ref := newPaymentRef()
		params.AddMetadata(refKey, ref)
		if err := putOrder(tx, o); err != nil {
			return err
		}
		_, err = tx.Enqueue(queue.NewEntry{OrderID: id, Op: queue.OpCreate, Payload: encodePayload(opPayload{
			Form: string(api.Encode(params)), Kind: string(p.kind), Method: p.method, Saved: p.saved, Ref: ref,
		})})
		return err
	})
	if err != nil {
		return fmt.Errorf("start %s payment for order %s: %w", p.kind, id, err)
	}
	return nil
}

// Wallet limits (SPEC §2.3, §2.4).
const (
	// mobilePayWindow is how long a MobilePay customer has to authorise.
	mobilePayWindow = 5 * time.Minute
	// authenticationWindow is how long a card's authentication may take
	// before the PaymentIntent fails back (seed 004).
	authenticationWindow = time.Hour
)

// actionWindow is how long the customer has for the action a payment of
// this kind waits for; zero when the API sets no limit (TWINT).
func actionWindow(kind order.TenderKind) time.Duration {
	switch kind {
	case order.TenderMobilePay:
		return mobilePayWindow
	case order.TenderCard:
		return authenticationWindow
	}
	return 0
}

// applyIntentAt writes the API's view of a PaymentIntent onto its
// tendering order o (which the caller stores): the tender's status, the
// customer action it waits for (with a deadline from now), a decline, and
// — once the money is authorised, captured or being processed — the
// order's completion, with the capture enqueued behind it unless captures
// wait for the end of day. Applying the same view twice changes nothing.
func applyIntentAt(tx *queue.Tx, o *order.Order, tender order.Tender, pi *stripe.PaymentIntent, captureLater bool, now time.Time) error {
	status := order.PaymentStatus(pi.Status)
	if pi.Status == stripe.PaymentIntentStatusRequiresPaymentMethod && pi.LastPaymentError != nil {
		e := pi.LastPaymentError
		if err := o.RecordDecline(tender.ID, declineCode(string(e.DeclineCode), string(e.Code)), e.Msg); err != nil {
			return err
		}
		return o.SetPaymentAction(tender.ID, nil)
	}
	brand, last4 := cardOf(pi)
	if err := o.SetPaymentStatus(tender.ID, status, brand, last4); err != nil {
		return err
	}
	if pi.PaymentMethod != nil && pi.PaymentMethod.Type != "" && tender.Payment.Method != string(pi.PaymentMethod.Type) {
		if err := o.SetPaymentMethod(tender.ID, string(pi.PaymentMethod.Type), tender.Payment.SavedMethod); err != nil {
			return err
		}
	}
	if status != order.PaymentRequiresAction {
		if err := o.SetPaymentAction(tender.ID, nil); err != nil {
			return err
		}
	} else if url := actionURL(pi); url != "" {
		// The same page keeps its deadline (a poll or an event shows the
		// same action again); a new page starts a new one.
		if a := tender.Payment.Action; a == nil || a.URL != url {
			act := &order.Action{URL: url}
			if w := actionWindow(tender.Kind); w > 0 {
				act.Expires = now.Add(w).UTC()
			}
			if err := o.SetPaymentAction(tender.ID, act); err != nil {
				return err
			}
		}
	}
	// Money secured that covers the sale completes it, whichever payment
	// the cashier was on.
	if t, _ := tenderFor(o, pi.ID); !t.Counts() || o.Remaining().Amount > 0 {
		return nil
	}
	if err := o.Complete(); err != nil {
		return err
	}
	if o.PaymentPending() {
		if err := markPending(tx, o.ID(), true); err != nil {
			return err
		}
	}
	if pi.Status == stripe.PaymentIntentStatusRequiresCapture {
		t, _ := tenderFor(o, pi.ID)
		return noteAuthorised(tx, o, t, pi, captureLater)
	}
	return nil
}

// actionURL is the page the customer acts on: a wallet's redirect, or a
// card's authentication page.
func actionURL(pi *stripe.PaymentIntent) string {
	na := pi.NextAction
	switch {
	case na == nil:
		return ""
	case na.RedirectToURL != nil:
		return na.RedirectToURL.URL
	case na.UseStripeSDK != nil:
		return "authentication" // the till cannot show it; only its presence matters
	}
	return ""
}

// settleIntent writes the final outcome of a payment that was not final
// when its sale completed — a SEPA debit being processed, an authorisation
// awaiting capture — onto the finished order o. Views that are not final
// (a stale "processing") change nothing.
func settleIntent(o *order.Order, tender order.Tender, pi *stripe.PaymentIntent) error {
	from := tender.Payment.Status
	if !from.Pending() && from != order.PaymentRequiresCapture {
		return nil
	}
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		return o.SettlePayment(tender.ID, order.PaymentSucceeded, nil)
	case stripe.PaymentIntentStatusRequiresPaymentMethod, stripe.PaymentIntentStatusCanceled:
		if pi.Status == stripe.PaymentIntentStatusRequiresPaymentMethod && !from.Pending() {
			return nil
		}
		var d *order.Decline
		if e := pi.LastPaymentError; e != nil {
			d = &order.Decline{Code: declineCode(string(e.DeclineCode), string(e.Code)), Message: e.Msg}
		} else if pi.Status == stripe.PaymentIntentStatusCanceled && !o.VoidedAfterPayment() {
			d = &order.Decline{Code: "canceled", Message: "the payment was cancelled (" + statusWithReason(pi) + ")"}
		}
		return o.SettlePayment(tender.ID, order.PaymentStatus(pi.Status), d)
	}
	return nil
}

// tenderFor finds the order's tender for a PaymentIntent.
func tenderFor(o *order.Order, pi string) (order.Tender, bool) {
	for _, t := range o.Tenders() {
		if t.Payment != nil && t.Payment.PaymentIntentID == pi {
			return t, true
		}
	}
	return order.Tender{}, false
}

// errStale is returned inside a refresh transaction when the order changed
// while its PaymentIntent was being retrieved; errOutboxBusy when the
// outbox has calls for it under way, whose answers it records itself.
var (
	errStale      = errors.New("the order changed while its payment was retrieved")
	errOutboxBusy = errors.New("the outbox is calling the API for the order")
)

// active says whether any of an order's entries is still to be sent or
// being sent.
func active(es []queue.Entry) bool {
	for _, e := range es {
		if e.State == queue.StatePending || e.State == queue.StateInFlight {
			return true
		}
	}
	return false
}

// refreshIntent retrieves the order's PaymentIntent and writes what the
// API says onto the order, unless the order changed meanwhile (then what
// changed it is at least as recent, and the retrieve is tried again). It
// serves the wallet follower and the event poller, so a view retrieved
// before a newer answer was recorded never overwrites it. also, when set,
// runs in the same transaction (the event cursor).
func (t *Till) refreshIntent(ctx context.Context, orderID, piID string, also func(*queue.Tx) error) error {
	const tries = 5
	for range tries {
		before, err := t.Order(orderID)
		if err != nil {
			return err
		}
		params := &stripe.PaymentIntentRetrieveParams{}
		params.AddExpand("latest_charge")
		params.AddExpand("payment_method")
		params.Context = ctx
		pi, _, err := t.client.RetrievePaymentIntent(ctx, piID, params)
		if err != nil {
			return fmt.Errorf("follow payment of order %s: %w", orderID, err)
		}
		err = t.store.Update(func(tx *queue.Tx) error {
			o, err := loadOrder(tx, orderID, t.now)
			if err != nil {
				return err
			}
			if !o.UpdatedAt().Equal(before.UpdatedAt()) || o.Status() != before.Status() {
				return errStale
			}
			es, err := tx.OrderEntries(orderID)
			if err != nil {
				return err
			}
			if active(es) {
				return errOutboxBusy
			}
			if err := t.recordIntent(tx, o, pi); err != nil {
				return err
			}
			if also != nil {
				return also(tx)
			}
			return nil
		})
		if errors.Is(err, errOutboxBusy) {
			break // the outbox's answer is newer than this view
		}
		if !errors.Is(err, errStale) {
			return err
		}
	}
	if also != nil {
		return t.store.Update(also)
	}
	return nil
}

// recordIntent applies a PaymentIntent's view to order o inside tx and
// stores the order when it changed: a tendering order takes it as its
// payment's progress, a completed one only as the settlement of a payment
// still being processed. Other orders keep what they have.
func (t *Till) recordIntent(tx *queue.Tx, o *order.Order, pi *stripe.PaymentIntent) error {
	tender, ok := tenderFor(o, pi.ID)
	if !ok {
		return nil
	}
	if o.Status() == order.StatusCompleted || o.VoidedAfterPayment() {
		return settleAfterSale(tx, o, pi, t.now())
	}
	if o.Status() != order.StatusTendering {
		return nil
	}
	if pi.Status == stripe.PaymentIntentStatusRequiresConfirmation {
		// Only the till moves a payment there, in the transaction that
		// enqueues its confirmation (a card presented on the reader); a
		// view caught just before it is not news, and recording it would
		// make that transaction refuse the card.
		return nil
	}
	before := o.UpdatedAt()
	if err := applyIntentAt(tx, o, tender, pi, t.cfg.CaptureAtEndOfDay, t.now()); err != nil {
		return err
	}
	if o.UpdatedAt().Equal(before) {
		return nil
	}
	return putOrder(tx, o)
}

// newPaymentRef names a payment's creation (metadata[till_payment]).
func newPaymentRef() string { return rand.Text()[:16] }

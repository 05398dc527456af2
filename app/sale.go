package app

import (
	"errors"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/api"
)

// ErrEmptyCart is returned when a sale is tendered with nothing in it.
var ErrEmptyCart = errors.New("the cart is empty")

// PayCash settles an order in cash and commits it, completed, in one
// transaction. given is what the customer handed over; the change due is
// recorded on the tender with the currency's cash rounding applied. Cash
// moves no money on the server; a card payment on the order that is not
// authorised is cancelled through the outbox in the same transaction.
func (t *Till) PayCash(o *order.Order, given money.Money) (order.Tender, error) {
	if len(o.Lines()) == 0 {
		return order.Tender{}, fmt.Errorf("pay cash for order %s: %w", o.ID(), ErrEmptyCart)
	}
	var tender order.Tender
	err := t.store.Update(func(tx *queue.Tx) error {
		var err error
		tender, err = t.payCash(tx, o, given)
		return err
	})
	if err != nil {
		return order.Tender{}, fmt.Errorf("pay cash for order %s: %w", o.ID(), err)
	}
	return tender, nil
}

// payCash is PayCash inside tx, on o as the caller read it in tx (or a new
// order): it tenders, gives up an unauthorised card, adds the cash,
// completes and stores the order.
func (t *Till) payCash(tx *queue.Tx, o *order.Order, given money.Money) (order.Tender, error) {
	if o.Status().Final() {
		return order.Tender{}, fmt.Errorf("the order is %s: %w", o.Status(), order.ErrImmutable)
	}
	if o.Status() == order.StatusOpen {
		if err := o.StartTendering(); err != nil {
			return order.Tender{}, err
		}
	}
	if err := t.dropCard(tx, o); err != nil {
		return order.Tender{}, err
	}
	tender, err := o.AddCash(given, t.cash)
	if err != nil {
		return order.Tender{}, err
	}
	if err := o.Complete(); err != nil {
		return order.Tender{}, err
	}
	return tender, putOrder(tx, o)
}

// ChargeCard starts a card payment for what is still due on an order: the
// order moves to tendering and the PaymentIntent creation is enqueued in the
// same transaction, with its idempotency key fixed there and then. The sale
// is committed locally whether or not the API is reachable; the outbox
// delivers the creation when it can.
func (t *Till) ChargeCard(o *order.Order) (queue.Entry, error) {
	if len(o.Lines()) == 0 {
		return queue.Entry{}, fmt.Errorf("charge card for order %s: %w", o.ID(), ErrEmptyCart)
	}
	if o.Status() == order.StatusOpen {
		if err := o.StartTendering(); err != nil {
			return queue.Entry{}, fmt.Errorf("charge card for order %s: %w", o.ID(), err)
		}
	}
	payload, err := t.createPaymentIntentParams(o)
	if err != nil {
		return queue.Entry{}, fmt.Errorf("charge card for order %s: %w", o.ID(), err)
	}
	var e queue.Entry
	err = t.store.Update(func(tx *queue.Tx) error {
		if err := refuseSecondCard(tx, o.ID(), t.now); err != nil {
			return err
		}
		if err := putOrder(tx, o); err != nil {
			return err
		}
		e, err = tx.Enqueue(queue.NewEntry{OrderID: o.ID(), Op: queue.OpCreate, Payload: payload})
		return err
	})
	if err != nil {
		return queue.Entry{}, fmt.Errorf("charge card for order %s: %w", o.ID(), err)
	}
	return e, nil
}

// chargeAgain charges the order's waiting card payment again after the
// cart changed (SPEC §2.1: update the PaymentIntent, collect again): in one
// transaction the order goes back to tendering and, when the amount due
// changed, the card tender takes the new amount and the PaymentIntent's
// update is enqueued — ahead of the confirmation the next card will
// enqueue, since an order's entries run in order.
func (t *Till) chargeAgain(id string) error {
	err := t.store.Update(func(tx *queue.Tx) error {
		o, err := loadOrder(tx, id, t.now)
		if err != nil {
			return err
		}
		c, ok := CurrentCard(o)
		if !ok || c.Payment.Status != order.PaymentRequiresPaymentMethod {
			return fmt.Errorf("the order has no card payment waiting for a card: %w", ErrNotReady)
		}
		if err := o.StartTendering(); err != nil {
			return err
		}
		// A saved card that failed moves to the reader first.
		if err := t.toReader(tx, o); err != nil {
			return err
		}
		due := o.Remaining()
		if c.Amount == due {
			return putOrder(tx, o)
		}
		if err := o.SetPaymentAmount(c.ID, due); err != nil {
			return err
		}
		amount, err := due.StripeAmount()
		if err != nil {
			return err
		}
		form := api.Encode(&stripe.PaymentIntentUpdateParams{Amount: stripe.Int64(amount)})
		if err := putOrder(tx, o); err != nil {
			return err
		}
		_, err = tx.Enqueue(queue.NewEntry{OrderID: id, Op: queue.OpUpdate,
			Payload: encodePayload(opPayload{PaymentIntent: c.Payment.PaymentIntentID, Form: string(form)})})
		return err
	})
	if err != nil {
		return fmt.Errorf("charge card again for order %s: %w", id, err)
	}
	return nil
}

// refuseSecondCard keeps a second charge (a double tap, a stale copy of
// the order) from creating a second PaymentIntent: the stored order must
// not be closed, hold a card in play, or have a creation still queued.
func refuseSecondCard(tx *queue.Tx, id string, now func() time.Time) error {
	stored, err := loadOrder(tx, id, now)
	if errors.Is(err, queue.ErrNotFound) {
		return nil // a new sale
	}
	if err != nil {
		return err
	}
	if s := stored.Status(); s == order.StatusCompleted || s == order.StatusVoided {
		return fmt.Errorf("the order is %s: %w", s, order.ErrImmutable)
	}
	if _, ok := CurrentCard(stored); ok {
		return ErrBusy
	}
	es, err := tx.OrderEntries(id)
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.Op == queue.OpCreate {
			return ErrBusy
		}
	}
	return nil
}

func (t *Till) captureMethod() string {
	if t.cfg.CaptureMethod == "automatic" {
		return string(stripe.PaymentIntentCaptureMethodAutomatic)
	}
	return string(stripe.PaymentIntentCaptureMethodManual)
}

// createPaymentIntentParams is the outbox payload of the PaymentIntent creation
// for what remains due on o: a card-present payment with manual capture
// (captured when the sale completes, or at end of day), tagged with the
// order and lane so reconciliation can find it. The body is encoded with
// stripe-go's own form encoder, so it is exactly what Stripe expects.
func (t *Till) createPaymentIntentParams(o *order.Order) ([]byte, error) {
	due := o.Remaining()
	amount, err := due.StripeAmount()
	if err != nil {
		return nil, err
	}
	if amount <= 0 {
		return nil, fmt.Errorf("nothing is due (%s)", due)
	}
	p := t.cardParams(o)
	p.Amount = stripe.Int64(amount)
	p.Currency = stripe.String(due.Currency.StripeCode())
	p.AddMetadata("order_id", o.ID())
	p.AddMetadata("lane", o.Lane())
	ref := newPaymentRef()
	p.AddMetadata(refKey, ref)
	return encodePayload(opPayload{Form: string(api.Encode(p)), Kind: string(order.TenderCard), Method: "card_present", Ref: ref}), nil
}

// cardParams is a card-present PaymentIntent for o, without amount and
// metadata: manual capture unless configured otherwise, and, for a
// returning customer, the customer — with setup_future_usage when they
// agreed to keep the card for later.
func (t *Till) cardParams(o *order.Order) *stripe.PaymentIntentParams {
	p := &stripe.PaymentIntentParams{
		PaymentMethodTypes: stripe.StringSlice([]string{"card_present"}),
		CaptureMethod:      stripe.String(t.captureMethod()),
	}
	if c := o.Customer(); c != nil {
		p.Customer = stripe.String(c.ID)
		if c.SaveCard {
			p.SetupFutureUsage = stripe.String(string(stripe.PaymentIntentSetupFutureUsageOffSession))
		}
	}
	return p
}

// cardStart is a card payment on the reader, for startPayment.
func (t *Till) cardStart() paymentStart {
	return paymentStart{kind: order.TenderCard, method: "card_present", form: func(o *order.Order, _ int64, _ string) *stripe.PaymentIntentParams {
		return t.cardParams(o)
	}}
}

func putOrder(tx *queue.Tx, o *order.Order) error {
	b, err := o.Marshal()
	if err != nil {
		return err
	}
	return tx.PutOrder(o.ID(), b)
}

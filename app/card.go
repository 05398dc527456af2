package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/api"
)

// Errors of the card flow a caller branches on.
var (
	// ErrNotReady is returned by CollectCard while the order's
	// PaymentIntent does not exist yet (its creation is in the outbox).
	ErrNotReady = errors.New("the payment is not ready for a card yet")
	// ErrBusy is returned by CollectCard while a card already collected
	// for the order is being processed.
	ErrBusy = errors.New("a card is already being processed for this order")
)

// Order reads an order from the store.
func (t *Till) Order(id string) (*order.Order, error) {
	var o *order.Order
	err := t.store.View(func(tx *queue.Tx) error {
		var err error
		o, err = loadOrder(tx, id, t.now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read order %s: %w", id, err)
	}
	return o, nil
}

// WaitOrder returns the order once cond holds for it, re-reading it after
// every store change, or ctx's error.
func (t *Till) WaitOrder(ctx context.Context, id string, cond func(*order.Order) bool) (*order.Order, error) {
	var o *order.Order
	err := t.waitUntil(ctx, "order "+id, func() (bool, error) {
		var err error
		if o, err = t.Order(id); err != nil {
			return false, err
		}
		return cond(o), nil
	})
	return o, err
}

// waitUntil calls check now and after every store change until it reports
// done or fails, or until ctx ends.
func (t *Till) waitUntil(ctx context.Context, what string, check func() (bool, error)) error {
	for {
		changed := t.changesChan() // taken before checking: no change slips between
		if done, err := check(); err != nil || done {
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		}
	}
}

// CurrentCard is the order's card tender that is still in play: the last
// card tender whose PaymentIntent was neither cancelled nor settled by
// another tender. ok is false when there is none yet.
func CurrentCard(o *order.Order) (t order.Tender, ok bool) {
	ts := o.Tenders()
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].Kind == order.TenderCard && ts[i].Payment != nil && ts[i].Payment.Status != order.PaymentCanceled {
			return ts[i], true
		}
	}
	return order.Tender{}, false
}

// CollectCard is the reader step of a card sale (SPEC §2.1): the card is
// presented for the order's PaymentIntent and, once the reader has it, the
// confirmation is enqueued. simulatedCard names the simulated reader's test
// card (visa approves, charge_declined declines, …; see docs/sandbox.md)
// until the USB reader exists. After a decline the same call collects
// another card on the same PaymentIntent.
func (t *Till) CollectCard(ctx context.Context, orderID, simulatedCard string) error {
	o, err := t.Order(orderID)
	if err != nil {
		return err
	}
	tender, ok := CurrentCard(o)
	switch {
	case o.Status() != order.StatusTendering:
		return fmt.Errorf("collect card for order %s: the order is %s", orderID, o.Status())
	case !ok:
		return fmt.Errorf("collect card for order %s: %w", orderID, ErrNotReady)
	case tender.Payment.Status == order.PaymentRequiresConfirmation:
		return fmt.Errorf("collect card for order %s: %w", orderID, ErrBusy)
	case tender.Payment.Status != order.PaymentRequiresPaymentMethod:
		return fmt.Errorf("collect card for order %s: its payment is %s", orderID, tender.Payment.Status)
	}
	pi := tender.Payment.PaymentIntentID
	params := &api.PresentPaymentMethodParams{CardPresent: &api.PresentPaymentMethodCardParams{}}
	if simulatedCard != "" {
		params.CardPresent.SimulatedCard = stripe.String(simulatedCard)
	}
	// Presenting a card moves no money: a fresh key per presentation.
	if _, _, err := t.client.PresentPaymentMethod(ctx, pi, params, "present-"+rand.Text()); err != nil {
		return fmt.Errorf("collect card for order %s: %w", orderID, err)
	}
	confirm := &stripe.PaymentIntentConfirmParams{}
	confirm.AddExpand("latest_charge")
	err = t.store.Update(func(tx *queue.Tx) error {
		o, err := loadOrder(tx, orderID, t.now)
		if err != nil {
			return err
		}
		tender, ok := CurrentCard(o)
		if !ok || tender.Payment.PaymentIntentID != pi || tender.Payment.Status != order.PaymentRequiresPaymentMethod {
			return fmt.Errorf("the order's payment changed while the card was read: %w", ErrBusy)
		}
		if err := o.SetPaymentStatus(tender.ID, order.PaymentRequiresConfirmation, "", ""); err != nil {
			return err
		}
		if err := putOrder(tx, o); err != nil {
			return err
		}
		_, err = tx.Enqueue(queue.NewEntry{OrderID: orderID, Op: queue.OpConfirm,
			Payload: encodePayload(opPayload{PaymentIntent: pi, Form: string(api.Encode(confirm))})})
		return err
	})
	if err != nil {
		return fmt.Errorf("collect card for order %s: %w", orderID, err)
	}
	return nil
}

// CardOutcome is where a card sale stands after its card was processed.
func CardOutcome(o *order.Order) (settled bool, decline *order.Decline) {
	if o.Status() != order.StatusTendering {
		return true, nil
	}
	if t, ok := CurrentCard(o); ok && t.Payment.Status == order.PaymentRequiresPaymentMethod && t.Payment.Decline != nil {
		return true, t.Payment.Decline
	}
	return false, nil
}

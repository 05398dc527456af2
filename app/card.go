package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/wire"
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

// CollectCard is the reader step of a card sale (SPEC §2.1): the reader
// collects a card for the order's PaymentIntent, the card is presented to
// the API, and the confirmation is enqueued in the same transaction that
// records the card on the order. All of it happens within the reader's
// process window; past it the card is released on the reader and the
// error wraps reader.ErrProcessWindow. After a decline the same call
// collects another card on the same PaymentIntent.
//
// The errors a caller branches on wrap ErrNotReady, ErrBusy, or the
// reader's ErrCustomerCancelled, ErrCollectTimeout, ErrCollectCanceled,
// ErrNotConnected and ErrDisconnected.
func (t *Till) CollectCard(ctx context.Context, orderID string) (reader.Collected, error) {
	pi, amount, currency, err := t.cardTurn(orderID)
	if err != nil {
		return reader.Collected{}, fmt.Errorf("collect card for order %s: %w", orderID, err)
	}
	if err := t.reader.Connect(ctx); err != nil {
		return reader.Collected{}, fmt.Errorf("collect card for order %s: %w", orderID, err)
	}
	got, err := t.reader.Collect(ctx, reader.CollectRequest{
		PaymentIntent: pi, Amount: amount, Currency: currency, CustomerCancel: true,
	})
	if err != nil {
		return reader.Collected{}, fmt.Errorf("collect card for order %s: %w", orderID, err)
	}
	if err := t.processCollected(ctx, orderID, got); err != nil {
		// The card is not going to be processed: say so on the reader.
		release, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if rerr := t.reader.CancelCollect(release, pi); rerr != nil {
			t.log.Warn("release the card on the reader", "order", orderID, "err", rerr)
		}
		return got, fmt.Errorf("collect card for order %s: %w", orderID, err)
	}
	return got, nil
}

// cardTurn checks that the order waits for a card and returns its
// PaymentIntent and the amount to collect, in the API's minor units.
func (t *Till) cardTurn(orderID string) (pi string, amount int64, currency string, err error) {
	o, err := t.Order(orderID)
	if err != nil {
		return "", 0, "", err
	}
	tender, ok := CurrentCard(o)
	switch {
	case o.Status() != order.StatusTendering:
		return "", 0, "", fmt.Errorf("the order is %s", o.Status())
	case !ok:
		return "", 0, "", ErrNotReady
	case tender.Payment.Status == order.PaymentRequiresConfirmation:
		return "", 0, "", ErrBusy
	case tender.Payment.Status != order.PaymentRequiresPaymentMethod:
		return "", 0, "", fmt.Errorf("its payment is %s", tender.Payment.Status)
	}
	if amount, err = tender.Amount.StripeAmount(); err != nil {
		return "", 0, "", err
	}
	return tender.Payment.PaymentIntentID, amount, tender.Amount.Currency.StripeCode(), nil
}

// processCollected hands the collected card to the API and enqueues the
// confirmation, before the process window closes.
func (t *Till) processCollected(ctx context.Context, orderID string, got reader.Collected) error {
	// ProcessBy is on the till's clock, which need not be the wall clock.
	ctx, cancel := context.WithTimeout(ctx, got.ProcessBy.Sub(t.now()))
	defer cancel()
	pi := got.PaymentIntent
	params := &api.PresentPaymentMethodParams{CardPresent: &api.PresentPaymentMethodCardParams{
		ReaderPayload: stripe.String(base64.StdEncoding.EncodeToString(got.Payload)),
	}}
	// Presenting a card moves no money: a fresh key per presentation.
	if _, _, err := t.client.PresentPaymentMethod(ctx, pi, params, "present-"+rand.Text()); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && !t.now().Before(got.ProcessBy) {
			return fmt.Errorf("present the card: %w", reader.ErrProcessWindow)
		}
		return fmt.Errorf("present the card: %w", err)
	}
	confirm := &stripe.PaymentIntentConfirmParams{}
	confirm.AddExpand("latest_charge")
	err := t.store.Update(func(tx *queue.Tx) error {
		if !t.now().Before(got.ProcessBy) {
			return reader.ErrProcessWindow
		}
		o, err := loadOrder(tx, orderID, t.now)
		if err != nil {
			return err
		}
		tender, ok := CurrentCard(o)
		if !ok || tender.Payment.PaymentIntentID != pi || tender.Payment.Status != order.PaymentRequiresPaymentMethod {
			return fmt.Errorf("the order's payment changed while the card was read: %w", ErrBusy)
		}
		if err := o.SetPaymentStatus(tender.ID, order.PaymentRequiresConfirmation, got.Brand, got.Last4); err != nil {
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
		return err
	}
	// The card is in the outbox's hands now: release it on the reader.
	t.showOnReader(ctx, orderID, "processing", reader.Display{Screen: wire.ScreenMessage, Message: "Processing…"})
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

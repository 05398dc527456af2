package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/drain"
	"github.com/tillpos/till/sync/reconcile"
)

// This file holds what the outbox does after a sale is finished: forward
// a card payment taken offline, record captures and cancellations on the
// sale, refund a sale voided after payment; and the lists the manager
// and the status bar read: authorisations waiting for capture, and
// payments that failed after their sale.

// openAuth is an authorisation left uncaptured when its sale completed
// (captures at end of day), with when it lapses.
type openAuth struct {
	Order         string      `json:"order"`
	PaymentIntent string      `json:"payment_intent"`
	Amount        money.Money `json:"amount"`
	CaptureBefore time.Time   `json:"capture_before"`
}

var authList = kvList[openAuth]{key: "auth.open", what: "the uncaptured authorisations list",
	id: func(a openAuth) string { return a.PaymentIntent }}

// attention is a payment that failed after its sale, for the manager: a
// decline after forwarding, a debit returned. It stays on the list until
// the manager resolves it.
type attention struct {
	Kind          reconcile.Kind `json:"kind"`
	Order         string         `json:"order"`
	PaymentIntent string         `json:"payment_intent,omitempty"`
	Amount        money.Money    `json:"amount"`
	Reason        string         `json:"reason"`
	At            time.Time      `json:"at"`
}

var attentionList = kvList[attention]{key: "manager.attention", what: "the manager's list",
	id: func(a attention) string { return a.Order + "/" + a.PaymentIntent }}

// noteFailed puts a tender that failed after its sale on the manager's
// list.
func noteFailed(tx *queue.Tx, o *order.Order, tn order.Tender, kind reconcile.Kind, at time.Time) error {
	reason := string(tn.Payment.Status)
	if d := tn.Payment.Decline; d != nil {
		reason = d.Code
		if d.Message != "" {
			reason += ": " + d.Message
		}
	}
	return attentionList.add(tx, attention{Kind: kind, Order: o.ID(), PaymentIntent: tn.Payment.PaymentIntentID,
		Amount: tn.Amount, Reason: reason, At: at.UTC()})
}

// noteAuthorised records an authorisation of a completed sale: its
// deadline on the order, and — when captures wait for the end of day —
// the uncaptured list; otherwise its capture is enqueued.
func noteAuthorised(tx *queue.Tx, o *order.Order, tn order.Tender, pi *stripe.PaymentIntent, captureLater bool) error {
	before := reconcile.CaptureBefore(pi)
	if err := o.SetCaptureBefore(tn.ID, before); err != nil {
		return err
	}
	if !captureLater {
		return enqueueCapture(tx, o, pi.ID, pi.AmountCapturable)
	}
	return authList.add(tx, openAuth{Order: o.ID(), PaymentIntent: pi.ID, Amount: tn.Amount, CaptureBefore: before.UTC()})
}

// forward sends a card payment taken offline: its PaymentIntent's
// creation, confirmed with the reader's payload opened from the order.
// Doubts are resolved as for create, by looking the payment up by its
// reference first.
func (x *executor) forward(ctx context.Context, e queue.Entry, p opPayload, doubt bool) drain.Outcome {
	op := fmt.Sprintf("forward offline payment %s of order %s", p.Ref, e.OrderID)
	o, err := x.orderOf(e.OrderID)
	if err != nil {
		if errors.Is(err, queue.ErrNotFound) {
			return dead(fmt.Errorf("%s: %w", op, err), nil)
		}
		return drain.Outcome{Kind: drain.Retry, Err: fmt.Errorf("%s: read the order: %w", op, err)}
	}
	tn, ok := offlineTender(o, p.Ref)
	if !ok {
		return dead(fmt.Errorf("%s: the order has no such payment", op), nil)
	}
	if tn.Payment.PaymentIntentID != "" {
		return done(nil) // recorded by an earlier attempt
	}
	if doubt {
		pi, err := x.findByOrder(ctx, e, p.Ref)
		if err != nil {
			return x.failed(op+": look for an earlier attempt's PaymentIntent", err)
		}
		if pi != nil {
			return done(x.recordForward(e.OrderID, p.Ref, pi))
		}
	}
	if !tn.Payment.Forwarding() {
		// Voided after payment before it was ever sent: nothing to send.
		return done(nil)
	}
	if x.seal == nil {
		return dead(fmt.Errorf("%s: %w", op, ErrSealKey), nil)
	}
	payload, err := x.seal.open(e.OrderID, p.Ref, tn.Payment.Stored)
	if err != nil {
		return dead(fmt.Errorf("%s: %w", op, err), nil)
	}
	form := withPayload(p.Form, p.Ref, payload)
	for gen := 0; ; gen++ {
		pi, err := x.post(ctx, "/v1/payment_intents", form, chainKey(e, gen))
		if err == nil {
			return done(x.recordForward(e.OrderID, p.Ref, pi))
		}
		if ae := (*api.Error)(nil); api.ClassOf(err) == api.Declined && errors.As(err, &ae) && ae.PaymentIntent != nil {
			return done(x.recordForward(e.OrderID, p.Ref, declinedIntent(ae)))
		}
		if !replayedServerError(err) || gen == maxKeyChain {
			return x.failed(op, err)
		}
		found, lerr := x.findByOrder(ctx, e, p.Ref)
		if lerr != nil {
			return x.failed(op+": look up after a replayed failure", lerr)
		}
		if found != nil {
			return done(x.recordForward(e.OrderID, p.Ref, found))
		}
	}
}

// recordForward writes a forwarded payment's outcome onto its sale, in
// the transaction that finishes the outbox entry: its PaymentIntent, an
// authorisation (captured behind it, or listed for the end of day) or a
// decline (on the manager's list). The payload is dropped from the order
// and the payment from the offline list. A sale the manager voided
// meanwhile gets its money back: the authorisation cancelled, a capture
// refunded.
func (x *executor) recordForward(orderID, ref string, pi *stripe.PaymentIntent) func(*queue.Tx) error {
	return func(tx *queue.Tx) error {
		o, err := loadOrder(tx, orderID, x.now)
		if err != nil {
			return err
		}
		tn, ok := offlineTender(o, ref)
		if !ok {
			return fmt.Errorf("record forwarded payment %s of order %s: no such payment", ref, orderID)
		}
		if err := storedList.removeID(tx, orderID+"/"+ref); err != nil {
			return err
		}
		var d *order.Decline
		if e := pi.LastPaymentError; e != nil {
			d = &order.Decline{Code: declineCode(string(e.DeclineCode), string(e.Code)), Message: e.Msg}
		}
		status := order.PaymentStatus(pi.Status)
		if status == order.PaymentRequiresAction || status == order.PaymentRequiresConfirmation {
			// An offline payment cannot ask the customer anything: it
			// failed.
			status, d = order.PaymentCanceled, &order.Decline{Code: "authentication_required", Message: "the card asked for the customer, who had left"}
		}
		if o.VoidedAfterPayment() {
			// Voided while its forwarding was on its way: recorded, and
			// whatever it took given back.
			if err := o.RecordForward(tn.ID, pi.ID, status, d); err != nil {
				return err
			}
			if err := giveBack(tx, o.ID(), pi.ID, pi.Status, "the sale was voided while its offline payment was forwarded"); err != nil {
				return err
			}
			return putOrder(tx, o)
		}
		if err := o.RecordForward(tn.ID, pi.ID, status, d); err != nil {
			return err
		}
		tn, _ = offlineTender(o, ref)
		switch {
		case tn.Payment.Failed:
			if err := noteFailed(tx, o, tn, reconcile.ForwardDeclined, x.now()); err != nil {
				return err
			}
		case pi.Status == stripe.PaymentIntentStatusRequiresCapture:
			if err := noteAuthorised(tx, o, tn, pi, x.captureLater); err != nil {
				return err
			}
		}
		return putOrder(tx, o)
	}
}

// giveBack enqueues what returns a payment's money: a cancel for an
// authorisation, a refund for a capture.
func giveBack(tx *queue.Tx, orderID, pi string, status stripe.PaymentIntentStatus, why string) error {
	switch status {
	case stripe.PaymentIntentStatusRequiresCapture:
		_, err := tx.Enqueue(queue.NewEntry{OrderID: orderID, Op: queue.OpCancel,
			Payload: encodePayload(opPayload{PaymentIntent: pi, Form: "cancellation_reason=requested_by_customer", Release: true})})
		return err
	case stripe.PaymentIntentStatusSucceeded:
		v := url.Values{}
		v.Set("payment_intent", pi)
		v.Set("reason", "requested_by_customer")
		v.Set("metadata[order_id]", orderID)
		v.Set("metadata[why]", why)
		_, err := tx.Enqueue(queue.NewEntry{OrderID: orderID, Op: queue.OpRefund,
			Payload: encodePayload(opPayload{PaymentIntent: pi, Form: v.Encode()})})
		return err
	}
	return nil // nothing was taken
}

// recordSettled writes a capture's or a cancellation's outcome onto the
// sale it belongs to (if the entry's order is a sale: end-of-day entries
// for PaymentIntents of no sale belong to the end-of-day record), and
// takes the authorisation off the uncaptured list. An authorisation that
// lapsed before its capture marks the payment failed, for the manager.
func (x *executor) recordSettled(orderID string, pi *stripe.PaymentIntent) func(*queue.Tx) error {
	return func(tx *queue.Tx) error {
		if err := authList.removeID(tx, pi.ID); err != nil {
			return err
		}
		o, err := loadOrder(tx, orderID, x.now)
		if err != nil {
			if isEndOfDayRecord(orderID) {
				return nil
			}
			return err
		}
		return settleAfterSale(tx, o, pi, x.now())
	}
}

// settleAfterSale applies a final PaymentIntent status to a finished sale
// whose payment was awaiting capture or being processed, and stores it if
// it changed; a payment that failed goes on the manager's list.
func settleAfterSale(tx *queue.Tx, o *order.Order, pi *stripe.PaymentIntent, now time.Time) error {
	tn, ok := tenderFor(o, pi.ID)
	if !ok || o.Status() != order.StatusCompleted && !o.VoidedAfterPayment() {
		return nil
	}
	before := o.UpdatedAt()
	if tn.Payment.Status == order.PaymentRequiresCapture || tn.Payment.Status.Pending() {
		if err := settleIntent(o, tn, pi); err != nil {
			return err
		}
	}
	if o.UpdatedAt().Equal(before) {
		return nil
	}
	if !o.PaymentPending() {
		if err := markPending(tx, o.ID(), false); err != nil {
			return err
		}
	}
	tn, _ = tenderFor(o, pi.ID)
	if tn.Payment.Failed {
		kind := reconcile.PaymentFailed
		if tn.Payment.Offline {
			kind = reconcile.ForwardDeclined
		}
		if err := noteFailed(tx, o, tn, kind, now); err != nil {
			return err
		}
	}
	if !tn.Payment.Status.Secured() || tn.Payment.Status == order.PaymentSucceeded {
		if err := authList.removeID(tx, pi.ID); err != nil {
			return err
		}
	}
	return putOrder(tx, o)
}

// refund refunds a captured payment of a sale voided after payment. A
// refund tried before is first looked up on the PaymentIntent's charge:
// refunded already is done.
func (x *executor) refund(ctx context.Context, e queue.Entry, p opPayload, doubt bool) drain.Outcome {
	op := fmt.Sprintf("refund PaymentIntent %s of order %s", p.PaymentIntent, e.OrderID)
	if p.PaymentIntent == "" {
		return dead(errors.New(op+": the entry names no PaymentIntent"), nil)
	}
	if doubt {
		pi, err := x.retrieve(ctx, p.PaymentIntent)
		if err != nil {
			return x.failed(op+": retrieve before retrying", err)
		}
		if pi.LatestCharge != nil && pi.LatestCharge.Refunded {
			return done(x.recordRefunded(e.OrderID, p.PaymentIntent))
		}
	}
	resp, err := x.client.Post(ctx, "/v1/refunds", []byte(p.Form), e.IdempotencyKey)
	if err == nil {
		var r stripe.Refund
		if err := resp.Decode(&r); err != nil {
			return x.failed(op, err)
		}
		return done(x.recordRefunded(e.OrderID, p.PaymentIntent))
	}
	var ae *api.Error
	if errors.As(err, &ae) && ae.Code == "charge_already_refunded" {
		return done(x.recordRefunded(e.OrderID, p.PaymentIntent))
	}
	return x.failed(op, err)
}

// recordRefunded marks the sale's payment refunded.
func (x *executor) recordRefunded(orderID, pi string) func(*queue.Tx) error {
	return func(tx *queue.Tx) error {
		o, err := loadOrder(tx, orderID, x.now)
		if err != nil {
			return err
		}
		tn, ok := tenderFor(o, pi)
		if !ok || !o.VoidedAfterPayment() {
			return nil
		}
		before := o.UpdatedAt()
		if err := o.MarkRefunded(tn.ID); err != nil {
			return err
		}
		if o.UpdatedAt().Equal(before) {
			return nil
		}
		return putOrder(tx, o)
	}
}

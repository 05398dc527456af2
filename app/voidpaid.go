package app

import (
	"fmt"
	"strings"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/ui"
)

// VoidPaid implements ui.Register: the manager voids a finished sale.
func (r *Register) VoidPaid(orderID, reason, pin string) error {
	return r.t.VoidPaid(orderID, reason, pin)
}

// VoidPaid voids a completed sale after payment, with the manager's PIN:
// in one transaction the order is voided, its uncaptured authorisations
// are cancelled and its captured payments refunded through the outbox,
// and its card payments taken offline are dropped, never to be forwarded.
// Its cash is handed back by the cashier. A payment still being processed
// (a SEPA debit) must settle first.
func (t *Till) VoidPaid(orderID, reason, pin string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return fmt.Errorf("void sale %s: say why it is voided", orderID)
	}
	if len(reason) > 200 {
		return fmt.Errorf("void sale %s: the reason is too long (at most 200 characters)", orderID)
	}
	if pin == "" {
		return fmt.Errorf("void sale %s: %w", orderID, ui.ErrManagerPIN)
	}
	// The slow hash runs outside the store's lock.
	if err := t.checkManagerPIN(pin); err != nil {
		return fmt.Errorf("void sale %s: %w", orderID, err)
	}
	err := t.store.Update(func(tx *queue.Tx) error {
		o, err := loadOrder(tx, orderID, t.now)
		if err != nil {
			return err
		}
		es, err := tx.OrderEntries(orderID)
		if err != nil {
			return err
		}
		if (entries{es: es}).any(func(e queue.Entry) bool { return e.Op == queue.OpCapture && toSend(e) }) {
			// Its capture is on its way: once it lands, the refund is
			// the way back (voiding now would race it).
			return fmt.Errorf("its capture is still being sent: void it once the connection has delivered it")
		}
		before := o.Tenders()
		if err := o.VoidPaid(reason); err != nil {
			return err
		}
		for _, tn := range before {
			p := tn.Payment
			switch {
			case p == nil:
			case p.Forwarding():
				if forwardTried(es, p.Ref) {
					// It may have landed: the outbox sends it again under
					// its key, and its answer is given back (recordForward).
					continue
				}
				if err := o.DropStored(tn.ID); err != nil {
					return err
				}
				if err := storedList.removeID(tx, orderID+"/"+p.Ref); err != nil {
					return err
				}
			case p.Failed:
			case p.Status == order.PaymentRequiresCapture:
				if err := giveBack(tx, orderID, p.PaymentIntentID, stripe.PaymentIntentStatusRequiresCapture, "voided after payment: "+reason); err != nil {
					return err
				}
			case p.Status == order.PaymentSucceeded:
				if err := giveBack(tx, orderID, p.PaymentIntentID, stripe.PaymentIntentStatusSucceeded, "voided after payment: "+reason); err != nil {
					return err
				}
			}
		}
		// Nothing is owed on a voided sale: off the manager's list.
		if err := attentionList.remove(tx, func(a attention) bool { return a.Order == orderID }); err != nil {
			return err
		}
		return putOrder(tx, o)
	})
	if err != nil {
		return fmt.Errorf("void sale %s: %w", orderID, err)
	}
	t.log.Info("sale voided after payment by the manager", "order", orderID)
	return nil
}

// forwardTried says whether the forwarding of offline payment ref was
// ever handed to the network (leased: it may be on the wire or have
// landed).
func forwardTried(es []queue.Entry, ref string) bool {
	for _, e := range es {
		if e.Op != queue.OpCreate {
			continue
		}
		if p, err := decodePayload(e.Payload); err == nil && p.Offline && p.Ref == ref {
			return e.Attempts > 0 || e.State == queue.StateInFlight || e.State == queue.StateDone || e.State == queue.StateDead
		}
	}
	return false
}

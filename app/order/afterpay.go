package order

import (
	"fmt"
	"slices"
	"time"
)

// This file holds what may still happen to a sale's payments after the
// sale is finished: an offline payment forwarded, an authorisation's
// deadline learnt, a paid sale voided by the manager and its payments
// cancelled or refunded. Everything else about a finished order is
// immutable.

// finishedTender finds a payment tender of a completed order, or of one
// voided after payment when voided allows it.
func (o *Order) finishedTender(op string, tenderID int, voided bool) (int, error) {
	if o.status != StatusCompleted && !(voided && o.VoidedAfterPayment()) {
		return -1, o.errf(op, fmt.Errorf("order is %s: %w", o.status, ErrInvalidTransition))
	}
	i := slices.IndexFunc(o.tenders, func(t Tender) bool { return t.ID == tenderID })
	if i < 0 || o.tenders[i].Payment == nil {
		return -1, o.errf(op, ErrNoSuchTender)
	}
	return i, nil
}

// RecordForward records what the payment service answered when an
// offline payment of a completed sale (or of one voided after payment,
// whose forwarding had already been tried) was forwarded: its
// PaymentIntent and status. An authorisation or a capture settles it; a decline
// (requires_payment_method, or canceled) marks it Failed with why, for
// the manager — the customer has left with the goods. Either way the
// sealed payload is dropped: it is never sent twice. Recording the same
// answer again changes nothing.
func (o *Order) RecordForward(tenderID int, pi string, status PaymentStatus, d *Decline) error {
	op := fmt.Sprintf("record forwarded tender %d", tenderID)
	i, err := o.finishedTender(op, tenderID, true)
	if err != nil {
		return err
	}
	t := o.tenders[i].clone()
	switch {
	case !t.Payment.Offline:
		return o.errf(op, fmt.Errorf("the payment was not taken offline: %w", ErrInvalidTransition))
	case pi == "" || len(pi) > 255 || !status.valid():
		return o.errf(op, fmt.Errorf("PaymentIntent %q, status %q: %w", pi, status, ErrInvalidTender))
	case t.Payment.PaymentIntentID == pi && t.Payment.Status == status:
		return nil
	case t.Payment.PaymentIntentID != "":
		// Where it goes from here is a settlement (SettlePayment).
		return o.errf(op, fmt.Errorf("already forwarded as %s (%s): %w", t.Payment.PaymentIntentID, t.Payment.Status, ErrInvalidTransition))
	case t.Payment.Status == PaymentCanceled:
		return o.errf(op, fmt.Errorf("the payment was dropped: %w", ErrInvalidTransition))
	}
	for _, other := range o.tenders {
		if other.Payment != nil && other.Payment.PaymentIntentID == pi {
			return o.errf(op, fmt.Errorf("PaymentIntent %s already recorded as tender %d: %w", pi, other.ID, ErrInvalidTender))
		}
	}
	t.Payment.PaymentIntentID, t.Payment.Status, t.Payment.Stored = pi, status, nil
	switch status {
	case PaymentRequiresCapture, PaymentSucceeded, PaymentProcessing:
		t.Payment.Failed, t.Payment.Decline = false, nil
	case PaymentRequiresPaymentMethod, PaymentCanceled:
		if d != nil {
			dd := *d
			t.Payment.Decline = &dd
		}
		// On a sale voided after payment, a decline takes nothing from
		// anyone: not a failure.
		t.Payment.Failed = o.status == StatusCompleted
	default:
		return o.errf(op, fmt.Errorf("a forwarded payment cannot be left %s: %w", status, ErrInvalidTransition))
	}
	o.tenders[i], o.updatedAt = t, o.now()
	return nil
}

// SetCaptureBefore records when an authorisation awaiting capture lapses,
// as the payment service says.
func (o *Order) SetCaptureBefore(tenderID int, at time.Time) error {
	op := fmt.Sprintf("set capture deadline of tender %d", tenderID)
	i := slices.IndexFunc(o.tenders, func(t Tender) bool { return t.ID == tenderID })
	if i < 0 || o.tenders[i].Payment == nil {
		return o.errf(op, ErrNoSuchTender)
	}
	if o.status == StatusVoided || o.status == StatusOpen {
		return o.errf(op, fmt.Errorf("order is %s: %w", o.status, ErrImmutable))
	}
	if st := o.tenders[i].Payment.Status; st != PaymentRequiresCapture {
		return o.errf(op, fmt.Errorf("its payment is %s, not awaiting capture: %w", st, ErrInvalidTransition))
	}
	t := o.tenders[i].clone()
	if t.Payment.CaptureBefore.Equal(at) {
		return nil
	}
	t.Payment.CaptureBefore = at.UTC()
	o.tenders[i], o.updatedAt = t, o.now()
	return nil
}

// VoidedAfterPayment reports whether the order was completed, then voided
// by the manager.
func (o *Order) VoidedAfterPayment() bool {
	return o.status == StatusVoided && !o.completedAt.IsZero()
}

// VoidPaid voids a completed sale (the manager's void after payment). The
// caller cancels its authorisations and refunds its captured payments
// through the outbox in the same transaction, drops its offline payments
// never sent (DropStored), and hands back its cash.
// A payment still being processed (a SEPA debit) must settle first.
func (o *Order) VoidPaid(reason string) error {
	const op = "void after payment"
	if o.status != StatusCompleted {
		return o.errf(op, fmt.Errorf("order is %s, not completed: %w", o.status, ErrInvalidTransition))
	}
	if o.PaymentPending() {
		return o.errf(op, fmt.Errorf("a payment is still being processed: %w", ErrInvalidTransition))
	}
	now := o.now()
	o.status, o.voidedAt, o.updatedAt, o.voidReason = StatusVoided, now, now, reason
	return nil
}

// DropStored gives up an offline payment of a sale voided after payment
// that was never sent: its payload is dropped and it will never be
// forwarded. One whose forwarding was tried keeps its payload: the
// request may have landed, and sending it again under its key is the only
// way to know (and to give the money back).
func (o *Order) DropStored(tenderID int) error {
	op := fmt.Sprintf("drop stored tender %d", tenderID)
	if !o.VoidedAfterPayment() {
		return o.errf(op, fmt.Errorf("order is %s, not voided after payment: %w", o.status, ErrInvalidTransition))
	}
	i := slices.IndexFunc(o.tenders, func(t Tender) bool { return t.ID == tenderID })
	if i < 0 || o.tenders[i].Payment == nil {
		return o.errf(op, ErrNoSuchTender)
	}
	t := o.tenders[i].clone()
	if !t.Payment.Forwarding() {
		return nil
	}
	t.Payment.Stored, t.Payment.Status = nil, PaymentCanceled
	o.tenders[i], o.updatedAt = t, o.now()
	return nil
}

// MarkRefunded records that a captured payment of a sale voided after
// payment was refunded.
func (o *Order) MarkRefunded(tenderID int) error {
	op := fmt.Sprintf("mark tender %d refunded", tenderID)
	if !o.VoidedAfterPayment() {
		return o.errf(op, fmt.Errorf("order is %s, not voided after payment: %w", o.status, ErrInvalidTransition))
	}
	i := slices.IndexFunc(o.tenders, func(t Tender) bool { return t.ID == tenderID })
	if i < 0 || o.tenders[i].Payment == nil {
		return o.errf(op, ErrNoSuchTender)
	}
	t := o.tenders[i].clone()
	if t.Payment.Refunded {
		return nil
	}
	if t.Payment.Status != PaymentSucceeded {
		return o.errf(op, fmt.Errorf("its payment is %s, not captured: %w", t.Payment.Status, ErrInvalidTransition))
	}
	t.Payment.Refunded = true
	o.tenders[i], o.updatedAt = t, o.now()
	return nil
}

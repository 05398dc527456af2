package sandbox

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
)

// Refunds return money from a succeeded PaymentIntent's charge, in full or
// in part, as Stripe's POST /v1/refunds does. Each refund is stored with
// its charge (chargeRec.Refunds), so the refund, the charge's
// amount_refunded and its events persist in the same commit.
//
// A refund succeeds at once (status succeeded): the sandbox has no bank
// to wait for. Only a PaymentIntent in succeeded can be refunded; an
// authorisation that was never captured is released by cancelling the
// PaymentIntent instead.

// refundReasons are the reasons a refund request may give.
var refundReasons = []string{"duplicate", "fraudulent", "requested_by_customer"}

func renderRefund(r *refundRec) *refundJS {
	return &refundJS{
		ID: r.ID, Object: "refund", Amount: r.Amount, Charge: r.Charge, Created: r.Created, Currency: r.Currency,
		Metadata: copyMeta(r.Metadata), PaymentIntent: r.PaymentIntent, Reason: strOrNil(r.Reason), Status: r.Status,
	}
}

// POST /v1/refunds
func (s *Server) createRefund(rc *reqCtx) (any, *apiError) {
	p := rc.p
	piID, piGiven := p.str("payment_intent")
	chID, chGiven := p.str("charge")
	amount, amountGiven := p.int("amount")
	reason, _ := p.enum(refundReasons, "reason")
	meta := p.metadata()
	consumeAccepted(p, "instructions_email", "origin")
	p.expand()
	if e := p.done(); e != nil {
		return nil, e
	}
	switch {
	case piGiven && chGiven && piID != "" && chID != "":
		return nil, invalid("parameters_exclusive", "charge", "You may only specify one of these parameters: charge, payment_intent.")
	case piID == "" && chID == "":
		return nil, invalid("parameter_missing", "payment_intent", "Missing required param: payment_intent (or charge).")
	case amountGiven && amount < 1:
		return nil, invalid("parameter_invalid_integer", "amount", "Invalid positive integer: amount must be at least 1")
	}
	var pi *intentRec
	if chID != "" {
		ch := s.st.Charges[chID]
		if ch == nil {
			return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "resource_missing", Param: "charge", Message: fmt.Sprintf("No such charge: '%s'", chID)}
		}
		pi = s.st.Intents[ch.PaymentIntent]
		if pi == nil || pi.LatestCharge != ch.ID {
			return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "charge_not_refundable", Param: "charge",
				Message: fmt.Sprintf("Charge %s did not succeed and cannot be refunded.", ch.ID), save: true}
		}
	} else if pi = s.st.Intents[piID]; pi == nil {
		return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "resource_missing", Param: "payment_intent", Message: fmt.Sprintf("No such payment_intent: '%s'", piID)}
	}
	ch := s.st.Charges[pi.LatestCharge]
	switch {
	case pi.Status == statusRequiresCapture:
		return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "charge_not_captured", Param: "payment_intent",
			Message:         fmt.Sprintf("This PaymentIntent (%s) is authorised but not captured: capture it first, or cancel it to release the authorisation.", pi.ID),
			PaymentIntentID: pi.ID, save: true}
	case pi.Status != statusSucceeded || ch == nil || !ch.Captured:
		return nil, unexpectedState(pi, "This PaymentIntent (%s) does not have a successful charge to refund: its status is %s. Only a PaymentIntent with status succeeded can be refunded.", pi.ID, pi.Status)
	}
	left := ch.AmountCaptured - ch.refundedByRefunds()
	if left <= 0 {
		return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "charge_already_refunded",
			Message: fmt.Sprintf("Charge %s has already been refunded.", ch.ID), ChargeID: ch.ID, PaymentIntentID: pi.ID, save: true}
	}
	if !amountGiven {
		amount = left
	}
	if amount > left {
		return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "amount_too_large", Param: "amount",
			Message:  fmt.Sprintf("Refund amount (%s) is greater than the unrefunded amount of charge %s (%s).", formatAmount(amount, ch.Currency), ch.ID, formatAmount(left, ch.Currency)),
			ChargeID: ch.ID, save: true}
	}

	// Commit.
	r := &refundRec{Seq: s.st.nextSeq(), ID: s.ids.id("re_"), Amount: amount, Currency: ch.Currency, PaymentIntent: pi.ID, Charge: ch.ID,
		Status: "succeeded", Reason: reason, Created: rc.now, Metadata: meta.apply(nil)}
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	prev := map[string]any{"amount_refunded": ch.AmountRefunded}
	wasRefunded := ch.Refunded
	ch.Refunds = append(ch.Refunds, r)
	ch.AmountRefunded = min(ch.AmountRefunded+amount, ch.Amount)
	ch.Refunded = ch.AmountRefunded == ch.Amount
	if ch.Refunded != wasRefunded {
		prev["refunded"] = wasRefunded
	}
	s.touch(bucketCharges, ch.ID)
	s.dirty = true
	s.emit(rc, "refund.created", renderRefund(r), nil, rc.now)
	s.emit(rc, "charge.refunded", s.renderCharge(ch), prev, rc.now)
	return renderRefund(r), nil
}

// refundByID finds a refund. Refunds live with their charges, so this
// walks the charges; BenchmarkRetrieveRefund measures it.
func (s *Server) refundByID(id string) *refundRec {
	for _, ch := range s.st.Charges {
		for _, r := range ch.Refunds {
			if r.ID == id {
				return r
			}
		}
	}
	return nil
}

// GET /v1/refunds/{id}
func (s *Server) retrieveRefund(rc *reqCtx) (any, *apiError) {
	rc.p.expand()
	if e := rc.p.done(); e != nil {
		return nil, e
	}
	r := s.refundByID(rc.id)
	if r == nil {
		return nil, noSuch("refund", rc.id, "id")
	}
	return renderRefund(r), nil
}

// GET /v1/refunds
func (s *Server) listRefunds(rc *reqCtx) (any, *apiError) {
	p := rc.p
	piID, _ := p.str("payment_intent")
	chID, _ := p.str("charge")
	lp := readListParams(p)
	if e := p.done(); e != nil {
		return nil, e
	}
	var all []*refundRec
	switch {
	case piID != "":
		// Only a PaymentIntent's latest charge can have succeeded.
		if pi := s.st.Intents[piID]; pi != nil {
			if ch := s.st.Charges[pi.LatestCharge]; ch != nil {
				all = ch.Refunds
			}
		}
	case chID != "":
		if ch := s.st.Charges[chID]; ch != nil {
			all = ch.Refunds
		}
	default:
		for _, ch := range s.st.Charges {
			all = append(all, ch.Refunds...)
		}
		slices.SortFunc(all, func(a, b *refundRec) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	match := func(i int) bool {
		r := all[i]
		return (piID == "" || r.PaymentIntent == piID) && (chID == "" || r.Charge == chID) && (lp.created == nil || lp.created(r.Created))
	}
	indexOf := func(id string) (int, bool) {
		for i, r := range all {
			if r.ID == id {
				return i, true
			}
		}
		return 0, false
	}
	idx, more, e := lp.page(len(all), match, indexOf)
	if e != nil {
		return nil, e
	}
	data := make([]any, 0, len(idx))
	for _, i := range idx {
		data = append(data, renderRefund(all[i]))
	}
	return &listJS{Object: "list", Data: data, HasMore: more, URL: "/v1/refunds"}, nil
}

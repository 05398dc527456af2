package sandbox

import "time"

func yearOf(unix int64) int { return time.Unix(unix, 0).UTC().Year() }

func (s *Server) renderCharge(ch *chargeRec) *chargeJS {
	out := &chargeJS{
		ID: ch.ID, Object: "charge", Amount: ch.Amount, AmountCaptured: ch.AmountCaptured, AmountRefunded: ch.AmountRefunded,
		Captured: ch.Captured, Created: ch.Created, Currency: ch.Currency, Customer: strOrNil(ch.Customer),
		FailureCode: strOrNil(ch.FailureCode), FailureMessage: strOrNil(ch.FailureMessage), Metadata: map[string]string{},
		Paid: ch.Paid, PaymentIntent: ch.PaymentIntent, PaymentMethod: ch.PaymentMethod, Refunded: ch.Refunded, Status: ch.Status,
	}
	out.Outcome = &outcomeJS{NetworkStatus: "approved_by_network", RiskLevel: "normal", SellerMessage: "Payment complete.", Type: "authorized"}
	if ch.Status == "failed" {
		reason := ch.FailureCode
		out.Outcome = &outcomeJS{NetworkStatus: "declined_by_network", Reason: &reason, RiskLevel: "normal", SellerMessage: "The bank did not return any further details with this decline.", Type: "issuer_declined"}
	}
	pm := s.st.PMs[ch.PaymentMethod]
	details := map[string]any{}
	if pm != nil {
		details["type"] = pm.Type
		out.BillingDetails = renderPM(pm).BillingDetails
		switch {
		case pm.Card != nil:
			d := map[string]any{
				"amount_authorized": ch.Amount, "brand": pm.Card.Brand, "country": pm.Card.Country,
				"exp_month": pm.Card.ExpMonth, "exp_year": pm.Card.ExpYear, "fingerprint": pm.Card.Fingerprint,
				"funding": pm.Card.Funding, "last4": pm.Card.Last4, "network": pm.Card.Brand,
				"capture_before": nil, "incremental_authorization_supported": false, "overcapture_supported": false,
			}
			if ch.CaptureBefore != 0 {
				d["capture_before"] = ch.CaptureBefore
			}
			if pm.Card.ReadMethod != "" {
				d["read_method"] = pm.Card.ReadMethod
				d["cardholder_name"] = nil
				d["generated_card"] = strOrNil(ch.GeneratedCard)
				d["offline"] = nil
				if pm.Card.OfflineStoredAt != 0 {
					d["offline"] = map[string]any{"stored_at": pm.Card.OfflineStoredAt, "type": "deferred"}
				}
			}
			details[pm.Type] = d
		case pm.Sepa != nil:
			details[pm.Type] = map[string]any{"bank_code": pm.Sepa.BankCode, "country": pm.Sepa.Country, "last4": pm.Sepa.Last4, "fingerprint": pm.Sepa.Fingerprint, "mandate": nil}
		default:
			details[pm.Type] = map[string]any{}
		}
	}
	out.PaymentMethodDetails = details
	return out
}

// GET /v1/charges/{id}
func (s *Server) retrieveCharge(rc *reqCtx) (any, *apiError) {
	rc.p.expand()
	if e := rc.p.done(); e != nil {
		return nil, e
	}
	ch := s.st.Charges[rc.id]
	if ch == nil {
		return nil, noSuch("charge", rc.id, "id")
	}
	return s.renderCharge(ch), nil
}

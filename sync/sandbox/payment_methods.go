package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"
)

// Payment methods: test tokens, payment_method_data, the card_present test
// helper, attach/detach and a customer's saved methods.

func fingerprintOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// newPMFromTestCard makes a fresh card PaymentMethod from a test token, as
// Stripe does for pm_card_visa and friends.
func (s *Server) newPMFromTestCard(tc testCard, now int64) *pmRec {
	year := time.Unix(now, 0).UTC().Year() + 3
	return &pmRec{
		ID: s.ids.id("pm_"), Type: "card", Created: now, Metadata: map[string]string{}, AllowRedisplay: "unspecified",
		Card:    &cardRec{Brand: tc.brand, Last4: tc.last4, ExpMonth: 12, ExpYear: year, Funding: tc.funding, Country: "US", Fingerprint: fingerprintOf("card", tc.brand, tc.last4)},
		Outcome: tc.outcome, ErrorCode: tc.code, DeclineCode: tc.declineCode,
	}
}

func (s *Server) addPM(pm *pmRec) {
	pm.Seq = s.st.nextSeq()
	s.st.PMs[pm.ID] = pm
	s.st.PMOrder = append(s.st.PMOrder, pm.ID)
	s.touch(bucketPMs, pm.ID)
}

// pmSpec is a payment method described by parameters (payment_method_data
// or POST /v1/payment_methods) before it is created.
type pmSpec struct {
	typ      string
	card     *testCard
	iban     string
	billing  billingDetails
	metadata map[string]string
}

// readPMSpec reads a payment method description rooted at prefix (empty
// for the top level of POST /v1/payment_methods).
func readPMSpec(p *params, prefix ...string) *pmSpec {
	at := func(names ...string) []string { return append(append([]string{}, prefix...), names...) }
	if len(prefix) > 0 && !p.has(prefix...) {
		return nil
	}
	spec := &pmSpec{}
	spec.typ = p.requiredStr(at("type")...)
	if spec.typ != "" && !knownPMTypes[spec.typ] {
		p.fail(invalid("parameter_invalid_string", paramName(at("type")), "Invalid %s: the sandbox supports card, sepa_debit, twint and mobilepay", paramName(at("type"))))
	}
	if name, ok := p.str(at("billing_details", "name")...); ok {
		spec.billing.Name = name
	}
	if email, ok := p.str(at("billing_details", "email")...); ok {
		spec.billing.Email = email
	}
	if phone, ok := p.str(at("billing_details", "phone")...); ok {
		spec.billing.Phone = phone
	}
	p.consume(at("billing_details", "address")...)
	if m := p.metadataAt(at("metadata")...); m.present {
		spec.metadata = m.apply(nil)
	}
	switch spec.typ {
	case "card":
		tok := p.requiredStr(at("card", "token")...)
		if tok != "" {
			tc, ok := lookupTestCard(tok)
			if !ok {
				p.fail(invalid("parameter_invalid_string", paramName(at("card", "token")),
					"The sandbox never accepts card numbers; use a test token such as tok_visa (see docs/sandbox.md)."))
			}
			spec.card = &tc
		}
	case "sepa_debit":
		iban := normalizeIBAN(p.requiredStr(at("sepa_debit", "iban")...))
		if iban != "" && !validIBAN(iban) {
			p.fail(invalid("invalid_bank_account_iban", paramName(at("sepa_debit", "iban")), "The IBAN you provided is invalid."))
		}
		spec.iban = iban
	case "card_present", "interac_present":
		p.fail(invalid("payment_method_invalid_parameter", paramName(at("type")),
			"%s PaymentMethods are created by a reader; use POST /v1/test_helpers/payment_intents/{id}/present_payment_method.", spec.typ))
	case "twint", "mobilepay":
		p.consume(at(spec.typ)...)
	}
	return spec
}

func (s *Server) newPMFromSpec(spec *pmSpec, now int64) *pmRec {
	if spec.card != nil {
		pm := s.newPMFromTestCard(*spec.card, now)
		pm.BillingDetails = spec.billing
		return pm
	}
	pm := &pmRec{ID: s.ids.id("pm_"), Type: spec.typ, Created: now, Metadata: spec.metadata, BillingDetails: spec.billing, AllowRedisplay: "unspecified"}
	if pm.Metadata == nil {
		pm.Metadata = map[string]string{}
	}
	if spec.typ == "sepa_debit" {
		pm.Sepa = &sepaRec{BankCode: spec.iban[4:min(12, len(spec.iban))], Country: spec.iban[:2], Last4: spec.iban[len(spec.iban)-4:], Fingerprint: fingerprintOf("sepa", spec.iban)}
		if sepaFailingIBANs[spec.iban] {
			pm.Outcome = "decline"
			pm.ErrorCode = "payment_method_provider_decline"
			pm.DeclineCode = "insufficient_funds"
		}
	}
	return pm
}

func renderPM(pm *pmRec) *paymentMethodJS {
	out := &paymentMethodJS{
		ID: pm.ID, Object: "payment_method", AllowRedisplay: pm.AllowRedisplay, Created: pm.Created,
		Customer: strOrNil(pm.Customer), Metadata: copyMeta(pm.Metadata), Type: pm.Type,
		BillingDetails: billingDetailsJS{Email: strOrNil(pm.BillingDetails.Email), Name: strOrNil(pm.BillingDetails.Name), Phone: strOrNil(pm.BillingDetails.Phone)},
	}
	if pm.Card != nil {
		c := &cardJS{Brand: pm.Card.Brand, Country: pm.Card.Country, DisplayBrand: pm.Card.Brand, ExpMonth: pm.Card.ExpMonth, ExpYear: pm.Card.ExpYear,
			Fingerprint: pm.Card.Fingerprint, Funding: pm.Card.Funding, Last4: pm.Card.Last4,
			Networks: networksJS{Available: []string{pm.Card.Brand}}, ReadMethod: pm.Card.ReadMethod}
		switch pm.Type {
		case "card_present":
			out.CardPresent = c
		case "interac_present":
			out.InteracPresent = c
		default:
			c.ReadMethod = ""
			out.Card = c
		}
	}
	if pm.Sepa != nil {
		sd := *pm.Sepa
		out.SepaDebit = &sd
	}
	switch pm.Type {
	case "twint":
		out.Twint = &struct{}{}
	case "mobilepay":
		out.Mobilepay = &struct{}{}
	}
	return out
}

// attachable reports whether a payment method type can be saved to a
// customer (single-use wallets and reader cards cannot).
func attachable(typ string) bool { return typ == "card" || typ == "sepa_debit" }

// POST /v1/payment_methods
func (s *Server) createPaymentMethod(rc *reqCtx) (any, *apiError) {
	spec := readPMSpec(rc.p)
	rc.p.expand()
	if e := rc.p.done(); e != nil {
		return nil, e
	}
	pm := s.newPMFromSpec(spec, rc.now)
	s.addPM(pm)
	return renderPM(pm), nil
}

// GET /v1/payment_methods/{id}
func (s *Server) retrievePaymentMethod(rc *reqCtx) (any, *apiError) {
	rc.p.expand()
	if e := rc.p.done(); e != nil {
		return nil, e
	}
	if tc, ok := lookupTestCard(rc.id); ok {
		// Stripe answers test tokens with a fresh object each time.
		return renderPM(s.newPMFromTestCard(tc, rc.now)), nil
	}
	pm := s.st.PMs[rc.id]
	if pm == nil {
		return nil, noSuch("PaymentMethod", rc.id, "payment_method")
	}
	return renderPM(pm), nil
}

// POST /v1/payment_methods/{id}/attach
func (s *Server) attachPaymentMethod(rc *reqCtx) (any, *apiError) {
	cusID := rc.p.requiredStr("customer")
	rc.p.expand()
	if e := rc.p.done(); e != nil {
		return nil, e
	}
	cus := s.st.Customers[cusID]
	if cus == nil {
		return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "resource_missing", Param: "customer", Message: "No such customer: '" + cusID + "'"}
	}
	var pm *pmRec
	if tc, ok := lookupTestCard(rc.id); ok {
		pm = s.newPMFromTestCard(tc, rc.now)
	} else if pm = s.st.PMs[rc.id]; pm == nil {
		return nil, noSuch("PaymentMethod", rc.id, "payment_method")
	}
	if !attachable(pm.Type) {
		return nil, invalid("payment_method_invalid_parameter", "payment_method", "PaymentMethods of type %s cannot be attached to a customer.", pm.Type)
	}
	if pm.Customer != "" && pm.Customer != cusID {
		return nil, invalid("payment_method_unexpected_state", "payment_method", "The payment method you provided has already been attached to a customer.")
	}
	if s.st.PMs[pm.ID] == nil {
		s.addPM(pm)
	}
	if pm.Customer != cusID {
		pm.Customer = cusID
		s.emit(rc, "payment_method.attached", renderPM(pm), nil, rc.now)
	}
	return renderPM(pm), nil
}

// POST /v1/payment_methods/{id}/detach
func (s *Server) detachPaymentMethod(rc *reqCtx) (any, *apiError) {
	rc.p.expand()
	if e := rc.p.done(); e != nil {
		return nil, e
	}
	pm := s.st.PMs[rc.id]
	if pm == nil {
		return nil, noSuch("PaymentMethod", rc.id, "payment_method")
	}
	if pm.Customer == "" {
		return nil, invalid("payment_method_unexpected_state", "payment_method", "The payment method %s is not attached to a customer so detachment is impossible.", pm.ID)
	}
	prev := pm.Customer
	pm.Customer = ""
	// Stripe also drops the method as the customer's invoice default.
	if c := s.st.Customers[prev]; c != nil && c.DefaultPaymentMethod == pm.ID {
		c.DefaultPaymentMethod = ""
		s.touch(bucketCustomers, c.ID)
	}
	s.emit(rc, "payment_method.detached", renderPM(pm), map[string]any{"customer": prev}, rc.now)
	return renderPM(pm), nil
}

// GET /v1/customers/{id}/payment_methods
func (s *Server) listCustomerPaymentMethods(rc *reqCtx) (any, *apiError) {
	p := rc.p
	typ, _ := p.str("type")
	redisplay, _ := p.enum([]string{"always", "limited", "unspecified"}, "allow_redisplay")
	lp := readListParams(p)
	if e := p.done(); e != nil {
		return nil, e
	}
	if s.st.Customers[rc.id] == nil {
		return nil, noSuch("customer", rc.id, "customer")
	}
	if typ != "" && !knownPMTypes[typ] {
		return nil, invalid("parameter_invalid_string", "type", "Invalid type: %s", typ)
	}
	order := s.st.PMOrder
	match := func(i int) bool {
		pm := s.st.PMs[order[i]]
		return pm.Customer == rc.id && (typ == "" || pm.Type == typ) && (redisplay == "" || pm.AllowRedisplay == redisplay)
	}
	idx, more, e := lp.page(len(order), match, func(id string) (int, bool) { return s.pmIndex(id) })
	if e != nil {
		return nil, e
	}
	data := make([]any, 0, len(idx))
	for _, i := range idx {
		data = append(data, renderPM(s.st.PMs[order[i]]))
	}
	return &listJS{Object: "list", Data: data, HasMore: more, URL: "/v1/customers/" + rc.id + "/payment_methods"}, nil
}

func (s *Server) pmIndex(id string) (int, bool) {
	pm := s.st.PMs[id]
	if pm == nil {
		return 0, false
	}
	return indexBySeq(s.st.PMOrder, pm.Seq, func(id string) int64 { return s.st.PMs[id].Seq })
}

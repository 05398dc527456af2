package sandbox

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tillpos/till/reader/simcard"
)

// The PaymentIntent state machine (SPEC §2, seeds 000–004):
//
//	requires_payment_method --attach/present--> requires_confirmation
//	requires_confirmation  --confirm--> requires_capture | succeeded |
//	                                    requires_action | processing |
//	                                    requires_payment_method (decline)
//	requires_action        --customer authorises--> requires_capture |
//	                           succeeded | requires_confirmation (3DS)
//	requires_action        --fails / window ends--> requires_payment_method
//	processing             --settles--> succeeded | requires_payment_method
//	requires_capture       --capture--> succeeded
//	requires_capture       --authorisation expires--> canceled (automatic)
//	any but succeeded/canceled/processing --cancel--> canceled
//
// Anything else is 400 payment_intent_unexpected_state carrying the
// PaymentIntent.

var (
	captureMethods      = []string{"automatic", "automatic_async", "manual"}
	cancellationReasons = []string{"duplicate", "fraudulent", "requested_by_customer", "abandoned"}
	confirmableStatuses = []string{statusRequiresPaymentMethod, statusRequiresConfirmation, statusRequiresAction}
	cancelableStatuses  = []string{statusRequiresPaymentMethod, statusRequiresCapture, statusRequiresConfirmation, statusRequiresAction}
	updatableStatuses   = []string{statusRequiresPaymentMethod, statusRequiresConfirmation, statusRequiresAction}
)

func (s *Server) renderIntent(pi *intentRec, expand map[string]bool) *paymentIntentJS {
	out := &paymentIntentJS{
		ID: pi.ID, Object: "payment_intent", Amount: pi.Amount, AmountCapturable: pi.AmountCapturable, AmountReceived: pi.AmountReceived,
		AutomaticPaymentMethods: pi.AutomaticPM, CanceledAt: intOrNil(pi.CanceledAt), CancellationReason: strOrNil(pi.CancellationReason),
		CaptureMethod: pi.CaptureMethod, ClientSecret: pi.ClientSecret, ConfirmationMethod: pi.ConfirmationMethod, Created: pi.Created,
		Currency: pi.Currency, Description: strOrNil(pi.Description), Metadata: copyMeta(pi.Metadata), NextAction: pi.NextAction,
		PaymentMethodOptions: map[string]any{}, PaymentMethodTypes: slices.Clone(pi.PaymentMethodTypes),
		ReceiptEmail: strOrNil(pi.ReceiptEmail), SetupFutureUsage: strOrNil(pi.SetupFutureUsage), Status: pi.Status,
	}
	for _, t := range pi.PaymentMethodTypes {
		out.PaymentMethodOptions[t] = map[string]any{}
	}
	if pi.Customer != "" {
		out.Customer = pi.Customer
		if expand["customer"] {
			if c := s.st.Customers[pi.Customer]; c != nil {
				out.Customer = renderCustomer(c)
			}
		}
	}
	if pi.PaymentMethod != "" {
		out.PaymentMethod = pi.PaymentMethod
		if expand["payment_method"] {
			if pm := s.st.PMs[pi.PaymentMethod]; pm != nil {
				out.PaymentMethod = renderPM(pm)
			}
		}
	}
	if pi.LatestCharge != "" {
		out.LatestCharge = pi.LatestCharge
		if expand["latest_charge"] {
			if ch := s.st.Charges[pi.LatestCharge]; ch != nil {
				out.LatestCharge = s.renderCharge(ch)
			}
		}
	}
	if e := pi.LastPaymentError; e != nil {
		le := &lastErrorJS{Type: e.Type, Code: e.Code, DeclineCode: e.DeclineCode, DocURL: docURL(e.Code), Message: e.Message, Param: e.Param, Charge: e.Charge}
		if pm := s.st.PMs[e.PaymentMethod]; pm != nil {
			le.PaymentMethod = renderPM(pm)
		}
		out.LastPaymentError = le
	}
	return out
}

func (s *Server) intent(id string) (*intentRec, *apiError) {
	pi := s.st.Intents[id]
	if pi == nil {
		return nil, noSuch("payment_intent", id, "intent")
	}
	return pi, nil
}

// validateAmount applies Stripe's integer, minimum and maximum rules.
func validateAmount(p *params, amount int64, currency, param string) {
	if amount < 1 {
		p.fail(invalid("parameter_invalid_integer", param, "Invalid positive integer: %s must be at least 1", param))
		return
	}
	if amount > maxAmount {
		p.fail(invalid("amount_too_large", param, "Amount must be no more than %s", formatAmount(maxAmount, currency)))
		return
	}
	if m, ok := minAmount[currency]; ok && amount < m {
		p.fail(invalid("amount_too_small", param, "Amount must be at least %s", formatAmount(m, currency)))
	}
}

func validateCurrency(p *params, currency string) {
	if currency == "" {
		return
	}
	if _, ok := minAmount[currency]; !ok {
		if _, upper := minAmount[strings.ToLower(currency)]; upper {
			p.fail(invalid("parameter_invalid_string", "currency", "Invalid currency: %s. Currency codes must be lowercase (%s).", truncate(currency, 10), strings.ToLower(currency)))
			return
		}
		p.fail(invalid("parameter_invalid_string", "currency", "Invalid currency: %s. The sandbox supports these currencies: %s.", truncate(currency, 10), supportedCurrencies()))
	}
}

// validateTypes checks the payment method types against the currency,
// amount and capture method (TWINT: chf, ≤ 5,000 CHF, automatic capture;
// MobilePay: dkk/eur/sek/nok; SEPA: eur, automatic capture).
func validateTypes(p *params, types []string, currency string, amount int64, captureMethod string) {
	for _, t := range types {
		if !knownPMTypes[t] {
			p.fail(invalid("payment_intent_invalid_parameter", "payment_method_types", "The payment method type %q is invalid. The sandbox supports: card, card_present, interac_present, mobilepay, sepa_debit, twint.", truncate(t, 40)))
			return
		}
		check := func(allowed []string) {
			if !slices.Contains(allowed, currency) {
				p.fail(invalid("payment_intent_invalid_parameter", "currency", "The currency provided (%s) is invalid. Payments with %s support the following currencies: %s.", currency, t, strings.Join(allowed, ", ")))
			}
		}
		switch t {
		case "twint":
			check(twintCurrencies)
			if amount > twintMaxAmount {
				p.fail(invalid("amount_too_large", "amount", "Amount must be no more than %s for twint.", formatAmount(twintMaxAmount, "chf")))
			}
			if captureMethod == "manual" {
				p.fail(invalid("payment_intent_invalid_parameter", "capture_method", "The payment method type twint does not support capture_method manual."))
			}
		case "mobilepay":
			check(mobilepayCurrencies)
		case "sepa_debit":
			check(sepaCurrencies)
			if captureMethod == "manual" {
				p.fail(invalid("payment_intent_invalid_parameter", "capture_method", "The payment method type sepa_debit does not support capture_method manual."))
			}
		case "interac_present":
			if currency != "cad" {
				p.fail(invalid("payment_intent_invalid_parameter", "currency", "The currency provided (%s) is invalid. Payments with interac_present support the following currencies: cad.", currency))
			}
		}
	}
}

// pmChoice is a payment method named in a create/update/confirm request,
// resolved but not yet stored.
type pmChoice struct {
	existing *pmRec
	fresh    *pmRec
}

func (c pmChoice) rec() *pmRec {
	if c.fresh != nil {
		return c.fresh
	}
	return c.existing
}

// choosePM resolves payment_method / payment_method_data.
func (s *Server) choosePM(p *params, pmID string, spec *pmSpec, customer string, now int64) (pmChoice, *apiError) {
	if pmID != "" && spec != nil {
		return pmChoice{}, invalid("parameters_exclusive", "payment_method_data", "You may only specify one of these parameters: payment_method, payment_method_data.")
	}
	if spec != nil {
		return pmChoice{fresh: s.newPMFromSpec(spec, now)}, nil
	}
	if pmID == "" {
		return pmChoice{}, nil
	}
	if tc, ok := lookupTestCard(pmID); ok {
		return pmChoice{fresh: s.newPMFromTestCard(tc, now)}, nil
	}
	pm := s.st.PMs[pmID]
	if pm == nil {
		return pmChoice{}, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "resource_missing", Param: "payment_method", Message: fmt.Sprintf("No such PaymentMethod: '%s'", pmID)}
	}
	if pm.Customer != "" && pm.Customer != customer {
		return pmChoice{}, invalid("payment_method_invalid_parameter", "payment_method", "The provided PaymentMethod is attached to customer %s; pass customer=%s with it.", pm.Customer, pm.Customer)
	}
	return pmChoice{existing: pm}, nil
}

func checkCompatible(pm *pmRec, types []string) *apiError {
	if pm == nil || slices.Contains(types, pm.Type) {
		return nil
	}
	return invalid("payment_intent_incompatible_payment_method", "payment_method",
		"The PaymentMethod provided (%s) is not allowed for this PaymentIntent. Please attach a PaymentMethod of one of the following types: %s.", pm.Type, strings.Join(types, ", "))
}

// offSessionParam reads off_session: a boolean, or one_off / recurring.
func offSessionParam(p *params) bool {
	v, ok := p.str("off_session")
	if !ok || v == "" {
		return false
	}
	switch v {
	case "true", "one_off", "recurring":
		return true
	case "false":
		return false
	}
	p.fail(invalid("parameter_invalid_boolean", "off_session", "Invalid off_session: must be a boolean, one_off or recurring"))
	return false
}

// consumeAccepted reads parameters Stripe accepts that the sandbox does
// not model, so they are not reported as unknown.
func consumeAccepted(p *params, names ...string) {
	for _, n := range names {
		p.consume(n)
	}
}

// POST /v1/payment_intents
func (s *Server) createIntent(rc *reqCtx) (any, *apiError) {
	p := rc.p
	amount, ok := p.int("amount")
	if !ok && p.err == nil {
		p.fail(missingParam("amount"))
	}
	currency := p.requiredStr("currency")
	types, typesGiven := p.strList("payment_method_types")
	apmEnabled, apmGiven := p.bool("automatic_payment_methods", "enabled")
	allowRedirects, _ := p.enum([]string{"always", "never"}, "automatic_payment_methods", "allow_redirects")
	captureMethod, _ := p.enum(captureMethods, "capture_method")
	confirmationMethod, _ := p.enum([]string{"automatic", "manual"}, "confirmation_method")
	confirm, _ := p.bool("confirm")
	pmID, _ := p.str("payment_method")
	rd := readReaderData(p)
	var spec *pmSpec
	if rd == nil {
		spec = readPMSpec(p, "payment_method_data")
	}
	customer, _ := p.str("customer")
	sfu, _ := p.enum([]string{"off_session", "on_session"}, "setup_future_usage")
	offSession := offSessionParam(p)
	returnURL, _ := p.str("return_url")
	desc, _ := p.str("description")
	receipt, _ := p.str("receipt_email")
	meta := p.metadata()
	consumeAccepted(p, "payment_method_options", "mandate_data", "statement_descriptor", "statement_descriptor_suffix", "error_on_requires_action", "use_stripe_sdk", "shipping")
	expand := p.expand()
	if e := p.done(); e != nil {
		return nil, e
	}
	if captureMethod == "" {
		captureMethod = "automatic_async"
	}
	if confirmationMethod == "" {
		confirmationMethod = "automatic"
	}
	validateCurrency(p, currency)
	if p.err == nil {
		validateAmount(p, amount, currency, "amount")
	}
	if typesGiven && apmGiven {
		p.fail(invalid("parameters_exclusive", "automatic_payment_methods", "You may only specify one of these parameters: automatic_payment_methods, payment_method_types."))
	}
	var apm *autoPM
	if !typesGiven || len(types) == 0 {
		types = []string{"card"}
		if !typesGiven {
			apm = &autoPM{Enabled: true, AllowRedirects: "always"}
			if apmGiven && !apmEnabled {
				apm = nil
			}
			if allowRedirects != "" && apm != nil {
				apm.AllowRedirects = allowRedirects
			}
			if apm != nil && currency == "eur" && captureMethod != "manual" {
				types = append(types, "sepa_debit")
			}
		}
	}
	types = slices.Compact(types)
	if p.err == nil {
		validateTypes(p, types, currency, amount, captureMethod)
	}
	if p.err != nil {
		return nil, p.err
	}
	if customer != "" && s.st.Customers[customer] == nil {
		return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "resource_missing", Param: "customer", Message: fmt.Sprintf("No such customer: '%s'", customer)}
	}
	var choice pmChoice
	var e *apiError
	if rd != nil {
		choice, e = s.readerChoice(rd, pmID, nil, amount, currency, rc.now)
	} else {
		choice, e = s.choosePM(p, pmID, spec, customer, rc.now)
	}
	if e != nil {
		return nil, e
	}
	if e := checkCompatible(choice.rec(), types); e != nil {
		return nil, e
	}
	if confirm {
		if e := needsReturnURL(choice.rec(), returnURL); e != nil {
			return nil, e
		}
		if choice.rec() == nil {
			return nil, invalid("payment_intent_unexpected_state", "payment_method", "You cannot confirm this PaymentIntent because it's missing a payment method. Pass payment_method or payment_method_data with confirm=true.")
		}
	}

	// Commit.
	pi := &intentRec{
		Seq: s.st.nextSeq(), ID: s.ids.id("pi_"), Amount: amount, AutomaticPM: apm, CaptureMethod: captureMethod,
		ConfirmationMethod: confirmationMethod, Created: rc.now, Currency: currency, Customer: customer, Description: desc,
		Metadata: meta.apply(nil), PaymentMethodTypes: types, ReceiptEmail: receipt, SetupFutureUsage: sfu,
		Status: statusRequiresPaymentMethod, ReturnURL: returnURL, OffSession: offSession,
	}
	pi.ClientSecret = pi.ID + "_secret_" + s.ids.token(25)
	if rd != nil {
		pi.OfflineReference = rd.offlineRef
	}
	if choice.fresh != nil {
		s.addPM(choice.fresh)
	}
	if pm := choice.rec(); pm != nil {
		pi.PaymentMethod = pm.ID
		pi.Status = statusRequiresConfirmation
	}
	s.st.Intents[pi.ID] = pi
	s.st.IntentOrder = append(s.st.IntentOrder, pi.ID)
	s.piEvent(rc, pi, "payment_intent.created", "", rc.now)
	if confirm {
		if e := s.process(rc, pi); e != nil {
			return nil, e
		}
	}
	return s.renderIntent(pi, expand), nil
}

// needsReturnURL: redirect-based methods cannot be confirmed without one.
func needsReturnURL(pm *pmRec, returnURL string) *apiError {
	if pm != nil && (pm.Type == "twint" || pm.Type == "mobilepay") && returnURL == "" {
		return invalid("parameter_missing", "return_url", "A return_url is required to confirm a PaymentIntent with a %s PaymentMethod.", pm.Type)
	}
	return nil
}

// GET /v1/payment_intents/{id}
func (s *Server) retrieveIntent(rc *reqCtx) (any, *apiError) {
	consumeAccepted(rc.p, "client_secret")
	expand := rc.p.expand()
	if e := rc.p.done(); e != nil {
		return nil, e
	}
	pi, e := s.intent(rc.id)
	if e != nil {
		return nil, e
	}
	return s.renderIntent(pi, expand), nil
}

// POST /v1/payment_intents/{id}
func (s *Server) updateIntent(rc *reqCtx) (any, *apiError) {
	p := rc.p
	amount, amountGiven := p.int("amount")
	currency, currencyGiven := p.str("currency")
	customer, customerGiven := p.str("customer")
	desc, descGiven := p.str("description")
	receipt, receiptGiven := p.str("receipt_email")
	meta := p.metadata()
	pmID, pmGiven := p.str("payment_method")
	spec := readPMSpec(p, "payment_method_data")
	types, typesGiven := p.strList("payment_method_types")
	captureMethod, captureGiven := p.enum(captureMethods, "capture_method")
	sfu, sfuGiven := p.str("setup_future_usage")
	consumeAccepted(p, "payment_method_options", "statement_descriptor", "statement_descriptor_suffix", "shipping")
	expand := p.expand()
	if e := p.done(); e != nil {
		return nil, e
	}
	pi, e := s.intent(rc.id)
	if e != nil {
		return nil, e
	}
	if sfuGiven && sfu != "" && sfu != "off_session" && sfu != "on_session" {
		return nil, invalid("parameter_invalid_string", "setup_future_usage", "Invalid setup_future_usage: must be one of off_session, on_session")
	}
	paymentFields := amountGiven || currencyGiven || pmGiven || spec != nil || typesGiven || captureGiven || customerGiven
	if paymentFields && !slices.Contains(updatableStatuses, pi.Status) {
		return nil, unexpectedState(pi, "This PaymentIntent's amount, currency, customer and payment details could not be updated because it has a status of %s. You may only update them on a PaymentIntent with one of the following statuses: %s.", pi.Status, strings.Join(updatableStatuses, ", "))
	}
	newCurrency, newAmount, newTypes, newCapture := pi.Currency, pi.Amount, pi.PaymentMethodTypes, pi.CaptureMethod
	if currencyGiven {
		newCurrency = currency
		validateCurrency(p, currency)
	}
	if amountGiven {
		newAmount = amount
	}
	if typesGiven && len(types) > 0 {
		newTypes = slices.Compact(types)
	}
	if captureGiven && captureMethod != "" {
		newCapture = captureMethod
	}
	if p.err == nil && (amountGiven || currencyGiven) {
		validateAmount(p, newAmount, newCurrency, "amount")
	}
	if p.err == nil && (amountGiven || currencyGiven || typesGiven || captureGiven) {
		validateTypes(p, newTypes, newCurrency, newAmount, newCapture)
	}
	if p.err != nil {
		return nil, p.err
	}
	newCustomer := pi.Customer
	if customerGiven {
		if customer != "" && s.st.Customers[customer] == nil {
			return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "resource_missing", Param: "customer", Message: fmt.Sprintf("No such customer: '%s'", customer)}
		}
		newCustomer = customer
	}
	var choice pmChoice
	if pmGiven || spec != nil {
		if choice, e = s.choosePM(p, pmID, spec, newCustomer, rc.now); e != nil {
			return nil, e
		}
	}
	if e := checkCompatible(choice.rec(), newTypes); e != nil {
		return nil, e
	}
	clearing := pmGiven && pmID == "" && spec == nil
	if pm := s.st.PMs[pi.PaymentMethod]; choice.rec() == nil && !clearing && pm != nil && !slices.Contains(newTypes, pm.Type) {
		return nil, checkCompatible(pm, newTypes)
	}

	// Commit.
	pi.Amount, pi.Currency, pi.PaymentMethodTypes, pi.CaptureMethod, pi.Customer = newAmount, newCurrency, newTypes, newCapture, newCustomer
	if typesGiven {
		pi.AutomaticPM = nil
	}
	if descGiven {
		pi.Description = desc
	}
	if receiptGiven {
		pi.ReceiptEmail = receipt
	}
	if sfuGiven {
		pi.SetupFutureUsage = sfu
	}
	pi.Metadata = meta.apply(pi.Metadata)
	if choice.fresh != nil {
		s.addPM(choice.fresh)
	}
	if pm := choice.rec(); pm != nil {
		pi.PaymentMethod = pm.ID
	} else if clearing {
		pi.PaymentMethod = ""
	}
	if paymentFields && (pi.Status == statusRequiresAction || pi.Status == statusRequiresConfirmation || pi.Status == statusRequiresPaymentMethod) {
		// Changing what is paid, or with what, restarts the attempt.
		s.clearAction(pi)
		if pi.PaymentMethod != "" {
			pi.Status = statusRequiresConfirmation
		} else {
			pi.Status = statusRequiresPaymentMethod
		}
	}
	return s.renderIntent(pi, expand), nil
}

// POST /v1/payment_intents/{id}/confirm
func (s *Server) confirmIntent(rc *reqCtx) (any, *apiError) {
	p := rc.p
	pmID, pmGiven := p.str("payment_method")
	rd := readReaderData(p)
	var spec *pmSpec
	if rd == nil {
		spec = readPMSpec(p, "payment_method_data")
	}
	returnURL, _ := p.str("return_url")
	captureMethod, _ := p.enum(captureMethods, "capture_method")
	sfu, sfuGiven := p.str("setup_future_usage")
	offSession := offSessionParam(p)
	receipt, receiptGiven := p.str("receipt_email")
	consumeAccepted(p, "payment_method_options", "mandate_data", "error_on_requires_action", "use_stripe_sdk", "shipping", "client_secret")
	expand := p.expand()
	if e := p.done(); e != nil {
		return nil, e
	}
	pi, e := s.intent(rc.id)
	if e != nil {
		return nil, e
	}
	if !slices.Contains(confirmableStatuses, pi.Status) {
		return nil, unexpectedState(pi, "You cannot confirm this PaymentIntent because it has a status of %s. Only a PaymentIntent with one of the following statuses may be confirmed: %s.", pi.Status, strings.Join(confirmableStatuses, ", "))
	}
	if sfuGiven && sfu != "" && sfu != "off_session" && sfu != "on_session" {
		return nil, invalid("parameter_invalid_string", "setup_future_usage", "Invalid setup_future_usage: must be one of off_session, on_session")
	}
	if captureMethod != "" {
		validateTypes(p, pi.PaymentMethodTypes, pi.Currency, pi.Amount, captureMethod)
		if p.err != nil {
			return nil, p.err
		}
	}
	var choice pmChoice
	switch {
	case rd != nil:
		if choice, e = s.readerChoice(rd, pmID, pi, pi.Amount, pi.Currency, rc.now); e != nil {
			return nil, e
		}
	case (pmGiven && pmID != "") || spec != nil:
		if choice, e = s.choosePM(p, pmID, spec, pi.Customer, rc.now); e != nil {
			return nil, e
		}
	}
	pm := choice.rec()
	if pm == nil {
		pm = s.st.PMs[pi.PaymentMethod]
	}
	if pm == nil {
		return nil, unexpectedState(pi, "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.")
	}
	if e := checkCompatible(pm, pi.PaymentMethodTypes); e != nil {
		return nil, e
	}
	if returnURL == "" {
		returnURL = pi.ReturnURL
	}
	if e := needsReturnURL(pm, returnURL); e != nil {
		return nil, e
	}

	// Commit.
	if choice.fresh != nil {
		s.addPM(choice.fresh)
	}
	samePM := pm.ID == pi.PaymentMethod
	pi.PaymentMethod = pm.ID
	pi.ReturnURL = returnURL
	pi.OffSession = offSession
	if rd != nil && rd.offlineRef != "" {
		pi.OfflineReference = rd.offlineRef
	}
	if captureMethod != "" {
		pi.CaptureMethod = captureMethod
	}
	if sfuGiven {
		pi.SetupFutureUsage = sfu
	}
	if receiptGiven {
		pi.ReceiptEmail = receipt
	}
	if pi.Status == statusRequiresAction && samePM {
		// The customer has not acted yet: confirming again changes nothing.
		return s.renderIntent(pi, expand), nil
	}
	if !samePM {
		s.clearAction(pi)
	}
	if e := s.process(rc, pi); e != nil {
		return nil, e
	}
	return s.renderIntent(pi, expand), nil
}

// clearAction forgets a pending customer action.
func (s *Server) clearAction(pi *intentRec) {
	if pi.RedirectNonce != "" {
		delete(s.st.nonces, pi.RedirectNonce)
	}
	pi.NextAction, pi.ActionKind, pi.ActionDeadline, pi.Authenticated, pi.RedirectNonce = nil, "", 0, false, ""
}

// process runs a confirmation attempt with the PaymentIntent's payment
// method. A decline returns the 402 card_error to send (saved for replay)
// after moving the PaymentIntent back to requires_payment_method.
func (s *Server) process(rc *reqCtx, pi *intentRec) *apiError {
	pm := s.st.PMs[pi.PaymentMethod]
	now := rc.now
	prev := pi.Status
	pi.LastPaymentError = nil
	s.dirty = true
	switch pm.Type {
	case "card_present", "interac_present":
		switch pm.Outcome { // a simulated card decides; else the amount does
		case "approve":
			s.authorize(rc, pi, pm, prev, now)
			return nil
		case "decline":
			return s.decline(rc, pi, pm, pm.ErrorCode, pm.DeclineCode, prev)
		}
		if code := cardPresentDecline(pi.Amount); code != "" {
			return s.decline(rc, pi, pm, "card_declined", code, prev)
		}
		s.authorize(rc, pi, pm, prev, now)
	case "card":
		switch pm.Outcome {
		case "decline":
			return s.decline(rc, pi, pm, pm.ErrorCode, pm.DeclineCode, prev)
		case "3ds":
			if pi.Authenticated {
				s.authorize(rc, pi, pm, prev, now)
				break
			}
			if pi.OffSession {
				return s.decline(rc, pi, pm, "authentication_required", "authentication_required", prev)
			}
			s.requireAction(rc, pi, pm, actionThreeDS, now+int64(s.opts.ActionTimeout.Seconds()), prev)
		default:
			s.authorize(rc, pi, pm, prev, now)
		}
	case "twint":
		s.requireAction(rc, pi, pm, actionRedirect, 0, prev)
	case "mobilepay":
		s.requireAction(rc, pi, pm, actionRedirect, now+int64(s.opts.MobilePayTimeout.Seconds()), prev)
	case "sepa_debit":
		ch := s.newCharge(pi, pm, now)
		ch.Status, ch.Paid = "pending", false
		pi.Status = statusProcessing
		pi.SettleAt = now + int64(s.opts.ProcessingDelay.Seconds())
		pi.SettleFail = pm.Outcome == "decline"
		s.st.schedule(timerSettle, pi.SettleAt, pi.ID)
		s.piEvent(rc, pi, "payment_intent.processing", prev, now)
	}
	return nil
}

func (s *Server) requireAction(rc *reqCtx, pi *intentRec, pm *pmRec, kind string, deadline int64, prev string) {
	s.clearAction(pi)
	nonce := s.ids.token(24)
	pi.RedirectNonce = nonce
	s.st.nonces[nonce] = pi.ID
	url := rc.base + "/pm-redirects/authorize/" + nonce
	if kind == actionRedirect || pi.ReturnURL != "" {
		pi.NextAction = &nextActionJS{Type: "redirect_to_url", RedirectToURL: &redirectToURL{URL: url, ReturnURL: strOrNil(pi.ReturnURL)}}
	} else {
		pi.NextAction = &nextActionJS{Type: "use_stripe_sdk", UseStripeSDK: &useStripeSDKJS{Type: "three_d_secure_redirect", StripeJS: url, Source: pm.ID}}
	}
	pi.ActionKind = kind
	pi.ActionDeadline = deadline
	pi.Status = statusRequiresAction
	s.st.schedule(timerAction, deadline, pi.ID)
	s.piEvent(rc, pi, "payment_intent.requires_action", prev, rc.now)
}

func (s *Server) newCharge(pi *intentRec, pm *pmRec, now int64) *chargeRec {
	ch := &chargeRec{ID: s.ids.id("ch_"), Amount: pi.Amount, Created: now, Currency: pi.Currency, Customer: pi.Customer,
		PaymentIntent: pi.ID, PaymentMethod: pm.ID, Status: "succeeded", Paid: true}
	s.st.Charges[ch.ID] = ch
	pi.LatestCharge = ch.ID
	return ch
}

// authorize approves the payment: requires_capture for manual capture,
// succeeded otherwise.
func (s *Server) authorize(rc *reqCtx, pi *intentRec, pm *pmRec, prev string, at int64) {
	s.clearAction(pi)
	ch := s.newCharge(pi, pm, at)
	if pi.CaptureMethod == "manual" {
		expiry := s.opts.CardAuthExpiry
		if pm.Type == "card_present" || pm.Type == "interac_present" {
			expiry = s.opts.AuthExpiry
		}
		pi.Status = statusRequiresCapture
		pi.AmountCapturable = pi.Amount
		pi.CaptureBefore = at + int64(expiry.Seconds())
		ch.CaptureBefore = pi.CaptureBefore
		s.st.schedule(timerAuthExpiry, pi.CaptureBefore, pi.ID)
		s.piEvent(rc, pi, "payment_intent.amount_capturable_updated", prev, at)
	} else {
		pi.Status = statusSucceeded
		pi.AmountReceived = pi.Amount
		ch.Captured, ch.AmountCaptured = true, pi.Amount
		s.piEvent(rc, pi, "payment_intent.succeeded", prev, at)
	}
	s.saveForFuture(rc, pi, pm, at)
}

// saveForFuture attaches the payment method to the customer when the
// PaymentIntent asked for setup_future_usage.
//
// A card read by a reader cannot be attached itself: as on Stripe, a
// "generated card" (a card PaymentMethod with the same brand, last 4 and
// expiry, no read method) is created, attached, and named on the charge
// (payment_method_details.card_present.generated_card).
func (s *Server) saveForFuture(rc *reqCtx, pi *intentRec, pm *pmRec, at int64) {
	if pi.SetupFutureUsage == "" || pi.Customer == "" {
		return
	}
	if (pm.Type == "card_present" || pm.Type == "interac_present") && pm.Card != nil {
		card := *pm.Card
		card.ReadMethod = ""
		gen := &pmRec{ID: s.ids.id("pm_"), Type: "card", Created: at, Metadata: map[string]string{}, AllowRedisplay: "always",
			Card: &card, Customer: pi.Customer}
		s.addPM(gen)
		if ch := s.st.Charges[pi.LatestCharge]; ch != nil {
			ch.GeneratedCard = gen.ID
		}
		s.emit(rc, "payment_method.attached", renderPM(gen), nil, at)
		return
	}
	if !attachable(pm.Type) || pm.Customer == pi.Customer {
		return
	}
	pm.Customer = pi.Customer
	s.touch(bucketPMs, pm.ID)
	s.emit(rc, "payment_method.attached", renderPM(pm), nil, at)
}

// decline fails the attempt: the PaymentIntent returns to
// requires_payment_method with last_payment_error and no payment method.
func (s *Server) decline(rc *reqCtx, pi *intentRec, pm *pmRec, code, declineCode, prev string) *apiError {
	s.clearAction(pi)
	msg := declineMessages[declineCode]
	if msg == "" {
		msg = declineMessages["generic_decline"]
	}
	ch := s.newCharge(pi, pm, rc.now)
	ch.Status, ch.Paid, ch.FailureCode, ch.FailureMessage = "failed", false, code, msg
	pi.LastPaymentError = &storedError{Type: typeCard, Code: code, DeclineCode: declineCode, Message: msg, Charge: ch.ID, PaymentMethod: pm.ID}
	pi.PaymentMethod = ""
	pi.Status = statusRequiresPaymentMethod
	s.piEvent(rc, pi, "payment_intent.payment_failed", prev, rc.now)
	return &apiError{Status: http.StatusPaymentRequired, Type: typeCard, Code: code, DeclineCode: declineCode, Message: msg,
		PaymentIntentID: pi.ID, PaymentMethodID: pm.ID, ChargeID: ch.ID, save: true}
}

// failAttempt is a failure without a request (timeouts, the wallet page's
// "Fail test payment", a failed SEPA debit).
func (s *Server) failAttempt(rc *reqCtx, pi *intentRec, errType, code, declineCode, msg string, at int64) {
	prev := pi.Status
	pmID := pi.PaymentMethod
	s.clearAction(pi)
	pi.LastPaymentError = &storedError{Type: errType, Code: code, DeclineCode: declineCode, Message: msg, PaymentMethod: pmID, Charge: pi.LatestCharge}
	pi.PaymentMethod = ""
	pi.Status = statusRequiresPaymentMethod
	pi.SettleAt, pi.SettleFail = 0, false
	s.dirty = true
	s.piEvent(rc, pi, "payment_intent.payment_failed", prev, at)
}

const authFailureMessage = "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again."

// expireAction ends the MobilePay window or the one-hour authentication
// window: back to requires_payment_method, method detached.
func (s *Server) expireAction(pi *intentRec, at int64) {
	if pi.Status == statusRequiresAction || (pi.Status == statusRequiresConfirmation && pi.Authenticated) {
		s.failAttempt(nil, pi, typeInvalidRequest, "payment_intent_authentication_failure", "", authFailureMessage, at)
	}
}

// expireAuthorization cancels an uncaptured PaymentIntent whose
// authorisation lapsed (cancellation_reason automatic); a later capture
// fails with charge_expired_for_capture.
func (s *Server) expireAuthorization(pi *intentRec, at int64) {
	prev := pi.Status
	pi.Status = statusCanceled
	pi.CancellationReason = "automatic"
	pi.CanceledAt = at
	pi.AmountCapturable = 0
	pi.AuthExpired = true
	if ch := s.st.Charges[pi.LatestCharge]; ch != nil {
		ch.AmountRefunded, ch.Refunded = ch.Amount, true
	}
	s.dirty = true
	s.piEvent(nil, pi, "payment_intent.canceled", prev, at)
}

// settle finishes a SEPA debit.
func (s *Server) settle(pi *intentRec, at int64) {
	ch := s.st.Charges[pi.LatestCharge]
	if pi.SettleFail {
		if ch != nil {
			ch.Status, ch.Paid, ch.FailureCode, ch.FailureMessage = "failed", false, "insufficient_funds", "The customer's account has insufficient funds to cover this payment."
		}
		s.failAttempt(nil, pi, typeCard, "payment_method_provider_decline", "insufficient_funds", "The customer's account has insufficient funds to cover this payment.", at)
		return
	}
	prev := pi.Status
	pi.Status = statusSucceeded
	pi.AmountReceived = pi.Amount
	pi.SettleAt = 0
	if ch != nil {
		ch.Status, ch.Paid, ch.Captured, ch.AmountCaptured = "succeeded", true, true, pi.Amount
	}
	if pm := s.st.PMs[pi.PaymentMethod]; pm != nil {
		s.saveForFuture(nil, pi, pm, at)
	}
	s.dirty = true
	s.piEvent(nil, pi, "payment_intent.succeeded", prev, at)
}

// POST /v1/payment_intents/{id}/capture
func (s *Server) captureIntent(rc *reqCtx) (any, *apiError) {
	p := rc.p
	amt, amtGiven := p.int("amount_to_capture")
	meta := p.metadata()
	p.bool("final_capture")
	consumeAccepted(p, "statement_descriptor", "statement_descriptor_suffix", "application_fee_amount")
	expand := p.expand()
	if e := p.done(); e != nil {
		return nil, e
	}
	pi, e := s.intent(rc.id)
	if e != nil {
		return nil, e
	}
	if pi.AuthExpired {
		return nil, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "charge_expired_for_capture",
			Message: "The charge cannot be captured as the authorization has expired. Auth and capture charges must be captured within the authorization window.", PaymentIntentID: pi.ID, save: true}
	}
	if pi.Status != statusRequiresCapture {
		return nil, unexpectedState(pi, "This PaymentIntent could not be captured because it has a status of %s. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.", pi.Status)
	}
	if !amtGiven {
		amt = pi.AmountCapturable
	}
	if amt < 1 {
		return nil, invalid("parameter_invalid_integer", "amount_to_capture", "Invalid positive integer: amount_to_capture must be at least 1")
	}
	if amt > pi.AmountCapturable {
		return nil, invalid("amount_too_large", "amount_to_capture", "The amount_to_capture (%d) must be less than or equal to the PaymentIntent's amount_capturable (%d).", amt, pi.AmountCapturable)
	}
	pm := s.st.PMs[pi.PaymentMethod]
	if pm != nil && pm.Type == "mobilepay" && amt != pi.AmountCapturable {
		return nil, invalid("payment_intent_invalid_parameter", "amount_to_capture", "MobilePay only supports capturing the full amount (%d).", pi.AmountCapturable)
	}
	prev := pi.Status
	pi.Status = statusSucceeded
	pi.AmountReceived = amt
	pi.AmountCapturable = 0
	pi.CaptureBefore = 0
	pi.Metadata = meta.apply(pi.Metadata)
	if ch := s.st.Charges[pi.LatestCharge]; ch != nil {
		ch.Captured, ch.AmountCaptured = true, amt
		if amt < ch.Amount {
			ch.AmountRefunded = ch.Amount - amt
		}
	}
	s.piEvent(rc, pi, "payment_intent.succeeded", prev, rc.now)
	return s.renderIntent(pi, expand), nil
}

// POST /v1/payment_intents/{id}/cancel
func (s *Server) cancelIntent(rc *reqCtx) (any, *apiError) {
	p := rc.p
	reason, _ := p.enum(cancellationReasons, "cancellation_reason")
	expand := p.expand()
	if e := p.done(); e != nil {
		return nil, e
	}
	pi, e := s.intent(rc.id)
	if e != nil {
		return nil, e
	}
	if !slices.Contains(cancelableStatuses, pi.Status) {
		return nil, unexpectedState(pi, "You cannot cancel this PaymentIntent because it has a status of %s. Only a PaymentIntent with one of the following statuses may be canceled: %s.", pi.Status, strings.Join(cancelableStatuses, ", "))
	}
	prev := pi.Status
	s.clearAction(pi)
	pi.Status = statusCanceled
	pi.CanceledAt = rc.now
	pi.CancellationReason = reason
	pi.AmountCapturable = 0
	pi.CaptureBefore = 0
	if ch := s.st.Charges[pi.LatestCharge]; ch != nil && ch.Status == "succeeded" && !ch.Captured {
		ch.AmountRefunded, ch.Refunded = ch.Amount, true
	}
	s.piEvent(rc, pi, "payment_intent.canceled", prev, rc.now)
	return s.renderIntent(pi, expand), nil
}

// POST /v1/test_helpers/payment_intents/{id}/present_payment_method
//
// The reader path: a card is presented on the (simulated) reader for this
// PaymentIntent. A card_present PaymentMethod is created and attached, and
// the PaymentIntent moves to requires_confirmation; confirming it then
// applies the test-amount rules.
func (s *Server) presentPaymentMethod(rc *reqCtx) (any, *apiError) {
	p := rc.p
	typ, _ := p.enum([]string{"card_present", "interac_present"}, "type")
	if typ == "" {
		typ = "card_present"
	}
	brand, brandGiven := p.str(typ, "brand")
	last4, last4Given := p.str(typ, "last4")
	readMethod, _ := p.enum([]string{"contactless_emv", "contact_emv", "magnetic_stripe_track2", "contactless_magstripe_mode"}, typ, "read_method")
	simulated, _ := p.enum(simulatedCardNames(), typ, "simulated_card")
	payloadB64, payloadGiven := p.str(typ, "reader_payload")
	expand := p.expand()
	if e := p.done(); e != nil {
		return nil, e
	}
	expMonth, expYear := 12, yearOf(rc.now)+3
	if payloadGiven {
		if simulated != "" {
			return nil, invalid("parameter_invalid_string", typ+"[reader_payload]", "Pass either %s[reader_payload] or %s[simulated_card], not both.", typ, typ)
		}
		param := typ + "[reader_payload]"
		read, e := openReaderPayload(rc.id, param, payloadB64, "this PaymentIntent")
		if e != nil {
			return nil, e
		}
		if read.Offline {
			return nil, invalid("parameter_invalid_string", param, "Invalid %s: it was collected offline, for deferred authorisation; forward it with payment_method_data[%s][offline_reference] when creating or confirming the PaymentIntent.", param, typ)
		}
		simulated = read.TestCard
		brand, brandGiven = read.Brand, true
		last4, last4Given = read.Last4, true
		readMethod = read.ReadMethod
		if read.ExpMonth >= 1 && read.ExpMonth <= 12 && read.ExpYear > 0 {
			expMonth, expYear = read.ExpMonth, read.ExpYear
		}
	}
	if !brandGiven {
		brand = ""
	}
	if !last4Given {
		last4 = ""
	}
	pm, e := newReaderPM(readerCard{typ: typ, brand: brand, last4: last4, readMethod: readMethod, expMonth: expMonth, expYear: expYear,
		simulated: simulated}, rc.now, typ+"[brand]", typ+"[last4]")
	if e != nil {
		return nil, e
	}
	pi, e := s.intent(rc.id)
	if e != nil {
		return nil, e
	}
	if pi.Status != statusRequiresPaymentMethod && pi.Status != statusRequiresConfirmation {
		return nil, unexpectedState(pi, "A card cannot be presented for this PaymentIntent because it has a status of %s. Only a PaymentIntent in requires_payment_method (or requires_confirmation, to replace the collected card) can be processed by a reader.", pi.Status)
	}
	if !slices.Contains(pi.PaymentMethodTypes, typ) {
		return nil, invalid("payment_intent_incompatible_payment_method", "type", "This PaymentIntent does not accept %s; its payment_method_types are %s.", typ, strings.Join(pi.PaymentMethodTypes, ", "))
	}
	pm.ID = s.ids.id("pm_")
	s.addPM(pm)
	s.clearAction(pi)
	pi.PaymentMethod = pm.ID
	pi.LastPaymentError = nil
	pi.Status = statusRequiresConfirmation
	return s.renderIntent(pi, expand), nil
}

// openReaderPayload opens a simulated reader's payload presented under
// param for key (a PaymentIntent id, or an offline reference), which
// forWhat names in the error. Its errors never echo the payload.
func openReaderPayload(key, param, b64, forWhat string) (simcard.Card, *apiError) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return simcard.Card{}, invalid("parameter_invalid_string", param, "Invalid %s: not base64.", param)
	}
	card, err := simcard.Open(key, raw)
	if err != nil {
		return simcard.Card{}, invalid("parameter_invalid_string", param, "Invalid %s: it was not collected by a simulated reader for %s.", param, forWhat)
	}
	if _, ok := simulatedCards[card.TestCard]; !ok {
		return simcard.Card{}, invalid("parameter_invalid_string", param, "Invalid %s: unknown test card %q.", param, truncate(card.TestCard, 40))
	}
	return card, nil
}

// readerCard is what a reader read, as the test helper's parameters or a
// payload give it; empty fields take the simulated card's or the defaults.
type readerCard struct {
	typ, brand, last4, readMethod string
	expMonth, expYear             int
	simulated                     string
	offlineStoredAt               int64
}

// newReaderPM makes the card_present or interac_present PaymentMethod for
// a card a reader read, without an id: the caller draws one when it is
// sure to keep it. brandParam and last4Param name what a bad brand or
// last 4 is blamed on.
func newReaderPM(c readerCard, now int64, brandParam, last4Param string) (*pmRec, *apiError) {
	card := simulatedCards[c.simulated]
	brand, last4, readMethod := c.brand, c.last4, c.readMethod
	if brand == "" {
		brand = card.brand
	}
	if brand == "" {
		brand = "visa"
		if c.typ == "interac_present" {
			brand = "interac"
		}
	}
	if !cardBrands[brand] {
		return nil, invalid("parameter_invalid_string", brandParam, "Invalid brand: %s", truncate(brand, 20))
	}
	if last4 == "" {
		last4 = "4242"
	}
	if len(last4) != 4 || strings.Trim(last4, "0123456789") != "" {
		return nil, invalid("parameter_invalid_string", last4Param, "Invalid last4: must be four digits")
	}
	if readMethod == "" {
		readMethod = "contactless_emv"
	}
	pm := &pmRec{Type: c.typ, Created: now, Metadata: map[string]string{}, AllowRedisplay: "unspecified",
		Card: &cardRec{Brand: brand, Last4: last4, ExpMonth: c.expMonth, ExpYear: c.expYear, Funding: "credit", Country: "US",
			Fingerprint: fingerprintOf(c.typ, brand, last4), ReadMethod: readMethod, OfflineStoredAt: c.offlineStoredAt},
		Outcome: card.outcome, DeclineCode: card.declineCode}
	if card.outcome == "decline" {
		pm.ErrorCode = "card_declined"
	}
	return pm, nil
}

// Forwarding a card a reader collected, possibly offline (store and
// forward): payment_method_data[type]=card_present (or interac_present)
// with payment_method_data[card_present][reader_payload] and, for a payment
// collected while the payment API was out of reach,
// payment_method_data[card_present][offline_reference].

// maxOfflineReference bounds an offline reference, as the reader protocol
// bounds the Collect request's PaymentIntent field.
const maxOfflineReference = 255

// readerData is payment_method_data describing a card a reader collected.
type readerData struct {
	typ        string
	payload    string
	offlineRef string
}

func (rd *readerData) param(name string) string {
	return "payment_method_data[" + rd.typ + "][" + name + "]"
}

// readReaderData reads payment_method_data when its type is a reader's
// (card_present, interac_present); otherwise it reads nothing and returns
// nil, leaving payment_method_data to readPMSpec.
func readReaderData(p *params) *readerData {
	n := p.root.fields["payment_method_data"]
	if n == nil || n.fields == nil {
		return nil
	}
	t := n.fields["type"]
	if t == nil || t.str == nil || (*t.str != "card_present" && *t.str != "interac_present") {
		return nil
	}
	rd := &readerData{typ: *t.str}
	p.str("payment_method_data", "type")
	rd.payload = p.requiredStr("payment_method_data", rd.typ, "reader_payload")
	if ref, ok := p.str("payment_method_data", rd.typ, "offline_reference"); ok {
		switch {
		case ref == "":
			p.fail(emptyParam(rd.param("offline_reference")))
		case len(ref) > maxOfflineReference:
			p.fail(invalid("parameter_invalid_string", rd.param("offline_reference"), "Invalid %s: at most %d characters.", rd.param("offline_reference"), maxOfflineReference))
		}
		rd.offlineRef = ref
	}
	return rd
}

// intentByOfflineReference finds the PaymentIntent a payment collected
// offline under ref was forwarded to.
func (s *Server) intentByOfflineReference(ref string) *intentRec {
	for _, id := range s.st.IntentOrder {
		if pi := s.st.Intents[id]; pi.OfflineReference == ref {
			return pi
		}
	}
	return nil
}

// readerChoice opens the payload of rd for pi (nil when the PaymentIntent
// is being created) and makes its PaymentMethod. With an offline reference
// the payload must have been collected offline under that reference, and
// the reference must not have been forwarded to another PaymentIntent;
// without one it must have been collected online for pi.
func (s *Server) readerChoice(rd *readerData, pmID string, pi *intentRec, amount int64, currency string, now int64) (pmChoice, *apiError) {
	if pmID != "" {
		return pmChoice{}, invalid("parameters_exclusive", "payment_method_data", "You may only specify one of these parameters: payment_method, payment_method_data.")
	}
	payloadParam := rd.param("reader_payload")
	var read simcard.Card
	var e *apiError
	switch {
	case rd.offlineRef != "":
		if other := s.intentByOfflineReference(rd.offlineRef); other != nil && (pi == nil || other.ID != pi.ID) {
			return pmChoice{}, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "offline_reference_used", Param: rd.param("offline_reference"),
				Message:         fmt.Sprintf("The offline payment %s was already forwarded as PaymentIntent %s; it cannot be forwarded again.", rd.offlineRef, other.ID),
				PaymentIntentID: other.ID, save: true}
		}
		if pi != nil && pi.OfflineReference != "" && pi.OfflineReference != rd.offlineRef {
			return pmChoice{}, invalid("payment_intent_invalid_parameter", rd.param("offline_reference"),
				"This PaymentIntent was forwarded for the offline payment %s; it cannot take another one.", pi.OfflineReference)
		}
		if read, e = openReaderPayload(rd.offlineRef, payloadParam, rd.payload, "this offline reference"); e != nil {
			return pmChoice{}, e
		}
		if !read.Offline {
			return pmChoice{}, invalid("parameter_invalid_string", payloadParam, "Invalid %s: it was collected online; only a payment collected offline is forwarded with %s.", payloadParam, rd.param("offline_reference"))
		}
	case pi == nil:
		return pmChoice{}, invalid("parameter_missing", rd.param("offline_reference"),
			"Missing required param: %s. A reader payload given when creating a PaymentIntent is a payment collected offline; one collected online belongs to an existing PaymentIntent (confirm it, or use present_payment_method).", rd.param("offline_reference"))
	default:
		if read, e = openReaderPayload(pi.ID, payloadParam, rd.payload, "this PaymentIntent"); e != nil {
			return pmChoice{}, e
		}
		if read.Offline {
			return pmChoice{}, invalid("parameter_invalid_string", payloadParam, "Invalid %s: it was collected offline, for deferred authorisation; pass %s with it.", payloadParam, rd.param("offline_reference"))
		}
	}
	if (read.Amount != 0 && read.Amount != amount) || (read.Currency != "" && read.Currency != currency) {
		return pmChoice{}, invalid("parameter_invalid_string", payloadParam, "Invalid %s: the reader collected a different amount or currency than %s.", payloadParam, formatAmount(amount, currency))
	}
	c := readerCard{typ: rd.typ, brand: read.Brand, last4: read.Last4, readMethod: read.ReadMethod, simulated: read.TestCard,
		expMonth: 12, expYear: yearOf(now) + 3}
	if read.ExpMonth >= 1 && read.ExpMonth <= 12 && read.ExpYear > 0 {
		c.expMonth, c.expYear = read.ExpMonth, read.ExpYear
	}
	if read.Offline {
		c.offlineStoredAt = read.CollectedAt
		if c.offlineStoredAt <= 0 {
			c.offlineStoredAt = now
		}
	}
	pm, e := newReaderPM(c, now, payloadParam, payloadParam)
	if e != nil {
		return pmChoice{}, e
	}
	pm.ID = s.ids.id("pm_")
	return pmChoice{fresh: pm}, nil
}

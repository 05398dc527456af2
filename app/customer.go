package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"fyne.io/fyne/v2/lang"
	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/ui"
)

// Returning customers (SPEC §2.5, §2.6): the cashier looks a customer up,
// charges one of their saved payment methods with the customer present but
// off the customer's own device (off_session, confirmed by the server), and
// may save the card of a reader sale for next time with their consent.

// Errors of returning-customer payments.
var (
	// ErrNoCustomer: the sale has no customer attached.
	ErrNoCustomer = errors.New("no customer is attached to this sale")
	// ErrNotSaved: the payment method is not one of the customer's.
	ErrNotSaved = errors.New("not one of the customer's saved payment methods")
	// ErrQuery: the search text cannot be used.
	ErrQuery = errors.New("type at least 3 letters of a name, an email or a phone number")
)

// lookupTimeout bounds a customer lookup: the cashier waits for it.
const lookupTimeout = 10 * time.Second

// redisplayable are the saved payment method types a PaymentIntent may
// show again (SPEC §2.5).
var redisplayable = []string{"card", "us_bank_account", "link", "sepa_debit", "ideal", "sofort", "bancontact"}

// FindCustomers implements ui.Register: by email, phone or name (a part
// of it, at least three letters), at most 20.
func (r *Register) FindCustomers(query string) ([]ui.CustomerView, error) {
	q, err := customerQuery(query)
	if err != nil {
		return nil, fmt.Errorf("find customers: %w", err)
	}
	if !r.t.online() {
		return nil, fmt.Errorf("find customers: %w", ui.ErrOffline)
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	params := &stripe.CustomerSearchParams{SearchParams: stripe.SearchParams{Query: q, Limit: stripe.Int64(20)}}
	res, _, err := r.t.client.SearchCustomers(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("find customers: %w", offlineOr(err))
	}
	var out []ui.CustomerView
	for _, c := range res.Data {
		if c == nil || c.Deleted {
			continue
		}
		out = append(out, ui.CustomerView{ID: c.ID, Name: c.Name, Email: c.Email, Phone: c.Phone})
	}
	r.mu.Lock()
	r.found = out
	r.mu.Unlock()
	return out, nil
}

// offlineOr says "offline" for an API that did not answer, else err.
func offlineOr(err error) error {
	if c := api.ClassOf(err); c == api.Transient || c == api.Indeterminate {
		return fmt.Errorf("%w: %w", ui.ErrOffline, err)
	}
	return err
}

// customerQuery turns what the cashier typed into a search query: an
// email, a phone number, or a name (exact, or a part of at least three
// letters). Quotes and backslashes are escaped; control characters are
// refused.
func customerQuery(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len([]rune(s)) < 3 || len(s) > 200 || strings.ContainsFunc(s, unicode.IsControl) {
		return "", ErrQuery
	}
	esc := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
	switch {
	case strings.Contains(s, "@"):
		return fmt.Sprintf("email:'%s'", esc), nil
	case strings.Trim(s, "+0123456789 ()-./") == "":
		return fmt.Sprintf("phone:'%s'", esc), nil
	}
	return fmt.Sprintf("name:'%s' OR name~'%s'", esc, esc), nil
}

// SetCustomer implements ui.Register: the customer (one found by the last
// search, or retrieved) is attached to the sale; "" detaches.
func (r *Register) SetCustomer(id string) error {
	var c *order.Customer
	if id != "" {
		r.mu.Lock()
		i := slices.IndexFunc(r.found, func(v ui.CustomerView) bool { return v.ID == id })
		var name string
		if i >= 0 {
			name = r.found[i].Name
		}
		r.mu.Unlock()
		if i < 0 {
			ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
			defer cancel()
			cu, _, err := r.t.client.RetrieveCustomer(ctx, id, nil)
			if err != nil {
				return fmt.Errorf("set customer %s: %w", id, offlineOr(err))
			}
			name = cu.Name
		}
		c = &order.Customer{ID: id, Name: name}
	}
	return r.editCart("set customer", func(o *order.Order) error { return o.SetCustomer(c) })
}

// SetSaveCard implements ui.Register: the customer's consent to keep the
// card of this sale for later.
func (r *Register) SetSaveCard(save bool) error {
	return r.editCart("save card for later", func(o *order.Order) error {
		c := o.Customer()
		if c == nil {
			return ErrNoCustomer
		}
		c.SaveCard = save
		return o.SetCustomer(c)
	})
}

// savedMethods lists the customer's saved payment methods that may be
// shown again.
func (t *Till) savedMethods(ctx context.Context, customer string) ([]*stripe.PaymentMethod, error) {
	params := &stripe.CustomerListPaymentMethodsParams{}
	params.Limit = stripe.Int64(100)
	list, _, err := t.client.ListCustomerPaymentMethods(ctx, customer, params)
	if err != nil {
		return nil, offlineOr(err)
	}
	var out []*stripe.PaymentMethod
	for _, pm := range list.Data {
		if pm != nil && slices.Contains(redisplayable, string(pm.Type)) {
			out = append(out, pm)
		}
	}
	return out, nil
}

// SavedMethods implements ui.Register.
func (r *Register) SavedMethods() ([]ui.SavedMethodView, error) {
	_, o, err := r.current()
	if err != nil {
		return nil, fmt.Errorf("saved methods: %w", err)
	}
	if o == nil || o.Customer() == nil {
		return nil, fmt.Errorf("saved methods: %w", ErrNoCustomer)
	}
	if !r.t.online() {
		return nil, fmt.Errorf("saved methods: %w", ui.ErrOffline)
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	pms, err := r.t.savedMethods(ctx, o.Customer().ID)
	if err != nil {
		return nil, fmt.Errorf("saved methods of customer %s: %w", o.Customer().ID, err)
	}
	out := make([]ui.SavedMethodView, 0, len(pms))
	for _, pm := range pms {
		out = append(out, r.t.savedMethodView(pm, o.Currency().StripeCode()))
	}
	return out, nil
}

// savedMethodView describes a saved method, and whether the till can
// charge it in currency.
func (t *Till) savedMethodView(pm *stripe.PaymentMethod, currency string) ui.SavedMethodView {
	v := ui.SavedMethodView{ID: pm.ID, Type: string(pm.Type), Usable: true}
	switch {
	case pm.Card != nil:
		v.Label = strings.ToUpper(string(pm.Card.Brand)) + " •••• " + pm.Card.Last4
		v.Expiry = fmt.Sprintf("%02d/%d", pm.Card.ExpMonth, pm.Card.ExpYear)
		now := t.now()
		if y, m := int64(now.Year()), int64(now.Month()); pm.Card.ExpYear < y || pm.Card.ExpYear == y && pm.Card.ExpMonth < m {
			v.Usable, v.Why = false, lang.L("Expired")
		}
	case pm.SEPADebit != nil:
		v.Label = lang.L("SEPA Direct Debit") + " •••• " + pm.SEPADebit.Last4
		if currency != "eur" {
			v.Usable, v.Why = false, lang.L("Euro only")
		}
	default:
		v.Label = string(pm.Type)
		v.Usable, v.Why = false, lang.L("Not taken at the till")
	}
	return v
}

// ChargeSaved implements ui.Register: the PaymentIntent is created with
// the customer and the saved method, off_session and confirmed at once,
// through the outbox. A card the bank wants authenticated comes back
// needing the reader (CardAuthenticate); a SEPA debit completes the sale
// with its payment pending, settled later by events.
func (r *Register) ChargeSaved(pmID string) error {
	r.mu.Lock()
	if err := r.readyLocked("charge saved method"); err != nil {
		r.mu.Unlock()
		return err
	}
	id := r.id
	r.mu.Unlock()
	o, err := r.t.Order(id)
	if err != nil {
		return fmt.Errorf("charge saved method: %w", err)
	}
	c := o.Customer()
	if c == nil {
		return fmt.Errorf("charge saved method: %w", ErrNoCustomer)
	}
	if !r.t.online() {
		return fmt.Errorf("charge saved method: %w", ui.ErrOffline)
	}
	// The method's type decides the PaymentIntent; the API's list, not
	// the screen, says which methods are the customer's.
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	pms, err := r.t.savedMethods(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("charge saved method: %w", err)
	}
	i := slices.IndexFunc(pms, func(pm *stripe.PaymentMethod) bool { return pm.ID == pmID })
	if i < 0 {
		return fmt.Errorf("charge saved method %s: %w", pmID, ErrNotSaved)
	}
	pm := pms[i]
	if v := r.t.savedMethodView(pm, o.Currency().StripeCode()); !v.Usable {
		return fmt.Errorf("charge %s: %s", v.Label, v.Why)
	}
	kind, capture := order.TenderCard, r.t.captureMethod()
	if pm.Type == stripe.PaymentMethodTypeSEPADebit {
		kind, capture = order.TenderSEPADebit, string(stripe.PaymentIntentCaptureMethodAutomatic)
	}
	start := paymentStart{kind: kind, method: string(pm.Type), saved: pm.ID,
		form: func(*order.Order, int64, string) *stripe.PaymentIntentParams {
			return &stripe.PaymentIntentParams{
				PaymentMethodTypes: stripe.StringSlice([]string{string(pm.Type)}),
				Customer:           stripe.String(c.ID),
				PaymentMethod:      stripe.String(pm.ID),
				OffSession:         stripe.Bool(true),
				Confirm:            stripe.Bool(true),
				CaptureMethod:      stripe.String(capture),
			}
		}}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.id != id || r.run != nil {
		return fmt.Errorf("charge saved method: %w", ErrCardInProgress)
	}
	if err := r.t.startPayment(id, start); err != nil {
		return fmt.Errorf("charge saved method: %w", err)
	}
	r.startRunLocked(runSaved, r.savedFlow)
	return nil
}

// savedFlow waits for the outcome of a saved method's charge.
func (r *Register) savedFlow(ctx context.Context, id string) (ui.CardStep, string) {
	r.setStep(ui.CardProcessing, lang.L("Charging the saved payment method…"))
	o, err := r.t.WaitOrder(ctx, id, func(o *order.Order) bool {
		if o.Status() != order.StatusTendering {
			return true
		}
		if !r.t.online() {
			r.setStep(ui.CardOffline, lang.L("The payment service is not reachable; the charge carries on by itself when it returns."))
		}
		c, ok := CurrentPayment(o)
		return ok && (c.Payment.Decline != nil || c.Payment.Status == order.PaymentRequiresAction)
	})
	switch {
	case ctx.Err() != nil:
		return ui.CardProcessing, lang.L("Charging the saved payment method…")
	case err != nil:
		return ui.CardReaderProblem, err.Error()
	}
	return savedOutcome(o)
}

// savedOutcome is the card step a saved method's charge ended on.
func savedOutcome(o *order.Order) (ui.CardStep, string) {
	c, ok := CurrentPayment(o)
	if o.Status() != order.StatusTendering || !ok {
		return ui.CardProcessing, ""
	}
	if needsAuthentication(c) {
		return ui.CardAuthenticate, lang.L("The bank wants the customer to confirm this payment, which the till cannot do. Ask for the card and use the card reader.")
	}
	if c.Payment.Decline != nil {
		return ui.CardDeclined, declineMessage(c.Payment.Decline)
	}
	return ui.CardProcessing, lang.L("Charging the saved payment method…")
}

// needsAuthentication says whether a saved card's charge stopped because
// the bank wants the customer to authenticate (seed 004).
func needsAuthentication(c order.Tender) bool {
	if c.Kind != order.TenderCard || c.Payment.Method == "card_present" {
		return false
	}
	return c.Payment.Status == order.PaymentRequiresAction ||
		c.Payment.Decline != nil && (c.Payment.Decline.Code == "authentication_required" || c.Payment.Decline.Code == "payment_intent_authentication_failure")
}

// toReader moves a card payment that was charged to a saved card (or
// waits for an authentication the till cannot do) to the reader, on the
// same PaymentIntent: its types become card_present and its payment
// method is cleared, through the outbox, ahead of the card the reader
// will collect.
func (t *Till) toReader(tx *queue.Tx, o *order.Order) error {
	c, ok := CurrentCard(o)
	if !ok || c.Payment.Method == "card_present" || c.Payment.Method == "" {
		return nil
	}
	switch c.Payment.Status {
	case order.PaymentRequiresPaymentMethod, order.PaymentRequiresAction:
	default:
		return fmt.Errorf("the saved card's payment is %s: %w", c.Payment.Status, ErrBusy)
	}
	params := &stripe.PaymentIntentUpdateParams{PaymentMethodTypes: stripe.StringSlice([]string{"card_present"})}
	if c.Payment.Status == order.PaymentRequiresAction {
		params.PaymentMethod = stripe.String("")
	}
	if err := o.SetPaymentMethod(c.ID, "card_present", ""); err != nil {
		return err
	}
	if err := o.SetPaymentAction(c.ID, nil); err != nil {
		return err
	}
	if err := o.SetPaymentStatus(c.ID, order.PaymentRequiresPaymentMethod, "", ""); err != nil {
		return err
	}
	if err := putOrder(tx, o); err != nil {
		return err
	}
	_, err := tx.Enqueue(queue.NewEntry{OrderID: o.ID(), Op: queue.OpUpdate,
		Payload: encodePayload(opPayload{PaymentIntent: c.Payment.PaymentIntentID, Form: string(api.Encode(params))})})
	return err
}

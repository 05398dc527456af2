package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/drain"
)

// opPayload is what an outbox entry of the till carries: the request's
// form body, encoded by stripe-go's form package when the entry was
// enqueued, and the PaymentIntent it targets when that was known then.
type opPayload struct {
	PaymentIntent string `json:"pi,omitempty"`
	Form          string `json:"form,omitempty"`
	// Kind, Method and Saved describe the tender a create starts (card
	// when empty: entries written before wallets existed).
	Kind   string `json:"kind,omitempty"`
	Method string `json:"method,omitempty"`
	Saved  string `json:"saved,omitempty"`
	// From is the status a confirm starts from: requires_confirmation
	// (a card presented on the reader; the default) or
	// requires_payment_method (a wallet asked again with
	// payment_method_data). A PaymentIntent found past it was confirmed.
	From string `json:"from,omitempty"`
	// Ref names the payment a create starts: it is sent as
	// metadata[till_payment], so that a lookup after a lost answer finds
	// this payment's PaymentIntent and not an earlier one of the same
	// order (a refused wallet before a card). A cancel enqueued before its
	// create answered carries the create's Ref.
	Ref string `json:"ref,omitempty"`
	// Offline marks the creation that forwards a card payment taken
	// offline: the executor adds the reader's payload, sealed on the
	// order, when it sends the request.
	Offline bool `json:"offline,omitempty"`
	// Release marks a cancel that releases an authorisation on purpose
	// (the end of day, a void after payment): finding the PaymentIntent
	// authorised is expected, not a customer who paid after all.
	Release bool `json:"release,omitempty"`
}

// refKey is the metadata key that carries a payment's Ref.
const refKey = "till_payment"

func encodePayload(p opPayload) []byte {
	b, _ := json.Marshal(p) // two strings: cannot fail
	return b
}

func decodePayload(b []byte) (opPayload, error) {
	var p opPayload
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("payload is not an outbox payload: %w", err)
	}
	if _, err := url.ParseQuery(p.Form); err != nil {
		return p, fmt.Errorf("payload form: %w", err)
	}
	return p, nil
}

// keyMaxAge is how old an idempotency key may be before the API may have
// pruned it (Stripe keeps keys about 24 hours). An older entry may run as a
// fresh request, so it is resolved by asking the API first.
const keyMaxAge = 23 * time.Hour

// executor performs the till's outbox entries against the payment API and
// writes what the API answered onto the orders.
//
// Every doubt is resolved by asking the API, never by guessing (the
// "recovery points" of idempotency keys):
//
//   - A create that was tried before (the process may have died with the
//     request on the wire), or whose key may have been pruned, first looks
//     for the order's PaymentIntent: PaymentIntents created since shortly
//     before the entry, matched on metadata[order_id] (a list, which is
//     consistent, not a search, which lags). Found: that is the answer.
//     Not found: the create is sent.
//   - A create or confirm that gets a replayed 5xx (the server saved a
//     failure for the key and will replay it until the key is pruned) asks
//     the API again right then: the replay proves the request under that
//     key has finished, so only a lookup made after it is authoritative (one
//     made before may miss a killed attempt's request still in flight). If
//     the call had no effect, it is sent under the next key of a fixed
//     chain (see chainKey).
//   - A confirm, capture or cancel that was tried before retrieves the
//     PaymentIntent first and is done if it already is where the call
//     would take it. A permanent error on them is checked the same way
//     before the entry is dead-lettered.
//
// A decline is not a failure of the outbox: the API answered, the entry is
// done, and the order records the decline for the cashier to try another
// card on the same PaymentIntent.
type executor struct {
	client *api.Client
	now    func() time.Time
	log    *slog.Logger
	// captureLater leaves authorised card payments uncaptured when the
	// order completes ("capture at end of day"); otherwise the capture is
	// enqueued in the transaction that completes the order.
	captureLater bool
	// order reads an order from the store (outside any transaction).
	order func(id string) (*order.Order, error)
	// seal opens the payloads of card payments taken offline.
	seal *sealer
}

var _ drain.Executor = (*executor)(nil)

// Execute implements drain.Executor.
func (x *executor) Execute(ctx context.Context, e queue.Entry) drain.Outcome {
	p, err := decodePayload(e.Payload)
	if err != nil {
		return dead(fmt.Errorf("%s for order %s: %w", e.Op, e.OrderID, err), nil)
	}
	doubt := e.Attempts > 1 || x.now().Sub(e.Created) > keyMaxAge
	switch e.Op {
	case queue.OpCreate:
		if p.Offline {
			return x.forward(ctx, e, p, doubt)
		}
		return x.create(ctx, e, p, doubt)
	case queue.OpConfirm:
		return x.confirm(ctx, e, p, doubt)
	case queue.OpCapture:
		return x.settle(ctx, e, p, doubt, "capture", stripe.PaymentIntentStatusSucceeded)
	case queue.OpCancel:
		return x.settle(ctx, e, p, doubt, "cancel", stripe.PaymentIntentStatusCanceled)
	case queue.OpUpdate:
		return x.update(ctx, e, p)
	case queue.OpRefund:
		return x.refund(ctx, e, p, doubt)
	}
	return dead(fmt.Errorf("order %s: unknown outbox operation %s", e.OrderID, e.Op), nil)
}

func (x *executor) create(ctx context.Context, e queue.Entry, p opPayload, doubt bool) drain.Outcome {
	op := "create PaymentIntent for order " + e.OrderID
	settled := false
	if o, err := x.orderOf(e.OrderID); err == nil && o.Status().Final() {
		// The sale was settled otherwise while this waited (a wallet the
		// customer approved after all): no payment is needed any more.
		if !doubt {
			x.log.Info("outbox: create skipped, the order is already "+string(o.Status()), "order", e.OrderID, "entry", e.Seq)
			return done(nil)
		}
		settled = true
	}
	if doubt {
		pi, err := x.findByOrder(ctx, e, p.Ref)
		if err != nil {
			return x.failed(op+": look for an earlier attempt's PaymentIntent", err)
		}
		if settled {
			if pi != nil && (pi.Status == stripe.PaymentIntentStatusSucceeded || pi.Status == stripe.PaymentIntentStatusRequiresCapture || pi.Status == stripe.PaymentIntentStatusProcessing) {
				return dead(fmt.Errorf("%s: the order was settled otherwise, but PaymentIntent %s is %s: the customer paid twice, refund one", op, pi.ID, pi.Status), nil)
			}
			return done(nil)
		}
		if pi != nil {
			x.log.Info("outbox: create resolved to an existing PaymentIntent", "order", e.OrderID, "payment_intent", pi.ID, "entry", e.Seq)
			return done(x.recordCreated(e.OrderID, p, pi))
		}
	}
	for gen := 0; ; gen++ {
		pi, err := x.post(ctx, "/v1/payment_intents", p.Form, chainKey(e, gen))
		if err == nil {
			return done(x.recordCreated(e.OrderID, p, pi))
		}
		// Created and confirmed at once (a saved card), then declined:
		// the PaymentIntent exists, in requires_payment_method.
		if ae := (*api.Error)(nil); api.ClassOf(err) == api.Declined && errors.As(err, &ae) && ae.PaymentIntent != nil {
			return done(x.recordCreated(e.OrderID, p, declinedIntent(ae)))
		}
		if !replayedServerError(err) || gen == maxKeyChain {
			return x.failed(op, err)
		}
		// The replay proves the request under this key has finished, with
		// a failure; a lookup made now — not before — says whether it
		// created anything.
		found, lerr := x.findByOrder(ctx, e, p.Ref)
		if lerr != nil {
			return x.failed(op+": look up after a replayed failure", lerr)
		}
		if found != nil {
			return done(x.recordCreated(e.OrderID, p, found))
		}
	}
}

func (x *executor) confirm(ctx context.Context, e queue.Entry, p opPayload, doubt bool) drain.Outcome {
	op := fmt.Sprintf("confirm PaymentIntent %s of order %s", p.PaymentIntent, e.OrderID)
	if p.PaymentIntent == "" {
		return dead(errors.New(op+": the entry names no PaymentIntent"), nil)
	}
	from := stripe.PaymentIntentStatus(p.From)
	if from == "" {
		from = stripe.PaymentIntentStatusRequiresConfirmation
	}
	if doubt {
		pi, err := x.retrieve(ctx, p.PaymentIntent)
		if err != nil {
			return x.failed(op+": retrieve before retrying", err)
		}
		if pi.Status != from {
			// Confirmed already (or declined, or cancelled): record
			// where it is rather than confirming again.
			return done(x.recordConfirmed(e.OrderID, pi))
		}
	}
	path := "/v1/payment_intents/" + url.PathEscape(p.PaymentIntent) + "/confirm"
	var pi *stripe.PaymentIntent
	var err error
	for gen := 0; ; gen++ {
		pi, err = x.post(ctx, path, p.Form, chainKey(e, gen))
		if !replayedServerError(err) || gen == maxKeyChain {
			break
		}
		// As for create: the replay proves the request finished, so
		// the PaymentIntent's status now says whether it acted.
		now, rerr := x.retrieve(ctx, p.PaymentIntent)
		if rerr != nil {
			return x.failed(op+": retrieve after a replayed failure", rerr)
		}
		if now.Status != from {
			return done(x.recordConfirmed(e.OrderID, now))
		}
	}
	var ae *api.Error
	switch {
	case err == nil:
		return done(x.recordConfirmed(e.OrderID, pi))
	case api.ClassOf(err) == api.Declined && errors.As(err, &ae):
		return done(recordDecline(e.OrderID, p.PaymentIntent, string(ae.DeclineCode), string(ae.Code), ae.Message, x.now))
	case api.ClassOf(err) == api.Permanent:
		return x.reconcile(ctx, e, op, p.PaymentIntent, err, func(pi *stripe.PaymentIntent) bool {
			return pi.Status != from
		}, func(pi *stripe.PaymentIntent) func(*queue.Tx) error { return x.recordConfirmed(e.OrderID, pi) })
	}
	return x.failed(op, err)
}

// settle captures or cancels: calls that move an existing PaymentIntent to
// a final status.
func (x *executor) settle(ctx context.Context, e queue.Entry, p opPayload, doubt bool, verb string, target stripe.PaymentIntentStatus) drain.Outcome {
	id := p.PaymentIntent
	if id == "" {
		// Enqueued before the create had answered (a void while
		// offline): the create has run since, so ask the API.
		pi, err := x.findByOrder(ctx, e, p.Ref)
		if err != nil {
			return x.failed(fmt.Sprintf("%s for order %s: find its PaymentIntent", verb, e.OrderID), err)
		}
		if pi == nil {
			if verb == "cancel" {
				return done(nil) // nothing was ever created: nothing to cancel
			}
			return dead(fmt.Errorf("capture for order %s: the order has no PaymentIntent", e.OrderID), nil)
		}
		id = pi.ID
	}
	op := fmt.Sprintf("%s PaymentIntent %s of order %s", verb, id, e.OrderID)
	final := func(pi *stripe.PaymentIntent) bool {
		return pi.Status == stripe.PaymentIntentStatusSucceeded || pi.Status == stripe.PaymentIntentStatusCanceled
	}
	// paidAfterAll: a cancel that gives an unpaid payment up finds it paid
	// (a wallet approved while the cancel was on its way). A cancel that
	// releases an authorisation on purpose expects it authorised.
	paidAfterAll := func(pi *stripe.PaymentIntent) bool {
		return verb == "cancel" && paid(pi) && !(p.Release && pi.Status == stripe.PaymentIntentStatusRequiresCapture)
	}
	if doubt {
		pi, err := x.retrieve(ctx, id)
		if err != nil {
			return x.failed(op+": retrieve before retrying", err)
		}
		if paidAfterAll(pi) {
			return x.paidBeforeCancel(e.OrderID, pi)
		}
		if final(pi) {
			return x.settled(e.OrderID, op, pi, target)
		}
	}
	var pi *stripe.PaymentIntent
	var err error
	for gen := 0; ; gen++ {
		pi, err = x.post(ctx, "/v1/payment_intents/"+url.PathEscape(id)+"/"+verb, p.Form, chainKey(e, gen))
		if !replayedServerError(err) || gen == maxKeyChain {
			break
		}
		// As for confirm: the replay proves the request under this key
		// finished, with a failure; the PaymentIntent says whether it
		// acted, and if not the call goes out under the next key.
		now, rerr := x.retrieve(ctx, id)
		if rerr != nil {
			return x.failed(op+": retrieve after a replayed failure", rerr)
		}
		if paidAfterAll(now) {
			return x.paidBeforeCancel(e.OrderID, now)
		}
		if final(now) {
			return x.settled(e.OrderID, op, now, target)
		}
	}
	if err == nil {
		return x.settled(e.OrderID, op, pi, target)
	}
	if api.ClassOf(err) == api.Permanent && verb == "cancel" {
		// The customer may have paid after all (a wallet approved on the
		// phone while the cancel was on its way).
		now, rerr := x.retrieve(ctx, id)
		if rerr == nil && paidAfterAll(now) {
			return x.paidBeforeCancel(e.OrderID, now)
		}
	}
	if api.ClassOf(err) == api.Permanent {
		return x.reconcile(ctx, e, op, id, err, func(pi *stripe.PaymentIntent) bool { return pi.Status == target },
			func(*stripe.PaymentIntent) func(*queue.Tx) error { return nil })
	}
	return x.failed(op, err)
}

// orderOf reads an order, when the executor can.
func (x *executor) orderOf(id string) (*order.Order, error) {
	if x.order == nil {
		return nil, errors.New("the executor cannot read orders")
	}
	return x.order(id)
}

// paid says whether the PaymentIntent's money is authorised, captured or
// on its way.
func paid(pi *stripe.PaymentIntent) bool {
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded, stripe.PaymentIntentStatusRequiresCapture, stripe.PaymentIntentStatusProcessing:
		return true
	}
	return false
}

// paidBeforeCancel is the outcome of a cancel that came too late: the
// customer paid (a wallet approved while the cancel was on its way).
//
// If the sale is still being paid and the payment settles exactly what is
// due, it is reinstated and completes the sale (a payment started since is
// then never created). Anything else — the sale settled otherwise, or its
// cart changed since — means the customer paid for something the till
// no longer asks for: a dead letter telling the manager to refund. The
// decision is checked again inside the recording transaction; if the sale
// changed in between, the record fails, the entry is retried, and the
// next attempt decides again from what the sale is then.
func (x *executor) paidBeforeCancel(orderID string, pi *stripe.PaymentIntent) drain.Outcome {
	o, err := x.orderOf(orderID)
	if err != nil {
		return dead(fmt.Errorf("cancel PaymentIntent %s of order %s: the customer paid it (%s) before it could be cancelled, and the order cannot be read (%v): check the sale and refund if it was paid otherwise", pi.ID, orderID, pi.Status, err), nil)
	}
	if why := reinstatable(o, pi); why != "" {
		return dead(fmt.Errorf("cancel PaymentIntent %s of order %s: the customer paid it (%s, %d) before it could be cancelled, but %s: refund it", pi.ID, orderID, pi.Status, pi.Amount, why), nil)
	}
	x.log.Warn("outbox: a payment given up was paid after all; it settles the sale", "order", orderID, "payment_intent", pi.ID)
	return done(func(tx *queue.Tx) error {
		o, err := loadOrder(tx, orderID, x.now)
		if err != nil {
			return err
		}
		if why := reinstatable(o, pi); why != "" {
			return fmt.Errorf("record late payment %s of order %s: %s: %w", pi.ID, orderID, why, errChanged)
		}
		t, _ := tenderFor(o, pi.ID)
		if o.Status() == order.StatusOpen {
			if err := o.StartTendering(); err != nil {
				return err
			}
		}
		// Make it the payment in play again, then record what the API says.
		if err := o.ReinstatePayment(t.ID); err != nil {
			return err
		}
		t, _ = tenderFor(o, pi.ID)
		if err := applyIntentAt(tx, o, t, pi, x.captureLater, x.now()); err != nil {
			return err
		}
		if o.Status() != order.StatusCompleted {
			return fmt.Errorf("record late payment %s of order %s: it did not settle the sale: %w", pi.ID, orderID, errChanged)
		}
		return putOrder(tx, o)
	})
}

// errChanged fails a record whose sale changed since the call was decided;
// the entry is retried and decided again.
var errChanged = errors.New("the sale changed meanwhile")

// reinstatable says why a payment made after it was given up cannot settle
// its sale, or "" when it can: the sale is still being paid, the payment is
// one of its tenders, and it covers exactly what is due.
func reinstatable(o *order.Order, pi *stripe.PaymentIntent) string {
	if o.Status().Final() {
		return "the sale was " + string(o.Status()) + " meanwhile"
	}
	if _, ok := tenderFor(o, pi.ID); !ok {
		return "the sale has no such payment"
	}
	due, err := o.Remaining().StripeAmount()
	if err != nil || due != pi.Amount {
		return fmt.Sprintf("the sale now asks for %s", o.Remaining())
	}
	return ""
}

// settled is the outcome of a capture or cancel whose PaymentIntent reached
// a final status: done if it is the one asked for, dead (for the manager)
// if it is the other, e.g. an authorisation that expired before capture.
// Either way the sale records where its payment ended.
func (x *executor) settled(orderID, op string, pi *stripe.PaymentIntent, target stripe.PaymentIntentStatus) drain.Outcome {
	if pi.Status == target {
		return done(x.recordSettled(orderID, pi))
	}
	if pi.Status == stripe.PaymentIntentStatusSucceeded || pi.Status == stripe.PaymentIntentStatusCanceled {
		return dead(fmt.Errorf("%s: the PaymentIntent is already %s", op, statusWithReason(pi)), x.recordSettled(orderID, pi))
	}
	return dead(fmt.Errorf("%s: the API answered status %s", op, pi.Status), nil)
}

func (x *executor) update(ctx context.Context, e queue.Entry, p opPayload) drain.Outcome {
	op := fmt.Sprintf("update PaymentIntent %s of order %s", p.PaymentIntent, e.OrderID)
	if p.PaymentIntent == "" {
		return dead(errors.New(op+": the entry names no PaymentIntent"), nil)
	}
	// An update carries its full new values, so sending it again is
	// harmless even after the key was pruned.
	if _, err := x.post(ctx, "/v1/payment_intents/"+url.PathEscape(p.PaymentIntent), p.Form, e.IdempotencyKey); err != nil {
		return x.failed(op, err)
	}
	return done(nil)
}

// reconcile handles a permanent error on a call to an existing
// PaymentIntent: if the PaymentIntent is already where the call would have
// taken it (the earlier attempt acted, its answer was lost, and the key was
// pruned or replaced), the entry is done; otherwise it is dead.
func (x *executor) reconcile(ctx context.Context, e queue.Entry, op, id string, cause error,
	reached func(*stripe.PaymentIntent) bool, record func(*stripe.PaymentIntent) func(*queue.Tx) error) drain.Outcome {
	pi, err := x.retrieve(ctx, id)
	if err != nil {
		if api.ClassOf(err) == api.Permanent {
			return dead(fmt.Errorf("%s: %w", op, cause), nil)
		}
		return x.failed(op+": retrieve after "+cause.Error(), err)
	}
	if reached(pi) {
		return done(record(pi))
	}
	return dead(fmt.Errorf("%s: the PaymentIntent is %s: %w", op, statusWithReason(pi), cause), nil)
}

// statusWithReason is a PaymentIntent's status for people, with the
// cancellation reason when there is one ("canceled (automatic)").
func statusWithReason(pi *stripe.PaymentIntent) string {
	if pi.CancellationReason != "" {
		return string(pi.Status) + " (" + string(pi.CancellationReason) + ")"
	}
	return string(pi.Status)
}

// findByOrder looks for the PaymentIntent of the entry's order among those
// created since an hour before the entry (room for clock skew). It returns
// nil when there is none.
func (x *executor) findByOrder(ctx context.Context, e queue.Entry, ref string) (*stripe.PaymentIntent, error) {
	params := &stripe.PaymentIntentListParams{}
	params.Filters.AddFilter("created[gte]", "", strconv.FormatInt(e.Created.Add(-time.Hour).Unix(), 10))
	params.Limit = stripe.Int64(100)
	var found *stripe.PaymentIntent
	for pi, err := range x.client.PaymentIntents(ctx, params) {
		if err != nil {
			return nil, err
		}
		if pi.Metadata["order_id"] != e.OrderID || ref != "" && pi.Metadata[refKey] != ref {
			continue
		}
		if found != nil {
			// Never expected: say so loudly, and prefer the live one.
			x.log.Error("outbox: two PaymentIntents for one order", "order", e.OrderID, "first", found.ID, "second", pi.ID)
			if found.Status != stripe.PaymentIntentStatusCanceled {
				continue
			}
		}
		found = pi
	}
	return found, nil
}

func (x *executor) retrieve(ctx context.Context, id string) (*stripe.PaymentIntent, error) {
	params := &stripe.PaymentIntentRetrieveParams{}
	params.AddExpand("latest_charge")
	pi, _, err := x.client.RetrievePaymentIntent(ctx, id, params)
	return pi, err
}

func (x *executor) post(ctx context.Context, path, form, key string) (*stripe.PaymentIntent, error) {
	resp, err := x.client.Post(ctx, path, []byte(form), key)
	if err != nil {
		return nil, err
	}
	var pi stripe.PaymentIntent
	if err := resp.Decode(&pi); err != nil {
		return nil, err
	}
	return &pi, nil
}

// failed turns a failed call into a retry or a dead letter by its class.
// Indeterminate failures are retried: the next attempt has Attempts > 1
// and so resolves before it acts.
func (x *executor) failed(op string, err error) drain.Outcome {
	err = fmt.Errorf("%s: %w", op, err)
	var ae *api.Error
	switch api.ClassOf(err) {
	case api.Permanent:
		return dead(err, nil)
	case api.Transient, api.Indeterminate:
		// No HTTP answer at all — refused, reset, or a request timeout —
		// says the API is unreachable; the drainer's probe takes over.
		// (A stop of the drainer is told apart by the drainer itself.)
		unreachable := errors.As(err, &ae) && ae.HTTPStatus == 0
		return drain.Outcome{Kind: drain.Retry, Err: err, Unreachable: unreachable}
	}
	return drain.Outcome{Kind: drain.Retry, Err: err}
}

func replayedServerError(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.ReplayedServerError()
}

// maxKeyChain bounds how many superseding keys one attempt walks through.
const maxKeyChain = 5

// chainKey is the entry's idempotency key for generation gen: its own key
// first, then "<key>:retry1", "<key>:retry2", … Generation n+1 is only ever
// sent after generation n's saved answer was replayed as a failure (so its
// request had finished) and the API showed that it had no effect. The chain
// is the same on every attempt and after a restart, so a request still in
// flight from a killed attempt meets its twin under the same key (409, then
// a replay) instead of acting a second time.
func chainKey(e queue.Entry, gen int) string {
	if gen == 0 {
		return e.IdempotencyKey
	}
	return e.IdempotencyKey + ":retry" + strconv.Itoa(gen)
}

func done(record func(*queue.Tx) error) drain.Outcome {
	return drain.Outcome{Kind: drain.Done, Record: record}
}

func dead(err error, record func(*queue.Tx) error) drain.Outcome {
	return drain.Outcome{Kind: drain.Dead, Err: err, Record: record}
}

// loadOrder reads an order inside a store transaction.
func loadOrder(tx *queue.Tx, id string, now func() time.Time) (*order.Order, error) {
	b, err := tx.Order(id)
	if err != nil {
		return nil, err
	}
	return order.Unmarshal(b, now)
}

// updateTendering applies change to a tendering order inside a record
// transaction and stores it. An order that was voided or completed
// meanwhile is left as it is: the outbox history keeps the API's answer.
func updateTendering(tx *queue.Tx, id string, now func() time.Time, change func(*order.Order) error) error {
	o, err := loadOrder(tx, id, now)
	if err != nil {
		return err
	}
	if o.Status() != order.StatusTendering {
		return nil
	}
	if err := change(o); err != nil {
		return err
	}
	return putOrder(tx, o)
}

// recordCreated notes the new PaymentIntent on its order as the tender
// the create started (a card waiting for a card, a wallet waiting for the
// customer, a saved card already confirmed) and applies its status. An
// order that was voided or completed meanwhile keeps its state: the outbox
// history holds the answer, and a cancel entry behind this one (voids
// enqueue one) takes care of the PaymentIntent.
func (x *executor) recordCreated(orderID string, p opPayload, pi *stripe.PaymentIntent) func(*queue.Tx) error {
	return func(tx *queue.Tx) error {
		return updateTendering(tx, orderID, x.now, func(o *order.Order) error {
			t, ok := tenderFor(o, pi.ID)
			if !ok {
				amount, err := money.FromStripeAmount(pi.Amount, o.Currency())
				if err != nil {
					return err
				}
				kind := order.TenderKind(p.Kind)
				if kind == "" {
					kind = order.TenderCard
				}
				method := p.Method
				if method == "" && kind == order.TenderCard {
					method = "card_present"
				}
				if t, err = o.AddPayment(kind, amount, order.Payment{
					PaymentIntentID: pi.ID, Status: order.PaymentRequiresPaymentMethod,
					Method: method, SavedMethod: p.Saved,
				}); err != nil {
					return err
				}
			}
			return applyIntentAt(tx, o, t, pi, x.captureLater, x.now())
		})
	}
}

// declinedIntent is the PaymentIntent a decline error carried, with the
// decline as its last payment error when the object omitted it.
func declinedIntent(ae *api.Error) *stripe.PaymentIntent {
	pi := *ae.PaymentIntent
	if pi.LastPaymentError == nil {
		pi.LastPaymentError = &stripe.Error{Code: ae.Code, DeclineCode: ae.DeclineCode, Msg: ae.Message}
	}
	pi.Status = stripe.PaymentIntentStatusRequiresPaymentMethod
	return &pi
}

// recordConfirmed writes a confirmation's result onto the order (see
// applyIntent): an authorisation, an automatic capture or a payment being
// processed completes the order in the same transaction, with the capture
// enqueued behind it unless captures wait for the end of day: there is no
// moment at which money is authorised but the sale not completed.
func (x *executor) recordConfirmed(orderID string, pi *stripe.PaymentIntent) func(*queue.Tx) error {
	return func(tx *queue.Tx) error {
		return updateTendering(tx, orderID, x.now, func(o *order.Order) error {
			t, ok := tenderFor(o, pi.ID)
			if !ok {
				return fmt.Errorf("order %s has no tender for PaymentIntent %s", orderID, pi.ID)
			}
			return applyIntentAt(tx, o, t, pi, x.captureLater, x.now())
		})
	}
}

func enqueueCapture(tx *queue.Tx, o *order.Order, pi string, amount int64) error {
	form := api.Encode(&stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(amount)})
	_, err := tx.Enqueue(queue.NewEntry{OrderID: o.ID(), Op: queue.OpCapture,
		Payload: encodePayload(opPayload{PaymentIntent: pi, Form: string(form)})})
	return err
}

// recordDecline writes a declined confirmation onto the order.
func recordDecline(orderID, pi, decline, code, message string, now func() time.Time) func(*queue.Tx) error {
	return func(tx *queue.Tx) error {
		return updateTendering(tx, orderID, now, func(o *order.Order) error {
			t, ok := tenderFor(o, pi)
			if !ok {
				return fmt.Errorf("order %s has no tender for PaymentIntent %s", orderID, pi)
			}
			if err := o.RecordDecline(t.ID, declineCode(decline, code), message); err != nil {
				return err
			}
			return o.SetPaymentAction(t.ID, nil)
		})
	}
}

// declineCode is Stripe's decline_code, or its error code when the issuer
// gave none.
func declineCode(decline, code string) string {
	if decline != "" {
		return decline
	}
	return code
}

// cardOf is the brand and last four digits for the receipt, from the
// PaymentIntent's latest charge when the API expanded it.
func cardOf(pi *stripe.PaymentIntent) (brand, last4 string) {
	ch := pi.LatestCharge
	if ch == nil || ch.PaymentMethodDetails == nil {
		return "", ""
	}
	if cp := ch.PaymentMethodDetails.CardPresent; cp != nil {
		return string(cp.Brand), cp.Last4
	}
	if c := ch.PaymentMethodDetails.Card; c != nil {
		return string(c.Brand), c.Last4
	}
	if s := ch.PaymentMethodDetails.SEPADebit; s != nil {
		return "", s.Last4
	}
	return "", ""
}

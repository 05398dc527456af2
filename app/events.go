package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/events"
)

// A till cannot receive webhooks, so it polls the API's events (SPEC
// §2.6): the outcomes decided away from it — a wallet authorised on the
// customer's phone, a SEPA debit settling or failing — reach the orders
// through them, besides the wallet follower's own retrieves.

// eventCursorKey is where the store keeps the id of the last event
// applied.
const eventCursorKey = "events.cursor"

// wireEvents builds the event poller over the till's client and store.
func (t *Till) wireEvents(p Params) error {
	var err error
	t.events, err = events.New(events.Config{
		Client: t.client,
		Load: func() (string, error) {
			var cursor string
			err := t.store.View(func(tx *queue.Tx) error {
				b, err := tx.Value(eventCursorKey)
				cursor = string(b)
				return err
			})
			return cursor, err
		},
		Save: func(_ context.Context, cursor string) error {
			return t.store.Update(func(tx *queue.Tx) error { return tx.PutValue(eventCursorKey, []byte(cursor)) })
		},
		Apply:   t.applyEvent,
		Every:   p.EventsEvery,
		Now:     t.now,
		Logger:  t.log,
		OnState: func(events.State) { t.notify() },
	})
	return err
}

// wakeEvents asks the poller to look now (a wallet payment started).
func (t *Till) wakeEvents() {
	if t.events != nil {
		t.events.Wake()
	}
}

// applyEvent applies one PaymentIntent event to its order and stores the
// event as the cursor in the same transaction:
//
//   - a completed order whose payment was being processed (a SEPA debit)
//     takes the event's outcome: paid, or failed and on the manager's list;
//   - a tendering order (a wallet waiting for the customer) has its
//     PaymentIntent retrieved, and the current state recorded — never the
//     event's snapshot, which may be older than what the outbox recorded
//     since;
//   - anything else (another lane's PaymentIntent, an order that moved on)
//     only moves the cursor.
//
// So a replayed event changes nothing.
func (t *Till) applyEvent(ctx context.Context, ev *stripe.Event) (string, error) {
	cursor := func(tx *queue.Tx) error { return tx.PutValue(eventCursorKey, []byte(ev.ID)) }
	skip := func() (string, error) { return ev.ID, t.store.Update(cursor) }
	if ev.Data == nil || !strings.HasPrefix(string(ev.Type), "payment_intent.") {
		return skip()
	}
	var pi stripe.PaymentIntent
	if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil || pi.ID == "" {
		t.log.Warn("events: not a PaymentIntent", "event", ev.ID, "type", ev.Type)
		return skip()
	}
	id := pi.Metadata["order_id"]
	if !strings.HasPrefix(id, t.lane.Name()+"-") {
		return skip()
	}
	o, err := t.Order(id)
	if errors.Is(err, queue.ErrNotFound) {
		return skip()
	}
	if err != nil {
		return "", err
	}
	switch o.Status() {
	case order.StatusTendering:
		if t.queuedFor(id) {
			// The outbox is talking to the API about this order: its
			// answers are newer than the event.
			return skip()
		}
		if err := t.refreshIntent(ctx, id, pi.ID, cursor); err != nil {
			return "", fmt.Errorf("apply event %s to order %s: %w", ev.ID, id, err)
		}
		return ev.ID, nil
	case order.StatusCompleted:
		err := t.store.Update(func(tx *queue.Tx) error {
			o, err := loadOrder(tx, id, t.now)
			if err != nil {
				return err
			}
			if err := t.recordIntent(tx, o, &pi); err != nil {
				return err
			}
			return cursor(tx)
		})
		if err != nil {
			return "", fmt.Errorf("apply event %s to order %s: %w", ev.ID, id, err)
		}
		return ev.ID, nil
	}
	return skip()
}

// pendingKey is where the store keeps the ids of completed orders whose
// payment is still being processed (a SEPA debit), as a JSON array.
const pendingKey = "payments.pending"

// pendingList holds the ids of completed orders whose payment is still
// being processed.
var pendingList = kvList[string]{key: pendingKey, what: "the pending payments list", id: func(id string) string { return id }}

// markPending adds or removes the order in the list of sales whose
// payment is still being processed, inside tx.
func markPending(tx *queue.Tx, id string, pending bool) error {
	if pending {
		return pendingList.add(tx, id)
	}
	return pendingList.removeID(tx, id)
}

// pendingOrders lists the sales whose payment is still being processed.
func (t *Till) pendingOrders() ([]string, error) { return pendingList.view(t.store) }

// settlePending retrieves the PaymentIntent of every sale whose payment is
// still being processed and records a final outcome. The events normally
// bring it first; this catches what they cannot: an event skipped while
// the outbox was still recording the sale, events older than the API
// keeps, a till that was away.
func (t *Till) settlePending(ctx context.Context) error {
	ids, err := t.pendingOrders()
	if err != nil {
		return fmt.Errorf("settle pending payments: %w", err)
	}
	if len(ids) == 0 || !t.online() {
		return nil // nothing to do, or the poll waits for the connection
	}
	var errs []error
	for _, id := range ids {
		o, err := t.Order(id)
		if errors.Is(err, queue.ErrNotFound) || err == nil && o.Status() != order.StatusCompleted {
			// Not a sale that can be settled: forget it.
			if err := t.store.Update(func(tx *queue.Tx) error { return markPending(tx, id, false) }); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, tn := range o.Tenders() {
			if tn.Payment == nil || !tn.Payment.Status.Pending() {
				continue
			}
			params := &stripe.PaymentIntentRetrieveParams{}
			params.Context = ctx
			pi, _, err := t.client.RetrievePaymentIntent(ctx, tn.Payment.PaymentIntentID, params)
			if err != nil {
				errs = append(errs, fmt.Errorf("order %s: %w", id, err))
				continue
			}
			if pi.Status == stripe.PaymentIntentStatusProcessing {
				continue
			}
			err = t.store.Update(func(tx *queue.Tx) error {
				o, err := loadOrder(tx, id, t.now)
				if err != nil {
					return err
				}
				return t.recordIntent(tx, o, pi) // unlists the sale once nothing is pending
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("order %s: %w", id, err))
			}
		}
		if !o.PaymentPending() {
			if err := t.store.Update(func(tx *queue.Tx) error { return markPending(tx, id, false) }); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("settle pending payments: %w", errors.Join(errs...))
	}
	return nil
}

// defaultPendingEvery is how often payments still being processed are
// retrieved.
const defaultPendingEvery = time.Minute

// runSettler runs settlePending every t.pendingEvery until ctx ends.
func (t *Till) runSettler(ctx context.Context) {
	tick := time.NewTicker(t.pendingEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := t.settlePending(ctx); err != nil && ctx.Err() == nil {
			t.log.Info("pending payments not settled yet", "err", err)
		}
	}
}

// Package events follows the payment API's event list (GET /v1/events) so
// that the till learns outcomes decided away from it: a TWINT or MobilePay
// payment authorised on the customer's phone, a SEPA debit settling or
// failing, an authorisation expiring. A till has no public address, so it
// cannot receive webhooks; it polls instead.
//
// # Basics
//
// A Poller lists the events of Config.Types (by default the five
// PaymentIntent outcomes in DefaultTypes; the filter is applied by the
// server with types[]) that are newer than a persisted cursor, the id of
// the last event applied, and hands them to Config.Apply one at a time,
// oldest first:
//
//	p, err := events.New(events.Config{
//		Client: client,
//		Load:   loadCursor,  // read from the store; "" on a new till
//		Save:   saveCursor,  // the starting point only
//		Apply: func(ctx context.Context, ev *stripe.Event) (string, error) {
//			// one store transaction: update the order named by
//			// data.object.metadata.order_id, and store ev.ID as cursor
//			return ev.ID, applyToOrder(ctx, ev)
//		},
//		OnState: func(s events.State) { notifyScreen(s) }, // must not block
//	})
//	go p.Run(ctx)
//	…
//	p.Wake() // a wallet payment just started: look now
//
// Because Apply stores the order change and the cursor in one transaction,
// a crash at any point either applied an event and moved past it, or did
// neither; the next Run starts from the stored cursor, so an event is
// never applied twice and never skipped. An event that Apply fails on (or
// panics on) is not skipped: the poller reports Failing with an error
// wrapping ErrApply, waits Config.Backoff and offers the same event again.
// If Apply reports a failure although its transaction committed, the
// poller notices it (it reloads the cursor with Config.Load) and does not
// offer the event again.
//
// Paging: Stripe lists newest first. The poller asks for
// ending_before=<cursor> with limit 100, which answers the (up to) 100
// events that come just after the cursor, still newest first, with
// has_more telling whether newer ones follow. It applies the page from its
// end, then asks again with the newest event of the page as cursor, until
// has_more is false. So any backlog (a till that was offline for hours) is
// applied in order, one page after the other.
//
// Starting point: a till without a cursor does not apply history. At its
// first poll it saves the newest listed event of the wanted types with
// Config.Save (that is Save's only use) and applies only what comes after.
// If nothing is listed at all, the cursor stays empty and, for the rest of
// that Run, every event that appears is new and applied from the oldest
// on.
//
// Filtering is done by the server, so Apply sees only the wanted types
// and the cursor always names one of them; events of other types are
// neither fetched nor recorded.
//
// States (Config.OnState, on each change): Polling while catching up,
// CaughtUp when everything listed is applied (then the next poll comes
// after Config.Every, or at once on Wake), Offline when the API is
// unreachable or answers 429/5xx (retried after Config.Backoff; the client
// has already retried the call itself), Failing when the API refuses the
// call (a bad key: retried after at least Config.RetryPermanent) or Apply
// failed. Once the API answers again the poller catches up on everything
// it missed.
//
// # Caveats
//
// Stripe keeps events for 30 days. A till that stays away longer finds
// its cursor event gone (ErrCursorLost): the poller logs a warning and
// resumes from the oldest event still listed, all of which are newer than
// the lost cursor, but the events that expired in between are missed. The
// app should in any case settle orders still waiting for an outcome by
// retrieving their PaymentIntent, as it must after a long outage. The
// same recovery runs if the cursor belongs to another account or a reset
// sandbox.
//
// With an empty cursor the starting point is only kept in memory until it
// is saved: if a till that listed nothing at its first poll is restarted,
// events listed by then count as history.
//
// Apply must return nil only once its transaction committed, and must be
// idempotent on order state: an event describes the PaymentIntent at the
// time of the event, and the order may already be in that state through
// the app's own calls, or past it.
//
// Events of one PaymentIntent arrive in the order they happened, but an
// event is a snapshot: apply the status transition it announces, not
// blindly its data.object over newer local knowledge.
//
// Run must not be called twice at the same time (ErrRunning). OnState,
// Load, Save and Apply are called from Run's goroutine only.
package events

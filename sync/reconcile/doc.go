// Package reconcile is the end-of-day reconciliation engine of a till: it
// fetches the day's PaymentIntents from the payment API and plans what to
// do with each authorisation that is still waiting for capture (SPEC §2.2).
// It makes no change on the server itself: the app applies the plan's
// action rows through its outbox, idempotently.
//
// # Basics
//
// Reconciliation is two steps, one with I/O and one without:
//
//	got, err := reconcile.Fetch(ctx, client, startOfDay, endOfDay)
//	if err != nil {
//		return err // names the period and the page that failed
//	}
//	plan := reconcile.Make(reconcile.Input{
//		Lane:      "lane-1",
//		Intents:   got.Intents,
//		Order:     lookupOrder,     // metadata[order_id] -> what the till knows
//		Completed: completedOrders, // the period's completed card/wallet orders
//		Queued:    pendingOps,      // PaymentIntent id -> "capture"/"cancel"
//		Now:       clock(),
//	})
//
// Fetch lists every PaymentIntent created in [from, to) with created[gte],
// created[lt], limit=100 and starting_after, expanding data.latest_charge
// so that each authorisation's capture_before comes with it: ceil(N/100)
// list calls for N PaymentIntents (one at least), and nothing else.
//
// Make is pure. Only PaymentIntents in requires_capture whose
// metadata[lane] is the input's lane get an action:
//
//	order missing on the till, or voided     -> cancel, cancellation_reason=abandoned
//	order open or tendering                  -> in_progress (left alone)
//	order completed, this payment counts     -> capture amount_capturable
//	order completed, this payment not counted -> cancel, cancellation_reason=duplicate
//	a capture or cancel already in the outbox -> already_queued (instead of the above)
//
// It also lists what a manager must see: authorisations whose
// capture_before is near (flagged on action rows, a near_expiry row of its
// own otherwise), completed orders whose counting PaymentIntent the server
// did not list (missing_on_server), and counting payments that failed or
// were cancelled on the server after the sale (payment_failed). Rows come
// actions first, then listings, each group ordered by creation time and id,
// so the same input always gives the same plan, and a plan encodes to the
// JSON documented in docs/reconciliation.md.
//
// CaptureBefore tells when an authorisation lapses, from the expanded
// charge when the API gave it, else from the creation time (2 days for
// card_present, 7 otherwise).
//
// # Caveats
//
// Make trusts its Input. Order must find every order the till has ever
// rung up, not only the period's: a PaymentIntent whose order it cannot
// find is proposed for cancellation as abandoned. A nil Order finds
// nothing. Completed must hold only completed orders.
//
// The period is by PaymentIntent creation time. An order started before
// from and paid after it has its PaymentIntent outside the fetched set:
// it is reported missing_on_server. Fetch a period that starts before the
// till opened (the day before, for example) when that matters.
//
// Amounts are API minor units with their currency as the API writes it
// ("chf"); no amount is ever converted between currencies. A missing
// order's row carries the order's counting total, not a per-payment amount.
//
// Intents of other lanes, and intents without metadata[lane] and
// metadata[order_id], are only counted (Plan.Foreign): another till, or a
// person using the dashboard, owns them. A PaymentIntent listed twice is
// planned once.
//
// Fetch returns no PaymentIntents when any page fails: planning on a
// partial list would report payments as missing and miss authorisations.
package reconcile

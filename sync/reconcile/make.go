package reconcile

import (
	"fmt"
	"slices"
	"time"

	"github.com/stripe/stripe-go/v86"
)

// Make plans the reconciliation of in. It is pure: no I/O, no clock but
// in.Now. Every PaymentIntent gets at most one action row.
func Make(in Input) Plan {
	window := in.NearExpiry
	if window <= 0 {
		window = DefaultNearExpiry
	}
	p := Plan{Rows: []Row{}, Fetched: len(in.Intents)}
	seen := make(map[string]bool, len(in.Intents))
	for _, pi := range in.Intents {
		if pi == nil || pi.ID == "" {
			p.Foreign++
			continue
		}
		if seen[pi.ID] {
			continue // listed twice (a page boundary moved): planned once
		}
		seen[pi.ID] = true
		orderID := pi.Metadata[MetaOrderID]
		if orderID == "" || pi.Metadata[MetaLane] == "" || pi.Metadata[MetaLane] != in.Lane {
			p.Foreign++
			continue
		}
		var (
			local Local
			found bool
		)
		if in.Order != nil {
			local, found = in.Order(orderID)
		}
		switch pi.Status {
		case stripe.PaymentIntentStatusRequiresCapture:
			p.Rows = append(p.Rows, authorisationRows(in, window, pi, orderID, local, found)...)
		case stripe.PaymentIntentStatusRequiresPaymentMethod, stripe.PaymentIntentStatusCanceled:
			if found && local.Status == StatusCompleted && slices.Contains(local.Counting, pi.ID) {
				p.Rows = append(p.Rows, failedRow(pi, orderID))
			}
		}
	}
	p.Rows = append(p.Rows, missingRows(in, seen)...)
	SortRows(p.Rows)
	for _, r := range p.Rows {
		if r.Action != "" {
			p.Actions++
		}
	}
	return p
}

// authorisationRows decides on one of the lane's requires_capture
// PaymentIntents: one row, plus a near_expiry row when that row is not an
// action and the authorisation lapses soon.
func authorisationRows(in Input, window time.Duration, pi *stripe.PaymentIntent, orderID string, local Local, found bool) []Row {
	before := CaptureBefore(pi)
	near := before.Sub(in.Now) < window
	base := Row{
		OrderID: orderID, PaymentIntent: pi.ID, Amount: pi.Amount, Currency: string(pi.Currency),
		Status: string(pi.Status), Created: created(pi), CaptureBefore: before, NearExpiry: near,
	}
	money := formatAmount(pi.Amount, string(pi.Currency))

	r := base
	counted := slices.Contains(local.Counting, pi.ID)
	switch {
	case !found:
		r.Kind = CancelAbandoned
		r.Reason = fmt.Sprintf("No order %s exists on this till, so the sale was abandoned: cancel to release the %s hold on the customer's card.", orderID, money)
	case local.Status == StatusVoided:
		r.Kind = CancelAbandoned
		r.Reason = fmt.Sprintf("Order %s was voided: cancel to release the %s hold on the customer's card.", orderID, money)
	case local.Status == StatusCompleted && counted:
		r.Kind = Capture
		if pi.AmountCapturable > 0 {
			r.Amount = pi.AmountCapturable
		}
		r.Reason = fmt.Sprintf("Order %s was completed with this payment but it was never captured: capture %s or the money is not collected.", orderID, formatAmount(r.Amount, r.Currency))
	case local.Status == StatusCompleted:
		r.Kind = CancelDuplicate
		r.Reason = fmt.Sprintf("Order %s was completed and paid by other means, not by this payment: cancel the duplicate %s hold.", orderID, money)
	default:
		r.Kind = InProgress
		r.Reason = fmt.Sprintf("Order %s is still %s at the till: this %s authorisation is left alone until the sale ends.", orderID, orderState(local.Status), money)
	}

	if op, ok := in.Queued[pi.ID]; ok {
		would := r.Kind
		r.Kind = AlreadyQueued
		r.Reason = queuedReason(op, would, orderID)
	}
	r.Action, r.CancellationReason = r.Kind.Action(), r.Kind.CancellationReason()
	rows := []Row{r}
	if near && r.Action == "" {
		n := base
		n.Kind = NearExpiry
		n.Reason = expiryReason(money, before, in.Now)
		rows = append(rows, n)
	}
	return rows
}

func orderState(s string) string {
	if s == "" {
		return StatusOpen
	}
	return s
}

// queuedReason explains an already_queued row; would is the row the
// PaymentIntent would have had.
func queuedReason(op string, would Kind, orderID string) string {
	if op == "forward" {
		return fmt.Sprintf("This is order %s's offline payment, whose forwarding is still being recorded: the outbox records it, and captures it if needed; nothing to do here.", orderID)
	}
	what := "An operation"
	switch op {
	case "capture", "cancel":
		what = "A " + op
	}
	s := fmt.Sprintf("%s for this payment of order %s is already waiting in the outbox: nothing to do here", what, orderID)
	switch act := would.Action(); {
	case act != "" && act != op:
		return s + ", but the order now calls for a " + act + ": check the outbox."
	case would == InProgress:
		return s + ", though the order is still open at the till."
	}
	return s + "."
}

func expiryReason(money string, before, now time.Time) string {
	at := before.In(now.Location()).Format("2006-01-02 15:04 MST")
	left := before.Sub(now)
	if left <= 0 {
		return fmt.Sprintf("The %s authorisation lapsed at %s: it can no longer be captured and the hold is being released.", money, at)
	}
	return fmt.Sprintf("The %s authorisation lapses at %s (in %s): capture or cancel it before then.", money, at, roundLeft(left))
}

func roundLeft(d time.Duration) time.Duration {
	if d >= time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

func failedRow(pi *stripe.PaymentIntent, orderID string) Row {
	money := formatAmount(pi.Amount, string(pi.Currency))
	r := Row{
		Kind: PaymentFailed, OrderID: orderID, PaymentIntent: pi.ID, Amount: pi.Amount, Currency: string(pi.Currency),
		Status: string(pi.Status), Created: created(pi),
	}
	why := ""
	if e := pi.LastPaymentError; e != nil {
		why = string(e.DeclineCode)
		if why == "" {
			why = string(e.Code)
		}
	}
	if pi.Status == stripe.PaymentIntentStatusCanceled {
		why = string(pi.CancellationReason)
		if why == "automatic" {
			r.Reason = fmt.Sprintf("Order %s counts this %s payment, but its authorisation lapsed before capture: the money was not collected.", orderID, money)
			return r
		}
	}
	if why != "" {
		why = " (" + why + ")"
	}
	verb := "failed"
	if pi.Status == stripe.PaymentIntentStatusCanceled {
		verb = "was cancelled"
	}
	r.Reason = fmt.Sprintf("Order %s counts this %s payment, but it %s on the server%s: the money was not collected.", orderID, money, verb, why)
	return r
}

// missingRows lists each completed order's counting PaymentIntent that the
// server did not list.
func missingRows(in Input, fetched map[string]bool) []Row {
	var rows []Row
	done := map[[2]string]bool{}
	for _, o := range in.Completed {
		for _, id := range o.Counting {
			k := [2]string{o.OrderID, id}
			if id == "" || fetched[id] || done[k] {
				continue
			}
			done[k] = true
			rows = append(rows, Row{
				Kind: MissingOnServer, OrderID: o.OrderID, PaymentIntent: id, Amount: o.Amount, Currency: o.Currency,
				Reason: fmt.Sprintf("Order %s was completed with payment %s (card and wallet payments %s in all), but the server listed no such PaymentIntent for the period: check the outbox and offline payments.",
					o.OrderID, id, formatAmount(o.Amount, o.Currency)),
			})
		}
	}
	return rows
}

func created(pi *stripe.PaymentIntent) time.Time {
	if pi.Created == 0 {
		return time.Time{}
	}
	return time.Unix(pi.Created, 0).UTC()
}

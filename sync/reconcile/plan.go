package reconcile

import (
	"cmp"
	"slices"
	"time"

	"github.com/stripe/stripe-go/v86"
)

// Kind is what a row of the plan is about.
type Kind string

// Kinds of rows. The first three are actions; the others are listed for
// the manager. Their order here is the order of the plan's groups.
const (
	// Capture: requires_capture, its order was completed and counts this
	// payment, but it was never captured. Action: capture amount_capturable.
	Capture Kind = "capture"
	// CancelAbandoned: requires_capture and no completed order (the order is
	// missing on the till, or was voided). Action: cancel with
	// cancellation_reason=abandoned.
	CancelAbandoned Kind = "cancel_abandoned"
	// CancelDuplicate: requires_capture, its order was completed and paid
	// by other means (this PaymentIntent is not among its counting
	// payments). Action: cancel with cancellation_reason=duplicate.
	CancelDuplicate Kind = "cancel_duplicate"
	// AlreadyQueued: requires_capture, but a capture or cancel for it is
	// already in the outbox: nothing to do.
	AlreadyQueued Kind = "already_queued"
	// InProgress: requires_capture and its order is still open or tendering
	// at the till: left alone.
	InProgress Kind = "in_progress"
	// NearExpiry: an authorisation close to its capture_before. Action rows
	// carry Row.NearExpiry instead of a row of this kind.
	NearExpiry Kind = "near_expiry"
	// MissingOnServer: a completed order's counting PaymentIntent is not
	// among the fetched ones.
	MissingOnServer Kind = "missing_on_server"
	// PaymentFailed: a payment the order counts failed or was cancelled on
	// the server after the sale (a SEPA debit returned, an authorisation
	// that lapsed): the money was not collected.
	PaymentFailed Kind = "payment_failed"
	// OutboxPending: an outbox entry not yet done (rows built by the app).
	OutboxPending Kind = "outbox_pending"
	// OutboxDead: an outbox entry that ended in a permanent error (built by
	// the app).
	OutboxDead Kind = "outbox_dead"
	// OfflineUnforwarded: a card payment taken offline and not yet
	// forwarded (built by the app).
	OfflineUnforwarded Kind = "offline_unforwarded"
	// ForwardDeclined: an offline payment declined when it was forwarded
	// (built by the app).
	ForwardDeclined Kind = "forward_declined"
)

// kindOrder ranks the kinds: actions first, then listings.
var kindOrder = []Kind{Capture, CancelAbandoned, CancelDuplicate, AlreadyQueued, InProgress, NearExpiry,
	MissingOnServer, PaymentFailed, OutboxPending, OutboxDead, OfflineUnforwarded, ForwardDeclined}

func (k Kind) rank() int {
	if i := slices.Index(kindOrder, k); i >= 0 {
		return i
	}
	return len(kindOrder)
}

// Action returns the API call the row asks for: "capture", "cancel", or ""
// for a row that is only listed.
func (k Kind) Action() string {
	switch k {
	case Capture:
		return "capture"
	case CancelAbandoned, CancelDuplicate:
		return "cancel"
	}
	return ""
}

// CancellationReason returns the cancellation_reason of a cancel row:
// "abandoned", "duplicate", or "".
func (k Kind) CancellationReason() string {
	switch k {
	case CancelAbandoned:
		return "abandoned"
	case CancelDuplicate:
		return "duplicate"
	}
	return ""
}

// Row is one line of the plan.
type Row struct {
	Kind Kind `json:"kind"`
	// Action is Kind.Action(): "capture", "cancel" or empty.
	Action string `json:"action,omitempty"`
	// CancellationReason is Kind.CancellationReason().
	CancellationReason string `json:"cancellation_reason,omitempty"`
	OrderID            string `json:"order_id,omitempty"`
	PaymentIntent      string `json:"payment_intent,omitempty"`
	// Amount is in API minor units: amount_capturable for a capture, the
	// PaymentIntent's amount otherwise (the order's counting total for
	// missing_on_server).
	Amount int64 `json:"amount"`
	// Currency as the API writes it ("chf").
	Currency string `json:"currency,omitempty"`
	// Status is the PaymentIntent's status.
	Status        string    `json:"status,omitempty"`
	Created       time.Time `json:"created,omitzero"`
	CaptureBefore time.Time `json:"capture_before,omitzero"`
	// NearExpiry flags an authorisation close to CaptureBefore.
	NearExpiry bool `json:"near_expiry,omitempty"`
	// Reason is one plain English sentence for people and scripts.
	Reason string `json:"reason"`
	// Entry is the outbox entry, on rows the app builds.
	Entry uint64 `json:"entry,omitempty"`
}

// Local is what the till knows of one of its orders.
type Local struct {
	OrderID string
	// Status is "open", "tendering", "completed" or "voided".
	Status string
	// Counting are the PaymentIntent ids of the card/wallet tenders that
	// pay towards the order (authorised, captured, processing).
	Counting []string
	// Amount is what the order's counting card/wallet payments total, in
	// API minor units (used by missing_on_server rows).
	Amount   int64
	Currency string
}

// Order statuses Make understands. Any other status counts as open.
const (
	StatusOpen      = "open"
	StatusTendering = "tendering"
	StatusCompleted = "completed"
	StatusVoided    = "voided"
)

// Input is everything Make decides from.
type Input struct {
	// Lane: only PaymentIntents with metadata[lane] == Lane are
	// considered; the others are counted in Plan.Foreign, never acted on.
	Lane string
	// Intents are the period's PaymentIntents, every page (Fetch).
	Intents []*stripe.PaymentIntent
	// Order looks an order up by metadata[order_id]. Nil finds nothing.
	Order func(id string) (Local, bool)
	// Completed are the period's completed orders that have counting
	// card/wallet payments, for missing_on_server.
	Completed []Local
	// Queued maps a PaymentIntent id to "capture" or "cancel" already
	// pending or in flight in the outbox, or to "forward" for the
	// PaymentIntent of an offline payment whose forwarding is not
	// recorded yet.
	Queued map[string]string
	// Now is the time of the reconciliation.
	Now time.Time
	// NearExpiry is how close to capture_before counts as near;
	// DefaultNearExpiry when zero or negative.
	NearExpiry time.Duration
}

// Plan is the outcome of Make.
type Plan struct {
	// Rows: actions first (capture, then cancels), then listings; within
	// a kind by creation time, then PaymentIntent id.
	Rows []Row `json:"rows"`
	// Actions counts the rows with an Action.
	Actions int `json:"actions"`
	// Fetched is len(Input.Intents).
	Fetched int `json:"fetched"`
	// Foreign counts the intents of other lanes, without till metadata, or
	// malformed (nil, no id).
	Foreign int `json:"foreign"`
}

// DefaultNearExpiry is how close to capture_before an authorisation is
// flagged when Input.NearExpiry is zero.
const DefaultNearExpiry = 24 * time.Hour

// Authorisation windows used when the API did not give capture_before.
const (
	CardPresentAuthWindow = 48 * time.Hour
	OnlineAuthWindow      = 7 * 24 * time.Hour
)

// Metadata keys every PaymentIntent of the till carries (SPEC §1).
const (
	MetaOrderID = "order_id"
	MetaLane    = "lane"
)

// SortRows orders rows as a Plan does: by kind (actions first), then
// creation time, PaymentIntent, order and outbox entry. The app uses it
// after appending the rows it builds (outbox, offline payments).
func SortRows(rows []Row) {
	slices.SortStableFunc(rows, func(a, b Row) int {
		return cmp.Or(
			cmp.Compare(a.Kind.rank(), b.Kind.rank()),
			a.Created.Compare(b.Created),
			cmp.Compare(a.PaymentIntent, b.PaymentIntent),
			cmp.Compare(a.OrderID, b.OrderID),
			cmp.Compare(a.Entry, b.Entry),
		)
	})
}

// CaptureBefore is when the authorisation of pi lapses:
// latest_charge.payment_method_details.card_present.capture_before (or
// .card.capture_before) when the API gave it, else Created plus 2 days for
// card_present (or interac_present) and plus 7 days otherwise. A nil pi
// gives the zero time.
func CaptureBefore(pi *stripe.PaymentIntent) time.Time {
	if pi == nil {
		return time.Time{}
	}
	if ch := pi.LatestCharge; ch != nil && ch.PaymentMethodDetails != nil {
		d := ch.PaymentMethodDetails
		if d.CardPresent != nil && d.CardPresent.CaptureBefore > 0 {
			return time.Unix(d.CardPresent.CaptureBefore, 0).UTC()
		}
		if d.Card != nil && d.Card.CaptureBefore > 0 {
			return time.Unix(d.Card.CaptureBefore, 0).UTC()
		}
	}
	window := OnlineAuthWindow
	if presentCard(pi) {
		window = CardPresentAuthWindow
	}
	return time.Unix(pi.Created, 0).UTC().Add(window)
}

// presentCard reports a PaymentIntent paid, or payable, on a reader.
func presentCard(pi *stripe.PaymentIntent) bool {
	if ch := pi.LatestCharge; ch != nil && ch.PaymentMethodDetails != nil {
		switch ch.PaymentMethodDetails.Type {
		case "card_present", "interac_present":
			return true
		case "":
		default:
			return false
		}
	}
	for _, t := range pi.PaymentMethodTypes {
		if t == "card_present" || t == "interac_present" {
			return true
		}
	}
	return false
}

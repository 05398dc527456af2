package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/api"
)

// PageSize is the list page size Fetch asks for (the API's maximum).
const PageSize = 100

// ErrInvalidPeriod is returned by Fetch for a period that is empty or
// reversed (to not after from, in whole seconds). Nothing was sent.
var ErrInvalidPeriod = errors.New("reconcile: invalid period")

// Fetched is what Fetch listed.
type Fetched struct {
	// Intents are the period's PaymentIntents, newest first, each with its
	// latest_charge expanded when it has one.
	Intents []*stripe.PaymentIntent
	// Pages is how many list calls were made: ceil(N/100), at least 1.
	Pages int
}

// Fetch lists every PaymentIntent created in [from, to), page after page:
// created[gte], created[lt], limit=100, starting_after the last id of the
// previous page, expand[]=data.latest_charge. Statuses are not filtered
// here; Make does it. Times are rounded up to the second, the API's
// resolution, so that the range stays half-open.
//
// An error names the period and the page, and wraps the client's error
// (an *api.Error: errors.Is(err, api.ErrTransient) and the like work).
// On error no PaymentIntents are returned, only the pages that succeeded
// in Pages.
func Fetch(ctx context.Context, c *api.Client, from, to time.Time) (Fetched, error) {
	op := fmt.Sprintf("list PaymentIntents created %s..%s", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	gte, lt := ceilUnix(from), ceilUnix(to)
	switch {
	case c == nil:
		return Fetched{}, fmt.Errorf("%s: %w: no API client", op, api.ErrInvalidConfig)
	case lt <= gte:
		return Fetched{}, fmt.Errorf("%s: %w: the period must end after it starts (whole seconds)", op, ErrInvalidPeriod)
	}
	q := &stripe.PaymentIntentListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: gte, LesserThan: lt}}
	q.Limit = stripe.Int64(PageSize)
	q.AddExpand("data.latest_charge")

	var (
		out   []*stripe.PaymentIntent
		pages int
		seen  = map[string]bool{}
	)
	for {
		page := pages + 1
		l, _, err := c.ListPaymentIntents(ctx, q)
		if err != nil {
			return Fetched{Pages: pages}, fmt.Errorf("%s: page %d: %w", op, page, err)
		}
		pages = page
		out = append(out, l.Data...)
		if !l.HasMore || len(l.Data) == 0 {
			return Fetched{Intents: out, Pages: pages}, nil
		}
		last := l.Data[len(l.Data)-1]
		if last == nil || last.ID == "" {
			return Fetched{Pages: pages}, fmt.Errorf("%s: page %d: %w: last item has no id, cannot ask for the next page", op, page, api.ErrMalformedResponse)
		}
		if seen[last.ID] {
			return Fetched{Pages: pages}, fmt.Errorf("%s: page %d: %w: the list came back to %s (pagination loops)", op, page, api.ErrMalformedResponse, last.ID)
		}
		seen[last.ID] = true
		q.StartingAfter = stripe.String(last.ID)
	}
}

// ceilUnix is t in whole seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

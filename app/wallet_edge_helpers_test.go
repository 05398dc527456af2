package app

import (
	"context"
	"testing"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/events"
)

// edgeEventsCaughtUp waits until the till's event poller has applied
// (or skipped) the newest event of the types it follows, so a test can
// say that an event's effect will never come.
func edgeEventsCaughtUp(t *testing.T, ctx context.Context, lt *liveTill) {
	t.Helper()
	params := &stripe.EventListParams{Types: stripe.StringSlice(events.DefaultTypes)}
	params.Limit = stripe.Int64(1)
	newest := ""
	for ev, err := range lt.api.Events(ctx, params) {
		if err != nil {
			t.Fatal(err)
		}
		newest = ev.ID
		break
	}
	if newest == "" {
		t.Fatal("no events at all")
	}
	lt.wakeEvents()
	if err := lt.waitUntil(ctx, "the event cursor to reach "+newest, func() (bool, error) {
		var cursor string
		err := lt.store.View(func(tx *queue.Tx) error {
			b, err := tx.Value(eventCursorKey)
			cursor = string(b)
			return err
		})
		return cursor == newest, err
	}); err != nil {
		t.Fatal(err)
	}
}

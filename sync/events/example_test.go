package events_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/events"
	"github.com/tillpos/till/sync/sandbox"
)

// A poller follows the sandbox's events; the app's store would keep the
// cursor in the same transaction as the order change.
func Example() {
	srv, _ := sandbox.New(sandbox.Options{Keys: []string{"sk_test_example_4242"}})
	url, _ := srv.StartLoopback()
	defer srv.Close()
	client, _ := api.New(api.Config{BaseURL: url, Key: "sk_test_example_4242"})
	defer client.CloseIdleConnections()

	var (
		mu     sync.Mutex
		cursor string // the app keeps it in bbolt
	)
	got := make(chan *stripe.Event)
	caughtUp := make(chan struct{}, 1)
	p, err := events.New(events.Config{
		Client: client,
		Load: func() (string, error) {
			mu.Lock()
			defer mu.Unlock()
			return cursor, nil
		},
		Save: func(_ context.Context, c string) error {
			mu.Lock()
			defer mu.Unlock()
			cursor = c
			return nil
		},
		Apply: func(ctx context.Context, ev *stripe.Event) (string, error) {
			mu.Lock()
			cursor = ev.ID // with the order change, in one transaction
			mu.Unlock()
			select {
			case got <- ev:
			case <-ctx.Done():
			}
			return ev.ID, nil
		},
		OnState: func(s events.State) {
			if s.Status == events.CaughtUp {
				select {
				case caughtUp <- struct{}{}:
				default:
				}
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()

	<-caughtUp // the first poll found no history: what follows is new

	// An order paid with a saved test card, settled on the server.
	params := &stripe.PaymentIntentCreateParams{
		Amount: stripe.Int64(1250), Currency: stripe.String("eur"),
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
		PaymentMethod:      stripe.String("pm_card_visa"), Confirm: stripe.Bool(true),
	}
	params.AddMetadata("order_id", "42")
	if _, _, err := client.CreatePaymentIntent(ctx, params, "order-42-create"); err != nil {
		fmt.Println(err)
	}
	p.Wake()
	ev := <-got
	fmt.Println(ev.Type, ev.Data.Object["metadata"].(map[string]any)["order_id"])
	cancel()
	fmt.Println(<-done)
	// Output:
	// payment_intent.succeeded 42
	// <nil>
}

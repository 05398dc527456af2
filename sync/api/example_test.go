package api_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/sandbox"
)

// A card-present sale against the sandbox: create, present the card on the
// simulated reader, confirm, capture. Each POST has its own fixed key.
func Example() {
	srv, err := sandbox.New(sandbox.Options{Keys: []string{"sk_test_example_0000000000"}})
	if err != nil {
		panic(err)
	}
	url, err := srv.StartLoopback()
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	c, err := api.New(api.Config{BaseURL: url, Key: "sk_test_example_0000000000"})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	p := &stripe.PaymentIntentCreateParams{
		Amount: stripe.Int64(1200), Currency: stripe.String("eur"),
		PaymentMethodTypes: stripe.StringSlice([]string{"card_present"}),
		CaptureMethod:      stripe.String("manual"),
	}
	p.AddMetadata("order_id", "42")
	p.AddMetadata("lane", "1")
	pi, _, err := c.CreatePaymentIntent(ctx, p, "order-42-create")
	if err != nil {
		panic(err)
	}
	card := &api.PresentPaymentMethodParams{CardPresent: &api.PresentPaymentMethodCardParams{
		Brand: stripe.String("visa"), Last4: stripe.String("4242")}}
	if _, _, err := c.PresentPaymentMethod(ctx, pi.ID, card, "order-42-present"); err != nil {
		panic(err)
	}
	pi, _, err = c.ConfirmPaymentIntent(ctx, pi.ID, nil, "order-42-confirm")
	var apiErr *api.Error
	switch {
	case errors.As(err, &apiErr) && apiErr.Class == api.Declined:
		fmt.Println("declined:", apiErr.DeclineCode) // collect another card on the same PaymentIntent
		return
	case err != nil:
		panic(err)
	}
	fmt.Println(pi.Status)
	pi, resp, err := c.CapturePaymentIntent(ctx, pi.ID, nil, "order-42-capture")
	if err != nil {
		panic(err)
	}
	fmt.Println(pi.Status, pi.AmountReceived, resp.Attempts, resp.IdempotentReplayed)
	// Output:
	// requires_capture
	// succeeded 1200 1 false
}

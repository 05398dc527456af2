package sandbox_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/sandbox"
)

// stripeClient points Stripe's official Go client at a sandbox, with its
// retries off so every answer is the sandbox's own.
func stripeClient(t *testing.T, c *tclient) *stripe.Client {
	t.Helper()
	backends := stripe.NewBackendsWithConfig(&stripe.BackendConfig{
		URL:               stripe.String(c.srv.URL),
		MaxNetworkRetries: stripe.Int64(0),
		HTTPClient:        &http.Client{Timeout: 10 * time.Second},
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	return stripe.NewClient(c.key, stripe.WithBackends(backends))
}

func wantStripeError(t *testing.T, err error, status int, typ stripe.ErrorType, code stripe.ErrorCode) *stripe.Error {
	t.Helper()
	var se *stripe.Error
	if !errors.As(err, &se) {
		t.Fatalf("err %T %v, want *stripe.Error", err, err)
	}
	if se.HTTPStatusCode != status || se.Type != typ || se.Code != code {
		t.Fatalf("got %d %s/%s (%s), want %d %s/%s", se.HTTPStatusCode, se.Type, se.Code, se.Msg, status, typ, code)
	}
	if se.RequestID == "" {
		t.Fatal("no request id")
	}
	return se
}

func TestConformanceStripeGo(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	sc := stripeClient(t, c)
	ctx := context.Background()

	// Customers.
	cus, err := sc.V1Customers.Create(ctx, &stripe.CustomerCreateParams{Email: stripe.String("jenny@example.com"), Name: stripe.String("Jenny Rosen"),
		Params: stripe.Params{Metadata: map[string]string{"loyalty": "gold"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := sc.V1Customers.Retrieve(ctx, cus.ID, nil)
	if err != nil || got.Email != "jenny@example.com" || got.Metadata["loyalty"] != "gold" || got.Created != epoch.Unix() {
		t.Fatalf("customer retrieve: %+v %v", got, err)
	}
	n := 0
	for cu, err := range sc.V1Customers.Search(ctx, &stripe.CustomerSearchParams{SearchParams: stripe.SearchParams{Query: "email:'jenny@example.com'"}}).All(ctx) {
		if err != nil || cu.ID != cus.ID {
			t.Fatalf("customer search: %v %v", cu, err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("customer search found %d", n)
	}
	n = 0
	for _, err := range sc.V1Customers.List(ctx, &stripe.CustomerListParams{Email: stripe.String("jenny@example.com")}).All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("customer list found %d", n)
	}
	pm, err := sc.V1PaymentMethods.Attach(ctx, "pm_card_visa", &stripe.PaymentMethodAttachParams{Customer: stripe.String(cus.ID)})
	if err != nil || pm.Card == nil || pm.Card.Last4 != "4242" || pm.Customer == nil || pm.Customer.ID != cus.ID {
		t.Fatalf("attach: %+v %v", pm, err)
	}
	for p, err := range sc.V1Customers.ListPaymentMethods(ctx, &stripe.CustomerListPaymentMethodsParams{Customer: stripe.String(cus.ID), Type: stripe.String("card")}).All(ctx) {
		if err != nil || p.ID != pm.ID {
			t.Fatalf("customer payment methods: %v %v", p, err)
		}
	}
	sess, err := sc.V1CustomerSessions.Create(ctx, &stripe.CustomerSessionCreateParams{Customer: stripe.String(cus.ID),
		Components: &stripe.CustomerSessionCreateComponentsParams{PaymentElement: &stripe.CustomerSessionCreateComponentsPaymentElementParams{
			Enabled:  stripe.Bool(true),
			Features: &stripe.CustomerSessionCreateComponentsPaymentElementFeaturesParams{PaymentMethodRedisplay: stripe.String("enabled")},
		}}})
	if err != nil || sess.ClientSecret == "" || sess.Components.PaymentElement.Features.PaymentMethodRedisplay != "enabled" {
		t.Fatalf("customer session: %+v %v", sess, err)
	}

	// The reader flow: create, collect (test helper), confirm, capture.
	pi, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{
		Amount: stripe.Int64(1000), Currency: stripe.String("usd"), PaymentMethodTypes: stripe.StringSlice([]string{"card_present"}),
		CaptureMethod: stripe.String("manual"), Params: stripe.Params{Metadata: map[string]string{"order_id": "42", "lane": "1"}},
	})
	if err != nil || pi.Status != stripe.PaymentIntentStatusRequiresPaymentMethod || pi.Metadata["order_id"] != "42" {
		t.Fatalf("create: %+v %v", pi, err)
	}
	c.post("/v1/test_helpers/payment_intents/"+pi.ID+"/present_payment_method", "").ok()
	confirmParams := &stripe.PaymentIntentConfirmParams{}
	confirmParams.AddExpand("latest_charge")
	pi, err = sc.V1PaymentIntents.Confirm(ctx, pi.ID, confirmParams)
	if err != nil || pi.Status != stripe.PaymentIntentStatusRequiresCapture || pi.AmountCapturable != 1000 {
		t.Fatalf("confirm: %+v %v", pi, err)
	}
	if pi.LatestCharge == nil || pi.LatestCharge.PaymentMethodDetails == nil || pi.LatestCharge.PaymentMethodDetails.CardPresent == nil ||
		pi.LatestCharge.PaymentMethodDetails.CardPresent.CaptureBefore != epoch.Add(48*time.Hour).Unix() {
		t.Fatalf("latest_charge capture_before not parsed: %+v", pi.LatestCharge)
	}
	pi, err = sc.V1PaymentIntents.Capture(ctx, pi.ID, &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(800)})
	if err != nil || pi.Status != stripe.PaymentIntentStatusSucceeded || pi.AmountReceived != 800 {
		t.Fatalf("capture: %+v %v", pi, err)
	}
	// Capturing again: the state error carries the PaymentIntent.
	_, err = sc.V1PaymentIntents.Capture(ctx, pi.ID, nil)
	se := wantStripeError(t, err, 400, stripe.ErrorTypeInvalidRequest, stripe.ErrorCodePaymentIntentUnexpectedState)
	if se.PaymentIntent == nil || se.PaymentIntent.ID != pi.ID || se.PaymentIntent.Status != stripe.PaymentIntentStatusSucceeded {
		t.Fatalf("error PaymentIntent: %+v", se.PaymentIntent)
	}

	// Update and cancel.
	pi2, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(500), Currency: stripe.String("eur"),
		PaymentMethodTypes: stripe.StringSlice([]string{"card_present"}), CaptureMethod: stripe.String("manual"), Customer: stripe.String(cus.ID)})
	if err != nil {
		t.Fatal(err)
	}
	up := &stripe.PaymentIntentUpdateParams{Amount: stripe.Int64(700)}
	up.AddMetadata("order_id", "43")
	pi2, err = sc.V1PaymentIntents.Update(ctx, pi2.ID, up)
	if err != nil || pi2.Amount != 700 || pi2.Metadata["order_id"] != "43" || pi2.Customer == nil || pi2.Customer.ID != cus.ID {
		t.Fatalf("update: %+v %v", pi2, err)
	}
	pi2, err = sc.V1PaymentIntents.Cancel(ctx, pi2.ID, &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String("abandoned")})
	if err != nil || pi2.Status != stripe.PaymentIntentStatusCanceled || pi2.CancellationReason != stripe.PaymentIntentCancellationReasonAbandoned {
		t.Fatalf("cancel: %+v %v", pi2, err)
	}

	// List (all pages, newest first) and search.
	var listed []string
	lp := &stripe.PaymentIntentListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(1)}}
	lp.Filters.AddFilter("created[gte]", "", "0")
	for p, err := range sc.V1PaymentIntents.List(ctx, lp).All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, p.ID)
	}
	if len(listed) != 2 || listed[0] != pi2.ID || listed[1] != pi.ID {
		t.Fatalf("list: %v", listed)
	}
	var found []string
	for p, err := range sc.V1PaymentIntents.Search(ctx, &stripe.PaymentIntentSearchParams{SearchParams: stripe.SearchParams{Query: "metadata['order_id']:'42' AND status:'succeeded'"}}).All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, p.ID)
	}
	if len(found) != 1 || found[0] != pi.ID {
		t.Fatalf("search: %v", found)
	}

	// Declines parse as card errors.
	_, err = sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(1000), Currency: stripe.String("usd"),
		PaymentMethod: stripe.String("pm_card_chargeDeclinedInsufficientFunds"), Confirm: stripe.Bool(true)})
	se = wantStripeError(t, err, 402, stripe.ErrorTypeCard, stripe.ErrorCodeCardDeclined)
	if se.DeclineCode != stripe.DeclineCodeInsufficientFunds || se.PaymentIntent == nil || se.PaymentIntent.LastPaymentError == nil {
		t.Fatalf("decline: %+v", se)
	}
	var ce *stripe.CardError
	if !errors.As(err, &se) || !errors.As(se.Err, &ce) {
		t.Fatalf("not a CardError: %T", se.Err)
	}

	// Validation and auth errors.
	_, err = sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(10), Currency: stripe.String("usd")})
	wantStripeError(t, err, 400, stripe.ErrorTypeInvalidRequest, stripe.ErrorCodeAmountTooSmall)
	_, err = sc.V1PaymentIntents.Retrieve(ctx, "pi_missing", nil)
	wantStripeError(t, err, 404, stripe.ErrorTypeInvalidRequest, stripe.ErrorCodeResourceMissing)
	params := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(1000), Currency: stripe.String("usd")}
	params.SetIdempotencyKey("conf-1")
	if _, err := sc.V1PaymentIntents.Create(ctx, params); err != nil {
		t.Fatal(err)
	}
	params2 := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(2000), Currency: stripe.String("usd")}
	params2.SetIdempotencyKey("conf-1")
	_, err = sc.V1PaymentIntents.Create(ctx, params2)
	wantStripeError(t, err, 400, stripe.ErrorTypeIdempotency, "")
	bad := stripe.NewClient("sk_test_wrong", stripe.WithBackends(stripe.NewBackendsWithConfig(&stripe.BackendConfig{
		URL: stripe.String(c.srv.URL), MaxNetworkRetries: stripe.Int64(0), LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}})))
	_, err = bad.V1Customers.Retrieve(ctx, cus.ID, nil)
	var se2 *stripe.Error
	if !errors.As(err, &se2) || se2.HTTPStatusCode != 401 {
		t.Fatalf("wrong key: %v", err)
	}

	// Events, newest first, with the PaymentIntent inside.
	evParams := &stripe.EventListParams{Type: stripe.String("payment_intent.succeeded")}
	var evs []*stripe.Event
	for e, err := range sc.V1Events.List(ctx, evParams).All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	if len(evs) != 1 || evs[0].Type != "payment_intent.succeeded" || evs[0].Data == nil || evs[0].Data.Object["id"] != pi.ID {
		t.Fatalf("events: %+v", evs)
	}
	var fromEvent stripe.PaymentIntent
	if err := fromEvent.UnmarshalJSON(evs[0].Data.Raw); err != nil || fromEvent.Status != stripe.PaymentIntentStatusSucceeded {
		t.Fatalf("event payload: %v %+v", err, fromEvent)
	}
}

func TestConformanceWallets(t *testing.T) {
	c := newSandbox(t, sandbox.Options{})
	sc := stripeClient(t, c)
	ctx := context.Background()
	pi, err := sc.V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{
		Amount: stripe.Int64(1000), Currency: stripe.String("chf"), PaymentMethodTypes: stripe.StringSlice([]string{"twint"}),
		PaymentMethodData: &stripe.PaymentIntentCreatePaymentMethodDataParams{Type: stripe.String("twint")},
		Confirm:           stripe.Bool(true), ReturnURL: stripe.String("https://till.example/return"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if pi.Status != stripe.PaymentIntentStatusRequiresAction || pi.NextAction == nil || pi.NextAction.Type != "redirect_to_url" ||
		pi.NextAction.RedirectToURL == nil || pi.NextAction.RedirectToURL.URL == "" || pi.PaymentMethod == nil {
		t.Fatalf("twint: %+v", pi)
	}
	c.authorizePage(pi.NextAction.RedirectToURL.URL, "authorize")
	pi, err = sc.V1PaymentIntents.Retrieve(ctx, pi.ID, nil)
	if err != nil || pi.Status != stripe.PaymentIntentStatusSucceeded {
		t.Fatalf("after authorize: %+v %v", pi, err)
	}
}

package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

func sandboxClient(t testing.TB, mod ...func(*api.Config)) (*sandboxtest.Server, *testClient) {
	t.Helper()
	srv := sandboxtest.New(t, sandbox.Options{})
	return srv, newClient(t, srv.URL, srv.Key, mod...)
}

func cardPresentParams(orderID string, amount int64) *stripe.PaymentIntentCreateParams {
	p := &stripe.PaymentIntentCreateParams{
		Amount:             stripe.Int64(amount),
		Currency:           stripe.String("eur"),
		PaymentMethodTypes: stripe.StringSlice([]string{"card_present"}),
		CaptureMethod:      stripe.String("manual"),
	}
	p.AddMetadata("order_id", orderID)
	p.AddMetadata("lane", "lane-1")
	return p
}

func visa() *api.PresentPaymentMethodParams {
	return &api.PresentPaymentMethodParams{CardPresent: &api.PresentPaymentMethodCardParams{
		Brand: stripe.String("visa"), Last4: stripe.String("4242"), ReadMethod: stripe.String("contactless_emv")}}
}

func TestCardPresentFlow(t *testing.T) {
	_, c := sandboxClient(t)
	ctx := context.Background()
	pi, resp, err := c.CreatePaymentIntent(ctx, cardPresentParams("42", 1200), "o42-create")
	if err != nil {
		t.Fatal(err)
	}
	if pi.Status != stripe.PaymentIntentStatusRequiresPaymentMethod || pi.Amount != 1200 || pi.Metadata["order_id"] != "42" {
		t.Fatalf("created %+v", pi)
	}
	if resp.StatusCode != 200 || resp.RequestID == "" || resp.Attempts != 1 || resp.IdempotentReplayed || resp.Object != "payment_intent" || resp.ID != pi.ID {
		t.Fatalf("response %+v", resp)
	}
	if pi, _, err = c.PresentPaymentMethod(ctx, pi.ID, visa(), "o42-present"); err != nil || pi.Status != stripe.PaymentIntentStatusRequiresConfirmation {
		t.Fatalf("present: %v, %v", err, pi)
	}
	if pi, _, err = c.ConfirmPaymentIntent(ctx, pi.ID, nil, "o42-confirm"); err != nil || pi.Status != stripe.PaymentIntentStatusRequiresCapture {
		t.Fatalf("confirm: %v, %v", err, pi)
	}
	captured, _, err := c.CapturePaymentIntent(ctx, pi.ID, &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(1200)}, "o42-capture")
	if err != nil || captured.Status != stripe.PaymentIntentStatusSucceeded || captured.AmountReceived != 1200 {
		t.Fatalf("capture: %v, %+v", err, captured)
	}
	// The same capture again, same key: the saved answer is replayed.
	again, resp, err := c.CapturePaymentIntent(ctx, pi.ID, &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(1200)}, "o42-capture")
	if err != nil || !resp.IdempotentReplayed || again.ID != pi.ID || again.Status != stripe.PaymentIntentStatusSucceeded {
		t.Fatalf("replayed capture: %v, %+v", err, resp)
	}
	got, _, err := c.RetrievePaymentIntent(ctx, pi.ID, nil)
	if err != nil || got.Status != stripe.PaymentIntentStatusSucceeded || got.AmountReceived != 1200 {
		t.Fatalf("retrieve: %v %+v", err, got)
	}
	upd := &stripe.PaymentIntentUpdateParams{}
	upd.AddMetadata("receipt", "r-1")
	if got, _, err = c.UpdatePaymentIntent(ctx, pi.ID, upd, "o42-meta"); err != nil || got.Metadata["receipt"] != "r-1" || got.Metadata["order_id"] != "42" {
		t.Fatalf("update: %v %+v", err, got)
	}
}

func TestCancelPaymentIntent(t *testing.T) {
	_, c := sandboxClient(t)
	ctx := context.Background()
	pi, _, err := c.CreatePaymentIntent(ctx, cardPresentParams("7", 500), "o7")
	if err != nil {
		t.Fatal(err)
	}
	pi, _, err = c.CancelPaymentIntent(ctx, pi.ID, &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String("abandoned")}, "o7-cancel")
	if err != nil || pi.Status != stripe.PaymentIntentStatusCanceled || pi.CancellationReason != "abandoned" {
		t.Fatalf("cancel: %v %+v", err, pi)
	}
	// Capturing a canceled PaymentIntent is a permanent state error that
	// carries the PaymentIntent.
	_, _, err = c.CapturePaymentIntent(ctx, pi.ID, nil, "o7-capture")
	e := asAPIError(t, err)
	if e.Class != api.Permanent || e.Code != "payment_intent_unexpected_state" || e.PaymentIntent == nil || e.PaymentIntent.ID != pi.ID {
		t.Fatalf("err = %v (%+v)", err, e.PaymentIntent)
	}
}

func TestSandboxErrors(t *testing.T) {
	srv, c := sandboxClient(t)
	ctx := context.Background()

	t.Run("decline", func(t *testing.T) {
		pi, _, err := c.CreatePaymentIntent(ctx, cardPresentParams("d1", 1055), "d1")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.PresentPaymentMethod(ctx, pi.ID, visa(), "d1-present"); err != nil {
			t.Fatal(err)
		}
		_, resp, err := c.ConfirmPaymentIntent(ctx, pi.ID, nil, "d1-confirm")
		e := asAPIError(t, err)
		if !errors.Is(err, api.ErrDeclined) || e.HTTPStatus != http.StatusPaymentRequired || e.Type != stripe.ErrorTypeCard ||
			e.DeclineCode != "incorrect_pin" || e.RequestID == "" || e.Attempts != 1 {
			t.Fatalf("err = %v", err)
		}
		if e.PaymentIntent == nil || e.PaymentIntent.ID != pi.ID || e.PaymentIntent.Status != stripe.PaymentIntentStatusRequiresPaymentMethod {
			t.Fatalf("PaymentIntent in the error = %+v", e.PaymentIntent)
		}
		if resp == nil || resp.StatusCode != 402 {
			t.Fatalf("response alongside the error = %+v", resp)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		_, _, err := c.CreatePaymentIntent(ctx, &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(0), Currency: stripe.String("eur")}, "inv")
		e := asAPIError(t, err)
		if e.Class != api.Permanent || e.HTTPStatus != 400 || e.Type != stripe.ErrorTypeInvalidRequest || e.Code != "parameter_invalid_integer" || e.Param != "amount" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("idempotency_error", func(t *testing.T) {
		if _, _, err := c.CreatePaymentIntent(ctx, cardPresentParams("i1", 1000), "same-key"); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.CreatePaymentIntent(ctx, cardPresentParams("i1", 2000), "same-key")
		e := asAPIError(t, err)
		if e.Class != api.Permanent || e.Type != stripe.ErrorTypeIdempotency {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad key", func(t *testing.T) {
		bad := newClient(t, srv.URL, "sk_test_wrong_key_0000000000000")
		_, _, err := bad.RetrievePaymentIntent(ctx, "pi_x", nil)
		e := asAPIError(t, err)
		if e.Class != api.Permanent || e.HTTPStatus != 401 || e.Attempts != 1 {
			t.Fatalf("err = %v", err)
		}
		if err := bad.Probe(ctx); api.ClassOf(err) != api.Permanent {
			t.Fatalf("probe with a bad key = %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, _, err := c.RetrievePaymentIntent(ctx, "pi_doesnotexist", nil)
		e := asAPIError(t, err)
		if e.Class != api.Permanent || e.HTTPStatus != 404 || e.Code != "resource_missing" {
			t.Fatalf("err = %v", err)
		}
	})
}

// A 500 saved after commit is replayed for the key: the client stops at
// the replay and says so; asking the API finds the one PaymentIntent.
func TestReplayed500IsIndeterminateAndResolvable(t *testing.T) {
	srv, c := sandboxClient(t)
	ctx := context.Background()
	srv.InjectFaults(t, sandbox.FaultConfig{Seed: 1, Rules: []sandbox.FaultRule{
		{Method: "POST", Path: "/v1/payment_intents", Kind: sandbox.FaultErrorAfterCommit, Times: 1}}})
	start := srv.Now().Unix()
	_, _, err := c.CreatePaymentIntent(ctx, cardPresentParams("r500", 1000), "r500-create")
	e := asAPIError(t, err)
	if e.Class != api.Indeterminate || !e.ReplayedServerError() || e.Attempts != 2 || e.HTTPStatus != 500 || !e.MayHaveActed() {
		t.Fatalf("err = %v (replayed %v, attempts %d)", err, e.IdempotentReplayed, e.Attempts)
	}
	var found []string
	for pi, err := range c.PaymentIntents(ctx, &stripe.PaymentIntentListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: start}}) {
		if err != nil {
			t.Fatal(err)
		}
		if pi.Metadata["order_id"] == "r500" {
			found = append(found, pi.ID)
		}
	}
	if len(found) != 1 {
		t.Fatalf("PaymentIntents for the order: %v, want exactly one", found)
	}
}

// A connection dropped after commit is retried; the retry gets the saved
// answer.
func TestDropAfterCommitRecovered(t *testing.T) {
	srv, c := sandboxClient(t)
	ctx := context.Background()
	srv.InjectFaults(t, sandbox.FaultConfig{Seed: 1, Rules: []sandbox.FaultRule{
		{Method: "POST", Path: "/v1/payment_intents", Kind: sandbox.FaultDropAfterCommit, Times: 1}}})
	pi, resp, err := c.CreatePaymentIntent(ctx, cardPresentParams("drop", 1000), "drop-create")
	if err != nil {
		t.Fatal(err)
	}
	if !resp.IdempotentReplayed || resp.Attempts != 2 {
		t.Fatalf("response %+v: want the replay on attempt 2", resp)
	}
	res, _, err := c.SearchPaymentIntents(ctx, &stripe.PaymentIntentSearchParams{SearchParams: stripe.SearchParams{Query: "metadata['order_id']:'drop'"}})
	if err != nil || len(res.Data) != 1 || res.Data[0].ID != pi.ID {
		t.Fatalf("search: %v %+v", err, res)
	}
}

func TestRateLimitFaultHonoursRetryAfter(t *testing.T) {
	srv, c := sandboxClient(t)
	srv.InjectFaults(t, sandbox.FaultConfig{Seed: 1, Rules: []sandbox.FaultRule{
		{Path: "/v1/payment_intents", Kind: sandbox.FaultRateLimit, RetryAfter: 2, Times: 1}}})
	_, resp, err := c.CreatePaymentIntent(context.Background(), cardPresentParams("rl", 1000), "rl")
	if err != nil || resp.Attempts != 2 || resp.IdempotentReplayed {
		t.Fatalf("err %v resp %+v", err, resp)
	}
	if got := c.waits.got(); len(got) != 1 || got[0] != 2*time.Second {
		t.Fatalf("Retry-After seen by the back-off: %v, want [2s]", got)
	}
}

func TestListPagination(t *testing.T) {
	_, c := sandboxClient(t)
	ctx := context.Background()
	const n = 23
	for i := range n {
		if _, _, err := c.CreatePaymentIntent(ctx, cardPresentParams(fmt.Sprint(i), 1000+int64(i)*100), fmt.Sprintf("list-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	page, _, err := c.ListPaymentIntents(ctx, &stripe.PaymentIntentListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(10)}})
	if err != nil || len(page.Data) != 10 || !page.HasMore {
		t.Fatalf("first page: %v, %d items, more %v", err, len(page.Data), page.HasMore)
	}
	p := &stripe.PaymentIntentListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(10)}}
	seen := map[string]bool{}
	for pi, err := range c.PaymentIntents(ctx, p) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[pi.ID] {
			t.Fatalf("%s seen twice", pi.ID)
		}
		seen[pi.ID] = true
	}
	if len(seen) != n || p.StartingAfter != nil {
		t.Fatalf("iterated %d, want %d; params modified: %v", len(seen), n, p.StartingAfter)
	}
	// Stopping early is honoured.
	count := 0
	for range c.PaymentIntents(ctx, p) {
		count++
		if count == 12 {
			break
		}
	}
	if count != 12 {
		t.Fatal(count)
	}
}

func TestCustomersAndSessions(t *testing.T) {
	_, c := sandboxClient(t)
	ctx := context.Background()
	cus, _, err := c.CreateCustomer(ctx, &stripe.CustomerCreateParams{Email: stripe.String("ana@example.com"), Name: stripe.String("Ana Lima")}, "cus-ana")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := c.RetrieveCustomer(ctx, cus.ID, nil)
	if err != nil || got.Email != "ana@example.com" {
		t.Fatalf("retrieve: %v %+v", err, got)
	}
	list, _, err := c.ListCustomers(ctx, &stripe.CustomerListParams{Email: stripe.String("ana@example.com")})
	if err != nil || len(list.Data) != 1 || list.Data[0].ID != cus.ID {
		t.Fatalf("list: %v %+v", err, list)
	}
	found, _, err := c.SearchCustomers(ctx, &stripe.CustomerSearchParams{SearchParams: stripe.SearchParams{Query: "name~'Lima'"}})
	if err != nil || len(found.Data) != 1 || found.Data[0].ID != cus.ID {
		t.Fatalf("search: %v %+v", err, found)
	}
	// Save a card through a successful payment.
	p := &stripe.PaymentIntentCreateParams{
		Amount: stripe.Int64(2000), Currency: stripe.String("eur"), Customer: stripe.String(cus.ID),
		PaymentMethod: stripe.String("pm_card_visa"), Confirm: stripe.Bool(true),
		SetupFutureUsage: stripe.String("off_session"), PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
	}
	if pi, _, err := c.CreatePaymentIntent(ctx, p, "cus-ana-pay"); err != nil || pi.Status != stripe.PaymentIntentStatusSucceeded {
		t.Fatalf("pay: %v %+v", err, pi)
	}
	pms, _, err := c.ListCustomerPaymentMethods(ctx, cus.ID, &stripe.CustomerListPaymentMethodsParams{Type: stripe.String("card")})
	if err != nil || len(pms.Data) != 1 || pms.Data[0].Card == nil || pms.Data[0].Card.Last4 != "4242" {
		t.Fatalf("payment methods: %v %+v", err, pms)
	}
	sess, _, err := c.CreateCustomerSession(ctx, &stripe.CustomerSessionCreateParams{
		Customer: stripe.String(cus.ID),
		Components: &stripe.CustomerSessionCreateComponentsParams{PaymentElement: &stripe.CustomerSessionCreateComponentsPaymentElementParams{
			Enabled: stripe.Bool(true),
			Features: &stripe.CustomerSessionCreateComponentsPaymentElementFeaturesParams{
				PaymentMethodRedisplay: stripe.String("enabled")},
		}},
	}, "cus-ana-session")
	if err != nil || sess.ClientSecret == "" || sess.Customer == nil || sess.Customer.ID != cus.ID {
		t.Fatalf("session: %v %+v", err, sess)
	}
}

func TestEvents(t *testing.T) {
	_, c := sandboxClient(t)
	ctx := context.Background()
	pi, _, err := c.CreatePaymentIntent(ctx, cardPresentParams("ev", 1000), "ev")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.CancelPaymentIntent(ctx, pi.ID, nil, "ev-cancel"); err != nil {
		t.Fatal(err)
	}
	evs, _, err := c.ListEvents(ctx, &stripe.EventListParams{Type: stripe.String("payment_intent.canceled")})
	if err != nil || len(evs.Data) != 1 || evs.Data[0].Type != "payment_intent.canceled" {
		t.Fatalf("events: %v %+v", err, evs)
	}
	var types []string
	for ev, err := range c.Events(ctx, &stripe.EventListParams{Types: stripe.StringSlice([]string{"payment_intent.created", "payment_intent.canceled"}),
		ListParams: stripe.ListParams{Limit: stripe.Int64(1)}}) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Data == nil || ev.GetObjectValue("id") != pi.ID {
			t.Fatalf("event %s object %v", ev.ID, ev.Data)
		}
		types = append(types, string(ev.Type))
	}
	if fmt.Sprint(types) != "[payment_intent.canceled payment_intent.created]" {
		t.Fatalf("event types newest first = %v", types)
	}
}

func TestRawPost(t *testing.T) {
	_, c := sandboxClient(t)
	body := api.Encode(cardPresentParams("raw", 1500))
	resp, err := c.Post(context.Background(), "/v1/payment_intents", body, "raw-create")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Object != "payment_intent" || resp.ID == "" || resp.StatusCode != 200 {
		t.Fatalf("response %+v", resp)
	}
	again, err := c.Post(context.Background(), "/v1/payment_intents", body, "raw-create")
	if err != nil || !again.IdempotentReplayed || again.ID != resp.ID || again.OriginalRequestID != resp.RequestID {
		t.Fatalf("replay: %v %+v", err, again)
	}
	if _, err := c.Post(context.Background(), "/v2/../x?y", body, "k"); api.ClassOf(err) != api.Permanent {
		t.Fatalf("bad path: %v", err)
	}
}

func TestProbe(t *testing.T) {
	_, c := sandboxClient(t)
	if err := c.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	down := newClient(t, closedURL(t), testKey)
	err := down.Probe(context.Background())
	e := asAPIError(t, err)
	if e.Class != api.Transient || e.Attempts != 1 {
		t.Fatalf("probe of a closed port: %v (attempts %d)", err, e.Attempts)
	}
}

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"

	"github.com/stripe/stripe-go/v86"
	"github.com/stripe/stripe-go/v86/form"
)

// Encode form-encodes stripe-go parameters (any *stripe.…Params) exactly as
// the typed calls send them: what the app stores in the outbox for Post.
func Encode(params any) []byte {
	v := &form.Values{}
	form.AppendTo(v, params)
	return []byte(v.Encode())
}

func orNew[T any](p *T) *T {
	if p == nil {
		return new(T)
	}
	return p
}

// idPath builds "/v1/<collection>/<escaped id><suffix>".
func idPath(collection, id, suffix string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("%w: empty object id", ErrInvalidConfig)
	}
	return "/v1/" + collection + "/" + url.PathEscape(id) + suffix, nil
}

// call runs one request and decodes a 2xx answer of the given object type
// into a new T.
func call[T any](ctx context.Context, c *Client, method, path string, params any, idemKey, object string) (*T, *Response, error) {
	r, err := c.do(ctx, method, path, Encode(params), idemKey, c.cfg.MaxAttempts, 0)
	if err != nil {
		return nil, r, err
	}
	if r.Object != object {
		return nil, r, c.malformed(ctx, r, fmt.Errorf("%w: object %q where %q expected", ErrMalformedResponse, r.Object, object))
	}
	out := new(T)
	if err := json.Unmarshal(r.Body, out); err != nil {
		return nil, r, c.malformed(ctx, r, fmt.Errorf("%w: %s", ErrMalformedResponse, jsonProblem(err)))
	}
	return out, r, nil
}

// callID is call for a path naming one object.
func callID[T any](ctx context.Context, c *Client, method, collection, id, suffix string, params any, idemKey, object string) (*T, *Response, error) {
	path, err := idPath(collection, id, suffix)
	if err != nil {
		return nil, nil, &Error{Op: method + " /v1/" + collection + "/{id}" + suffix, Class: Permanent, detail: err.Error(), cause: err}
	}
	return call[T](ctx, c, method, path, params, idemKey, object)
}

// malformed turns a 2xx answer that could not be used into an error: for a
// POST the server acted, so it is Indeterminate.
func (c *Client) malformed(ctx context.Context, r *Response, err error) *Error {
	st := &callState{mayHaveActed: true, header: r.header}
	return c.fail(ctx, r, st, err)
}

// CreatePaymentIntent creates a PaymentIntent (POST /v1/payment_intents).
// Every create should carry metadata[order_id] and metadata[lane].
func (c *Client) CreatePaymentIntent(ctx context.Context, p *stripe.PaymentIntentCreateParams, idemKey string) (*stripe.PaymentIntent, *Response, error) {
	return call[stripe.PaymentIntent](ctx, c, http.MethodPost, "/v1/payment_intents", orNew(p), idemKey, "payment_intent")
}

// RetrievePaymentIntent fetches a PaymentIntent (GET /v1/payment_intents/{id}).
func (c *Client) RetrievePaymentIntent(ctx context.Context, id string, p *stripe.PaymentIntentRetrieveParams) (*stripe.PaymentIntent, *Response, error) {
	return callID[stripe.PaymentIntent](ctx, c, http.MethodGet, "payment_intents", id, "", orNew(p), "", "payment_intent")
}

// UpdatePaymentIntent updates a PaymentIntent (POST /v1/payment_intents/{id}).
func (c *Client) UpdatePaymentIntent(ctx context.Context, id string, p *stripe.PaymentIntentUpdateParams, idemKey string) (*stripe.PaymentIntent, *Response, error) {
	return callID[stripe.PaymentIntent](ctx, c, http.MethodPost, "payment_intents", id, "", orNew(p), idemKey, "payment_intent")
}

// ConfirmPaymentIntent confirms (processes) a PaymentIntent. A decline is an
// *Error of Class Declined carrying the PaymentIntent.
func (c *Client) ConfirmPaymentIntent(ctx context.Context, id string, p *stripe.PaymentIntentConfirmParams, idemKey string) (*stripe.PaymentIntent, *Response, error) {
	return callID[stripe.PaymentIntent](ctx, c, http.MethodPost, "payment_intents", id, "/confirm", orNew(p), idemKey, "payment_intent")
}

// CapturePaymentIntent captures an authorised PaymentIntent
// (amount_to_capture optional).
func (c *Client) CapturePaymentIntent(ctx context.Context, id string, p *stripe.PaymentIntentCaptureParams, idemKey string) (*stripe.PaymentIntent, *Response, error) {
	return callID[stripe.PaymentIntent](ctx, c, http.MethodPost, "payment_intents", id, "/capture", orNew(p), idemKey, "payment_intent")
}

// CancelPaymentIntent cancels a PaymentIntent (cancellation_reason optional).
func (c *Client) CancelPaymentIntent(ctx context.Context, id string, p *stripe.PaymentIntentCancelParams, idemKey string) (*stripe.PaymentIntent, *Response, error) {
	return callID[stripe.PaymentIntent](ctx, c, http.MethodPost, "payment_intents", id, "/cancel", orNew(p), idemKey, "payment_intent")
}

// ListPaymentIntents returns one page of PaymentIntents, newest first
// (created / CreatedRange, customer, limit ≤ 100, starting_after).
func (c *Client) ListPaymentIntents(ctx context.Context, p *stripe.PaymentIntentListParams) (*stripe.PaymentIntentList, *Response, error) {
	return call[stripe.PaymentIntentList](ctx, c, http.MethodGet, "/v1/payment_intents", orNew(p), "", "list")
}

// PaymentIntents iterates over every PaymentIntent matching p, page after
// page (starting_after the last id of each page). p is not modified. The
// iteration stops at the first error, which is yielded.
func (c *Client) PaymentIntents(ctx context.Context, p *stripe.PaymentIntentListParams) iter.Seq2[*stripe.PaymentIntent, error] {
	return func(yield func(*stripe.PaymentIntent, error) bool) {
		q := *orNew(p)
		paginate(func(after *string) ([]*stripe.PaymentIntent, bool, error) {
			if after != nil {
				q.StartingAfter, q.EndingBefore = after, nil
			}
			l, _, err := c.ListPaymentIntents(ctx, &q)
			if err != nil {
				return nil, false, err
			}
			return l.Data, l.HasMore, nil
		}, func(pi *stripe.PaymentIntent) string { return pi.ID })(yield)
	}
}

// SearchPaymentIntents runs a search query
// (e.g. "metadata['order_id']:'42'"); page with p.Page = result.NextPage.
func (c *Client) SearchPaymentIntents(ctx context.Context, p *stripe.PaymentIntentSearchParams) (*stripe.PaymentIntentSearchResult, *Response, error) {
	return call[stripe.PaymentIntentSearchResult](ctx, c, http.MethodGet, "/v1/payment_intents/search", orNew(p), "", "search_result")
}

// PresentPaymentMethodParams are the parameters of the sandbox's reader
// test helper (docs/sandbox.md, "Card present"). No card number is ever
// sent.
type PresentPaymentMethodParams struct {
	// Type is card_present (default) or interac_present.
	Type        *string                         `form:"type"`
	CardPresent *PresentPaymentMethodCardParams `form:"card_present"`
}

// PresentPaymentMethodCardParams describe the presented card.
type PresentPaymentMethodCardParams struct {
	// Brand: visa, mastercard, amex, discover, jcb, diners, unionpay,
	// interac, eftpos_au.
	Brand *string `form:"brand"`
	// Last4 is four digits.
	Last4 *string `form:"last4"`
	// ReadMethod, e.g. contactless_emv.
	ReadMethod *string `form:"read_method"`
	// SimulatedCard names a simulated test card (visa, charge_declined,
	// charge_declined_insufficient_funds, …) that decides the outcome
	// whatever the amount; without it the amount decides.
	SimulatedCard *string `form:"simulated_card"`
	// ReaderPayload is the base64 of the encrypted payment method a
	// reader collected for this PaymentIntent. It stands for the fields
	// above; the client never logs it.
	ReaderPayload *string `form:"reader_payload"`
}

// PresentPaymentMethod is the simulated reader: it presents a card to a
// PaymentIntent (POST /v1/test_helpers/payment_intents/{id}/present_payment_method),
// moving it to requires_confirmation. Sandbox only.
func (c *Client) PresentPaymentMethod(ctx context.Context, id string, p *PresentPaymentMethodParams, idemKey string) (*stripe.PaymentIntent, *Response, error) {
	return callID[stripe.PaymentIntent](ctx, c, http.MethodPost, "test_helpers/payment_intents", id, "/present_payment_method", orNew(p), idemKey, "payment_intent")
}

// CreateCustomer creates a Customer (POST /v1/customers).
func (c *Client) CreateCustomer(ctx context.Context, p *stripe.CustomerCreateParams, idemKey string) (*stripe.Customer, *Response, error) {
	return call[stripe.Customer](ctx, c, http.MethodPost, "/v1/customers", orNew(p), idemKey, "customer")
}

// RetrieveCustomer fetches a Customer.
func (c *Client) RetrieveCustomer(ctx context.Context, id string, p *stripe.CustomerRetrieveParams) (*stripe.Customer, *Response, error) {
	return callID[stripe.Customer](ctx, c, http.MethodGet, "customers", id, "", orNew(p), "", "customer")
}

// ListCustomers returns one page of Customers (email, created, pagination).
func (c *Client) ListCustomers(ctx context.Context, p *stripe.CustomerListParams) (*stripe.CustomerList, *Response, error) {
	return call[stripe.CustomerList](ctx, c, http.MethodGet, "/v1/customers", orNew(p), "", "list")
}

// SearchCustomers searches Customers (email, name, phone, metadata).
func (c *Client) SearchCustomers(ctx context.Context, p *stripe.CustomerSearchParams) (*stripe.CustomerSearchResult, *Response, error) {
	return call[stripe.CustomerSearchResult](ctx, c, http.MethodGet, "/v1/customers/search", orNew(p), "", "search_result")
}

// ListCustomerPaymentMethods lists a customer's saved payment methods
// (GET /v1/customers/{id}/payment_methods; type, allow_redisplay).
func (c *Client) ListCustomerPaymentMethods(ctx context.Context, customerID string, p *stripe.CustomerListPaymentMethodsParams) (*stripe.PaymentMethodList, *Response, error) {
	return callID[stripe.PaymentMethodList](ctx, c, http.MethodGet, "customers", customerID, "/payment_methods", orNew(p), "", "list")
}

// CreateCustomerSession creates a CustomerSession (saved-method redisplay).
// Its client secret is a credential: do not log it.
func (c *Client) CreateCustomerSession(ctx context.Context, p *stripe.CustomerSessionCreateParams, idemKey string) (*stripe.CustomerSession, *Response, error) {
	return call[stripe.CustomerSession](ctx, c, http.MethodPost, "/v1/customer_sessions", orNew(p), idemKey, "customer_session")
}

// ListEvents returns one page of Events, newest first (type with wildcard,
// types[], created range, pagination).
func (c *Client) ListEvents(ctx context.Context, p *stripe.EventListParams) (*stripe.EventList, *Response, error) {
	return call[stripe.EventList](ctx, c, http.MethodGet, "/v1/events", orNew(p), "", "list")
}

// Events iterates over every Event matching p, as PaymentIntents does.
func (c *Client) Events(ctx context.Context, p *stripe.EventListParams) iter.Seq2[*stripe.Event, error] {
	return func(yield func(*stripe.Event, error) bool) {
		q := *orNew(p)
		paginate(func(after *string) ([]*stripe.Event, bool, error) {
			if after != nil {
				q.StartingAfter, q.EndingBefore = after, nil
			}
			l, _, err := c.ListEvents(ctx, &q)
			if err != nil {
				return nil, false, err
			}
			return l.Data, l.HasMore, nil
		}, func(e *stripe.Event) string { return e.ID })(yield)
	}
}

// paginate walks a cursor-paginated list. fetch gets the page after the
// given id (nil: the first page).
func paginate[T any](fetch func(after *string) ([]*T, bool, error), id func(*T) string) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		var after *string
		for {
			page, more, err := fetch(after)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, v := range page {
				if !yield(v, nil) {
					return
				}
			}
			if !more || len(page) == 0 {
				return
			}
			last := id(page[len(page)-1])
			if last == "" {
				yield(nil, fmt.Errorf("%w: list item without an id", ErrMalformedResponse))
				return
			}
			after = &last
		}
	}
}

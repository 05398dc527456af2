// Package api is Till's client for the Stripe-compatible payment API: the
// embedded sandbox (sync/sandbox) by default, Stripe itself by
// configuration.
//
// # Basics
//
// New builds a Client from a Config holding the base URL and the secret key.
// Every call is typed with stripe-go's parameter and object types
// (github.com/stripe/stripe-go/v86): parameters are form-encoded with
// stripe-go's form package, answers are decoded into stripe.PaymentIntent,
// stripe.Customer, stripe.Event and so on. The HTTP itself — retries, back-off,
// deadlines — is this package's, built on go-retryablehttp; stripe-go's own
// backend and its retries are never used.
//
//	c, err := api.New(api.Config{BaseURL: url, Key: key})
//	pi, resp, err := c.CreatePaymentIntent(ctx, &stripe.PaymentIntentCreateParams{
//		Amount: stripe.Int64(1200), Currency: stripe.String("eur"),
//		PaymentMethodTypes: stripe.StringSlice([]string{"card_present"}),
//	}, "order-42-create")
//
// Every POST takes an explicit idempotency key (non-empty, at most 255
// printable ASCII bytes): the outbox fixes keys when an operation is
// enqueued, so there is no random default. Post sends a body that is
// already form-encoded (Encode does it with stripe-go's form package), as
// the outbox stores it; Response.Decode then decodes the answer.
//
// Each call returns a Response describing the exchange — HTTP status,
// Request-Id, whether the answer was an idempotent replay, how many attempts
// were made — and, on failure, an *Error carrying the same plus Stripe's
// error object (type, code, decline_code, message, param, payment_intent).
//
// # Retries
//
// One call makes at most Config.MaxAttempts attempts, each bounded by
// Config.RequestTimeout; the caller's context bounds the whole call.
// An attempt is retried when:
//
//   - the answer carries Stripe-Should-Retry: true (whatever its status);
//   - the connection failed or timed out, or the body was cut short;
//   - the status is 429 (the wait honours Retry-After, capped at
//     Config.RetryAfterCap), 5xx other than 501, or 409 with code
//     idempotency_key_in_use or lock_timeout.
//
// It is never retried when the answer carries Stripe-Should-Retry: false,
// when it is an idempotent replay (Idempotent-Replayed: true: the server
// would only replay it again), for any other 4xx, or for certificate errors.
//
// # Classification
//
// Every *Error has a Class; ClassOf and errors.Is with ErrTransient,
// ErrIndeterminate, ErrPermanent and ErrDeclined branch on it. "Acted" means
// the server may have applied the request (created, confirmed, captured …).
//
//	outcome of the call                                  GET        POST           acted?
//	connection refused / DNS failure on every attempt    Transient  Transient      no (never sent)
//	429 rate limited                                     Transient  Transient      no (not executed, not saved)
//	409 idempotency_key_in_use or lock_timeout           Transient  Transient      not this request
//	4xx with Stripe-Should-Retry: true                   Transient  Transient      no
//	5xx, including a replayed 500                        Transient  Indeterminate  maybe
//	timeout, reset or EOF after the request was sent     Transient  Indeterminate  maybe
//	2xx truncated, not JSON, or the wrong object         Transient  Indeterminate  maybe (likely yes)
//	caller's context ended while a request was in flight Transient  Indeterminate  maybe
//	unexpected 1xx/3xx (redirects are not followed)      Transient  Indeterminate  maybe
//	402 card_error (a decline)                           Declined   Declined       yes: a payment outcome
//	other 4xx: invalid_request_error, idempotency_error,
//	401/403 authentication, 404 resource_missing,
//	payment_intent_unexpected_state                      Permanent  Permanent      no
//	invalid idempotency key, certificate error           Permanent  Permanent      no (never sent)
//
// A POST is only Transient when no attempt of the call could have acted:
// if an earlier attempt got a 500 or lost its connection after sending and a
// later one was rate limited or refused, the call is Indeterminate.
//
// What the drainer does with each: Transient — retry later with the same
// key. Indeterminate — retrying with the same key is safe while the key is
// alive (the server replays the saved answer), but an answer that is itself
// a replayed 5xx (Error.ReplayedServerError) will replay forever, and a key
// may have been pruned (24 h): then the outcome must be resolved by asking
// the API (retrieve the object, or list by created range and match
// metadata[order_id]), never by creating again. Declined — the sale flow's
// business (collect another method on the same PaymentIntent). Permanent —
// dead letter.
//
// # Caveats
//
// The secret key is kept in unexported fields: it never appears in an
// error, a log line, or the formatted Client or Config (%v, %+v, %#v, JSON,
// slog). Request bodies are never logged; logged URLs lose their query
// string (it may hold customer e-mails). A BaseURL with user information is
// refused so that no credential can travel in a URL.
//
// Go's HTTP transport may re-send a request carrying an Idempotency-Key by
// itself when a reused keep-alive connection drops before any answer; with
// the same key that is harmless and is not counted as an attempt.
//
// Redirects are not followed: a 3xx is an unexpected answer.
package api

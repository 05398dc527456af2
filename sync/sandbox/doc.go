// Package sandbox is Till's stateful, Stripe-compatible payment API: the
// embedded default the app talks to when no API is configured, the HTTP
// peer every other package's tests use, and a fault injector for chaos
// runs. The program cmd/till-sandbox serves it on its own.
//
// # Basics
//
// New builds a Server from Options; it is an http.Handler, and Start (or
// StartLoopback) serves it on a listener of its own and returns the base
// URL. Tests use the sandboxtest subpackage:
//
//	srv := sandboxtest.New(t, sandbox.Options{})
//	// srv.URL, srv.Key, srv.AdvanceClock(t, 48*time.Hour), …
//
// The wire format is Stripe's: form-encoded POST bodies with bracket
// notation, Bearer (or Basic, key as user) authentication with sk_test_
// keys, JSON answers with Stripe's object shapes and error object, list
// objects with cursor pagination, Idempotency-Key handling exactly as
// Stripe documents it, and Request-Id on every answer. The endpoints are
// PaymentIntents (create, retrieve, update, confirm, capture, cancel,
// list, search), Customers (create, retrieve, update, list, search, their
// payment methods), PaymentMethods (create, retrieve, attach, detach),
// CustomerSessions (create), Charges (retrieve) and Events (list,
// retrieve). docs/sandbox.md is the user-facing reference: test amounts,
// test payment methods, the reader test helper, wallet pages, control
// endpoints and faults.
//
// Time comes from the sandbox clock: Options.Now (default time.Now) plus
// an offset that /_sandbox/clock or Server.Advance moves forward. Timed
// transitions (authorisation expiry, the MobilePay and authentication
// windows, SEPA settlement, idempotency-key pruning) are applied lazily,
// in deadline order, before any request is served and whenever the clock
// is moved, each stamped with its own deadline.
//
// # Caveats
//
// The sandbox models the parts of Stripe that Till uses, not all of
// Stripe: unmodelled parameters that Stripe accepts (payment_method_options,
// mandate_data, shipping, …) are accepted and ignored; other unknown
// parameters are rejected as Stripe rejects them. All objects live in one
// account; API keys only separate idempotency scopes. Search results are
// immediately consistent, whereas Stripe's search can lag by up to a
// minute. Injected latency is real time, bounded by Options.MaxLatency.
//
// Control endpoints under /_sandbox/ answer loopback clients only; the
// wallet pages under /pm-redirects/ answer anyone who can reach the
// listener, as a customer's phone must.
package sandbox

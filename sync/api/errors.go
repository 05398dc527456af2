package api

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v86"
)

// Class sorts a failed call by what the caller must do next. See the
// package documentation for the full table.
type Class int

const (
	// Unknown is the Class of nil and of errors not produced by this
	// package.
	Unknown Class = iota
	// Transient: the request certainly had no effect on the server (or it
	// was a read). Retry later with the same idempotency key.
	Transient
	// Indeterminate: a POST may have been applied on the server and its
	// answer was lost, was a 5xx, or was unreadable. Retrying with the same
	// key is safe while the key is alive; otherwise resolve by asking the
	// API. Never create again with a new key.
	Indeterminate
	// Permanent: the server refused the request (invalid parameters, bad
	// key, idempotency_error, unknown object, wrong state) or it could not
	// be sent at all. Retrying the same request cannot succeed.
	Permanent
	// Declined: a card_error. The request was processed: this is a payment
	// outcome (the PaymentIntent, when present, is back in
	// requires_payment_method), not a transport failure.
	Declined
)

// String returns the lower-case name of c.
func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Indeterminate:
		return "indeterminate"
	case Permanent:
		return "permanent"
	case Declined:
		return "declined"
	default:
		return "unknown"
	}
}

// Sentinel errors. An *Error matches exactly one of the class sentinels with
// errors.Is; ErrInvalidIdempotencyKey and ErrMalformedResponse are causes
// found by errors.Is on the errors that carry them.
var (
	// ErrTransient matches errors of Class Transient.
	ErrTransient = errors.New("api: transient failure")
	// ErrIndeterminate matches errors of Class Indeterminate.
	ErrIndeterminate = errors.New("api: indeterminate outcome")
	// ErrPermanent matches errors of Class Permanent.
	ErrPermanent = errors.New("api: permanent failure")
	// ErrDeclined matches errors of Class Declined.
	ErrDeclined = errors.New("api: payment declined")

	// ErrInvalidIdempotencyKey: a POST was called with an empty key, a key
	// longer than 255 bytes, or one with characters that cannot travel in
	// a header. Nothing was sent.
	ErrInvalidIdempotencyKey = errors.New("api: invalid idempotency key")
	// ErrMalformedResponse: a 2xx answer that is not the JSON object that
	// was expected (not JSON, truncated, wrong "object", too large).
	ErrMalformedResponse = errors.New("api: malformed response")
	// ErrInvalidConfig is returned by New for an unusable Config.
	ErrInvalidConfig = errors.New("api: invalid config")
)

// Error is a failed call. It carries Stripe's error object when the server
// sent one, and what was tried.
type Error struct {
	// Op names the call: method and path, never the query string,
	// e.g. "POST /v1/payment_intents/pi_123/capture".
	Op string
	// Class is the classification (see the package documentation).
	Class Class

	// HTTPStatus is the status of the last answer, 0 if none came.
	HTTPStatus int
	// Stripe's error object (empty when the body had none).
	Type        stripe.ErrorType
	Code        stripe.ErrorCode
	DeclineCode stripe.DeclineCode
	Message     string
	Param       string
	// PaymentIntent is the PaymentIntent the error object carried (declines
	// and payment_intent_unexpected_state do), or nil.
	PaymentIntent *stripe.PaymentIntent
	// ShouldRetry is the Stripe-Should-Retry header of the last answer:
	// "true", "false" or "".
	ShouldRetry string

	// RequestID is the Request-Id of the last answer.
	RequestID string
	// IdempotencyKey is the key the POST was sent with.
	IdempotencyKey string
	// IdempotentReplayed reports that the last answer was a replay of a
	// saved answer (Idempotent-Replayed: true).
	IdempotentReplayed bool
	// Attempts is the number of attempts made (0 if nothing was sent).
	Attempts int
	// Elapsed is the time from the first attempt to the end of the call.
	Elapsed time.Duration
	// Body is the raw body of the last answer (bounded), for diagnosis.
	Body []byte

	detail string // what went wrong besides the HTTP answer; key-free
	cause  error
}

// Error reports the operation, what was tried and the last outcome, e.g.
// "POST /v1/payment_intents: 4 attempts over 3.2s: last: HTTP 503
// api_error: …  (request req_1) [indeterminate]".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Attempts > 1 {
		fmt.Fprintf(&b, "%d attempts over %s: last: ", e.Attempts, e.Elapsed.Round(time.Millisecond))
	}
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
		if e.Type != "" {
			b.WriteString(" ")
			b.WriteString(string(e.Type))
		}
		if e.Code != "" {
			b.WriteString("/")
			b.WriteString(string(e.Code))
		}
		if e.DeclineCode != "" {
			fmt.Fprintf(&b, " (%s)", e.DeclineCode)
		}
		if e.Message != "" {
			b.WriteString(": ")
			b.WriteString(e.Message)
		}
		if e.IdempotentReplayed {
			b.WriteString(" [replayed]")
		}
		if e.RequestID != "" {
			fmt.Fprintf(&b, " (request %s)", e.RequestID)
		}
		if e.detail != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(e.detail)
	fmt.Fprintf(&b, " [%s]", e.Class)
	return b.String()
}

// Unwrap returns the underlying cause: the transport error, the context's
// error, ErrMalformedResponse or ErrInvalidIdempotencyKey; nil for a plain
// error answer.
func (e *Error) Unwrap() error { return e.cause }

// Is makes errors.Is(err, ErrTransient) and the other class sentinels match
// on the Class.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrTransient:
		return e.Class == Transient
	case ErrIndeterminate:
		return e.Class == Indeterminate
	case ErrPermanent:
		return e.Class == Permanent
	case ErrDeclined:
		return e.Class == Declined
	}
	return false
}

// ReplayedServerError reports a saved 5xx being replayed for the key:
// retrying with the same key will only replay it again, so the outcome must
// be resolved by looking the object up.
func (e *Error) ReplayedServerError() bool {
	return e.IdempotentReplayed && e.HTTPStatus >= 500
}

// MayHaveActed reports whether the server may have applied the request:
// true for Indeterminate and Declined errors.
func (e *Error) MayHaveActed() bool {
	return e.Class == Indeterminate || e.Class == Declined
}

// ClassOf returns the Class of err if it is (or wraps) an *Error, and
// Unknown otherwise (including nil).
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return Unknown
}

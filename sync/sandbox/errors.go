package sandbox

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors returned by the Go API of this package. Callers branch on
// them with errors.Is.
var (
	// ErrCorruptData is returned by New when the -data file exists but
	// cannot be decoded. The file is left untouched.
	ErrCorruptData = errors.New("sandbox: corrupt data file")
	// ErrBadFault is returned by SetFaults for an invalid fault rule.
	ErrBadFault = errors.New("sandbox: invalid fault rule")
	// ErrClockBackwards is returned by SetNow and Advance when asked to move
	// the sandbox clock into the past: like Stripe's test clocks, the
	// sandbox clock only moves forward.
	ErrClockBackwards = errors.New("sandbox: clock cannot move backwards")
	// ErrClosed is returned by Start after Close.
	ErrClosed = errors.New("sandbox: server closed")
)

// Stripe error types (error.type on the wire).
const (
	typeInvalidRequest = "invalid_request_error"
	typeCard           = "card_error"
	typeAPI            = "api_error"
	typeIdempotency    = "idempotency_error"
)

// apiError is a Stripe error object plus the HTTP status it is sent with.
// save says whether a response carrying it is stored for idempotent replay:
// Stripe does not store results of requests that failed validation before
// the endpoint started executing.
type apiError struct {
	Status      int
	Type        string
	Code        string
	DeclineCode string
	Message     string
	Param       string
	// PaymentIntentID, when set, makes the error carry the PaymentIntent as
	// it is after the request, as Stripe does.
	PaymentIntentID string
	// PaymentMethodID, when set, makes the error carry the PaymentMethod.
	PaymentMethodID string
	ChargeID        string
	save            bool
}

func (e *apiError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%d %s/%s: %s", e.Status, e.Type, e.Code, e.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

// errorJSON is the wire form of a Stripe error object.
type errorJSON struct {
	Type          string           `json:"type"`
	Code          string           `json:"code,omitempty"`
	DeclineCode   string           `json:"decline_code,omitempty"`
	Message       string           `json:"message"`
	Param         string           `json:"param,omitempty"`
	Charge        string           `json:"charge,omitempty"`
	DocURL        string           `json:"doc_url,omitempty"`
	RequestLogURL string           `json:"request_log_url,omitempty"`
	PaymentIntent *paymentIntentJS `json:"payment_intent,omitempty"`
	PaymentMethod *paymentMethodJS `json:"payment_method,omitempty"`
}

func docURL(code string) string {
	if code == "" {
		return ""
	}
	return "https://stripe.com/docs/error-codes/" + underscoresToDashes(code)
}

func underscoresToDashes(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

// Constructors for the error shapes used throughout the sandbox. The names
// follow Stripe's codes.

// invalid is a validation failure: 400, not saved for idempotent replay.
func invalid(code, param, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

func missingParam(param string) *apiError {
	return invalid("parameter_missing", param, "Missing required param: %s.", param)
}

func unknownParam(param string) *apiError {
	return invalid("parameter_unknown", param, "Received unknown parameter: %s", param)
}

func emptyParam(param string) *apiError {
	return invalid("parameter_invalid_empty", param,
		"You passed an empty string for '%s'. We assume empty values are an attempt to unset a parameter; however '%s' cannot be unset. You should remove '%s' from your request or supply a non-empty value.",
		param, param, param)
}

// noSuch is a 404 resource_missing for an object id.
func noSuch(object, id, param string) *apiError {
	return &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Code: "resource_missing", Param: param,
		Message: fmt.Sprintf("No such %s: '%s'", object, id)}
}

// unexpectedState is 400 payment_intent_unexpected_state carrying the
// PaymentIntent. Stripe saves these for idempotent replay: the endpoint ran.
func unexpectedState(pi *intentRec, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "payment_intent_unexpected_state",
		Message: fmt.Sprintf(format, args...), PaymentIntentID: pi.ID, save: true}
}

func apiFailure() *apiError {
	return &apiError{Status: http.StatusInternalServerError, Type: typeAPI,
		Message: "An unknown error occurred. (sandbox fault injection)", save: true}
}

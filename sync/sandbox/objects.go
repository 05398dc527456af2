package sandbox

import "encoding/json"

// This file holds two families of types: the stored records (…Rec, which
// are also the persistence format) and the wire shapes (…JS) rendered from
// them with Stripe's JSON field names, nulls included where Stripe sends
// null. The wire shapes are the sandbox's own rather than stripe-go's
// because stripe-go marshals an expandable field such as customer as a full
// object even when only its id is known; the conformance test proves that
// stripe-go decodes these shapes.

// PaymentIntent statuses.
const (
	statusRequiresPaymentMethod = "requires_payment_method"
	statusRequiresConfirmation  = "requires_confirmation"
	statusRequiresAction        = "requires_action"
	statusProcessing            = "processing"
	statusRequiresCapture       = "requires_capture"
	statusSucceeded             = "succeeded"
	statusCanceled              = "canceled"
)

// Kinds of customer action a PaymentIntent in requires_action waits for.
const (
	actionRedirect = "redirect" // TWINT / MobilePay wallet page
	actionThreeDS  = "3ds"      // card authentication
)

type storedError struct {
	Type          string `json:"type"`
	Code          string `json:"code,omitempty"`
	DeclineCode   string `json:"decline_code,omitempty"`
	Message       string `json:"message"`
	Param         string `json:"param,omitempty"`
	Charge        string `json:"charge,omitempty"`
	PaymentMethod string `json:"payment_method,omitempty"`
}

type autoPM struct {
	Enabled        bool   `json:"enabled"`
	AllowRedirects string `json:"allow_redirects,omitempty"`
}

type redirectToURL struct {
	URL       string  `json:"url"`
	ReturnURL *string `json:"return_url"`
}

type nextActionJS struct {
	Type          string          `json:"type"`
	RedirectToURL *redirectToURL  `json:"redirect_to_url,omitempty"`
	UseStripeSDK  *useStripeSDKJS `json:"use_stripe_sdk,omitempty"`
}

type useStripeSDKJS struct {
	Type     string `json:"type"`
	StripeJS string `json:"stripe_js"`
	Source   string `json:"source"`
}

type intentRec struct {
	Seq                int64             `json:"seq"`
	ID                 string            `json:"id"`
	Amount             int64             `json:"amount"`
	AmountCapturable   int64             `json:"amount_capturable"`
	AmountReceived     int64             `json:"amount_received"`
	AutomaticPM        *autoPM           `json:"automatic_payment_methods,omitempty"`
	CanceledAt         int64             `json:"canceled_at,omitempty"`
	CancellationReason string            `json:"cancellation_reason,omitempty"`
	CaptureMethod      string            `json:"capture_method"`
	ClientSecret       string            `json:"client_secret"`
	ConfirmationMethod string            `json:"confirmation_method"`
	Created            int64             `json:"created"`
	Currency           string            `json:"currency"`
	Customer           string            `json:"customer,omitempty"`
	Description        string            `json:"description,omitempty"`
	LastPaymentError   *storedError      `json:"last_payment_error,omitempty"`
	LatestCharge       string            `json:"latest_charge,omitempty"`
	Metadata           map[string]string `json:"metadata"`
	NextAction         *nextActionJS     `json:"next_action,omitempty"`
	PaymentMethod      string            `json:"payment_method,omitempty"`
	PaymentMethodTypes []string          `json:"payment_method_types"`
	ReceiptEmail       string            `json:"receipt_email,omitempty"`
	SetupFutureUsage   string            `json:"setup_future_usage,omitempty"`
	Status             string            `json:"status"`
	ReturnURL          string            `json:"return_url,omitempty"`
	OffSession         bool              `json:"off_session,omitempty"`

	// Sandbox bookkeeping, persisted but never sent.
	ActionKind     string `json:"x_action_kind,omitempty"`
	ActionDeadline int64  `json:"x_action_deadline,omitempty"`
	Authenticated  bool   `json:"x_authenticated,omitempty"`
	RedirectNonce  string `json:"x_redirect_nonce,omitempty"`
	CaptureBefore  int64  `json:"x_capture_before,omitempty"`
	SettleAt       int64  `json:"x_settle_at,omitempty"`
	SettleFail     bool   `json:"x_settle_fail,omitempty"`
	AuthExpired    bool   `json:"x_auth_expired,omitempty"`
	// OfflineReference is the host's reference of a card payment
	// collected offline and forwarded to this PaymentIntent; no other
	// PaymentIntent may take it (replay protection).
	OfflineReference string `json:"x_offline_reference,omitempty"`
}

type paymentIntentJS struct {
	ID                      string            `json:"id"`
	Object                  string            `json:"object"`
	Amount                  int64             `json:"amount"`
	AmountCapturable        int64             `json:"amount_capturable"`
	AmountReceived          int64             `json:"amount_received"`
	Application             *string           `json:"application"`
	AutomaticPaymentMethods *autoPM           `json:"automatic_payment_methods"`
	CanceledAt              *int64            `json:"canceled_at"`
	CancellationReason      *string           `json:"cancellation_reason"`
	CaptureMethod           string            `json:"capture_method"`
	ClientSecret            string            `json:"client_secret"`
	ConfirmationMethod      string            `json:"confirmation_method"`
	Created                 int64             `json:"created"`
	Currency                string            `json:"currency"`
	Customer                any               `json:"customer"`
	Description             *string           `json:"description"`
	LastPaymentError        *lastErrorJS      `json:"last_payment_error"`
	LatestCharge            any               `json:"latest_charge"`
	Livemode                bool              `json:"livemode"`
	Metadata                map[string]string `json:"metadata"`
	NextAction              *nextActionJS     `json:"next_action"`
	OnBehalfOf              *string           `json:"on_behalf_of"`
	PaymentMethod           any               `json:"payment_method"`
	PaymentMethodOptions    map[string]any    `json:"payment_method_options"`
	PaymentMethodTypes      []string          `json:"payment_method_types"`
	Processing              *string           `json:"processing"`
	ReceiptEmail            *string           `json:"receipt_email"`
	SetupFutureUsage        *string           `json:"setup_future_usage"`
	Shipping                *string           `json:"shipping"`
	StatementDescriptor     *string           `json:"statement_descriptor"`
	Status                  string            `json:"status"`
}

type lastErrorJS struct {
	Type          string           `json:"type"`
	Code          string           `json:"code,omitempty"`
	DeclineCode   string           `json:"decline_code,omitempty"`
	DocURL        string           `json:"doc_url,omitempty"`
	Message       string           `json:"message"`
	Param         string           `json:"param,omitempty"`
	Charge        string           `json:"charge,omitempty"`
	PaymentMethod *paymentMethodJS `json:"payment_method,omitempty"`
}

// Payment method records.

type billingDetails struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

type cardRec struct {
	Brand       string `json:"brand"`
	Last4       string `json:"last4"`
	ExpMonth    int    `json:"exp_month"`
	ExpYear     int    `json:"exp_year"`
	Funding     string `json:"funding"`
	Country     string `json:"country"`
	Fingerprint string `json:"fingerprint"`
	ReadMethod  string `json:"read_method,omitempty"` // card_present only
	// OfflineStoredAt is when a reader collected the card offline, for
	// deferred authorisation (card_present only; 0: collected online).
	OfflineStoredAt int64 `json:"offline_stored_at,omitempty"`
}

type sepaRec struct {
	BankCode    string `json:"bank_code"`
	Country     string `json:"country"`
	Last4       string `json:"last4"`
	Fingerprint string `json:"fingerprint"`
}

type pmRec struct {
	Seq            int64             `json:"seq"`
	ID             string            `json:"id"`
	Type           string            `json:"type"`
	Created        int64             `json:"created"`
	Customer       string            `json:"customer,omitempty"`
	Metadata       map[string]string `json:"metadata"`
	BillingDetails billingDetails    `json:"billing_details"`
	AllowRedisplay string            `json:"allow_redisplay"`
	Card           *cardRec          `json:"card,omitempty"`
	Sepa           *sepaRec          `json:"sepa_debit,omitempty"`
	// Outcome is the test behaviour: "" approves, "3ds" needs
	// authentication, "decline" declines with DeclineCode/ErrorCode.
	Outcome     string `json:"x_outcome,omitempty"`
	ErrorCode   string `json:"x_error_code,omitempty"`
	DeclineCode string `json:"x_decline_code,omitempty"`
}

type addressJS struct {
	City       *string `json:"city"`
	Country    *string `json:"country"`
	Line1      *string `json:"line1"`
	Line2      *string `json:"line2"`
	PostalCode *string `json:"postal_code"`
	State      *string `json:"state"`
}

type billingDetailsJS struct {
	Address addressJS `json:"address"`
	Email   *string   `json:"email"`
	Name    *string   `json:"name"`
	Phone   *string   `json:"phone"`
	TaxID   *string   `json:"tax_id"`
}

type networksJS struct {
	Available []string `json:"available"`
	Preferred *string  `json:"preferred"`
}

type cardJS struct {
	Brand        string     `json:"brand"`
	Country      string     `json:"country"`
	DisplayBrand string     `json:"display_brand"`
	ExpMonth     int        `json:"exp_month"`
	ExpYear      int        `json:"exp_year"`
	Fingerprint  string     `json:"fingerprint"`
	Funding      string     `json:"funding"`
	Last4        string     `json:"last4"`
	Networks     networksJS `json:"networks"`
	Wallet       *string    `json:"wallet"`
	ReadMethod   string     `json:"read_method,omitempty"`
}

type paymentMethodJS struct {
	ID             string            `json:"id"`
	Object         string            `json:"object"`
	AllowRedisplay string            `json:"allow_redisplay"`
	BillingDetails billingDetailsJS  `json:"billing_details"`
	Card           *cardJS           `json:"card,omitempty"`
	CardPresent    *cardJS           `json:"card_present,omitempty"`
	InteracPresent *cardJS           `json:"interac_present,omitempty"`
	SepaDebit      *sepaRec          `json:"sepa_debit,omitempty"`
	Twint          *struct{}         `json:"twint,omitempty"`
	Mobilepay      *struct{}         `json:"mobilepay,omitempty"`
	Created        int64             `json:"created"`
	Customer       *string           `json:"customer"`
	Livemode       bool              `json:"livemode"`
	Metadata       map[string]string `json:"metadata"`
	Type           string            `json:"type"`
}

// Charges.

type chargeRec struct {
	ID             string `json:"id"`
	Amount         int64  `json:"amount"`
	AmountCaptured int64  `json:"amount_captured"`
	Captured       bool   `json:"captured"`
	Created        int64  `json:"created"`
	Currency       string `json:"currency"`
	Customer       string `json:"customer,omitempty"`
	FailureCode    string `json:"failure_code,omitempty"`
	FailureMessage string `json:"failure_message,omitempty"`
	Paid           bool   `json:"paid"`
	PaymentIntent  string `json:"payment_intent"`
	PaymentMethod  string `json:"payment_method"`
	Status         string `json:"status"` // succeeded, pending, failed
	CaptureBefore  int64  `json:"capture_before,omitempty"`
	AmountRefunded int64  `json:"amount_refunded"`
	Refunded       bool   `json:"refunded"`
	// GeneratedCard is the card PaymentMethod saved from a reader's card
	// (setup_future_usage); card_present only.
	GeneratedCard string `json:"generated_card,omitempty"`
	// Refunds are the charge's refunds, oldest first. They are stored with
	// the charge they return money from (as Stripe nests charge.refunds),
	// so a refund and the charge's amount_refunded always persist together.
	Refunds []*refundRec `json:"refunds,omitempty"`
}

// refundedByRefunds is what the charge's refunds returned so far (unlike
// AmountRefunded, which also counts an uncaptured remainder released).
func (ch *chargeRec) refundedByRefunds() int64 {
	var n int64
	for _, r := range ch.Refunds {
		n += r.Amount
	}
	return n
}

// Refunds.

type refundRec struct {
	Seq           int64             `json:"seq"`
	ID            string            `json:"id"`
	Amount        int64             `json:"amount"`
	Currency      string            `json:"currency"`
	PaymentIntent string            `json:"payment_intent"`
	Charge        string            `json:"charge"`
	Status        string            `json:"status"` // succeeded
	Reason        string            `json:"reason,omitempty"`
	Created       int64             `json:"created"`
	Metadata      map[string]string `json:"metadata"`
}

type refundJS struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	Amount             int64             `json:"amount"`
	BalanceTransaction *string           `json:"balance_transaction"`
	Charge             string            `json:"charge"`
	Created            int64             `json:"created"`
	Currency           string            `json:"currency"`
	Metadata           map[string]string `json:"metadata"`
	PaymentIntent      string            `json:"payment_intent"`
	Reason             *string           `json:"reason"`
	ReceiptNumber      *string           `json:"receipt_number"`
	Status             string            `json:"status"`
}

type outcomeJS struct {
	NetworkStatus string  `json:"network_status"`
	Reason        *string `json:"reason"`
	RiskLevel     string  `json:"risk_level"`
	SellerMessage string  `json:"seller_message"`
	Type          string  `json:"type"`
}

type chargeJS struct {
	ID                   string            `json:"id"`
	Object               string            `json:"object"`
	Amount               int64             `json:"amount"`
	AmountCaptured       int64             `json:"amount_captured"`
	AmountRefunded       int64             `json:"amount_refunded"`
	BillingDetails       billingDetailsJS  `json:"billing_details"`
	Captured             bool              `json:"captured"`
	Created              int64             `json:"created"`
	Currency             string            `json:"currency"`
	Customer             *string           `json:"customer"`
	Description          *string           `json:"description"`
	FailureCode          *string           `json:"failure_code"`
	FailureMessage       *string           `json:"failure_message"`
	Livemode             bool              `json:"livemode"`
	Metadata             map[string]string `json:"metadata"`
	Outcome              *outcomeJS        `json:"outcome"`
	Paid                 bool              `json:"paid"`
	PaymentIntent        string            `json:"payment_intent"`
	PaymentMethod        string            `json:"payment_method"`
	PaymentMethodDetails map[string]any    `json:"payment_method_details"`
	Refunded             bool              `json:"refunded"`
	Status               string            `json:"status"`
}

// Customers.

type customerRec struct {
	Seq                  int64             `json:"seq"`
	ID                   string            `json:"id"`
	Created              int64             `json:"created"`
	Email                string            `json:"email,omitempty"`
	Name                 string            `json:"name,omitempty"`
	Phone                string            `json:"phone,omitempty"`
	Description          string            `json:"description,omitempty"`
	Metadata             map[string]string `json:"metadata"`
	InvoicePrefix        string            `json:"invoice_prefix"`
	DefaultPaymentMethod string            `json:"default_payment_method,omitempty"`
}

type invoiceSettingsJS struct {
	CustomFields         *string `json:"custom_fields"`
	DefaultPaymentMethod *string `json:"default_payment_method"`
	Footer               *string `json:"footer"`
	RenderingOptions     *string `json:"rendering_options"`
}

type customerJS struct {
	ID                  string            `json:"id"`
	Object              string            `json:"object"`
	Address             *string           `json:"address"`
	Balance             int64             `json:"balance"`
	Created             int64             `json:"created"`
	Currency            *string           `json:"currency"`
	DefaultSource       *string           `json:"default_source"`
	Delinquent          bool              `json:"delinquent"`
	Description         *string           `json:"description"`
	Email               *string           `json:"email"`
	InvoicePrefix       string            `json:"invoice_prefix"`
	InvoiceSettings     invoiceSettingsJS `json:"invoice_settings"`
	Livemode            bool              `json:"livemode"`
	Metadata            map[string]string `json:"metadata"`
	Name                *string           `json:"name"`
	NextInvoiceSequence int64             `json:"next_invoice_sequence"`
	Phone               *string           `json:"phone"`
	PreferredLocales    []string          `json:"preferred_locales"`
	Shipping            *string           `json:"shipping"`
	TaxExempt           string            `json:"tax_exempt"`
	TestClock           *string           `json:"test_clock"`
}

// Events.

type eventRec struct {
	Seq       int64           `json:"seq"`
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Created   int64           `json:"created"`
	Object    json.RawMessage `json:"object"`
	Previous  map[string]any  `json:"previous_attributes,omitempty"`
	RequestID string          `json:"request_id,omitempty"`
	IdemKey   string          `json:"idempotency_key,omitempty"`
}

type eventDataJS struct {
	Object             json.RawMessage `json:"object"`
	PreviousAttributes map[string]any  `json:"previous_attributes,omitempty"`
}

type eventRequestJS struct {
	ID             *string `json:"id"`
	IdempotencyKey *string `json:"idempotency_key"`
}

type eventJS struct {
	ID              string         `json:"id"`
	Object          string         `json:"object"`
	APIVersion      string         `json:"api_version"`
	Created         int64          `json:"created"`
	Data            eventDataJS    `json:"data"`
	Livemode        bool           `json:"livemode"`
	PendingWebhooks int64          `json:"pending_webhooks"`
	Request         eventRequestJS `json:"request"`
	Type            string         `json:"type"`
}

// Lists.

type listJS struct {
	Object  string `json:"object"`
	Data    []any  `json:"data"`
	HasMore bool   `json:"has_more"`
	URL     string `json:"url"`
}

type searchJS struct {
	Object   string  `json:"object"`
	Data     []any   `json:"data"`
	HasMore  bool    `json:"has_more"`
	NextPage *string `json:"next_page"`
	URL      string  `json:"url"`
}

// helpers for nullable wire fields.

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func intOrNil(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

func copyMeta(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

package ui

import "context"

// Setup is what the first-run wizard and the manager's settings need from
// the till. Every method may block (disk, keyring, USB, network, a slow
// hash): screens call them off the UI goroutine only.
type Setup interface {
	// Validate checks a form without saving anything and returns one
	// problem per field that is wrong, in words a shop owner can act on
	// (already translated). Nil means the form can be saved.
	Validate(f SetupForm) []FieldProblem
	// Save validates the form and, if it is right, stores it: the
	// configuration file, the API key in the OS keyring (or a file only
	// the user can read), the manager PIN's slow hash. Field problems come
	// back as a *FormError; any other error is a failure to store.
	Save(f SetupForm) error
	// DetectReaders lists the supported USB card readers plugged in now.
	DetectReaders() ([]DetectedReader, error)
	// CheckAPI makes one read-only call to the payment API with this URL
	// and key and says whether it answered and accepted the key; nil when
	// it did.
	CheckAPI(ctx context.Context, baseURL, key string) error
	// CheckPIN checks the manager's PIN (slow hash, lockout after wrong
	// tries). The settings open only once it passes.
	CheckPIN(pin string) error
}

// SetupForm is every answer the wizard collects. The same form edits the
// settings later, starting from the saved values.
type SetupForm struct {
	Lane     string // e.g. "lane1"
	Currency string // ISO 4217, e.g. "CHF"
	Locale   string // BCP 47, e.g. "de-CH"
	TaxMode  string // "inclusive" or "exclusive"
	Language string // "en", "fr", "de", or "" for the system's

	// UseSandbox runs the till against its built-in sandbox API; the URL
	// and key are then ignored.
	UseSandbox bool
	APIBaseURL string
	// APIKey is a new key; empty keeps the saved one (HasAPIKey).
	APIKey string
	// HasAPIKey says a key is already saved (never the key itself).
	HasAPIKey bool

	// Reader is "usb" (auto-detect the supported readers), "usb:VID:PID",
	// "tcp://HOST:PORT" (the standalone simulator), or "simulator".
	Reader string

	// PIN is a new manager PIN, typed twice; both empty keep the saved
	// one (HasPIN). A first run must set one.
	PIN, PINAgain string
	HasPIN        bool
}

// Fields a FieldProblem can name, one per input of the form.
const (
	FieldLane       = "lane"
	FieldCurrency   = "currency"
	FieldLocale     = "locale"
	FieldTaxMode    = "tax_mode"
	FieldLanguage   = "language"
	FieldAPIBaseURL = "api_base_url"
	FieldAPIKey     = "api_key"
	FieldReader     = "reader"
	FieldPIN        = "pin"
)

// FieldProblem is what is wrong with one field of a SetupForm.
type FieldProblem struct {
	Field   string // one of the Field constants
	Message string // translated, ready to show under the field
}

// FormError is Save's refusal of a form: the fields to fix.
type FormError struct{ Problems []FieldProblem }

func (e *FormError) Error() string {
	if len(e.Problems) == 0 {
		return "the form has problems"
	}
	msg := e.Problems[0].Field + ": " + e.Problems[0].Message
	if n := len(e.Problems) - 1; n > 0 {
		msg += " (and more)"
	}
	return msg
}

// DetectedReader is a supported USB reader found plugged in.
type DetectedReader struct {
	Reader string // the value for SetupForm.Reader, e.g. "usb:1209:0001"
	Label  string // e.g. "1209:0001 on bus 1 address 4"
}

// SetupChoices are the options the form offers in its lists.
type SetupChoices struct {
	Currencies []string // ISO codes, most likely first
	Locales    []string // BCP 47 tags
	Languages  []string // translated screens: "en", "fr", "de"
}

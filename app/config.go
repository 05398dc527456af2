package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"

	"golang.org/x/text/language"

	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
)

// Config is what a till needs to know about its shop. The zero file — no
// config at all — is a working till: the embedded sandbox API and the
// simulated reader.
type Config struct {
	// Lane names this till within the shop (1–32 letters, digits or "_").
	// It prefixes order ids and is
	// sent as metadata[lane] with every PaymentIntent.
	Lane string `json:"lane"`
	// Currency is the store's ISO 4217 currency, e.g. "CHF".
	Currency string `json:"currency"`
	// Locale is a BCP 47 tag for money formatting and parsing, e.g. "de-CH".
	Locale string `json:"locale"`
	// TaxMode is "inclusive" (shelf prices include tax) or "exclusive".
	TaxMode string `json:"tax_mode"`
	// Database is the bbolt file; empty means the per-user default.
	Database string `json:"database,omitempty"`
	// API is the payment API; an empty BaseURL means the embedded sandbox.
	API APIConfig `json:"api"`
	// Reader is "simulator" (built in), "usb" (the default USB IDs),
	// "usb:VID:PID[,VID:PID…]", or "tcp://127.0.0.1:PORT" (the standalone
	// simulator, cmd/till-reader-sim).
	Reader string `json:"reader"`
	// CaptureAtEndOfDay leaves card authorisations uncaptured when a sale
	// completes; the manager's end of day captures them. By default the
	// capture is enqueued with the completed sale.
	CaptureAtEndOfDay bool `json:"capture_at_end_of_day,omitempty"`
	// WalletReturnURL is where TWINT and MobilePay send the customer's
	// phone after they answered (e.g. the shop's website); a placeholder
	// page when empty.
	WalletReturnURL string `json:"wallet_return_url,omitempty"`
	// CaptureMethod is "manual" (the default: authorise, then capture)
	// or "automatic" (the confirmation captures).
	CaptureMethod string `json:"capture_method,omitempty"`
	// Language overrides the system's for the screens: "en", "fr" or
	// "de"; empty follows the system.
	Language string `json:"language,omitempty"`
	// ManagerPINHash is the manager PIN's slow hash (app/manager); empty
	// means no PIN is set, and what needs one is refused.
	ManagerPINHash string `json:"manager_pin_hash,omitempty"`
	// ManagerDiscountPercent is the largest discount, in percent of what
	// it applies to, a cashier may give without the manager's PIN.
	ManagerDiscountPercent int `json:"manager_discount_percent"`
	// Offline governs card payments taken while the payment service is
	// out of reach (store and forward).
	Offline OfflineConfig `json:"offline,omitzero"`
}

// OfflineConfig bounds store-and-forward card payments (SPEC §3). The
// zero value allows them within the default limits.
type OfflineConfig struct {
	// Disabled refuses card payments while offline: cash only.
	Disabled bool `json:"disabled,omitempty"`
	// Limits per currency (ISO code → limits); a currency not listed
	// takes DefaultOfflineLimit's.
	Limits map[string]OfflineLimit `json:"limits,omitempty"`
	// MaxAgeHours is how old a stored payment may get before the status
	// bar warns; 24 when zero.
	MaxAgeHours int `json:"max_age_hours,omitempty"`
}

// OfflineLimit is one currency's bounds, as decimal amounts in major
// units ("250.00"): the largest card payment taken offline, and the most
// that may be stored, not yet forwarded, in all.
type OfflineLimit struct {
	PerSale string `json:"per_sale"`
	Total   string `json:"total"`
}

// APIConfig locates the Stripe-compatible payment API.
type APIConfig struct {
	BaseURL string `json:"base_url,omitempty"`
	// KeyStore says where the key is kept: KeyInKeyring (the OS keyring)
	// or KeyInFile (a file only the user can read).
	KeyStore string `json:"key_store,omitempty"`
	// Key is never read from or written to the config file; it comes from
	// the environment (TILL_API_KEY) or the KeyStore.
	Key Secret `json:"-"`
}

// Secret is a credential. It formats, logs and marshals as a redaction so
// it cannot leak through an error message or a diagnostics dump.
type Secret string

const redacted = "[redacted]"

// String returns a redaction, never the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON writes a redaction, never the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Reveal returns the secret itself, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }

// DefaultConfig is the embedded default: a Swiss café till on the built-in
// sandbox and simulated reader.
func DefaultConfig() Config {
	return Config{
		Lane:     "lane1",
		Currency: "CHF",
		Locale:   "de-CH",
		TaxMode:  "inclusive",
		Reader:   "simulator",

		ManagerDiscountPercent: 10,
	}
}

// ErrConfig marks a configuration that cannot be used; the message says
// which field and why.
var ErrConfig = errors.New("invalid configuration")

// ReadConfig reads path over DefaultConfig and checks every field but
// the API key, which the file never holds. A missing file is not an
// error: the defaults are a working till.
func ReadConfig(path string) (Config, error) {
	c := DefaultConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return c, fmt.Errorf("read config %s: %w", path, err)
		default:
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				return c, fmt.Errorf("read config %s: %w: %v", path, ErrConfig, err)
			}
		}
	}
	if err := c.validate(false); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// LoadConfig reads path as ReadConfig does and takes the API key from
// TILL_API_KEY (getenv); a base_url without a key is refused.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	c, err := ReadConfig(path)
	if err != nil {
		return c, err
	}
	if k := getenv("TILL_API_KEY"); k != "" {
		c.API.Key = Secret(k)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks every field a till depends on.
func (c Config) Validate() error { return c.validate(true) }

// validate checks the fields; needKey asks for the API key too (a
// config file on its own has none).
func (c Config) validate(needKey bool) error {
	var errs []error
	for _, p := range c.problems(needKey) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrConfig, p.field, p.msg))
	}
	return errors.Join(errs...)
}

// configProblem is one field's problem.
type configProblem struct{ field, msg string }

// problems lists what is wrong, field by field.
func (c Config) problems(needKey bool) []configProblem {
	var errs []configProblem
	bad := func(field, format string, a ...any) {
		errs = append(errs, configProblem{field, fmt.Sprintf(format, a...)})
	}
	if err := order.ValidateLane(c.Lane); err != nil {
		bad("lane", "%v", err)
	}
	if _, err := money.ParseCurrency(c.Currency); err != nil {
		bad("currency", "%v", err)
	}
	if _, err := parseLocale(c.Locale); err != nil {
		bad("locale", "%v", err)
	}
	if _, err := parseTaxMode(c.TaxMode); err != nil {
		bad("tax_mode", "%v", err)
	}
	switch c.CaptureMethod {
	case "", "manual", "automatic":
	default:
		bad("capture_method", "%q is not manual or automatic", c.CaptureMethod)
	}
	if _, err := parseReader(c.Reader); err != nil {
		bad("reader", "%v", err)
	}
	switch c.Language {
	case "", "en", "fr", "de":
	default:
		bad("language", "%q is not en, fr or de (or empty for the system's)", c.Language)
	}
	if c.ManagerDiscountPercent < 0 || c.ManagerDiscountPercent > 100 {
		bad("manager_discount_percent", "%d is not between 0 and 100", c.ManagerDiscountPercent)
	}
	if err := c.Offline.validate(); err != nil {
		bad("offline", "%v", err)
	}
	if c.API.BaseURL != "" {
		if err := checkAPIURL(c.API.BaseURL); err != nil {
			bad("api.base_url", "%v", err)
		}
		switch c.API.KeyStore {
		case "", KeyInKeyring, KeyInFile:
		default:
			bad("api.key_store", "%q is not %q or %q", c.API.KeyStore, KeyInKeyring, KeyInFile)
		}
		if needKey && c.API.Key == "" {
			bad("api key", "a base_url is set but no API key is saved (enter it in the settings, or set TILL_API_KEY)")
		}
	}
	return errs
}

// checkAPIURL accepts https anywhere and plain http only on a loopback
// host, where the key never crosses a network.
func checkAPIURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("%q must be https (plain http only on a loopback host)", raw)
}

func parseLocale(s string) (language.Tag, error) {
	if s == "" {
		return language.Und, errors.New("empty locale")
	}
	t, err := language.Parse(s)
	if err != nil {
		return language.Und, fmt.Errorf("%q is not a BCP 47 language tag", s)
	}
	return t, nil
}

func parseTaxMode(s string) (order.TaxMode, error) {
	switch m := order.TaxMode(s); m {
	case order.TaxInclusive, order.TaxExclusive:
		return m, nil
	}
	return "", fmt.Errorf("%q is not inclusive or exclusive", s)
}

// SaveConfig writes cfg to path as JSON, replacing the file atomically
// (temporary file, sync, rename) and readable by the user only. The API
// key is never written: Config.API.Key does not marshal.
func SaveConfig(path string, cfg Config) error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	if err := writeFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}

package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"fyne.io/fyne/v2/lang"
	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app/manager"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/ui"
)

// setup answers the first-run wizard and the manager's settings: it turns
// their form into a config file, a key in the keyring and a PIN hash. It
// implements ui.Setup.
type setup struct {
	paths Paths
	kr    keyringAPI
	scrub *scrubber
	// till is the open till, for the settings (its PIN, its outbox);
	// nil on a first run.
	till *Till
	// findUSB lists attached readers (reader.FindUSB).
	findUSB func([]reader.USBID) ([]reader.FoundUSB, error)
	log     func(msg string, args ...any)
}

var _ ui.Setup = (*setup)(nil)

// setupChoices are the lists the form offers; anything else valid may be
// typed.
var setupChoices = ui.SetupChoices{
	Currencies: []string{"CHF", "EUR", "USD", "GBP", "DKK", "SEK", "NOK", "PLN", "CZK", "JPY", "CAD", "AUD"},
	Locales: []string{"de-CH", "fr-CH", "it-CH", "de-DE", "de-AT", "fr-FR", "fr-BE", "nl-NL", "it-IT", "es-ES",
		"en-GB", "en-IE", "en-US", "da-DK", "sv-SE", "nb-NO", "fi-FI", "pl-PL", "cs-CZ", "ja-JP"},
	Languages: []string{"en", "fr", "de"},
}

// base is the config the form starts from and is saved over: the file's,
// or the defaults on a first run.
func (s *setup) base() (Config, error) {
	if !configExists(s.paths.ConfigFile) {
		return DefaultConfig(), nil
	}
	return ReadConfig(s.paths.ConfigFile)
}

// Form is the form as the saved config fills it, for the settings (and
// the defaults for a first run).
func (s *setup) Form() (ui.SetupForm, error) {
	c, err := s.base()
	if err != nil {
		return ui.SetupForm{}, err
	}
	f := ui.SetupForm{
		Lane: c.Lane, Currency: c.Currency, Locale: c.Locale, TaxMode: c.TaxMode, Language: c.Language,
		UseSandbox: c.API.BaseURL == "", APIBaseURL: c.API.BaseURL,
		Reader: c.Reader, HasPIN: c.ManagerPINHash != "",
	}
	if !f.UseSandbox {
		if ks, err := keyStoreFor(c.API.KeyStore, s.kr, s.paths); err == nil {
			_, err := ks.Get()
			f.HasAPIKey = err == nil
		}
	}
	return f, nil
}

// apply writes the form's answers over c.
func apply(c Config, f ui.SetupForm) Config {
	c.Lane = strings.TrimSpace(f.Lane)
	c.Currency = strings.ToUpper(strings.TrimSpace(f.Currency))
	c.Locale = strings.TrimSpace(f.Locale)
	c.TaxMode = f.TaxMode
	c.Language = f.Language
	if f.UseSandbox {
		c.API.BaseURL, c.API.KeyStore = "", ""
	} else {
		c.API.BaseURL = strings.TrimRight(strings.TrimSpace(f.APIBaseURL), "/")
	}
	c.Reader = strings.TrimSpace(f.Reader)
	return c
}

// configFields maps Config's field names to the form's.
var configFields = map[string]string{
	"lane": ui.FieldLane, "currency": ui.FieldCurrency, "locale": ui.FieldLocale,
	"tax_mode": ui.FieldTaxMode, "language": ui.FieldLanguage,
	"api.base_url": ui.FieldAPIBaseURL, "reader": ui.FieldReader,
}

// Validate implements ui.Setup.
func (s *setup) Validate(f ui.SetupForm) []ui.FieldProblem {
	base, err := s.base()
	if err != nil {
		base = DefaultConfig() // a damaged file is replaced by a good form
	}
	c := apply(base, f)
	var out []ui.FieldProblem
	add := func(field, msg string) { out = append(out, ui.FieldProblem{Field: field, Message: msg}) }
	for _, p := range c.problems(false) {
		field, ok := configFields[p.field]
		if !ok {
			continue // not on the form (a hand-written part of the file)
		}
		add(field, fieldMessage(field, p.msg))
	}
	if !f.UseSandbox {
		switch key := f.APIKey; {
		case key == "" && !f.HasAPIKey:
			add(ui.FieldAPIKey, lang.L("Enter the secret key of your payment account."))
		case key != "":
			if msg := keyShapeProblem(key); msg != "" {
				add(ui.FieldAPIKey, msg)
			}
		}
	}
	switch {
	case f.PIN == "" && f.PINAgain == "":
		if !f.HasPIN {
			add(ui.FieldPIN, lang.L("Choose a manager PIN of 4 to 8 digits."))
		}
	case !pinShape(f.PIN):
		add(ui.FieldPIN, lang.L("The manager PIN must be 4 to 8 digits."))
	case f.PIN != f.PINAgain:
		add(ui.FieldPIN, lang.L("The two PINs differ: type the same PIN twice."))
	}
	out = append(out, s.unsentProblems(base, c)...)
	return out
}

// unsentProblems refuses to move a till with payments still to send to
// another lane, currency or payment service: they would be sent to the
// wrong one, or matched to the wrong lane at the end of day.
func (s *setup) unsentProblems(old, c Config) []ui.FieldProblem {
	if s.till == nil {
		return nil
	}
	changed := map[string]bool{
		ui.FieldLane:       old.Lane != c.Lane,
		ui.FieldCurrency:   old.Currency != c.Currency,
		ui.FieldAPIBaseURL: old.API.BaseURL != c.API.BaseURL,
	}
	if !changed[ui.FieldLane] && !changed[ui.FieldCurrency] && !changed[ui.FieldAPIBaseURL] {
		return nil
	}
	st, err := s.till.StoreState()
	if err != nil {
		return []ui.FieldProblem{{Field: ui.FieldAPIBaseURL, Message: err.Error()}}
	}
	stored, err := s.till.offlineStored()
	if err != nil {
		return []ui.FieldProblem{{Field: ui.FieldAPIBaseURL, Message: err.Error()}}
	}
	n := st.Pending + st.InFlight + stored
	if n == 0 {
		return nil
	}
	msg := lang.L("{{.Count}} payment messages are still to be sent from this till. Change this once they are sent (Till status shows them).",
		map[string]any{"Count": n})
	var out []ui.FieldProblem
	for _, f := range []string{ui.FieldLane, ui.FieldCurrency, ui.FieldAPIBaseURL} {
		if changed[f] {
			out = append(out, ui.FieldProblem{Field: f, Message: msg})
		}
	}
	return out
}

// fieldMessage words a config problem for the shop owner.
func fieldMessage(field, detail string) string {
	switch field {
	case ui.FieldLane:
		return lang.L("Use 1 to 32 letters, digits or _ (for example lane1).")
	case ui.FieldCurrency:
		return lang.L("Not a currency code Till knows (for example CHF or EUR).")
	case ui.FieldLocale:
		return lang.L("Not a language and region (for example de-CH or fr-FR).")
	case ui.FieldTaxMode:
		return lang.L("Choose whether prices include tax.")
	case ui.FieldLanguage:
		return lang.L("Choose English, French, German or the system's language.")
	case ui.FieldAPIBaseURL:
		return lang.L("The address must start with https:// (plain http only on this computer): {{.Detail}}", map[string]any{"Detail": detail})
	case ui.FieldReader:
		return lang.L("Not a reader Till can use: {{.Detail}}", map[string]any{"Detail": detail})
	}
	return detail
}

// keyShapeProblem catches keys that cannot be right, without ever
// echoing the key.
func keyShapeProblem(key string) string {
	switch {
	case strings.IndexFunc(key, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		return lang.L("The key has spaces or line breaks in it: copy it again.")
	case strings.HasPrefix(key, "pk_"):
		return lang.L("That is a publishable key (pk_…). Till needs the secret key (sk_…) or a restricted key (rk_…).")
	case len(key) < 8 || len(key) > 255:
		return lang.L("That is not a whole key: copy it again.")
	}
	return ""
}

func pinShape(pin string) bool {
	if len(pin) < manager.MinPINLen || len(pin) > manager.MaxPINLen {
		return false
	}
	return strings.Trim(pin, "0123456789") == ""
}

// Save implements ui.Setup: the key first (into the keyring, or the user's
// file), then the config that says where it is, written atomically.
func (s *setup) Save(f ui.SetupForm) error {
	if probs := s.Validate(f); len(probs) > 0 {
		return &ui.FormError{Problems: probs}
	}
	base, err := s.base()
	if err != nil {
		base = DefaultConfig()
	}
	c := apply(base, f)
	old, err := keyStoreFor(base.API.KeyStore, s.kr, s.paths)
	if err != nil {
		old = &fileKeyStore{path: s.paths.KeyFile}
	}
	switch {
	case f.UseSandbox:
		// No key is kept for a payment service the till no longer uses.
		if base.API.BaseURL != "" {
			if err := old.Delete(); err != nil {
				return fmt.Errorf("save settings: %w", err)
			}
		}
	case f.APIKey != "":
		key := Secret(f.APIKey)
		s.scrub.Add(key)
		ks := chooseKeyStore(s.kr, s.paths)
		if err := ks.Set(key); err != nil {
			return fmt.Errorf("save settings: %w", err)
		}
		if ks.Kind() != old.Kind() && base.API.KeyStore != "" || base.API.KeyStore == "" && ks.Kind() == KeyInKeyring {
			if err := old.Delete(); err != nil && s.log != nil {
				s.log("remove the API key from its old place", "err", err)
			}
		}
		c.API.KeyStore = ks.Kind()
	case c.API.KeyStore == "":
		c.API.KeyStore = KeyInFile // a key saved before key_store existed
	}
	if f.PIN != "" {
		h, err := manager.HashPIN(f.PIN)
		if err != nil {
			return fmt.Errorf("save settings: %w", err)
		}
		c.ManagerPINHash = h
	}
	if err := SaveConfig(s.paths.ConfigFile, c); err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	return nil
}

// DetectReaders implements ui.Setup.
func (s *setup) DetectReaders() ([]ui.DetectedReader, error) {
	found, err := s.findUSB(reader.DefaultUSBIDs)
	switch {
	case errors.Is(err, reader.ErrUSBAccess):
		return nil, errors.New(lang.L("A reader is plugged in, but this user may not open it. On Linux, install Till's package (it adds the rule that allows it) and plug the reader in again."))
	case errors.Is(err, reader.ErrUSBUnavailable):
		return nil, errors.New(lang.L("USB is not available on this computer."))
	case err != nil:
		return nil, err
	}
	out := make([]ui.DetectedReader, len(found))
	for i, d := range found {
		out[i] = ui.DetectedReader{Reader: "usb:" + d.ID.String(), Label: d.Where}
	}
	return out, nil
}

// CheckAPI implements ui.Setup: one GET of a single PaymentIntent, one
// attempt. An empty key means the saved one.
func (s *setup) CheckAPI(ctx context.Context, baseURL, key string) error {
	baseURL = strings.TrimRight(strings.TrimSpace(baseURL), "/")
	if err := checkAPIURL(baseURL); err != nil {
		return errors.New(fieldMessage(ui.FieldAPIBaseURL, err.Error()))
	}
	if key == "" {
		base, err := s.base()
		if err != nil {
			return err
		}
		ks, err := keyStoreFor(base.API.KeyStore, s.kr, s.paths)
		if err != nil {
			return err
		}
		k, err := ks.Get()
		if err != nil {
			return errors.New(lang.L("Enter the secret key of your payment account."))
		}
		key = k.Reveal()
	} else if msg := keyShapeProblem(key); msg != "" {
		return errors.New(msg)
	}
	s.scrub.Add(Secret(key))
	c, err := api.New(api.Config{BaseURL: baseURL, Key: key, MaxAttempts: 1, RequestTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	_, _, err = c.ListPaymentIntents(ctx, &stripe.PaymentIntentListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(1)}})
	var ae *api.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae) && (ae.HTTPStatus == 401 || ae.HTTPStatus == 403):
		return errors.New(lang.L("The payment service refused this key (HTTP {{.Status}}).", map[string]any{"Status": ae.HTTPStatus}))
	case errors.As(err, &ae) && ae.HTTPStatus == 0:
		return errors.New(lang.L("Could not reach {{.URL}}: {{.Err}}", map[string]any{"URL": baseURL, "Err": string(s.scrub.Scrub([]byte(err.Error())))}))
	}
	return errors.New(lang.L("The payment service answered with an error: {{.Err}}", map[string]any{"Err": string(s.scrub.Scrub([]byte(err.Error())))}))
}

// CheckPIN implements ui.Setup.
// With no till open (it could not start), the PIN is checked against the
// saved hash, without the lockout the till keeps.
func (s *setup) CheckPIN(pin string) error {
	if s.till != nil {
		return s.till.checkManagerPIN(pin)
	}
	c, err := s.base()
	if err != nil || c.ManagerPINHash == "" {
		return nil // nothing to protect: a first run, or a file the form replaces
	}
	ok, err := manager.Verify(c.ManagerPINHash, pin)
	switch {
	case err != nil:
		return fmt.Errorf("check the manager PIN: %w", err)
	case !ok:
		return fmt.Errorf("%w: %w", ui.ErrWrongPIN, manager.ErrWrongPIN)
	}
	return nil
}

// offlineStored counts the card payments taken offline and not yet
// forwarded.
func (t *Till) offlineStored() (int, error) {
	var n int
	err := t.store.View(func(tx *queue.Tx) error {
		list, err := storedList.load(tx)
		n = len(list)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count stored offline payments: %w", err)
	}
	return n, nil
}

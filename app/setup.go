package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
	// db is the shop's database when the -db flag names it.
	db string
	// pin checks the manager PIN, with its lockout, when no till is open.
	pin *manager.Guard
	// now is the clock for pin's lockout; nil means time.Now.
	now func() time.Time
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

// moves says whether c takes the till to another lane, currency or
// payment service than old.
func moves(old, c Config) bool { return len(movedFields(old, c, "")) > 0 }

// errUnsent stops a freeze for a move while payment messages are unsent.
var errUnsent = errors.New("payment messages are still to be sent")

// unsentIn counts what a move of lane, currency or payment service would
// strand: outbox entries (waiting, in flight or blocked), dead letters
// (a requeue would send them to the new service), and card payments
// stored offline.
func unsentIn(tx *queue.Tx) (int, error) {
	st, err := tx.Stats()
	if err != nil {
		return 0, err
	}
	list, err := storedList.load(tx)
	if err != nil {
		return 0, fmt.Errorf("count stored offline payments: %w", err)
	}
	return st.Pending + st.Dead + len(list), nil
}

// dbPath is the shop's database for config c: the -db flag's, else the
// config's or the per-user default.
func (s *setup) dbPath(c Config) string {
	if s.db != "" {
		return s.db
	}
	return s.paths.Database(c)
}

// unsentClosed counts unsent messages in the shop's database while no till
// has it open (the settings opened from the problem screen or the demo).
// A database that is not there has none; one that cannot be opened is an
// error, so a move is refused rather than risked.
func (s *setup) unsentClosed(c Config) (int, error) {
	path := s.dbPath(c)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	st, err := queue.Open(path, queue.Options{LockTimeout: 2 * time.Second})
	if err != nil {
		return 0, fmt.Errorf("count unsent payment messages: %w", err)
	}
	defer st.Close()
	var n int
	err = st.View(func(tx *queue.Tx) (err error) {
		n, err = unsentIn(tx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count unsent payment messages in %s: %w", path, err)
	}
	return n, nil
}

// unsentProblems refuses to move a till with payments still to send to
// another lane, currency or payment service: they would be sent to the
// wrong one, or matched to the wrong lane at the end of day. Save checks
// again under a freeze of the open till's outbox.
func (s *setup) unsentProblems(old, c Config) []ui.FieldProblem {
	if !moves(old, c) {
		return nil
	}
	var n int
	var err error
	if s.till != nil {
		err = s.till.store.View(func(tx *queue.Tx) error {
			n, err = unsentIn(tx)
			return err
		})
	} else {
		n, err = s.unsentClosed(old)
	}
	switch {
	case err != nil:
		return movedFields(old, c, err.Error())
	case n == 0:
		return nil
	}
	return movedFields(old, c, unsentMessage(n))
}

// unsentMessage says why a move is refused.
func unsentMessage(n int) string {
	return lang.L("{{.Count}} payment messages are still to be sent from this till. Change this once they are sent (Till status shows them).",
		map[string]any{"Count": n})
}

// movedFields puts msg on each of lane, currency and API that c changes.
func movedFields(old, c Config, msg string) []ui.FieldProblem {
	var out []ui.FieldProblem
	for _, f := range []struct {
		field   string
		changed bool
	}{
		{ui.FieldLane, old.Lane != c.Lane},
		{ui.FieldCurrency, old.Currency != c.Currency},
		{ui.FieldAPIBaseURL, old.API.BaseURL != c.API.BaseURL},
	} {
		if f.changed {
			out = append(out, ui.FieldProblem{Field: f.field, Message: msg})
		}
	}
	return out
}

// freeze stops the open till queueing anything new before a move is
// saved, once nothing is left unsent: between the check and the till the
// settings reopen, no sale may queue a message for the old service. It
// returns the problems that refuse the move, or the thaw for a failed save.
func (s *setup) freeze(old, c Config) (thaw func(), probs []ui.FieldProblem) {
	var n int
	err := s.till.store.Freeze(func(tx *queue.Tx) (err error) {
		if n, err = unsentIn(tx); err == nil && n > 0 {
			err = errUnsent
		}
		return err
	})
	switch {
	case errors.Is(err, errUnsent):
		return nil, movedFields(old, c, unsentMessage(n))
	case err != nil:
		return nil, movedFields(old, c, err.Error())
	}
	return s.till.store.Thaw, nil
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
// file), then the config that says where it is, written atomically, and
// only then is a copy of the key the config no longer names removed. When
// the config cannot be written, the key store is put back as it was, so
// the config on disk and the key it names always agree.
//
// A move of lane, currency or payment service with an open till freezes
// its outbox first (nothing new may be queued for the old service) and
// counts what is unsent under that freeze; the freeze ends with the till
// the settings reopen, or at once when Save fails.
func (s *setup) Save(f ui.SetupForm) (err error) {
	if probs := s.Validate(f); len(probs) > 0 {
		return &ui.FormError{Problems: probs}
	}
	base, err := s.base()
	if err != nil {
		base = DefaultConfig()
	}
	c := apply(base, f)
	if moves(base, c) && s.till != nil {
		thaw, probs := s.freeze(base, c)
		if len(probs) > 0 {
			return &ui.FormError{Problems: probs}
		}
		defer func() {
			if err != nil {
				thaw()
			}
		}()
	}
	// undo puts the key store back as it was if Save fails once it is set;
	// after removes the copy the new config no longer names once it is saved.
	var undo, after func()
	defer func() {
		if err != nil && undo != nil {
			undo()
		}
	}()
	old, err := keyStoreFor(base.API.KeyStore, s.kr, s.paths)
	if err != nil {
		old = &fileKeyStore{path: s.paths.KeyFile}
	}
	switch {
	case f.UseSandbox:
		// No key is kept for a payment service the till no longer uses.
		if base.API.BaseURL != "" {
			after = func() { s.forget(old) }
		}
	case f.APIKey != "":
		key := Secret(f.APIKey)
		s.scrub.Add(key)
		ks := chooseKeyStore(s.kr, s.paths)
		prev, prevErr := ks.Get()
		if err := ks.Set(key); err != nil {
			return fmt.Errorf("save settings: %w", err)
		}
		undo = func() {
			var err error
			switch {
			case prevErr == nil:
				err = ks.Set(prev)
			case errors.Is(prevErr, ErrNoKey):
				err = ks.Delete()
			default:
				return // what was there could not be read: keep the new key rather than lose both
			}
			if err != nil && s.log != nil {
				s.log("put the API key back after a failed save", "where", ks.Where(), "err", err)
			}
		}
		if ks.Kind() != old.Kind() && base.API.KeyStore != "" || base.API.KeyStore == "" && ks.Kind() == KeyInKeyring {
			after = func() { s.forget(old) }
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
	if after != nil {
		after()
	}
	return nil
}

// forget removes a key from a place the saved config no longer names. A
// failure leaves a copy nobody reads; it is logged, not fatal, since the
// settings are saved.
func (s *setup) forget(ks KeyStore) {
	if err := ks.Delete(); err != nil && s.log != nil {
		s.log("remove the API key from its old place", "where", ks.Where(), "err", err)
	}
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

// CheckPIN implements ui.Setup. With no till open (it could not start,
// or the demo is on screen), the PIN is checked against the hash in the
// config file, even one that fails validation, with the same lockout and
// lockout state file as the till's.
func (s *setup) CheckPIN(pin string) error {
	if s.till != nil {
		return s.till.checkManagerPIN(pin)
	}
	if s.pin == nil {
		hash, err := savedPINHash(s.paths.ConfigFile)
		if err != nil {
			return fmt.Errorf("check the manager PIN: %w", err)
		}
		if hash == "" {
			return nil // nothing to protect: a first run, or a file the form replaces
		}
		c, _ := s.base() // decoded even when it does not validate
		state := manager.StateFile(filepath.Join(filepath.Dir(s.dbPath(c)), "manager-pin.json"))
		s.pin = &manager.Guard{Hash: hash, Now: s.now, Load: state.Load, Save: state.Save}
	}
	err := s.pin.Check(pin)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, manager.ErrWrongPIN), errors.Is(err, manager.ErrLocked), errors.Is(err, manager.ErrBadPIN):
		return fmt.Errorf("%w: %w", ui.ErrWrongPIN, err)
	}
	return fmt.Errorf("check the manager PIN: %w", err)
}

// savedPINHash reads the manager PIN hash from the config file without
// validating the rest, so that a damaged or hand-edited file keeps its
// PIN. A file that is not there, or not JSON at all, has none.
func savedPINHash(path string) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", err
	}
	var v struct {
		Hash string `json:"manager_pin_hash"`
	}
	if json.Unmarshal(b, &v) != nil {
		return "", nil
	}
	return v.Hash, nil
}

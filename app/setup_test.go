package app

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillpos/till/app/manager"
	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/ui"
)

// newTestSetup is a set-up service over files in a fresh directory and a
// stand-in keyring.
func newTestSetup(t *testing.T, kr keyringAPI) *setup {
	t.Helper()
	dir := t.TempDir()
	return &setup{
		paths: Paths{ConfigFile: filepath.Join(dir, "config.json"), Data: filepath.Join(dir, "data"),
			Logs: filepath.Join(dir, "logs"), KeyFile: filepath.Join(dir, "api-key")},
		kr: kr, scrub: &scrubber{},
		findUSB: func([]reader.USBID) ([]reader.FoundUSB, error) { return nil, nil },
	}
}

// goodForm is a first run's answers for a real payment account.
func goodForm() ui.SetupForm {
	return ui.SetupForm{Lane: "front", Currency: "eur", Locale: "fr-FR", TaxMode: "exclusive", Language: "fr",
		APIBaseURL: "https://api.example.com/", APIKey: "sk_live_wizard_0123456789", Reader: "usb:1209:0001",
		PIN: "2468", PINAgain: "2468"}
}

func fields(ps []ui.FieldProblem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Field)
	}
	return out
}

func TestSetupValidate(t *testing.T) {
	s := newTestSetup(t, &stubKeyring{})
	for _, tc := range []struct {
		name   string
		change func(*ui.SetupForm)
		want   []string
	}{
		{"all good", func(*ui.SetupForm) {}, nil},
		{"sandbox needs no key", func(f *ui.SetupForm) { f.UseSandbox, f.APIKey, f.APIBaseURL = true, "", "" }, nil},
		{"lane", func(f *ui.SetupForm) { f.Lane = "front desk!" }, []string{ui.FieldLane}},
		{"currency", func(f *ui.SetupForm) { f.Currency = "EURO" }, []string{ui.FieldCurrency}},
		{"locale", func(f *ui.SetupForm) { f.Locale = "not a locale!" }, []string{ui.FieldLocale}},
		{"tax mode", func(f *ui.SetupForm) { f.TaxMode = "" }, []string{ui.FieldTaxMode}},
		{"plain http elsewhere", func(f *ui.SetupForm) { f.APIBaseURL = "http://api.example.com" }, []string{ui.FieldAPIBaseURL}},
		{"no key", func(f *ui.SetupForm) { f.APIKey = "" }, []string{ui.FieldAPIKey}},
		{"saved key kept", func(f *ui.SetupForm) { f.APIKey, f.HasAPIKey = "", true }, nil},
		{"publishable key", func(f *ui.SetupForm) { f.APIKey = "pk_live_0123456789" }, []string{ui.FieldAPIKey}},
		{"key pasted with a line break", func(f *ui.SetupForm) { f.APIKey = "sk_live_0123\n456789" }, []string{ui.FieldAPIKey}},
		{"reader elsewhere on the network", func(f *ui.SetupForm) { f.Reader = "tcp://10.0.0.5:7070" }, []string{ui.FieldReader}},
		{"reader nonsense", func(f *ui.SetupForm) { f.Reader = "bluetooth" }, []string{ui.FieldReader}},
		{"no PIN on a first run", func(f *ui.SetupForm) { f.PIN, f.PINAgain = "", "" }, []string{ui.FieldPIN}},
		{"saved PIN kept", func(f *ui.SetupForm) { f.PIN, f.PINAgain, f.HasPIN = "", "", true }, nil},
		{"PIN letters", func(f *ui.SetupForm) { f.PIN, f.PINAgain = "12ab", "12ab" }, []string{ui.FieldPIN}},
		{"PIN too short", func(f *ui.SetupForm) { f.PIN, f.PINAgain = "123", "123" }, []string{ui.FieldPIN}},
		{"PINs differ", func(f *ui.SetupForm) { f.PINAgain = "2469" }, []string{ui.FieldPIN}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := goodForm()
			tc.change(&f)
			got := s.Validate(f)
			if !slices.Equal(fields(got), tc.want) {
				t.Errorf("problems %+v, want fields %q", got, tc.want)
			}
			for _, p := range got {
				if p.Message == "" || strings.Contains(p.Message, "sk_live") || strings.Contains(p.Message, "pk_live_0123456789") {
					t.Errorf("message %q is empty or shows the key", p.Message)
				}
			}
		})
	}
}

func TestSetupSaveKeyring(t *testing.T) {
	kr := &stubKeyring{}
	s := newTestSetup(t, kr)
	f := goodForm()
	if err := s.Save(f); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(s.paths.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(f.APIKey)) || bytes.Contains(raw, []byte(f.PIN)) {
		t.Fatalf("config file holds the key or the PIN:\n%s", raw)
	}
	cfg, err := ReadConfig(s.paths.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Lane != "front" || cfg.Currency != "EUR" || cfg.Locale != "fr-FR" || cfg.TaxMode != "exclusive" ||
		cfg.API.BaseURL != "https://api.example.com" || cfg.API.KeyStore != KeyInKeyring || cfg.Reader != "usb:1209:0001" || cfg.Language != "fr" {
		t.Errorf("saved config %+v", cfg)
	}
	if ok, err := manager.Verify(cfg.ManagerPINHash, "2468"); !ok || err != nil {
		t.Errorf("saved PIN hash does not verify: %v", err)
	}
	if got := kr.m[keyringService+"/"+keyAccount(s.paths.ConfigFile)]; got != f.APIKey {
		t.Errorf("keyring holds %q", got)
	}
	if _, err := os.Stat(s.paths.KeyFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key file exists beside a working keyring: %v", err)
	}

	// The settings, later: the form starts from the saved values; an
	// empty key and PIN keep the saved ones.
	again, err := s.Form()
	if err != nil {
		t.Fatal(err)
	}
	if !again.HasAPIKey || !again.HasPIN || again.APIKey != "" || again.PIN != "" || again.Lane != "front" {
		t.Fatalf("settings form %+v", again)
	}
	again.Lane = "back"
	if err := s.Save(again); err != nil {
		t.Fatal(err)
	}
	cfg2, _ := ReadConfig(s.paths.ConfigFile)
	if cfg2.Lane != "back" || cfg2.ManagerPINHash != cfg.ManagerPINHash || kr.m[keyringService+"/"+keyAccount(s.paths.ConfigFile)] != f.APIKey {
		t.Errorf("after keeping key and PIN: %+v", cfg2)
	}

	// Back to the sandbox: no key is kept for a service no longer used.
	again.UseSandbox = true
	if err := s.Save(again); err != nil {
		t.Fatal(err)
	}
	if len(kr.m) != 0 {
		t.Errorf("keyring still holds %v after switching to the sandbox", kr.m)
	}
}

func TestSetupSaveWithoutKeyring(t *testing.T) {
	s := newTestSetup(t, &stubKeyring{err: errors.New("The name org.freedesktop.secrets was not provided by any .service files")})
	f := goodForm()
	if err := s.Save(f); err != nil {
		t.Fatal(err)
	}
	cfg, err := ReadConfig(s.paths.ConfigFile)
	if err != nil || cfg.API.KeyStore != KeyInFile {
		t.Fatalf("key_store = %q (%v), want file", cfg.API.KeyStore, err)
	}
	got, err := (&fileKeyStore{path: s.paths.KeyFile}).Get()
	if err != nil || got.Reveal() != f.APIKey {
		t.Errorf("key file holds %q (%v)", got.Reveal(), err)
	}
	if fi, err := os.Stat(s.paths.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v (%v), want 0600", fi.Mode(), err)
	}
	var fe *ui.FormError
	bad := f
	bad.PINAgain = "0000"
	if err := s.Save(bad); !errors.As(err, &fe) || !slices.Equal(fields(fe.Problems), []string{ui.FieldPIN}) {
		t.Errorf("Save of a bad form: %v, want a FormError on the PIN", err)
	}
}

func TestSetupCheckAPI(t *testing.T) {
	const key = "sk_test_check_0123456789"
	sb, err := sandbox.New(sandbox.Options{Keys: []string{key}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	defer srv.Close()
	s := newTestSetup(t, &stubKeyring{})
	ctx := context.Background()
	if err := s.CheckAPI(ctx, srv.URL, key); err != nil {
		t.Errorf("the right key: %v", err)
	}
	err = s.CheckAPI(ctx, srv.URL, "sk_test_wrong_0123456789")
	if err == nil || !strings.Contains(err.Error(), "refused this key") || strings.Contains(err.Error(), "sk_test_wrong") {
		t.Errorf("a wrong key: %v", err)
	}
	dead := httptest.NewServer(nil)
	dead.Close()
	if err := s.CheckAPI(ctx, dead.URL, key); err == nil || !strings.Contains(err.Error(), "Could not reach") || strings.Contains(err.Error(), key) {
		t.Errorf("nothing listening: %v", err)
	}
	if err := s.CheckAPI(ctx, "http://api.example.com", key); err == nil {
		t.Error("plain http to another host was checked")
	}
	// An empty key checks the saved one.
	f := goodForm()
	f.APIBaseURL, f.APIKey = srv.URL, key
	if err := s.Save(f); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckAPI(ctx, srv.URL, ""); err != nil {
		t.Errorf("the saved key: %v", err)
	}
}

func TestSetupDetectReaders(t *testing.T) {
	s := newTestSetup(t, &stubKeyring{})
	s.findUSB = func(ids []reader.USBID) ([]reader.FoundUSB, error) {
		return []reader.FoundUSB{{ID: reader.USBID{Vendor: 0x1209, Product: 1}, Where: "1209:0001 on bus 1 address 4"}}, nil
	}
	got, err := s.DetectReaders()
	if err != nil || len(got) != 1 || got[0].Reader != "usb:1209:0001" || got[0].Label != "1209:0001 on bus 1 address 4" {
		t.Errorf("DetectReaders = %+v, %v", got, err)
	}
	if err := s.Validate(ui.SetupForm{Lane: "a", Currency: "CHF", Locale: "de-CH", TaxMode: "inclusive",
		UseSandbox: true, Reader: got[0].Reader, HasPIN: true}); err != nil {
		t.Errorf("a detected reader does not validate: %+v", err)
	}
	s.findUSB = func([]reader.USBID) ([]reader.FoundUSB, error) { return nil, reader.ErrUSBAccess }
	if _, err := s.DetectReaders(); err == nil || !strings.Contains(err.Error(), "may not open it") {
		t.Errorf("permission denied: %v", err)
	}
}

// TestSettingsRefuseMovingUnsentPayments: a till with a payment still to
// send keeps its lane, currency and payment service until it is sent.
func TestSettingsRefuseMovingUnsentPayments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		till, s, f := openSettings(t)
		moved := f
		moved.APIBaseURL = "https://api.example.com"
		if p := s.Validate(moved); len(p) != 0 {
			t.Fatalf("nothing unsent, yet: %+v", p)
		}

		if _, err := till.DemoCardSale(30 * time.Second); err == nil {
			t.Fatal("a card sale with no API answering completed")
		}
		if p := s.Validate(moved); !slices.Equal(fields(p), []string{ui.FieldAPIBaseURL}) || !strings.Contains(p[0].Message, "1 payment messages") {
			t.Errorf("moving the API with one entry unsent: %+v", p)
		}
		moved.APIBaseURL, moved.Lane, moved.Currency = f.APIBaseURL, "lane9", "EUR"
		if p := s.Validate(moved); !slices.Equal(fields(p), []string{ui.FieldLane, ui.FieldCurrency}) {
			t.Errorf("moving lane and currency with one entry unsent: %+v", p)
		}
		if p := s.Validate(f); len(p) != 0 {
			t.Errorf("changing only the PIN is refused: %+v", p)
		}
	})
}

// savedSettings saves cfg as the settings' config, its key in the user
// file, and returns the settings form it gives, with a new PIN typed.
func savedSettings(t *testing.T, s *setup, cfg Config) ui.SetupForm {
	t.Helper()
	cfg.API.KeyStore = KeyInFile
	if err := SaveConfig(s.paths.ConfigFile, cfg); err != nil {
		t.Fatal(err)
	}
	if err := (&fileKeyStore{path: s.paths.KeyFile}).Set(cfg.API.Key); err != nil {
		t.Fatal(err)
	}
	f, err := s.Form()
	if err != nil {
		t.Fatal(err)
	}
	f.PIN, f.PINAgain = "1357", "1357"
	return f
}

// openSettings opens a till (its API never answers) and the settings of
// it, saved, with the form they give.
func openSettings(t *testing.T) (*Till, *setup, ui.SetupForm) {
	t.Helper()
	till, _ := openTill(t, nil)
	s := newTestSetup(t, &stubKeyring{})
	s.till = till
	return till, s, savedSettings(t, s, till.cfg)
}

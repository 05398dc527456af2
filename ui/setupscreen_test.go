package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// fakeSetup is the Setup interface as data: it answers as the test sets
// it up and records every call. It holds no rules but the ones a test
// gives it in validate.
type fakeSetup struct {
	mu       sync.Mutex
	calls    []string
	saved    []SetupForm
	validate func(SetupForm) []FieldProblem // nil: every form is right
	saveErr  error
	// saveGate, when set, holds Save until it is closed.
	saveGate chan struct{}
	readers  []DetectedReader
	findErr  error
	// checks answers CheckAPI; a nil channel makes it wait for its
	// context instead.
	checks   chan error
	deadline time.Duration // CheckAPI's context's time left when called
	pin      string
	tries    int
}

func newFakeSetup() *fakeSetup { return &fakeSetup{pin: "4321", checks: make(chan error)} }

func (f *fakeSetup) record(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

// Calls returns the calls so far and forgets them.
func (f *fakeSetup) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeSetup) Saved() []SetupForm {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.saved)
}

func (f *fakeSetup) Validate(form SetupForm) []FieldProblem {
	f.record("Validate")
	if f.validate == nil {
		return nil
	}
	return f.validate(form)
}

func (f *fakeSetup) Save(form SetupForm) error {
	f.record("Save")
	if f.saveGate != nil {
		<-f.saveGate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.saveErr != nil {
		return f.saveErr
	}
	f.saved = append(f.saved, form)
	return nil
}

func (f *fakeSetup) DetectReaders() ([]DetectedReader, error) {
	f.record("DetectReaders")
	return f.readers, f.findErr
}

func (f *fakeSetup) CheckAPI(ctx context.Context, url, key string) error {
	f.record("CheckAPI " + url + " " + key)
	if dl, ok := ctx.Deadline(); ok {
		f.mu.Lock()
		f.deadline = time.Until(dl)
		f.mu.Unlock()
	}
	f.mu.Lock()
	checks := f.checks
	f.mu.Unlock()
	if checks == nil {
		<-ctx.Done()
		return fmt.Errorf("check payment API: %w", ctx.Err())
	}
	select {
	case err := <-checks:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeSetup) CheckPIN(pin string) error {
	f.record("CheckPIN")
	f.mu.Lock()
	defer f.mu.Unlock()
	if pin != f.pin {
		f.tries++
		return fmt.Errorf("%w: %d tries left", ErrWrongPIN, 5-f.tries)
	}
	return nil
}

var _ Setup = (*fakeSetup)(nil)

func wantSetupCalls(t *testing.T, setup *fakeSetup, want ...string) {
	t.Helper()
	if got := setup.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
}

// The secrets the tests type: neither may ever be shown.
const (
	testKey = "sk_live_51SECRETabc"
	testPIN = "97531"
)

var setupChoices = SetupChoices{
	Currencies: []string{"CHF", "EUR", "USD"},
	Locales:    []string{"de-CH", "fr-CH", "it-CH", "en-GB"},
	Languages:  []string{"en", "fr", "de"},
}

// firstRunForm is what the app would start a first run from.
var firstRunForm = SetupForm{Lane: "lane1", Currency: "CHF", Locale: "de-CH", TaxMode: "inclusive",
	UseSandbox: true, Reader: "usb"}

// startSetup shows a setup screen in a 1000×720 test window, attaches it
// and lets it settle. Call it inside a synctest bubble; the screen is
// stopped when the test ends, and its goroutines must then end.
func startSetup(t *testing.T, p SetupParams) (*SetupScreen, fyne.Canvas) {
	t.Helper()
	p.Do = func(f func()) {
		uiGoroutine.Lock()
		defer uiGoroutine.Unlock()
		f()
	}
	if p.Choices.Currencies == nil {
		p.Choices = setupChoices
	}
	s := NewSetupScreen(p)
	w := test.NewTempApp(t).NewWindow("Till setup")
	w.SetContent(s.Content())
	w.Resize(fyne.NewSize(1000, 720))
	s.Focus(w.Canvas())
	t.Cleanup(func() {
		s.Stop()
		s.Wait()
	})
	synctest.Wait()
	return s, w.Canvas()
}

// typeInto gives e the keyboard and types text, as the user would.
func typeInto(c fyne.Canvas, e fyne.Focusable, text string) {
	onUI(func() {
		c.Focus(e)
		test.Type(e, text)
	})
}

// replace clears an entry and types text into it.
func replace(c fyne.Canvas, e *widget.Entry, text string) {
	onUI(func() { e.SetText("") })
	typeInto(c, e, text)
}

// wantStep checks the page shown by its step indicator or title.
func wantStep(t *testing.T, c fyne.Canvas, title string) {
	t.Helper()
	if all := shown(c); !slices.Contains(all, title) {
		t.Fatalf("page %q not shown; shown: %q", title, all)
	}
}

// noSecrets fails when any text shown contains one of the secrets.
func noSecrets(t *testing.T, c fyne.Canvas, secrets ...string) {
	t.Helper()
	for _, text := range shown(c) {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("secret %q shown in %q", secret, text)
			}
		}
	}
}

// TestSetupFirstRun walks the whole first run as a shop owner would and
// checks the form Save gets, and that Enter pressed twice saves once.
func TestSetupFirstRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		setup := newFakeSetup()
		setup.readers = []DetectedReader{{Reader: "usb:1209:0001", Label: "1209:0001 on bus 1 address 4"}}
		var done []SetupForm
		s, c := startSetup(t, SetupParams{Setup: setup, Form: firstRunForm,
			OnDone: func(f SetupForm) { done = append(done, f) }, OnDemo: func() {}})

		wantShown(t, c, "Welcome to Till", "Try the demo first")
		key(c, fyne.KeyReturn) // "Set up this till"
		wantStep(t, c, "Step 1 of 5 — Shop")
		wantShown(t, c, "lane1", "CHF", "de-CH", "Prices include tax", "Same as the system")
		if c.Focused() != s.lane {
			t.Errorf("focus on %T, want the lane", c.Focused())
		}
		replace(c, s.lane, "lane2")
		onUI(func() {
			s.currency.SetText("EUR")
			s.locale.SetSelected("fr-CH")
			s.taxMode.SetSelected("Prices exclude tax")
			s.language.SetSelected("Français")
		})
		onUI(func() { c.Focus(s.lane) })
		key(c, fyne.KeyReturn)
		wantSetupCalls(t, setup, "Validate")

		wantStep(t, c, "Step 2 of 5 — Payments")
		onUI(func() { s.payMode.SetSelected("Use my payment account") })
		wantShown(t, c, "https://api.stripe.com", "Check connection")
		typeInto(c, s.apiKey, testKey)
		noSecrets(t, c, testKey)
		tap(button(t, c, "Next (Enter)"))

		wantStep(t, c, "Step 3 of 5 — Card reader")
		tap(button(t, c, "Detect"))
		wantShown(t, c, "Readers found: choose one, or any supported reader.", "1209:0001 on bus 1 address 4")
		onUI(func() { s.detected.Objects[0].(*widget.RadioGroup).SetSelected("1209:0001 on bus 1 address 4") })
		wantShown(t, c, "Chosen: 1209:0001")
		tap(button(t, c, "Next (Enter)"))

		wantStep(t, c, "Step 4 of 5 — Manager PIN")
		if c.Focused() != s.pin {
			t.Errorf("focus on %T, want the PIN", c.Focused())
		}
		typeInto(c, s.pin, testPIN)
		typeInto(c, s.pinAgain, testPIN)
		key(c, fyne.KeyReturn)

		wantStep(t, c, "Step 5 of 5 — Review")
		wantShown(t, c, "lane2", "EUR", "fr-CH", "Prices exclude tax", "Français",
			"My payment account at https://api.stripe.com", "new key entered", "USB reader 1209:0001", "new PIN entered")
		noSecrets(t, c, testKey, testPIN)
		wantSetupCalls(t, setup, "Validate", "DetectReaders", "Validate", "Validate")

		setup.saveGate = make(chan struct{})
		key(c, fyne.KeyReturn)
		key(c, fyne.KeyReturn) // pressed twice: saves once
		if b := button(t, c, "Finish (Enter)"); !b.Disabled() {
			t.Error("Finish enabled while saving")
		}
		close(setup.saveGate)
		synctest.Wait()
		wantSetupCalls(t, setup, "Save")
		want := SetupForm{Lane: "lane2", Currency: "EUR", Locale: "fr-CH", TaxMode: "exclusive", Language: "fr",
			APIBaseURL: "https://api.stripe.com", APIKey: testKey, Reader: "usb:1209:0001", PIN: testPIN, PINAgain: testPIN}
		if got := setup.Saved(); !slices.Equal(got, []SetupForm{want}) {
			t.Fatalf("saved %+v,\nwant %+v", got, want)
		}
		want.APIKey, want.PIN, want.PINAgain, want.HasAPIKey, want.HasPIN = "", "", "", true, true
		if !slices.Equal(done, []SetupForm{want}) {
			t.Errorf("OnDone got %+v,\nwant %+v", done, want)
		}
		key(c, fyne.KeyReturn) // saved: nothing more
		wantSetupCalls(t, setup)
	})
}

// TestSetupNextBlockedByLaneProblem: Next waits for the page's own
// problems, shown under their field; another page's problem waits for
// its page.
func TestSetupNextBlockedByLaneProblem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		setup := newFakeSetup()
		setup.validate = func(f SetupForm) []FieldProblem {
			var out []FieldProblem
			if f.Lane == "" {
				out = append(out, FieldProblem{FieldLane, "Name this till, e.g. lane1."})
			}
			if f.PIN == "" {
				out = append(out, FieldProblem{FieldPIN, "Choose a manager PIN."})
			}
			return out
		}
		s, c := startSetup(t, SetupParams{Setup: setup, Form: firstRunForm})
		key(c, fyne.KeyReturn)
		onUI(func() { s.lane.SetText("") })
		key(c, fyne.KeyReturn)
		wantStep(t, c, "Step 1 of 5 — Shop")
		wantInOrder(t, shown(c), []string{"Lane", "Name this till, e.g. lane1.", "Currency"})
		wantNotShown(t, c, "Choose a manager PIN.")
		if l := s.problems[FieldLane]; !l.Visible() || l.Text != "Name this till, e.g. lane1." {
			t.Errorf("lane's problem label %q visible %v", l.Text, l.Visible())
		}

		typeInto(c, s.lane, "lane7")
		key(c, fyne.KeyReturn)
		wantStep(t, c, "Step 2 of 5 — Payments")
		tap(button(t, c, "Back"))
		wantNotShown(t, c, "Name this till, e.g. lane1.")
		tap(button(t, c, "Next (Enter)"))
		tap(button(t, c, "Next (Enter)"))
		tap(button(t, c, "Next (Enter)"))
		wantStep(t, c, "Step 4 of 5 — Manager PIN")
		wantNotShown(t, c, "Choose a manager PIN.")
		tap(button(t, c, "Next (Enter)"))
		wantStep(t, c, "Step 4 of 5 — Manager PIN")
		wantShown(t, c, "Choose a manager PIN.")
	})
}

// walkToReview answers Next on every page from the first.
func walkToReview(t *testing.T, c fyne.Canvas, first bool) {
	t.Helper()
	if first {
		key(c, fyne.KeyReturn)
	}
	for range 4 {
		tap(button(t, c, "Next (Enter)"))
	}
	wantStep(t, c, "Step 5 of 5 — Review")
}

// TestSetupSaveRefused: a FormError goes back to the first page with a
// problem and shows each message under its field; another error stays on
// the review page.
func TestSetupSaveRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		setup := newFakeSetup()
		setup.saveErr = &FormError{Problems: []FieldProblem{
			{FieldReader, "No reader at tcp://10.0.0.9:7070."},
			{FieldCurrency, "Till does not know the currency XYZ."},
		}}
		s, c := startSetup(t, SetupParams{Setup: setup, Form: firstRunForm})
		walkToReview(t, c, true)
		tap(button(t, c, "Finish (Enter)"))
		wantStep(t, c, "Step 1 of 5 — Shop")
		wantShown(t, c, "Some answers need a change before they can be saved: see below.")
		wantInOrder(t, shown(c), []string{"Currency", "Till does not know the currency XYZ.", "Locale"})
		wantNotShown(t, c, "No reader at tcp://10.0.0.9:7070.")
		if c.Focused() != s.lane {
			t.Errorf("focus on %T, want the page's first entry", c.Focused())
		}

		// The reader's problem waits on its page.
		setup.mu.Lock()
		setup.saveErr = nil
		setup.mu.Unlock()
		tap(button(t, c, "Next (Enter)"))
		tap(button(t, c, "Next (Enter)"))
		wantStep(t, c, "Step 3 of 5 — Card reader")
		wantShown(t, c, "No reader at tcp://10.0.0.9:7070.")

		// A failure to store is shown on the review page.
		tap(button(t, c, "Next (Enter)"))
		tap(button(t, c, "Next (Enter)"))
		setup.mu.Lock()
		setup.saveErr = errors.New("write /home/cafe/.config/till/config.json: disk full")
		setup.mu.Unlock()
		tap(button(t, c, "Finish (Enter)"))
		wantStep(t, c, "Step 5 of 5 — Review")
		wantShown(t, c, "write /home/cafe/.config/till/config.json: disk full")
		if b := button(t, c, "Finish (Enter)"); b.Disabled() {
			t.Error("Finish stays disabled after a failure")
		}
	})
}

func TestSetupDemo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		setup := newFakeSetup()
		demo := 0
		_, c := startSetup(t, SetupParams{Setup: setup, Form: firstRunForm, OnDemo: func() { demo++ },
			OnDone: func(SetupForm) { t.Error("OnDone after the demo") }})
		tap(button(t, c, "Try the demo first"))
		if demo != 1 {
			t.Errorf("OnDemo called %d times, want 1", demo)
		}
		wantSetupCalls(t, setup)
		if len(setup.Saved()) != 0 {
			t.Error("the demo saved a form")
		}
	})
	// Without OnDemo, no demo button.
	synctest.Test(t, func(t *testing.T) {
		_, c := startSetup(t, SetupParams{Setup: newFakeSetup(), Form: firstRunForm})
		if hasButton(c, "Try the demo first") {
			t.Error("demo offered without OnDemo")
		}
	})
}

// savedForm is a till's saved settings, as the app reads them back.
var savedForm = SetupForm{Lane: "lane3", Currency: "EUR", Locale: "fr-CH", TaxMode: "exclusive", Language: "de",
	APIBaseURL: "https://pay.example.ch", HasAPIKey: true, Reader: "tcp://192.168.1.20:7070", HasPIN: true}

// TestSetupSettings: the manager's settings open on the right PIN only,
// start from the saved values, and an empty key and PIN keep the saved
// ones.
func TestSetupSettings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		setup := newFakeSetup()
		var done []SetupForm
		cancelled := 0
		s, c := startSetup(t, SetupParams{Setup: setup, Form: savedForm, Settings: true,
			OnDone: func(f SetupForm) { done = append(done, f) }, OnDemo: func() { t.Error("demo in the settings") },
			OnCancel: func() { cancelled++ }})
		wantShown(t, c, "Settings", "The settings are for the manager: enter the manager's PIN.")
		wantNotShown(t, c, "Welcome to Till")
		if hasButton(c, "Try the demo first") {
			t.Error("demo offered in the settings")
		}

		typeInto(c, s.unlockPIN, "1111")
		key(c, fyne.KeyReturn)
		wantShown(t, c, "wrong manager PIN: 4 tries left")
		wantStep(t, c, "Settings")
		if c.Focused() != s.unlockPIN || s.unlockPIN.Text != "" {
			t.Errorf("after a wrong PIN: focus %T, text %q", c.Focused(), s.unlockPIN.Text)
		}
		typeInto(c, s.unlockPIN, "4321")
		key(c, fyne.KeyReturn)
		wantStep(t, c, "Step 1 of 5 — Shop")
		wantSetupCalls(t, setup, "CheckPIN", "CheckPIN")
		wantShown(t, c, "lane3", "EUR", "fr-CH", "Prices exclude tax", "Deutsch")
		if hasButton(c, "Back") {
			t.Error("Back from the first settings page leads back to the PIN")
		}

		tap(button(t, c, "Next (Enter)"))
		wantShown(t, c, "Use my payment account", "https://pay.example.ch")
		if s.apiKey.PlaceHolder != "A key is saved — leave empty to keep it" {
			t.Errorf("key placeholder %q", s.apiKey.PlaceHolder)
		}
		tap(button(t, c, "Next (Enter)"))
		if s.tcpAddr.Text != "192.168.1.20:7070" || !s.tcpRow.Visible() {
			t.Errorf("network simulator address %q shown %v", s.tcpAddr.Text, s.tcpRow.Visible())
		}
		tap(button(t, c, "Next (Enter)"))
		wantShown(t, c, "The manager's PIN protects the settings, large discounts and the end of day. Leave both empty to keep the saved PIN.")
		tap(button(t, c, "Next (Enter)"))
		wantShown(t, c, "saved key kept", "saved PIN kept", "Simulator at tcp://192.168.1.20:7070",
			"My payment account at https://pay.example.ch")
		tap(button(t, c, "Save (Enter)"))
		if got := setup.Saved(); !slices.Equal(got, []SetupForm{savedForm}) {
			t.Errorf("saved %+v,\nwant %+v", got, savedForm)
		}
		if !slices.Equal(done, []SetupForm{savedForm}) {
			t.Errorf("OnDone got %+v", done)
		}
		if cancelled != 0 {
			t.Error("cancelled")
		}
	})
	synctest.Test(t, func(t *testing.T) {
		cancelled := 0
		s, c := startSetup(t, SetupParams{Setup: newFakeSetup(), Form: savedForm, Settings: true,
			OnCancel: func() { cancelled++ }})
		typeInto(c, s.unlockPIN, "4321")
		key(c, fyne.KeyReturn)
		tap(button(t, c, "Cancel"))
		if cancelled != 1 {
			t.Errorf("OnCancel called %d times, want 1", cancelled)
		}
	})
}

// TestSetupSecretsNeverShown types a key and a PIN and looks at every
// page, the review included, and after the sandbox is chosen.
func TestSetupSecretsNeverShown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		setup := newFakeSetup()
		s, c := startSetup(t, SetupParams{Setup: setup, Form: savedForm, Settings: true})
		typeInto(c, s.unlockPIN, "4321")
		key(c, fyne.KeyReturn)
		noSecrets(t, c, "4321")
		tap(button(t, c, "Next (Enter)"))
		replace(c, s.apiKey, testKey)
		noSecrets(t, c, testKey)
		tap(button(t, c, "Next (Enter)"))
		noSecrets(t, c, testKey)
		tap(button(t, c, "Next (Enter)"))
		typeInto(c, s.pin, testPIN)
		typeInto(c, s.pinAgain, testPIN)
		noSecrets(t, c, testKey, testPIN)
		tap(button(t, c, "Next (Enter)"))
		wantShown(t, c, "new key entered", "new PIN entered")
		noSecrets(t, c, testKey, testPIN, "4321")

		// Back to the sandbox: the key typed is dropped.
		for range 3 {
			tap(button(t, c, "Back"))
		}
		onUI(func() { s.payMode.SetSelected("Use the built-in sandbox (practice, no real money)") })
		noSecrets(t, c, testKey, testPIN)
		for range 3 {
			tap(button(t, c, "Next (Enter)"))
		}
		wantShown(t, c, "none (sandbox)", "Built-in sandbox (practice, no real money)")
		noSecrets(t, c, testKey, testPIN)
		tap(button(t, c, "Save (Enter)"))
		if got := setup.Saved(); len(got) != 1 || got[0].APIKey != "" || !got[0].UseSandbox || got[0].PIN != testPIN {
			t.Errorf("saved %+v", got)
		}
	})
}

func TestSetupCheckConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		setup := newFakeSetup()
		s, c := startSetup(t, SetupParams{Setup: setup, Form: savedForm, Settings: true})
		typeInto(c, s.unlockPIN, "4321")
		key(c, fyne.KeyReturn)
		tap(button(t, c, "Next (Enter)"))
		replace(c, s.apiKey, testKey)
		setup.Calls()

		tap(button(t, c, "Check connection"))
		wantShown(t, c, "Checking the connection…")
		if !button(t, c, "Next (Enter)").Disabled() || !button(t, c, "Check connection").Disabled() {
			t.Error("buttons enabled while checking")
		}
		wantSetupCalls(t, setup, "CheckAPI https://pay.example.ch "+testKey)
		setup.checks <- nil
		synctest.Wait()
		wantShown(t, c, "Connected: the payment service answered and accepted the key.")
		noSecrets(t, c, testKey)

		tap(button(t, c, "Check connection"))
		setup.checks <- errors.New("the payment service refused the key (401)")
		synctest.Wait()
		wantShown(t, c, "No connection: the payment service refused the key (401)")
		wantNotShown(t, c, "Connected: the payment service answered and accepted the key.")
		if button(t, c, "Next (Enter)").Disabled() {
			t.Error("Next disabled after the check")
		}

		// A service that never answers is given up on after 15 s.
		setup.mu.Lock()
		setup.checks = nil
		setup.mu.Unlock()
		tap(button(t, c, "Check connection"))
		setup.mu.Lock()
		deadline := setup.deadline
		setup.mu.Unlock()
		if deadline != checkAPITimeout {
			t.Errorf("CheckAPI given %v, want %v", deadline, checkAPITimeout)
		}
		time.Sleep(checkAPITimeout)
		synctest.Wait()
		wantShown(t, c, "No connection: check payment API: context deadline exceeded")
	})
}

func TestSetupDetectReaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		setup := newFakeSetup()
		s, c := startSetup(t, SetupParams{Setup: setup, Form: savedForm, Settings: true})
		typeInto(c, s.unlockPIN, "4321")
		key(c, fyne.KeyReturn)
		tap(button(t, c, "Next (Enter)"))
		tap(button(t, c, "Next (Enter)"))
		wantStep(t, c, "Step 3 of 5 — Card reader")

		tap(button(t, c, "Detect"))
		wantShown(t, c, "No reader found. You can plug it in later: with \"USB reader\" chosen, Till finds it by itself.")

		setup.mu.Lock()
		setup.findErr = errors.New("libusb: access denied")
		setup.mu.Unlock()
		tap(button(t, c, "Detect"))
		wantShown(t, c, "Looking for readers failed: libusb: access denied")

		setup.mu.Lock()
		setup.findErr = nil
		setup.readers = []DetectedReader{
			{Reader: "usb:1209:0001", Label: "1209:0001 on bus 1 address 4"},
			{Reader: "usb:2fe3:0100", Label: "2fe3:0100 on bus 3 address 2"},
		}
		setup.mu.Unlock()
		tap(button(t, c, "Detect"))
		wantShown(t, c, "Any supported reader", "1209:0001 on bus 1 address 4", "2fe3:0100 on bus 3 address 2")
		wantNotShown(t, c, "Looking for readers failed: libusb: access denied")
		list := s.detected.Objects[0].(*widget.RadioGroup)
		onUI(func() { list.SetSelected("2fe3:0100 on bus 3 address 2") })
		if s.readerMode.Selected != "USB reader (found automatically)" || s.tcpRow.Visible() {
			t.Errorf("reader mode %q after choosing a USB reader", s.readerMode.Selected)
		}
		wantShown(t, c, "Chosen: 2fe3:0100")
		onUI(func() { list.SetSelected("Any supported reader") })
		wantNotShown(t, c, "Chosen: 2fe3:0100")
		onUI(func() { list.SetSelected("1209:0001 on bus 1 address 4") })
		tap(button(t, c, "Next (Enter)"))
		tap(button(t, c, "Next (Enter)"))
		wantShown(t, c, "USB reader 1209:0001")
		wantSetupCalls(t, setup, "CheckPIN", "Validate", "Validate", "DetectReaders", "DetectReaders", "DetectReaders",
			"Validate", "Validate")
	})
}

// TestSetupLooksRight keeps golden images of the shop page and the
// review. To regenerate one, delete it from testdata and run the test
// again, then look at it.
func TestSetupLooksRight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		setup := newFakeSetup()
		setup.validate = func(f SetupForm) []FieldProblem {
			if f.Lane == "" {
				return []FieldProblem{{FieldLane, "Name this till, e.g. lane1."}}
			}
			return nil
		}
		s, c := startSetup(t, SetupParams{Setup: setup, Form: firstRunForm, OnDemo: func() {}})
		key(c, fyne.KeyReturn)
		onUI(func() { s.lane.SetText("") })
		key(c, fyne.KeyReturn)
		test.AssertImageMatches(t, "setup_shop.png", c.Capture())
		typeInto(c, s.lane, "lane2")
		tap(button(t, c, "Next (Enter)"))
		onUI(func() { s.payMode.SetSelected("Use my payment account") })
		typeInto(c, s.apiKey, testKey)
		tap(button(t, c, "Next (Enter)"))
		tap(button(t, c, "Next (Enter)"))
		typeInto(c, s.pin, testPIN)
		typeInto(c, s.pinAgain, testPIN)
		tap(button(t, c, "Next (Enter)"))
		test.AssertImageMatches(t, "setup_review.png", c.Capture())
	})
}

package app

import (
	"bytes"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/ui"
	"github.com/tillpos/till/ui/uitest"
)

// leaks lists the files under dir that contain secret.
func leaks(t *testing.T, dir, secret string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(secret)) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestAPIKeyNeverLeaks sets a till up with a key for a real (sandbox)
// payment API, as the wizard does, opens it as Till starts, and takes a
// card payment that the API accepts only with that key. The key then is
// where it was put and nowhere else: not in the config, the database, the
// logs or the diagnostics.
func TestAPIKeyNeverLeaks(t *testing.T) {
	const key = "sk_live_leakcheck_7Hq2Xw9Zp4Lm"
	sb, err := sandbox.New(sandbox.Options{Keys: []string{key}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	defer srv.Close()

	dir := t.TempDir()
	paths := testPaths(dir)
	scrub := &scrubber{}
	log, logClose, err := openLog(paths.Logs, discard{}, scrub)
	if err != nil {
		t.Fatal(err)
	}
	st := &setup{paths: paths, kr: &stubKeyring{err: os.ErrPermission}, scrub: scrub,
		findUSB: func([]reader.USBID) ([]reader.FoundUSB, error) { return nil, nil }}
	form := ui.SetupForm{Lane: "lane1", Currency: "CHF", Locale: "de-CH", TaxMode: "inclusive",
		APIBaseURL: srv.URL, APIKey: key, Reader: "simulator", PIN: "8642", PINAgain: "8642"}
	if err := st.Save(form); err != nil {
		t.Fatal(err)
	}

	r := &runner{log: log, flags: flags{config: paths.ConfigFile}, getenv: func(string) string { return "" },
		now: time.Now, paths: paths, kr: st.kr, scrub: scrub}
	op, err := r.openTill()
	if err != nil {
		t.Fatal(err)
	}
	op.till.Start()
	done, err := op.till.DemoCardSale(30 * time.Second)
	if err != nil {
		t.Fatalf("card sale with the saved key: %v", err)
	}
	if ok, _ := CardOutcome(done); !ok {
		t.Fatalf("card sale not settled")
	}
	r.setConfig(r.cfg, "the key file", false)
	r.tillForDiag = op.till
	diag, err := r.diagnostics()
	if err != nil {
		t.Fatal(err)
	}
	log.Error("a careless line", "key", key, "header", "Bearer "+key)
	if err := op.close(); err != nil {
		t.Fatal(err)
	}
	if err := logClose.Close(); err != nil {
		t.Fatal(err)
	}

	if got := leaks(t, dir, key); !slices.Equal(got, []string{paths.KeyFile}) {
		t.Errorf("the key is in %q, want only in %s", got, paths.KeyFile)
	}
	if got := leaks(t, dir, "8642"); len(got) != 0 {
		t.Errorf("the manager PIN is in clear in %q", got)
	}
	if strings.Contains(diag, key) || strings.Contains(diag, "8642") {
		t.Errorf("diagnostics hold a secret:\n%s", diag)
	}
	for _, want := range []string{"Till " + Version, "API key: set, kept in the key file", srv.URL, "Orders: 1", `"manager_pin_hash": "set"`} {
		if !strings.Contains(diag, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, diag)
		}
	}
	logText, err := os.ReadFile(filepath.Join(paths.Logs, logFile))
	if err != nil || !bytes.Contains(logText, []byte(`key=`+redacted)) {
		t.Errorf("the careless log line is not there redacted (%v):\n%s", err, logText)
	}
}

// firstRunner is a runner for a machine Till has never run on: every
// per-user path in a fresh directory, and no config.
func firstRunner(t *testing.T, kr keyringAPI) (*runner, fyne.Window) {
	t.Helper()
	a := test.NewTempApp(t)
	w := a.NewWindow("Till")
	w.Resize(fyne.NewSize(1366, 768))
	dir := t.TempDir()
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	r := &runner{app: a, win: w, log: slog.New(slog.DiscardHandler), getenv: func(string) string { return "" },
		now: func() time.Time { return now }, paths: testPaths(dir), kr: kr, scrub: &scrubber{},
		findUSB: func([]reader.USBID) ([]reader.FoundUSB, error) { return nil, nil }}
	// The test driver runs fyne.Do at once, on the calling goroutine: take
	// turns. Once the test is over, screens still winding down (the
	// demo's, on the real clock) touch no widget: the text measuring
	// caches they would use are shared with the next test.
	var ui sync.Mutex
	over := false
	r.uiDo = func(f func()) {
		ui.Lock()
		defer ui.Unlock()
		if !over {
			f()
		}
	}
	t.Cleanup(func() {
		ui.Lock()
		over = true
		ui.Unlock()
	})
	t.Cleanup(r.stop)
	return r, w
}

func tapButton(t *testing.T, w fyne.Window, label string) {
	t.Helper()
	b := uitest.Button(w.Content(), label)
	if b == nil {
		t.Fatalf("no %q button; shown: %q", label, uitest.ShownTexts(w.Content()))
	}
	test.Tap(b)
	synctest.Wait()
}

// TestFirstRunWizard: on a machine with no config, Till opens on the
// wizard; a shop owner answers it for their own payment account and
// Till opens the till they set up, with the key in the keyring.
func TestFirstRunWizard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kr := &stubKeyring{}
		r, w := firstRunner(t, kr)
		r.start()
		synctest.Wait()
		tapButton(t, w, "Set up this till (Enter)")

		// Shop: the lane's entry has the focus.
		lane, ok := w.Canvas().Focused().(*widget.Entry)
		if !ok {
			t.Fatalf("focus on %T, want the lane entry", w.Canvas().Focused())
		}
		lane.SetText("front")
		tapButton(t, w, "Next (Enter)")

		// Payments: the shop's own account, on a payment API that is not
		// answering (the till sells offline until it does).
		uitest.Radio(w.Content(), "Use my payment account").SetSelected("Use my payment account")
		entries := uitest.Entries(w.Content())
		if len(entries) != 2 {
			t.Fatalf("%d entries on the payments page, want the address and the key", len(entries))
		}
		entries[0].SetText(unusedAPI.BaseURL)
		test.Type(entries[1], unusedAPI.Key.Reveal())
		tapButton(t, w, "Next (Enter)")

		// Reader: the defaults' built-in simulator.
		tapButton(t, w, "Next (Enter)")

		// Manager PIN, twice.
		pins := uitest.Entries(w.Content())
		if len(pins) != 2 {
			t.Fatalf("%d entries on the PIN page, want 2", len(pins))
		}
		test.Type(pins[0], "4711")
		test.Type(pins[1], "4711")
		tapButton(t, w, "Next (Enter)")

		shown := uitest.ShownTexts(w.Content())
		for _, secret := range []string{unusedAPI.Key.Reveal(), "4711"} {
			for _, s := range shown {
				if strings.Contains(s, secret) {
					t.Errorf("review shows a secret: %q", s)
				}
			}
		}
		tapButton(t, w, "Finish (Enter)")

		shown = uitest.ShownTexts(w.Content())
		if !slices.Contains(shown, "Card (F5)") {
			t.Fatalf("after the wizard the till is not shown: %q", shown)
		}
		cfg, err := ReadConfig(r.paths.ConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Lane != "front" || cfg.API.BaseURL != unusedAPI.BaseURL || cfg.API.KeyStore != KeyInKeyring || cfg.ManagerPINHash == "" {
			t.Errorf("saved config %+v", cfg)
		}
		if r.till.cfg.API.Key.Reveal() != unusedAPI.Key.Reveal() || r.till.lane.Name() != "front" {
			t.Errorf("the till opened with lane %q and another key", r.till.lane.Name())
		}
		if got := kr.m[keyringService+"/"+keyAccount(r.paths.ConfigFile)]; got != unusedAPI.Key.Reveal() {
			t.Errorf("keyring holds %q", got)
		}
		if got := leaks(t, filepath.Dir(r.paths.ConfigFile), unusedAPI.Key.Reveal()); len(got) != 0 {
			t.Errorf("the key is in files %q; it belongs in the keyring only", got)
		}
	})
}

// TestFirstRunDemo: "Try the demo first" opens the embedded default on a
// database of its own and saves nothing, so the next start asks again.
// The demo's sandbox serves over loopback, so this test runs on the real
// clock and waits for the till to be shown.
func TestFirstRunDemo(t *testing.T) {
	r, w := firstRunner(t, &stubKeyring{})
	shown := make(chan error, 1)
	r.shown = shown
	r.start()
	demo := uitest.Button(w.Content(), "Try the demo first")
	if demo == nil {
		t.Fatalf("no demo button; shown: %q", uitest.ShownTexts(w.Content()))
	}
	test.Tap(demo)
	if err := <-shown; err != nil {
		t.Fatalf("the demo did not open: %v", err)
	}
	if !strings.Contains(w.Title(), "demo") {
		t.Errorf("title %q does not say it is the demo", w.Title())
	}
	if got := r.till.store.Path(); got != r.paths.DemoDatabase() {
		t.Errorf("demo database %s, want %s", got, r.paths.DemoDatabase())
	}
	if !r.till.api.Embedded {
		t.Errorf("the demo talks to %s, want the built-in sandbox", r.till.APIDescription())
	}
	if configExists(r.paths.ConfigFile) {
		t.Error("the demo wrote a config: the wizard would not come back")
	}
}

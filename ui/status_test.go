package ui

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/tillpos/till/ui/uitest"
)

// snapshot is a StatusSource that returns whatever the test last put in
// it: the screen's input as data, so each test states exactly what the
// store "holds".
type snapshot struct {
	state StoreState
	err   error
}

func (s *snapshot) StoreState() (StoreState, error) { return s.state, s.err }

func after(t *testing.T, all []string, label string) string {
	t.Helper()
	i := slices.Index(all, label)
	if i < 0 || i+1 >= len(all) {
		t.Fatalf("%q not shown in %q", label, all)
	}
	return all[i+1]
}

// startScreen shows a status screen in a 1024×720 test window, starts its
// refresh loop for the rest of the test (the test's context ends it) and
// lets it settle. Call it inside a synctest bubble.
func startScreen(t *testing.T, p StatusParams) (*StatusScreen, fyne.Window) {
	t.Helper()
	s := NewStatusScreen(p)
	w := test.NewTempApp(t).NewWindow("Till")
	w.SetContent(s.Content())
	w.Resize(fyne.NewSize(1024, 720))
	s.Start(t.Context())
	synctest.Wait()
	return s, w
}

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func TestStatusScreenLooksRight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &snapshot{state: StoreState{
			Path: "/home/cafe/.config/till/till.db", Connection: "online", Reader: "Till Sim R1 SIM-0001 (1.0.0): ready", Orders: 1284, Pending: 3, Dead: 1,
			Recent: []OrderSummary{
				{ID: "lane1-01KAQ3D1V9F8C2W7Y5N0M4T6HB", Status: "tendering", Total: "CHF 17.40"},
				{ID: "lane1-01KAQ3C7Q2R6P1X9Z4K8J3B5VD", Status: "completed", Total: "CHF 20.20"},
			},
		}}
		_, w := startScreen(t, StatusParams{Version: "0.1.0", API: "built-in sandbox at http://127.0.0.1:41234", Source: src, Now: func() time.Time { return t0 },
			Actions: []Action{{Label: "Ring up a demo sale", Run: func() error { return nil }}}})
		test.AssertImageMatches(t, "status.png", w.Canvas().Capture())
	})
}

// TestStatusScreenAgesMove checks that the oldest pending entry's age
// moves on with the clock, without any change to the store.
func TestStatusScreenAgesMove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		created := time.Now().Add(-90 * time.Second) // the bubble's fake clock
		src := &snapshot{state: StoreState{Pending: 1, OldestPending: created}}
		s, w := startScreen(t, StatusParams{Source: src, Now: time.Now, Every: 10 * time.Second})
		want := created.Local().Format("15:04:05")
		if got := after(t, uitest.ShownTexts(w.Content()), "Oldest pending"); got != want+" (1m30s ago)" {
			t.Errorf("oldest pending = %q", got)
		}
		// Hand the widgets back to the screen's goroutine through its
		// reload channel (a timer firing is no happens-before edge for the
		// race detector), then let fake time pass: from here only the
		// ticker can move the age.
		s.Changed()
		synctest.Wait()
		time.Sleep(30 * time.Second) // the bubble's fake clock jumps
		synctest.Wait()
		if got := after(t, uitest.ShownTexts(w.Content()), "Oldest pending"); got != want+" (2m0s ago)" {
			t.Errorf("after 30s, oldest pending = %q", got)
		}
	})
}

func TestStatusScreenShowsReadErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &snapshot{err: errors.New("database file /x/till.db is corrupt: page 7")}
		s, w := startScreen(t, StatusParams{Source: src})
		failed := func(s string) bool { return strings.HasPrefix(s, "Reading the store: database file") }
		if shown := uitest.ShownTexts(w.Content()); !slices.ContainsFunc(shown, failed) {
			t.Errorf("read error not shown: %q", shown)
		}
		// The next good read clears it.
		src.err = nil
		s.Changed()
		synctest.Wait()
		if shown := uitest.ShownTexts(w.Content()); slices.ContainsFunc(shown, failed) {
			t.Errorf("read error still shown after a good read: %q", shown)
		}
	})
}

func TestStatusScreenCopiesDiagnostics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clip := test.NewClipboard()
		diag := make(fakeDiagnostics)
		_, w := startScreen(t, StatusParams{Source: &snapshot{}, Diagnostics: diag.Diagnostics, Clipboard: clip})
		c := w.Canvas()
		copyDiagnostics(t, c, diag, diagnosticsResult{text: diagText})
		wantShown(t, c, "Copied")
		if got := clip.Content(); got != diagText {
			t.Errorf("clipboard %q, want the diagnostics", got)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		_, w := startScreen(t, StatusParams{Source: &snapshot{}})
		if hasButton(w.Canvas(), "Copy diagnostics") {
			t.Error("Copy diagnostics offered with nothing to copy")
		}
	})
}

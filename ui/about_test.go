package ui

import (
	"errors"
	"testing"
	"testing/synctest"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// fakeDiagnostics answers Diagnostics with what the test sends on it,
// so the test knows the call is under way until it answers.
type fakeDiagnostics chan diagnosticsResult

type diagnosticsResult struct {
	text string
	err  error
}

func (d fakeDiagnostics) Diagnostics() (string, error) {
	r := <-d
	return r.text, r.err
}

const diagText = "Till 0.3.0 linux/amd64\nconfig: /home/cafe/.config/till/config.json\napi key: [redacted]\n"

// copyDiagnostics taps "Copy diagnostics" on c, answers the call with r,
// and checks that the button is disabled meanwhile.
func copyDiagnostics(t *testing.T, c fyne.Canvas, diag fakeDiagnostics, r diagnosticsResult) {
	t.Helper()
	b := button(t, c, "Copy diagnostics")
	tap(b)
	if !b.Disabled() {
		t.Error("Copy diagnostics enabled while gathering")
	}
	wantShown(t, c, "Gathering the diagnostics…")
	diag <- r
	synctest.Wait()
	if b.Disabled() {
		t.Error("Copy diagnostics disabled once done")
	}
}

func TestAboutCopiesDiagnostics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := test.NewTempApp(t).NewWindow("Till")
		w.SetContent(widget.NewLabel(""))
		w.Resize(fyne.NewSize(900, 700))
		c := w.Canvas()
		clip := test.NewClipboard()
		diag := make(fakeDiagnostics)
		onUI(func() {
			ShowAbout(w, AboutInfo{Version: "0.3.0", ConfigFile: "/home/cafe/.config/till/config.json",
				DataDir: "/home/cafe/.local/share/till", LogFile: "/home/cafe/.cache/till/till.log",
				Diagnostics: diag.Diagnostics, Clipboard: clip})
		})
		wantShown(t, c, "About Till", "Till", "0.3.0", "/home/cafe/.config/till/config.json",
			"/home/cafe/.local/share/till", "/home/cafe/.cache/till/till.log", "© Till contributors")

		copyDiagnostics(t, c, diag, diagnosticsResult{err: errors.New("read the log: permission denied")})
		wantShown(t, c, "The diagnostics could not be gathered: read the log: permission denied")
		if got := clip.Content(); got != "" {
			t.Errorf("clipboard %q after a failure", got)
		}

		copyDiagnostics(t, c, diag, diagnosticsResult{text: diagText})
		wantShown(t, c, "Copied")
		if got := clip.Content(); got != diagText {
			t.Errorf("clipboard %q, want the diagnostics", got)
		}
		tap(button(t, c, "Close"))
		wantNotShown(t, c, "About Till")
	})
}

func TestAboutWithoutDiagnostics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := test.NewTempApp(t).NewWindow("Till")
		w.SetContent(widget.NewLabel(""))
		w.Resize(fyne.NewSize(900, 700))
		onUI(func() { ShowAbout(w, AboutInfo{Version: "0.3.0"}) })
		wantShown(t, w.Canvas(), "About Till")
		if hasButton(w.Canvas(), "Copy diagnostics") {
			t.Error("Copy diagnostics offered with nothing to copy")
		}
	})
}

func TestProblemScreenCopiesDiagnostics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clip := test.NewClipboard()
		diag := make(fakeDiagnostics)
		s := NewProblemScreen(ProblemParams{Title: "Till cannot start", Message: "The database is damaged.",
			Diagnostics: diag.Diagnostics, Clipboard: clip, Quit: func() {}})
		w := test.NewTempApp(t).NewWindow("Till")
		w.SetContent(s.Content())
		w.Resize(fyne.NewSize(800, 600))
		c := w.Canvas()
		copyDiagnostics(t, c, diag, diagnosticsResult{text: diagText})
		wantShown(t, c, "Copied")
		if got := clip.Content(); got != diagText {
			t.Errorf("clipboard %q, want the diagnostics", got)
		}

		bare := NewProblemScreen(ProblemParams{Title: "Till cannot start", Quit: func() {}})
		w.SetContent(bare.Content())
		if hasButton(c, "Copy diagnostics") {
			t.Error("Copy diagnostics offered with nothing to copy")
		}
	})
}

// TestProblemActionStay: an action that opens another window leaves the
// problem screen usable (its buttons enabled again, no message), while a
// failing one shows its error.
func TestProblemActionStay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opened := make(chan struct{}, 1)
		s := NewProblemScreen(ProblemParams{Title: "The configuration needs fixing", Quit: func() {},
			Actions: []Action{
				{Label: "Open the settings", Stay: true, Run: func() error { opened <- struct{}{}; return nil }},
				{Label: "Move it aside", Run: func() error { return errors.New("the folder is read-only") }},
			}})
		w := test.NewTempApp(t).NewWindow("Till")
		w.SetContent(s.Content())
		w.Resize(fyne.NewSize(800, 600))
		c := w.Canvas()

		open := button(t, c, "Open the settings")
		tap(open)
		<-opened
		synctest.Wait()
		if open.Disabled() || button(t, c, "Move it aside").Disabled() {
			t.Error("buttons still disabled after an action that stays")
		}
		tap(button(t, c, "Move it aside"))
		synctest.Wait()
		wantShown(t, c, "the folder is read-only")
		if open.Disabled() {
			t.Error("buttons disabled after a failed action")
		}
	})
}

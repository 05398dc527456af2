package app

import (
	"path/filepath"

	"fyne.io/fyne/v2"

	"github.com/tillpos/till/ui"
)

// newSetup is the set-up service for the wizard and the settings; till is
// the open till (nil on a first run or when the till could not start).
func (r *runner) newSetup(till *Till) *setup {
	return &setup{paths: r.paths, kr: r.kr, scrub: r.scrub, till: till, db: r.flags.db, now: r.now, findUSB: r.findUSB, log: r.log.Warn}
}

// showFirstRun puts the first-run wizard in the main window. Finishing it
// opens the till it set up; "Try the demo" opens the demo and saves
// nothing, so the wizard comes back at the next start. It runs on the UI
// goroutine.
func (r *runner) showFirstRun() {
	st := r.newSetup(nil)
	form, err := st.Form()
	if err != nil { // no file yet: only the defaults, which cannot fail
		r.show(nil, err)
		return
	}
	r.win.SetTitle("Till — set up")
	s := ui.NewSetupScreen(ui.SetupParams{
		Setup:   st,
		Choices: setupChoices,
		Form:    form,
		Do:      r.uiDo,
		OnDone: func(ui.SetupForm) {
			r.log.Info("first-run set-up saved", "config", r.paths.ConfigFile)
			go func() {
				op, err := r.openTill()
				r.do(func() { r.show(op, err) })
			}()
		},
		OnDemo: func() {
			go func() {
				op, err := r.openDemo()
				r.do(func() { r.show(op, err) })
			}()
		},
	})
	r.win.SetContent(s.Content())
	s.Focus(r.win.Canvas())
}

// showSettings opens the manager's settings in their own window, behind
// the manager's PIN. Saving them reopens the till with them. It runs on
// the UI goroutine.
func (r *runner) showSettings() {
	if r.setupWin != nil {
		r.setupWin.RequestFocus()
		return
	}
	r.mu.Lock()
	demo := r.demo
	r.mu.Unlock()
	// The demo has no settings of its own: "Settings" there sets up the
	// shop's till, as the first run does, and switches to it.
	st := r.newSetup(r.till)
	if demo {
		st = r.newSetup(nil)
	}
	form, err := st.Form()
	if err != nil {
		form = ui.SetupForm{} // a damaged file: the form starts empty and replaces it
		if f, ferr := r.newSetup(nil).formDefaults(); ferr == nil {
			form = f
		}
	}
	w := r.app.NewWindow("Till settings")
	s := ui.NewSetupScreen(ui.SetupParams{
		Setup:    st,
		Choices:  setupChoices,
		Form:     form,
		Settings: !demo || configExists(r.paths.ConfigFile),
		Do:       r.uiDo,
		OnDone: func(ui.SetupForm) {
			r.log.Info("settings saved", "config", r.paths.ConfigFile)
			w.Close()
			r.reopen()
		},
		OnCancel: w.Close,
	})
	w.SetContent(s.Content())
	w.Resize(fyne.NewSize(900, 700))
	w.SetOnClosed(func() {
		s.Stop()
		r.setupWin = nil
	})
	r.setupWin = w
	w.Show()
	s.Focus(w.Canvas())
}

// formDefaults is the form filled from the defaults, for a config file
// that cannot be read.
func (s *setup) formDefaults() (ui.SetupForm, error) {
	d := DefaultConfig()
	return ui.SetupForm{Lane: d.Lane, Currency: d.Currency, Locale: d.Locale, TaxMode: d.TaxMode,
		UseSandbox: true, Reader: d.Reader}, nil
}

// reopen closes the till on screen and its windows and opens it again
// from the saved config. Sales are in the database, so a sale in progress
// is resumed. It runs on the UI goroutine.
func (r *runner) reopen() {
	for _, w := range []*fyne.Window{&r.statusWin, &r.eodWin} {
		if *w != nil {
			(*w).Close()
			*w = nil
		}
	}
	old := r.opened
	r.opened = nil
	r.till, r.reg = nil, nil
	r.mu.Lock()
	r.tillForDiag = nil
	r.mu.Unlock()
	r.win.SetContent(ui.NewProblemScreen(ui.ProblemParams{Title: "Applying the settings…"}).Content())
	go func() {
		for _, op := range old {
			if err := op.close(); err != nil {
				r.log.Error("close till", "err", err)
			}
		}
		op, err := r.openTill()
		r.do(func() { r.show(op, err) })
	}()
}

// aboutInfo describes this Till for the About box.
func (r *runner) aboutInfo() ui.AboutInfo {
	r.mu.Lock()
	db := ""
	if r.cfg != nil {
		db = r.cfg.Database
	}
	r.mu.Unlock()
	data := r.paths.Data
	if db != "" {
		data = filepath.Dir(db)
	}
	return ui.AboutInfo{
		Version:     Version,
		ConfigFile:  r.paths.ConfigFile,
		DataDir:     data,
		LogFile:     filepath.Join(r.paths.Logs, logFile),
		Diagnostics: r.diagnostics,
		Clipboard:   r.app.Clipboard(),
	}
}

func (r *runner) showAbout() { ui.ShowAbout(r.win, r.aboutInfo()) }

// diagnostics gathers the "Copy diagnostics" report. It runs off the UI
// goroutine.
func (r *runner) diagnostics() (string, error) {
	r.mu.Lock()
	d := diagnostics{Version: Version, Now: r.now(), Paths: r.paths, Config: r.cfg,
		KeyWhere: r.keyWhere, Problem: r.problem, Scrub: r.scrub, Till: r.tillForDiag}
	r.mu.Unlock()
	return d.Text(), nil
}

// do runs f on the UI goroutine: fyne.Do, or the test's stand-in.
func (r *runner) do(f func()) {
	if r.uiDo != nil {
		r.uiDo(f)
		return
	}
	fyne.Do(f)
}

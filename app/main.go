package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/tillpos/till/assets"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/ui"
)

// Version is stamped at build time with
// -ldflags "-X github.com/tillpos/till/app.Version=…".
var Version = "0.0.0-dev"

// AppID is Till's application id, as in FyneApp.toml.
const AppID = "com.tillpos.till"

type flags struct {
	config, db string
	version    bool
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("till", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "config file (default: the per-user config directory's till/config.json)")
	fs.StringVar(&f.db, "db", "", "database file (default: from the config, else the per-user config directory's till/till.db)")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "till: unexpected argument %q\n", fs.Arg(0))
		return f, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return f, nil
}

// Main runs Till with its command-line arguments and returns the process's
// exit code. getenv supplies the environment (TILL_API_KEY).
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if f.version {
		fmt.Fprintf(stdout, "till %s\n", Version)
		return 0
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	fa := fyneapp.NewWithID(AppID)
	fa.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	w := fa.NewWindow("Till")
	w.Resize(fyne.NewSize(1024, 720))

	r := &runner{app: fa, win: w, log: log, flags: f, getenv: getenv, now: time.Now}
	r.show(r.openTill()) // the UI loop is not running yet: no fyne.Do needed
	w.ShowAndRun()
	r.stop()
	return 0
}

// runner owns the window's life: it opens the till, shows the screen that
// fits the outcome, and closes the till when the window goes.
type runner struct {
	app    fyne.App
	win    fyne.Window
	log    *slog.Logger
	flags  flags
	getenv func(string) string
	now    func() time.Time

	till   *Till
	cancel context.CancelFunc
}

// openTill loads the config and opens the till. It blocks on disk (and on
// another Till's lock, boundedly), so it never runs on the UI goroutine once
// the UI loop is running; it builds no widgets.
func (r *runner) openTill() (*Till, error) {
	cfgPath := r.flags.config
	if cfgPath == "" {
		p, err := DefaultConfigPath()
		if err != nil {
			return nil, err
		}
		cfgPath = p
	}
	cfg, err := LoadConfig(cfgPath, r.getenv)
	if err != nil {
		return nil, err
	}
	if r.flags.db != "" {
		cfg.Database = r.flags.db
	}
	return Open(Params{Config: cfg, Now: r.now, Logger: r.log})
}

// show puts the outcome of openTill in the window — the till, or the
// problem and the ways out of it — and only then starts the till screen's
// refresh loop, so nothing updates a screen before it is laid out. It runs
// on the UI goroutine.
func (r *runner) show(t *Till, err error) {
	if err != nil {
		r.win.SetContent(r.problem(err))
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.till, r.cancel = t, cancel
	s := ui.NewStatusScreen(ui.StatusParams{
		Version: Version,
		API:     t.APIDescription(),
		Source:  t,
		Now:     r.now,
		Actions: t.demoActions(),
	})
	r.win.SetContent(s.Content())
	t.Subscribe(s.Changed)
	s.Start(ctx)
	t.Start()
}

// problem turns a start-up error into a screen that says what to do.
func (r *runner) problem(err error) fyne.CanvasObject {
	p := ui.ProblemParams{Title: "Till cannot start", Message: err.Error(), Quit: r.app.Quit}
	var corrupt *queue.CorruptError
	switch {
	case errors.Is(err, queue.ErrAlreadyRunning):
		p.Title = "Till is already running"
		p.Message = err.Error() + ". Switch to the other Till window, or close it and start Till again."
		p.Detail = ""
	case errors.As(err, &corrupt):
		p.Title = "The database is damaged"
		p.Message = fmt.Sprintf("Till cannot read %s and will not write over it. "+
			"Moving it aside keeps the file for recovery and starts a new, empty database; "+
			"sales in the damaged file are not lost, but they are not in the new one.", corrupt.Path)
		p.Detail = err.Error()
		p.Actions = []ui.Action{{
			Label: "Move the damaged file aside and start afresh",
			Run: func() error {
				moved, err := queue.MoveAside(corrupt.Path, r.now())
				if err != nil {
					return err
				}
				r.log.Warn("moved damaged database aside", "from", corrupt.Path, "to", moved)
				t, err := r.openTill()
				fyne.Do(func() { r.show(t, err) })
				return nil
			},
		}}
	case errors.Is(err, ErrConfig):
		p.Title = "The configuration needs fixing"
		p.Detail = ""
	}
	return ui.NewProblemScreen(p).Content()
}

func (r *runner) stop() {
	if r.cancel != nil {
		r.cancel()
	}
	if r.till != nil {
		if err := r.till.Close(); err != nil {
			r.log.Error("close till", "err", err)
		}
	}
}

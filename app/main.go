package app

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/tillpos/till/app/manager"
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
	config, db  string
	version     bool
	screenshots string // a directory: tour a sale, save PNGs there, quit
	firstFrame  bool   // print the time to the first frame and quit
	setPIN      bool   // read a new manager PIN from stdin into the config
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("till", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "config file (default: the per-user config directory's till/config.json)")
	fs.StringVar(&f.db, "db", "", "database file (default: from the config, else the per-user config directory's till/till.db)")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.StringVar(&f.screenshots, "screenshots", "", "ring up a demo sale on the embedded default, save screenshots of each step in this directory, and quit")
	fs.BoolVar(&f.setPIN, "set-manager-pin", false, "read a new manager PIN (4 to 8 digits, twice) from standard input and save its hash in the config file")
	fs.BoolVar(&f.firstFrame, "first-frame", false, "print how long the first frame took from start, and quit (for the cold-start benchmark)")
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
// exit code. getenv supplies the environment (TILL_API_KEY); stdin is read
// only by -set-manager-pin.
func Main(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	start := time.Now()
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
	if f.setPIN {
		if err := setManagerPIN(f.config, stdin, stdout); err != nil {
			fmt.Fprintln(stderr, "till:", err)
			return 1
		}
		return 0
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	fa := fyneapp.NewWithID(AppID)
	fa.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	w := fa.NewWindow("Till")
	w.Resize(fyne.NewSize(1366, 768))

	r := &runner{app: fa, win: w, log: log, flags: f, getenv: getenv, now: time.Now}
	if f.firstFrame {
		fa.Lifecycle().SetOnStarted(func() {
			fmt.Fprintf(stdout, "first frame after %d ms\n", time.Since(start).Milliseconds())
			fa.Quit()
		})
	}
	if f.screenshots != "" {
		r.applied = make(chan ui.SaleView, 64)
	}
	r.show(r.openTill()) // the UI loop is not running yet: no fyne.Do needed
	if f.screenshots != "" && r.till != nil {
		go r.screenshotTour(f.screenshots, r.applied)
	}
	w.ShowAndRun()
	r.stop()
	return r.exitCode
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

	till      *Till     // the till on screen
	reg       *Register // its register
	opened    []*opened // every till opened, closed by stop
	cancel    context.CancelFunc
	statusWin fyne.Window
	eodWin    fyne.Window // the manager's end of day, while open
	ctx       context.Context
	applied   chan ui.SaleView // the screen's applied sales, for the screenshot tour
	exitCode  int
}

// openTill loads the config and opens the till and its register. It
// blocks on disk (and on another Till's lock, boundedly), so it never runs
// on the UI goroutine once the UI loop is running; it builds no widgets.
func (r *runner) openTill() (*opened, error) {
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
	op, err := openWithRegister(Params{Config: cfg, Now: r.now, Logger: r.log})
	if err != nil {
		return nil, err
	}
	op.cfgPath = cfgPath
	return op, nil
}

// openWithRegister opens a till and its register.
func openWithRegister(p Params) (*opened, error) {
	t, err := Open(p)
	if err != nil {
		return nil, err
	}
	reg, err := t.NewRegister()
	if err != nil {
		t.Close()
		return nil, err
	}
	return &opened{till: t, reg: reg}, nil
}

// opened is an open till with its register.
type opened struct {
	till    *Till
	reg     *Register
	cfgPath string
	tempDir string // removed on close (the screenshot tour's offline till)
}

func (op *opened) close() error {
	op.reg.Close()
	err := op.till.Close()
	if op.tempDir != "" {
		err = errors.Join(err, os.RemoveAll(op.tempDir))
	}
	return err
}

// show puts the outcome of openTill in the window — the cashier screen,
// or the problem and the ways out of it — and only then starts the
// screen's refresh loop, so nothing updates a screen before it is laid out.
// It runs on the UI goroutine.
func (r *runner) show(op *opened, err error) {
	if err != nil {
		r.win.SetContent(r.problem(err))
		return
	}
	if err := ui.LoadTranslations(op.till.cfg.Language); err != nil {
		r.log.Warn("load translations", "err", err)
	}
	if r.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		r.ctx, r.cancel = ctx, cancel
		r.win.SetMainMenu(fyne.NewMainMenu(fyne.NewMenu("Till",
			fyne.NewMenuItem("Till status…", func() { r.showStatus(ctx) }),
			fyne.NewMenuItem("End of day…", r.showEndOfDay))))
	}
	r.showTill(op)
}

// showTill puts op's cashier screen in the window and starts it and its
// till. It runs on the UI goroutine.
func (r *runner) showTill(op *opened) {
	t := op.till
	r.till, r.reg = t, op.reg
	r.opened = append(r.opened, op)
	var simulator ui.CardSimulator
	if d := t.Simulator(); d != nil {
		simulator = simulatorControls{d}
	}
	p := ui.CashierParams{
		Register:  op.reg,
		Settings:  newSettings(t, op.cfgPath),
		Simulator: simulator,
		Version:   Version,
		Now:       r.now,
		// The customer's phone, when the API is the built-in sandbox.
		WalletSimulator: t.WalletSimulator(),
	}
	if r.applied != nil {
		p.OnApplied = func(v ui.SaleView) {
			select {
			case r.applied <- v:
			default: // the tour looks again at the next refresh
			}
		}
	}
	s := ui.NewCashierScreen(p)
	r.win.SetContent(s.Content())
	s.Attach(r.win.Canvas())
	s.Start(r.ctx)
	t.Start()
}

// showStatus opens the till's status window: the store, the outbox, the
// payment API and the reader, for the manager or support.
func (r *runner) showStatus(ctx context.Context) {
	if r.statusWin == nil {
		w := r.app.NewWindow("Till status")
		s := ui.NewStatusScreen(ui.StatusParams{Version: Version, API: r.till.APIDescription(), Source: r.till, Now: r.now})
		w.SetContent(s.Content())
		w.Resize(fyne.NewSize(900, 640))
		w.SetCloseIntercept(w.Hide) // reopened from the menu, refreshed all along
		r.till.Subscribe(s.Changed)
		s.Start(ctx)
		r.statusWin = w
	}
	r.statusWin.Show()
	r.statusWin.RequestFocus()
}

// showEndOfDay opens the manager's closing in a window of its own, behind
// the manager's PIN. Each opening is a fresh closing.
func (r *runner) showEndOfDay() {
	if r.eodWin != nil {
		r.eodWin.RequestFocus()
		return
	}
	w := r.app.NewWindow("End of day")
	s := ui.NewEndOfDayScreen(ui.EndOfDayParams{EndOfDay: r.till.EndOfDay(), Window: w, OnClose: w.Close, Now: r.now})
	w.SetContent(s.Content())
	w.Resize(fyne.NewSize(1000, 700))
	w.SetOnClosed(func() {
		s.Stop()
		r.eodWin = nil
	})
	r.eodWin = w
	w.Show()
	s.Focus()
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
				op, err := r.openTill()
				fyne.Do(func() { r.show(op, err) })
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
	for _, op := range r.opened {
		if err := op.close(); err != nil {
			r.log.Error("close till", "err", err)
		}
	}
}

// setManagerPIN reads a new manager PIN twice (one per line) and saves its
// slow hash in the config file; the PIN itself is never stored.
func setManagerPIN(cfgPath string, stdin io.Reader, stdout io.Writer) error {
	if cfgPath == "" {
		p, err := DefaultConfigPath()
		if err != nil {
			return err
		}
		cfgPath = p
	}
	cfg, err := LoadConfig(cfgPath, func(string) string { return "" })
	if err != nil {
		return err
	}
	in := bufio.NewScanner(stdin)
	read := func(prompt string) (string, error) {
		fmt.Fprint(stdout, prompt)
		if !in.Scan() {
			return "", fmt.Errorf("set manager PIN: no PIN given: %w", errors.Join(in.Err(), io.ErrUnexpectedEOF))
		}
		return strings.TrimSpace(in.Text()), nil
	}
	pin, err := read("New manager PIN (4 to 8 digits): ")
	if err != nil {
		return err
	}
	again, err := read("The same PIN again: ")
	if err != nil {
		return err
	}
	if pin != again {
		return errors.New("set manager PIN: the two PINs differ; nothing changed")
	}
	hash, err := manager.HashPIN(pin)
	if err != nil {
		return fmt.Errorf("set manager PIN: %w", err)
	}
	cfg.ManagerPINHash = hash
	if err := SaveConfig(cfgPath, cfg); err != nil {
		return fmt.Errorf("set manager PIN: %w", err)
	}
	fmt.Fprintf(stdout, "Manager PIN saved in %s.\n", cfgPath)
	return nil
}

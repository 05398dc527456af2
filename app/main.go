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
	"path/filepath"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/tillpos/till/app/manager"
	"github.com/tillpos/till/assets"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/reader"
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
	demo        bool   // the embedded default, apart from the shop's own data
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("till", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "config file (default: the per-user config directory's till/config.json)")
	fs.StringVar(&f.db, "db", "", "database file (default: from the config, else the per-user config directory's till/till.db)")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.BoolVar(&f.demo, "demo", false, "run the demo: the built-in sandbox API and simulated reader, with a database of its own; no set-up")
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
		paths, err := runPaths(f, getenv)
		if err == nil {
			err = setManagerPIN(paths.ConfigFile, stdin, stdout)
		}
		if err != nil {
			fmt.Fprintln(stderr, "till:", err)
			return 1
		}
		return 0
	}
	paths, err := runPaths(f, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "till:", err)
		return 1
	}
	scrub := &scrubber{}
	if k := getenv("TILL_API_KEY"); k != "" {
		scrub.Add(Secret(k))
	}
	log, logFile, err := openLog(paths.Logs, stderr, scrub)
	if err != nil {
		// A till that cannot log still sells: say so on stderr.
		fmt.Fprintln(stderr, "till: logging to standard error only:", err)
		log = slog.New(slog.NewTextHandler(&scrubWriter{w: stderr, s: scrub}, nil))
	} else {
		defer logFile.Close()
	}
	log.Info("till starting", "version", Version, "config", paths.ConfigFile, "data", paths.Data)

	fa := fyneapp.NewWithID(AppID)
	fa.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	w := fa.NewWindow("Till")
	w.Resize(fyne.NewSize(1366, 768))

	r := &runner{app: fa, win: w, log: log, flags: f, getenv: getenv, now: time.Now,
		paths: paths, kr: osKeyring{}, scrub: scrub, findUSB: reader.FindUSB}
	if f.firstFrame {
		fa.Lifecycle().SetOnStarted(func() {
			fmt.Fprintf(stdout, "first frame after %d ms\n", time.Since(start).Milliseconds())
			fa.Quit()
		})
	}
	if f.screenshots != "" {
		r.applied = make(chan ui.SaleView, 64)
	}
	r.start() // the UI loop is not running yet: no fyne.Do needed
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

	paths   Paths
	kr      keyringAPI // the OS keyring
	scrub   *scrubber  // the keys this process has seen, kept out of logs and diagnostics
	findUSB func([]reader.USBID) ([]reader.FoundUSB, error)

	// mu guards what the diagnostics read from other goroutines.
	mu       sync.Mutex
	cfg      *Config // the configuration in use; nil before one is read
	keyWhere string  // where the API key is kept
	problem  error   // why the till did not start, while that is shown
	demo     bool    // the till on screen is the demo
	// tillForDiag is the till on screen, for the diagnostics.
	tillForDiag *Till
	// uiDo, when set, stands in for fyne.Do (tests serialise the test
	// driver's UI work with it).
	uiDo func(func())
	// shown, when set, receives show's outcome once the screen is up
	// (tests wait on it).
	shown chan<- error

	till      *Till     // the till on screen
	reg       *Register // its register
	opened    []*opened // every till opened, closed by stop
	cancel    context.CancelFunc
	statusWin fyne.Window
	eodWin    fyne.Window // the manager's end of day, while open
	setupWin  fyne.Window // the manager's settings, while open
	ctx       context.Context
	applied   chan ui.SaleView // the screen's applied sales, for the screenshot tour
	exitCode  int
}

// runPaths are the per-user paths, with -config's directory holding the
// key file when a config is named (so a test's or a second till's files
// stay together).
func runPaths(f flags, getenv func(string) string) (Paths, error) {
	p, err := DefaultPaths(getenv)
	if err != nil {
		return p, err
	}
	if f.config != "" {
		p.ConfigFile = f.config
		p.KeyFile = filepath.Join(filepath.Dir(f.config), "api-key")
	}
	return p, nil
}

// start shows the first screen: the demo when asked for, the first-run
// wizard when there is no config file, else the till. It runs on the UI
// goroutine.
func (r *runner) start() {
	switch {
	case r.flags.demo || r.flags.screenshots != "":
		r.show(r.openDemo())
	case !configExists(r.paths.ConfigFile):
		r.showFirstRun()
	default:
		r.show(r.openTill())
	}
}

// openDemo opens the embedded default — the built-in sandbox and
// simulated reader — on a database apart from the shop's.
func (r *runner) openDemo() (*opened, error) {
	cfg := DefaultConfig()
	cfg.Database = r.paths.DemoDatabase()
	// -db names the shop's database; only `-demo -db X` puts the demo
	// there. "Try the demo" from the wizard keeps it apart.
	if r.flags.demo && r.flags.db != "" {
		cfg.Database = r.flags.db
	}
	r.setConfig(&cfg, "", true)
	op, err := openWithRegister(Params{Config: cfg, Now: r.now, Logger: r.log})
	if err != nil {
		return nil, err
	}
	return op, nil
}

// loadConfig reads the config file and the API key: TILL_API_KEY when
// set, else from where the config says it is kept.
func (r *runner) loadConfig() (Config, KeyStore, error) {
	cfg, err := ReadConfig(r.paths.ConfigFile)
	if err != nil {
		return cfg, nil, err
	}
	ks, err := keyStoreFor(cfg.API.KeyStore, r.kr, r.paths)
	if err != nil {
		return cfg, nil, fmt.Errorf("config %s: %w", r.paths.ConfigFile, err)
	}
	switch k := r.getenv("TILL_API_KEY"); {
	case k != "":
		cfg.API.Key = Secret(k)
	case cfg.API.BaseURL != "":
		key, err := ks.Get()
		if err != nil {
			return cfg, ks, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		cfg.API.Key = key
	}
	r.scrub.Add(cfg.API.Key)
	if err := cfg.Validate(); err != nil {
		return cfg, ks, fmt.Errorf("config %s: %w", r.paths.ConfigFile, err)
	}
	if r.flags.db != "" {
		cfg.Database = r.flags.db
	}
	cfg.Database = r.paths.Database(cfg)
	return cfg, ks, nil
}

// openTill loads the config and opens the till and its register. It
// blocks on disk (and on another Till's lock, boundedly), so it never runs
// on the UI goroutine once the UI loop is running; it builds no widgets.
func (r *runner) openTill() (*opened, error) {
	cfg, ks, err := r.loadConfig()
	where := ""
	if ks != nil {
		where = ks.Where()
	}
	r.setConfig(&cfg, where, false)
	if err != nil {
		return nil, err
	}
	op, err := openWithRegister(Params{Config: cfg, Now: r.now, Logger: r.log})
	if err != nil {
		return nil, err
	}
	op.cfgPath = r.paths.ConfigFile
	return op, nil
}

func (r *runner) setConfig(cfg *Config, keyWhere string, demo bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg, r.keyWhere, r.demo = cfg, keyWhere, demo
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
	tempDir string             // removed on close (the screenshot tour's offline till)
	cancel  context.CancelFunc // stops its screen's refresh; nil before it is shown
}

func (op *opened) close() error {
	if op.cancel != nil {
		op.cancel()
	}
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
	r.mu.Lock()
	r.problem = err
	demo := r.demo
	r.mu.Unlock()
	if r.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		r.ctx, r.cancel = ctx, cancel
		r.win.SetMainMenu(fyne.NewMainMenu(fyne.NewMenu("Till",
			fyne.NewMenuItem("Till status…", func() { r.showStatus(ctx) }),
			fyne.NewMenuItem("End of day…", r.showEndOfDay),
			fyne.NewMenuItem("Settings…", r.showSettings),
			fyne.NewMenuItemSeparator(),
			fyne.NewMenuItem("About Till", r.showAbout))))
	}
	if err != nil {
		r.log.Error("till cannot start", "err", err)
		r.win.SetContent(r.problemScreen(err))
		if r.shown != nil {
			r.shown <- err
		}
		return
	}
	if err := ui.LoadTranslations(op.till.cfg.Language); err != nil {
		r.log.Warn("load translations", "err", err)
	}
	title := "Till"
	if demo {
		title = "Till — demo (built-in sandbox, simulated reader)"
	}
	r.win.SetTitle(title)
	r.showTill(op)
	if r.shown != nil {
		r.shown <- nil
	}
}

// showTill puts op's cashier screen in the window and starts it and its
// till. It runs on the UI goroutine.
func (r *runner) showTill(op *opened) {
	t := op.till
	r.till, r.reg = t, op.reg
	r.mu.Lock()
	r.tillForDiag = t
	r.mu.Unlock()
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
		Do:        r.uiDo,
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
	ctx, cancel := context.WithCancel(r.ctx)
	op.cancel = cancel
	s.Start(ctx)
	t.Start()
}

// showStatus opens the till's status window: the store, the outbox, the
// payment API and the reader, for the manager or support.
func (r *runner) showStatus(ctx context.Context) {
	if r.till == nil {
		return
	}
	if r.statusWin == nil {
		w := r.app.NewWindow("Till status")
		s := ui.NewStatusScreen(ui.StatusParams{Version: Version, API: r.till.APIDescription(), Source: r.till, Now: r.now,
			Diagnostics: r.diagnostics, Clipboard: r.app.Clipboard()})
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
	if r.till == nil {
		return
	}
	if r.eodWin != nil {
		r.eodWin.RequestFocus()
		return
	}
	w := r.app.NewWindow("End of day")
	s := ui.NewEndOfDayScreen(ui.EndOfDayParams{EndOfDay: r.till.EndOfDay(), Window: w, OnClose: w.Close, Now: r.now, Do: r.uiDo})
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

// problemScreen turns a start-up error into a screen that says what to do.
func (r *runner) problemScreen(err error) fyne.CanvasObject {
	p := ui.ProblemParams{Title: "Till cannot start", Message: err.Error(), Quit: r.app.Quit,
		Diagnostics: r.diagnostics, Clipboard: r.app.Clipboard()}
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
				r.do(func() { r.show(op, err) })
				return nil
			},
		}}
	case errors.Is(err, ErrConfig):
		p.Title = "The configuration needs fixing"
		p.Detail = ""
		if configExists(r.paths.ConfigFile) {
			p.Actions = []ui.Action{{Label: "Open the settings", Stay: true, Run: func() error {
				r.do(r.showSettings)
				return nil
			}}}
		}
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
	cfg, err := ReadConfig(cfgPath)
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

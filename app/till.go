package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/text/language"

	"github.com/tillpos/till/app/catalog"
	"github.com/tillpos/till/app/manager"
	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/assets"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/sim"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/drain"
	"github.com/tillpos/till/sync/events"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/ui"
)

// Params is what Open needs. Config must be valid (see Config.Validate).
type Params struct {
	Config Config
	Now    func() time.Time // the clock; time.Now when nil
	Logger *slog.Logger     // nil discards
	// LockTimeout bounds the wait for a database another Till holds;
	// queue.DefaultLockTimeout when zero.
	LockTimeout time.Duration
	// DrainConcurrency bounds the outbox calls in flight at once;
	// drain.DefaultConcurrency when zero.
	DrainConcurrency int
	// OnDrainEvent receives the drainer's state (connectivity, outbox
	// counts). It must not block.
	OnDrainEvent func(drain.Event)
	// DrainBackoff overrides the drainer's retry backoff (attempts →
	// delay); drain's default (1 s doubling to 5 min) when nil.
	DrainBackoff func(attempts int) time.Duration
	// Simulator configures the built-in simulated reader when the config
	// names it (tests and the headless lane script its cards).
	Simulator sim.Options
	// EventsEvery is how often the API's events are polled once caught
	// up; events.DefaultEvery when zero.
	EventsEvery time.Duration
	// WalletPoll is how often a wallet payment waiting for the customer
	// is retrieved; walletPoll when zero.
	WalletPoll time.Duration
	// PendingEvery is how often payments still being processed (SEPA
	// debits) are retrieved, besides the events; a minute when zero.
	PendingEvery time.Duration
	// Location is the shop's time zone, which sets the end of day's
	// calendar day; time.Local when nil.
	Location *time.Location
}

// Till is one open till: its store, lane, catalog and rules.
type Till struct {
	cfg     Config
	locale  language.Tag
	cash    money.CashRules
	lane    *order.Lane
	catalog *catalog.Catalog
	store   *queue.Store
	api     apiEndpoint
	sandbox *sandbox.Server // the embedded API when none is configured; nil otherwise
	client  *api.Client
	drainer *drain.Drainer
	events  *events.Poller
	reader  reader.Reader
	sim     *sim.Device   // the built-in simulated reader; nil otherwise
	simTurn chan struct{} // one simulated customer at the reader at a time
	now     func() time.Time
	loc     *time.Location
	log     *slog.Logger
	// walletPoll is how often a wallet payment is retrieved;
	// pendingEvery how often payments being processed are.
	walletPoll, pendingEvery time.Duration

	mu      sync.Mutex
	subs    []func()
	changes chan struct{} // closed and replaced on every store change
	stopped chan struct{} // closed when the drainer's Run has returned; nil before Start
	stop    context.CancelFunc

	readerState reader.State // from the reader's events, under mu
	readerErr   error
	// The open register's hooks, under mu: the reader's collection events,
	// and word that the till wrote the customer display itself.
	readerActivity func(reader.Event)
	displayWritten func()

	pin *manager.Guard
	// seal keeps the payloads of card payments taken offline.
	seal *sealer
}

// Open opens the till's database and loads its catalog. The errors it
// returns wrap queue.ErrAlreadyRunning, queue.ErrCorrupt or ErrConfig where
// those apply, so the caller can offer the right way out.
func Open(p Params) (*Till, error) {
	if err := p.Config.Validate(); err != nil {
		return nil, fmt.Errorf("open till: %w", err)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := p.Config
	cur, _ := money.ParseCurrency(cfg.Currency) // validated above
	tag, _ := parseLocale(cfg.Locale)
	mode, _ := parseTaxMode(cfg.TaxMode)

	lane, err := order.NewLane(cfg.Lane, order.Config{Currency: cur, TaxMode: mode}, p.Now)
	if err != nil {
		return nil, fmt.Errorf("open till lane %s: %w", cfg.Lane, err)
	}
	cat, err := catalog.LoadCSV(bytes.NewReader(assets.DemoCatalogCSV), cur)
	if err != nil {
		return nil, fmt.Errorf("open till: load demo catalog in %s: %w", cur, err)
	}

	path := cfg.Database
	if path == "" {
		if path, err = queue.DefaultPath(); err != nil {
			return nil, fmt.Errorf("open till: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open till: create data directory: %w", err)
	}
	t := &Till{cfg: cfg, locale: tag, cash: money.CashRules{}, lane: lane, catalog: cat, now: p.Now, log: p.Logger,
		changes: make(chan struct{}), walletPoll: p.WalletPoll, pendingEvery: p.PendingEvery}
	if t.pendingEvery <= 0 {
		t.pendingEvery = defaultPendingEvery
	}
	t.loc = p.Location
	if t.loc == nil {
		t.loc = time.Local
	}
	t.pin = &manager.Guard{Hash: cfg.ManagerPINHash, Now: p.Now}
	state := manager.StateFile(filepath.Join(filepath.Dir(path), "manager-pin.json"))
	t.pin.Load, t.pin.Save = state.Load, state.Save
	t.store, err = queue.Open(path, queue.Options{
		LockTimeout: p.LockTimeout,
		Now:         p.Now,
		Logger:      p.Logger,
		OnChange:    t.changed,
	})
	if err != nil {
		return nil, fmt.Errorf("open till: %w", err)
	}
	none, err := storedList.empty(t.store)
	if err != nil {
		t.store.Close()
		return nil, fmt.Errorf("open till: %w", err)
	}
	if t.seal, err = openSealer(filepath.Dir(path), none); err != nil {
		t.store.Close()
		return nil, fmt.Errorf("open till: %w", err)
	}
	if err := t.startAPI(filepath.Dir(path)); err != nil {
		t.store.Close()
		return nil, fmt.Errorf("open till: %w", err)
	}
	if err := t.wireDrainer(p); err != nil {
		t.Close()
		return nil, fmt.Errorf("open till: %w", err)
	}
	if err := t.wireEvents(p); err != nil {
		t.Close()
		return nil, fmt.Errorf("open till: %w", err)
	}
	if err := t.openReader(p); err != nil {
		t.Close()
		return nil, fmt.Errorf("open till: %w", err)
	}
	return t, nil
}

// wireDrainer builds the API client and the outbox drainer over it.
func (t *Till) wireDrainer(p Params) error {
	var err error
	t.client, err = api.New(api.Config{BaseURL: t.api.BaseURL, Key: t.api.Key.Reveal(), Logger: t.log, Now: t.now})
	if err != nil {
		return err
	}
	exec := &executor{client: t.client, now: t.now, log: t.log, captureLater: t.cfg.CaptureAtEndOfDay, order: t.Order, seal: t.seal}
	t.drainer, err = drain.New(drain.Config{
		Store:       t.store,
		Executor:    exec,
		Concurrency: p.DrainConcurrency,
		Backoff:     p.DrainBackoff,
		Probe:       t.client.Probe,
		// The client's own bound, not the drainer's 1 s: one slow TLS
		// handshake on the shop's Wi-Fi is not an outage, and going
		// offline takes cards at the shop's risk.
		ProbeTimeout: api.DefaultProbeTimeout,
		Now:          t.now,
		Logger:       t.log,
		OnEvent: func(ev drain.Event) {
			if p.OnDrainEvent != nil {
				p.OnDrainEvent(ev)
			}
			t.wake()   // a card waiting for the connection may go offline
			t.notify() // connectivity is on the status screen
		},
	})
	return err
}

// Start runs the outbox drainer in the background until Close. Call it
// once; a till that is never started commits sales but sends nothing.
func (t *Till) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	t.stop, t.stopped = cancel, make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := t.drainer.Run(ctx); err != nil {
			t.log.Error("outbox drainer stopped", "err", err)
		}
	})
	wg.Go(func() {
		if err := t.events.Run(ctx); err != nil && ctx.Err() == nil {
			t.log.Error("event poller stopped", "err", err)
		}
	})
	wg.Go(func() { t.runSettler(ctx) })
	go func() {
		defer close(t.stopped)
		wg.Wait()
	}()
}

// apiEndpoint is where the till's payment API is, and how to describe it.
type apiEndpoint struct {
	BaseURL  string
	Key      Secret
	Embedded bool
}

// builtinKey is the key of the embedded sandbox. It guards nothing: the
// sandbox listens on loopback only and moves no real money.
const builtinKey = "sk_test_till_builtin_sandbox"

// startAPI uses the configured API, or starts the embedded sandbox on a
// free loopback port with its state in dir, so PaymentIntents outlive a
// restart of the app just as they would on a real API.
func (t *Till) startAPI(dir string) error {
	if t.cfg.API.BaseURL != "" {
		t.api = apiEndpoint{BaseURL: t.cfg.API.BaseURL, Key: t.cfg.API.Key}
		return nil
	}
	sb, err := sandbox.New(sandbox.Options{
		Keys:     []string{builtinKey},
		DataFile: filepath.Join(dir, "sandbox.db"),
		// It logs a line per request at INFO: keep only its warnings in
		// the till's log.
		Logger: slog.New(minLevel{t.log.Handler(), slog.LevelWarn}),
	})
	if err != nil {
		return fmt.Errorf("start the built-in sandbox API: %w", err)
	}
	url, err := sb.StartLoopback()
	if err != nil {
		sb.Close()
		return fmt.Errorf("start the built-in sandbox API: %w", err)
	}
	t.sandbox = sb
	t.api = apiEndpoint{BaseURL: url, Key: builtinKey, Embedded: true}
	return nil
}

// APIDescription says which payment API the till talks to, for people.
func (t *Till) APIDescription() string {
	if t.api.Embedded {
		return "built-in sandbox at " + t.api.BaseURL
	}
	return t.api.BaseURL
}

// Close stops the embedded sandbox, if any, and closes the store. The Till
// is unusable afterwards.
func (t *Till) Close() error {
	if t.stop != nil {
		t.stop()
		<-t.stopped // the drainer records what is in flight before the store closes
	}
	var errs []error
	if t.reader != nil {
		errs = append(errs, t.reader.Close())
	}
	if t.sim != nil {
		// The built-in reader's end of the closed connection winds down
		// and logs it; nothing of it may outlive the till (nor write to
		// a log file the caller is about to close).
		t.sim.WaitDialed()
	}
	if t.sandbox != nil {
		errs = append(errs, t.sandbox.Close())
	}
	errs = append(errs, t.store.Close())
	return errors.Join(errs...)
}

// Config returns the configuration the till was opened with.
func (t *Till) Config() Config { return t.cfg }

// Catalog returns the products this till sells.
func (t *Till) Catalog() *catalog.Catalog { return t.catalog }

// Subscribe registers fn to be called after every committed change to the
// store. fn must not block; it runs on the committing goroutine.
func (t *Till) Subscribe(fn func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.subs = append(t.subs, fn)
}

func (t *Till) changed() {
	t.wake()
	t.mu.Lock()
	subs := t.subs
	t.mu.Unlock()
	if t.drainer != nil {
		t.drainer.Wake()
	}
	for _, fn := range subs {
		fn()
	}
}

// notify tells the subscribers something they show changed, without
// waking the drainer (it is the drainer reporting).
func (t *Till) notify() {
	t.mu.Lock()
	subs := t.subs
	t.mu.Unlock()
	for _, fn := range subs {
		fn()
	}
}

// wake wakes what waits for a store change (waitUntil) without there
// being one: the outbox's connectivity changed.
func (t *Till) wake() {
	t.mu.Lock()
	close(t.changes)
	t.changes = make(chan struct{})
	t.mu.Unlock()
}

// changesChan returns a channel closed at the next store change.
func (t *Till) changesChan() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changes
}

// recentOrders is how many orders the status screen lists.
const recentOrders = 12

// StoreState implements ui.StatusSource: outbox statistics (O(1)/O(log n))
// and the most recent orders, newest first.
func (t *Till) StoreState() (ui.StoreState, error) {
	st := ui.StoreState{Path: t.store.Path(), Connection: t.drainer.State().String(), Reader: t.readerStatus()}
	err := t.store.View(func(tx *queue.Tx) error {
		s, err := tx.Stats()
		if err != nil {
			return err
		}
		records, err := t.countEndOfDayRecords(tx)
		if err != nil {
			return err
		}
		st.Orders = uint64(s.Orders - records)
		st.Pending, st.InFlight, st.Dead = s.Pending, s.InFlight, s.Dead
		st.OldestPending = s.OldestPending
		return tx.ForEachOrderReverse("", func(id string, data []byte) error {
			if isEndOfDayRecord(id) {
				return nil // not a sale
			}
			o, err := order.Unmarshal(data, t.now)
			if err != nil {
				// One unreadable order must not hide the others.
				st.Recent = append(st.Recent, ui.OrderSummary{ID: id, Status: "unreadable"})
			} else {
				status := string(o.Status())
				switch {
				case o.PaymentFailed():
					status += ", payment failed" // for the manager: the order is unpaid
				case o.PaymentPending():
					status += ", payment pending"
				}
				st.Recent = append(st.Recent, ui.OrderSummary{
					ID: id, Status: status, Total: o.Totals().Total.Format(t.locale),
					Created: o.CreatedAt(),
				})
			}
			if len(st.Recent) == recentOrders {
				return errStop
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, errStop) {
		return st, fmt.Errorf("read store state: %w", err)
	}
	return st, nil
}

var errStop = errors.New("stop iteration")

// minLevel is a slog handler that drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}

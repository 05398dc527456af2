package app

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/text/language"

	"github.com/tillpos/till/app/catalog"
	"github.com/tillpos/till/app/money"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/assets"
	"github.com/tillpos/till/queue"
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
}

// Till is one open till: its store, lane, catalog and rules.
type Till struct {
	cfg     Config
	locale  language.Tag
	cash    money.CashRules
	lane    *order.Lane
	catalog *catalog.Catalog
	store   *queue.Store
	now     func() time.Time
	log     *slog.Logger

	mu   sync.Mutex
	subs []func()
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
	cur, _ := parseCurrency(cfg.Currency) // validated above
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
	t := &Till{cfg: cfg, locale: tag, cash: money.CashRules{}, lane: lane, catalog: cat, now: p.Now, log: p.Logger}
	t.store, err = queue.Open(path, queue.Options{
		LockTimeout: p.LockTimeout,
		Now:         p.Now,
		Logger:      p.Logger,
		OnChange:    t.changed,
	})
	if err != nil {
		return nil, fmt.Errorf("open till: %w", err)
	}
	return t, nil
}

// Close closes the store. The Till is unusable afterwards.
func (t *Till) Close() error { return t.store.Close() }

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
	t.mu.Lock()
	subs := t.subs
	t.mu.Unlock()
	for _, fn := range subs {
		fn()
	}
}

// recentOrders is how many orders the status screen lists.
const recentOrders = 12

// StoreState implements ui.StatusSource: outbox statistics (O(1)/O(log n))
// and the most recent orders, newest first.
func (t *Till) StoreState() (ui.StoreState, error) {
	st := ui.StoreState{Path: t.store.Path()}
	err := t.store.View(func(tx *queue.Tx) error {
		s, err := tx.Stats()
		if err != nil {
			return err
		}
		st.Orders = uint64(s.Orders)
		st.Pending, st.InFlight, st.Dead = s.Pending, s.InFlight, s.Dead
		st.OldestPending = s.OldestPending
		return tx.ForEachOrderReverse("", func(id string, data []byte) error {
			o, err := order.Unmarshal(data, t.now)
			if err != nil {
				// One unreadable order must not hide the others.
				st.Recent = append(st.Recent, ui.OrderSummary{ID: id, Status: "unreadable"})
			} else {
				st.Recent = append(st.Recent, ui.OrderSummary{
					ID: id, Status: string(o.Status()), Total: o.Totals().Total.Format(t.locale),
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

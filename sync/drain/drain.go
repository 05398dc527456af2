package drain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tillpos/till/queue"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultConcurrency    = 4
	DefaultProbeEvery     = time.Second
	DefaultIdleProbeEvery = 30 * time.Second
	DefaultProbeTimeout   = time.Second
	DefaultEventInterval  = 250 * time.Millisecond
	DefaultMaxRetryAfter  = 5 * time.Minute
	DefaultBackoffBase    = time.Second
	DefaultBackoffMax     = 5 * time.Minute
)

var (
	// ErrConfig is returned by New when the Config cannot work: no Store,
	// no Executor, or a negative setting. The error names the field.
	ErrConfig = errors.New("invalid drainer config")

	// ErrRunning is returned by Run when the Drainer is already running.
	// A Drainer can be run again after Run has returned.
	ErrRunning = errors.New("drainer is already running")
)

// Executor performs outbox entries. The app implements it on top of the
// payment API client; the drainer knows nothing about PaymentIntents.
type Executor interface {
	// Execute performs one entry, sending e.IdempotencyKey with the call,
	// and classifies the result. ctx is cancelled when the drainer stops;
	// Execute must return promptly then. Execute may be called for
	// different orders concurrently, never for two entries of one order.
	Execute(ctx context.Context, e queue.Entry) Outcome
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, e queue.Entry) Outcome

// Execute calls f(ctx, e).
func (f ExecutorFunc) Execute(ctx context.Context, e queue.Entry) Outcome { return f(ctx, e) }

// OutcomeKind says what the drainer does with an executed entry.
type OutcomeKind uint8

// The outcome kinds. The zero value is invalid: an Outcome{} returned by
// mistake is retried with backoff and logged, never taken as success.
const (
	// Done: the API performed the call. The entry is completed, with
	// Outcome.Record run in the same transaction.
	Done OutcomeKind = iota + 1
	// Retry: a transient failure (API unreachable, 429, 5xx, key in use).
	// The entry stays at the head of its order and is tried again later.
	Retry
	// Dead: a permanent failure. The entry becomes a dead letter, with
	// Outcome.Record run in the same transaction, and its order's later
	// entries are blocked until a manager requeues or discards it.
	Dead
)

// String returns "done", "retry" or "dead".
func (k OutcomeKind) String() string {
	switch k {
	case Done:
		return "done"
	case Retry:
		return "retry"
	case Dead:
		return "dead"
	}
	return fmt.Sprintf("OutcomeKind(%d)", uint8(k))
}

// Outcome is what an Executor reports for one entry.
type Outcome struct {
	Kind OutcomeKind
	// Record, for Done and Dead, writes the API's answer (or the failure)
	// onto the order. It runs inside the transaction that completes or
	// dead-letters the entry, so the answer and the entry's new state are
	// on disk together or not at all. It may be nil. If it fails (or
	// panics) nothing is written and the entry is retried with backoff.
	Record func(*queue.Tx) error
	// Err is the failure for Retry and Dead. Its message is stored as the
	// entry's LastError (the store cuts it and redacts API keys) and
	// logged, so it must not carry client secrets.
	Err error
	// RetryAfter, for Retry, is the server's Retry-After (a 429). It is
	// capped at Config.MaxRetryAfter; the entry's next attempt is no
	// sooner, and the drainer leases no other entry until then, because a
	// rate limit is the account's, not the entry's. Leave it zero for
	// failures that concern only this entry.
	RetryAfter time.Duration
	// Unreachable, for Retry, says the API could not be reached at all (no
	// connection, a timeout before any answer, or a gateway's 502/503/504
	// without the API's error body). It turns the drainer offline, and the
	// entry is due again at once, for the probe to release. Any other
	// outcome is an answer from the API and turns the drainer online.
	Unreachable bool
}

// Connectivity is the drainer's view of the payment API.
type Connectivity uint8

// Connectivity states.
const (
	// Unknown: nothing heard yet since Run started.
	Unknown Connectivity = iota
	// Online: the last call or probe got an answer from the API.
	Online
	// Offline: the last call or probe could not reach the API.
	Offline
)

// String returns "unknown", "online" or "offline".
func (c Connectivity) String() string {
	switch c {
	case Unknown:
		return "unknown"
	case Online:
		return "online"
	case Offline:
		return "offline"
	}
	return fmt.Sprintf("Connectivity(%d)", uint8(c))
}

// Event is the drainer's state for a status bar: the connectivity and the
// outbox counts. Events are emitted when something changed, at most once
// per Config.EventInterval, except that a change of State is emitted at once.
type Event struct {
	State    Connectivity
	Pending  int // entries in the outbox: waiting, in flight or blocked
	InFlight int // entries being executed now
	Blocked  int // entries waiting behind a dead letter of their order
	Dead     int // dead letters, for the manager
	// OldestPending is when the oldest outbox entry was enqueued; zero
	// when the outbox is empty. See OldestPendingAge.
	OldestPending time.Time
	// LastError is the last failure the drainer saw (redacted, as stored
	// on the entry), "" if none since Run started.
	LastError string
	// At is when the event was computed (Config.Now).
	At time.Time
}

// OldestPendingAge is how long the oldest outbox entry has been waiting at
// e.At; zero when the outbox is empty.
func (e Event) OldestPendingAge() time.Duration {
	if e.OldestPending.IsZero() {
		return 0
	}
	return max(e.At.Sub(e.OldestPending), 0)
}

// same reports whether two events differ only in At.
func (e Event) same(o Event) bool {
	e.At, o.At = time.Time{}, time.Time{}
	return e == o
}

// Config configures a Drainer. Store and Executor are required; every
// other zero field takes the default named on it.
type Config struct {
	Store    *queue.Store
	Executor Executor

	// Concurrency bounds how many entries execute at once (default 4).
	// Entries of different orders run in parallel; the entries of one
	// order always run one after the other, because the store only lets
	// an order's first entry be leased.
	Concurrency int

	// Backoff gives the delay before the next attempt of an entry that
	// failed transiently, from its attempts so far (1 after the first
	// failure). Default: ExponentialBackoff(1s, 5min). The next attempt
	// time is written with the entry, so it survives a restart. A backoff
	// of zero retries as soon as the API answered, which hammers an API
	// that keeps failing: keep it positive.
	Backoff func(attempts int) time.Duration

	// MaxRetryAfter caps Outcome.RetryAfter (default 5min), so that a bad
	// Retry-After cannot park an entry for days.
	MaxRetryAfter time.Duration

	// Probe is a cheap call that reports whether the API answers (nil
	// error) or cannot be reached. It is used at start, every ProbeEvery
	// while offline, and every IdleProbeEvery while online with nothing
	// executing. Without a Probe, an offline drainer lets one due entry
	// through every ProbeEvery to find out.
	Probe func(ctx context.Context) error
	// ProbeEvery is the probing period while offline (default 1s): the
	// drain resumes within about ProbeEvery of the API coming back.
	ProbeEvery time.Duration
	// IdleProbeEvery is the probing period while online and idle
	// (default 30s).
	IdleProbeEvery time.Duration
	// ProbeTimeout bounds one probe (default 1s). A probe that times out
	// counts as unreachable.
	ProbeTimeout time.Duration

	// Now is the clock (default time.Now). Lease, reschedule and event
	// times come from it; waiting uses the time package's timers.
	Now func() time.Time
	// Logger receives failures, panics and connectivity changes
	// (default: discard). Payloads are never logged.
	Logger *slog.Logger

	// OnEvent, if set, receives the drainer's state; see Event. It is
	// called from the drainer's loop and must not block (hand the event
	// to the UI thread and return).
	OnEvent func(Event)
	// EventInterval is the minimum spacing of events that do not change
	// State (default 250ms).
	EventInterval time.Duration

	// Wake, if set, is an extra wake-up source, typically the channel the
	// store's Options.OnChange sends on; see Drainer.Wake.
	Wake <-chan struct{}
}

// ExponentialBackoff returns a backoff that doubles from base with each
// attempt up to limit, with "equal jitter": the delay is uniformly random
// in [d/2, d], so tills that lost the API together do not all come back in
// the same instant.
func ExponentialBackoff(base, limit time.Duration) func(attempts int) time.Duration {
	return func(attempts int) time.Duration {
		d := limit
		if n := attempts - 1; n < 40 {
			if n < 0 {
				n = 0
			}
			if b := base << n; b > 0 && b < limit {
				d = b
			}
		}
		if d <= 0 {
			return 0
		}
		half := d / 2
		return half + rand.N(d-half+1)
	}
}

// Drainer drains an outbox. Create it with New and start it with Run.
type Drainer struct {
	cfg     Config
	log     *slog.Logger
	wake    chan struct{}
	running atomic.Bool
	chain   atomic.Bool // workers may lease their next entry themselves (online)

	mu    sync.Mutex
	last  Event // last computed snapshot
	state Connectivity
}

// New checks cfg, applies defaults and returns a Drainer that is not yet
// running.
func New(cfg Config) (*Drainer, error) {
	switch {
	case cfg.Store == nil:
		return nil, fmt.Errorf("new drainer: Store is nil: %w", ErrConfig)
	case cfg.Executor == nil:
		return nil, fmt.Errorf("new drainer: Executor is nil: %w", ErrConfig)
	case cfg.Concurrency < 0, cfg.ProbeEvery < 0, cfg.IdleProbeEvery < 0, cfg.ProbeTimeout < 0,
		cfg.EventInterval < 0, cfg.MaxRetryAfter < 0:
		return nil, fmt.Errorf("new drainer: negative setting: %w", ErrConfig)
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Backoff == nil {
		cfg.Backoff = ExponentialBackoff(DefaultBackoffBase, DefaultBackoffMax)
	}
	if cfg.MaxRetryAfter == 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.ProbeEvery == 0 {
		cfg.ProbeEvery = DefaultProbeEvery
	}
	if cfg.IdleProbeEvery == 0 {
		cfg.IdleProbeEvery = DefaultIdleProbeEvery
	}
	if cfg.ProbeTimeout == 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.EventInterval == 0 {
		cfg.EventInterval = DefaultEventInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Drainer{cfg: cfg, log: log, wake: make(chan struct{}, 1)}, nil
}

// Wake tells the drainer that something changed in the store (an entry was
// enqueued, a dead letter requeued). It never blocks and may be called from
// any goroutine, before or during Run; calls made while the drainer is busy
// are merged. Wire it to queue.Options.OnChange, or pass that channel as
// Config.Wake.
func (d *Drainer) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// State returns the current connectivity.
func (d *Drainer) State() Connectivity {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// Snapshot returns the last computed Event (the zero Event before Run has
// computed one). It is what OnEvent last received or was about to.
func (d *Drainer) Snapshot() Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

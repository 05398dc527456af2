package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/api"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultEvery is the poll interval once caught up.
	DefaultEvery = 2 * time.Second
	// DefaultRetryPermanent is the wait after the API refused the list
	// call (a revoked key, a bad parameter): such errors need a person, so
	// they are retried slowly.
	DefaultRetryPermanent = time.Minute
	// PageSize is the number of events asked for per list call, Stripe's
	// maximum.
	PageSize = 100
	// MaxTypes is the most event types the list endpoint filters on.
	MaxTypes = 20
)

// DefaultTypes are the PaymentIntent outcomes the till follows when
// Config.Types is empty.
var DefaultTypes = []string{
	"payment_intent.succeeded",
	"payment_intent.processing",
	"payment_intent.payment_failed",
	"payment_intent.amount_capturable_updated",
	"payment_intent.canceled",
}

// Sentinel errors.
var (
	// ErrInvalidConfig is returned by New for an unusable Config.
	ErrInvalidConfig = errors.New("events: invalid config")
	// ErrRunning is returned by Run while another Run of the same Poller
	// is active.
	ErrRunning = errors.New("events: poller already running")
	// ErrApply wraps an error returned (or a panic raised) by
	// Config.Apply, or a cursor it returned that is not the event's id.
	// The event is retried; nothing after it is applied meanwhile.
	ErrApply = errors.New("events: apply failed")
	// ErrCursorLost: the API no longer knows the persisted cursor event
	// (events are kept 30 days). The poller logs it and resumes from the
	// oldest event still listed; events in between may have been missed.
	ErrCursorLost = errors.New("events: cursor event no longer listed")
)

// Status is what the poller is doing, for the status bar.
type Status int

const (
	// Polling: reading and applying events, not yet caught up (also the
	// status at start, before the first answer).
	Polling Status = iota
	// CaughtUp: every listed event up to now has been applied.
	CaughtUp
	// Offline: the API could not be reached (or answered 429/5xx);
	// polling resumes with backoff and catches up when it answers.
	Offline
	// Failing: the API refused the list call (e.g. 401, a permanent
	// error) or Config.Apply failed; State.Err says which. Retried
	// later; no event is skipped.
	Failing
)

// String returns the lower-case name of s.
func (s Status) String() string {
	switch s {
	case Polling:
		return "polling"
	case CaughtUp:
		return "caught up"
	case Offline:
		return "offline"
	case Failing:
		return "failing"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// State is reported through Config.OnState when it changes.
type State struct {
	Status Status
	// Err is the cause for Offline and Failing, nil otherwise.
	Err error
	// Cursor is the id of the last event applied (or the starting point
	// saved), "" if none yet.
	Cursor string
	// Since is when Status (and Err) last changed, from Config.Now.
	Since time.Time
}

// Config configures a Poller. Client, Load, Save and Apply are required.
type Config struct {
	// Client is the payment API client.
	Client *api.Client
	// Types are the event types listed (server-side filter, at most
	// MaxTypes, Stripe's wildcard "payment_intent.*" allowed). Default:
	// DefaultTypes. Apply sees only events of these types and the cursor
	// only ever names one of them.
	Types []string
	// Load returns the persisted cursor: the id of the last event applied,
	// or "" for a till that never polled.
	Load func() (cursor string, err error)
	// Save persists a cursor without an event being applied. It is called
	// only when there is no cursor yet, with the newest listed event at
	// the first poll: the starting point, so that history older than the
	// first poll is never applied.
	Save func(ctx context.Context, cursor string) error
	// Apply applies one event to the orders and persists ev.ID as the
	// cursor in the same store transaction, so that a crash either did
	// both or neither. It returns the persisted cursor, which must be
	// ev.ID. Events come oldest first, each exactly once unless Apply
	// failed (then the same event comes again later). Apply must honour
	// ctx and should be idempotent on order state (an event may describe a
	// state the order already has, from the app's own calls).
	Apply func(ctx context.Context, ev *stripe.Event) (cursor string, err error)
	// Every is the poll interval once caught up (default DefaultEvery).
	Every time.Duration
	// Backoff is the wait before polling again after the API was
	// unreachable or Apply failed, given the number of consecutive
	// failures (≥ 1). Default: exponential from 1s to 1min with jitter.
	Backoff func(attempt int) time.Duration
	// RetryPermanent is the least wait after a permanent API error
	// (default DefaultRetryPermanent).
	RetryPermanent time.Duration
	// Now is the clock for State.Since (default time.Now).
	Now func() time.Time
	// Logger receives state changes and failures; nil discards. Events'
	// contents are never logged, only their ids and types.
	Logger *slog.Logger
	// OnState receives each change of State, from Run's goroutine. It must
	// not block.
	OnState func(State)
}

// Poller follows /v1/events and hands each new event to Config.Apply.
type Poller struct {
	cfg     Config
	types   []*string
	wake    chan struct{}
	running atomic.Bool
}

// New checks cfg and applies defaults.
func New(cfg Config) (*Poller, error) {
	switch {
	case cfg.Client == nil:
		return nil, fmt.Errorf("%w: no Client", ErrInvalidConfig)
	case cfg.Load == nil || cfg.Save == nil || cfg.Apply == nil:
		return nil, fmt.Errorf("%w: Load, Save and Apply are required", ErrInvalidConfig)
	case cfg.Every < 0 || cfg.RetryPermanent < 0:
		return nil, fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	case len(cfg.Types) > MaxTypes:
		return nil, fmt.Errorf("%w: %d types, at most %d", ErrInvalidConfig, len(cfg.Types), MaxTypes)
	}
	if len(cfg.Types) == 0 {
		cfg.Types = DefaultTypes
	}
	seen := make(map[string]bool, len(cfg.Types))
	for _, t := range cfg.Types {
		if t == "" || seen[t] {
			return nil, fmt.Errorf("%w: empty or repeated event type %q", ErrInvalidConfig, t)
		}
		seen[t] = true
	}
	cfg.Types = append([]string(nil), cfg.Types...)
	if cfg.Every == 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.RetryPermanent == 0 {
		cfg.RetryPermanent = DefaultRetryPermanent
	}
	if cfg.Backoff == nil {
		b := api.ExponentialBackoff(time.Second, time.Minute)
		cfg.Backoff = func(n int) time.Duration { return b(n, 0) }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.OnState == nil {
		cfg.OnState = func(State) {}
	}
	return &Poller{cfg: cfg, types: stripe.StringSlice(cfg.Types), wake: make(chan struct{}, 1)}, nil
}

// Wake makes a running poller poll now (for example right after a wallet
// payment started, or when the app learns it is online again), also in
// the middle of a backoff. It never blocks; wakes while a poll runs
// coalesce into one more poll.
func (p *Poller) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

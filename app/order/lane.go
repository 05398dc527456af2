package order

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/tillpos/till/app/money"
)

// MaxLaneLen bounds a lane name so order ids stay short (they travel in
// Stripe metadata and idempotency keys).
const MaxLaneLen = 32

// ValidateLane checks a lane name: 1-32 ASCII letters, digits or "_".
func ValidateLane(lane string) error {
	if lane == "" || len(lane) > MaxLaneLen {
		return fmt.Errorf("lane %q: must be 1-%d characters: %w", lane, MaxLaneLen, ErrInvalidLane)
	}
	for _, r := range lane {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Errorf("lane %q: only letters, digits and _ allowed: %w", lane, ErrInvalidLane)
		}
	}
	return nil
}

// Lane is one till: it creates that till's orders and their ids. Ids are
// "<lane>-<ULID>": the ULID's 48-bit millisecond time comes from Clock and
// its 80 bits of entropy from crypto/rand, made monotonic within the
// process (oklog/ulid's Monotonic), so ids of one Lane value sort in
// creation order even within one millisecond, and never go backwards when
// the clock does (the last timestamp is reused). Ids are unique per lane
// across processes by their random bits. A Lane is safe for concurrent use.
type Lane struct {
	name   string
	config Config
	clock  func() time.Time

	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
	lastMS  uint64
}

// NewLane returns a lane named name pricing orders with cfg and reading
// time from clock (time.Now in production, a fake in tests).
func NewLane(name string, cfg Config, clock func() time.Time) (*Lane, error) {
	if err := ValidateLane(name); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		return nil, errors.New("order: new lane: nil clock")
	}
	return &Lane{name: name, config: cfg, clock: clock, entropy: ulid.Monotonic(rand.Reader, 0)}, nil
}

// Name returns the lane name.
func (l *Lane) Name() string { return l.name }

// Config returns the configuration new orders get.
func (l *Lane) Config() Config { return l.config }

// NewID returns a fresh order id for this lane.
func (l *Lane) NewID() (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.clock()
	if t.Before(time.Unix(0, 0)) {
		t = time.Unix(0, 0)
	}
	ms := ulid.Timestamp(t)
	if ms < l.lastMS {
		ms = l.lastMS
	}
	id, err := ulid.New(ms, l.entropy)
	if errors.Is(err, ulid.ErrMonotonicOverflow) {
		// 2^80 ids in one millisecond is not going to happen, but if the
		// random start was close to the top, move to the next millisecond.
		ms++
		id, err = ulid.New(ms, l.entropy)
	}
	if err != nil {
		return "", fmt.Errorf("order: new id for lane %s: %w", l.name, err)
	}
	l.lastMS = ms
	return l.name + "-" + id.String(), nil
}

// NewOrder returns an empty open order with a fresh id.
func (l *Lane) NewOrder() (*Order, error) {
	id, err := l.NewID()
	if err != nil {
		return nil, err
	}
	now := l.clock().UTC()
	cur := l.config.Currency
	o := &Order{
		id:           id,
		lane:         l.name,
		config:       l.config,
		status:       StatusOpen,
		cashRounding: money.Zero(cur),
		createdAt:    now,
		updatedAt:    now,
		clock:        l.clock,
	}
	t, err := o.cart.Totals(o.config)
	if err != nil {
		return nil, fmt.Errorf("order: new order: %w", err)
	}
	o.totals = t
	return o, nil
}

// SplitID splits an order id into lane and ULID, checking both.
func SplitID(id string) (lane string, u ulid.ULID, err error) {
	lane, rest, ok := strings.Cut(id, "-")
	if !ok {
		return "", ulid.ULID{}, fmt.Errorf("order id %q: no lane prefix: %w", id, ErrCorrupt)
	}
	if err := ValidateLane(lane); err != nil {
		return "", ulid.ULID{}, fmt.Errorf("order id %q: %w", id, err)
	}
	u, err = ulid.ParseStrict(rest)
	if err != nil {
		return "", ulid.ULID{}, fmt.Errorf("order id %q: %w: %w", id, ErrCorrupt, err)
	}
	return lane, u, nil
}

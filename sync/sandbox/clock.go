package sandbox

import (
	"fmt"
	"sync"
	"time"
)

// clock is the sandbox clock: a base time source (real time unless the
// embedder injects one) plus an offset moved by the control endpoint. Every
// timed rule — authorisation expiry, the MobilePay and authentication
// windows, SEPA settlement, idempotency-key pruning, event retention — reads
// this clock, never time.Now directly.
type clock struct {
	mu     sync.Mutex
	base   func() time.Time
	offset time.Duration
	last   time.Time // highest value handed out, so Now never goes back
}

func newClock(base func() time.Time) *clock {
	if base == nil {
		base = time.Now
	}
	return &clock{base: base}
}

// Now returns the sandbox time, truncated to the second as Stripe's
// timestamps are, and never earlier than a previous answer.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.base().Add(c.offset).Truncate(time.Second)
	if t.Before(c.last) {
		t = c.last
	}
	c.last = t
	return t
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("advance clock by %v: %w", d, ErrClockBackwards)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	return nil
}

// Set moves the clock to t, which must not be before the current time.
func (c *clock) Set(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.base().Add(c.offset).Truncate(time.Second)
	if t.Truncate(time.Second).Before(now) {
		return fmt.Errorf("set clock to %s (now %s): %w", t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrClockBackwards)
	}
	c.offset += t.Sub(now)
	return nil
}

func (c *clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

func (c *clock) setOffset(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = d
	c.last = time.Time{}
}

package manager

import (
	"fmt"
	"sync"
	"time"
)

const (
	// DefaultMaxFailures is the number of wrong PINs in a row that locks a
	// Guard whose MaxFailures is zero.
	DefaultMaxFailures = 5
	// DefaultLockFor is the first lockout's length for a Guard whose LockFor
	// is zero.
	DefaultLockFor = 5 * time.Minute
	// MaxLockFor caps the doubling of lockouts. A LockFor longer than this is
	// used as is, without doubling.
	MaxLockFor = time.Hour
)

// State is what a Guard persists between runs of the app.
type State struct {
	// Failures counts wrong PINs since the last right PIN or lockout.
	Failures int `json:"failures"`
	// Lockouts counts lockouts since the last right PIN; each one lasts
	// twice as long as the one before.
	Lockouts int `json:"lockouts"`
	// LockedUntil is when the current lockout ends; zero or past when the
	// Guard is not locked.
	LockedUntil time.Time `json:"locked_until"`
}

// WrongPINError is returned by Guard.Check for a wrong PIN while tries
// remain before a lockout. It wraps ErrWrongPIN.
type WrongPINError struct {
	// TriesLeft is how many more wrong PINs lock the Guard; at least 1.
	TriesLeft int
}

func (e *WrongPINError) Error() string {
	if e.TriesLeft == 1 {
		return "wrong manager PIN: 1 try left"
	}
	return fmt.Sprintf("wrong manager PIN: %d tries left", e.TriesLeft)
}

// Unwrap returns ErrWrongPIN.
func (e *WrongPINError) Unwrap() error { return ErrWrongPIN }

// LockedError is returned by Guard.Check while the Guard is locked, and by
// the wrong try that locks it. It wraps ErrLocked.
type LockedError struct {
	// Until is when PINs are checked again, in the location of the Guard's
	// clock.
	Until time.Time
}

func (e *LockedError) Error() string {
	return "manager PIN locked after too many wrong tries; try again at " + e.Until.Format("15:04")
}

// Unwrap returns ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Guard checks manager PINs and locks out after repeated wrong ones. Set its
// fields before the first Check and do not change them afterwards. A Guard is
// safe for concurrent use; it checks one PIN at a time.
type Guard struct {
	// Hash is the encoded hash from HashPIN. Empty means no PIN is set and
	// every Check fails with ErrNoPIN.
	Hash string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxFailures is how many wrong PINs in a row lock the Guard; zero or
	// less means DefaultMaxFailures.
	MaxFailures int
	// LockFor is the first lockout's length, doubled for each further
	// lockout up to MaxLockFor; zero or less means DefaultLockFor.
	LockFor time.Duration
	// Load returns the saved State, or a zero State when none was saved. It
	// is called on the first Check, and again on the next one while it
	// fails. Nil keeps the State in memory only.
	Load func() (State, error)
	// Save stores the State after every Check that changes it. Nil keeps
	// the State in memory only.
	Save func(State) error

	mu     sync.Mutex
	loaded bool
	state  State
}

// Check reports whether pin is the manager PIN: nil when it is. Otherwise it
// returns ErrNoPIN when no PIN is set, a *LockedError (ErrLocked) while
// locked, an error wrapping ErrBadPIN for input that is not 4 to 8 digits
// (not counted as a try), a *WrongPINError (ErrWrongPIN) for a wrong PIN, or
// the wrapped error of Load, Save or a malformed Hash (ErrBadHash).
//
// While locked, the PIN is not looked at. When Save fails, the failure still
// counts in memory and the Save error is returned joined to the verdict, so
// a right PIN whose reset could not be saved is refused; the next right PIN
// passes, as the in-memory State no longer needs saving. Errors never
// contain the PIN.
func (g *Guard) Check(pin string) error {
	if g.Hash == "" {
		return ErrNoPIN
	}
	g.mu.Lock()
	defer g.mu.Unlock()

	if !g.loaded && g.Load != nil {
		st, err := g.Load()
		if err != nil {
			return fmt.Errorf("check manager PIN: load lockout state: %w", err)
		}
		g.state = sanitize(st)
	}
	g.loaded = true

	now := g.now()
	if now.Before(g.state.LockedUntil) {
		return &LockedError{Until: g.state.LockedUntil.In(now.Location())}
	}
	if err := checkPIN(pin); err != nil {
		return fmt.Errorf("check manager PIN: %w", err)
	}
	ok, err := Verify(g.Hash, pin)
	if err != nil {
		return fmt.Errorf("check manager PIN: %w", err)
	}

	if ok {
		if g.state == (State{}) {
			return nil
		}
		g.state = State{}
		if err := g.save(); err != nil {
			return fmt.Errorf("check manager PIN: PIN accepted but %w", err)
		}
		return nil
	}

	// Re-read the clock: the hash took a noticeable time.
	now = g.now()
	g.state.Failures++
	var verdict error
	if limit := g.maxFailures(); g.state.Failures >= limit {
		g.state.Failures = 0
		g.state.Lockouts++
		g.state.LockedUntil = now.Add(g.lockDuration(g.state.Lockouts))
		verdict = &LockedError{Until: g.state.LockedUntil.In(now.Location())}
	} else {
		verdict = &WrongPINError{TriesLeft: limit - g.state.Failures}
	}
	if err := g.save(); err != nil {
		return fmt.Errorf("%w; %w", verdict, err)
	}
	return verdict
}

// State returns a copy of the Guard's current State, for display or tests.
// It does not load the State; before the first Check it is the zero State.
func (g *Guard) State() State {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state
}

func (g *Guard) save() error {
	if g.Save == nil {
		return nil
	}
	if err := g.Save(g.state); err != nil {
		return fmt.Errorf("save lockout state: %w", err)
	}
	return nil
}

func (g *Guard) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}

func (g *Guard) maxFailures() int {
	if g.MaxFailures <= 0 {
		return DefaultMaxFailures
	}
	return g.MaxFailures
}

// lockDuration is the length of the n-th lockout (n >= 1): LockFor doubled
// n-1 times, capped at MaxLockFor (or at LockFor if that is longer).
func (g *Guard) lockDuration(n int) time.Duration {
	d := g.LockFor
	if d <= 0 {
		d = DefaultLockFor
	}
	limit := max(MaxLockFor, d)
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// sanitize makes a loaded State usable whatever the file said.
func sanitize(s State) State {
	s.Failures = max(s.Failures, 0)
	s.Lockouts = max(s.Lockouts, 0)
	return s
}

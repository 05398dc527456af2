package manager

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	rightPIN = "90817263"
	wrongPIN = "55667788"
)

// clock is an injected clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 23, 14, 0, 0, 0, time.FixedZone("CET", 3600))}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

func testHash(t testing.TB, pin string) string {
	t.Helper()
	h, err := hashPIN(pin, testIterations)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// checkClean fails the test if err's message contains a PIN.
func checkClean(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, pin := range []string{rightPIN, wrongPIN} {
		if strings.Contains(err.Error(), pin) {
			t.Errorf("error %q contains a PIN", err)
		}
	}
}

func wantWrong(t *testing.T, err error, triesLeft int) {
	t.Helper()
	checkClean(t, err)
	var we *WrongPINError
	if !errors.As(err, &we) || !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("err = %v, want *WrongPINError wrapping ErrWrongPIN", err)
	}
	if we.TriesLeft != triesLeft {
		t.Fatalf("TriesLeft = %d, want %d", we.TriesLeft, triesLeft)
	}
}

func wantLocked(t *testing.T, err error, until time.Time) {
	t.Helper()
	checkClean(t, err)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want *LockedError wrapping ErrLocked", err)
	}
	if !le.Until.Equal(until) {
		t.Fatalf("Until = %v, want %v", le.Until, until)
	}
}

func TestGuardNoPIN(t *testing.T) {
	g := &Guard{Now: newClock().Now}
	for _, pin := range []string{rightPIN, "", "1234"} {
		if err := g.Check(pin); !errors.Is(err, ErrNoPIN) {
			t.Errorf("Check without a hash = %v, want ErrNoPIN", err)
		}
	}
}

func TestGuardRightPINResets(t *testing.T) {
	g := &Guard{Hash: testHash(t, rightPIN), Now: newClock().Now}
	for left := 4; left >= 2; left-- {
		wantWrong(t, g.Check(wrongPIN), left)
	}
	if err := g.Check(rightPIN); err != nil {
		t.Fatalf("right PIN: %v", err)
	}
	if s := g.State(); s != (State{}) {
		t.Fatalf("state after right PIN = %+v, want zero", s)
	}
	wantWrong(t, g.Check(wrongPIN), 4)
}

func TestGuardLockoutSchedule(t *testing.T) {
	c := newClock()
	g := &Guard{Hash: testHash(t, rightPIN), Now: c.Now} // default limits
	schedule := []time.Duration{
		5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute,
		time.Hour, time.Hour,
	}
	for i, d := range schedule {
		for left := DefaultMaxFailures - 1; left >= 1; left-- {
			wantWrong(t, g.Check(wrongPIN), left)
		}
		until := c.Now().Add(d)
		wantLocked(t, g.Check(wrongPIN), until)
		if s := g.State(); s.Lockouts != i+1 || s.Failures != 0 {
			t.Fatalf("lockout %d: state = %+v", i+1, s)
		}

		// While locked even the right PIN is refused and nothing counts.
		wantLocked(t, g.Check(rightPIN), until)
		c.Set(until.Add(-time.Nanosecond))
		wantLocked(t, g.Check(wrongPIN), until)
		if s := g.State(); s.Failures != 0 {
			t.Fatalf("a check while locked counted: %+v", s)
		}
		c.Set(until)
	}
}

func TestGuardLockExpiryAndReset(t *testing.T) {
	c := newClock()
	g := &Guard{Hash: testHash(t, rightPIN), Now: c.Now, MaxFailures: 3, LockFor: time.Minute}
	lockOnce := func(d time.Duration) time.Time {
		t.Helper()
		wantWrong(t, g.Check(wrongPIN), 2)
		wantWrong(t, g.Check(wrongPIN), 1)
		until := c.Now().Add(d)
		wantLocked(t, g.Check(wrongPIN), until)
		return until
	}
	c.Set(lockOnce(time.Minute))
	c.Set(lockOnce(2 * time.Minute))
	// After expiry the right PIN passes and clears the doubling too.
	if err := g.Check(rightPIN); err != nil {
		t.Fatalf("right PIN after expiry: %v", err)
	}
	lockOnce(time.Minute)
}

func TestGuardBadInputNotCounted(t *testing.T) {
	c := newClock()
	g := &Guard{Hash: testHash(t, rightPIN), Now: c.Now}
	for _, pin := range []string{"", "12", "12ab", "123456789"} {
		err := g.Check(pin)
		if !errors.Is(err, ErrBadPIN) || errors.Is(err, ErrWrongPIN) {
			t.Errorf("Check(%q) = %v, want ErrBadPIN only", pin, err)
		}
	}
	if s := g.State(); s.Failures != 0 {
		t.Fatalf("malformed input counted as tries: %+v", s)
	}
	wantWrong(t, g.Check(wrongPIN), 4)
}

func TestGuardMalformedHash(t *testing.T) {
	g := &Guard{Hash: "pbkdf2-sha256$0$AAAA$AAAA", Now: newClock().Now}
	for range 10 {
		if err := g.Check(rightPIN); !errors.Is(err, ErrBadHash) {
			t.Fatalf("Check = %v, want ErrBadHash", err)
		}
	}
	if s := g.State(); s != (State{}) {
		t.Fatalf("a malformed hash counted tries: %+v", s)
	}
}

func TestGuardPersistsAcrossRestart(t *testing.T) {
	c := newClock()
	f := StateFile(filepath.Join(t.TempDir(), "manager-pin.json"))
	hash := testHash(t, rightPIN)
	start := func() *Guard {
		return &Guard{Hash: hash, Now: c.Now, Load: f.Load, Save: f.Save}
	}

	g1 := start()
	wantWrong(t, g1.Check(wrongPIN), 4)
	wantWrong(t, g1.Check(wrongPIN), 3)

	// Restart: the count carries over.
	g2 := start()
	wantWrong(t, g2.Check(wrongPIN), 2)
	wantWrong(t, g2.Check(wrongPIN), 1)
	until := c.Now().Add(DefaultLockFor)
	wantLocked(t, g2.Check(wrongPIN), until)

	// Restart while locked: still locked, even for the right PIN, and the
	// Until is shown in the clock's location.
	g3 := start()
	err := g3.Check(rightPIN)
	wantLocked(t, err, until)
	var le *LockedError
	errors.As(err, &le)
	if le.Until.Location() != c.Now().Location() {
		t.Errorf("Until location = %v, want %v", le.Until.Location(), c.Now().Location())
	}
	if got, want := err.Error(), "manager PIN locked after too many wrong tries; try again at 14:05"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}

	// After the lock, the right PIN passes and the reset is saved.
	c.Set(until)
	if err := start().Check(rightPIN); err != nil {
		t.Fatalf("right PIN after lock: %v", err)
	}
	s, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	if s.Failures != 0 || s.Lockouts != 0 || !s.LockedUntil.IsZero() {
		t.Fatalf("saved state after right PIN = %+v, want zero", s)
	}
}

func TestGuardSaveFailure(t *testing.T) {
	c := newClock()
	dir := filepath.Join(t.TempDir(), "missing")
	f := StateFile(filepath.Join(dir, "manager-pin.json"))
	g := &Guard{Hash: testHash(t, rightPIN), Now: c.Now, Load: f.Load, Save: f.Save}

	// The directory does not exist: every Save fails, yet tries still count.
	for left := 4; left >= 1; left-- {
		err := g.Check(wrongPIN)
		wantWrong(t, err, left)
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "save lockout state") {
			t.Fatalf("err = %v, want the save failure too", err)
		}
	}
	err := g.Check(wrongPIN)
	wantLocked(t, err, c.Now().Add(DefaultLockFor))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want the save failure too", err)
	}

	// A right PIN whose reset cannot be saved is refused, not passed
	// silently; the reset holds in memory, so the next right PIN passes.
	c.Advance(DefaultLockFor)
	err = g.Check(rightPIN)
	if err == nil || !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrWrongPIN) {
		t.Fatalf("right PIN with failing save = %v, want the save error", err)
	}
	checkClean(t, err)
	if s := g.State(); s != (State{}) {
		t.Fatalf("in-memory state = %+v, want zero", s)
	}
	if err := g.Check(rightPIN); err != nil {
		t.Fatalf("right PIN again: %v", err)
	}

	// Once the directory exists, saving works again.
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	wantWrong(t, g.Check(wrongPIN), 4)
	if s, err := f.Load(); err != nil || s.Failures != 1 {
		t.Fatalf("saved state = %+v, %v; want 1 failure", s, err)
	}
}

func TestGuardLoadFailureFailsClosed(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "manager-pin.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := StateFile(path)
	g := &Guard{Hash: testHash(t, rightPIN), Now: c.Now, Load: f.Load, Save: f.Save}
	err := g.Check(rightPIN)
	if err == nil || errors.Is(err, ErrWrongPIN) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Check with a corrupt state file = %v, want a load error naming the file", err)
	}
	checkClean(t, err)
	// The file is left as it was for someone to look at.
	if b, _ := os.ReadFile(path); string(b) != "{not json" {
		t.Fatalf("state file changed to %q", b)
	}
	// Fixing the file lets the next Check load it.
	if err := f.Save(State{Failures: 3}); err != nil {
		t.Fatal(err)
	}
	wantWrong(t, g.Check(wrongPIN), 1)
}

func TestGuardConcurrentChecks(t *testing.T) {
	c := newClock()
	var (
		mu    sync.Mutex
		saved []State
	)
	g := &Guard{
		Hash: testHash(t, rightPIN), Now: c.Now,
		Save: func(s State) error { mu.Lock(); saved = append(saved, s); mu.Unlock(); return nil },
	}
	const n = 20
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { errs <- g.Check(wrongPIN) })
	}
	wg.Wait()
	close(errs)
	tries := map[int]bool{}
	locked := 0
	for err := range errs {
		checkClean(t, err)
		var we *WrongPINError
		switch {
		case errors.As(err, &we):
			if tries[we.TriesLeft] {
				t.Errorf("TriesLeft %d reported twice", we.TriesLeft)
			}
			tries[we.TriesLeft] = true
		case errors.Is(err, ErrLocked):
			locked++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if len(tries) != DefaultMaxFailures-1 || locked != n-(DefaultMaxFailures-1) {
		t.Errorf("%d wrong, %d locked; want %d wrong, %d locked",
			len(tries), locked, DefaultMaxFailures-1, n-(DefaultMaxFailures-1))
	}
	if s := g.State(); s.Lockouts != 1 {
		t.Errorf("state = %+v, want exactly one lockout", s)
	}
	if len(saved) != DefaultMaxFailures {
		t.Errorf("%d saves, want %d (one per counted try)", len(saved), DefaultMaxFailures)
	}
}

func TestGuardErrorsNeverContainPIN(t *testing.T) {
	c := newClock()
	failSave := func(State) error { return errors.New("disk full") }
	cases := []struct {
		name string
		g    *Guard
	}{
		{"no PIN", &Guard{Now: c.Now}},
		{"bad hash", &Guard{Hash: "pbkdf2-sha256$1$x$y", Now: c.Now}},
		{"save fails", &Guard{Hash: testHash(t, rightPIN), Now: c.Now, Save: failSave}},
		{"load fails", &Guard{Hash: testHash(t, rightPIN), Now: c.Now,
			Load: func() (State, error) { return State{}, errors.New("unreadable") }}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			for range DefaultMaxFailures + 2 {
				for _, pin := range []string{wrongPIN, rightPIN, wrongPIN + "0"} {
					err := tt.g.Check(pin)
					checkClean(t, err)
					if err != nil && strings.Contains(err.Error(), pin) {
						t.Fatalf("error %q contains the PIN", err)
					}
				}
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		err  error
		want string
	}{
		{&WrongPINError{TriesLeft: 2}, "wrong manager PIN: 2 tries left"},
		{&WrongPINError{TriesLeft: 1}, "wrong manager PIN: 1 try left"},
		{&LockedError{Until: time.Date(2026, 11, 23, 14, 5, 59, 0, cet)},
			"manager PIN locked after too many wrong tries; try again at 14:05"},
		{&LockedError{Until: time.Date(2026, 11, 23, 9, 7, 0, 0, time.UTC)},
			"manager PIN locked after too many wrong tries; try again at 09:07"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestLockDuration(t *testing.T) {
	tests := []struct {
		lockFor time.Duration
		n       int
		want    time.Duration
	}{
		{0, 1, 5 * time.Minute},
		{0, 4, 40 * time.Minute},
		{0, 5, time.Hour},
		{0, 1000, time.Hour},
		{time.Minute, 7, time.Hour},
		{45 * time.Minute, 2, time.Hour},
		{2 * time.Hour, 1, 2 * time.Hour},
		{2 * time.Hour, 3, 2 * time.Hour},
		{time.Duration(1 << 62), 3, time.Duration(1 << 62)},
	}
	for _, tt := range tests {
		g := &Guard{LockFor: tt.lockFor}
		if got := g.lockDuration(tt.n); got != tt.want {
			t.Errorf("LockFor %v, lockout %d: %v, want %v", tt.lockFor, tt.n, got, tt.want)
		}
	}
}

func TestGuardLoadedNegativeCounts(t *testing.T) {
	g := &Guard{Hash: testHash(t, rightPIN), Now: newClock().Now,
		Load: func() (State, error) { return State{Failures: -7, Lockouts: -2}, nil }}
	wantWrong(t, g.Check(wrongPIN), 4)
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	f := StateFile(filepath.Join(dir, "state.json"))
	s, err := f.Load()
	if err != nil || s != (State{}) {
		t.Fatalf("Load of a missing file = %+v, %v; want zero, nil", s, err)
	}
	want := State{Failures: 2, Lockouts: 3, LockedUntil: time.Date(2026, 11, 23, 14, 5, 0, 0, time.UTC)}
	if err := f.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err := f.Load()
	if err != nil || got.Failures != want.Failures || got.Lockouts != want.Lockouts || !got.LockedUntil.Equal(want.LockedUntil) {
		t.Fatalf("Load = %+v, %v; want %+v", got, err, want)
	}
	var raw map[string]any
	b, _ := os.ReadFile(string(f))
	if err := json.Unmarshal(b, &raw); err != nil || raw["locked_until"] != "2026-11-23T14:05:00Z" || raw["failures"] != 2.0 {
		t.Fatalf("file = %s (%v)", b, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("dir holds %d entries, want only the state file", len(entries))
	}
	if info, err := os.Stat(string(f)); err != nil || info.Mode().Perm()&0o077 != 0 {
		t.Errorf("state file mode = %v, %v; want private to the user", info.Mode(), err)
	}
}

package queue

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// clock is an injected clock that moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 23, 10, 15, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// testLogger writes the store's log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

// MustOpen opens a new store in t.TempDir() on the given clock (a fresh
// one if nil) and, at cleanup, checks its consistency with Check and
// closes it. Tests that close the store themselves may reopen the same
// path with MustOpenPath.
func MustOpen(t testing.TB, c *clock) *Store {
	t.Helper()
	return MustOpenPath(t, filepath.Join(t.TempDir(), "till.db"), c)
}

// MustOpenPath is MustOpen on a given path.
func MustOpenPath(t testing.TB, path string, c *clock) *Store {
	t.Helper()
	if c == nil {
		c = newClock()
	}
	s, err := Open(path, Options{Now: c.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Check(); errors.Is(err, ErrClosed) {
			return // the test closed it
		} else if err != nil {
			t.Errorf("consistency check at cleanup: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close at cleanup: %v", err)
		}
	})
	return s
}

// sale stores an order and enqueues ops for it in one transaction.
func sale(t testing.TB, s *Store, id string, ops ...Op) []Entry {
	t.Helper()
	var out []Entry
	err := s.Update(func(tx *Tx) error {
		if err := tx.PutOrder(id, []byte("order "+id)); err != nil {
			return err
		}
		for _, op := range ops {
			e, err := tx.Enqueue(NewEntry{OrderID: id, Op: op, Payload: []byte(op.String() + " " + id)})
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("sale %s: %v", id, err)
	}
	return out
}

func mustLease(t testing.TB, s *Store, now time.Time) Lease {
	t.Helper()
	l, err := s.Lease(now)
	if err != nil {
		t.Fatalf("Lease(%v): %v", now, err)
	}
	return l
}

func wantNoneDue(t testing.TB, s *Store, now, next time.Time) {
	t.Helper()
	_, err := s.Lease(now)
	var nd *NotDueError
	if !errors.As(err, &nd) || !errors.Is(err, ErrNoneDue) {
		t.Fatalf("Lease(%v) = %v, want ErrNoneDue", now, err)
	}
	if !nd.Next.Equal(next) {
		t.Fatalf("Lease(%v): next due %v, want %v", now, nd.Next, next)
	}
}

func mustStats(t testing.TB, s *Store) Stats {
	t.Helper()
	st, err := s.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

// enqueue adds ops to an existing order in one transaction.
func enqueue(t testing.TB, s *Store, id string, ops ...Op) []Entry {
	t.Helper()
	var out []Entry
	err := s.Update(func(tx *Tx) error {
		for _, op := range ops {
			e, err := tx.Enqueue(NewEntry{OrderID: id, Op: op})
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("enqueue for %s: %v", id, err)
	}
	return out
}

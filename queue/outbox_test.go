package queue

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEnqueueFixesEntry(t *testing.T) {
	c := newClock()
	s := MustOpen(t, c)
	es := sale(t, s, "lane1-01JDA", OpCreate, OpCapture)
	for i, e := range es {
		if e.Seq != uint64(i+1) {
			t.Errorf("entry %d: seq %d", i, e.Seq)
		}
		want := fmt.Sprintf("lane1-01JDA:%s:%d", e.Op, e.Seq)
		if e.IdempotencyKey != want || len(e.IdempotencyKey) > MaxIdempotencyKeyLen {
			t.Errorf("entry %d: key %q, want %q", i, e.IdempotencyKey, want)
		}
		if !e.Created.Equal(c.Now()) || !e.NextAttempt.Equal(c.Now()) || e.Attempts != 0 || e.State != StatePending {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	l := mustLease(t, s, c.Now())
	if l.Entry.Seq != 1 || l.Entry.IdempotencyKey != es[0].IdempotencyKey || string(l.Entry.Payload) != "create lane1-01JDA" || l.Entry.Attempts != 1 {
		t.Fatalf("leased %+v", l.Entry)
	}
	if err := s.Reschedule(l, c.Advance(time.Second), "503"); err != nil {
		t.Fatal(err)
	}
	l = mustLease(t, s, c.Now())
	if l.Entry.IdempotencyKey != es[0].IdempotencyKey || l.Entry.Attempts != 2 {
		t.Fatalf("retry changed the entry: %+v", l.Entry)
	}
}

func TestLongestOrderIDKeyFits(t *testing.T) {
	id := strings.Repeat("x", MaxOrderIDLen)
	k := IdempotencyKey(id, OpCapture, ^uint64(0))
	if len(k) > MaxIdempotencyKeyLen {
		t.Fatalf("key of %d chars", len(k))
	}
}

func TestValidOrderID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"lane1-01JDAXYZ", true},
		{"a", true},
		{strings.Repeat("a", MaxOrderIDLen), true},
		{"", false},
		{strings.Repeat("a", MaxOrderIDLen+1), false},
		{"lane 1", false},
		{"lane\x001", false},
		{"lané", false},
		{"lane1\n", false},
	} {
		err := ValidOrderID(tc.id)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("ValidOrderID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

func TestEnqueueRejects(t *testing.T) {
	s := MustOpen(t, nil)
	sale(t, s, "o1")
	for _, tc := range []struct {
		name string
		n    NewEntry
		want error
	}{
		{"missing order", NewEntry{OrderID: "o2", Op: OpCreate}, ErrNotFound},
		{"bad op", NewEntry{OrderID: "o1", Op: 0}, ErrInvalid},
		{"unknown op", NewEntry{OrderID: "o1", Op: 99}, ErrInvalid},
		{"bad id", NewEntry{OrderID: "o 1", Op: OpCreate}, ErrInvalid},
		{"huge payload", NewEntry{OrderID: "o1", Op: OpCreate, Payload: make([]byte, MaxPayloadLen+1)}, ErrInvalid},
	} {
		err := s.Update(func(tx *Tx) error { _, err := tx.Enqueue(tc.n); return err })
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if st := mustStats(t, s); st.Pending != 0 || st.Orders != 1 {
		t.Fatalf("a rejected enqueue left %+v", st)
	}
}

func TestUpdateRollsBackOnError(t *testing.T) {
	s := MustOpen(t, nil)
	boom := errors.New("boom")
	err := s.Update(func(tx *Tx) error {
		if err := tx.PutOrder("o1", []byte("x")); err != nil {
			return err
		}
		if _, err := tx.Enqueue(NewEntry{OrderID: "o1", Op: OpCreate}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	if st := mustStats(t, s); st != (Stats{}) {
		t.Fatalf("after rollback: %+v", st)
	}
}

func TestPerOrderOrdering(t *testing.T) {
	c := newClock()
	s := MustOpen(t, c)
	a := sale(t, s, "A", OpCreate, OpConfirm, OpCapture)
	now := c.Now()

	l := mustLease(t, s, now)
	if l.Entry.Seq != a[0].Seq {
		t.Fatalf("leased %d first, want the create %d", l.Entry.Seq, a[0].Seq)
	}
	// The confirm and capture wait for the create, even though they are due.
	wantNoneDue(t, s, now.Add(time.Hour), time.Time{})

	// Another order goes ahead meanwhile.
	b := sale(t, s, "B", OpCreate)
	lb := mustLease(t, s, now)
	if lb.Entry.Seq != b[0].Seq {
		t.Fatalf("leased %d, want B's create %d", lb.Entry.Seq, b[0].Seq)
	}

	for i, want := range a {
		if i > 0 {
			l = mustLease(t, s, now)
		}
		if l.Entry.Seq != want.Seq || l.Entry.Op != want.Op {
			t.Fatalf("step %d: leased %d %s, want %d %s", i, l.Entry.Seq, l.Entry.Op, want.Seq, want.Op)
		}
		if err := s.Complete(l, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Complete(lb, nil); err != nil {
		t.Fatal(err)
	}
	wantNoneDue(t, s, now, time.Time{})
	var done []uint64
	if err := s.View(func(tx *Tx) error {
		return tx.ForEachDone(0, func(e Entry) error {
			if e.State != StateDone || !e.Finished.Equal(now) {
				t.Errorf("history entry %+v", e)
			}
			done = append(done, e.Seq)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(done) != "[1 2 3 4]" {
		t.Fatalf("history %v", done)
	}
	if st := mustStats(t, s); st.Pending != 0 || st.Done != 4 || st.InFlight != 0 || !st.OldestPending.IsZero() {
		t.Fatalf("stats %+v", st)
	}
}

func TestNoDoubleLease(t *testing.T) {
	c := newClock()
	s := MustOpen(t, c)
	sale(t, s, "A", OpCreate)
	l := mustLease(t, s, c.Now())
	wantNoneDue(t, s, c.Now(), time.Time{})
	if st := mustStats(t, s); st.InFlight != 1 || st.Pending != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := s.Complete(l, nil); err != nil {
		t.Fatal(err)
	}
	// A lease is used once.
	for name, use := range map[string]func() error{
		"complete":    func() error { return s.Complete(l, nil) },
		"reschedule":  func() error { return s.Reschedule(l, c.Now(), "x") },
		"dead-letter": func() error { return s.DeadLetter(l, "x", nil) },
		"zero lease":  func() error { return s.Complete(Lease{}, nil) },
	} {
		if err := use(); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("%s of a used lease: %v", name, err)
		}
	}
}

func TestOrdersAreIndependent(t *testing.T) {
	c := newClock()
	s := MustOpen(t, c)
	now := c.Now()
	a := sale(t, s, "A", OpCreate, OpCapture)
	b := sale(t, s, "B", OpCreate, OpCapture)

	// A's create fails transiently: B is not held up.
	la := mustLease(t, s, now)
	if la.Entry.Seq != a[0].Seq {
		t.Fatalf("leased %d", la.Entry.Seq)
	}
	retry := now.Add(time.Minute)
	if err := s.Reschedule(la, retry, "connection refused"); err != nil {
		t.Fatal(err)
	}
	for _, want := range b {
		l := mustLease(t, s, now)
		if l.Entry.Seq != want.Seq {
			t.Fatalf("leased %d, want B's %d", l.Entry.Seq, want.Seq)
		}
		if err := s.Complete(l, nil); err != nil {
			t.Fatal(err)
		}
	}
	wantNoneDue(t, s, now, retry)
	if st := mustStats(t, s); !st.NextDue.Equal(retry) || !st.OldestPending.Equal(now) || st.Pending != 2 {
		t.Fatalf("stats %+v", st)
	}

	// A's create then fails for good: its capture is blocked, C is not.
	la = mustLease(t, s, retry)
	if la.Entry.Attempts != 2 {
		t.Fatalf("attempts %d", la.Entry.Attempts)
	}
	var recorded bool
	if err := s.DeadLetter(la, "invalid_request_error: amount", func(tx *Tx) error {
		recorded = true
		return tx.PutOrder("A", []byte("order A: payment failed"))
	}); err != nil || !recorded {
		t.Fatalf("DeadLetter: %v (recorded %v)", err, recorded)
	}
	cs := sale(t, s, "C", OpCreate)
	a2 := enqueue(t, s, "A", OpCancel) // a later entry on a blocked order is blocked too
	if a2[0].State != StateBlocked {
		t.Fatalf("enqueued behind a dead letter: %s", a2[0].State)
	}
	l := mustLease(t, s, retry)
	if l.Entry.Seq != cs[0].Seq {
		t.Fatalf("leased %d, want C's %d", l.Entry.Seq, cs[0].Seq)
	}
	if err := s.Complete(l, nil); err != nil {
		t.Fatal(err)
	}
	wantNoneDue(t, s, retry.Add(time.Hour), time.Time{})
	st := mustStats(t, s)
	if st.Dead != 1 || st.Blocked != 2 || st.Pending != 2 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
	var states []string
	if err := s.View(func(tx *Tx) error {
		es, err := tx.OrderEntries("A")
		for _, e := range es {
			states = append(states, fmt.Sprintf("%s:%s", e.Op, e.State))
		}
		if err != nil {
			return err
		}
		o, err := tx.Order("A")
		if string(o) != "order A: payment failed" {
			t.Errorf("order A = %q", o)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(states, " "); got != "create:dead capture:blocked cancel:blocked" {
		t.Fatalf("order A: %s", got)
	}

	// The manager retries it: same key, attempts reset, order unblocked.
	later := retry.Add(2 * time.Hour)
	e, err := s.RequeueDead(a[0].Seq, later)
	if err != nil {
		t.Fatal(err)
	}
	if e.IdempotencyKey != a[0].IdempotencyKey || e.Attempts != 0 || e.LastError == "" {
		t.Fatalf("requeued %+v", e)
	}
	if st := mustStats(t, s); st.Dead != 0 || st.Blocked != 0 || st.Pending != 3 {
		t.Fatalf("stats after requeue %+v", st)
	}
	l = mustLease(t, s, later)
	if l.Entry.Seq != a[0].Seq {
		t.Fatalf("leased %d", l.Entry.Seq)
	}
	// Dies again; this time the manager discards it and the capture runs.
	if err := s.DeadLetter(l, "still failing", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DiscardDead(a[0].Seq, "paid in cash"); err != nil {
		t.Fatal(err)
	}
	l = mustLease(t, s, later)
	if l.Entry.Seq != a[1].Seq {
		t.Fatalf("after discard leased %d, want capture %d", l.Entry.Seq, a[1].Seq)
	}
	if st := mustStats(t, s); st.Dead != 0 || st.Blocked != 0 || st.Pending != 2 || st.InFlight != 1 {
		t.Fatalf("stats after discard %+v", st)
	}
	if err := s.View(func(tx *Tx) error {
		e, err := tx.Entry(a[0].Seq)
		if e.State != StateDiscarded || !strings.Contains(e.LastError, "paid in cash") || !strings.Contains(e.LastError, "still failing") {
			t.Errorf("discarded entry %+v", e)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestDeadLetterAdmin(t *testing.T) {
	c := newClock()
	s := MustOpen(t, c)
	a := sale(t, s, "A", OpCreate)
	if _, err := s.RequeueDead(a[0].Seq, c.Now()); !errors.Is(err, ErrNotDead) {
		t.Fatalf("requeue of a pending entry: %v", err)
	}
	if err := s.DiscardDead(999, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("discard of a missing entry: %v", err)
	}
	l := mustLease(t, s, c.Now())
	if err := s.DeadLetter(l, "card_declined", nil); err != nil {
		t.Fatal(err)
	}
	var dead []Entry
	if err := s.View(func(tx *Tx) error {
		return tx.ForEachDead(func(e Entry) error { dead = append(dead, e); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].LastError != "card_declined" || dead[0].State != StateDead || !dead[0].Finished.Equal(c.Now()) {
		t.Fatalf("dead letters %+v", dead)
	}
}

func TestRescheduleSurvivesReopen(t *testing.T) {
	c := newClock()
	path := t.TempDir() + "/till.db"
	s := MustOpenPath(t, path, c)
	a := sale(t, s, "A", OpCreate)
	l := mustLease(t, s, c.Now())
	at := c.Now().Add(90 * time.Second)
	if err := s.Reschedule(l, at, "HTTP 503 from api"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = MustOpenPath(t, path, c)
	wantNoneDue(t, s, at.Add(-time.Nanosecond), at)
	if st := mustStats(t, s); !st.NextDue.Equal(at) {
		t.Fatalf("NextDue %v, want %v", st.NextDue, at)
	}
	l = mustLease(t, s, at)
	if l.Entry.Seq != a[0].Seq || l.Entry.Attempts != 2 || l.Entry.LastError != "HTTP 503 from api" || !l.Entry.NextAttempt.Equal(at) {
		t.Fatalf("after reopen %+v", l.Entry)
	}
}

func TestLeasesReclaimedOnOpen(t *testing.T) {
	c := newClock()
	path := t.TempDir() + "/till.db"
	s := MustOpenPath(t, path, c)
	sale(t, s, "A", OpCreate, OpCapture)
	sale(t, s, "B", OpCreate)
	la := mustLease(t, s, c.Now())
	lb := mustLease(t, s, c.Now())
	if st := mustStats(t, s); st.InFlight != 2 {
		t.Fatalf("stats %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(la, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Complete on a closed store: %v", err)
	}
	s = MustOpenPath(t, path, c)
	if st := mustStats(t, s); st.InFlight != 0 || st.Pending != 3 || !st.NextDue.Equal(c.Now()) {
		t.Fatalf("after reopen %+v", st)
	}
	for _, l := range []Lease{la, lb} {
		if err := s.Complete(l, nil); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("Complete with an old lease: %v", err)
		}
	}
	// Same entries again, same keys, one more attempt each.
	for _, old := range []Lease{la, lb} {
		l := mustLease(t, s, c.Now())
		if l.Entry.Seq != old.Entry.Seq || l.Entry.IdempotencyKey != old.Entry.IdempotencyKey || l.Entry.Attempts != 2 {
			t.Fatalf("re-leased %+v, want %+v", l.Entry, old.Entry)
		}
	}
}

func TestCompleteRecordsInSameTx(t *testing.T) {
	c := newClock()
	s := MustOpen(t, c)
	sale(t, s, "A", OpCreate, OpCapture)
	l := mustLease(t, s, c.Now())
	boom := errors.New("disk says no")
	err := s.Complete(l, func(tx *Tx) error {
		if err := tx.PutOrder("A", []byte("pi_123")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Complete = %v", err)
	}
	// Nothing happened: order unchanged, lease still valid.
	if err := s.View(func(tx *Tx) error {
		o, err := tx.Order("A")
		if string(o) != "order A" {
			t.Errorf("order = %q", o)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(l, func(tx *Tx) error { return tx.PutOrder("A", []byte("pi_123")) }); err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, s); st.Done != 1 || st.Pending != 1 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNotBefore(t *testing.T) {
	c := newClock()
	s := MustOpen(t, c)
	later := c.Now().Add(time.Hour)
	if err := s.Update(func(tx *Tx) error {
		if err := tx.PutOrder("A", []byte("a")); err != nil {
			return err
		}
		_, err := tx.Enqueue(NewEntry{OrderID: "A", Op: OpCapture, NotBefore: later})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	wantNoneDue(t, s, c.Now(), later)
	mustLease(t, s, later)
}

func TestSecretsRedacted(t *testing.T) {
	c := newClock()
	s := MustOpen(t, c)
	sale(t, s, "A", OpCreate)
	l := mustLease(t, s, c.Now())
	msg := "401: Invalid API Key provided: sk_live_51HxyzABCdef0123456789 " + strings.Repeat("é", MaxLastErrorLen)
	if err := s.Reschedule(l, c.Now(), msg); err != nil {
		t.Fatal(err)
	}
	l = mustLease(t, s, c.Now())
	got := l.Entry.LastError
	if strings.Contains(got, "51HxyzABCdef") || !strings.Contains(got, "sk_live_[redacted]") {
		t.Fatalf("secret not redacted: %.80q", got)
	}
	if len(got) > MaxLastErrorLen || !strings.HasSuffix(got, "é") {
		t.Fatalf("last error not cut at a rune boundary: %d bytes, ends %q", len(got), got[len(got)-4:])
	}
}

func TestOnChange(t *testing.T) {
	c := newClock()
	changed := make(chan struct{}, 1)
	s, err := Open(t.TempDir()+"/till.db", Options{Now: c.Now, OnChange: func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case <-changed: // Open's own transaction
	default:
	}
	if err := s.View(func(*Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
		t.Fatal("OnChange after a read")
	default:
	}
	sale(t, s, "A", OpCreate)
	select {
	case <-changed:
	default:
		t.Fatal("no OnChange after an enqueue")
	}
}

func TestOrdersAPI(t *testing.T) {
	s := MustOpen(t, nil)
	for _, id := range []string{"lane1-03", "lane1-01", "lane2-01", "lane1-02"} {
		sale(t, s, id)
	}
	sale(t, s, "lane1-01") // replacing does not count twice
	if err := s.Update(func(tx *Tx) error { return tx.PutOrder("x", nil) }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty order: %v", err)
	}
	if err := s.View(func(tx *Tx) error {
		if n, err := tx.OrderCount(); err != nil || n != 4 {
			t.Errorf("OrderCount = %d, %v", n, err)
		}
		if _, err := tx.Order("nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Order(nope) = %v", err)
		}
		var ids []string
		if err := tx.ForEachOrder("lane1-01", func(id string, data []byte) error {
			ids = append(ids, id)
			return nil
		}); err != nil {
			return err
		}
		if strings.Join(ids, ",") != "lane1-02,lane1-03,lane2-01" {
			t.Errorf("ForEachOrder after lane1-01: %v", ids)
		}
		stop := errors.New("stop")
		n := 0
		if err := tx.ForEachOrder("", func(string, []byte) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Errorf("ForEachOrder stop: %v after %d", err, n)
		}
		ms, err := tx.Migrations()
		if err != nil || len(ms) != len(migrations) || ms[0].Version != 1 {
			t.Errorf("Migrations = %+v, %v", ms, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestUserPanicPassesThrough(t *testing.T) {
	s := MustOpen(t, nil)
	func() {
		defer func() {
			if r := recover(); r != "cashier bug" {
				t.Fatalf("recovered %v, want the caller's own panic", r)
			}
		}()
		_ = s.Update(func(tx *Tx) error {
			if err := tx.PutOrder("A", []byte("a")); err != nil {
				return err
			}
			return tx.ForEachOrder("", func(string, []byte) error { panic("cashier bug") })
		})
	}()
	// Rolled back, store still usable.
	if st := mustStats(t, s); st.Orders != 0 {
		t.Fatalf("stats %+v", st)
	}
	sale(t, s, "B", OpCreate)
}

func TestOpParse(t *testing.T) {
	for _, op := range []Op{OpCreate, OpUpdate, OpConfirm, OpCapture, OpCancel, OpRefund} {
		got, err := ParseOp(op.String())
		if err != nil || got != op {
			t.Errorf("ParseOp(%q) = %v, %v", op.String(), got, err)
		}
	}
	if _, err := ParseOp("transfer"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseOp(transfer) = %v", err)
	}
}

// TestConcurrentDrainers: several drainers lease at once; no entry is
// leased twice and each order's entries complete in enqueue order.
func TestConcurrentDrainers(t *testing.T) {
	c := newClock()
	s := MustOpen(t, c)
	const orders = 20
	for i := range orders {
		sale(t, s, fmt.Sprintf("o%02d", i), OpCreate, OpConfirm, OpCapture)
	}
	type done struct {
		order string
		seq   uint64
	}
	// Completions are recorded inside Complete's own write transaction:
	// bbolt runs one writer at a time, so this slice is in commit order.
	// (Recording after Complete returned would not be: a drainer can be
	// descheduled there while another leases and completes the next entry.)
	var (
		mu        sync.Mutex
		completed []done
	)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				l, err := s.Lease(c.Now())
				if errors.Is(err, ErrNoneDue) {
					if st, err := s.Stats(); err != nil || st.Pending == 0 {
						errs <- err
						return
					}
					// Others hold the remaining heads; try again.
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				err = s.Complete(l, func(*Tx) error {
					mu.Lock()
					completed = append(completed, done{l.Entry.OrderID, l.Entry.Seq})
					mu.Unlock()
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	last := map[string]uint64{}
	seen := map[uint64]bool{}
	for _, r := range completed {
		if seen[r.seq] {
			t.Fatalf("entry %d completed twice", r.seq)
		}
		seen[r.seq] = true
		if r.seq <= last[r.order] {
			t.Fatalf("order %s: entry %d completed after %d", r.order, r.seq, last[r.order])
		}
		last[r.order] = r.seq
	}
	if len(seen) != orders*3 {
		t.Fatalf("%d entries completed", len(seen))
	}
}

func TestClosedStore(t *testing.T) {
	s, err := Open(t.TempDir()+"/till.db", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.View(func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("View after Close: %v", err)
	}
	if _, err := s.Stats(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Stats after Close: %v", err)
	}
}

func TestForEachOrderReverse(t *testing.T) {
	s := MustOpen(t, nil)
	for _, id := range []string{"lane1-03", "lane1-01", "lane2-01", "lane1-02"} {
		sale(t, s, id)
	}
	walk := func(before string, limit int) string {
		var ids []string
		stop := errors.New("stop")
		err := s.View(func(tx *Tx) error {
			return tx.ForEachOrderReverse(before, func(id string, _ []byte) error {
				ids = append(ids, id)
				if len(ids) == limit {
					return stop
				}
				return nil
			})
		})
		if err != nil && !errors.Is(err, stop) {
			t.Fatalf("ForEachOrderReverse(%q): %v", before, err)
		}
		return strings.Join(ids, ",")
	}
	for _, tt := range []struct {
		before string
		limit  int
		want   string
	}{
		{"", 0, "lane2-01,lane1-03,lane1-02,lane1-01"},
		{"", 2, "lane2-01,lane1-03"},
		{"lane1-03", 0, "lane1-02,lane1-01"},                // an existing id is excluded
		{"lane1-025", 0, "lane1-02,lane1-01"},               // between two ids
		{"lane9", 0, "lane2-01,lane1-03,lane1-02,lane1-01"}, // after the last
		{"lane1-01", 0, ""},                                 // before the first
	} {
		if got := walk(tt.before, tt.limit); got != tt.want {
			t.Errorf("before %q limit %d: got %s, want %s", tt.before, tt.limit, got, tt.want)
		}
	}
}

package queue

import (
	"errors"
	"testing"
)

// TestFreeze: the check sees what was queued before the freeze; a failed
// check leaves the store unfrozen; once frozen, nothing new is queued
// (the whole transaction rolls back) while queued entries still drain;
// Thaw lets entries in again.
func TestFreeze(t *testing.T) {
	c := newClock()
	s := MustOpen(t, c)
	sale(t, s, "lane1-A", OpCreate)

	busy := errors.New("one pending")
	var seen int
	err := s.Freeze(func(tx *Tx) error {
		st, err := tx.Stats()
		if err != nil {
			return err
		}
		seen = st.Pending
		if st.Pending > 0 {
			return busy
		}
		return nil
	})
	if !errors.Is(err, busy) || seen != 1 {
		t.Fatalf("Freeze with one pending = %v (saw %d), want the check's error", err, seen)
	}
	sale(t, s, "lane1-B", OpCreate) // not frozen: still accepted

	if err := s.Freeze(nil); err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *Tx) error {
		if err := tx.PutOrder("lane1-C", []byte("order C")); err != nil {
			return err
		}
		_, err := tx.Enqueue(NewEntry{OrderID: "lane1-C", Op: OpCreate})
		return err
	})
	if !errors.Is(err, ErrFrozen) {
		t.Fatalf("Enqueue while frozen = %v, want ErrFrozen", err)
	}
	if err := s.View(func(tx *Tx) error {
		if _, err := tx.Order("lane1-C"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the refused sale's order was stored: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	l := mustLease(t, s, c.Now())
	if err := s.Complete(l, nil); err != nil {
		t.Fatalf("completing a queued entry while frozen: %v", err)
	}

	s.Thaw()
	sale(t, s, "lane1-C", OpCreate)
	if st := mustStats(t, s); st.Pending != 2 {
		t.Errorf("after Thaw: %d pending, want 2 (B and C)", st.Pending)
	}
}

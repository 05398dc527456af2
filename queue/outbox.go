package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Lease is the right to perform one outbox entry's API call. It is valid
// until it is completed, rescheduled or dead-lettered, or until the Store
// is closed: a lease survives nothing, and after a crash or a restart its
// entry is due again (with the same idempotency key).
type Lease struct {
	Entry Entry // the entry, with Attempts already counting this lease
	gen   uint64
}

// Lease takes the next entry due at now: the entry with the earliest next
// attempt among the first entries of each order, skipping orders whose
// first entry is in flight or dead. So an order's entries go out strictly
// one after the other in enqueue order, and a slow or failing order never
// holds up the others. The lease is recorded (attempts + 1) before the
// call returns. When nothing is due it returns a *NotDueError (matching
// ErrNoneDue) telling when to look again. A lease taken in a transaction
// that is then rolled back never existed: using it gives ErrLeaseLost.
// Leasing several entries in one transaction (for parallel calls) is fine.
func (tx *Tx) Lease(now time.Time) (Lease, error) {
	defer tx.guard()
	if err := tx.peekDue(now); err != nil {
		return Lease{}, err
	}
	c := tx.due.Cursor()
	k, _ := c.First()
	sk := append([]byte{}, k[8:]...)
	e, err := tx.get(tx.outbox, sk)
	if err != nil {
		return Lease{}, tx.corrupt(fmt.Errorf("due index names entry %x: %w", sk, err))
	}
	if err := c.Delete(); err != nil {
		return Lease{}, fmt.Errorf("lease entry %d: %w", e.Seq, err)
	}
	e.Attempts++
	e.leaseGen = tx.s.gen
	if err := tx.put(tx.outbox, &e); err != nil {
		return Lease{}, err
	}
	if err := tx.inFlight.Put(sk, empty); err != nil {
		return Lease{}, fmt.Errorf("lease entry %d: %w", e.Seq, err)
	}
	if err := tx.count(func(c *counters) { c.inFlight++ }); err != nil {
		return Lease{}, err
	}
	e.State = StateInFlight
	return Lease{Entry: e, gen: tx.s.gen}, nil
}

// peekDue returns a *NotDueError if Lease(now) would, and nil otherwise.
func (tx *Tx) peekDue(now time.Time) error {
	defer tx.guard()
	k, _ := tx.due.Cursor().First()
	if k == nil {
		return &NotDueError{}
	}
	if len(k) != 16 {
		return tx.corrupt(fmt.Errorf("due key %x: %w", k, errBadRecord))
	}
	if at := fromUnixNano(int64(binary.BigEndian.Uint64(k))); at.After(now) {
		return &NotDueError{Next: at}
	}
	return nil
}

// leased returns the stored entry if l is still valid.
func (tx *Tx) leased(l Lease, op string) (Entry, error) {
	e, err := tx.get(tx.outbox, seqKey(l.Entry.Seq))
	if errors.Is(err, ErrNotFound) {
		return Entry{}, fmt.Errorf("%s entry %d: %w", op, l.Entry.Seq, ErrLeaseLost)
	} else if err != nil {
		return Entry{}, err
	}
	if l.gen == 0 || l.gen != tx.s.gen || e.leaseGen != l.gen || e.Attempts != l.Entry.Attempts {
		return Entry{}, fmt.Errorf("%s entry %d: %w", op, l.Entry.Seq, ErrLeaseLost)
	}
	return e, nil
}

// release drops the in-flight mark of a leased entry (in memory and index).
func (tx *Tx) release(e *Entry) error {
	e.leaseGen = 0
	if err := tx.inFlight.Delete(seqKey(e.Seq)); err != nil {
		return err
	}
	return tx.count(func(c *counters) { c.inFlight-- })
}

// promote makes the order's first entry leasable, if it is in the outbox.
func (tx *Tx) promote(orderID string) error {
	h, ok := tx.head(orderID)
	if !ok || tx.dead.Get(seqKey(h)) != nil {
		return nil
	}
	e, err := tx.get(tx.outbox, seqKey(h))
	if err != nil {
		return tx.corrupt(fmt.Errorf("order %s index names entry %d: %w", orderID, h, err))
	}
	if e.leaseGen != 0 {
		return nil
	}
	return tx.due.Put(dueKey(e.NextAttempt, e.Seq), empty)
}

// Complete records that the leased call succeeded: the entry moves to the
// history and the order's next entry becomes due. Record the API's answer
// on the order (PutOrder) in the same transaction.
func (tx *Tx) Complete(l Lease) error {
	defer tx.guard()
	e, err := tx.leased(l, "complete")
	if err != nil {
		return err
	}
	if err := tx.release(&e); err != nil {
		return fmt.Errorf("complete entry %d: %w", e.Seq, err)
	}
	if err := tx.finish(&e, StateDone, e.LastError); err != nil {
		return err
	}
	return tx.count(func(c *counters) { c.pending-- })
}

// finish moves an entry out of the outbox or dead letters into history.
func (tx *Tx) finish(e *Entry, st State, lastErr string) error {
	k := seqKey(e.Seq)
	if err := tx.outbox.Delete(k); err != nil {
		return fmt.Errorf("finish entry %d: %w", e.Seq, err)
	}
	if err := tx.dead.Delete(k); err != nil {
		return fmt.Errorf("finish entry %d: %w", e.Seq, err)
	}
	if err := tx.byOrder.Delete(orderKey(e.OrderID, e.Seq)); err != nil {
		return fmt.Errorf("finish entry %d: %w", e.Seq, err)
	}
	e.State, e.Finished, e.LastError = st, tx.now(), cleanError(lastErr)
	if err := tx.put(tx.done, e); err != nil {
		return err
	}
	if err := tx.count(func(c *counters) { c.done++ }); err != nil {
		return err
	}
	return tx.promote(e.OrderID)
}

// Reschedule records a failed attempt that may succeed later: the entry
// stays first in its order and becomes due again at at (the drainer's
// backoff), with lastErr kept on it. Both survive a restart.
func (tx *Tx) Reschedule(l Lease, at time.Time, lastErr string) error {
	defer tx.guard()
	e, err := tx.leased(l, "reschedule")
	if err != nil {
		return err
	}
	if err := tx.release(&e); err != nil {
		return fmt.Errorf("reschedule entry %d: %w", e.Seq, err)
	}
	e.NextAttempt, e.LastError = at, cleanError(lastErr)
	if err := tx.put(tx.outbox, &e); err != nil {
		return err
	}
	if err := tx.due.Put(dueKey(at, e.Seq), empty); err != nil {
		return fmt.Errorf("reschedule entry %d: %w", e.Seq, err)
	}
	return nil
}

// DeadLetter records a permanent failure: the entry becomes a dead letter
// with lastErr, and the order's later entries stay blocked (they must not
// run out of order) until the manager calls RequeueDead or DiscardDead.
// Other orders are not affected.
func (tx *Tx) DeadLetter(l Lease, lastErr string) error {
	defer tx.guard()
	e, err := tx.leased(l, "dead-letter")
	if err != nil {
		return err
	}
	if err := tx.release(&e); err != nil {
		return fmt.Errorf("dead-letter entry %d: %w", e.Seq, err)
	}
	if err := tx.outbox.Delete(seqKey(e.Seq)); err != nil {
		return fmt.Errorf("dead-letter entry %d: %w", e.Seq, err)
	}
	e.State, e.Finished, e.LastError = StateDead, tx.now(), cleanError(lastErr)
	if err := tx.put(tx.dead, &e); err != nil {
		return err
	}
	behind := int64(len(tx.orderSeqs(e.OrderID)) - 1)
	return tx.count(func(c *counters) { c.pending--; c.dead++; c.blocked += behind })
}

// deadEntry returns dead letter seq, or ErrNotDead / ErrNotFound.
func (tx *Tx) deadEntry(seq uint64, op string) (Entry, error) {
	k := seqKey(seq)
	if tx.dead.Get(k) == nil {
		if tx.outbox.Get(k) != nil || tx.done.Get(k) != nil {
			return Entry{}, fmt.Errorf("%s entry %d: %w", op, seq, ErrNotDead)
		}
		return Entry{}, fmt.Errorf("%s entry %d: %w", op, seq, ErrNotFound)
	}
	return tx.get(tx.dead, k)
}

// RequeueDead puts dead letter seq back at the head of its order, due at
// now, with its attempts reset and the same idempotency key (so a call that
// did reach the API is not performed twice). Its order is unblocked.
func (tx *Tx) RequeueDead(seq uint64, now time.Time) (Entry, error) {
	defer tx.guard()
	e, err := tx.deadEntry(seq, "requeue")
	if err != nil {
		return Entry{}, err
	}
	if err := tx.dead.Delete(seqKey(seq)); err != nil {
		return Entry{}, fmt.Errorf("requeue entry %d: %w", seq, err)
	}
	e.State, e.Attempts, e.NextAttempt, e.Finished = StatePending, 0, now, time.Time{}
	if err := tx.put(tx.outbox, &e); err != nil {
		return Entry{}, err
	}
	if err := tx.due.Put(dueKey(now, seq), empty); err != nil {
		return Entry{}, fmt.Errorf("requeue entry %d: %w", seq, err)
	}
	behind := int64(len(tx.orderSeqs(e.OrderID)) - 1)
	return e, tx.count(func(c *counters) { c.dead--; c.pending++; c.blocked -= behind })
}

// DiscardDead drops dead letter seq into the history as Discarded, noting
// the reason, and lets the order's next entry run. It does not touch the
// order's later entries: if they cannot succeed without the discarded one
// they will fail and be dead-lettered in turn.
func (tx *Tx) DiscardDead(seq uint64, reason string) error {
	defer tx.guard()
	e, err := tx.deadEntry(seq, "discard")
	if err != nil {
		return err
	}
	behind := int64(len(tx.orderSeqs(e.OrderID)) - 1)
	if err := tx.count(func(c *counters) { c.dead--; c.blocked -= behind }); err != nil {
		return err
	}
	return tx.finish(&e, StateDiscarded, "discarded: "+reason+"; last error: "+e.LastError)
}

// Lease takes the next due entry in its own transaction; see Tx.Lease.
// When nothing is due it answers from a read transaction, so polling an
// idle outbox costs no disk write.
func (s *Store) Lease(now time.Time) (Lease, error) {
	if err := s.View(func(tx *Tx) error { return tx.peekDue(now) }); err != nil {
		return Lease{}, err
	}
	var l Lease
	err := s.Update(func(tx *Tx) error {
		var err error
		l, err = tx.Lease(now)
		return err
	})
	return l, err
}

// withRecord runs op and then the caller's record function in one write
// transaction.
func (s *Store) withRecord(op func(*Tx) error, record func(*Tx) error) error {
	return s.Update(func(tx *Tx) error {
		if err := op(tx); err != nil {
			return err
		}
		if record != nil {
			return record(tx)
		}
		return nil
	})
}

// Complete completes a lease and, in the same transaction, runs record
// (which may be nil) to write the API's answer onto the order. If record
// fails nothing is written and the lease stays valid.
func (s *Store) Complete(l Lease, record func(*Tx) error) error {
	return s.withRecord(func(tx *Tx) error { return tx.Complete(l) }, record)
}

// Reschedule reschedules a lease; see Tx.Reschedule.
func (s *Store) Reschedule(l Lease, at time.Time, lastErr string) error {
	return s.Update(func(tx *Tx) error { return tx.Reschedule(l, at, lastErr) })
}

// DeadLetter dead-letters a lease and, in the same transaction, runs record
// (which may be nil) to note the failure on the order; see Tx.DeadLetter.
func (s *Store) DeadLetter(l Lease, lastErr string, record func(*Tx) error) error {
	return s.withRecord(func(tx *Tx) error { return tx.DeadLetter(l, lastErr) }, record)
}

// RequeueDead requeues a dead letter; see Tx.RequeueDead.
func (s *Store) RequeueDead(seq uint64, now time.Time) (Entry, error) {
	var e Entry
	err := s.Update(func(tx *Tx) error {
		var err error
		e, err = tx.RequeueDead(seq, now)
		return err
	})
	return e, err
}

// DiscardDead discards a dead letter; see Tx.DiscardDead.
func (s *Store) DiscardDead(seq uint64, reason string) error {
	return s.Update(func(tx *Tx) error { return tx.DiscardDead(seq, reason) })
}

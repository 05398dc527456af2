package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// maxCheckErrors bounds how many problems Check reports.
const maxCheckErrors = 20

// Check verifies the whole file: bbolt's own page-level consistency check
// (tx.Check), then the store's invariants — every entry decodes, every
// outbox and dead entry belongs to a stored order and is in the per-order
// index and vice versa, only an order's first entry is dead, leasable or in
// flight, the due index holds exactly the leasable first entries, the
// counters agree with the buckets, and every named value (Tx.Value) has a
// valid key and size. It reads everything: O(size of the file), meant for
// tests, a maintenance screen or a background check, not for every start.
// Problems are reported as a *CorruptError.
func (s *Store) Check() error {
	var problems []error
	add := func(err error) bool {
		problems = append(problems, err)
		return len(problems) < maxCheckErrors
	}
	err := s.raw(false, func(btx *bolt.Tx) error {
		for err := range btx.Check() {
			add(fmt.Errorf("bbolt: %w", err))
		}
		if len(problems) > 0 {
			return nil // the buckets cannot be trusted enough to walk them
		}
		if v, err := schemaVersion(btx); err != nil {
			add(err)
			return nil
		} else if v != CurrentSchema {
			add(fmt.Errorf("schema version %d, want %d", v, CurrentSchema))
		}
		tx, err := s.newTx(btx)
		if err != nil {
			add(err)
			return nil
		}
		tx.checkInvariants(add)
		tx.checkValues(add)
		return nil
	})
	if err != nil {
		return fmt.Errorf("check %s: %w", s.path, err)
	}
	if len(problems) > 0 {
		return &CorruptError{Path: s.path, Err: errors.Join(problems...)}
	}
	return nil
}

func (tx *Tx) checkInvariants(add func(error) bool) {
	var n counters
	stored, err := tx.counters()
	if err != nil {
		add(err)
		return
	}

	if err := tx.orders.ForEach(func(k, v []byte) error {
		n.orders++
		if err := ValidOrderID(string(k)); err != nil {
			add(fmt.Errorf("orders: %w", err))
		}
		return nil
	}); err != nil {
		add(err)
	}

	// Per-order index: group the sequences of each order.
	type member struct {
		seq  uint64
		dead bool
	}
	byOrder := map[string][]member{}
	indexed := map[uint64]string{}
	if err := tx.byOrder.ForEach(func(k, _ []byte) error {
		i := bytes.IndexByte(k, 0)
		if i < 0 || len(k) != i+9 {
			add(fmt.Errorf("by_order: malformed key %x", k))
			return nil
		}
		id, seq := string(k[:i]), binary.BigEndian.Uint64(k[i+1:])
		indexed[seq] = id
		byOrder[id] = append(byOrder[id], member{seq: seq, dead: tx.dead.Get(seqKey(seq)) != nil})
		return nil
	}); err != nil {
		add(err)
	}

	maxSeq := tx.outbox.Sequence()
	entries := map[uint64]Entry{}
	walk := func(name string, b *bolt.Bucket, want ...State) {
		_ = b.ForEach(func(k, v []byte) error {
			e, err := decodeEntry(v)
			if err != nil {
				add(fmt.Errorf("%s: entry %x: %w", name, k, err))
				return nil
			}
			if len(k) != 8 || binary.BigEndian.Uint64(k) != e.Seq {
				add(fmt.Errorf("%s: key %x holds entry %d", name, k, e.Seq))
			}
			if e.Seq == 0 || e.Seq > maxSeq {
				add(fmt.Errorf("%s: entry %d beyond the sequence %d", name, e.Seq, maxSeq))
			}
			if !stateIn(e.State, want) {
				add(fmt.Errorf("%s: entry %d is %s", name, e.Seq, e.State))
			}
			if name == "done" {
				n.done++
				if _, ok := indexed[e.Seq]; ok {
					add(fmt.Errorf("done: entry %d is still in by_order", e.Seq))
				}
				return nil
			}
			if _, dup := entries[e.Seq]; dup {
				add(fmt.Errorf("%s: entry %d is also in another bucket", name, e.Seq))
			}
			entries[e.Seq] = e
			if tx.orders.Get([]byte(e.OrderID)) == nil {
				add(fmt.Errorf("%s: entry %d belongs to missing order %s", name, e.Seq, e.OrderID))
			}
			if id, ok := indexed[e.Seq]; !ok || id != e.OrderID {
				add(fmt.Errorf("%s: entry %d of order %s is not in by_order", name, e.Seq, e.OrderID))
			}
			if name == "dead" {
				n.dead++
				if e.leaseGen != 0 {
					add(fmt.Errorf("dead: entry %d is leased", e.Seq))
				}
				return nil
			}
			n.pending++
			if e.leaseGen != 0 {
				n.inFlight++
				if e.leaseGen != tx.s.gen {
					add(fmt.Errorf("outbox: entry %d holds a lease of generation %d, current %d", e.Seq, e.leaseGen, tx.s.gen))
				}
				if tx.inFlight.Get(k) == nil {
					add(fmt.Errorf("outbox: leased entry %d is not in in_flight", e.Seq))
				}
			}
			return nil
		})
	}
	walk("outbox", tx.outbox, StatePending)
	walk("dead", tx.dead, StateDead)
	walk("done", tx.done, StateDone, StateDiscarded)

	for seq, id := range indexed {
		if _, ok := entries[seq]; !ok {
			add(fmt.Errorf("by_order: entry %d of order %s is neither in the outbox nor dead", seq, id))
		}
	}

	// The due index holds exactly the unleased outbox heads.
	wantDue := map[string]bool{}
	for id, ms := range byOrder {
		for i, m := range ms {
			e := entries[m.seq]
			switch {
			case i > 0 && m.dead:
				add(fmt.Errorf("order %s: dead entry %d is not the first of its order", id, m.seq))
			case i > 0 && e.leaseGen != 0:
				add(fmt.Errorf("order %s: entry %d is in flight behind entry %d", id, m.seq, ms[0].seq))
			case i > 0 && ms[0].dead:
				n.blocked++
			case i == 0 && !m.dead && e.leaseGen == 0 && e.Seq != 0:
				wantDue[string(dueKey(e.NextAttempt, e.Seq))] = true
			}
		}
	}
	_ = tx.due.ForEach(func(k, _ []byte) error {
		if !wantDue[string(k)] {
			add(fmt.Errorf("due: key %x is not an unleased first entry at its next attempt", k))
		}
		delete(wantDue, string(k))
		return nil
	})
	for k := range wantDue {
		add(fmt.Errorf("due: first entry %d of its order is missing from the due index", binary.BigEndian.Uint64([]byte(k)[8:])))
	}
	var inFlightKeys int64
	_ = tx.inFlight.ForEach(func(k, _ []byte) error {
		inFlightKeys++
		if len(k) != 8 || entries[binary.BigEndian.Uint64(k)].leaseGen == 0 {
			add(fmt.Errorf("in_flight: key %x is not a leased outbox entry", k))
		}
		return nil
	})
	if inFlightKeys != n.inFlight {
		add(fmt.Errorf("in_flight holds %d keys, %d entries are leased", inFlightKeys, n.inFlight))
	}
	if n != *stored {
		add(fmt.Errorf("counters say %+v, buckets hold %+v", *stored, n))
	}
}

func stateIn(s State, set []State) bool {
	for _, w := range set {
		if s == w {
			return true
		}
	}
	return false
}

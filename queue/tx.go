package queue

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var empty = []byte{}

// Tx is a transaction handed to the functions given to Store.Update and
// Store.View. It is valid only during that call and must not be used from
// another goroutine. Byte slices passed to callbacks are valid only during
// the callback; everything returned by a method is a copy.
type Tx struct {
	s   *Store
	btx *bolt.Tx

	meta, orders, outbox, byOrder, due, inFlight, dead, done *bolt.Bucket
	// kv is nil only in a file not yet migrated to schema 2 (Open's
	// read-only validation); see kvBucket.
	kv *bolt.Bucket

	c      counters
	loaded bool // c holds the stored counters
	dirty  bool // c must be written back before commit
}

func (s *Store) newTx(btx *bolt.Tx) (*Tx, error) {
	tx := &Tx{s: s, btx: btx}
	for _, b := range []struct {
		dst  **bolt.Bucket
		name []byte
	}{
		{&tx.meta, bucketMeta}, {&tx.orders, bucketOrders}, {&tx.outbox, bucketOutbox},
		{&tx.byOrder, bucketByOrder}, {&tx.due, bucketDue}, {&tx.inFlight, bucketInFlight},
		{&tx.dead, bucketDead}, {&tx.done, bucketDone},
	} {
		if *b.dst = btx.Bucket(b.name); *b.dst == nil {
			return nil, &CorruptError{Path: s.path, Err: fmt.Errorf("%w: bucket %q is missing", errNotTill, b.name)}
		}
	}
	// Schema 1 files have no kv bucket until Open migrates them, and Open
	// validates them before that, so its absence is reported on use.
	tx.kv = btx.Bucket(bucketKV)
	return tx, nil
}

// guard is deferred by every method that reads or writes bbolt, so that a
// bbolt panic on a damaged page is reported as corruption rather than as a
// bug in the caller's code.
func (tx *Tx) guard() {
	if r := recover(); r != nil {
		switch r.(type) {
		case userPanic, storePanic:
			panic(r)
		}
		panic(storePanic{r})
	}
}

func (tx *Tx) corrupt(err error) error {
	return &CorruptError{Path: tx.s.path, Err: err}
}

func (tx *Tx) now() time.Time { return tx.s.now() }

func (tx *Tx) counters() (*counters, error) {
	if !tx.loaded {
		c, err := decodeCounters(tx.meta.Get(keyCounters))
		if err != nil {
			return nil, tx.corrupt(err)
		}
		tx.c, tx.loaded = c, true
	}
	return &tx.c, nil
}

func (tx *Tx) count(f func(*counters)) error {
	c, err := tx.counters()
	if err != nil {
		return err
	}
	f(c)
	tx.dirty = true
	return nil
}

// flush writes the counters back; run calls it before commit.
func (tx *Tx) flush() error {
	if !tx.dirty {
		return nil
	}
	c := tx.c
	if c.orders < 0 || c.pending < 0 || c.inFlight < 0 || c.blocked < 0 || c.dead < 0 || c.done < 0 {
		return tx.corrupt(fmt.Errorf("counter went negative: %+v", c))
	}
	if err := tx.meta.Put(keyCounters, c.encode()); err != nil {
		return fmt.Errorf("write counters: %w", err)
	}
	tx.dirty = false
	return nil
}

func (tx *Tx) get(b *bolt.Bucket, key []byte) (Entry, error) {
	v := b.Get(key)
	if v == nil {
		return Entry{}, fmt.Errorf("entry %d: %w", binary.BigEndian.Uint64(key), ErrNotFound)
	}
	e, err := decodeEntry(v)
	if err != nil {
		return Entry{}, tx.corrupt(fmt.Errorf("entry %x: %w", key, err))
	}
	if e.Seq != binary.BigEndian.Uint64(key) {
		return Entry{}, tx.corrupt(fmt.Errorf("entry %x says it is %d: %w", key, e.Seq, errBadRecord))
	}
	return e, nil
}

func (tx *Tx) put(b *bolt.Bucket, e *Entry) error {
	if err := b.Put(seqKey(e.Seq), encodeEntry(e)); err != nil {
		return fmt.Errorf("write entry %d: %w", e.Seq, err)
	}
	return nil
}

// PutOrder stores data (opaque to the store, at least one byte) under the
// order id, replacing what was there.
func (tx *Tx) PutOrder(id string, data []byte) error {
	defer tx.guard()
	if err := ValidOrderID(id); err != nil {
		return fmt.Errorf("put order: %w", err)
	}
	if len(data) == 0 {
		return fmt.Errorf("put order %s: empty data: %w", id, ErrInvalid)
	}
	k := []byte(id)
	isNew := tx.orders.Get(k) == nil
	if err := tx.orders.Put(k, data); err != nil {
		return fmt.Errorf("put order %s: %w", id, err)
	}
	if isNew {
		return tx.count(func(c *counters) { c.orders++ })
	}
	return nil
}

// Order returns a copy of the order's data, or an error matching ErrNotFound.
func (tx *Tx) Order(id string) ([]byte, error) {
	defer tx.guard()
	v := tx.orders.Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("order %s: %w", id, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// ForEachOrder calls fn for each order whose id sorts after the given id
// ("" starts at the first), in byte order of ids, until fn returns an
// error, which ForEachOrder returns. data is valid only during the call.
func (tx *Tx) ForEachOrder(after string, fn func(id string, data []byte) error) error {
	defer tx.guard()
	c := tx.orders.Cursor()
	k, v := c.Seek([]byte(after))
	if k != nil && after != "" && string(k) == after {
		k, v = c.Next()
	}
	for ; k != nil; k, v = c.Next() {
		id, data := string(k), v
		if err := callUser(func() error { return fn(id, data) }); err != nil {
			return err
		}
	}
	return nil
}

// ForEachOrderReverse calls fn for each order in descending id order (for
// ULID-based ids, newest first), starting just before the id before, or at
// the last order when before is empty. It reads only what fn consumes: an
// error from fn (errors.Is-comparable sentinels work) stops the walk and is
// returned unchanged.
func (tx *Tx) ForEachOrderReverse(before string, fn func(id string, data []byte) error) error {
	defer tx.guard()
	c := tx.orders.Cursor()
	var k, v []byte
	if before == "" {
		k, v = c.Last()
	} else {
		k, _ = c.Seek([]byte(before))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev() // Seek lands on before or the first id after it
		}
	}
	for ; k != nil; k, v = c.Prev() {
		id, data := string(k), v
		if err := callUser(func() error { return fn(id, data) }); err != nil {
			return err
		}
	}
	return nil
}

// OrderCount returns the number of orders, in O(1).
func (tx *Tx) OrderCount() (int, error) {
	defer tx.guard()
	c, err := tx.counters()
	if err != nil {
		return 0, err
	}
	return int(c.orders), nil
}

// Enqueue adds an operation to the outbox in this transaction, behind the
// order's earlier entries. The order must already be stored (in this
// transaction or before). The returned entry carries its sequence and its
// idempotency key, both fixed for good. While the store is frozen
// (Store.Freeze) it fails with ErrFrozen.
func (tx *Tx) Enqueue(n NewEntry) (Entry, error) {
	defer tx.guard()
	if err := ValidOrderID(n.OrderID); err != nil {
		return Entry{}, fmt.Errorf("enqueue: %w", err)
	}
	if !n.Op.Valid() {
		return Entry{}, fmt.Errorf("enqueue %s for order %s: unknown operation: %w", n.Op, n.OrderID, ErrInvalid)
	}
	if len(n.Payload) > MaxPayloadLen {
		return Entry{}, fmt.Errorf("enqueue %s for order %s: payload of %d bytes exceeds %d: %w", n.Op, n.OrderID, len(n.Payload), MaxPayloadLen, ErrInvalid)
	}
	if tx.orders.Get([]byte(n.OrderID)) == nil {
		return Entry{}, fmt.Errorf("enqueue %s for order %s: order %w", n.Op, n.OrderID, ErrNotFound)
	}
	if tx.s.frozen.Load() {
		return Entry{}, fmt.Errorf("enqueue %s for order %s: %w", n.Op, n.OrderID, ErrFrozen)
	}
	seq, err := tx.outbox.NextSequence()
	if err != nil {
		return Entry{}, fmt.Errorf("enqueue %s for order %s: %w", n.Op, n.OrderID, err)
	}
	now := tx.now()
	e := Entry{
		Seq:            seq,
		OrderID:        n.OrderID,
		Op:             n.Op,
		Payload:        bytes.Clone(n.Payload),
		IdempotencyKey: IdempotencyKey(n.OrderID, n.Op, seq),
		Created:        now,
		NextAttempt:    now,
		State:          StatePending,
	}
	if n.NotBefore.After(now) {
		e.NextAttempt = n.NotBefore
	}
	head, hasHead := tx.head(n.OrderID)
	if err := tx.put(tx.outbox, &e); err != nil {
		return Entry{}, err
	}
	if err := tx.byOrder.Put(orderKey(n.OrderID, seq), empty); err != nil {
		return Entry{}, fmt.Errorf("enqueue %s for order %s: %w", n.Op, n.OrderID, err)
	}
	switch {
	case !hasHead:
		if err := tx.due.Put(dueKey(e.NextAttempt, seq), empty); err != nil {
			return Entry{}, fmt.Errorf("enqueue %s for order %s: %w", n.Op, n.OrderID, err)
		}
	case tx.dead.Get(seqKey(head)) != nil:
		e.State = StateBlocked
		if err := tx.count(func(c *counters) { c.blocked++ }); err != nil {
			return Entry{}, err
		}
	}
	if err := tx.count(func(c *counters) { c.pending++ }); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// head returns the sequence of the order's first outbox or dead entry.
func (tx *Tx) head(orderID string) (uint64, bool) {
	p := orderPrefix(orderID)
	k, _ := tx.byOrder.Cursor().Seek(p)
	if k == nil || !bytes.HasPrefix(k, p) || len(k) != len(p)+8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(p):]), true
}

// orderSeqs returns the sequences of the order's outbox and dead entries.
func (tx *Tx) orderSeqs(orderID string) []uint64 {
	p := orderPrefix(orderID)
	var out []uint64
	c := tx.byOrder.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		if len(k) == len(p)+8 {
			out = append(out, binary.BigEndian.Uint64(k[len(p):]))
		}
	}
	return out
}

// state computes the state of an outbox entry.
func (tx *Tx) state(e *Entry) State {
	if e.leaseGen != 0 && e.leaseGen == tx.s.gen {
		return StateInFlight
	}
	if h, ok := tx.head(e.OrderID); ok && h != e.Seq && tx.dead.Get(seqKey(h)) != nil {
		return StateBlocked
	}
	return StatePending
}

// OrderEntries returns the order's entries still in the outbox or dead, in
// delivery order, with their states. Completed entries are in the history
// (ForEachDone).
func (tx *Tx) OrderEntries(orderID string) ([]Entry, error) {
	defer tx.guard()
	var out []Entry
	for _, seq := range tx.orderSeqs(orderID) {
		e, err := tx.Entry(seq)
		if err != nil {
			return nil, fmt.Errorf("entries of order %s: %w", orderID, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Entry returns the entry with the given sequence wherever it is: outbox,
// dead letters or history.
func (tx *Tx) Entry(seq uint64) (Entry, error) {
	defer tx.guard()
	k := seqKey(seq)
	switch {
	case tx.outbox.Get(k) != nil:
		e, err := tx.get(tx.outbox, k)
		if err == nil {
			e.State = tx.state(&e)
		}
		return e, err
	case tx.dead.Get(k) != nil:
		return tx.get(tx.dead, k)
	case tx.done.Get(k) != nil:
		return tx.get(tx.done, k)
	}
	return Entry{}, fmt.Errorf("entry %d: %w", seq, ErrNotFound)
}

func (tx *Tx) forEach(b *bolt.Bucket, after uint64, outbox bool, fn func(Entry) error) error {
	c := b.Cursor()
	for k, _ := c.Seek(seqKey(after + 1)); k != nil; k, _ = c.Next() {
		e, err := tx.get(b, k)
		if err != nil {
			return err
		}
		if outbox {
			e.State = tx.state(&e)
		}
		if err := callUser(func() error { return fn(e) }); err != nil {
			return err
		}
	}
	return nil
}

// ForEachPending calls fn for each entry in the outbox (pending, in flight
// or blocked), oldest first, until fn returns an error.
func (tx *Tx) ForEachPending(fn func(Entry) error) error {
	defer tx.guard()
	return tx.forEach(tx.outbox, 0, true, fn)
}

// ForEachDead calls fn for each dead letter, oldest first, until fn returns
// an error.
func (tx *Tx) ForEachDead(fn func(Entry) error) error {
	defer tx.guard()
	return tx.forEach(tx.dead, 0, false, fn)
}

// ForEachDone calls fn for each history entry (done or discarded) whose
// sequence is greater than after, in sequence order, until fn returns an
// error. Pass the last sequence seen to page through the history.
func (tx *Tx) ForEachDone(after uint64, fn func(Entry) error) error {
	defer tx.guard()
	return tx.forEach(tx.done, after, false, fn)
}

// Stats is a summary of the outbox, computed in O(1) and O(log n): from
// counters kept in the same transactions as the data and from the first key
// of the outbox and of the due index. It never scans the history.
type Stats struct {
	Orders   int // orders stored
	Pending  int // entries in the outbox: waiting, in flight or blocked
	InFlight int // entries leased right now
	Blocked  int // entries waiting behind a dead letter of their order
	Dead     int // dead letters
	Done     int // entries in the history (done or discarded)
	// OldestPending is when the oldest outbox entry was enqueued; zero if
	// the outbox is empty.
	OldestPending time.Time
	// NextDue is the earliest next-attempt time of an entry that can be
	// leased (it may be in the past); zero if none can.
	NextDue time.Time
}

// Stats returns the outbox summary as of this transaction.
func (tx *Tx) Stats() (Stats, error) {
	defer tx.guard()
	c, err := tx.counters()
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Orders: int(c.orders), Pending: int(c.pending), InFlight: int(c.inFlight), Blocked: int(c.blocked), Dead: int(c.dead), Done: int(c.done)}
	if k, _ := tx.outbox.Cursor().First(); k != nil {
		e, err := tx.get(tx.outbox, k)
		if err != nil {
			return Stats{}, err
		}
		st.OldestPending = e.Created
	}
	if k, _ := tx.due.Cursor().First(); k != nil {
		if len(k) != 16 {
			return Stats{}, tx.corrupt(fmt.Errorf("due key %x: %w", k, errBadRecord))
		}
		st.NextDue = fromUnixNano(int64(binary.BigEndian.Uint64(k)))
	}
	return st, nil
}

// Stats returns the outbox summary; see Tx.Stats.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.View(func(tx *Tx) error {
		var err error
		st, err = tx.Stats()
		return err
	})
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}

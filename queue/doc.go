/*
Package queue is Till's durable store: the orders of one till and the
transactional outbox of payment API operations they cause, in a single
bbolt file.

# Basics

Open the file once per process (DefaultPath gives the usual location):

	s, err := queue.Open(path, queue.Options{})
	switch {
	case errors.Is(err, queue.ErrAlreadyRunning):
		// err.Error() is "Till is already running with <file>"
	case errors.Is(err, queue.ErrCorrupt):
		// offer queue.MoveAside(path, now), then Open again
	}

A sale is saved together with the API calls it causes, in one transaction,
so that either both are on disk or neither is:

	err = s.Update(func(tx *queue.Tx) error {
		if err := tx.PutOrder(id, encodedOrder); err != nil {
			return err
		}
		_, err := tx.Enqueue(queue.NewEntry{OrderID: id, Op: queue.OpCreate, Payload: params})
		return err
	})

Orders are opaque bytes keyed by order id; the domain package encodes them.
Each outbox entry gets, at enqueue, a sequence number from the outbox
bucket's NextSequence (stored big-endian, so key order is creation order) and
an idempotency key "<order id>:<op>:<seq>" that it keeps for every retry,
across restarts.

The drainer loops on Lease, calls the API with the entry's idempotency key,
and then Complete (recording the answer on the order in the same
transaction), Reschedule (transient failure: next attempt time and error are
persisted) or DeadLetter (permanent failure). Lease returns ErrNoneDue, with
the time of the next due entry, when there is nothing to do; Options.OnChange
tells it when something new was committed.

Delivery is strictly ordered per order and independent across orders: only
the first remaining entry of an order is ever leasable, so a capture is never
sent before the create of the same order completed, and an order that is
being retried or is dead does not hold up any other order. A dead letter
blocks the later entries of its own order (reported as StateBlocked) until a
manager calls RequeueDead (same idempotency key, attempts reset) or
DiscardDead. Completed and discarded entries are kept in a history bucket.

Freeze stops new entries, for a till about to be moved to another lane or
payment service: its check runs in the transaction that sets the freeze, so
"nothing is unsent" stays true until Thaw or Close, and every later Enqueue
fails with ErrFrozen. Queued entries still drain.

A few small named values (a key of at most MaxValueKeyLen printable ASCII
bytes, a value of 1 to MaxValueLen bytes) live in the same file, so that
bookkeeping commits in the same transaction as the orders it concerns. The
payment API event cursor is the first: applying an event to its order and
moving the cursor past it is one Update, so after a crash either both
happened or neither did:

	err = s.Update(func(tx *queue.Tx) error {
		if err := tx.PutOrder(id, updatedOrder); err != nil {
			return err
		}
		return tx.PutValue("events/cursor", []byte(eventID))
	})

Tx.Value returns nil (and no error) for a name never written, the natural
"nothing yet" of a cursor. Like every committed Update, one that only
changed a named value calls Options.OnChange.

Stats reports orders, pending, in-flight, blocked, dead and history counts,
the oldest pending entry and the next due time in O(log n): the counts are
kept in the meta bucket by the same transactions that change the data, and
the two times come from the first key of the outbox and of the due index
(next-attempt time then sequence, big-endian).

# Layout

One bbolt file with the buckets meta (schema version, applied migrations,
open generation, counters), orders, outbox, by_order (order id, 0, sequence),
due (next attempt, sequence), in_flight, dead, done and, since schema 2, kv
(named values). Migrations run in order inside one write transaction at Open
and are recorded in meta; a file from a newer Till fails with ErrSchemaTooNew
and is not touched.

# Caveats

Leases live only as long as the Store: each Open starts a new generation and
makes every entry that was in flight due again (ErrLeaseLost for old leases).
An API call interrupted by a crash is therefore sent again, with the same
idempotency key, which is what makes that safe; the payment API keeps keys
for at least 24 hours, so a till that stays down longer may repeat a call the
API no longer recognises. Attempts counts leases, so it also counts attempts
cut short by a crash.

Only one Store may have a file open. The lock is bbolt's flock (LockFileEx on
Windows), which is taken per open file: a second Open of the same file fails
with ErrAlreadyRunning after Options.LockTimeout even inside one process.

Open validates cheaply (meta pages and checksums, file size against the page
high-water mark, schema, buckets, counters) so that it stays fast on a large
file; it does not read every page. Check reads everything and is what tests
and a maintenance screen should use. A damaged page met later makes bbolt
panic or fault; Update and View turn that into a *CorruptError naming the
file, while a panic in the caller's own function passes through unchanged.
If only one of bbolt's two meta pages is damaged, bbolt opens the file from
the other one, which is how it recovers from a write torn by a power cut.

A zero-length file holds nothing and is initialised as a new database; any
other file that does not open cleanly is reported corrupt and left as it is.
MoveAside renames it; nothing in this package deletes a database file.

Options.NoSync trades durability for speed and is for benchmarks and bulk
fixtures only. Error messages passed to Reschedule and DeadLetter are cut to
MaxLastErrorLen bytes and API secret keys in them are redacted, but callers
must still keep secrets out of payloads and order data.
*/
package queue

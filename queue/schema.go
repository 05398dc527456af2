package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Top-level buckets.
var (
	bucketMeta     = []byte("meta")      // schema, migrations, generation, counters
	bucketOrders   = []byte("orders")    // order id -> caller's bytes
	bucketOutbox   = []byte("outbox")    // seq -> entry (pending, in flight, blocked)
	bucketByOrder  = []byte("by_order")  // order id, 0, seq -> "" for outbox and dead entries
	bucketDue      = []byte("due")       // next attempt, seq -> "" for each order's leasable head
	bucketInFlight = []byte("in_flight") // seq -> "" for leased entries
	bucketDead     = []byte("dead")      // seq -> entry (dead letters)
	bucketDone     = []byte("done")      // seq -> entry (history: done and discarded)
	bucketKV       = []byte("kv")        // key -> caller's value (Tx.Value); schema 2
)

// Keys in the meta bucket.
var (
	keySchema   = []byte("schema")    // uint64: the schema version
	keyGen      = []byte("gen")       // uint64: incremented by every Open
	keyCounters = []byte("counters")  // the counters, see counters.encode
	keyMigrated = []byte("migrated/") // + 8-byte version -> time and name
)

// CurrentSchema is the schema version this build writes.
const CurrentSchema = 2

type migration struct {
	version uint64
	name    string
	apply   func(*bolt.Tx) error
}

// migrations run in order, all in one transaction, each recorded in meta.
// Append only.
var migrations = []migration{
	{1, "create orders, outbox, index, dead letter and history buckets", func(btx *bolt.Tx) error {
		for _, name := range [][]byte{bucketOrders, bucketOutbox, bucketByOrder, bucketDue, bucketInFlight, bucketDead, bucketDone} {
			if _, err := btx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return btx.Bucket(bucketMeta).Put(keyCounters, counters{}.encode())
	}},
	{2, "create kv bucket for small named values", func(btx *bolt.Tx) error {
		if _, err := btx.CreateBucket(bucketKV); err != nil {
			return fmt.Errorf("create bucket %s: %w", bucketKV, err)
		}
		return nil
	}},
}

var errNotTill = errors.New("not a Till database")

// schemaVersion reads the schema version; 0 means a fresh file with no
// buckets at all.
func schemaVersion(btx *bolt.Tx) (uint64, error) {
	meta := btx.Bucket(bucketMeta)
	if meta == nil {
		if k, _ := btx.Cursor().First(); k != nil {
			return 0, fmt.Errorf("%w: it has a bucket %q but no meta bucket", errNotTill, k)
		}
		return 0, nil
	}
	v := meta.Get(keySchema)
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: schema version is %d bytes", errNotTill, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// migrate brings the file to the last version in list. It runs inside the
// caller's write transaction, so either every step and its record in meta
// commit, or none does.
func migrate(btx *bolt.Tx, list []migration, now time.Time) error {
	ver, err := schemaVersion(btx)
	if err != nil {
		return err
	}
	if last := list[len(list)-1].version; ver > last {
		return fmt.Errorf("schema version %d, this Till knows up to %d: %w", ver, last, ErrSchemaTooNew)
	}
	meta := btx.Bucket(bucketMeta)
	if meta == nil {
		if meta, err = btx.CreateBucket(bucketMeta); err != nil {
			return fmt.Errorf("migrate: create meta bucket: %w", err)
		}
	}
	for _, m := range list {
		if m.version <= ver {
			continue
		}
		if m.version != ver+1 {
			return fmt.Errorf("migrate: no migration from schema %d to %d", ver, m.version)
		}
		if err := m.apply(btx); err != nil {
			return fmt.Errorf("migrate to schema %d (%s): %w", m.version, m.name, err)
		}
		ver = m.version
		rec := binary.AppendVarint(nil, now.UnixNano())
		rec = append(rec, m.name...)
		if err := meta.Put(binary.BigEndian.AppendUint64(append([]byte{}, keyMigrated...), ver), rec); err != nil {
			return fmt.Errorf("migrate: record schema %d: %w", ver, err)
		}
		if err := meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, ver)); err != nil {
			return fmt.Errorf("migrate: record schema %d: %w", ver, err)
		}
	}
	return nil
}

// Migration is a schema step recorded in the database.
type Migration struct {
	Version uint64
	Name    string
	Applied time.Time
}

// Migrations lists the schema steps applied to this database, oldest first.
func (tx *Tx) Migrations() ([]Migration, error) {
	defer tx.guard()
	var out []Migration
	c := tx.meta.Cursor()
	for k, v := c.Seek(keyMigrated); k != nil && len(k) == len(keyMigrated)+8 && string(k[:len(keyMigrated)]) == string(keyMigrated); k, v = c.Next() {
		at, n := binary.Varint(v)
		if n <= 0 {
			return nil, tx.corrupt(fmt.Errorf("migration record %x: %w", k, errBadRecord))
		}
		out = append(out, Migration{Version: binary.BigEndian.Uint64(k[len(keyMigrated):]), Name: string(v[n:]), Applied: fromUnixNano(at)})
	}
	return out, nil
}

// counters are kept in meta and updated in the same transaction as the
// buckets they count, so Stats is O(1).
type counters struct {
	orders, pending, inFlight, blocked, dead, done int64
}

const countersLen = 6 * 8

func (c counters) encode() []byte {
	b := make([]byte, 0, countersLen)
	for _, v := range [...]int64{c.orders, c.pending, c.inFlight, c.blocked, c.dead, c.done} {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func decodeCounters(b []byte) (counters, error) {
	if len(b) != countersLen {
		return counters{}, fmt.Errorf("%w: counters are %d bytes", errBadRecord, len(b))
	}
	var v [6]int64
	for i := range v {
		v[i] = int64(binary.BigEndian.Uint64(b[i*8:]))
		if v[i] < 0 {
			return counters{}, fmt.Errorf("%w: negative counter", errBadRecord)
		}
	}
	return counters{v[0], v[1], v[2], v[3], v[4], v[5]}, nil
}

func (tx *Tx) nextGeneration() (uint64, error) {
	var g uint64
	if v := tx.meta.Get(keyGen); len(v) == 8 {
		g = binary.BigEndian.Uint64(v)
	} else if v != nil {
		return 0, tx.corrupt(fmt.Errorf("generation: %w", errBadRecord))
	}
	g++
	if err := tx.meta.Put(keyGen, binary.BigEndian.AppendUint64(nil, g)); err != nil {
		return 0, fmt.Errorf("start generation: %w", err)
	}
	return g, nil
}

// reclaimLeases makes every leased entry due again. It runs in Open, so no
// lease of this generation exists yet.
func (tx *Tx) reclaimLeases() (int, error) {
	var seqs [][]byte
	if err := tx.inFlight.ForEach(func(k, _ []byte) error {
		seqs = append(seqs, append([]byte{}, k...))
		return nil
	}); err != nil {
		return 0, err
	}
	for _, k := range seqs {
		e, err := tx.get(tx.outbox, k)
		if err != nil {
			return 0, fmt.Errorf("reclaim lease: %w", err)
		}
		e.leaseGen = 0
		if err := tx.put(tx.outbox, &e); err != nil {
			return 0, err
		}
		if err := tx.due.Put(dueKey(e.NextAttempt, e.Seq), empty); err != nil {
			return 0, err
		}
		if err := tx.inFlight.Delete(k); err != nil {
			return 0, err
		}
		if err := tx.count(func(c *counters) { c.inFlight-- }); err != nil {
			return 0, err
		}
	}
	return len(seqs), nil
}

package queue

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Limits on named values (Tx.Value, Tx.PutValue).
const (
	// MaxValueKeyLen bounds the name of a value.
	MaxValueKeyLen = 128
	// MaxValueLen bounds a value: named values are small bookkeeping such
	// as a cursor, not documents.
	MaxValueLen = 64 << 10
)

// validValueKey reports why key cannot name a value: like an order id, it
// must be printable ASCII without spaces (0x21–0x7E), here 1 to
// MaxValueKeyLen bytes.
func validValueKey(key string) error {
	if key == "" || len(key) > MaxValueKeyLen {
		return fmt.Errorf("value key %q: length %d not in 1..%d: %w", clip(key, 40), len(key), MaxValueKeyLen, ErrInvalid)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("value key %q: byte %d is %#x, not printable ASCII: %w", clip(key, 40), i, c, ErrInvalid)
		}
	}
	return nil
}

// kvBucket returns the kv bucket. Open migrates every file to a schema
// that has it before any transaction of the caller runs, so a missing one
// means the file was damaged.
func (tx *Tx) kvBucket() (*bolt.Bucket, error) {
	if tx.kv == nil {
		return nil, tx.corrupt(fmt.Errorf("%w: bucket %q is missing", errNotTill, bucketKV))
	}
	return tx.kv, nil
}

// writable refuses writes in a View transaction with an error that names
// the operation and matches ErrInvalid.
func (tx *Tx) writable(op string) error {
	if !tx.btx.Writable() {
		return fmt.Errorf("%s: read-only transaction: %w: %w", op, ErrInvalid, berrors.ErrTxNotWritable)
	}
	return nil
}

// Value returns a copy of the value stored under key, or nil and no error
// when there is none: an absent value is the natural "nothing yet" of a
// cursor, not a failure. Since PutValue refuses empty values, a nil result
// always means absent. A key that could never be stored (see PutValue) is
// an error matching ErrInvalid. Value works in View and Update
// transactions; in Update it sees the transaction's own writes.
func (tx *Tx) Value(key string) ([]byte, error) {
	defer tx.guard()
	if err := validValueKey(key); err != nil {
		return nil, fmt.Errorf("get value: %w", err)
	}
	kv, err := tx.kvBucket()
	if err != nil {
		return nil, fmt.Errorf("get value %s: %w", key, err)
	}
	return bytes.Clone(kv.Get([]byte(key))), nil
}

// PutValue stores value under key, replacing what was there, as part of
// this transaction: it commits or rolls back together with the orders and
// outbox entries written in the same Update. This is how a cursor over the
// payment API's events moves in the same commit as the order change the
// event caused.
//
// key is 1 to MaxValueKeyLen bytes of printable ASCII without spaces;
// value is 1 to MaxValueLen bytes (use DeleteValue to remove a value). The
// store keeps its own copy of value, so the caller may reuse the slice at
// once. Anything else, and any call in a View transaction, is an error
// matching ErrInvalid that writes nothing.
func (tx *Tx) PutValue(key string, value []byte) error {
	defer tx.guard()
	if err := validValueKey(key); err != nil {
		return fmt.Errorf("put value: %w", err)
	}
	op := "put value " + key
	if len(value) == 0 {
		return fmt.Errorf("%s: empty value (use DeleteValue): %w", op, ErrInvalid)
	}
	if len(value) > MaxValueLen {
		return fmt.Errorf("%s: value of %d bytes exceeds %d: %w", op, len(value), MaxValueLen, ErrInvalid)
	}
	if err := tx.writable(op); err != nil {
		return err
	}
	kv, err := tx.kvBucket()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	// bbolt keeps a reference to the value until commit: give it our own.
	if err := kv.Put([]byte(key), bytes.Clone(value)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// DeleteValue removes the value stored under key, as part of this
// transaction. Deleting an absent value is not an error. An invalid key,
// or a call in a View transaction, is an error matching ErrInvalid.
func (tx *Tx) DeleteValue(key string) error {
	defer tx.guard()
	if err := validValueKey(key); err != nil {
		return fmt.Errorf("delete value: %w", err)
	}
	op := "delete value " + key
	if err := tx.writable(op); err != nil {
		return err
	}
	kv, err := tx.kvBucket()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := kv.Delete([]byte(key)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// ForEachValue calls fn with every value whose key starts with prefix, in
// key order, until fn returns an error (which ForEachValue returns). Keys
// sharing a prefix make a set of small values, each changed on its own
// (the items of a list that may grow past MaxValueLen in all). The slices
// are copies.
func (tx *Tx) ForEachValue(prefix string, fn func(key string, value []byte) error) error {
	defer tx.guard()
	kv, err := tx.kvBucket()
	if err != nil {
		return fmt.Errorf("values %s*: %w", prefix, err)
	}
	c := kv.Cursor()
	p := []byte(prefix)
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if err := fn(string(k), bytes.Clone(v)); err != nil {
			return err
		}
	}
	return nil
}

// checkValues is Check's part for the kv bucket.
func (tx *Tx) checkValues(add func(error) bool) {
	if tx.kv == nil {
		add(fmt.Errorf("%w: bucket %q is missing", errNotTill, bucketKV))
		return
	}
	if err := tx.kv.ForEach(func(k, v []byte) error {
		switch {
		case v == nil:
			add(fmt.Errorf("kv: key %q is a bucket", clip(string(k), 40)))
		case validValueKey(string(k)) != nil:
			add(fmt.Errorf("kv: %w", validValueKey(string(k))))
		case len(v) == 0 || len(v) > MaxValueLen:
			add(fmt.Errorf("kv: value %s is %d bytes, not 1..%d", k, len(v), MaxValueLen))
		}
		return nil
	}); err != nil {
		add(fmt.Errorf("kv: %w", err))
	}
}

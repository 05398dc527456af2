package queue

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

const cursorKey = "events/cursor"

// valueCases are the keys and values PutValue must accept or refuse; the
// fuzz test starts from them.
var valueCases = []struct {
	name  string
	key   string
	value []byte
	ok    bool
}{
	{"cursor", cursorKey, []byte("evt_1QxY"), true},
	{"one byte key and value", "k", []byte{0}, true},
	{"longest key", strings.Repeat("k", MaxValueKeyLen), []byte("v"), true},
	{"largest value", "big", bytes.Repeat([]byte{0xAB}, MaxValueLen), true},
	{"punctuation key", "!~#:/", []byte("v"), true},
	{"empty key", "", []byte("v"), false},
	{"key too long", strings.Repeat("k", MaxValueKeyLen+1), []byte("v"), false},
	{"space in key", "events cursor", []byte("v"), false},
	{"control byte in key", "events\ncursor", []byte("v"), false},
	{"NUL in key", "a\x00b", []byte("v"), false},
	{"non-ASCII key", "curseur-événements", []byte("v"), false},
	{"nil value", "nil", nil, false},
	{"empty value", "empty", []byte{}, false},
	{"value too large", "huge", make([]byte, MaxValueLen+1), false},
}

func mustValue(t testing.TB, s *Store, key string) []byte {
	t.Helper()
	var v []byte
	if err := s.View(func(tx *Tx) error {
		var err error
		v, err = tx.Value(key)
		return err
	}); err != nil {
		t.Fatalf("Value(%s): %v", key, err)
	}
	return v
}

func TestValueRoundTrip(t *testing.T) {
	s := MustOpen(t, nil)
	if v := mustValue(t, s, cursorKey); v != nil {
		t.Fatalf("absent value = %q, want nil", v)
	}
	in := []byte("evt_1")
	if err := s.Update(func(tx *Tx) error {
		if err := tx.PutValue(cursorKey, in); err != nil {
			return err
		}
		in[4] = '9' // the store kept its own copy
		v, err := tx.Value(cursorKey)
		if err != nil {
			return err
		}
		if string(v) != "evt_1" {
			t.Errorf("Value in the writing transaction = %q", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := mustValue(t, s, cursorKey)
	if string(got) != "evt_1" {
		t.Fatalf("Value = %q, want evt_1", got)
	}
	got[0] = 'X' // a copy: changing it changes nothing stored
	if v := mustValue(t, s, cursorKey); string(v) != "evt_1" {
		t.Fatalf("Value after changing the returned slice = %q", v)
	}

	if err := s.Update(func(tx *Tx) error { return tx.PutValue(cursorKey, []byte("evt_2")) }); err != nil {
		t.Fatal(err)
	}
	if v := mustValue(t, s, cursorKey); string(v) != "evt_2" {
		t.Fatalf("replaced value = %q", v)
	}
	if v := mustValue(t, s, "other"); v != nil {
		t.Fatalf("unrelated key = %q", v)
	}

	for range 2 { // deleting an absent value is fine too
		if err := s.Update(func(tx *Tx) error { return tx.DeleteValue(cursorKey) }); err != nil {
			t.Fatal(err)
		}
		if v := mustValue(t, s, cursorKey); v != nil {
			t.Fatalf("deleted value = %q", v)
		}
	}
	// Named values are not orders.
	if st := mustStats(t, s); st != (Stats{}) {
		t.Fatalf("stats %+v", st)
	}
}

func TestValueInvalid(t *testing.T) {
	s := MustOpen(t, nil)
	for _, tc := range valueCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.key != "" && validValueKey(tc.key) == nil {
				// A value already there must survive a refused replacement.
				if err := s.Update(func(tx *Tx) error { return tx.PutValue(tc.key, []byte("before")) }); err != nil {
					t.Fatal(err)
				}
			}
			err := s.Update(func(tx *Tx) error { return tx.PutValue(tc.key, tc.value) })
			if tc.ok {
				if err != nil {
					t.Fatalf("PutValue = %v", err)
				}
				if v := mustValue(t, s, tc.key); !bytes.Equal(v, tc.value) {
					t.Fatalf("Value = %d bytes, want %d", len(v), len(tc.value))
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "put value") {
				t.Fatalf("PutValue = %v, want ErrInvalid naming the operation", err)
			}
			if validValueKey(tc.key) != nil {
				for name, f := range map[string]func(*Tx) error{
					"Value":       func(tx *Tx) error { _, err := tx.Value(tc.key); return err },
					"DeleteValue": func(tx *Tx) error { return tx.DeleteValue(tc.key) },
				} {
					if err := s.Update(f); !errors.Is(err, ErrInvalid) {
						t.Errorf("%s = %v, want ErrInvalid", name, err)
					}
				}
				return
			}
			if v := mustValue(t, s, tc.key); string(v) != "before" {
				t.Fatalf("value after a refused PutValue = %q", v)
			}
		})
	}
}

// TestValueRefusedLosesNothing: a refused PutValue does not spoil the
// rest of the transaction when the caller chooses to go on.
func TestValueRefusedLosesNothing(t *testing.T) {
	s := MustOpen(t, nil)
	if err := s.Update(func(tx *Tx) error {
		if err := tx.PutOrder("lane1-01", []byte("order")); err != nil {
			return err
		}
		if err := tx.PutValue("bad key", []byte("v")); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutValue = %v", err)
		}
		return tx.PutValue(cursorKey, []byte("evt_1"))
	}); err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, s); st.Orders != 1 {
		t.Fatalf("stats %+v", st)
	}
	if v := mustValue(t, s, cursorKey); string(v) != "evt_1" {
		t.Fatalf("Value = %q", v)
	}
}

func TestValueReadOnly(t *testing.T) {
	s := MustOpen(t, nil)
	if err := s.Update(func(tx *Tx) error { return tx.PutValue(cursorKey, []byte("evt_1")) }); err != nil {
		t.Fatal(err)
	}
	err := s.View(func(tx *Tx) error {
		for name, err := range map[string]error{
			"PutValue":    tx.PutValue(cursorKey, []byte("evt_2")),
			"DeleteValue": tx.DeleteValue(cursorKey),
		} {
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, berrors.ErrTxNotWritable) || !strings.Contains(err.Error(), "read-only transaction") {
				t.Errorf("%s in View = %v", name, err)
			}
		}
		v, err := tx.Value(cursorKey)
		if err != nil || string(v) != "evt_1" {
			t.Errorf("Value in View = %q, %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := mustValue(t, s, cursorKey); string(v) != "evt_1" {
		t.Fatalf("Value after the refused writes = %q", v)
	}
}

func TestValueSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.db")
	s := MustOpenPath(t, path, nil)
	if err := s.Update(func(tx *Tx) error { return tx.PutValue(cursorKey, []byte("evt_1")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = MustOpenPath(t, path, nil)
	if v := mustValue(t, s, cursorKey); string(v) != "evt_1" {
		t.Fatalf("Value after reopen = %q", v)
	}
}

// TestValueCommitsWithOrder: the cursor and the order change it stands for
// commit together and roll back together.
func TestValueCommitsWithOrder(t *testing.T) {
	s := MustOpen(t, nil)
	apply := func(eventID string, fail error) error {
		return s.Update(func(tx *Tx) error {
			id := "order-" + eventID
			if err := tx.PutOrder(id, []byte("paid by "+eventID)); err != nil {
				return err
			}
			if _, err := tx.Enqueue(NewEntry{OrderID: id, Op: OpCapture}); err != nil {
				return err
			}
			if err := tx.PutValue(cursorKey, []byte(eventID)); err != nil {
				return err
			}
			return fail
		})
	}
	if err := apply("evt_1", nil); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("apply event: order is locked")
	if err := apply("evt_2", failed); !errors.Is(err, failed) {
		t.Fatalf("Update = %v", err)
	}
	if v := mustValue(t, s, cursorKey); string(v) != "evt_1" {
		t.Fatalf("cursor after the rolled back transaction = %q, want evt_1", v)
	}
	if err := s.View(func(tx *Tx) error {
		if _, err := tx.Order("order-evt_2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("rolled back order: %v", err)
		}
		_, err := tx.Order("order-evt_1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, s); st.Orders != 1 || st.Pending != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := apply("evt_2", nil); err != nil {
		t.Fatal(err)
	}
	if v := mustValue(t, s, cursorKey); string(v) != "evt_2" {
		t.Fatalf("cursor = %q, want evt_2", v)
	}
}

// TestValueOnChange: like any other committed write, a commit that only
// changes a named value calls OnChange; a rolled back one does not.
func TestValueOnChange(t *testing.T) {
	changed := make(chan struct{}, 1)
	s, err := Open(filepath.Join(t.TempDir(), "till.db"), Options{Now: newClock().Now, OnChange: func() {
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
	for _, tc := range []struct {
		name string
		fn   func(*Tx) error
		want bool
	}{
		{"put", func(tx *Tx) error { return tx.PutValue(cursorKey, []byte("evt_1")) }, true},
		{"rolled back", func(tx *Tx) error {
			if err := tx.PutValue(cursorKey, []byte("evt_2")); err != nil {
				return err
			}
			return errors.New("no")
		}, false},
		{"delete", func(tx *Tx) error { return tx.DeleteValue(cursorKey) }, true},
	} {
		_ = s.Update(tc.fn)
		select {
		case <-changed:
			if !tc.want {
				t.Errorf("%s: OnChange called", tc.name)
			}
		default:
			if tc.want {
				t.Errorf("%s: OnChange not called", tc.name)
			}
		}
	}
}

// dumpBuckets copies the contents of the named top-level buckets.
func dumpBuckets(t *testing.T, btx *bolt.Tx, names ...[]byte) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, name := range names {
		b := btx.Bucket(name)
		if b == nil {
			t.Fatalf("bucket %s missing", name)
		}
		m := map[string]string{}
		if err := b.ForEach(func(k, v []byte) error { m[string(k)] = string(v); return nil }); err != nil {
			t.Fatal(err)
		}
		out[string(name)] = m
	}
	return out
}

// TestMigrateSchema1 opens a file written by a Till that knew only
// migration 1, holding orders and outbox entries: Open adds the kv bucket,
// records migration 2 and leaves everything else as it was.
func TestMigrateSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.db")
	c := newClock()
	v1At := c.Now()
	data := []string{"orders", "outbox", "by_order", "due", "in_flight", "dead", "done"}
	buckets := [][]byte{bucketOrders, bucketOutbox, bucketByOrder, bucketDue, bucketInFlight, bucketDead, bucketDone}
	var before map[string]map[string]string
	var counters []byte

	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(btx *bolt.Tx) error {
		if err := migrate(btx, migrations[:1], v1At); err != nil {
			return err
		}
		tx, err := (&Store{path: path, now: c.Now}).newTx(btx)
		if err != nil {
			return err
		}
		for i := range 3 {
			id := fmt.Sprintf("lane1-%02d", i)
			if err := tx.PutOrder(id, []byte("order "+id)); err != nil {
				return err
			}
			for _, op := range []Op{OpCreate, OpCapture} {
				if _, err := tx.Enqueue(NewEntry{OrderID: id, Op: op, Payload: []byte("amount=1200")}); err != nil {
					return err
				}
			}
		}
		return tx.flush()
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(btx *bolt.Tx) error {
		if btx.Bucket(bucketKV) != nil {
			t.Fatal("the schema 1 fixture has a kv bucket")
		}
		if v, err := schemaVersion(btx); err != nil || v != 1 {
			t.Fatalf("fixture schema %d, %v", v, err)
		}
		before = dumpBuckets(t, btx, buckets...)
		counters = bytes.Clone(btx.Bucket(bucketMeta).Get(keyCounters))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(before["orders"]) != 3 || len(before["outbox"]) != 6 {
		t.Fatalf("fixture holds %d orders, %d entries", len(before["orders"]), len(before["outbox"]))
	}

	v2At := c.Advance(time.Hour)
	s := MustOpenPath(t, path, c)
	if err := s.raw(false, func(btx *bolt.Tx) error {
		if btx.Bucket(bucketKV) == nil {
			t.Error("no kv bucket after Open")
		}
		after := dumpBuckets(t, btx, buckets...)
		for _, name := range data {
			if fmt.Sprint(after[name]) != fmt.Sprint(before[name]) {
				t.Errorf("bucket %s changed by the migration", name)
			}
		}
		if !bytes.Equal(btx.Bucket(bucketMeta).Get(keyCounters), counters) {
			t.Error("counters changed by the migration")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.View(func(tx *Tx) error {
		ms, err := tx.Migrations()
		if err != nil {
			return err
		}
		if len(ms) != 2 || ms[0].Version != 1 || !ms[0].Applied.Equal(v1At) ||
			ms[1].Version != 2 || ms[1].Name != "create kv bucket for small named values" || !ms[1].Applied.Equal(v2At) {
			t.Errorf("Migrations = %+v", ms)
		}
		v, err := tx.Value(cursorKey)
		if err != nil || v != nil {
			t.Errorf("Value on a migrated file = %q, %v", v, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(tx *Tx) error { return tx.PutValue(cursorKey, []byte("evt_1")) }); err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, s); st.Orders != 3 || st.Pending != 6 {
		t.Fatalf("stats after migration %+v", st)
	}
	// The outbox still works on the migrated entries.
	l := mustLease(t, s, c.Now())
	if l.Entry.OrderID != "lane1-00" || l.Entry.Op != OpCreate {
		t.Fatalf("leased %+v", l.Entry)
	}
	if err := s.Complete(l, nil); err != nil {
		t.Fatal(err)
	}
}

// TestCheckFindsBadValues damages the kv bucket behind the store's back.
func TestCheckFindsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(kv *bolt.Bucket) error
		want   string
	}{
		{"invalid key", func(kv *bolt.Bucket) error { return kv.Put([]byte("a b"), []byte("v")) }, "not printable ASCII"},
		{"empty value", func(kv *bolt.Bucket) error { return kv.Put([]byte("k"), []byte{}) }, "value k is 0 bytes"},
		{"oversized value", func(kv *bolt.Bucket) error { return kv.Put([]byte("k"), make([]byte, MaxValueLen+1)) }, "value k is 65537 bytes"},
		{"nested bucket", func(kv *bolt.Bucket) error { _, err := kv.CreateBucket([]byte("sub")); return err }, `key "sub" is a bucket`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := populated(t, 3)
			rawUpdate(t, path, func(btx *bolt.Tx) error { return tc.damage(btx.Bucket(bucketKV)) })
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Check(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestMissingKVBucket: a schema 2 file whose kv bucket was deleted opens
// (Open's cheap validation accepts schema 1 files, which lack it), but
// named values then report corruption and so does Check.
func TestMissingKVBucket(t *testing.T) {
	path := populated(t, 3)
	rawUpdate(t, path, func(btx *bolt.Tx) error { return btx.DeleteBucket(bucketKV) })
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ce *CorruptError
	if err := s.View(func(tx *Tx) error { _, err := tx.Value(cursorKey); return err }); !errors.As(err, &ce) || ce.Path != path {
		t.Fatalf("Value = %v, want a CorruptError", err)
	}
	if err := s.Update(func(tx *Tx) error { return tx.PutValue(cursorKey, []byte("v")) }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("PutValue = %v, want ErrCorrupt", err)
	}
	if err := s.Check(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `bucket "kv" is missing`) {
		t.Fatalf("Check = %v", err)
	}
}

// FuzzPutValue: any key and value either round-trip or are refused with
// ErrInvalid leaving the stored value as it was.
func FuzzPutValue(f *testing.F) {
	for _, tc := range valueCases {
		f.Add(tc.key, tc.value)
	}
	s, err := Open(filepath.Join(f.TempDir(), "till.db"), Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := s.Check(); err != nil {
			f.Errorf("consistency check at cleanup: %v", err)
		}
		if err := s.Close(); err != nil {
			f.Error(err)
		}
	})
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		validKey := validValueKey(key) == nil
		var before []byte
		if validKey {
			before = mustValue(t, s, key)
		}
		err := s.Update(func(tx *Tx) error { return tx.PutValue(key, value) })
		want := validKey && len(value) > 0 && len(value) <= MaxValueLen
		switch {
		case want && err != nil:
			t.Fatalf("PutValue(%q, %d bytes) = %v", key, len(value), err)
		case !want && !errors.Is(err, ErrInvalid):
			t.Fatalf("PutValue(%q, %d bytes) = %v, want ErrInvalid", key, len(value), err)
		case want:
			if got := mustValue(t, s, key); !bytes.Equal(got, value) {
				t.Fatalf("Value(%q) = %d bytes, want %d", key, len(got), len(value))
			}
		case validKey:
			if got := mustValue(t, s, key); !bytes.Equal(got, before) {
				t.Fatalf("refused PutValue changed %q", key)
			}
		}
	})
}

// BenchmarkApplyEvent measures the transaction an event poller commits
// per event: an order update and the cursor move.
func BenchmarkApplyEvent(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "till.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	i := 0
	percentiles(b, nil, func() error {
		i++
		return s.Update(func(tx *Tx) error {
			if err := tx.PutOrder(fmt.Sprintf("lane1-%05d", i%1000), benchOrder); err != nil {
				return err
			}
			return tx.PutValue(cursorKey, fmt.Appendf(nil, "evt_%024d", i))
		})
	}, nil)
}

// BenchmarkValue measures reading the cursor in a View.
func BenchmarkValue(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "till.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(func(tx *Tx) error { return tx.PutValue(cursorKey, []byte("evt_1QxYabcdefghijklmnop")) }); err != nil {
		b.Fatal(err)
	}
	percentiles(b, nil, func() error {
		return s.View(func(tx *Tx) error {
			_, err := tx.Value(cursorKey)
			return err
		})
	}, nil)
}

func TestForEachValuePrefix(t *testing.T) {
	s := MustOpen(t, newClock())
	err := s.Update(func(tx *Tx) error {
		for _, k := range []string{"list/b", "list/a", "lisu", "list", "other/a"} {
			if err := tx.PutValue(k, []byte("v-"+k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := s.View(func(tx *Tx) error {
		return tx.ForEachValue("list/", func(k string, v []byte) error {
			if string(v) != "v-"+k {
				t.Errorf("%s = %q", k, v)
			}
			got = append(got, k)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "list/a,list/b" {
		t.Fatalf("prefix list/: %v", got)
	}
	stop := errors.New("stop")
	if err := s.View(func(tx *Tx) error {
		return tx.ForEachValue("", func(string, []byte) error { return stop })
	}); !errors.Is(err, stop) {
		t.Fatalf("the callback's error: %v", err)
	}
}

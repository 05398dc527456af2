package queue

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Fixture sizes; shrink them for a quick run, e.g.
// go test -run '^$' -bench . -benchmem ./queue -queue.history=5000 -queue.orders=5000
var (
	benchHistory = flag.Int("queue.history", 1_000_000, "completed entries in the large history of BenchmarkLookup")
	benchOrders  = flag.Int("queue.orders", 1_000_000, "orders in the database of BenchmarkOpen")
)

// percentiles times each iteration of op and reports p50 and p99 next to
// the mean that the testing package prints. before and after (either may
// be nil) run around each op with the timer stopped and are not sampled.
func percentiles(b *testing.B, before, op, after func() error) {
	b.Helper()
	var ds []time.Duration
	b.ReportAllocs()
	untimed := func(f func() error) {
		if f == nil {
			return
		}
		b.StopTimer()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	for b.Loop() {
		untimed(before)
		t0 := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
		untimed(after)
	}
	slices.Sort(ds)
	at := func(p int) float64 { return float64(ds[max((len(ds)*p+99)/100-1, 0)]) }
	b.ReportMetric(at(50), "p50-ns")
	b.ReportMetric(at(99), "p99-ns")
}

var benchOrder = bytes.Repeat([]byte("o"), 1024)

const benchPayload = "amount=1250&currency=chf&capture_method=manual&payment_method_types[]=card_present&metadata[lane]=lane1"

func putBenchSale(tx *Tx, id string) error {
	if err := tx.PutOrder(id, benchOrder); err != nil {
		return err
	}
	for _, op := range []Op{OpCreate, OpCapture} {
		if _, err := tx.Enqueue(NewEntry{OrderID: id, Op: op, Payload: []byte(benchPayload)}); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkCommit: a sale (order of 1 KiB and its create and capture
// entries, fsynced) and the floor, a raw bbolt Put and commit of as many
// bytes. cmd/till-storebench samples the two alternately and prints the
// ratio.
func BenchmarkCommit(b *testing.B) {
	e := Entry{OrderID: "lane1-00000000", Op: OpCreate, Payload: []byte(benchPayload), IdempotencyKey: "lane1-00000000:create:1"}
	size := len(benchOrder) + 2*len(encodeEntry(&e))
	b.Run(fmt.Sprintf("floor-raw-bbolt-%dB", size), func(b *testing.B) {
		db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		blob := bytes.Repeat([]byte("r"), size)
		b.SetBytes(int64(size))
		percentiles(b, nil, func() error {
			return db.Update(func(tx *bolt.Tx) error {
				bk, err := tx.CreateBucketIfNotExists([]byte("raw"))
				if err != nil {
					return err
				}
				seq, _ := bk.NextSequence()
				return bk.Put(seqKey(seq), blob)
			})
		}, nil)
	})
	for _, drain := range []bool{true, false} {
		name := "sale-outbox-drained"
		if !drain {
			name = "sale-offline-outbox-growing"
		}
		b.Run(name, func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "till.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(int64(size))
			i := 0
			sale := func() error {
				i++
				id := fmt.Sprintf("lane1-%08d", i)
				return s.Update(func(tx *Tx) error { return putBenchSale(tx, id) })
			}
			var drainer func() error // the drainer's work is not part of the sale
			if drain {
				drainer = func() error {
					for range 2 {
						l, err := s.Lease(time.Now())
						if err != nil {
							return err
						}
						if err := s.Complete(l, nil); err != nil {
							return err
						}
					}
					return nil
				}
			}
			percentiles(b, nil, sale, drainer)
		})
	}
}

// fillHistory completes h entries through the outbox in batches of 10k
// without fsync, then leaves one entry waiting an hour.
func fillHistory(b *testing.B, path string, h int, now time.Time) {
	b.Helper()
	s, err := Open(path, Options{NoSync: true, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for done := 0; done < h; {
		k := min(10_000, h-done)
		if err := s.Update(func(tx *Tx) error {
			for j := range k {
				id := fmt.Sprintf("lane1-%09d", done+j)
				if err := tx.PutOrder(id, []byte("order")); err != nil {
					return err
				}
				if _, err := tx.Enqueue(NewEntry{OrderID: id, Op: OpCreate}); err != nil {
					return err
				}
			}
			for range k {
				l, err := tx.Lease(now)
				if err != nil {
					return err
				}
				if err := tx.Complete(l); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		done += k
	}
	if err := s.Update(func(tx *Tx) error {
		if err := tx.PutOrder("lane1-waiting", []byte("order")); err != nil {
			return err
		}
		_, err := tx.Enqueue(NewEntry{OrderID: "lane1-waiting", Op: OpCapture, NotBefore: now.Add(time.Hour)})
		return err
	}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLookup: Stats and the next-due lookup (Lease with nothing due)
// with a small and a large history of completed entries. Both should cost
// the same at both sizes.
func BenchmarkLookup(b *testing.B) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, h := range []int{1000, *benchHistory} {
		path := filepath.Join(b.TempDir(), "till.db")
		fillHistory(b, path, h, now)
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if st, err := s.Stats(); err != nil || st.Done != h {
			b.Fatalf("fixture: %+v %v", st, err)
		}
		b.Run(fmt.Sprintf("history=%d/stats", h), func(b *testing.B) {
			percentiles(b, nil, func() error { _, err := s.Stats(); return err }, nil)
		})
		b.Run(fmt.Sprintf("history=%d/next-due", h), func(b *testing.B) {
			percentiles(b, nil, func() error {
				if _, err := s.Lease(now); !errors.Is(err, ErrNoneDue) {
					return fmt.Errorf("lease: %v", err)
				}
				return nil
			}, nil)
		})
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen opens (and closes) a database holding many orders of 512
// bytes. Open validates read-only, reopens read-write and commits one
// fsynced transaction (the new generation).
func BenchmarkOpen(b *testing.B) {
	n := *benchOrders
	path := filepath.Join(b.TempDir(), "till.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("o"), 512)
	for done := 0; done < n; {
		k := min(20_000, n-done)
		if err := s.Update(func(tx *Tx) error {
			for j := range k {
				if err := tx.PutOrder(fmt.Sprintf("lane1-%09d", done+j), data); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		done += k
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Run(fmt.Sprintf("orders=%d", n), func(b *testing.B) {
		percentiles(b, nil, func() error {
			s, err := Open(path, Options{})
			if err != nil {
				return err
			}
			return s.Close()
		}, nil)
	})
}

// BenchmarkDrainCycle: one entry leased and completed, two fsynced
// transactions, as the drainer does per API call.
func BenchmarkDrainCycle(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "till.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	i := 0
	sale := func() error {
		i++
		id := fmt.Sprintf("lane1-%08d", i)
		return s.Update(func(tx *Tx) error { return enqueueBench(tx, id) })
	}
	percentiles(b, sale, func() error {
		l, err := s.Lease(time.Now())
		if err != nil {
			return err
		}
		return s.Complete(l, nil)
	}, nil)
}

func enqueueBench(tx *Tx, id string) error {
	if err := tx.PutOrder(id, benchOrder); err != nil {
		return err
	}
	_, err := tx.Enqueue(NewEntry{OrderID: id, Op: OpCreate, Payload: []byte(benchPayload)})
	return err
}

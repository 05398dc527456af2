// Command till-storebench measures Till's store on the disk it runs on and
// prints a table of percentiles:
//
//   - committing a sale (an order of about 1 KiB and its create and capture
//     outbox entries, one fsynced transaction) against the floor, a raw
//     bbolt Put and commit of the same number of bytes, sampled alternately
//     in the same run on the same disk;
//   - Stats and the next-due lookup (Lease when nothing is due) with a small
//     and a large history of completed entries;
//   - opening a database holding many orders.
//
// Fixtures are filled with Options.NoSync in large batches; every measured
// operation runs with fsync, as in production. Usage:
//
//	go run ./cmd/till-storebench                     # full run: 1M history, 1M orders
//	go run ./cmd/till-storebench -history 2000 -orders 2000 -n 50   # smoke run
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tillpos/till/queue"
)

func main() {
	var (
		dir      = flag.String("dir", "", "directory for the database files (default: a new temporary directory, removed afterwards)")
		n        = flag.Int("n", 2000, "samples per commit, stats and next-due measurement")
		small    = flag.Int("small", 1000, "completed entries in the small history")
		history  = flag.Int("history", 1_000_000, "completed entries in the large history")
		orders   = flag.Int("orders", 1_000_000, "orders in the database that is opened")
		opens    = flag.Int("opens", 20, "samples of Open")
		keep     = flag.Bool("keep", false, "keep the database files")
		progress = flag.Bool("v", false, "report fixture progress on stderr")
	)
	flag.Parse()
	if err := run(os.Stdout, config{*dir, *n, *small, *history, *orders, *opens, *keep, *progress}); err != nil {
		fmt.Fprintln(os.Stderr, "till-storebench:", err)
		os.Exit(1)
	}
}

type config struct {
	dir                              string
	n, small, history, orders, opens int
	keep, verbose                    bool
}

type row struct {
	name     string
	n        int
	p50, p99 time.Duration
	note     string
}

func run(w io.Writer, c config) (err error) {
	if c.n < 1 || c.opens < 1 || c.small < 0 || c.history < 0 || c.orders < 0 {
		return errors.New("counts must be positive")
	}
	dir := c.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "till-storebench-"); err != nil {
			return err
		}
		if !c.keep {
			defer os.RemoveAll(dir)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	logf := func(format string, args ...any) {
		if c.verbose {
			fmt.Fprintf(os.Stderr, format+"\n", args...)
		}
	}
	var rows []row

	// (a) sale commit vs raw bbolt floor, interleaved; once with a drainer
	// keeping up (the usual case) and once offline, the outbox growing.
	for _, drain := range []bool{true, false} {
		sale, floor, saleBytes, err := commitBench(dir, c.n, drain)
		if err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		how := "outbox drained"
		if !drain {
			how = "offline, outbox growing"
		}
		fp50, sp50 := pct(floor, 50), pct(sale, 50)
		rows = append(rows,
			row{fmt.Sprintf("commit: raw bbolt Put of %d B (floor)", saleBytes), c.n, fp50, pct(floor, 99), ""},
			row{"commit: sale, order 1 KiB + 2 entries, " + how, c.n, sp50, pct(sale, 99),
				fmt.Sprintf("p50 %.2fx floor, p99 %.2fx", float64(sp50)/float64(fp50), float64(pct(sale, 99))/float64(pct(floor, 99)))},
		)
	}

	// (b) Stats and next-due lookup with a small and a large history.
	for i, h := range []int{c.small, c.history} {
		logf("filling a history of %d completed entries", h)
		path := filepath.Join(dir, fmt.Sprintf("history-%d.db", i))
		_ = os.Remove(path)
		st, next, err := lookupBench(path, h, c.n)
		if err != nil {
			return fmt.Errorf("history %d: %w", h, err)
		}
		rows = append(rows,
			row{fmt.Sprintf("Stats(), history=%s", count(h)), c.n, pct(st, 50), pct(st, 99), ""},
			row{fmt.Sprintf("next due (Lease, none due), history=%s", count(h)), c.n, pct(next, 50), pct(next, 99), ""},
		)
	}

	// (c) Open of a database holding many orders.
	logf("filling %d orders", c.orders)
	_ = os.Remove(filepath.Join(dir, "orders.db"))
	open, size, err := openBench(filepath.Join(dir, "orders.db"), c.orders, c.opens)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	rows = append(rows, row{fmt.Sprintf("Open+Close, orders=%s", count(c.orders)), c.opens, pct(open, 50), pct(open, 99), fmt.Sprintf("file %d MiB", size>>20)})

	fmt.Fprintf(w, "till-storebench  dir=%s  %s\n\n", dir, time.Now().UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measurement\tn\tp50\tp99\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", r.name, r.n, dur(r.p50), dur(r.p99), r.note)
	}
	return tw.Flush()
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func dur(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2f µs", float64(d)/1e3)
	}
}

// pct returns the p-th percentile (nearest rank) of samples.
func pct(samples []time.Duration, p int) time.Duration {
	s := slices.Clone(samples)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

var order = bytes.Repeat([]byte("o"), 1024)

func putSale(tx *queue.Tx, id string, data []byte) error {
	if err := tx.PutOrder(id, data); err != nil {
		return err
	}
	for _, op := range []queue.Op{queue.OpCreate, queue.OpCapture} {
		if _, err := tx.Enqueue(queue.NewEntry{OrderID: id, Op: op, Payload: []byte("amount=1250&currency=chf&capture_method=manual&payment_method_types[]=card_present&metadata[lane]=lane1")}); err != nil {
			return err
		}
	}
	return nil
}

// commitBench alternates one sale commit and one raw bbolt commit of the
// same number of bytes, so both see the same disk conditions.
func commitBench(dir string, n int, drain bool) (sale, floor []time.Duration, saleBytes int, err error) {
	_ = os.Remove(filepath.Join(dir, "commit.db"))
	_ = os.Remove(filepath.Join(dir, "floor.db"))
	s, err := queue.Open(filepath.Join(dir, "commit.db"), queue.Options{})
	if err != nil {
		return nil, nil, 0, err
	}
	defer s.Close()
	raw, err := bolt.Open(filepath.Join(dir, "floor.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, nil, 0, err
	}
	defer raw.Close()
	if err := raw.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("raw")); return err }); err != nil {
		return nil, nil, 0, err
	}
	// Bytes of one sale as stored: the order and its two entries.
	if err := s.Update(func(tx *queue.Tx) error { return putSale(tx, "lane1-size", order) }); err != nil {
		return nil, nil, 0, err
	}
	if err := s.View(func(tx *queue.Tx) error {
		es, err := tx.OrderEntries("lane1-size")
		saleBytes = len(order)
		for _, e := range es {
			saleBytes += len(e.Payload) + len(e.OrderID) + len(e.IdempotencyKey) + 16
		}
		return err
	}); err != nil {
		return nil, nil, 0, err
	}
	blob := bytes.Repeat([]byte("r"), saleBytes)
	for i := range n + n/10 { // the first tenth warms up and is dropped
		id := fmt.Sprintf("lane1-%08d", i)
		t0 := time.Now()
		if err := s.Update(func(tx *queue.Tx) error { return putSale(tx, id, order) }); err != nil {
			return nil, nil, 0, err
		}
		d1 := time.Since(t0)
		t0 = time.Now()
		if err := raw.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("raw"))
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			return b.Put(fmt.Appendf(nil, "%016x", seq), blob)
		}); err != nil {
			return nil, nil, 0, err
		}
		d2 := time.Since(t0)
		if i >= n/10 {
			sale, floor = append(sale, d1), append(floor, d2)
		}
		if drain { // untimed: the drainer completes both entries
			for range 2 {
				l, err := s.Lease(time.Now())
				if err != nil {
					return nil, nil, 0, err
				}
				if err := s.Complete(l, nil); err != nil {
					return nil, nil, 0, err
				}
			}
		}
	}
	return sale, floor, saleBytes, nil
}

// fillHistory puts h sales through the outbox and completes all their
// entries, in batches, without fsync; then it leaves one order whose entry
// waits an hour, so there is a next due time but nothing due.
func fillHistory(path string, h int, now time.Time) error {
	s, err := queue.Open(path, queue.Options{NoSync: true, Now: func() time.Time { return now }})
	if err != nil {
		return err
	}
	defer s.Close()
	small := []byte("order")
	const batch = 10_000
	for done := 0; done < h; {
		k := min(batch, h-done)
		if err := s.Update(func(tx *queue.Tx) error {
			for j := range k {
				id := fmt.Sprintf("lane1-%09d", done+j)
				if err := tx.PutOrder(id, small); err != nil {
					return err
				}
				if _, err := tx.Enqueue(queue.NewEntry{OrderID: id, Op: queue.OpCreate}); err != nil {
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
			return err
		}
		done += k
	}
	return s.Update(func(tx *queue.Tx) error {
		if err := tx.PutOrder("lane1-waiting", small); err != nil {
			return err
		}
		_, err := tx.Enqueue(queue.NewEntry{OrderID: "lane1-waiting", Op: queue.OpCapture, NotBefore: now.Add(time.Hour)})
		return err
	})
}

func lookupBench(path string, h, n int) (stats, next []time.Duration, err error) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	if err := fillHistory(path, h, now); err != nil {
		return nil, nil, err
	}
	s, err := queue.Open(path, queue.Options{})
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	st, err := s.Stats()
	if err != nil {
		return nil, nil, err
	}
	if st.Done != h || st.Pending != 1 {
		return nil, nil, fmt.Errorf("fixture: %+v", st)
	}
	for i := range n + n/10 {
		t0 := time.Now()
		if _, err := s.Stats(); err != nil {
			return nil, nil, err
		}
		d1 := time.Since(t0)
		t0 = time.Now()
		_, err := s.Lease(now)
		d2 := time.Since(t0)
		if !errors.Is(err, queue.ErrNoneDue) {
			return nil, nil, fmt.Errorf("lease: %v", err)
		}
		if i >= n/10 {
			stats, next = append(stats, d1), append(next, d2)
		}
	}
	return stats, next, nil
}

func openBench(path string, orders, n int) ([]time.Duration, int64, error) {
	s, err := queue.Open(path, queue.Options{NoSync: true})
	if err != nil {
		return nil, 0, err
	}
	data := bytes.Repeat([]byte("o"), 512)
	const batch = 20_000
	for done := 0; done < orders; {
		k := min(batch, orders-done)
		if err := s.Update(func(tx *queue.Tx) error {
			for j := range k {
				if err := tx.PutOrder(fmt.Sprintf("lane1-%09d", done+j), data); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			s.Close()
			return nil, 0, err
		}
		done += k
	}
	if err := s.Close(); err != nil {
		return nil, 0, err
	}
	var out []time.Duration
	for range n {
		t0 := time.Now()
		s, err := queue.Open(path, queue.Options{})
		if err != nil {
			return nil, 0, err
		}
		if err := s.Close(); err != nil {
			return nil, 0, err
		}
		out = append(out, time.Since(t0))
	}
	s, err = queue.Open(path, queue.Options{})
	if err != nil {
		return nil, 0, err
	}
	defer s.Close()
	if st, err := s.Stats(); err != nil || st.Orders != orders {
		return nil, 0, fmt.Errorf("fixture: %+v, %v", st, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	return out, fi.Size(), nil
}

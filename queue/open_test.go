package queue

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const lockChildEnv = "TILL_QUEUE_LOCK_CHILD"

func TestDefaultPath(t *testing.T) {
	p, err := DefaultPath()
	if err != nil {
		t.Skipf("no user config dir here: %v", err)
	}
	dir, _ := os.UserConfigDir()
	if p != filepath.Join(dir, "till", "till.db") {
		t.Fatalf("DefaultPath = %s", p)
	}
}

func TestOpenCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config", "till", "till.db")
	s := MustOpenPath(t, path, nil)
	if s.Path() != path {
		t.Fatalf("Path = %s", s.Path())
	}
}

func TestSecondOpenInProcessFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.db")
	s := MustOpenPath(t, path, nil)
	_, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Open = %v, want ErrAlreadyRunning", err)
	}
	if want := "Till is already running with " + path; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
	// The holder is unaffected.
	sale(t, s, "A", OpCreate)
}

// TestLockHeldByAnotherProcess runs a child process that holds the store
// open until its stdin closes.
func TestLockHeldByAnotherProcess(t *testing.T) {
	if p := os.Getenv(lockChildEnv); p != "" {
		lockChild(p)
		return
	}
	path := filepath.Join(t.TempDir(), "till.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHeldByAnotherProcess$")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child said %q, %v", line, err)
	}
	_, err = Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrAlreadyRunning) || err.Error() != "Till is already running with "+path {
		t.Fatalf("Open while the child holds it = %v", err)
	}
	stdin.Close()
	if _, err := io.Copy(io.Discard, stdout); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	s := MustOpenPath(t, path, nil)
	if st := mustStats(t, s); st.Orders != 1 {
		t.Fatalf("child's order missing: %+v", st)
	}
}

func lockChild(path string) {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := s.Update(func(tx *Tx) error { return tx.PutOrder("child", []byte("x")) }); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		os.Exit(2)
	}
}

// populated returns the path of a closed store holding n sales, some done.
func populated(t *testing.T, n int) string {
	t.Helper()
	c := newClock()
	path := filepath.Join(t.TempDir(), "till.db")
	s, err := Open(path, Options{Now: c.Now, NoSync: true}) // a fixture: closed cleanly below
	if err != nil {
		t.Fatal(err)
	}
	order := bytes.Repeat([]byte("o"), 1024)
	for i := range n {
		if err := s.Update(func(tx *Tx) error {
			id := fmt.Sprintf("lane1-%05d", i)
			if err := tx.PutOrder(id, order); err != nil {
				return err
			}
			_, err := tx.Enqueue(NewEntry{OrderID: id, Op: OpCreate, Payload: []byte("amount=1200&currency=chf")})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			l := mustLease(t, s, c.Now())
			if err := s.Complete(l, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestOpenCorrupt(t *testing.T) {
	pageSize := int64(os.Getpagesize())
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"random garbage", func(t *testing.T, path string) {
			b := make([]byte, 64<<10)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			writeFile(t, path, b)
		}},
		{"text file", func(t *testing.T, path string) { writeFile(t, path, []byte("this is not a database\n")) }},
		{"one byte", func(t *testing.T, path string) { writeFile(t, path, []byte{0}) }},
		{"truncated to half", func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated inside the meta pages", func(t *testing.T, path string) {
			if err := os.Truncate(path, pageSize+100); err != nil {
				t.Fatal(err)
			}
		}},
		{"both meta pages zeroed", func(t *testing.T, path string) {
			overwrite(t, path, 0, make([]byte, 2*pageSize))
		}},
		{"both meta checksums wrong", func(t *testing.T, path string) {
			// Page header (16 bytes), then magic, version, page size,
			// flags (4 each), root bucket (16), freelist (8), pgid (8).
			const pgidOffset = 16 + 4*4 + 16 + 8
			for p := range int64(2) {
				flipByte(t, path, p*pageSize+pgidOffset)
			}
		}},
		{"foreign bbolt file", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte("etcd"))
				if err != nil {
					return err
				}
				return b.Put([]byte("k"), []byte("v"))
			}); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}},
		{"bad schema record", func(t *testing.T, path string) {
			rawUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte{1}) })
		}},
		{"missing bucket", func(t *testing.T, path string) {
			rawUpdate(t, path, func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketDue) })
		}},
		{"bad counters", func(t *testing.T, path string) {
			rawUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyCounters, []byte("xx")) })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := populated(t, 300)
			tc.damage(t, path)
			before := fileSum(t, path)
			s, err := Open(path, Options{LockTimeout: 100 * time.Millisecond, Logger: testLogger(t)})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded on a damaged file")
			}
			var ce *CorruptError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Path != path || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open = %v (%T), want a CorruptError naming %s", err, err, path)
			}
			if fileSum(t, path) != before {
				t.Fatal("Open modified the damaged file")
			}
			// It is still refused: never replaced by an empty database.
			if _, err := Open(path, Options{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("second Open = %v", err)
			}
			moved, err := MoveAside(path, time.Date(2026, 11, 23, 10, 15, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if moved != path+".corrupt-20261123T101500Z" || fileSum(t, moved) != before {
				t.Fatalf("moved to %s", moved)
			}
			s = MustOpenPath(t, path, nil)
			if st := mustStats(t, s); st != (Stats{}) {
				t.Fatalf("fresh store after MoveAside: %+v", st)
			}
		})
	}
}

// TestOneMetaPageZeroed: bbolt keeps two meta pages so that a torn meta
// write is survivable; with one of them zeroed the file opens from the
// other, which is still consistent.
func TestOneMetaPageZeroed(t *testing.T) {
	for page := range int64(2) {
		t.Run(fmt.Sprint("page ", page), func(t *testing.T) {
			path := populated(t, 50)
			overwrite(t, path, page*int64(os.Getpagesize()), make([]byte, os.Getpagesize()))
			s := MustOpenPath(t, path, nil)
			if err := s.Check(); err != nil {
				t.Fatal(err)
			}
			st := mustStats(t, s)
			if st.Orders < 49 || st.Orders > 50 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestEmptyFileIsNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.db")
	writeFile(t, path, nil)
	s := MustOpenPath(t, path, nil)
	sale(t, s, "A", OpCreate)
}

func TestSchemaTooNew(t *testing.T) {
	path := populated(t, 5)
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint64(nil, CurrentSchema+1))
	})
	before := fileSum(t, path)
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrSchemaTooNew) || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open = %v", err)
	}
	if fileSum(t, path) != before {
		t.Fatal("Open modified a newer file")
	}
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v2 := migration{2, "add extra bucket", func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("extra"))
		return err
	}}
	failing := migration{3, "fails", func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucket([]byte("half")); err != nil {
			return err
		}
		return errors.New("disk full")
	}}
	version := func() uint64 {
		var v uint64
		if err := db.View(func(tx *bolt.Tx) error { v, err = schemaVersion(tx); return err }); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if err := db.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations[:1], at) }); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != 1 {
		t.Fatalf("version %d", v)
	}
	err = db.Update(func(tx *bolt.Tx) error { return migrate(tx, []migration{migrations[0], v2, failing}, at) })
	if err == nil || !strings.Contains(err.Error(), "migrate to schema 3 (fails): disk full") {
		t.Fatalf("failing migration: %v", err)
	}
	// One transaction: v2 did not stick either.
	if v := version(); v != 1 {
		t.Fatalf("version %d after a failed migration", v)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return migrate(tx, []migration{migrations[0], v2}, at) }); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("extra")) == nil || tx.Bucket([]byte("half")) != nil {
			t.Error("buckets after migration")
		}
		s := &Store{path: path, now: time.Now}
		txx, err := s.newTx(tx)
		if err != nil {
			return err
		}
		ms, err := txx.Migrations()
		if err != nil {
			return err
		}
		if len(ms) != 2 || ms[1].Version != 2 || ms[1].Name != "add extra bucket" || !ms[1].Applied.Equal(at) {
			t.Errorf("migrations %+v", ms)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	gap := migration{4, "skips 3", v2.apply}
	if err := db.Update(func(tx *bolt.Tx) error { return migrate(tx, []migration{migrations[0], v2, gap}, at) }); err == nil || !strings.Contains(err.Error(), "no migration from schema 2 to 4") {
		t.Fatalf("gap: %v", err)
	}
}

func TestMoveAsideNames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "till.db")
	now := time.Date(2026, 11, 23, 11, 15, 0, 0, time.FixedZone("CET", 3600))
	var got []string
	for i := range 3 {
		writeFile(t, path, []byte{byte(i)})
		moved, err := MoveAside(path, now)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, filepath.Base(moved))
	}
	want := "till.db.corrupt-20261123T101500Z till.db.corrupt-20261123T101500Z-2 till.db.corrupt-20261123T101500Z-3"
	if strings.Join(got, " ") != want {
		t.Fatalf("names %v", got)
	}
	if _, err := MoveAside(path, now); err == nil {
		t.Fatal("MoveAside of a missing file succeeded")
	}
}

// TestCheckFindsBrokenInvariants damages the store's own structures (not
// bbolt's) and expects Check to say so.
func TestCheckFindsBrokenInvariants(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(tx *bolt.Tx) error
		want   string
	}{
		{"counter off", func(tx *bolt.Tx) error {
			c, _ := decodeCounters(tx.Bucket(bucketMeta).Get(keyCounters))
			c.pending++
			return tx.Bucket(bucketMeta).Put(keyCounters, c.encode())
		}, "counters say"},
		{"entry without order", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketOrders).Delete([]byte("lane1-00009"))
		}, "missing order"},
		{"due index lost", func(tx *bolt.Tx) error {
			k, _ := tx.Bucket(bucketDue).Cursor().First()
			return tx.Bucket(bucketDue).Delete(k)
		}, "missing from the due index"},
		{"garbled entry", func(tx *bolt.Tx) error {
			k, _ := tx.Bucket(bucketOutbox).Cursor().First()
			return tx.Bucket(bucketOutbox).Put(k, []byte{1, 2, 3})
		}, "bad entry record"},
		{"index without entry", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketByOrder).Put(orderKey("lane1-00001", 999), empty)
		}, "neither in the outbox nor dead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := populated(t, 10)
			rawUpdate(t, path, tc.damage)
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.Check()
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestDamagedPageIsCorruptNotCrash overwrites the root page of the orders
// bucket with garbage. Open's cheap validation does not read it; reading
// the orders later makes bbolt panic, which the store reports as a
// CorruptError naming the file instead of crashing the till.
func TestDamagedPageIsCorruptNotCrash(t *testing.T) {
	path := populated(t, 300)
	var root int64
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		root = int64(tx.Bucket(bucketOrders).Root())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if root == 0 {
		t.Fatal("orders bucket is inline; the fixture is too small")
	}
	ps := int64(os.Getpagesize())
	overwrite(t, path, root*ps, bytes.Repeat([]byte{0xA5}, int(ps)))

	s, err := Open(path, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open = %v; the damage is outside what Open validates", err)
	}
	defer s.Close()
	if st := mustStats(t, s); st.Orders != 300 {
		t.Fatalf("stats %+v", st)
	}
	err = s.View(func(tx *Tx) error {
		_, err := tx.Order("lane1-00100")
		return err
	})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != path || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("View = %v, want a CorruptError", err)
	}
	if err := s.Check(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Check = %v", err)
	}
	// Outbox work that does not touch the damaged page still goes on.
	l := mustLease(t, s, newClock().Now())
	if err := s.Complete(l, nil); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xFF
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

func rawUpdate(t *testing.T, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

//go:build unix

package queue

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	crashRounds = flag.Int("crash.rounds", 30, "rounds of TestCrashRecovery (5 with -short)")
	crashSeed   = flag.Uint64("crash.seed", 0, "seed of TestCrashRecovery (0: from the clock; logged)")
)

const (
	crashChildEnv = "TILL_QUEUE_CRASH_CHILD" // database path: run as the child
	crashRoundEnv = "TILL_QUEUE_CRASH_ROUND"
	crashSeedEnv  = "TILL_QUEUE_CRASH_SEED"
)

// TestCrashRecovery runs a child process (this test binary, switched by
// an environment variable) that commits sales as fast as it can — each an
// order and its create and capture entries in one transaction — and prints
// each order id right after its commit returned, while draining the outbox
// (completing with a record on the order, rescheduling, leaving leases
// held). The parent SIGKILLs it after a random number of acknowledged
// sales, reopens the file and checks that nothing acknowledged is missing,
// nothing is half-written and no lease survived. The file is reused across
// rounds, so each round also starts from a recovered file.
func TestCrashRecovery(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	rounds := *crashRounds
	if testing.Short() && rounds > 5 {
		rounds = 5
	}
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("crash test: %d rounds, seed %d (rerun with -crash.seed=%d)", rounds, seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	path := filepath.Join(t.TempDir(), "till.db")
	acked := map[string]bool{}
	for round := range rounds {
		kill := 1 + rng.IntN(120)
		got := runCrashChild(t, path, round, rng.Uint64(), kill)
		for _, id := range got {
			acked[id] = true
		}
		t.Logf("round %d: killed after %d acknowledged sales (%d read in all)", round, kill, len(got))
		verifyAfterCrash(t, path, acked)
	}
}

// runCrashChild starts the child, reads acknowledgements until kill of
// them arrived, SIGKILLs it and returns every complete line it printed.
func runCrashChild(t *testing.T, path string, round int, seed uint64, kill int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashRoundEnv+"="+strconv.Itoa(round), crashSeedEnv+"="+strconv.FormatUint(seed, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	var ids []string
	killed := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			// EOF: a final fragment without its newline was not
			// acknowledged in full, so it does not count.
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		if id, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "ack "); ok {
			ids = append(ids, id)
		}
		if len(ids) == kill && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("round %d: child ended by itself after %d sales: %v\n%s", round, len(ids), err, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("round %d: child did not die of SIGKILL: %v\n%s", round, err, stderr.String())
	}
	return ids
}

func crashChild(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	round := os.Getenv(crashRoundEnv)
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 1))
	s, err := Open(path, Options{})
	if err != nil {
		fail(err)
	}
	order := bytes.Repeat([]byte("x"), 1024)
	for i := 0; ; i++ {
		id := fmt.Sprintf("lane1-r%s-%06d", round, i)
		if err := s.Update(func(tx *Tx) error {
			if err := tx.PutOrder(id, append([]byte(id+"|"), order...)); err != nil {
				return err
			}
			for _, op := range []Op{OpCreate, OpCapture} {
				if _, err := tx.Enqueue(NewEntry{OrderID: id, Op: op, Payload: []byte("amount=1200")}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			fail(err)
		}
		// Acknowledge: the commit returned, so this sale must survive.
		if _, err := os.Stdout.WriteString("ack " + id + "\n"); err != nil {
			fail(err)
		}
		// Drain a little, so that the kill also lands in leases,
		// completions and reschedules.
		for range rng.IntN(3) {
			l, err := s.Lease(time.Now())
			if errors.Is(err, ErrNoneDue) {
				break
			} else if err != nil {
				fail(err)
			}
			switch rng.IntN(4) {
			case 0, 1:
				err = s.Complete(l, func(tx *Tx) error {
					o, err := tx.Order(l.Entry.OrderID)
					if err != nil {
						return err
					}
					return tx.PutOrder(l.Entry.OrderID, fmt.Appendf(o, "|done:%d", l.Entry.Seq))
				})
			case 2:
				err = s.Reschedule(l, time.Now(), "HTTP 503")
			case 3:
				// keep the lease: the process dies holding it
			}
			if err != nil {
				fail(err)
			}
		}
	}
}

func verifyAfterCrash(t *testing.T, path string, acked map[string]bool) {
	t.Helper()
	s, err := Open(path, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatalf("Check after crash: %v", err)
	}
	type seen struct {
		ops  []string
		done map[uint64]bool
	}
	entries := map[string]*seen{}
	add := func(e Entry) error {
		if e.State == StateInFlight {
			t.Errorf("entry %d still in flight after reopen", e.Seq)
		}
		x := entries[e.OrderID]
		if x == nil {
			x = &seen{done: map[uint64]bool{}}
			entries[e.OrderID] = x
		}
		x.ops = append(x.ops, fmt.Sprintf("%s:%s", e.Op, e.State))
		if e.State == StateDone {
			x.done[e.Seq] = true
		}
		return nil
	}
	err = s.View(func(tx *Tx) error {
		// Seq order over history and outbox together.
		var all []Entry
		if err := tx.ForEachDone(0, func(e Entry) error { all = append(all, e); return nil }); err != nil {
			return err
		}
		if err := tx.ForEachPending(func(e Entry) error { all = append(all, e); return nil }); err != nil {
			return err
		}
		if err := tx.ForEachDead(func(e Entry) error { all = append(all, e); return nil }); err != nil {
			return err
		}
		slices.SortFunc(all, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
		for _, e := range all {
			if err := add(e); err != nil {
				return err
			}
		}
		for id := range acked {
			if _, err := tx.Order(id); err != nil {
				t.Errorf("acknowledged order %s lost: %v", id, err)
			}
		}
		n := 0
		err := tx.ForEachOrder("", func(id string, data []byte) error {
			n++
			x := entries[id]
			if x == nil {
				t.Errorf("order %s has no outbox entries", id)
				return nil
			}
			ops := strings.Join(x.ops, " ")
			if len(x.ops) != 2 || !strings.HasPrefix(x.ops[0], "create:") || !strings.HasPrefix(x.ops[1], "capture:") {
				t.Errorf("order %s has entries %s, want its create then its capture", id, ops)
			}
			if strings.HasPrefix(x.ops[1], "capture:done") && !strings.HasPrefix(x.ops[0], "create:done") {
				t.Errorf("order %s: capture done before create: %s", id, ops)
			}
			// Completion and its record on the order are one transaction.
			recorded := map[uint64]bool{}
			for _, part := range strings.Split(string(data), "|")[2:] {
				seq, err := strconv.ParseUint(strings.TrimPrefix(part, "done:"), 10, 64)
				if err != nil {
					t.Errorf("order %s: bad record %q", id, part)
				}
				recorded[seq] = true
			}
			if fmt.Sprint(recorded) != fmt.Sprint(x.done) {
				t.Errorf("order %s records completions %v, history has %v", id, recorded, x.done)
			}
			return nil
		})
		if c, _ := tx.OrderCount(); c != n {
			t.Errorf("OrderCount %d, %d orders", c, n)
		}
		if len(entries) != n {
			t.Errorf("entries for %d orders, %d orders stored", len(entries), n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.InFlight != 0 {
		t.Fatalf("leases survived the crash: %+v", st)
	}
}

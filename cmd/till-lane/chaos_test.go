//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/tillpos/till/app"
	"github.com/tillpos/till/app/order"
	"github.com/tillpos/till/queue"
	"github.com/tillpos/till/sync/api"
	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

var chaosSeed = flag.Uint64("chaos.seed", 0, "seed of TestChaos (0: from the clock; logged)")

// childArgs, set in the environment, makes this test binary run the lane
// itself with those arguments (JSON), so the test can SIGKILL a real lane.
const childArgs = "TILL_LANE_CHILD_ARGS"

func TestMain(m *testing.M) {
	if js := os.Getenv(childArgs); js != "" {
		var args []string
		if err := json.Unmarshal([]byte(js), &args); err != nil {
			panic(err)
		}
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// laneLimit bounds one run of a lane; a healthy run takes a few seconds.
const laneLimit = 90 * time.Second

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// laneRun is what one run of the lane child printed and how it ended.
type laneRun struct {
	committed []string
	summary   *app.LaneSummary
	killed    bool
	stderr    string
}

// runLane runs the lane as a child process. With killAfter > 0 it is
// SIGKILLed once that many sales were reported committed.
func runLane(t *testing.T, args []string, killAfter int) laneRun {
	t.Helper()
	js, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgs+"="+string(js))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A bound, not a wait: a lane that cannot finish (a sale stuck on a
	// replayed failure, say) is killed and reported instead of hanging.
	var timedOut atomic.Bool
	limit := time.AfterFunc(laneLimit, func() { timedOut.Store(true); cmd.Process.Kill() })
	defer limit.Stop()
	var r laneRun
	lines := bufio.NewReader(out)
	for {
		line, err := lines.ReadString('\n')
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break // a fragment without its newline was not reported in full
		}
		line = strings.TrimSuffix(line, "\n")
		if id, ok := strings.CutPrefix(line, "committed "); ok {
			r.committed = append(r.committed, id)
			if len(r.committed) == killAfter {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				r.killed = true
			}
			continue
		}
		var s app.LaneSummary
		if err := json.Unmarshal([]byte(line), &s); err == nil {
			r.summary = &s
		}
	}
	err = cmd.Wait()
	r.stderr = stderr.String()
	if timedOut.Load() {
		t.Fatalf("lane %v did not finish within %s; stderr:\n%s", args, laneLimit, tail(r.stderr, 2000))
	}
	var ee *exec.ExitError
	switch {
	case r.killed:
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("lane did not die of SIGKILL: %v\n%s", err, r.stderr)
		}
	case err != nil:
		t.Fatalf("lane failed: %v\n%s", err, r.stderr)
	}
	return r
}

// TestChaos runs lanes against a sandbox that fails on purpose — 500s
// before and after commit, dropped answers, rate limits, latency — and
// SIGKILLs them at random moments, restarting each until its sales are
// done. Then the faults stop and every lane drains. The sandbox's state must
// show exactly one PaymentIntent per order, each completed order captured
// for exactly its total, and nothing lost that a lane reported committed.
func TestChaos(t *testing.T) {
	seed := *chaosSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("chaos seed %d (rerun with: go test ./cmd/till-lane -run TestChaos -args -chaos.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	lanes, sales, maxKills := 3, 70, 4
	if testing.Short() {
		lanes, sales, maxKills = 1, 20, 2
	}

	srv := sandboxtest.New(t, sandbox.Options{Seed: int64(seed)})
	srv.InjectFaults(t, sandbox.FaultConfig{Seed: int64(seed), Rules: []sandbox.FaultRule{
		{Method: "POST", Path: "/v1/payment_intents", Kind: sandbox.FaultErrorBeforeCommit, Probability: 0.05},
		{Method: "POST", Path: "/v1/payment_intents", Kind: sandbox.FaultErrorAfterCommit, Probability: 0.05},
		{Method: "POST", Path: "/v1/payment_intents/*/confirm", Kind: sandbox.FaultDropAfterCommit, Probability: 0.05},
		{Method: "POST", Path: "/v1/payment_intents/*/confirm", Kind: sandbox.FaultErrorAfterCommit, Probability: 0.05},
		{Method: "POST", Path: "/v1/payment_intents/*/capture", Kind: sandbox.FaultErrorAfterCommit, Probability: 0.05},
		{Method: "POST", Path: "/v1/payment_intents/*/capture", Kind: sandbox.FaultDropAfterCommit, Probability: 0.05},
		{Method: "POST", Kind: sandbox.FaultRateLimit, Probability: 0.005},
		{Kind: sandbox.FaultLatency, LatencyMS: 5, Probability: 0.1},
		// Last, so the seeded draws of the rules above are unchanged: one
		// certain fault, so that a short run with lucky draws still has one.
		{Method: "POST", Path: "/v1/payment_intents/*/capture", Kind: sandbox.FaultErrorAfterCommit, Times: 1},
	}})

	committed := map[string]bool{}
	var dirs []string
	for lane := range lanes {
		dir := t.TempDir()
		dirs = append(dirs, dir)
		args := []string{"-api", srv.URL, "-key", srv.Key, "-data", dir, "-sales", strconv.Itoa(sales),
			"-seed", strconv.FormatUint(seed+uint64(lane), 10), "-decline-rate", "0.2",
			"-lane", "lane" + strconv.Itoa(lane+1), "-retry-max", "200ms"}
		for round := 0; ; round++ {
			killAfter := 0
			if round < maxKills {
				killAfter = 1 + rng.IntN(sales/2)
			}
			r := runLane(t, args, killAfter)
			for _, id := range r.committed {
				committed[id] = true
			}
			t.Logf("lane %d round %d: %d committed, killed %v", lane+1, round, len(r.committed), r.killed)
			if !r.killed {
				break
			}
		}
	}

	if got := faultsInjected(srv); got == 0 {
		t.Fatal("no fault was injected: the test proved nothing")
	} else {
		t.Logf("%d faults injected", got)
	}
	srv.ClearFaults()
	for i, dir := range dirs {
		r := runLane(t, []string{"-api", srv.URL, "-key", srv.Key, "-data", dir, "-sales", "0",
			"-lane", "lane" + strconv.Itoa(i+1)}, 0)
		if s := r.summary; s == nil || s.Sales != sales || s.Completed != sales || s.Pending != 0 || s.Dead != 0 {
			t.Errorf("lane %d final drain: %+v\n%s", i+1, r.summary, r.stderr)
		}
	}

	// The sandbox's side: exactly one PaymentIntent per order.
	client, err := api.New(api.Config{BaseURL: srv.URL, Key: srv.Key})
	if err != nil {
		t.Fatal(err)
	}
	byOrder := map[string][]*stripe.PaymentIntent{}
	for pi, err := range client.PaymentIntents(t.Context(), &stripe.PaymentIntentListParams{}) {
		if err != nil {
			t.Fatal(err)
		}
		byOrder[pi.Metadata["order_id"]] = append(byOrder[pi.Metadata["order_id"]], pi)
	}
	doubled := map[string]bool{}
	for id, pis := range byOrder {
		if len(pis) != 1 {
			doubled[id] = true
			t.Errorf("order %s has %d PaymentIntents: a double charge", id, len(pis))
			for _, pi := range pis {
				t.Logf("  %s created %d status %s amount %d", pi.ID, pi.Created, pi.Status, pi.Amount)
			}
		}
	}

	// Each lane's side: every committed sale is there, completed, and its
	// PaymentIntent captured for exactly the order's total.
	seen := 0
	for _, dir := range dirs {
		s, err := queue.Open(filepath.Join(dir, "till.db"), queue.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = s.View(func(tx *queue.Tx) error {
			if len(doubled) > 0 { // what the outbox did for a double-charged order
				if err := tx.ForEachDone(0, func(e queue.Entry) error {
					if doubled[e.OrderID] {
						t.Logf("  %s entry %d %s key %s attempts %d last error %q", e.OrderID, e.Seq, e.Op, e.IdempotencyKey, e.Attempts, e.LastError)
					}
					return nil
				}); err != nil {
					return err
				}
			}
			return tx.ForEachOrder("", func(id string, data []byte) error {
				seen++
				delete(committed, id)
				o, err := order.Unmarshal(data, time.Now)
				if err != nil {
					return err
				}
				pis := byOrder[id]
				if o.Status() != order.StatusCompleted || len(pis) != 1 {
					t.Errorf("order %s: %s with %d PaymentIntents", id, o.Status(), len(pis))
					return nil
				}
				total, _ := o.Totals().Total.StripeAmount()
				if pi := pis[0]; pi.Status != stripe.PaymentIntentStatusSucceeded || pi.AmountReceived != total {
					t.Errorf("order %s: PaymentIntent %s is %s with %d received, want succeeded with %d",
						id, pi.ID, pi.Status, pi.AmountReceived, total)
				}
				return nil
			})
		})
		if err == nil {
			err = s.Check()
		}
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(committed) != 0 {
		t.Errorf("%d sales reported committed are missing locally: %v", len(committed), committed)
	}
	if seen != lanes*sales || len(byOrder) != seen {
		t.Errorf("%d orders locally, %d orders with PaymentIntents, want %d", seen, len(byOrder), lanes*sales)
	}
}

func faultsInjected(srv *sandboxtest.Server) int {
	n := 0
	for _, r := range srv.Faults().Rules {
		if r.Kind != sandbox.FaultLatency {
			n += r.Injected
		}
	}
	return n
}

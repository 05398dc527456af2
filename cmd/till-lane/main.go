// Command till-lane is a headless lane: the real till core (domain, store,
// outbox, drainer, API client, simulated reader) ringing up card sales with
// no window, for load tests and chaos runs.
//
//	till-lane -api URL -key KEY -data DIR -sales N -seed S [-concurrency C]
//	          [-capture manual|automatic|eod] [-decline-rate R]
//	till-lane reconcile -api URL -key KEY -data DIR [-apply] [-day YYYY-MM-DD]
//
// -sales N rings up sales until DIR holds N in all, so the same command run
// again after a kill carries on where it stopped; -sales 0 only resumes and
// drains. Each committed sale's order id is printed as "committed <id>" the
// moment it is committed; the last line is a JSON summary. The lane exits
// when its sales are completed and its outbox drained. It is safe to
// SIGKILL at any moment and run again. -capture eod leaves every
// authorisation uncaptured for the end of day (the store setting
// capture_at_end_of_day).
//
// reconcile is the manager's end of day without a window: it prints the
// plan — what it would capture and cancel, and everything listed for the
// manager — and the Z report as one JSON object; with -apply it carries
// the plan out through the outbox first and waits until it is sent.
// Running it twice acts only once.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tillpos/till/app"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// prefixWriter puts a prefix before each line written to it.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := fmt.Fprintf(p.w, "%s%s", p.prefix, b); err != nil {
		return 0, err
	}
	return len(b), nil
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "reconcile" {
		return reconcile(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("till-lane", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		p       app.LaneParams
		apiURL  = fs.String("api", "", "payment API base URL (required)")
		dir     = fs.String("data", "", "data directory for the lane's database (required)")
		capture = fs.String("capture", "manual", "capture method: manual, automatic, or eod (manual, captured at end of day)")
		lane    = fs.String("lane", "lane1", "lane name")
		verbose = fs.Bool("v", false, "log to stderr")
	)
	fs.IntVar(&p.Sales, "sales", 0, "sales the data directory should hold when done (0: resume and drain only)")
	fs.Uint64Var(&p.Seed, "seed", 1, "seed for carts and declines")
	fs.IntVar(&p.Concurrency, "concurrency", 4, "card sales and outbox calls in flight at once")
	fs.Float64Var(&p.DeclineRate, "decline-rate", 0, "share of sales whose first card declines (0 to 1)")
	fs.DurationVar(&p.RetryMax, "retry-max", 0, "cap on the outbox's retry backoff (default 2s)")
	key := fs.String("key", "", "API secret key (or TILL_API_KEY)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *key == "" {
		*key = os.Getenv("TILL_API_KEY")
	}
	if *apiURL == "" || *dir == "" || *key == "" || p.Sales < 0 || p.DeclineRate < 0 || p.DeclineRate > 1 {
		fmt.Fprintln(stderr, "till-lane: -api, -data and a key are required; -sales ≥ 0; -decline-rate in [0, 1]")
		fs.Usage()
		return 2
	}
	p.Config = app.DefaultConfig()
	p.Config.Lane = *lane
	p.Config.Database = filepath.Join(*dir, "till.db")
	p.Config.API = app.APIConfig{BaseURL: *apiURL, Key: app.Secret(*key)}
	switch *capture {
	case "eod":
		p.Config.CaptureMethod, p.Config.CaptureAtEndOfDay = "manual", true
	case "manual", "automatic":
		p.Config.CaptureMethod = *capture
	default:
		fmt.Fprintln(stderr, "till-lane: -capture is manual, automatic or eod")
		return 2
	}
	p.Committed = prefixWriter{w: stdout, prefix: "committed "}
	if *verbose {
		p.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := app.RunLane(ctx, p)
	if err != nil {
		fmt.Fprintln(stderr, "till-lane:", err)
	}
	line, _ := json.Marshal(sum)
	fmt.Fprintln(stdout, string(line))
	if err != nil {
		return 1
	}
	return 0
}

// reconcile runs the end of day headless and prints plan and report.
func reconcile(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("till-lane reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		apiURL  = fs.String("api", "", "payment API base URL (required)")
		dir     = fs.String("data", "", "data directory of the lane's database (required)")
		lane    = fs.String("lane", "lane1", "lane name")
		apply   = fs.Bool("apply", false, "carry the plan out (captures and cancellations through the outbox) and wait for it")
		dayStr  = fs.String("day", "", "the local day to close, YYYY-MM-DD (default today)")
		timeout = fs.Duration("timeout", 10*time.Minute, "how long -apply waits for the outbox")
		key     = fs.String("key", "", "API secret key (or TILL_API_KEY)")
		verbose = fs.Bool("v", false, "log to stderr")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *key == "" {
		*key = os.Getenv("TILL_API_KEY")
	}
	if *apiURL == "" || *dir == "" || *key == "" {
		fmt.Fprintln(stderr, "till-lane reconcile: -api, -data and a key are required")
		fs.Usage()
		return 2
	}
	p := app.ReconcileParams{Config: app.DefaultConfig(), Apply: *apply}
	if *dayStr != "" {
		d, err := time.ParseInLocation(time.DateOnly, *dayStr, time.Local)
		if err != nil {
			fmt.Fprintln(stderr, "till-lane reconcile: -day:", err)
			return 2
		}
		p.Day = d.Add(12 * time.Hour)
	}
	p.Config.Lane = *lane
	p.Config.Database = filepath.Join(*dir, "till.db")
	p.Config.API = app.APIConfig{BaseURL: *apiURL, Key: app.Secret(*key)}
	if *verbose {
		p.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	out, err := app.RunReconcile(ctx, p)
	line, merr := json.MarshalIndent(out, "", "  ")
	if merr == nil {
		fmt.Fprintln(stdout, string(line))
	}
	if err != nil {
		fmt.Fprintln(stderr, "till-lane reconcile:", err)
		return 1
	}
	return 0
}

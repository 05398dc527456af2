package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/sync/sandbox"
	"github.com/tillpos/till/sync/sandbox/sandboxtest"
)

// TestReconcileCommand: sales rung up with -capture eod leave their
// authorisations to the end of day; `reconcile` prints the plan (one
// capture each) without acting, `reconcile -apply` captures them, and a
// second -apply finds nothing to do. Each prints one JSON object.
func TestReconcileCommand(t *testing.T) {
	srv := sandboxtest.New(t, sandbox.Options{})
	dir := t.TempDir()
	common := []string{"-api", srv.URL, "-key", srv.Key, "-data", dir}
	// The lane rings its sales on the real clock; the day is named so
	// that reconcile, run a moment later, closes that day and not the next.
	day := time.Now().Format(time.DateOnly)
	var out, errOut bytes.Buffer
	if code := run(append([]string{"-sales", "5", "-capture", "eod"}, common...), &out, &errOut); code != 0 {
		t.Fatalf("lane: exit %d: %s", code, errOut.String())
	}
	if time.Now().Format(time.DateOnly) != day {
		t.Skip("the sales straddled local midnight")
	}
	common = append(common, "-day", day)
	type output struct {
		Plan struct {
			Pages int `json:"pages"`
			Plan  struct {
				Actions int `json:"actions"`
				Rows    []struct {
					Kind   string `json:"kind"`
					Action string `json:"action"`
				} `json:"rows"`
			} `json:"plan"`
		} `json:"plan"`
		Result *struct {
			Enqueued, Done, Failed int
		} `json:"result"`
		Report struct {
			Currencies []struct {
				Sales    int `json:"sales"`
				Captured struct {
					Count int `json:"count"`
				} `json:"captured"`
			} `json:"currencies"`
		} `json:"report"`
	}
	reconcile := func(extra ...string) output {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(append(append([]string{"reconcile"}, common...), extra...), &out, &errOut); code != 0 {
			t.Fatalf("reconcile %v: exit %d: %s", extra, code, errOut.String())
		}
		var o output
		if err := json.Unmarshal(out.Bytes(), &o); err != nil {
			t.Fatalf("reconcile %v printed no JSON object: %v\n%s", extra, err, out.String())
		}
		return o
	}
	plan := reconcile()
	if plan.Plan.Plan.Actions != 5 || plan.Result != nil || plan.Plan.Pages != 1 {
		t.Fatalf("plan only: %+v", plan)
	}
	for _, r := range plan.Plan.Plan.Rows {
		if r.Kind == "capture" && r.Action != "capture" {
			t.Fatalf("row %+v", r)
		}
	}
	applied := reconcile("-apply")
	if applied.Result == nil || applied.Result.Done != 5 || len(applied.Report.Currencies) != 1 || applied.Report.Currencies[0].Captured.Count != 5 {
		t.Fatalf("apply: %+v", applied)
	}
	again := reconcile("-apply")
	if again.Plan.Plan.Actions != 0 || again.Result.Enqueued != 0 {
		t.Fatalf("second apply: %+v", again)
	}
	if code := run([]string{"reconcile", "-api", srv.URL}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "required") {
		t.Fatalf("missing flags: exit %d, %s", code, errOut.String())
	}
}

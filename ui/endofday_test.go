package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// fakeEndOfDay is the EndOfDay interface driven by the test through
// channels: Plan waits for a result on plans, Apply passes on the progress
// the test sends and returns what it sends on applied. It records every
// call.
type fakeEndOfDay struct {
	mu     sync.Mutex
	calls  []string
	report ZReportView
	// writeErr, when set, is what WriteCSV and WritePNG return after
	// writing half.
	writeErr error

	plans    chan planResult
	progress chan [2]int // done, total: passed to Apply's progress
	applied  chan applyResult
}

type planResult struct {
	plan EndOfDayPlan
	err  error
}

type applyResult struct {
	report ZReportView
	err    error
}

func newFakeEndOfDay() *fakeEndOfDay {
	return &fakeEndOfDay{
		plans: make(chan planResult), progress: make(chan [2]int), applied: make(chan applyResult),
		report: zReport(),
	}
}

func (f *fakeEndOfDay) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

// Calls returns the calls so far and forgets them.
func (f *fakeEndOfDay) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeEndOfDay) Unlock(pin string) error {
	f.record("Unlock " + pin)
	if pin != "4321" {
		return fmt.Errorf("%w: 2 tries left", ErrWrongPIN)
	}
	return nil
}

func (f *fakeEndOfDay) Plan(ctx context.Context) (EndOfDayPlan, error) {
	f.record("Plan")
	select {
	case r := <-f.plans:
		return r.plan, r.err
	case <-ctx.Done():
		f.record("Plan cancelled")
		return EndOfDayPlan{}, ctx.Err()
	}
}

func (f *fakeEndOfDay) Apply(ctx context.Context, progress func(done, total int)) (ZReportView, error) {
	f.record("Apply")
	for {
		select {
		case p := <-f.progress:
			progress(p[0], p[1])
		case r := <-f.applied:
			return r.report, r.err
		case <-ctx.Done():
			f.record("Apply cancelled")
			return ZReportView{}, ctx.Err()
		}
	}
}

func (f *fakeEndOfDay) Report() (ZReportView, error) {
	f.record("Report")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.report, nil
}

func (f *fakeEndOfDay) write(w io.Writer, what, content string) error {
	f.record(what)
	f.mu.Lock()
	err := f.writeErr
	f.mu.Unlock()
	if err != nil {
		_, _ = io.WriteString(w, content[:len(content)/2])
		return err
	}
	_, err = io.WriteString(w, content)
	return err
}

func (f *fakeEndOfDay) WriteCSV(w io.Writer) error {
	return f.write(w, "WriteCSV", "label,value\nSales,42\n")
}
func (f *fakeEndOfDay) WritePNG(w io.Writer) error { return f.write(w, "WritePNG", "\x89PNG fake") }

var _ EndOfDay = (*fakeEndOfDay)(nil)

func dayPlan() EndOfDayPlan {
	return EndOfDayPlan{
		Day: "Monday 23 November 2026",
		Rows: []PlanRowView{
			{Group: PlanInfo, Order: "lane1-01KAQ5", Amount: "CHF 7.20", Reason: "Offline payment, not yet forwarded."},
			{Group: PlanToDo, Action: "Capture", Order: "lane1-01KAQ1", Amount: "CHF 11.96", Reason: "Completed sale, authorised: capture."},
			{Group: PlanAttention, Order: "lane1-01KAQ4", Amount: "CHF 84.00", Reason: "Declined after forwarding: insufficient funds."},
			{Group: PlanToDo, Action: "Cancel", Order: "lane1-01KAQ2", Amount: "CHF 4.90", Reason: "Authorised for a sale paid in cash: cancel as a duplicate.", Expiring: true},
		},
		Actions: 2,
		Summary: "254 payments read in 3 pages; 1 to capture, 1 to cancel",
	}
}

func zReport() ZReportView {
	return ZReportView{Title: "Z report — Monday 23 November 2026", Lines: []ReportLine{
		{Label: "Sales", Heading: true},
		{Label: "Count", Value: "42"},
		{Label: "Gross", Value: "CHF 1,234.50"},
		{Rule: true},
		{Label: "Captured by reconciliation", Value: "CHF 11.96"},
	}}
}

// startEndOfDay shows an end-of-day screen in a 1100×760 test window and
// lets it settle. Call it inside a synctest bubble; the screen is stopped
// when the test ends, and its goroutines must then end.
func startEndOfDay(t *testing.T, eod EndOfDay) (*EndOfDayScreen, fyne.Window, *int) {
	t.Helper()
	closed := 0
	w := test.NewTempApp(t).NewWindow("End of day")
	s := NewEndOfDayScreen(EndOfDayParams{EndOfDay: eod, Window: w, OnClose: func() { closed++ },
		Now: func() time.Time { return t0 },
		Do: func(f func()) {
			uiGoroutine.Lock()
			defer uiGoroutine.Unlock()
			f()
		}})
	w.SetContent(s.Content())
	w.Resize(fyne.NewSize(1100, 760))
	s.Focus()
	t.Cleanup(func() {
		s.Stop()
		s.Wait()
	})
	synctest.Wait()
	return s, w, &closed
}

// unlock types the manager's PIN and lets the plan's read begin.
func unlock(t *testing.T, c fyne.Canvas, pin string) {
	t.Helper()
	f := c.Focused()
	if _, ok := f.(*widget.Entry); !ok {
		t.Fatalf("focus on %T, want the PIN entry", f)
	}
	typeIn(f, pin)
	key(c, fyne.KeyReturn)
}

func TestEndOfDayUnlockPlanApplyReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eod := newFakeEndOfDay()
		s, w, _ := startEndOfDay(t, eod)
		c := w.Canvas()
		wantShown(t, c, "End of day", "The manager closes the day: enter the manager's PIN.")

		unlock(t, c, "1111")
		wantShown(t, c, "wrong manager PIN: 2 tries left")
		if got := eod.Calls(); !slices.Equal(got, []string{"Unlock 1111"}) {
			t.Fatalf("calls %q", got)
		}
		if e, ok := c.Focused().(*widget.Entry); !ok || e.Text != "" {
			t.Fatalf("after a wrong PIN the entry is not focused and empty: %T", c.Focused())
		}

		unlock(t, c, "4321")
		wantShown(t, c, "Reading the day's payments…")
		if got := eod.Calls(); !slices.Equal(got, []string{"Unlock 4321", "Plan"}) {
			t.Fatalf("calls %q", got)
		}

		eod.plans <- planResult{plan: dayPlan()}
		synctest.Wait()
		all := shown(c)
		// The sections in order, each with its rows, in the plan's order.
		wantShown(t, c, "End of day — Monday 23 November 2026", "254 payments read in 3 pages; 1 to capture, 1 to cancel")
		order := []string{"To do (2)", "Capture", "lane1-01KAQ1", "CHF 11.96", "Completed sale, authorised: capture.",
			"Cancel", "lane1-01KAQ2", "CHF 4.90", "Authorised for a sale paid in cash: cancel as a duplicate.",
			"Needs attention (1)", "lane1-01KAQ4", "CHF 84.00", "Declined after forwarding: insufficient funds.",
			"For information (1)", "lane1-01KAQ5", "CHF 7.20", "Offline payment, not yet forwarded."}
		wantInOrder(t, all, order)

		apply := button(t, c, "Apply 2 actions")
		if apply.Disabled() {
			t.Fatal("Apply disabled with 2 actions")
		}
		tap(apply)
		tap(apply) // a second tap on the button, now gone: nothing
		wantShown(t, c, "Applying the plan", "0 of 2")
		if hasButton(c, "Apply 2 actions") {
			t.Error("the Apply button is still shown while applying")
		}

		eod.progress <- [2]int{1, 2}
		synctest.Wait()
		wantShown(t, c, "1 of 2")
		eod.progress <- [2]int{0, 2} // late and out of order: the bar does not go back
		synctest.Wait()
		wantShown(t, c, "1 of 2")
		eod.progress <- [2]int{2, 2}
		synctest.Wait()
		wantShown(t, c, "2 of 2")

		eod.applied <- applyResult{report: zReport()}
		synctest.Wait()
		if got := eod.Calls(); !slices.Equal(got, []string{"Apply"}) {
			t.Fatalf("calls %q, want Apply once", got)
		}
		wantShown(t, c, "Z report — Monday 23 November 2026", "Sales",
			"Count                                 42",
			"Gross                       CHF 1,234.50",
			"Captured by reconciliation     CHF 11.96")
		if hasButton(c, "Back to the plan") {
			t.Error("after applying, the report offers to go back to the plan it applied")
		}

		// Export as CSV, through the file-save dialog as the manager would.
		dir := t.TempDir()
		save(t, s, c, "Export CSV…", dir)
		data, err := os.ReadFile(filepath.Join(dir, "z-report-2026-11-23.csv"))
		if err != nil || string(data) != "label,value\nSales,42\n" {
			t.Fatalf("exported %q, %v", data, err)
		}
		wantShown(t, c, "Saved to "+filepath.Join(dir, "z-report-2026-11-23.csv"))
		if got := eod.Calls(); !slices.Equal(got, []string{"WriteCSV"}) {
			t.Fatalf("calls %q", got)
		}
	})
}

// save taps an export button, points the file dialog at dir and taps its
// Save button, then lets the write finish.
func save(t *testing.T, s *EndOfDayScreen, c fyne.Canvas, label, dir string) {
	t.Helper()
	tap(button(t, c, label))
	if s.saveDialog == nil {
		t.Fatal("no file dialog")
	}
	loc, err := storage.ListerForURI(storage.NewFileURI(dir))
	if err != nil {
		t.Fatal(err)
	}
	onUI(func() { s.saveDialog.SetLocation(loc) })
	tap(button(t, c, "Save"))
}

func TestEndOfDayExportFailureShown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eod := newFakeEndOfDay()
		eod.writeErr = errors.New("disk full")
		s, w, _ := startEndOfDay(t, eod)
		c := w.Canvas()
		onUI(func() { s.loadReport(nil) })
		dir := t.TempDir()
		save(t, s, c, "Export PNG…", dir)
		path := filepath.Join(dir, "z-report-2026-11-23.png")
		wantShown(t, c, "export the Z report to "+path+": disk full")
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("a half-written export is left behind: %v", err)
		}
		if got := eod.Calls(); !slices.Equal(got, []string{"Report", "WritePNG"}) {
			t.Errorf("calls %q", got)
		}
	})
}

func wantInOrder(t *testing.T, all, order []string) {
	t.Helper()
	at := 0
	for _, want := range order {
		i := slices.Index(all[at:], want)
		if i < 0 {
			t.Fatalf("%q not shown after %q; shown: %q", want, all[max(at-1, 0)], all)
		}
		at += i + 1
	}
}

func TestEndOfDayNothingToApply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eod, c := unlockedEndOfDay(t)
		eod.plans <- planResult{plan: EndOfDayPlan{Day: "Monday 23 November 2026", Summary: "3 payments read in 1 page; nothing to do"}}
		synctest.Wait()
		wantInOrder(t, shown(c), []string{"To do (0)", "Nothing.", "Needs attention (0)", "Nothing.", "For information (0)", "Nothing."})
		if b := button(t, c, "Apply 0 actions"); !b.Disabled() {
			t.Error("Apply enabled with nothing to do")
		}
		tap(button(t, c, "Apply 0 actions"))
		if got := eod.Calls(); slices.Contains(got, "Apply") {
			t.Errorf("calls %q: Apply with nothing to do", got)
		}
	})
}

func TestEndOfDayOfflineThenReportWithoutApplying(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eod := newFakeEndOfDay()
		_, w, closed := startEndOfDay(t, eod)
		c := w.Canvas()
		unlock(t, c, "4321")
		eod.plans <- planResult{err: fmt.Errorf("list payment intents: %w", ErrOffline)}
		synctest.Wait()
		offline := "The payment service is not reachable, so the day's payments cannot be read. Check the connection and try again. The Z report works without it."
		if all := shown(c); !slices.ContainsFunc(all, func(s string) bool { return strings.HasPrefix(s, offline) }) {
			t.Fatalf("offline not explained; shown %q", all)
		}

		// Try again: the plan is read again, and this time it comes.
		tap(button(t, c, "Try again"))
		wantShown(t, c, "Reading the day's payments…")
		eod.plans <- planResult{plan: dayPlan()}
		synctest.Wait()
		wantShown(t, c, "To do (2)")

		// The Z report without applying, then back to the same plan.
		tap(button(t, c, "Z report without applying"))
		wantShown(t, c, "Z report — Monday 23 November 2026")
		tap(button(t, c, "Back to the plan"))
		wantShown(t, c, "To do (2)", "lane1-01KAQ1")
		if got := eod.Calls(); !slices.Equal(got, []string{"Unlock 4321", "Plan", "Plan", "Report"}) {
			t.Errorf("calls %q", got)
		}
		tap(button(t, c, "Close"))
		if *closed != 1 {
			t.Errorf("OnClose called %d times, want 1", *closed)
		}
	})
}

func TestEndOfDayCancelRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eod, c := unlockedEndOfDay(t)
		tap(button(t, c, "Cancel"))
		wantShown(t, c, "Reading the day's payments was stopped.")
		if got := eod.Calls(); !slices.Equal(got, []string{"Unlock 4321", "Plan", "Plan cancelled"}) {
			t.Errorf("calls %q: the read was not cancelled", got)
		}
	})
}

// TestEndOfDayApplyFails: an error while applying is shown in place;
// trying again reads the plan afresh rather than applying the old one.
func TestEndOfDayApplyFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eod, c := unlockedEndOfDay(t)
		eod.plans <- planResult{plan: dayPlan()}
		synctest.Wait()
		tap(button(t, c, "Apply 2 actions"))
		eod.applied <- applyResult{err: errors.New("capture order lane1-01KAQ1: dead letter")}
		synctest.Wait()
		wantShown(t, c, "Applying the plan failed: capture order lane1-01KAQ1: dead letter. What went through is not done again: refresh to see what remains.")
		eod.Calls()
		tap(button(t, c, "Try again"))
		if got := eod.Calls(); !slices.Equal(got, []string{"Plan"}) {
			t.Errorf("calls %q, want a fresh plan", got)
		}
		eod.plans <- planResult{plan: dayPlan()}
		synctest.Wait()
	})
}

// TestEndOfDayStopWaiting: the manager may stop waiting for Apply; its
// wait is cancelled, and its late result is not shown.
func TestEndOfDayStopWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eod, c := unlockedEndOfDay(t)
		eod.plans <- planResult{plan: dayPlan()}
		synctest.Wait()
		tap(button(t, c, "Apply 2 actions"))
		tap(button(t, c, "Stop waiting"))
		wantShown(t, c, "Stopped waiting. The actions already queued still go through the outbox: refresh to see what remains.")
		if got := eod.Calls(); !slices.Contains(got, "Apply cancelled") {
			t.Errorf("calls %q: Apply's wait not cancelled", got)
		}
	})
}

func TestReportText(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []ReportLine
		want  []string
	}{
		{"empty", nil, []string{}},
		{"aligned", []ReportLine{{Label: "Sales", Heading: true}, {Label: "Count", Value: "42"}, {Rule: true}, {Label: "Gross", Value: "CHF 1,234.50"}},
			[]string{"Sales", "Count            42", "", "Gross  CHF 1,234.50"}},
		{"runes count, not bytes", []ReportLine{{Label: "Rückerstattungen", Value: "−CHF 5.00"}, {Label: "Brut", Value: "CHF 5.00"}},
			[]string{"Rückerstattungen  −CHF 5.00", "Brut               CHF 5.00"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := reportText(tc.lines); !slices.Equal(got, tc.want) {
				t.Errorf("reportText = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEndOfDayLooksRight keeps golden images of the plan and the report.
// To regenerate one, delete it from testdata and run the test again, then
// look at it.
func TestEndOfDayLooksRight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eod := newFakeEndOfDay()
		s, w, _ := startEndOfDay(t, eod)
		c := w.Canvas()
		unlock(t, c, "4321")
		eod.plans <- planResult{plan: dayPlan()}
		synctest.Wait()
		test.AssertImageMatches(t, "endofday_plan.png", c.Capture())
		onUI(func() { s.showReport(zReport(), nil) })
		test.AssertImageMatches(t, "endofday_report.png", c.Capture())
	})
}

// unlockedEndOfDay opens the screen on a fake and unlocks it with the
// fake's PIN.
func unlockedEndOfDay(t *testing.T) (*fakeEndOfDay, fyne.Canvas) {
	t.Helper()
	eod := newFakeEndOfDay()
	_, w, _ := startEndOfDay(t, eod)
	c := w.Canvas()
	unlock(t, c, "4321")
	return eod, c
}

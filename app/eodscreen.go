package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"fyne.io/fyne/v2/lang"

	"github.com/tillpos/till/app/report"
	"github.com/tillpos/till/sync/reconcile"
	"github.com/tillpos/till/ui"
)

// errLocked: the end-of-day screen was used before the manager's PIN.
var errLocked = errors.New("enter the manager's PIN first")

// endOfDay is the till's side of the end-of-day screen (ui.EndOfDay):
// one manager's closing, from the PIN to the exported Z report.
type endOfDay struct {
	t *Till

	mu       sync.Mutex
	unlocked bool
	plan     *DayPlan
	applying bool
	last     *report.Report
}

var _ ui.EndOfDay = (*endOfDay)(nil)

// EndOfDay returns a closing of today for the manager's screen.
func (t *Till) EndOfDay() ui.EndOfDay { return &endOfDay{t: t} }

func (e *endOfDay) Unlock(pin string) error {
	if pin == "" {
		return fmt.Errorf("end of day: %w", ui.ErrManagerPIN)
	}
	if err := e.t.checkManagerPIN(pin); err != nil {
		return fmt.Errorf("end of day: %w", err)
	}
	e.mu.Lock()
	e.unlocked = true
	e.mu.Unlock()
	return nil
}

func (e *endOfDay) check() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.unlocked {
		return errLocked
	}
	return nil
}

func (e *endOfDay) Plan(ctx context.Context) (ui.EndOfDayPlan, error) {
	if err := e.check(); err != nil {
		return ui.EndOfDayPlan{}, err
	}
	dp, err := e.t.PlanDay(ctx, e.t.now())
	if err != nil {
		return ui.EndOfDayPlan{}, err
	}
	e.mu.Lock()
	e.plan = &dp
	e.mu.Unlock()
	return e.t.planView(dp), nil
}

func (e *endOfDay) Apply(ctx context.Context, progress func(done, total int)) (ui.ZReportView, error) {
	if err := e.check(); err != nil {
		return ui.ZReportView{}, err
	}
	e.mu.Lock()
	dp, busy := e.plan, e.applying
	if dp != nil && !busy {
		e.applying = true
	}
	e.mu.Unlock()
	switch {
	case dp == nil:
		return ui.ZReportView{}, errors.New("end of day: read the plan first")
	case busy:
		return ui.ZReportView{}, errors.New("end of day: it is being applied already")
	}
	defer func() {
		e.mu.Lock()
		e.applying, e.plan = false, nil // a plan is applied once; read it again
		e.mu.Unlock()
	}()
	if _, err := e.t.ApplyDay(ctx, *dp, progress); err != nil {
		return ui.ZReportView{}, err
	}
	return e.Report()
}

func (e *endOfDay) Report() (ui.ZReportView, error) {
	if err := e.check(); err != nil {
		return ui.ZReportView{}, err
	}
	r, err := e.t.ZReport(e.t.now())
	if err != nil {
		return ui.ZReportView{}, err
	}
	e.mu.Lock()
	e.last = &r
	e.mu.Unlock()
	v := ui.ZReportView{Title: lang.L("Z report") + " — " + r.Lane + " — " + r.From.Format(time.DateOnly)}
	for _, l := range r.Lines() {
		v.Lines = append(v.Lines, ui.ReportLine{Label: l.Label, Value: l.Value, Heading: l.Heading, Rule: l.Rule})
	}
	return v, nil
}

func (e *endOfDay) lastReport() (*report.Report, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.last == nil {
		return nil, errors.New("end of day: there is no report yet")
	}
	return e.last, nil
}

func (e *endOfDay) WriteCSV(w io.Writer) error {
	r, err := e.lastReport()
	if err != nil {
		return err
	}
	return r.WriteCSV(w)
}

func (e *endOfDay) WritePNG(w io.Writer) error {
	r, err := e.lastReport()
	if err != nil {
		return err
	}
	return r.WritePNG(w)
}

// planView is the plan for the manager's screen, in the till's language.
func (t *Till) planView(dp DayPlan) ui.EndOfDayPlan {
	v := ui.EndOfDayPlan{Day: dp.From.Format("Monday 2 January 2006"), Actions: dp.Plan.Actions}
	captures, cancels := 0, 0
	for _, r := range dp.Plan.Rows {
		row := ui.PlanRowView{Order: r.OrderID, Expiring: r.NearExpiry}
		if r.Amount != 0 || r.PaymentIntent != "" {
			row.Amount = rowMoney(r, dp.currency).Format(t.locale)
		}
		row.Group, row.Action, row.Reason = kindView(r)
		switch r.Action {
		case "capture":
			captures++
		case "cancel":
			cancels++
		}
		v.Rows = append(v.Rows, row)
	}
	v.Summary = lang.L("{{.Fetched}} payments read in {{.Pages}} pages; {{.Captures}} to capture, {{.Cancels}} to cancel.",
		map[string]any{"Fetched": dp.Plan.Fetched, "Pages": dp.Pages, "Captures": captures, "Cancels": cancels})
	return v
}

// kindView is a plan row's section, action and reason for people.
func kindView(r reconcile.Row) (ui.PlanGroup, string, string) {
	when := func(t time.Time) string { return t.Local().Format("2 Jan 15:04") }
	switch r.Kind {
	case reconcile.Capture:
		return ui.PlanToDo, lang.L("Capture"), lang.L("The sale is completed but its card payment was not captured: capture it.")
	case reconcile.CancelAbandoned:
		return ui.PlanToDo, lang.L("Cancel"), lang.L("No completed sale for this authorisation (the customer abandoned it): cancel it and release the hold.")
	case reconcile.CancelDuplicate:
		return ui.PlanToDo, lang.L("Cancel"), lang.L("The sale was paid by other means: cancel this authorisation (duplicate).")
	case reconcile.AlreadyQueued:
		return ui.PlanInfo, "", lang.L("Its capture or cancellation is already on its way.")
	case reconcile.InProgress:
		return ui.PlanInfo, "", lang.L("Its sale is still being paid at the till: left alone.")
	case reconcile.NearExpiry:
		return ui.PlanAttention, "", lang.L("This authorisation lapses at {{.When}}.", map[string]any{"When": when(r.CaptureBefore)})
	case reconcile.MissingOnServer:
		return ui.PlanAttention, "", lang.L("Completed sale whose card payment the payment service does not list.")
	case reconcile.OutboxPending:
		return ui.PlanInfo, "", lang.L("Waiting to be sent:") + " " + r.Reason
	case reconcile.OutboxDead:
		return ui.PlanAttention, "", lang.L("Failed for good:") + " " + r.Reason
	case reconcile.OfflineUnforwarded:
		return ui.PlanAttention, "", lang.L("Card payment taken offline at {{.When}}, not yet forwarded.", map[string]any{"When": when(r.Created)})
	case reconcile.ForwardDeclined:
		return ui.PlanAttention, "", lang.L("Offline card payment declined when forwarded: the sale is unpaid.") + " " + r.Reason
	case reconcile.PaymentFailed:
		return ui.PlanAttention, "", lang.L("Payment failed after the sale: the sale is unpaid.") + " " + r.Reason
	}
	return ui.PlanInfo, "", r.Reason
}

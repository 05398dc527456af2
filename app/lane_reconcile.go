package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tillpos/till/app/report"
	"github.com/tillpos/till/sync/drain"
)

// ReconcileParams configures a headless end of day (cmd/till-lane
// reconcile): the same plan, actions and Z report as the manager's
// screen, for scripts.
type ReconcileParams struct {
	Config Config
	// Day is any time in the local day to close; now when zero.
	Day time.Time
	// Apply carries the plan out (through the outbox) and waits for it;
	// otherwise the plan is only shown.
	Apply bool
	// Location is the shop's time zone; time.Local when nil.
	Location *time.Location
	Logger   *slog.Logger
}

// ReconcileOutput is what a headless end of day prints (as JSON).
type ReconcileOutput struct {
	Plan   DayPlan       `json:"plan"`
	Result *DayResult    `json:"result,omitempty"` // when applied
	Report report.Report `json:"report"`
}

// RunReconcile plans — and, with Apply, applies — the end of day of the
// lane whose database the config names, and returns the plan and the Z
// report. Applying waits until the outbox has sent every action, or ctx
// ends (what is queued then carries on at the next start).
func RunReconcile(ctx context.Context, p ReconcileParams) (ReconcileOutput, error) {
	var out ReconcileOutput
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	t, err := Open(Params{Config: p.Config, Logger: p.Logger, Location: p.Location,
		DrainBackoff: drain.ExponentialBackoff(100*time.Millisecond, 2*time.Second)})
	if err != nil {
		return out, err
	}
	defer t.Close()
	day := p.Day
	if day.IsZero() {
		day = t.now()
	}
	if out.Plan, err = t.PlanDay(ctx, day); err != nil {
		return out, err
	}
	if p.Apply {
		t.Start()
		res, err := t.ApplyDay(ctx, out.Plan, nil)
		out.Result = &res
		if err != nil {
			return out, err
		}
	}
	if out.Report, err = t.ZReport(day); err != nil {
		return out, fmt.Errorf("reconcile: %w", err)
	}
	return out, nil
}

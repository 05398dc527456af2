package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/stripe/stripe-go/v86"
	"github.com/tillpos/till/sync/api"
)

// Run polls until ctx ends, then returns nil. It returns an error only if
// the cursor cannot be loaded, or ErrRunning if the Poller is already
// running. Every other failure is reported through Config.OnState and
// retried. Run starts no goroutines: when it returns, nothing of the
// Poller is left running.
func (p *Poller) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer p.running.Store(false)
	cursor, err := p.cfg.Load()
	if err != nil {
		return fmt.Errorf("events: load cursor: %w", err)
	}
	r := &runner{p: p, cfg: &p.cfg, cursor: cursor}
	r.report(Polling, nil)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := r.poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-p.wake:
		}
	}
}

// runner is the state of one Run; only Run's goroutine touches it.
type runner struct {
	p      *Poller
	cfg    *Config
	cursor string
	// emptyHistory: the cursor is "" because nothing was listed at the
	// first poll of this Run, so everything listed later is new.
	emptyHistory bool
	failures     int

	reported bool
	last     State
}

// poll catches up once and returns the wait before the next poll.
func (r *runner) poll(ctx context.Context) time.Duration {
	err := r.catchUp(ctx)
	if err == nil {
		r.failures = 0
		r.report(CaughtUp, nil)
		return r.cfg.Every
	}
	if ctx.Err() != nil {
		return 0
	}
	r.failures++
	wait := r.cfg.Backoff(r.failures)
	status := Failing
	switch cls := api.ClassOf(err); {
	case errors.Is(err, ErrApply):
	case cls == api.Transient || cls == api.Indeterminate:
		status = Offline
	case cls == api.Permanent:
		wait = max(wait, r.cfg.RetryPermanent)
	}
	r.report(status, err)
	r.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "events: poll failed", slog.String("status", status.String()),
		slog.Int("failures", r.failures), slog.Duration("retry_in", wait), slog.String("error", err.Error()))
	return wait
}

// catchUp applies every listed event after the cursor, oldest first.
func (r *runner) catchUp(ctx context.Context) error {
	if r.cursor == "" {
		if r.emptyHistory {
			// Nothing existed at the first poll: whatever is listed now
			// is new, from its oldest event on.
			if err := r.fromOldest(ctx); err != nil || r.cursor == "" {
				return err
			}
		} else {
			if err := r.start(ctx); err != nil || r.cursor == "" {
				return err
			}
		}
	}
	for {
		l, err := r.list(ctx, &stripe.EventListParams{ListParams: stripe.ListParams{EndingBefore: stripe.String(r.cursor)}})
		if err != nil {
			if !cursorMissing(err) {
				return err
			}
			lost := r.cursor
			r.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "events: cursor event no longer listed; resuming from the oldest listed event, events in between may be missed",
				slog.String("cursor", lost), slog.String("error", err.Error()))
			if err := r.fromOldest(ctx); err != nil {
				return fmt.Errorf("%w (%s): %w", ErrCursorLost, lost, err)
			}
			if r.cursor == lost {
				return nil // nothing listed at all; try again next poll
			}
			continue
		}
		if len(l.Data) > 0 {
			r.report(Polling, nil)
		}
		// The page holds the events just after the cursor, newest first.
		for i := len(l.Data) - 1; i >= 0; i-- {
			if err := r.apply(ctx, l.Data[i]); err != nil {
				return err
			}
		}
		if !l.HasMore {
			return nil
		}
		if len(l.Data) == 0 {
			return fmt.Errorf("events: list events: %w: empty page with has_more", api.ErrMalformedResponse)
		}
	}
}

// start handles the first poll of a till without a cursor: the newest
// listed event becomes the starting point, saved, and nothing older is
// applied.
func (r *runner) start(ctx context.Context) error {
	l, err := r.list(ctx, &stripe.EventListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(1)}})
	if err != nil {
		return err
	}
	if len(l.Data) == 0 {
		r.emptyHistory = true
		return nil
	}
	id := l.Data[0].ID
	if id == "" {
		return fmt.Errorf("events: list events: %w: event without an id", api.ErrMalformedResponse)
	}
	if err := r.cfg.Save(ctx, id); err != nil {
		return fmt.Errorf("events: save starting cursor %s: %w", id, err)
	}
	r.cursor = id
	r.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "events: no cursor: starting after the newest event", slog.String("cursor", id))
	return nil
}

// fromOldest walks the list to its end and applies its oldest event,
// which then is the cursor. It is used when every listed event is known to
// be newer than what was applied (no history at the first poll, or the
// cursor event aged out of the list).
func (r *runner) fromOldest(ctx context.Context) error {
	var oldest *stripe.Event
	q := &stripe.EventListParams{}
	for {
		l, err := r.list(ctx, q)
		if err != nil {
			return err
		}
		if len(l.Data) == 0 {
			break
		}
		oldest = l.Data[len(l.Data)-1]
		if !l.HasMore {
			break
		}
		if oldest.ID == "" {
			return fmt.Errorf("events: list events: %w: event without an id", api.ErrMalformedResponse)
		}
		q = &stripe.EventListParams{ListParams: stripe.ListParams{StartingAfter: stripe.String(oldest.ID)}}
	}
	if oldest == nil {
		return nil
	}
	r.report(Polling, nil)
	return r.apply(ctx, oldest)
}

// list fetches one page of the wanted types.
func (r *runner) list(ctx context.Context, q *stripe.EventListParams) (*stripe.EventList, error) {
	q.Types = r.p.types
	if q.Limit == nil {
		q.Limit = stripe.Int64(PageSize)
	}
	l, _, err := r.cfg.Client.ListEvents(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("events: list events: %w", err)
	}
	return l, nil
}

// cursorMissing reports the API's answer to an ending_before naming an
// event it no longer has.
func cursorMissing(err error) bool {
	var e *api.Error
	return errors.As(err, &e) && e.Class == api.Permanent && e.Code == "resource_missing" &&
		(e.Param == "" || e.Param == "ending_before")
}

// apply hands one event to Config.Apply and advances the cursor if it was
// persisted.
func (r *runner) apply(ctx context.Context, ev *stripe.Event) error {
	switch {
	case ev == nil || ev.ID == "":
		return fmt.Errorf("events: list events: %w: event without an id", api.ErrMalformedResponse)
	case ev.ID == r.cursor:
		return nil // never apply the cursor event again
	}
	got, err := r.callApply(ctx, ev)
	if err == nil && got == ev.ID {
		r.cursor = got
		return nil
	}
	if err == nil {
		err = fmt.Errorf("the cursor returned is %q, not the event id", got)
	}
	// Apply may have committed and failed afterwards: the store, not the
	// error, says whether the event was applied.
	if stored, lerr := r.cfg.Load(); lerr == nil && stored == ev.ID {
		r.cursor = stored
		r.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "events: Apply failed after persisting the event; not applying it again",
			slog.String("event", ev.ID), slog.String("error", err.Error()))
		return nil
	}
	return fmt.Errorf("%w: event %s (%s): %w", ErrApply, ev.ID, ev.Type, err)
}

// callApply calls Config.Apply, turning a panic into an error.
func (r *runner) callApply(ctx context.Context, ev *stripe.Event) (cursor string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return r.cfg.Apply(ctx, ev)
}

// report emits a State when the status changes (or, while Failing, when
// the error changes).
func (r *runner) report(s Status, err error) {
	if r.reported && s == r.last.Status && (s != Failing || errText(err) == errText(r.last.Err)) {
		return
	}
	r.reported = true
	r.last = State{Status: s, Err: err, Cursor: r.cursor, Since: r.cfg.Now()}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{slog.String("status", s.String()), slog.String("cursor", r.cursor)}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	r.cfg.Logger.LogAttrs(context.Background(), level, "events: state", attrs...)
	r.cfg.OnState(r.last)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

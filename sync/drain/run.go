package drain

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tillpos/till/queue"
)

// errNoMore ends a batch-lease transaction that leased nothing, so that it
// rolls back instead of committing an empty write.
var errNoMore = errors.New("no more due entries")

// result is what a worker reports to the loop when it has finished with a
// lease.
type result struct {
	more        bool      // the worker leased its next entry and keeps its slot
	answered    bool      // the API answered (any outcome but unreachable)
	holdUntil   time.Time // the API asked every call to wait (Retry-After)
	unreachable bool      // the API could not be reached
	lastErr     string    // the failure as stored on the entry, "" if none
}

// probeResult is what a probe goroutine reports.
type probeResult struct {
	started time.Time
	err     error
}

// loop is the state of one Run. Only the Run goroutine touches it.
type loop struct {
	d       *Drainer
	cfg     *Config
	execCtx context.Context
	commit  *committer
	results chan result
	probes  chan probeResult
	wg      sync.WaitGroup

	inFlight     int
	state        Connectivity
	probing      bool
	probeAt      time.Time // next probe (or, without a Probe, next trial entry) while not online
	lastEvidence time.Time // last answer or probe result
	nextDue      time.Time // from the last NotDueError; zero if unknown or none
	holdUntil    time.Time // no leasing before this (the API's Retry-After)
	lastErr      string

	dirty     bool
	emitted   bool
	lastEmit  time.Time
	lastEvent Event
}

// Run drains the outbox until ctx is done, then stops: the contexts of
// executions in flight are cancelled, Run waits for them to return and
// records their outcomes (an interrupted call is rescheduled to run again
// at once, see the package Caveats), and returns nil. It returns early
// with an error if the store fails (closed, corrupt), after the same
// orderly stop. The Store must stay open until Run has returned.
func (d *Drainer) Run(ctx context.Context) (err error) {
	if !d.running.CompareAndSwap(false, true) {
		return fmt.Errorf("run drainer: %w", ErrRunning)
	}
	defer d.running.Store(false)

	execCtx, cancelExec := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelExec()
	l := &loop{
		d:       d,
		cfg:     &d.cfg,
		execCtx: execCtx,
		commit:  newCommitter(d.cfg.Store, d.cfg.Concurrency),
		results: make(chan result, d.cfg.Concurrency),
		probes:  make(chan probeResult, 1),
		probeAt: d.cfg.Now(),
		dirty:   true,
	}
	d.setState(Unknown)
	d.chain.Store(false)

	err = l.run(ctx)

	// Orderly stop: cancel what is in flight and record how it ended.
	d.chain.Store(false)
	cancelExec()
	for l.inFlight > 0 {
		l.apply(<-l.results, d.cfg.Now())
	}
	if l.probing {
		<-l.probes
		l.probing = false
	}
	l.wg.Wait()
	l.commit.close()
	l.dirty = true
	l.emit(d.cfg.Now(), true)
	return err
}

func (l *loop) run(ctx context.Context) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if ctx.Err() != nil {
			return nil
		}
		now := l.cfg.Now()
		l.d.chain.Store(l.state == Online && !now.Before(l.holdUntil))

		// Lease as many due entries as there are free slots.
		if free := l.limit(now) - l.inFlight; free > 0 {
			leases, next, err := l.lease(now, free)
			for _, ls := range leases {
				l.start(ls)
			}
			if err != nil {
				return err
			}
			if len(leases) > 0 {
				l.dirty = true
			}
			if len(leases) == free {
				l.nextDue = time.Time{} // unknown: look again when a slot frees
			} else {
				l.nextDue = next
			}
		}

		// Probe when it is time.
		wakeAt := time.Time{}
		if at, ok := l.probeTime(now); ok {
			if !at.After(now) {
				l.startProbe(now)
			} else {
				wakeAt = at
			}
		}
		if l.cfg.Probe == nil && l.state == Offline && now.Before(l.probeAt) {
			// Without a probe, a trial entry may go out at probeAt.
			wakeAt = earliest(wakeAt, l.probeAt)
		}
		if now.Before(l.holdUntil) {
			wakeAt = earliest(wakeAt, l.holdUntil)
		}
		if l.limit(now) > l.inFlight && !l.nextDue.IsZero() {
			wakeAt = earliest(wakeAt, l.nextDue)
		}
		if at := l.emit(now, false); !at.IsZero() {
			wakeAt = earliest(wakeAt, at)
		}

		// Sleep until something happens.
		var tc <-chan time.Time
		if !wakeAt.IsZero() {
			wait := max(wakeAt.Sub(now), time.Millisecond) // never spin
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-l.d.wake:
			l.dirty = true
		case <-l.cfg.Wake:
			l.dirty = true
		case r := <-l.results:
			l.apply(r, l.cfg.Now())
		case p := <-l.probes:
			l.applyProbe(p, l.cfg.Now())
		case <-tc:
			l.dirty = true
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// limit is how many entries may be in flight now.
func (l *loop) limit(now time.Time) int {
	if now.Before(l.holdUntil) {
		return 0 // the API asked for a pause (429 with Retry-After)
	}
	switch l.state {
	case Online:
		return l.cfg.Concurrency
	case Unknown:
		return 1 // one entry finds out; the others wait for its answer
	}
	if l.cfg.Probe == nil && !now.Before(l.probeAt) {
		return 1 // offline without a probe: a trial entry is the probe
	}
	return 0
}

// probeTime is when the next probe is due, if one should run at all.
func (l *loop) probeTime(now time.Time) (time.Time, bool) {
	if l.cfg.Probe == nil || l.probing {
		return time.Time{}, false
	}
	switch l.state {
	case Online:
		if l.inFlight > 0 {
			return time.Time{}, false
		}
		return l.lastEvidence.Add(l.cfg.IdleProbeEvery), true
	default:
		return l.probeAt, true
	}
}

// lease leases up to n due entries: the first with Store.Lease (a read
// transaction when nothing is due), the rest in one write transaction.
func (l *loop) lease(now time.Time, n int) ([]queue.Lease, time.Time, error) {
	store := l.cfg.Store
	first, err := store.Lease(now)
	if nd := (*queue.NotDueError)(nil); errors.As(err, &nd) {
		return nil, nd.Next, nil
	} else if err != nil {
		return nil, time.Time{}, fmt.Errorf("drain: lease: %w", err)
	}
	leases := []queue.Lease{first}
	if n == 1 {
		return leases, time.Time{}, nil
	}
	var next time.Time
	var more []queue.Lease
	err = store.Update(func(tx *queue.Tx) error {
		more = more[:0]
		for len(more) < n-1 {
			ls, err := tx.Lease(now)
			if nd := (*queue.NotDueError)(nil); errors.As(err, &nd) {
				next = nd.Next
				break
			} else if err != nil {
				return err
			}
			more = append(more, ls)
		}
		if len(more) == 0 {
			return errNoMore
		}
		return nil
	})
	switch {
	case errors.Is(err, errNoMore):
		return leases, next, nil
	case err != nil:
		return leases, time.Time{}, fmt.Errorf("drain: lease: %w", err)
	}
	return append(leases, more...), next, nil
}

// start runs one lease on a worker goroutine.
func (l *loop) start(ls queue.Lease) {
	l.inFlight++
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			r, next := l.d.process(l.execCtx, l.commit, ls)
			r.more = next != nil
			l.results <- r
			if next == nil {
				return
			}
			ls = *next
		}
	}()
}

// startProbe runs the probe on its own goroutine.
func (l *loop) startProbe(now time.Time) {
	l.probing = true
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		ctx, cancel := context.WithTimeout(l.execCtx, l.cfg.ProbeTimeout)
		defer cancel()
		l.probes <- probeResult{started: now, err: callProbe(ctx, l.cfg.Probe)}
	}()
}

// callProbe calls probe, turning a panic into an error.
func callProbe(ctx context.Context, probe func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("probe panicked: %v", r)
		}
	}()
	return probe(ctx)
}

// apply takes a worker's result into the loop's state.
func (l *loop) apply(r result, now time.Time) {
	if !r.more {
		l.inFlight--
	}
	l.dirty = true
	if r.lastErr != "" {
		l.lastErr = r.lastErr
	}
	if r.holdUntil.After(l.holdUntil) {
		l.holdUntil = r.holdUntil
		l.d.chain.Store(false)
	}
	switch {
	case r.unreachable:
		l.lastEvidence = now
		l.probeAt = now.Add(l.cfg.ProbeEvery)
		l.setState(Offline, now, r.lastErr)
	case r.answered:
		l.lastEvidence = now
		l.setState(Online, now, "")
	}
}

// applyProbe takes a probe's result into the loop's state.
func (l *loop) applyProbe(p probeResult, now time.Time) {
	l.probing = false
	l.dirty = true
	if l.execCtx.Err() != nil {
		return // stopping: a cancelled probe says nothing about the API
	}
	l.lastEvidence = now
	if p.err == nil {
		l.setState(Online, now, "")
		return
	}
	// Probe on a fixed cadence from the start of the last probe, so a slow
	// failing probe does not stretch the period.
	l.probeAt = maxTime(p.started.Add(l.cfg.ProbeEvery), now)
	l.setState(Offline, now, "probe: "+p.err.Error())
}

// setState changes the connectivity, logging and emitting the change at
// once.
func (l *loop) setState(s Connectivity, now time.Time, why string) {
	if l.state == s {
		return
	}
	old := l.state
	l.state = s
	l.d.setState(s)
	l.d.chain.Store(s == Online && !now.Before(l.holdUntil))
	if s == Offline {
		l.d.log.Warn("payment API unreachable; drain paused", "from", old.String(), "reason", why)
	} else {
		l.d.log.Info("payment API reachable; draining", "from", old.String())
	}
	l.dirty = true
	l.emit(now, true)
}

// emit sends an Event if something changed, no sooner than EventInterval
// after the previous one unless force is set. When it holds an event back
// it returns the time it may be sent.
func (l *loop) emit(now time.Time, force bool) time.Time {
	if !l.dirty {
		return time.Time{}
	}
	if !force && l.emitted {
		if at := l.lastEmit.Add(l.cfg.EventInterval); now.Before(at) {
			return at
		}
	}
	st, err := l.cfg.Store.Stats()
	if err != nil {
		l.d.log.Error("drain: outbox stats", "err", err)
		return time.Time{}
	}
	l.dirty = false
	ev := Event{
		State:         l.state,
		Pending:       st.Pending,
		InFlight:      st.InFlight,
		Blocked:       st.Blocked,
		Dead:          st.Dead,
		OldestPending: st.OldestPending,
		LastError:     l.lastErr,
		At:            now,
	}
	l.d.mu.Lock()
	l.d.last = ev
	l.d.mu.Unlock()
	if l.emitted && ev.same(l.lastEvent) {
		return time.Time{}
	}
	l.emitted, l.lastEvent, l.lastEmit = true, ev, now
	if l.cfg.OnEvent != nil {
		l.cfg.OnEvent(ev)
	}
	return time.Time{}
}

func (d *Drainer) setState(s Connectivity) {
	d.mu.Lock()
	d.state = s
	d.last.State = s
	d.mu.Unlock()
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

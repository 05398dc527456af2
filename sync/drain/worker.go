package drain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/tillpos/till/queue"
)

// process executes one lease and writes its outcome to the store. When
// the API answered and the drainer is online, the same transaction leases
// the next due entry for this worker (returned as next), so a busy drain
// pays one commit per entry. It never panics: a panicking Executor or
// Record is recovered and the entry rescheduled.
func (d *Drainer) process(ctx context.Context, c *committer, ls queue.Lease) (result, *queue.Lease) {
	w := &write{d: d, c: c, ctx: ctx, ls: ls}
	e := ls.Entry
	log := d.log.With("seq", e.Seq, "order", e.OrderID, "op", e.Op.String(), "attempt", e.Attempts)
	w.log = log

	out, panicked := d.execute(ctx, e)
	now := d.cfg.Now()
	stopping := ctx.Err() != nil
	backoff := func() time.Time { return now.Add(d.cfg.Backoff(e.Attempts)) }

	if panicked != nil {
		log.Error("drain: executor panicked", "panic", fmt.Sprint(panicked.v), "stack", string(panicked.stack))
		return w.reschedule(backoff(), fmt.Sprintf("executor panicked: %v", panicked.v), result{})
	}

	switch out.Kind {
	case Done:
		err := w.commit(withRecord(ls, (*queue.Tx).Complete, out.Record), true)
		if err == nil {
			log.Debug("drain: done")
			return result{answered: true}, w.next
		}
		if lost(err) {
			log.Warn("drain: complete", "err", err)
			return result{answered: true}, nil
		}
		// The API did the call but its answer could not be recorded:
		// try again later; the same idempotency key replays the answer.
		log.Error("drain: record result", "err", err)
		return w.reschedule(backoff(), "record result: "+err.Error(), result{answered: true})

	case Dead:
		if stopping && errors.Is(out.Err, context.Canceled) {
			// Our own cancellation, misread as permanent: not the API's word.
			return w.reschedule(now, "interrupted by drainer stop: "+errText(out.Err), result{})
		}
		msg := errText(out.Err)
		err := w.commit(withRecord(ls, func(tx *queue.Tx, l queue.Lease) error { return tx.DeadLetter(l, msg) }, out.Record), true)
		if err == nil {
			stored := d.storedError(e.Seq, msg)
			log.Warn("drain: dead letter", "err", stored)
			return result{answered: true, lastErr: stored}, w.next
		}
		if lost(err) {
			log.Warn("drain: dead-letter", "err", err)
			return result{answered: true}, nil
		}
		log.Error("drain: record failure", "err", err)
		return w.reschedule(backoff(), "record failure: "+err.Error(), result{answered: true})

	case Retry:
		msg := errText(out.Err)
		switch {
		case stopping:
			// The call was cut short by Stop: its effect is unknown, so it
			// goes again at once on the next run, with the same key.
			return w.reschedule(now, "interrupted by drainer stop: "+msg, result{})
		case out.Unreachable:
			// Offline: the connectivity gate, not the entry's backoff,
			// decides when to try again, so the entry is due now and goes
			// out as soon as the API is back.
			return w.reschedule(now, "payment API unreachable: "+msg, result{unreachable: true})
		}
		wait := d.cfg.Backoff(e.Attempts)
		r := result{answered: true}
		if ra := min(out.RetryAfter, d.cfg.MaxRetryAfter); ra > 0 {
			// A rate limit is the account's, not the entry's: every
			// call waits, not only this one.
			r.holdUntil = now.Add(ra)
			wait = max(wait, ra)
		} else {
			w.chain = true
		}
		return w.reschedule(now.Add(wait), msg, r)
	}

	log.Error("drain: executor returned an invalid outcome", "kind", out.Kind.String())
	return w.reschedule(backoff(),
		fmt.Sprintf("executor returned an invalid outcome (%s): %s", out.Kind, errText(out.Err)), result{})
}

// write is one worker's store write for one lease.
type write struct {
	d     *Drainer
	c     *committer
	ctx   context.Context
	ls    queue.Lease
	log   *slog.Logger
	chain bool         // reschedule may lease the next entry
	next  *queue.Lease // leased in the same transaction, if any
}

// commit writes fn through the committer and, if chain is set, the drainer
// is online and not stopping, leases the next due entry in the same
// transaction.
func (w *write) commit(fn func(*queue.Tx) error, chain bool) error {
	var next *queue.Lease
	err := w.c.do(func(tx *queue.Tx) error {
		next = nil // a batch may run this more than once
		if err := fn(tx); err != nil {
			return err
		}
		if chain && w.d.chain.Load() && w.ctx.Err() == nil {
			// Errors are left to the loop's own Lease to report.
			if ls, err := tx.Lease(w.d.cfg.Now()); err == nil {
				next = &ls
			}
		}
		return nil
	})
	if err == nil {
		w.next = next
	}
	return err
}

// reschedule persists the next attempt of a failed lease and completes r
// with the error as stored.
func (w *write) reschedule(at time.Time, msg string, r result) (result, *queue.Lease) {
	err := w.commit(func(tx *queue.Tx) error { return tx.Reschedule(w.ls, at, msg) }, w.chain)
	if err != nil {
		// The lease stays in flight until the store is reopened, which
		// makes the entry due again: nothing is lost.
		w.log.Error("drain: reschedule", "err", err)
		r.lastErr = msg
		return r, nil
	}
	r.lastErr = w.d.storedError(w.ls.Entry.Seq, msg)
	w.log.Warn("drain: retry later", "at", at, "err", r.lastErr)
	return r, w.next
}

// storedError reads back an entry's LastError, which the store has cut and
// redacted, so that logs and events never show more than the database.
func (d *Drainer) storedError(seq uint64, fallback string) string {
	var msg string
	err := d.cfg.Store.View(func(tx *queue.Tx) error {
		e, err := tx.Entry(seq)
		msg = e.LastError
		return err
	})
	if err != nil {
		return "(error not readable: " + err.Error() + ")"
	}
	if msg == "" {
		return fallback
	}
	return msg
}

type panicValue struct {
	v     any
	stack []byte
}

// execute calls the Executor, recovering a panic.
func (d *Drainer) execute(ctx context.Context, e queue.Entry) (out Outcome, p *panicValue) {
	defer func() {
		if r := recover(); r != nil {
			p = &panicValue{v: r, stack: debug.Stack()}
		}
	}()
	return d.cfg.Executor.Execute(ctx, e), nil
}

// withRecord returns a transaction function that applies op to the lease
// and then runs record, turning a panic in record into an error, so that
// the transaction rolls back and the lease stays valid.
func withRecord(ls queue.Lease, op func(*queue.Tx, queue.Lease) error, record func(*queue.Tx) error) func(*queue.Tx) error {
	return func(tx *queue.Tx) (err error) {
		if err := op(tx, ls); err != nil {
			return err
		}
		if record == nil {
			return nil
		}
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("record panicked: %v", r)
			}
		}()
		return record(tx)
	}
}

// lost reports a store error after which the lease is gone: nothing more
// can be written for it in this process.
func lost(err error) bool {
	return errors.Is(err, queue.ErrLeaseLost) || errors.Is(err, queue.ErrClosed)
}

func errText(err error) string {
	if err == nil {
		return "no error given"
	}
	return err.Error()
}

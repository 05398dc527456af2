// Package drain is Till's outbox drainer: background workers that take the
// payment API calls the queue package stored with each sale and perform
// them, once in effect, whatever the network and the process do.
//
// # Basics
//
// The drainer is generic: it leases entries from a *queue.Store and hands
// each to an Executor, which the app implements on top of the payment API
// client. The Executor sends the call with the entry's IdempotencyKey and
// classifies what happened as an Outcome:
//
//   - Done: the API performed the call. The entry is completed and
//     Outcome.Record writes the answer (PaymentIntent id, status) onto the
//     order in the same bbolt transaction.
//   - Retry: a transient failure (429, 5xx, key in use, or the API not
//     reachable at all, which sets Outcome.Unreachable). The entry stays at
//     the head of its order with its next attempt time and error on disk.
//   - Dead: a permanent failure. The entry becomes a dead letter (Record
//     may flag the order for the manager) and the order's later entries
//     wait behind it; other orders carry on.
//
// Typical wiring:
//
//	wake := make(chan struct{}, 1)
//	store, err := queue.Open(path, queue.Options{OnChange: func() {
//		select {
//		case wake <- struct{}{}:
//		default:
//		}
//	}})
//	…
//	d, err := drain.New(drain.Config{
//		Store: store, Executor: exec, Wake: wake,
//		Probe:   client.Ping,                 // a cheap GET
//		OnEvent: func(ev drain.Event) { ui.Post(ev) }, // must not block
//	})
//	go d.Run(ctx) // until ctx is cancelled; then close the store
//
// Up to Config.Concurrency entries (default 4) execute at once. The store
// lets only the first remaining entry of an order be leased, so the entries
// of one order go out strictly one after the other (a capture never before
// its create completed) while different orders drain in parallel. When
// slots are free the drainer leases several due entries in one transaction.
// When nothing is due it sleeps until the earliest of: the next entry's due
// time (queue.NotDueError.Next), a Wake, the next probe, or the end of ctx.
// It never polls in a loop.
//
// Outcomes are written with group commit: the outcomes of workers that
// finish while a transaction is being written share the next one (and its
// fsync); if one of them fails (say its Record), the others are written
// again on their own, so a failure stays with its entry. While online, a
// worker leases its next entry in the same transaction that records its
// outcome, so a busy drain costs one commit per entry, shared between
// workers. BenchmarkDrain measures the result against bare HTTP calls.
//
// Transient failures are retried after Config.Backoff(attempts) (default:
// exponential from 1 s to 5 min with jitter), or after Outcome.RetryAfter if
// the server asked for longer (capped by Config.MaxRetryAfter); a
// Retry-After also pauses all leasing until it has passed, since a rate
// limit applies to the account. The time is written with the entry
// (queue.Store.Reschedule), so a restart keeps it.
// Transient failures never turn into dead letters: only the Executor decides
// that a failure is permanent.
//
// # Connectivity
//
// The drainer keeps a view of the API, Unknown, Online or Offline, derived
// from outcomes (Unreachable means Offline; any answer, even an error, means
// Online) and from Config.Probe, which runs at start, every ProbeEvery
// (default 1 s) while offline and every IdleProbeEvery (default 30 s) while
// online with nothing in flight. While offline no entry is leased, so no
// attempts are burnt on a dead link: entries keep their place and their due
// times. An entry that failed because the API was unreachable is
// rescheduled for the moment of the failure, not backed off, because the
// probe, not the entry's backoff, decides when to try again: as soon as a
// probe succeeds the drainer is online and leases everything due, so the
// drain resumes within about ProbeEvery (plus one round trip) of the API
// coming back, however long the outage lasted. Entries backed off after a
// real answer (429, 5xx) keep their backoff.
//
// In Unknown state (at start, before the first answer) one entry at a time
// goes out, so that a dead link costs one attempt, not Concurrency. Without
// a Probe, an offline drainer lets one due entry through every ProbeEvery
// and that entry's outcome decides.
//
// Config.OnEvent receives an Event (state, pending, in flight, blocked and
// dead counts, oldest pending entry, last error) when something changed:
// identical events are dropped, and events are at most one per
// EventInterval (default 250 ms) except that a change of state is sent at
// once. The counts come from queue.Store.Stats, so they include changes made
// by others (new sales, a manager requeueing a dead letter).
//
// # Caveats
//
// Stopping: when the context given to Run is done, the contexts of
// executions in flight are cancelled and Run waits for the Executor calls
// to return, so the Executor must honour its context. An outcome that
// arrives then is recorded as usual (a Done is completed). A call cut short
// (Retry, or Dead wrapping context.Canceled) has an unknown effect on the
// server; its entry is rescheduled as due at once rather than left leased,
// so that a drainer started again on the same open Store picks it up
// without waiting for the store to be reopened. Sending it again is safe
// because it carries the same idempotency key: the API replays its first
// answer instead of acting twice. If the process dies instead, the lease is
// reclaimed when the store is next opened (queue.Open) and the first Lease
// of the new drainer takes it, with the same key.
//
// Idempotency keys are kept by the API for about 24 hours. An entry that
// stays pending longer (a till offline for a day) may be executed after its
// key was pruned; recognising an already-applied call then (retrieving the
// PaymentIntent, or listing by metadata[order_id]) is the Executor's job,
// as is resolving any other indeterminate answer before reporting Done.
//
// A panic in the Executor or in Outcome.Record is recovered, logged with
// its stack, and the entry rescheduled with backoff and the panic as its
// error; the drainer carries on. A Record that fails leaves the entry
// pending (the API's answer replays under the same key); an Executor bug
// that keeps failing shows as a growing attempt count and LastError, never
// as a lost entry.
//
// Error texts are stored and shown after the store has cut them to
// queue.MaxLastErrorLen and redacted API keys; the Executor must still keep
// client secrets out of them. Payloads are never logged.
//
// If the API answers probes but not calls (a proxy that is half up), the
// drainer alternates between online and offline at most once per
// ProbeEvery, spending at most Concurrency attempts each time.
//
// Attempts counts leases, so it includes attempts made while the link was
// going down and attempts cut short by a stop or a crash; the backoff grows
// with it up to its cap.
//
// Run must not be called twice at the same time (ErrRunning); the Store
// must stay open until Run has returned. A store error other than a lost
// lease (closed, corrupt) ends Run with that error after an orderly stop.
package drain

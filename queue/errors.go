package queue

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Callers branch on them with errors.Is; the errors the
// package returns wrap them and add the operation and, where it helps, the
// file or the entry involved.
var (
	// ErrAlreadyRunning is returned by Open when another Store (in this
	// process or another) holds the database file and did not release it
	// within Options.LockTimeout. The error's message is
	// "Till is already running with <file>".
	ErrAlreadyRunning = errors.New("already running")

	// ErrCorrupt is returned when the database file cannot be trusted: it is
	// not a bbolt file, a meta page or checksum is bad, it is truncated, its
	// buckets are not Till's, a record does not decode, or bbolt panicked on
	// a damaged page. The error is a *CorruptError naming the file. Open
	// never creates a fresh database over such a file; see MoveAside.
	ErrCorrupt = errors.New("database is corrupt")

	// ErrSchemaTooNew is returned by Open when the file was written by a
	// newer Till whose schema this binary does not know. The file is fine:
	// upgrade Till instead of moving it aside.
	ErrSchemaTooNew = errors.New("database schema is newer than this version of Till")

	// ErrClosed is returned by every method of a Store after Close.
	ErrClosed = errors.New("store is closed")

	// ErrNotFound is returned when an order or an outbox entry does not exist.
	ErrNotFound = errors.New("not found")

	// ErrNoneDue is returned by Lease when no entry can be leased now. The
	// error is a *NotDueError telling when the next one becomes due.
	ErrNoneDue = errors.New("no outbox entry is due")

	// ErrLeaseLost is returned when a Lease is used after it stopped being
	// valid: it was already completed, rescheduled or dead-lettered, or the
	// store was closed and reopened (leases never survive a reopen).
	ErrLeaseLost = errors.New("lease lost")

	// ErrInvalid is returned for arguments that can never be stored: an
	// order id or value key that is empty, too long or not printable ASCII,
	// an unknown operation, an empty or oversized named value, a named
	// value written in a View transaction, and similar caller mistakes.
	ErrInvalid = errors.New("invalid argument")

	// ErrNotDead is returned by RequeueDead and DiscardDead when the entry
	// exists but is not a dead letter.
	ErrNotDead = errors.New("entry is not a dead letter")

	// ErrFrozen is returned by Enqueue between Store.Freeze and
	// Store.Thaw: the till is being moved to another lane or payment
	// service and nothing may be queued for the old one.
	ErrFrozen = errors.New("outbox is frozen")
)

// CorruptError reports a database file that cannot be trusted. It matches
// ErrCorrupt with errors.Is. Path is the file to pass to MoveAside.
type CorruptError struct {
	Path string // the database file
	Err  error  // what was found wrong (may wrap a bbolt error)
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("database file %s is corrupt: %v", e.Path, e.Err)
}

// Unwrap returns the underlying cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// alreadyRunningError carries the exact message the cashier sees.
type alreadyRunningError struct {
	path  string
	cause error
}

func (e *alreadyRunningError) Error() string {
	return "Till is already running with " + e.path
}

func (e *alreadyRunningError) Unwrap() error { return e.cause }

func (e *alreadyRunningError) Is(target error) bool { return target == ErrAlreadyRunning }

// NotDueError is returned by Lease when nothing can be leased. It matches
// ErrNoneDue with errors.Is.
type NotDueError struct {
	// Next is when the earliest waiting entry becomes due, or the zero time
	// when no entry is waiting at all (the outbox is empty, or everything
	// left is in flight or blocked behind a dead letter).
	Next time.Time
}

func (e *NotDueError) Error() string {
	if e.Next.IsZero() {
		return "lease: no outbox entry is waiting"
	}
	return "lease: no outbox entry is due before " + e.Next.UTC().Format(time.RFC3339Nano)
}

// Is reports whether target is ErrNoneDue.
func (e *NotDueError) Is(target error) bool { return target == ErrNoneDue }

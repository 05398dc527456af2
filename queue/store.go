package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// DefaultLockTimeout is how long Open waits for another instance to release
// the file when Options.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// Options configure Open. The zero value is the production setting.
type Options struct {
	// LockTimeout bounds how long Open waits for the file lock held by
	// another Store before failing with ErrAlreadyRunning. Zero or negative
	// means DefaultLockTimeout; Open never waits forever.
	LockTimeout time.Duration

	// Now is the clock used for creation, completion and migration times.
	// Nil means time.Now.
	Now func() time.Time

	// NoSync skips fsync on commit. A crash can then lose or corrupt
	// committed data: for benchmarks and bulk test fixtures only.
	NoSync bool

	// OnChange, if set, is called after every committed write transaction
	// (an enqueue, a lease, a completion, …), in the committing goroutine
	// and after the lock is released. It must not block: a non-blocking
	// send on a channel with a buffer of one is the intended use, to wake a
	// drainer or refresh a screen.
	OnChange func()

	// Logger receives warnings (reclaimed leases, a damaged database).
	// Nil discards them.
	Logger *slog.Logger
}

// Store is an open Till database. Its methods are safe for concurrent use;
// write transactions are serialised, read transactions run in parallel.
type Store struct {
	db       *bolt.DB
	path     string
	now      func() time.Time
	onChange func()
	log      *slog.Logger
	gen      uint64 // this opening's generation; leases carry it
	frozen   atomic.Bool
}

// DefaultPath returns the default database file, till.db in a "till"
// directory under os.UserConfigDir (e.g. ~/.config/till/till.db on Linux,
// %AppData%\till\till.db on Windows).
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("default database path: %w", err)
	}
	return filepath.Join(dir, "till", "till.db"), nil
}

// Open opens the database at path, creating it and its directory if they do
// not exist, and migrates it to the current schema. It fails with:
//
//   - an error matching ErrAlreadyRunning, whose message is
//     "Till is already running with <file>", when another Store holds the
//     file for longer than Options.LockTimeout;
//   - a *CorruptError (matching ErrCorrupt) naming the file when it exists
//     but fails Open's checks: not a bbolt file, both meta pages or
//     checksums bad, truncated below its page high-water mark, not Till's
//     buckets, unreadable schema or counters. Those checks run on a
//     read-only handle, so such a file is left exactly as it was, and Open
//     never starts an empty database in its place (see MoveAside). Damage
//     deeper in the file is found by Check or when it is read (see the
//     package Caveats);
//   - an error matching ErrSchemaTooNew when a newer Till wrote the file.
//
// Opening starts a new generation: every lease taken before (by a process
// that crashed, or by this process before Close) is reclaimed, so its entry
// is due again.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("open store: empty path: %w", ErrInvalid)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	existed := false
	switch fi, err := os.Stat(path); {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("open store %s: is a directory: %w", path, ErrInvalid)
	case err == nil:
		// An empty file holds nothing to lose (a crash while bbolt was
		// creating it); bbolt initialises it.
		existed = fi.Size() > 0
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	s := &Store{path: path, now: opts.Now, onChange: opts.OnChange, log: opts.Logger}
	if existed {
		// Validate through a read-only handle first: it takes a shared
		// lock (so a running instance is still detected), does not load
		// the freelist and is closed cleanly if the file is bad, so a
		// damaged file is neither written to nor left mapped.
		ro, err := s.openBolt(opts, true, existed)
		if err != nil {
			return nil, err
		}
		s.db = ro
		err = s.validate()
		if err == nil {
			s.warnDamagedMeta()
		}
		if cerr := ro.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("open store %s: %w", path, cerr)
		}
		if err != nil {
			return nil, err
		}
	}
	db, err := s.openBolt(opts, false, existed)
	if err != nil {
		return nil, err
	}
	s.db = db
	if err := s.prepare(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// openBolt opens the file with bbolt and classifies failures. A panic or
// a memory fault inside bbolt on a damaged file becomes a *CorruptError.
func (s *Store) openBolt(opts Options, readOnly, existed bool) (db *bolt.DB, err error) {
	var f *os.File
	defer func() {
		var pe *fs.PathError
		var ce *CorruptError
		switch {
		case err == nil, errors.As(err, &ce):
		case errors.Is(err, berrors.ErrTimeout):
			err = &alreadyRunningError{path: s.path, cause: err}
		case errors.As(err, &pe), !existed:
			err = fmt.Errorf("open store %s: %w", s.path, err)
		default:
			err = &CorruptError{Path: s.path, Err: err}
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if f != nil {
				_ = f.Close()
			}
			db, err = nil, &CorruptError{Path: s.path, Err: fmt.Errorf("bbolt panicked while opening: %v", r)}
		}
	}()
	return bolt.Open(s.path, 0o600, &bolt.Options{
		Timeout:      opts.LockTimeout,
		ReadOnly:     readOnly,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			file, err := os.OpenFile(name, flag, perm)
			f = file
			return file, err
		},
	})
}

// validate checks, read-only and cheaply, that an existing file is a
// sound Till database this build can use.
func (s *Store) validate() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.path, err)
	}
	err = s.raw(false, func(btx *bolt.Tx) error {
		if hw := btx.Size(); hw > fi.Size() {
			return &CorruptError{Path: s.path, Err: fmt.Errorf("file is %d bytes but its pages reach %d: truncated", fi.Size(), hw)}
		}
		v, err := schemaVersion(btx)
		switch {
		case errors.Is(err, errNotTill):
			return &CorruptError{Path: s.path, Err: err}
		case err != nil:
			return err
		case v > CurrentSchema:
			return fmt.Errorf("schema version %d, this Till knows up to %d: %w", v, CurrentSchema, ErrSchemaTooNew)
		case v == 0:
			return nil // bbolt created it, Till never wrote to it
		}
		tx, err := s.newTx(btx)
		if err != nil {
			return err
		}
		_, err = tx.counters()
		return err
	})
	return s.openErr(err)
}

// prepare migrates the file, starts a new generation and reclaims old
// leases, in one write transaction.
func (s *Store) prepare() error {
	var reclaimed int
	err := s.raw(true, func(btx *bolt.Tx) error {
		if err := migrate(btx, migrations, s.now()); err != nil {
			return err
		}
		tx, err := s.newTx(btx)
		if err != nil {
			return err
		}
		if s.gen, err = tx.nextGeneration(); err != nil {
			return err
		}
		if reclaimed, err = tx.reclaimLeases(); err != nil {
			return err
		}
		return tx.flush()
	})
	if err != nil {
		return s.openErr(err)
	}
	if reclaimed > 0 {
		s.log.Warn("reclaimed outbox leases left by an earlier run", "file", s.path, "entries", reclaimed)
	}
	return nil
}

// warnDamagedMeta logs when bbolt opened the file from its second meta page
// because the first one is unreadable: the transaction whose meta page was
// damaged (normally one torn by a power cut, never acknowledged) is gone.
func (s *Store) warnDamagedMeta() {
	f, err := os.Open(s.path)
	if err != nil {
		return
	}
	defer f.Close()
	ps := int64(s.db.Info().PageSize)
	for i := int64(0); i < 2; i++ {
		var magic [4]byte
		if _, err := f.ReadAt(magic[:], i*ps+16); err == nil && binary.LittleEndian.Uint32(magic[:]) != boltMagic && binary.BigEndian.Uint32(magic[:]) != boltMagic {
			s.log.Warn("database meta page is damaged; opened from the other copy, the last transaction before the damage may be missing", "file", s.path, "page", i)
		}
	}
}

// boltMagic is bbolt's meta page magic number.
const boltMagic = 0xED0CDAED

func (s *Store) openErr(err error) error {
	var ce *CorruptError
	if err == nil || errors.As(err, &ce) {
		return err
	}
	return fmt.Errorf("open store %s: %w", s.path, err)
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close releases the file. Leases still held are lost: their entries are due
// again at the next Open. Close is idempotent.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// Update runs fn in a read-write transaction and commits it if fn returns
// nil; any error rolls back everything fn did. This is how a sale is saved
// together with the outbox entries it causes.
func (s *Store) Update(fn func(*Tx) error) error { return s.run(true, fn) }

// Freeze stops new outbox entries: once it returns nil, every Enqueue
// fails with ErrFrozen until Thaw. check runs in the write transaction
// that sets the freeze, so it sees every entry enqueued before the freeze
// and none can slip in after it; when check fails, the store is left as
// it was and its error is returned. Entries already queued are still
// leased and completed as usual.
func (s *Store) Freeze(check func(*Tx) error) error {
	return s.Update(func(tx *Tx) error {
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		s.frozen.Store(true)
		return nil
	})
}

// Thaw ends a Freeze.
func (s *Store) Thaw() { s.frozen.Store(false) }

// View runs fn in a read-only transaction with a consistent snapshot.
func (s *Store) View(fn func(*Tx) error) error { return s.run(false, fn) }

func (s *Store) run(write bool, fn func(*Tx) error) error {
	return s.raw(write, func(btx *bolt.Tx) error {
		tx, err := s.newTx(btx)
		if err != nil {
			return err
		}
		if err := callUser(func() error { return fn(tx) }); err != nil {
			return err
		}
		if write {
			return tx.flush()
		}
		return nil
	})
}

// userPanic marks a panic raised by caller code inside a transaction: it is
// passed on unchanged, never mistaken for a damaged database.
type userPanic struct{ v any }

// storePanic marks a panic raised inside the store's own bbolt access.
type storePanic struct{ v any }

func callUser(fn func() error) error {
	defer func() {
		if r := recover(); r != nil {
			switch r.(type) {
			case userPanic, storePanic:
				panic(r)
			}
			panic(userPanic{r})
		}
	}()
	return fn()
}

// raw runs a bbolt transaction. Memory faults on the mapped file become
// panics (debug.SetPanicOnFault), and panics that did not come from caller
// code — bbolt's reaction to damaged pages — become a *CorruptError.
func (s *Store) raw(write bool, fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if up, ok := r.(userPanic); ok {
			panic(up.v)
		}
		if sp, ok := r.(storePanic); ok {
			r = sp.v
		}
		s.log.Error("database panic", "file", s.path, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		err = &CorruptError{Path: s.path, Err: fmt.Errorf("bbolt panicked: %v", r)}
	}()
	if write {
		err = s.db.Update(fn)
	} else {
		err = s.db.View(fn)
	}
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	if write && err == nil && s.onChange != nil {
		s.onChange()
	}
	return err
}

// MoveAside renames a database file that Open reported corrupt to
// "<path>.corrupt-<UTC time>" (e.g. till.db.corrupt-20261123T101500Z), adding
// "-2", "-3", … if that name is taken, and returns the new path. Nothing is
// deleted: the file stays available for recovery. The next Open creates a
// fresh database. The caller must make sure no Store has the file open.
func MoveAside(path string, now time.Time) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("move aside %s: %w", path, err)
	}
	base := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	for i := 1; i < 1000; i++ {
		target := base
		if i > 1 {
			target = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := os.Lstat(target); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("move aside %s: %w", path, err)
		}
		if err := os.Rename(path, target); err != nil {
			return "", fmt.Errorf("move aside %s: %w", path, err)
		}
		syncDir(filepath.Dir(path))
		return target, nil
	}
	return "", fmt.Errorf("move aside %s: too many earlier copies named %s*", path, base)
}

// syncDir makes a rename durable where the platform allows it.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync() // not supported for directories on every platform
	_ = d.Close()
}

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Persistence (Options.DataFile, -data FILE) uses bbolt: one bucket per
// kind of object, one JSON value per object. Handlers mark the records they
// change (touch); at the end of the request, still under the state lock,
// the touched records are marshalled into a pending delta. A request that
// changed state does not answer before a transaction containing its delta
// has committed (fsync), so an answered request survives a crash. Commits
// are grouped: while one transaction is being written, later requests wait
// and the next transaction carries all their deltas, so the cost is one
// fsync per group and proportional to what changed, not to the size of the
// state. bbolt is already Till's storage engine; a whole-state JSON
// snapshot was tried first and degraded quadratically with history.

const dataFormat = "till-sandbox/2"

var (
	bucketIntents   = "payment_intents"
	bucketCustomers = "customers"
	bucketPMs       = "payment_methods"
	bucketCharges   = "charges"
	bucketEvents    = "events"
	bucketIdem      = "idempotency"
	bucketMeta      = "meta"
	allBuckets      = []string{bucketIntents, bucketCustomers, bucketPMs, bucketCharges, bucketEvents, bucketIdem, bucketMeta}
)

// errWriteData wraps a failed write of the data file.
var errWriteData = errors.New("sandbox: write data file")

// persistFailure is the answer to a request whose changes were applied but
// could not be written to the data file.
func persistFailure() *apiError {
	return &apiError{Status: http.StatusInternalServerError, Type: typeAPI,
		Message: "The sandbox could not write its data file; the change is kept in memory and the write is retried with the next request."}
}

type touchKey struct{ bucket, id string }

// delta is what one or more requests changed: records to put (nil value:
// delete), and whether everything was reset first.
type delta struct {
	reset bool
	puts  map[touchKey][]byte
}

type metaRec struct {
	Format      string        `json:"format"`
	Seq         int64         `json:"seq"`
	ClockOffset time.Duration `json:"clock_offset"`
}

// touch marks a record as changed. Called with s.mu held.
func (s *Server) touch(bucket, id string) {
	if s.store == nil || id == "" {
		return
	}
	s.touched[touchKey{bucket, id}] = struct{}{}
}

// touchPI marks a PaymentIntent and the records that change with it.
func (s *Server) touchPI(pi *intentRec) {
	s.touch(bucketIntents, pi.ID)
	s.touch(bucketCharges, pi.LatestCharge)
	s.touch(bucketPMs, pi.PaymentMethod)
}

// collect marshals the touched records into the pending delta. Called with
// s.mu held, at the end of every request that changed something.
func (s *Server) collect() {
	if s.store == nil {
		return
	}
	if s.pending.puts == nil {
		s.pending.puts = map[touchKey][]byte{}
	}
	for k := range s.touched {
		var v any
		switch k.bucket {
		case bucketIntents:
			if r := s.st.Intents[k.id]; r != nil {
				v = r
			}
		case bucketCustomers:
			if r := s.st.Customers[k.id]; r != nil {
				v = r
			}
		case bucketPMs:
			if r := s.st.PMs[k.id]; r != nil {
				v = r
			}
		case bucketCharges:
			if r := s.st.Charges[k.id]; r != nil {
				v = r
			}
		case bucketEvents:
			if i, ok := s.st.eventIndex[k.id]; ok {
				v = s.st.Events[i]
			}
		case bucketIdem:
			if r := s.st.Idem[k.id]; r != nil {
				v = r
			}
		}
		var b []byte
		if v != nil {
			b = mustJSON(v)
		}
		s.pending.puts[k] = b
	}
	clear(s.touched)
	s.pending.puts[touchKey{bucketMeta, "meta"}] = mustJSON(metaRec{Format: dataFormat, Seq: s.st.Seq, ClockOffset: s.clock.Offset()})
}

// takePending hands the pending delta to the writer.
func (s *Server) takePending() (uint64, delta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.pending
	s.pending = delta{}
	return s.gen, d
}

// restorePending puts back a delta whose write failed, so the next write
// retries it. Changes collected since win over the failed ones; a reset
// collected since makes them moot.
func (s *Server) restorePending(d delta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending.reset {
		return
	}
	if d.puts == nil {
		d.puts = map[touchKey][]byte{}
	}
	for k, v := range s.pending.puts {
		d.puts[k] = v
	}
	s.pending = d
}

// persist waits until generation gen is in the data file. It fails when
// the file cannot be written; the changes then stay pending and are retried
// by the next write.
func (s *Server) persist(gen uint64) error {
	if gen == 0 || s.store == nil {
		return nil
	}
	return s.store.waitFor(gen)
}

// persistAll waits until everything changed so far is in the data file.
func (s *Server) persistAll() error {
	if s.store == nil {
		return nil
	}
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	return s.persist(gen)
}

func openData(path string) (*bolt.DB, *state, error) {
	_, statErr := os.Stat(path)
	fresh := errors.Is(statErr, os.ErrNotExist)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, nil, fmt.Errorf("data file is in use by another process: %w", err)
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrCorruptData, err)
	}
	st, err := loadState(db, fresh)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, st, nil
}

func loadState(db *bolt.DB, fresh bool) (*state, error) {
	st := newState()
	err := db.Update(func(tx *bolt.Tx) error {
		if fresh {
			for _, b := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
					return err
				}
			}
			return nil
		}
		for _, b := range allBuckets {
			if tx.Bucket([]byte(b)) == nil {
				return fmt.Errorf("%w: bucket %q missing", ErrCorruptData, b)
			}
		}
		var meta metaRec
		if raw := tx.Bucket([]byte(bucketMeta)).Get([]byte("meta")); raw != nil {
			if err := json.Unmarshal(raw, &meta); err != nil || meta.Format != dataFormat {
				return fmt.Errorf("%w: bad meta record", ErrCorruptData)
			}
		}
		st.Seq, st.ClockOffset = meta.Seq, meta.ClockOffset
		load := func(bucket string, each func(k string, v []byte) error) error {
			return tx.Bucket([]byte(bucket)).ForEach(func(k, v []byte) error {
				if err := each(string(k), v); err != nil {
					return fmt.Errorf("%w: %s/%s: %v", ErrCorruptData, bucket, k, err)
				}
				return nil
			})
		}
		errs := []error{
			load(bucketIntents, func(k string, v []byte) error { return decodeInto(v, k, &st.Intents) }),
			load(bucketCustomers, func(k string, v []byte) error { return decodeInto(v, k, &st.Customers) }),
			load(bucketPMs, func(k string, v []byte) error { return decodeInto(v, k, &st.PMs) }),
			load(bucketCharges, func(k string, v []byte) error { return decodeInto(v, k, &st.Charges) }),
			load(bucketIdem, func(k string, v []byte) error { return decodeInto(v, k, &st.Idem) }),
			load(bucketEvents, func(k string, v []byte) error {
				var e eventRec
				if err := json.Unmarshal(v, &e); err != nil {
					return err
				}
				st.Events = append(st.Events, &e)
				return nil
			}),
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return nil, err
	}
	st.IntentOrder = orderBySeq(st.Intents, func(r *intentRec) int64 { return r.Seq })
	st.CustomerOrder = orderBySeq(st.Customers, func(r *customerRec) int64 { return r.Seq })
	st.PMOrder = orderBySeq(st.PMs, func(r *pmRec) int64 { return r.Seq })
	sort.Slice(st.Events, func(i, j int) bool { return st.Events[i].Seq < st.Events[j].Seq })
	for _, id := range st.IntentOrder {
		if st.Intents[id].Seq > st.Seq {
			return nil, fmt.Errorf("%w: sequence counter behind the data", ErrCorruptData)
		}
	}
	st.reindex()
	return st, nil
}

// decodeInto unmarshals v into a new record stored under key k; the
// record's id must be the key (idempotency records have no id).
func decodeInto[T any](v []byte, k string, m *map[string]*T) error {
	rec := new(T)
	if err := json.Unmarshal(v, rec); err != nil {
		return err
	}
	var probe struct {
		ID *string `json:"id"`
	}
	_ = json.Unmarshal(v, &probe)
	if probe.ID != nil && *probe.ID != k {
		return fmt.Errorf("id %q stored under %q", *probe.ID, k)
	}
	(*m)[k] = rec
	return nil
}

func orderBySeq[T any](m map[string]*T, seq func(*T) int64) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return seq(m[ids[i]]) < seq(m[ids[j]]) })
	return ids
}

// persister group-commits deltas into the bbolt file.
type persister struct {
	db      *bolt.DB
	take    func() (uint64, delta)
	putBack func(delta) // a delta whose write failed goes back to pending
	log     *slog.Logger
	mu      sync.Mutex
	cond    *sync.Cond
	done    uint64
	writing bool
	// failWrite, when set (by tests, with mu held), is called before each
	// write; an error it returns fails the write.
	failWrite func() error
}

func newPersister(db *bolt.DB, take func() (uint64, delta), putBack func(delta), log *slog.Logger) *persister {
	p := &persister{db: db, take: take, putBack: putBack, log: log}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// waitFor returns once generation gen (or later) is committed.
func (p *persister) waitFor(gen uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.done < gen {
		if p.writing {
			p.cond.Wait()
			continue
		}
		p.writing = true
		hook := p.failWrite
		p.mu.Unlock()
		g, d := p.take()
		var err error
		if hook != nil {
			err = hook()
		}
		if err == nil {
			err = p.write(d)
		}
		if err != nil {
			p.putBack(d)
		}
		p.mu.Lock()
		p.writing = false
		p.cond.Broadcast()
		if err != nil {
			p.log.Error("sandbox: write data file", slog.String("error", err.Error()))
			return fmt.Errorf("%w: %w", errWriteData, err)
		}
		if g > p.done {
			p.done = g
		}
	}
	return nil
}

func (p *persister) write(d delta) error {
	if !d.reset && len(d.puts) == 0 {
		return nil
	}
	return p.db.Update(func(tx *bolt.Tx) error {
		if d.reset {
			for _, b := range allBuckets {
				if err := tx.DeleteBucket([]byte(b)); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
					return err
				}
				if _, err := tx.CreateBucket([]byte(b)); err != nil {
					return err
				}
			}
		}
		for k, v := range d.puts {
			b := tx.Bucket([]byte(k.bucket))
			var err error
			if v == nil {
				err = b.Delete([]byte(k.id))
			} else {
				err = b.Put([]byte(k.id), v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// close commits what is pending and closes the file.
func (p *persister) close(gen uint64) error {
	err := p.waitFor(gen)
	return errors.Join(err, p.db.Close())
}

// touchID marks whatever record a request's path id names.
func (s *Server) touchID(id string) {
	if s.store == nil || id == "" {
		return
	}
	if pi := s.st.Intents[id]; pi != nil {
		s.touchPI(pi)
	}
	if s.st.PMs[id] != nil {
		s.touch(bucketPMs, id)
	}
	if s.st.Customers[id] != nil {
		s.touch(bucketCustomers, id)
	}
}

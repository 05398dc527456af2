package drain

import (
	"errors"

	"github.com/tillpos/till/queue"
)

// maxBatch bounds how many outcomes go into one write transaction.
const maxBatch = 64

// committer writes workers' outcomes to the store with group commit: the
// outcomes that arrive while a transaction is being written go together
// into the next one, so that with several workers the cost of a commit
// (an fsync) is shared instead of paid per entry. If a batch fails, each
// of its outcomes is written again on its own, so that one failing Record
// cannot fail the others (the same approach as bbolt's DB.Batch).
type committer struct {
	store *queue.Store
	reqs  chan commitReq
	done  chan struct{}
}

type commitReq struct {
	fn   func(*queue.Tx) error
	errc chan error
}

// batchError marks the request whose function failed a batch.
type batchError struct {
	i   int
	err error
}

func (e *batchError) Error() string { return e.err.Error() }

func newCommitter(store *queue.Store, workers int) *committer {
	c := &committer{store: store, reqs: make(chan commitReq, workers), done: make(chan struct{})}
	go c.loop()
	return c
}

// do writes fn in a transaction, possibly shared with other requests, and
// returns fn's error or the store's. Nothing fn did is kept if it fails.
func (c *committer) do(fn func(*queue.Tx) error) error {
	errc := make(chan error, 1)
	c.reqs <- commitReq{fn: fn, errc: errc}
	return <-errc
}

// close stops the committer once every request sent has been answered;
// no request may be sent after it.
func (c *committer) close() {
	close(c.reqs)
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	batch := make([]commitReq, 0, maxBatch)
	for r := range c.reqs {
		batch = append(batch[:0], r)
	more:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		c.write(batch)
	}
}

func (c *committer) write(batch []commitReq) {
	if len(batch) == 1 {
		batch[0].errc <- c.store.Update(batch[0].fn)
		return
	}
	err := c.store.Update(func(tx *queue.Tx) error {
		for i, r := range batch {
			if err := r.fn(tx); err != nil {
				return &batchError{i: i, err: err}
			}
		}
		return nil
	})
	if err == nil {
		for _, r := range batch {
			r.errc <- nil
		}
		return
	}
	var be *batchError
	if !errors.As(err, &be) {
		// The store failed (closed, corrupt): every request gets it.
		for _, r := range batch {
			r.errc <- err
		}
		return
	}
	// One function failed and rolled the whole batch back: write each on
	// its own so that only the failing one fails.
	for _, r := range batch {
		r.errc <- c.store.Update(r.fn)
	}
}

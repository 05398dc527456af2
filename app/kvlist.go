package app

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/tillpos/till/queue"
)

// kvList is a small list kept as one JSON value in the store's key-value
// bucket, changed inside the caller's transaction with the order change
// that causes it: the sales whose payment is pending, the payments stored
// offline, the authorisations waiting for capture, the manager's list.
// Each holds what is open right now (tens to a few thousand items), not
// history.
type kvList[T any] struct {
	key  string
	what string // for errors: "the offline payments list"
	// same says whether two items are the same one (add replaces it).
	same func(a, b T) bool
}

func (l kvList[T]) load(tx *queue.Tx) ([]T, error) {
	b, err := tx.Value(l.key)
	if err != nil || b == nil {
		return nil, err
	}
	var items []T
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf("read %s: %w", l.what, err)
	}
	return items, nil
}

func (l kvList[T]) save(tx *queue.Tx, items []T) error {
	if len(items) == 0 {
		return tx.DeleteValue(l.key)
	}
	b, err := json.Marshal(items)
	if err != nil {
		return fmt.Errorf("write %s: %w", l.what, err)
	}
	return tx.PutValue(l.key, b)
}

// add adds v, or replaces the item that is the same; an identical item
// changes nothing.
func (l kvList[T]) add(tx *queue.Tx, v T) error {
	items, err := l.load(tx)
	if err != nil {
		return err
	}
	if i := slices.IndexFunc(items, func(x T) bool { return l.same(x, v) }); i >= 0 {
		a, _ := json.Marshal(items[i])
		b, _ := json.Marshal(v)
		if string(a) == string(b) {
			return nil
		}
		items[i] = v
	} else {
		items = append(items, v)
	}
	return l.save(tx, items)
}

// remove drops the items match selects; none changes nothing.
func (l kvList[T]) remove(tx *queue.Tx, match func(T) bool) error {
	items, err := l.load(tx)
	if err != nil {
		return err
	}
	kept := slices.DeleteFunc(slices.Clone(items), match)
	if len(kept) == len(items) {
		return nil
	}
	return l.save(tx, kept)
}

// view loads the list in a read transaction of its own.
func (l kvList[T]) view(s *queue.Store) ([]T, error) {
	var items []T
	err := s.View(func(tx *queue.Tx) error {
		var err error
		items, err = l.load(tx)
		return err
	})
	return items, err
}

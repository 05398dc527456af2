package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tillpos/till/queue"
)

// kvList is a set of small items kept in the store's key-value bucket,
// one value per item under "<key>/<id>", changed inside the caller's
// transaction with the order change that causes it: the sales whose
// payment is pending, the payments stored offline, the authorisations
// waiting for capture, the manager's list. Each holds what is open right
// now, not history; one value per item keeps a busy day's list (a
// thousand authorisations) within the store's limit on one value, and a
// change writes one item, not the list.
type kvList[T any] struct {
	key  string
	what string // for errors: "the offline payments list"
	// id names an item within the list (printable ASCII without spaces);
	// add replaces the item with the same id.
	id func(T) string
}

func (l kvList[T]) itemKey(v T) string { return l.keyOf(l.id(v)) }

// keyOf is the key of the item with id.
func (l kvList[T]) keyOf(id string) string {
	if len(l.key)+1+len(id) > queue.MaxValueKeyLen {
		// An id from outside (a PaymentIntent id is up to 255 bytes)
		// that would not fit a key is named by its hash.
		sum := sha256.Sum256([]byte(id))
		id = hex.EncodeToString(sum[:])
	}
	return l.key + "/" + id
}

// load returns the items in id order. A list written by an earlier
// version as one JSON array under key itself is read too.
func (l kvList[T]) load(tx *queue.Tx) ([]T, error) {
	var items []T
	legacy, err := tx.Value(l.key)
	if err != nil {
		return nil, err
	}
	if legacy != nil {
		if err := json.Unmarshal(legacy, &items); err != nil {
			return nil, fmt.Errorf("read %s: %w", l.what, err)
		}
	}
	err = tx.ForEachValue(l.key+"/", func(k string, b []byte) error {
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("read %s: item %s: %w", l.what, k, err)
		}
		items = append(items, v)
		return nil
	})
	return items, err
}

// migrate moves a legacy single-value list to one value per item.
func (l kvList[T]) migrate(tx *queue.Tx) error {
	legacy, err := tx.Value(l.key)
	if err != nil || legacy == nil {
		return err
	}
	var items []T
	if err := json.Unmarshal(legacy, &items); err != nil {
		return fmt.Errorf("read %s: %w", l.what, err)
	}
	for _, v := range items {
		if err := l.put(tx, v); err != nil {
			return err
		}
	}
	return tx.DeleteValue(l.key)
}

func (l kvList[T]) put(tx *queue.Tx, v T) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("write %s: %w", l.what, err)
	}
	return tx.PutValue(l.itemKey(v), b)
}

// add adds v, or replaces the item with its id.
func (l kvList[T]) add(tx *queue.Tx, v T) error {
	if err := l.migrate(tx); err != nil {
		return err
	}
	return l.put(tx, v)
}

// remove drops the items match selects; none changes nothing.
func (l kvList[T]) remove(tx *queue.Tx, match func(T) bool) error {
	if err := l.migrate(tx); err != nil {
		return err
	}
	items, err := l.load(tx)
	if err != nil {
		return err
	}
	for _, v := range items {
		if match(v) {
			if err := tx.DeleteValue(l.itemKey(v)); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeID drops the item with id, if there is one: one delete, however
// long the list.
func (l kvList[T]) removeID(tx *queue.Tx, id string) error {
	if err := l.migrate(tx); err != nil {
		return err
	}
	return tx.DeleteValue(l.keyOf(id))
}

// empty says whether the list has no item, reading at most one.
func (l kvList[T]) empty(s *queue.Store) (bool, error) {
	none := true
	err := s.View(func(tx *queue.Tx) error {
		legacy, err := tx.Value(l.key)
		if err != nil || legacy != nil { // an earlier version's array is never empty
			none = legacy == nil
			return err
		}
		return tx.ForEachValue(l.key+"/", func(string, []byte) error {
			none = false
			return errStop
		})
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return none, err
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

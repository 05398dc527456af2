package manager

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// StateFile keeps a Guard's State in a small JSON file at the given path:
//
//	f := manager.StateFile(filepath.Join(dir, "manager-pin.json"))
//	g := &manager.Guard{Hash: h, Load: f.Load, Save: f.Save}
type StateFile string

// Load reads the State. A missing file is a zero State; an unreadable or
// malformed file is an error naming the path.
func (f StateFile) Load() (State, error) {
	var s State
	b, err := os.ReadFile(string(f))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("load manager PIN state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("load manager PIN state from %s: %w", string(f), err)
	}
	return s, nil
}

// Save writes the State to a temporary file in the same directory, syncs it
// and renames it over the old one, so a crash leaves either the old or the
// new State, never a torn file.
func (f StateFile) Save(s State) (err error) {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("save manager PIN state: %w", err)
	}
	path := string(f)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save manager PIN state: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("save manager PIN state: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("save manager PIN state: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("save manager PIN state: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save manager PIN state: %w", err)
	}
	return nil
}

package app

import (
	"fmt"
	"slices"
	"sync"

	"github.com/tillpos/till/reader/sim"
	"github.com/tillpos/till/ui"
)

// tillSettings are the settings the cashier screen offers, saved to the
// config file they came from. It implements ui.Settings.
type tillSettings struct {
	t    *Till
	path string // the config file; "" when the till was not opened from one

	mu   sync.Mutex
	lang string // the saved choice (the till's Config keeps the one it started with)
}

func newSettings(t *Till, path string) *tillSettings {
	return &tillSettings{t: t, path: path, lang: t.cfg.Language}
}

var _ ui.Settings = (*tillSettings)(nil)

// languages have translations of the screens.
var languages = []string{"en", "fr", "de"}

func (s *tillSettings) Language() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lang
}

func (s *tillSettings) Languages() []string { return slices.Clone(languages) }

// SetLanguage saves the choice after checking the manager's PIN.
func (s *tillSettings) SetLanguage(tag, pin string) error {
	if tag != "" && !slices.Contains(languages, tag) {
		return fmt.Errorf("set language: %q has no translation", tag)
	}
	if err := s.t.checkManagerPIN(pin); err != nil {
		return fmt.Errorf("set language: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.path != "" {
		cfg, err := ReadConfig(s.path)
		if err != nil {
			return fmt.Errorf("set language: %w", err)
		}
		cfg.Language = tag
		if err := SaveConfig(s.path, cfg); err != nil {
			return fmt.Errorf("set language: %w", err)
		}
	}
	s.lang = tag
	return nil
}

// simulatorControls lets the cashier screen play the customer on the
// built-in simulated reader. It implements ui.CardSimulator.
type simulatorControls struct{ d *sim.Device }

var _ ui.CardSimulator = simulatorControls{}

func (s simulatorControls) TestCards() []string           { return sim.TestCards() }
func (s simulatorControls) PresentCard(card string) error { return s.d.Tap(card) }
func (s simulatorControls) CustomerCancel() error         { return s.d.CustomerCancel() }

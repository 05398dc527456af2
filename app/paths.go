package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Paths are where Till keeps its files for the user running it, each in
// the place the operating system sets aside for that kind of file:
//
//	            Linux (XDG)                 Windows                    macOS
//	Config      $XDG_CONFIG_HOME/till       %AppData%\Till             ~/Library/Application Support/Till
//	Data        $XDG_DATA_HOME/till         %LocalAppData%\Till        ~/Library/Application Support/Till
//	Logs        $XDG_STATE_HOME/till/logs   %LocalAppData%\Till\logs   ~/Library/Logs/Till
//
// with the XDG defaults ~/.config, ~/.local/share and ~/.local/state. The
// database is Data/till.db, unless the config names another file, or a
// database from before this layout exists at Config/till.db (that file
// keeps being used: moving a till's database is the shop's decision).
type Paths struct {
	ConfigFile string // config.json
	Data       string // the database, the install key, the PIN lock state
	Logs       string // till.log and its rotated predecessors
	// KeyFile holds the API key where no OS keyring is available,
	// readable by the user only.
	KeyFile string
}

// DefaultPaths returns the per-user paths for this operating system.
func DefaultPaths(getenv func(string) string) (Paths, error) {
	home, err := os.UserHomeDir()
	if err != nil && getenv("APPDATA") == "" && getenv("XDG_CONFIG_HOME") == "" {
		return Paths{}, fmt.Errorf("find the per-user directories: %w", err)
	}
	return pathsFor(runtime.GOOS, getenv, home)
}

// pathsFor computes Paths for an operating system, from its environment
// and the home directory, so every platform's layout is testable here.
func pathsFor(system string, getenv func(string) string, home string) (Paths, error) {
	need := func(v, name string) (string, error) {
		if v == "" || !filepath.IsAbs(v) {
			return "", fmt.Errorf("find the per-user directories: %s is not set to an absolute path", name)
		}
		return v, nil
	}
	var config, data, logs string
	switch system {
	case "windows":
		roaming, err := need(getenv("APPDATA"), "%AppData%")
		if err != nil {
			return Paths{}, err
		}
		local, err := need(getenv("LOCALAPPDATA"), "%LocalAppData%")
		if err != nil {
			return Paths{}, err
		}
		config = filepath.Join(roaming, "Till")
		data = filepath.Join(local, "Till")
		logs = filepath.Join(local, "Till", "logs")
	case "darwin":
		if _, err := need(home, "the home directory"); err != nil {
			return Paths{}, err
		}
		config = filepath.Join(home, "Library", "Application Support", "Till")
		data = config
		logs = filepath.Join(home, "Library", "Logs", "Till")
	default: // Linux and the BSDs: the XDG base directories
		xdg := func(name, fallback string) (string, error) {
			if v := getenv(name); filepath.IsAbs(v) { // relative values are ignored, as the spec says
				return v, nil
			}
			if _, err := need(home, "the home directory"); err != nil {
				return "", err
			}
			return filepath.Join(home, fallback), nil
		}
		c, err := xdg("XDG_CONFIG_HOME", ".config")
		if err != nil {
			return Paths{}, err
		}
		d, err := xdg("XDG_DATA_HOME", filepath.Join(".local", "share"))
		if err != nil {
			return Paths{}, err
		}
		s, err := xdg("XDG_STATE_HOME", filepath.Join(".local", "state"))
		if err != nil {
			return Paths{}, err
		}
		config, data, logs = filepath.Join(c, "till"), filepath.Join(d, "till"), filepath.Join(s, "till", "logs")
	}
	return Paths{
		ConfigFile: filepath.Join(config, "config.json"),
		Data:       data,
		Logs:       logs,
		KeyFile:    filepath.Join(config, "api-key"),
	}, nil
}

// Database is the database file for cfg: the config's own, else a
// database left at the layout before this one, else Data/till.db.
func (p Paths) Database(cfg Config) string {
	if cfg.Database != "" {
		return cfg.Database
	}
	legacy := filepath.Join(filepath.Dir(p.ConfigFile), "till.db")
	if _, err := os.Stat(legacy); err == nil {
		return legacy
	}
	return filepath.Join(p.Data, "till.db")
}

// DemoDatabase is where "Try the demo" keeps its sales, apart from the
// shop's own.
func (p Paths) DemoDatabase() string { return filepath.Join(p.Data, "demo", "till.db") }

// configExists says whether the config file is there (the wizard runs
// when it is not). Errors other than "not there" count as there, so that
// opening it reports them.
func configExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

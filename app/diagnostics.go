package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// diagLogLines is how much of the log's end the diagnostics carry.
const diagLogLines = 200

// diagnostics is what support needs to know about a till, as the "Copy
// diagnostics" button gathers it. Every field is optional: a till that
// cannot start still has a version, paths and a log.
type diagnostics struct {
	Version string
	Now     time.Time
	Paths   Paths
	// Config is the configuration in use; nil when none was read.
	Config *Config
	// KeyWhere says where the API key is kept, never the key.
	KeyWhere string
	// Till is the open till; nil when it did not open.
	Till *Till
	// Problem is why the till did not start, if it did not.
	Problem error
	// Scrub removes the keys the process knows of, and anything shaped
	// like one.
	Scrub *scrubber
}

// Text renders the report, with every secret removed: the configured key
// (it never enters the report, and is scrubbed anyway, as is anything that
// looks like an API key), and the manager PIN's hash.
func (d diagnostics) Text() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Till %s (%s, %s/%s)\n", d.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "Report time: %s\n", d.Now.Format(time.RFC3339))
	fmt.Fprintf(&b, "Config file: %s%s\n", d.Paths.ConfigFile, exists(d.Paths.ConfigFile))
	fmt.Fprintf(&b, "Data directory: %s\n", d.Paths.Data)
	fmt.Fprintf(&b, "Log directory: %s\n", d.Paths.Logs)
	if d.Problem != nil {
		fmt.Fprintf(&b, "\nStart-up problem: %v\n", d.Problem)
	}
	if d.Config != nil {
		c := *d.Config
		c.API.Key = "" // json:"-" already; belt and braces
		if c.ManagerPINHash != "" {
			c.ManagerPINHash = "set"
		}
		js, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			js = []byte(err.Error())
		}
		fmt.Fprintf(&b, "\nConfiguration:\n%s\n", js)
		switch {
		case c.API.BaseURL == "":
			fmt.Fprintln(&b, "API key: the built-in sandbox's")
		case d.Config.API.Key != "":
			fmt.Fprintf(&b, "API key: set, kept in %s\n", d.KeyWhere)
		default:
			fmt.Fprintf(&b, "API key: missing (expected in %s)\n", d.KeyWhere)
		}
	}
	if t := d.Till; t != nil {
		fmt.Fprintf(&b, "\nPayment API: %s\n", t.APIDescription())
		if st, err := t.StoreState(); err != nil {
			fmt.Fprintf(&b, "Store: %v\n", err)
		} else {
			fmt.Fprintf(&b, "Database: %s\nConnection: %s\nReader: %s\n", st.Path, st.Connection, st.Reader)
			fmt.Fprintf(&b, "Orders: %d; outbox pending %d, in flight %d, dead %d", st.Orders, st.Pending, st.InFlight, st.Dead)
			if !st.OldestPending.IsZero() {
				fmt.Fprintf(&b, "; oldest pending since %s", st.OldestPending.Format(time.RFC3339))
			}
			fmt.Fprintln(&b)
		}
	}
	fmt.Fprintf(&b, "\nLast lines of %s:\n", filepath.Join(d.Paths.Logs, logFile))
	if err := tail(&b, filepath.Join(d.Paths.Logs, logFile), diagLogLines); err != nil {
		fmt.Fprintf(&b, "(%v)\n", err)
	}
	return string(d.Scrub.Scrub(b.Bytes()))
}

func exists(path string) string {
	if _, err := os.Stat(path); err != nil {
		return " (not there)"
	}
	return ""
}

// tail copies the last n lines of the file at path to w.
func tail(w io.Writer, path string, n int) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	defer f.Close()
	// The log rotates at a few megabytes: read at most the last 256 KiB.
	const window = 256 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > window {
		if _, err := f.Seek(fi.Size()-window, io.SeekStart); err != nil {
			return fmt.Errorf("read log: %w", err)
		}
	}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	_, err = io.WriteString(w, strings.Join(lines, "\n")+"\n")
	return err
}

// Command till-coldstart measures Till's start-up: how long from starting
// the process until its first frame, on the embedded default with a fresh
// data directory each run. It needs a display (run it under xvfb-run).
//
//	go build -o /tmp/till . && xvfb-run -a go run ./cmd/till-coldstart -bin /tmp/till -runs 5
//
// Each run starts `till -first-frame` on a new database; the binary prints
// the time from its main to its first frame and quits. The table shows that
// in-process figure and the wall time from exec to the printed line (which
// adds loading the binary and the Go runtime's start).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	bin := flag.String("bin", "till", "the till binary to start")
	runs := flag.Int("runs", 5, "how many starts to time")
	flag.Parse()
	if err := run(*bin, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "till-coldstart:", err)
		os.Exit(1)
	}
}

func run(bin string, runs int) error {
	fmt.Printf("%-4s %14s %14s\n", "run", "exec→frame ms", "main→frame ms")
	var walls []time.Duration
	for i := 1; i <= runs; i++ {
		wall, inProc, err := once(bin)
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		walls = append(walls, wall)
		fmt.Printf("%-4d %14d %14s\n", i, wall.Milliseconds(), inProc)
	}
	slices.Sort(walls)
	fmt.Printf("median exec→frame: %d ms over %d runs, each on a fresh data directory\n",
		walls[len(walls)/2].Milliseconds(), runs)
	return nil
}

// once starts the binary on a fresh data directory and waits for its
// first-frame line.
func once(bin string) (time.Duration, string, error) {
	dir, err := os.MkdirTemp("", "till-coldstart-*")
	if err != nil {
		return 0, "", err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(bin, "-first-frame", "-demo",
		"-config", filepath.Join(dir, "config.json"), "-db", filepath.Join(dir, "till.db"))
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, "", err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, "", err
	}
	var wall time.Duration
	inProc := ""
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "first frame after "); ok {
			wall = time.Since(start)
			inProc = strings.TrimSuffix(rest, " ms")
		}
	}
	if err := cmd.Wait(); err != nil {
		return 0, "", fmt.Errorf("%s: %w", bin, err)
	}
	if inProc == "" {
		return 0, "", fmt.Errorf("%s printed no first-frame line", bin)
	}
	return wall, inProc, nil
}

// Command till-reader-sim is a card reader on screen: a small window that
// is a simulated Till reader (package reader/sim), speaking the reader
// protocol over TCP on loopback.
//
//	till-reader-sim [-listen 127.0.0.1:7070] [-latency 0s] [-v]
//
// Point a till at it with the reader setting "tcp://127.0.0.1:7070". The
// window shows what the till puts on the reader's screen (cart, thank-you,
// message, QR code) and the reader's prompt; its buttons are the
// customer's: tap, insert (with PIN) or swipe the selected test card,
// decline, cancel, and pull or plug back the cable. The listen address
// must be a loopback address: the simulator accepts no one else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/tillpos/till/reader/sim"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("till-reader-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:7070", "loopback address to accept the till on")
	latency := fs.Duration("latency", 0, "delay before every reply (a slow reader)")
	verbose := fs.Bool("v", false, "log the protocol to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := checkLoopback(*listen); err != nil {
		fmt.Fprintf(stderr, "till-reader-sim: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "till-reader-sim: %v\n", err)
		return 1
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}

	a := app.NewWithID("com.tillpos.till.readersim")
	var win *readerWindow
	dev := sim.New(sim.Options{Latency: *latency, Logger: logger, OnChange: func(s sim.Snapshot) { win.onChange(s) }})
	win = newReaderWindow(dev, ln.Addr().String(), time.Now)
	w := a.NewWindow("Till reader simulator")
	w.SetContent(win.content())
	w.Resize(fyne.NewSize(360, 640))
	win.render(dev.Snapshot())

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- dev.ServeListener(ctx, ln) }()
	go win.run(ctx)
	go func() {
		// Should the listener fail, the window must not pretend to wait.
		select {
		case err := <-served:
			served <- err
			if err != nil {
				fmt.Fprintf(stderr, "till-reader-sim: %v\n", err)
				fyne.Do(a.Quit)
			}
		case <-ctx.Done():
		}
	}()
	w.ShowAndRun()
	cancel()
	if err := <-served; err != nil {
		return 1
	}
	return 0
}

// errNotLoopback is returned for a -listen address other machines could reach.
var errNotLoopback = errors.New("refusing a non-loopback address: the simulator only accepts a till on this machine (use 127.0.0.1:PORT)")

// checkLoopback accepts host:port where host is localhost or a loopback IP.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %q: %w", addr, errNotLoopback)
	}
	return nil
}

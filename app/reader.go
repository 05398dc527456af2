package app

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/sim"
)

// readerSpec is the parsed Config.Reader.
type readerSpec struct {
	kind string // "simulator", "usb" or "tcp"
	ids  []reader.USBID
	addr string
}

// parseReader reads Config.Reader: "simulator", "usb" (the default USB
// IDs), "usb:VID:PID[,VID:PID…]" or "tcp://host:port" (the standalone
// simulator, loopback only).
func parseReader(s string) (readerSpec, error) {
	switch {
	case s == "simulator":
		return readerSpec{kind: "simulator"}, nil
	case s == "usb":
		return readerSpec{kind: "usb", ids: reader.DefaultUSBIDs}, nil
	case strings.HasPrefix(s, "usb:"):
		ids, err := reader.ParseUSBIDs(strings.TrimPrefix(s, "usb:"))
		if err != nil {
			return readerSpec{}, err
		}
		return readerSpec{kind: "usb", ids: ids}, nil
	case strings.HasPrefix(s, "tcp://"):
		addr := strings.TrimPrefix(s, "tcp://")
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return readerSpec{}, fmt.Errorf("%q: %w", s, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return readerSpec{}, fmt.Errorf("%q: the reader simulator is reached on loopback only", s)
		}
		return readerSpec{kind: "tcp", addr: addr}, nil
	}
	return readerSpec{}, fmt.Errorf("%q is not simulator, usb, usb:VID:PID[,VID:PID…] or tcp://127.0.0.1:PORT", s)
}

// openReader builds the configured card reader and starts connecting to it
// in the background; the reader's events reach the status screen.
func (t *Till) openReader(p Params) error {
	spec, err := parseReader(t.cfg.Reader)
	if err != nil {
		return fmt.Errorf("card reader: %w", err)
	}
	var d reader.Dialer
	switch spec.kind {
	case "simulator":
		opts := p.Simulator
		if opts.Now == nil {
			opts.Now = t.now
		}
		if opts.Logger == nil {
			opts.Logger = t.log
		}
		t.sim, t.simTurn = sim.New(opts), make(chan struct{}, 1)
		d = t.sim.Dialer()
	case "usb":
		d = reader.USBDialer(reader.USBOptions{IDs: spec.ids, Logger: t.log})
	case "tcp":
		d = reader.TCPDialer(spec.addr)
	}
	t.reader = reader.New(reader.Options{
		Dialer:  d,
		Host:    fmt.Sprintf("Till %s %s", Version, t.cfg.Lane),
		Now:     t.now,
		Logger:  t.log,
		OnEvent: t.readerEvent,
	})
	return nil
}

// readerEvent keeps what the status screen shows of the reader, and
// passes the reader's collection events to the open register.
func (t *Till) readerEvent(ev reader.Event) {
	t.mu.Lock()
	activity := t.readerActivity
	if ev.Kind == reader.EventState {
		t.readerState, t.readerErr = ev.State, ev.Err
	}
	t.mu.Unlock()
	if ev.Kind != reader.EventState {
		if activity != nil {
			activity(ev)
		}
		return
	}
	t.notify()
}

// Simulator is the built-in simulated reader, for demos and the cashier's
// "simulate a card" buttons; nil when a real or TCP reader is configured.
func (t *Till) Simulator() *sim.Device { return t.sim }

// readerStatus describes the reader for the status screen.
func (t *Till) readerStatus() string {
	t.mu.Lock()
	state, cause := t.readerState, t.readerErr
	t.mu.Unlock()
	desc := state.String()
	if info, err := t.reader.Info(); err == nil && state != reader.StateDisconnected {
		desc = fmt.Sprintf("%s %s (%s): %s", info.Model, info.Serial, info.Firmware, state)
	}
	if state == reader.StateDisconnected && cause != nil {
		desc += ": " + cause.Error()
	}
	return desc
}

// PresentSimulatedCard waits until the built-in simulated reader prompts
// for a card for paymentIntent, then taps card on it (a sim.TestCards
// name; "" lets the amount decide). It is how demos, the headless lane and
// tests play the customer; ctx bounds the wait.
func (t *Till) PresentSimulatedCard(ctx context.Context, paymentIntent, card string) error {
	if t.sim == nil {
		return fmt.Errorf("present a simulated card: the configured reader (%s) is not the built-in simulator", t.cfg.Reader)
	}
	for {
		changed := t.sim.Changed() // taken before looking: no change slips between
		s := t.sim.Snapshot()
		if s.Phase == sim.PhaseWaiting && s.Collecting != nil && s.Collecting.PaymentIntent == paymentIntent {
			if err := t.sim.Tap(card); err != nil {
				return fmt.Errorf("present a simulated card for %s: %w", paymentIntent, err)
			}
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("present a simulated card for %s: the reader never asked for it: %w", paymentIntent, ctx.Err())
		}
	}
}

// collectSimulated is CollectCard with the simulated customer tapping
// card as soon as the reader asks for it. Callers take turns: the lane
// runs several sales at once, and one reader serves one customer.
func (t *Till) collectSimulated(ctx context.Context, orderID, card string) (reader.Collected, error) {
	select {
	case t.simTurn <- struct{}{}:
		defer func() { <-t.simTurn }()
	case <-ctx.Done():
		return reader.Collected{}, fmt.Errorf("collect card for order %s: wait for the reader: %w", orderID, ctx.Err())
	}
	o, err := t.Order(orderID)
	if err != nil {
		return reader.Collected{}, err
	}
	tender, ok := CurrentCard(o)
	if !ok {
		return reader.Collected{}, fmt.Errorf("collect card for order %s: %w", orderID, ErrNotReady)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tapped := make(chan error, 1)
	go func() { tapped <- t.PresentSimulatedCard(ctx, tender.Payment.PaymentIntentID, card) }()
	got, err := t.CollectCard(ctx, orderID)
	cancel()
	<-tapped // the tapper ends with ctx; its error only matters if the collection failed too
	return got, err
}

// readerCause is why the reader is disconnected, if it is.
func (t *Till) readerCause() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.readerState != reader.StateDisconnected {
		return nil
	}
	return t.readerErr
}

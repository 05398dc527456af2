package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/tillpos/till/reader"
)

// Dialer returns an in-process reader.Dialer for the device: each Dial
// makes a reader.Pipe, serves its device end in a goroutine and returns
// the host end. A Dial while an earlier connection is still served ends
// that one first, as plugging a reader into a new host would. While the
// device is unplugged, Dial fails with ErrUnplugged (which wraps
// reader.ErrNoReader).
func (d *Device) Dialer() reader.Dialer { return dialer{d} }

type dialer struct{ d *Device }

func (dialer) String() string { return "simulator" }

func (p dialer) Dial(ctx context.Context) (reader.Transport, error) {
	d := p.d
	for {
		host, dev := reader.Pipe()
		s, err := d.attach(dev)
		if err == nil {
			d.dialed.Go(func() { _ = d.run(context.Background(), s) })
			return host, nil
		}
		_ = host.Close()
		if !errors.Is(err, ErrInUse) {
			return nil, fmt.Errorf("dial simulator: %w", err)
		}
		d.mu.Lock()
		old := d.sess
		d.mu.Unlock()
		if old == nil {
			continue
		}
		_ = old.t.Close()
		select {
		case <-old.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("dial simulator: %w", ctx.Err())
		}
	}
}

// WaitDialed returns once every connection made by the Dialer has been
// served to its end: the host closed its end, or a later Dial replaced
// it. Call it after closing the host ends, once nothing dials any more; a
// host that keeps its transport open keeps WaitDialed waiting. The device
// logs nothing about those connections after it returns.
func (d *Device) WaitDialed() { d.dialed.Wait() }

// ServeListener accepts hosts on ln one after another and serves each
// (Serve); a host that connects while another is served, or while the
// device is unplugged, is disconnected at once. It returns nil once ctx
// ends, after closing ln and ending the connection it served, or the
// error that made Accept fail.
func (d *Device) ServeListener(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			_ = ln.Close()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("simulated reader: accept host: %w", err)
		}
		s, err := d.attach(reader.ConnTransport(c, "tcp "+c.RemoteAddr().String()))
		if err != nil {
			d.log.Info("simulated reader: refused a host", "remote", c.RemoteAddr().String(), "err", err)
			_ = c.Close()
			continue
		}
		d.log.Info("simulated reader: host connected", "remote", c.RemoteAddr().String())
		wg.Go(func() { _ = d.run(ctx, s) })
	}
}

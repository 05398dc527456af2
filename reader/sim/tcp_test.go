package sim

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/wire"
)

// TestServeListener runs over real loopback TCP (outside synctest).
func TestServeListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := New(Options{Auto: &Auto{Card: "visa"}})
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- d.ServeListener(ctx, ln) }()

	// The Client over reader.TCPDialer: a whole collection.
	c := reader.New(reader.Options{Dialer: reader.TCPDialer(ln.Addr().String()), Host: "tcp host"})
	if err := c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	col, err := c.Collect(t.Context(), reader.CollectRequest{PaymentIntent: "pi_tcp", Amount: 100, Currency: "CHF"})
	if err != nil || col.Last4 != "4242" {
		t.Fatalf("Collect over TCP: %v, %v", col, err)
	}

	// A second host is disconnected at once.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	h := newRawHost(t, reader.ConnTransport(conn, "test host"))
	if _, err := h.read(hostWait); !errors.Is(err, reader.ErrDisconnected) {
		t.Fatalf("second host: %v, want disconnected", err)
	}

	// After the first leaves, the next one is served.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, d, "free", func(s Snapshot) bool { return !s.Connected })
	conn, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	h = newRawHost(t, reader.ConnTransport(conn, "test host"))
	if info := h.identify(); info.Model != DefaultModel {
		t.Fatalf("info %+v", info)
	}
	h.ok(wire.TypeHeartbeat, nil)

	cancel()
	if err := <-served; err != nil {
		t.Fatalf("ServeListener: %v", err)
	}
	if _, err := h.read(hostWait); !errors.Is(err, reader.ErrDisconnected) {
		t.Fatalf("host after the listener stopped: %v", err)
	}
	_ = conn.Close()
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still open")
	}
}

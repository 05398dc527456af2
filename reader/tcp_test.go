package reader

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tillpos/till/reader/wire"
)

// These tests use real loopback sockets, so they run outside synctest and
// wait on channels only.

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// acceptDevice accepts one connection and wraps it as a raw device.
func acceptDevice(t *testing.T, ln net.Listener) <-chan *rawDevice {
	ch := make(chan *rawDevice, 1)
	go func() {
		defer close(ch)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		ch <- newRawDevice(t, &tcpTransport{conn: conn, name: "simulator end"})
	}()
	return ch
}

func TestTCPSession(t *testing.T) {
	ln := listenLoopback(t)
	accepted := acceptDevice(t, ln)
	dialer := TCPDialer(ln.Addr().String())
	if got, want := dialer.String(), "tcp://"+ln.Addr().String(); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	disconnected := make(chan error, 1)
	c := New(Options{
		Dialer:  dialer,
		Backoff: func(int) time.Duration { return time.Hour }, // no redial during the test
		OnEvent: func(ev Event) {
			if ev.Kind == EventState && ev.State == StateDisconnected {
				disconnected <- ev.Err
			}
		},
	})
	defer c.Close()
	d := <-accepted
	d.reply(d.expect(wire.TypeIdentify), &testInfo)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}

	res := async(func() error { return c.SetDisplay(ctx, testCart()) })
	f := d.expect(wire.TypeSetDisplay)
	var got wire.Display
	if err := wire.Unmarshal(f.Payload, &got); err != nil || got.Cart == nil || len(got.Cart.Lines) != 2 {
		t.Fatalf("SetDisplay payload %+v, %v", got, err)
	}
	d.reply(f, nil)
	if err := <-res; err != nil {
		t.Fatalf("SetDisplay: %v", err)
	}

	// The simulator goes away in the middle of a request.
	res = async(func() error { return c.ClearDisplay(ctx) })
	d.expect(wire.TypeClearDisplay)
	d.unplug()
	if err := <-res; !errors.Is(err, ErrDisconnected) {
		t.Fatalf("ClearDisplay: %v", err)
	}
	if err := <-disconnected; !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "tcp://") {
		t.Fatalf("disconnect cause %v", err)
	}
	if err := c.SetDisplay(ctx, testCart()); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("SetDisplay while disconnected: %v", err)
	}
}

func TestTCPDialRefused(t *testing.T) {
	ln := listenLoopback(t)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err := TCPDialer(addr).Dial(context.Background())
	if !errors.Is(err, ErrNoReader) || !strings.Contains(err.Error(), "tcp://"+addr) {
		t.Fatalf("Dial = %v, want ErrNoReader naming %s", err, addr)
	}
}

func TestTCPDialCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := TCPDialer("127.0.0.1:9").Dial(ctx)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrNoReader) {
		t.Fatalf("Dial = %v", err)
	}
}

func TestTCPTransportContext(t *testing.T) {
	ln := listenLoopback(t)
	accepted := acceptDevice(t, ln)
	tr, err := TCPDialer(ln.Addr().String()).Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	d := <-accepted

	// A read interrupted by its context leaves the connection usable.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	buf := make([]byte, 64)
	if _, err := tr.ReadContext(ctx, buf); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrDisconnected) {
		t.Fatalf("ReadContext after its deadline: %v", err)
	}
	cancelled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	if _, err := tr.WriteContext(cancelled, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteContext with a cancelled ctx: %v", err)
	}
	d.write([]byte("hello"))
	n, err := tr.ReadContext(context.Background(), buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("ReadContext = %q, %v", buf[:n], err)
	}
	if _, err := tr.WriteContext(context.Background(), []byte("ping")); err != nil {
		t.Fatal(err)
	}

	// The other end closing is a disconnect, for reads and then writes.
	d.unplug()
	if _, err := tr.ReadContext(context.Background(), buf); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("ReadContext after the peer closed: %v", err)
	}
	tr.Close()
	if _, err := tr.WriteContext(context.Background(), []byte("x")); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("WriteContext after Close: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

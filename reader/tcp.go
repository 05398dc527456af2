package reader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// TCPDialer reaches a reader speaking the protocol over TCP at addr
// ("127.0.0.1:7070"): the standalone simulator. A refused connection is
// ErrNoReader.
func TCPDialer(addr string) Dialer { return tcpDialer{addr: addr} }

type tcpDialer struct{ addr string }

func (d tcpDialer) String() string { return "tcp://" + d.addr }

func (d tcpDialer) Dial(ctx context.Context) (Transport, error) {
	nd := net.Dialer{Timeout: 5 * time.Second}
	conn, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dial %s: %w", d, ctx.Err())
		}
		return nil, fmt.Errorf("%w at %s (%w)", ErrNoReader, d, err)
	}
	return &tcpTransport{conn: conn, name: d.String()}, nil
}

// ConnTransport is a Transport over a stream connection (the simulator's
// side of a TCP connection); name is used in its errors.
func ConnTransport(conn net.Conn, name string) Transport {
	return &tcpTransport{conn: conn, name: name}
}

// tcpTransport is a Transport over a net.Conn. Context cancellation
// interrupts a blocked read or write by moving its deadline into the past.
type tcpTransport struct {
	conn net.Conn
	name string
}

// past is a deadline that has always passed.
var past = time.Unix(1, 0)

func (t *tcpTransport) ReadContext(ctx context.Context, p []byte) (int, error) {
	return t.io(ctx, "read", t.conn.SetReadDeadline, t.conn.Read, p)
}

func (t *tcpTransport) WriteContext(ctx context.Context, p []byte) (int, error) {
	return t.io(ctx, "write", t.conn.SetWriteDeadline, t.conn.Write, p)
}

func (t *tcpTransport) io(ctx context.Context, op string, setDeadline func(time.Time) error, do func([]byte) (int, error), p []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("%s %s: %w", op, t.name, err)
	}
	if ctx.Done() == nil { // never cancelled
		n, err := do(p)
		return n, t.ioError(ctx, op, err)
	}
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(interrupted)
		_ = setDeadline(past)
	})
	n, err := do(p)
	if !stop() {
		// The deadline was (being) moved: wait, then clear it for the next call.
		<-interrupted
		_ = setDeadline(time.Time{})
	}
	return n, t.ioError(ctx, op, err)
}

// ioError maps a net.Conn error: ctx's own error when ctx interrupted the
// call, else ErrDisconnected (EOF, reset, broken pipe, closed: the reader
// is gone).
func (t *tcpTransport) ioError(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("%s %s: %w", op, t.name, ctx.Err())
		}
	}
	return fmt.Errorf("%s %s: %w (%v)", op, t.name, ErrDisconnected, err)
}

func (t *tcpTransport) Close() error {
	if err := t.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close %s: %w", t.name, err)
	}
	return nil
}

package reader

import (
	"context"
	"fmt"
	"sync"
)

// maxPipeBuffered bounds what one side of a Pipe may have written and the
// other not yet read, as a USB endpoint's flow control would.
const maxPipeBuffered = 1 << 20

// Pipe returns the two ends of an in-memory connection: what one end
// writes the other reads, in order, with no loss. Closing either end is an
// unplug: both ends' reads and writes then fail with ErrDisconnected (reads
// first drain what had already arrived).
func Pipe() (host, device Transport) {
	a, b := newPipeBuf(), newPipeBuf()
	return &pipeEnd{in: a, out: b, name: "host"}, &pipeEnd{in: b, out: a, name: "device"}
}

type pipeBuf struct {
	mu     sync.Mutex
	buf    []byte
	closed bool
	ready  chan struct{} // closed and replaced whenever buf grows or closed is set
}

func newPipeBuf() *pipeBuf { return &pipeBuf{ready: make(chan struct{})} }

func (p *pipeBuf) signal() {
	close(p.ready)
	p.ready = make(chan struct{})
}

func (p *pipeBuf) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		p.signal()
	}
}

type pipeEnd struct {
	in, out *pipeBuf
	name    string
}

func (e *pipeEnd) ReadContext(ctx context.Context, p []byte) (int, error) {
	for {
		e.in.mu.Lock()
		if len(e.in.buf) > 0 {
			n := copy(p, e.in.buf)
			e.in.buf = e.in.buf[n:]
			e.in.mu.Unlock()
			return n, nil
		}
		if e.in.closed {
			e.in.mu.Unlock()
			return 0, fmt.Errorf("read pipe (%s end): %w", e.name, ErrDisconnected)
		}
		ready := e.in.ready
		e.in.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return 0, fmt.Errorf("read pipe (%s end): %w", e.name, ctx.Err())
		}
	}
}

func (e *pipeEnd) WriteContext(ctx context.Context, p []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("write pipe (%s end): %w", e.name, err)
	}
	e.out.mu.Lock()
	defer e.out.mu.Unlock()
	switch {
	case e.out.closed:
		return 0, fmt.Errorf("write pipe (%s end): %w", e.name, ErrDisconnected)
	case len(e.out.buf)+len(p) > maxPipeBuffered:
		return 0, fmt.Errorf("write pipe (%s end): %d bytes unread by the other end", e.name, len(e.out.buf))
	}
	e.out.buf = append(e.out.buf, p...)
	e.out.signal()
	return len(p), nil
}

// Close unplugs the pipe: both directions close.
func (e *pipeEnd) Close() error {
	e.in.close()
	e.out.close()
	return nil
}

package sim

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rawHost is a minimal host written straight on the wire package, so the
// device is tested against the protocol rather than against reader.Client.
type rawHost struct {
	t      *testing.T
	tr     reader.Transport
	dec    wire.Decoder
	seq    uint16
	events []wire.Frame // events read while waiting for a reply
	buf    []byte
}

// errQuiet is returned by read when nothing arrived within the wait.
var errQuiet = errors.New("nothing arrived")

const hostWait = 5 * time.Second

func newRawHost(t *testing.T, tr reader.Transport) *rawHost {
	return &rawHost{t: t, tr: tr, buf: make([]byte, 4096)}
}

// start serves a new device over a Pipe and returns it with a raw host;
// the cleanup unplugs the pipe and checks that Serve returned.
func start(t *testing.T, opts Options) (*Device, *rawHost) {
	t.Helper()
	d := New(opts)
	host, dev := reader.Pipe()
	done := make(chan error, 1)
	go func() { done <- d.Serve(context.Background(), dev) }()
	t.Cleanup(func() {
		_ = host.Close()
		if err := <-done; !errors.Is(err, reader.ErrDisconnected) {
			t.Errorf("Serve returned %v, want ErrDisconnected", err)
		}
	})
	return d, newRawHost(t, host)
}

func (h *rawHost) sendFrame(version uint8, typ wire.Type, msg any) uint16 {
	h.t.Helper()
	var payload []byte
	switch m := msg.(type) {
	case nil:
	case []byte:
		payload = m
	default:
		var err error
		if payload, err = wire.Marshal(msg); err != nil {
			h.t.Fatal(err)
		}
	}
	h.seq++
	b, err := wire.AppendFrame(nil, wire.Frame{Version: version, Type: typ, Seq: h.seq, Payload: payload})
	if err != nil {
		h.t.Fatal(err)
	}
	h.write(b)
	return h.seq
}

func (h *rawHost) send(typ wire.Type, msg any) uint16 {
	h.t.Helper()
	return h.sendFrame(wire.Version1, typ, msg)
}

func (h *rawHost) write(b []byte) {
	h.t.Helper()
	if _, err := h.tr.WriteContext(context.Background(), b); err != nil {
		h.t.Fatalf("host write: %v", err)
	}
}

// read returns the next frame (payload copied), a *wire.GarbledError, the
// transport's error, or errQuiet after wait.
func (h *rawHost) read(wait time.Duration) (wire.Frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		f, err := h.dec.Next()
		if err == nil {
			f.Payload = append([]byte(nil), f.Payload...)
			return f, nil
		}
		if !errors.Is(err, wire.ErrNeedMore) {
			return wire.Frame{}, err
		}
		n, err := h.tr.ReadContext(ctx, h.buf)
		if err != nil {
			if ctx.Err() != nil {
				return wire.Frame{}, errQuiet
			}
			return wire.Frame{}, err
		}
		h.dec.Feed(h.buf[:n])
	}
}

// reply waits for the answer to seq, keeping events aside.
func (h *rawHost) reply(seq uint16) wire.Frame {
	h.t.Helper()
	for {
		f, err := h.read(hostWait)
		if err != nil {
			h.t.Fatalf("waiting for the reply to seq %d: %v", seq, err)
		}
		if f.Type.IsEvent() {
			h.events = append(h.events, f)
			continue
		}
		if f.Seq != seq {
			h.t.Fatalf("reply %s seq %d, want seq %d", f.Type, f.Seq, seq)
		}
		return f
	}
}

// call sends a request and returns its reply.
func (h *rawHost) call(typ wire.Type, msg any) wire.Frame {
	h.t.Helper()
	return h.reply(h.send(typ, msg))
}

// ok sends a request and fails unless the reply is typ's reply.
func (h *rawHost) ok(typ wire.Type, msg any) wire.Frame {
	h.t.Helper()
	f := h.call(typ, msg)
	if f.Type != typ.Response() {
		h.t.Fatalf("%s answered %s (%s)", typ, f.Type, nakOf(f))
	}
	return f
}

// refused sends a request and returns the Nak it must get.
func (h *rawHost) refused(typ wire.Type, msg any) wire.Nak {
	h.t.Helper()
	f := h.call(typ, msg)
	if f.Type != wire.TypeNak {
		h.t.Fatalf("%s answered %s, want Nak", typ, f.Type)
	}
	var n wire.Nak
	if err := wire.Unmarshal(f.Payload, &n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func nakOf(f wire.Frame) string {
	if f.Type != wire.TypeNak {
		return "not a Nak"
	}
	var n wire.Nak
	if err := wire.Unmarshal(f.Payload, &n); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s: %s", n.Code, n.Message)
}

func (h *rawHost) identify() wire.Info {
	h.t.Helper()
	f := h.ok(wire.TypeIdentify, wire.Identify{Versions: []uint8{1}, Host: "test host"})
	var info wire.Info
	if err := wire.Unmarshal(f.Payload, &info); err != nil {
		h.t.Fatal(err)
	}
	return info
}

// event returns the next event without acknowledging it.
func (h *rawHost) eventNoAck() wire.Frame {
	h.t.Helper()
	if len(h.events) > 0 {
		f := h.events[0]
		h.events = h.events[1:]
		return f
	}
	f, err := h.read(hostWait)
	if err != nil {
		h.t.Fatalf("waiting for an event: %v", err)
	}
	if !f.Type.IsEvent() {
		h.t.Fatalf("got %s seq %d, want an event", f.Type, f.Seq)
	}
	return f
}

// event returns the next event, acknowledged.
func (h *rawHost) event() wire.Frame {
	h.t.Helper()
	f := h.eventNoAck()
	h.ack(f.Seq)
	return f
}

func (h *rawHost) ack(seq uint16) {
	h.t.Helper()
	h.ok(wire.TypeEventAck, wire.EventAck{Seq: seq})
}

// quiet fails if anything arrives within wait.
func (h *rawHost) quiet(wait time.Duration) {
	h.t.Helper()
	if len(h.events) > 0 {
		h.t.Fatalf("unexpected %s", h.events[0].Type)
	}
	if f, err := h.read(wait); !errors.Is(err, errQuiet) {
		h.t.Fatalf("want silence, got %s seq %d, %v", f.Type, f.Seq, err)
	}
}

func decodeAs[T any](t *testing.T, f wire.Frame) T {
	t.Helper()
	var v T
	if err := wire.Unmarshal(f.Payload, &v); err != nil {
		t.Fatalf("decode %s: %v", f.Type, err)
	}
	return v
}

// waitFor waits until the device's Snapshot satisfies ok.
func waitFor(t *testing.T, d *Device, what string, ok func(Snapshot) bool) Snapshot {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		ch := d.Changed()
		if s := d.Snapshot(); ok(s) {
			return s
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("device never %s: %+v", what, d.Snapshot())
		}
	}
}

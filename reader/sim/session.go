package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/wire"
)

// Limits the device enforces on SetDisplay.
const (
	MaxCartLines  = 200
	MaxQRPayload  = 1024
	MaxMessageLen = 1024
	// maxQueued bounds the bytes waiting to be written to a host that does
	// not read; past it the device drops the connection.
	maxQueued = 1 << 20
)

// session is one host connection.
type session struct {
	t    reader.Transport
	done chan struct{} // closed when the session has ended
	wake chan struct{} // the writer has work

	// Guarded by Device.mu.
	identified bool
	queue      [][]byte
	queued     int
	pending    map[uint16]*pendingEvent
}

type pendingEvent struct {
	frame []byte
	sent  int // retransmissions so far
	timer *time.Timer
}

// Serve serves one host over t until the connection ends, ctx ends or the
// device is unplugged, then closes t. It returns why: an error wrapping
// reader.ErrDisconnected when the transport went away, ctx's error, or
// ErrInUse (another host is connected) or ErrUnplugged straight away.
func (d *Device) Serve(ctx context.Context, t reader.Transport) error {
	s, err := d.attach(t)
	if err != nil {
		_ = t.Close()
		return fmt.Errorf("serve host: %w", err)
	}
	return d.run(ctx, s)
}

func (d *Device) attach(t reader.Transport) (*session, error) {
	var s *session
	err := d.do(func() error {
		switch {
		case d.unplugged:
			return ErrUnplugged
		case d.sess != nil:
			return ErrInUse
		}
		s = &session{t: t, done: make(chan struct{}), wake: make(chan struct{}, 1), pending: map[uint16]*pendingEvent{}}
		d.sess, d.dirty = s, true
		return nil
	})
	return s, err
}

func (d *Device) run(ctx context.Context, s *session) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { d.writeLoop(ctx, s) })
	err := d.readLoop(ctx, s)
	cancel()
	_ = s.t.Close()
	wg.Wait()
	_ = d.do(func() error {
		for _, p := range s.pending {
			p.timer.Stop()
		}
		s.pending = nil
		if d.sess == s {
			if d.coll != nil {
				d.coll.stopTimers()
			}
			d.sess, d.host, d.coll, d.prompt = nil, "", nil, ""
			d.display, d.displayAt = wire.Display{}, time.Time{}
			d.dirty = true
		}
		return nil
	})
	close(s.done)
	d.log.Info("simulated reader: host connection ended", "err", err)
	return err
}

func (d *Device) readLoop(ctx context.Context, s *session) error {
	var dec wire.Decoder
	buf := make([]byte, 4096)
	for {
		rctx, rcancel := ctx, context.CancelFunc(func() {})
		if dec.Buffered() > 0 {
			rctx, rcancel = context.WithTimeout(ctx, PartialFrameTimeout)
		}
		n, err := s.t.ReadContext(rctx, buf)
		rcancel()
		switch {
		case err == nil:
			dec.Feed(buf[:n])
		case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
			dec.Resync()
		case ctx.Err() != nil:
			return fmt.Errorf("serve host: %w", ctx.Err())
		default:
			return fmt.Errorf("serve host: %w", err)
		}
		for {
			f, err := dec.Next()
			if errors.Is(err, wire.ErrNeedMore) {
				break
			}
			if g, ok := errors.AsType[*wire.GarbledError](err); ok {
				d.mu.Lock()
				d.garbledIn += uint64(g.Skipped)
				d.mu.Unlock()
				d.log.Warn("simulated reader: garbled bytes from host", "err", g)
				continue
			}
			if err := d.handleFrame(ctx, s, f); err != nil {
				return err
			}
		}
	}
}

func (d *Device) writeLoop(ctx context.Context, s *session) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		d.mu.Lock()
		q := s.queue
		s.queue, s.queued = nil, 0
		d.mu.Unlock()
		for _, b := range q {
			if _, err := s.t.WriteContext(ctx, b); err != nil {
				d.log.Info("simulated reader: write to host failed", "err", err)
				_ = s.t.Close() // the read loop ends the session
				return
			}
		}
	}
}

// send queues a whole frame for the writer. d.mu is held.
func (d *Device) send(s *session, frame []byte) {
	if d.muted {
		d.dropped++
		return
	}
	if d.garble > 0 {
		d.garble--
		frame = append([]byte(nil), frame...)
		frame[len(frame)-1] ^= 0x01
	}
	if s.queued+len(frame) > maxQueued {
		d.log.Warn("simulated reader: host is not reading; dropping the connection")
		_ = s.t.Close()
		return
	}
	d.framesOut++
	s.queue = append(s.queue, frame)
	s.queued += len(frame)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func encode(t wire.Type, seq uint16, msg any) []byte {
	b, err := wire.AppendMessage(nil, t, seq, msg)
	if err != nil {
		panic(err) // our own messages always encode, far under MaxPayload
	}
	return b
}

// emit sends an event to the connected host and retransmits it until it
// is acknowledged. d.mu is held.
func (d *Device) emit(t wire.Type, msg any) {
	s := d.sess
	if s == nil || s.pending == nil {
		return
	}
	d.eventSeq++
	if d.eventSeq == 0 {
		d.eventSeq = 1
	}
	seq := d.eventSeq
	frame := encode(t, seq, msg)
	p := &pendingEvent{frame: frame}
	if old := s.pending[seq]; old != nil { // 65535 events unacknowledged
		old.timer.Stop()
	}
	s.pending[seq] = p
	p.timer = time.AfterFunc(d.opts.RetransmitEvery, func() { d.retransmit(s, seq, p) })
	d.send(s, frame)
}

func (d *Device) retransmit(s *session, seq uint16, p *pendingEvent) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.pending[seq] != p {
		return
	}
	p.sent++
	d.send(s, p.frame)
	if p.sent >= d.opts.RetransmitMax {
		delete(s.pending, seq)
		d.log.Warn("simulated reader: event never acknowledged", "seq", seq)
		return
	}
	p.timer.Reset(d.opts.RetransmitEvery)
}

// handleFrame answers one frame from the host.
func (d *Device) handleFrame(ctx context.Context, s *session, f wire.Frame) error {
	d.mu.Lock()
	d.framesIn++
	muted, latency := d.muted, d.latency
	if muted || !f.Type.IsRequest() {
		d.dropped++
		d.mu.Unlock()
		return nil
	}
	d.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("serve host: %w", ctx.Err())
		}
	}
	return d.do(func() error {
		if d.sess != s {
			return nil
		}
		d.handleRequest(s, f)
		return nil
	})
}

func nak(code wire.ErrorCode, format string, args ...any) wire.Nak {
	return wire.Nak{Code: code, Message: fmt.Sprintf(format, args...)}
}

// handleRequest answers a request. d.mu is held.
func (d *Device) handleRequest(s *session, f wire.Frame) {
	reply := func(msg any) { d.send(s, encode(f.Type.Response(), f.Seq, msg)) }
	refuse := func(n wire.Nak) { d.send(s, encode(wire.TypeNak, f.Seq, n)) }
	decode := func(v any) bool {
		if err := wire.Unmarshal(f.Payload, v); err != nil {
			refuse(nak(wire.CodeBadPayload, "%s: %v", f.Type, err))
			return false
		}
		return true
	}
	if f.Version != wire.Version1 {
		n := nak(wire.CodeUnsupportedVersion, "protocol version %d not spoken", f.Version)
		n.Versions = []uint8{wire.Version1}
		refuse(n)
		return
	}
	switch f.Type {
	case wire.TypeIdentify, wire.TypeSetDisplay, wire.TypeClearDisplay, wire.TypeCollect,
		wire.TypeCancelCollect, wire.TypeHeartbeat, wire.TypeEventAck:
	default:
		refuse(nak(wire.CodeUnknownMessage, "unknown request type 0x%02X", uint8(f.Type)))
		return
	}
	if f.Type != wire.TypeIdentify && !s.identified {
		refuse(nak(wire.CodeNotIdentified, "%s before Identify", f.Type))
		return
	}
	switch f.Type {
	case wire.TypeIdentify:
		var m wire.Identify
		if !decode(&m) {
			return
		}
		if !containsVersion(m.Versions, wire.Version1) {
			n := nak(wire.CodeUnsupportedVersion, "none of versions %v spoken", m.Versions)
			n.Versions = []uint8{wire.Version1}
			refuse(n)
			return
		}
		s.identified, d.host, d.dirty = true, m.Host, true
		reply(d.Info())

	case wire.TypeSetDisplay:
		var m wire.Display
		if !decode(&m) {
			return
		}
		if n, ok := validateDisplay(m); !ok {
			refuse(n)
			return
		}
		reply(nil)
		d.setDisplay(m)

	case wire.TypeClearDisplay:
		reply(nil)
		d.setDisplay(wire.Display{Screen: wire.ScreenIdle})

	case wire.TypeCollect:
		var m wire.Collect
		if !decode(&m) {
			return
		}
		switch {
		case m.PaymentIntent == "":
			refuse(nak(wire.CodeBadPayload, "Collect without a PaymentIntent"))
		case m.Amount <= 0:
			refuse(nak(wire.CodeBadPayload, "Collect amount %d is not positive", m.Amount))
		case !isCurrency(m.Currency):
			refuse(nak(wire.CodeBadPayload, "Collect currency %q is not an ISO 4217 code", m.Currency))
		case d.coll != nil && d.coll.phase != PhaseProcessing:
			refuse(nak(wire.CodeBusy, "collecting for %s", d.coll.req.PaymentIntent))
		case m.OfflineAllowed && !d.opts.Capabilities.OfflineCapable:
			// The host cannot reach the payment service, and this reader
			// cannot collect for deferred authorisation: the collection
			// ends at once, before the customer is asked for a card.
			reply(nil)
			d.refuseOffline(m)
		default:
			reply(nil)
			d.startCollect(m)
		}

	case wire.TypeCancelCollect:
		var m wire.CancelCollect
		if !decode(&m) {
			return
		}
		c := d.coll
		if c == nil || c.req.PaymentIntent != m.PaymentIntent {
			refuse(nak(wire.CodeNoCollection, "no collection for %q", m.PaymentIntent))
			return
		}
		reply(nil)
		if c.phase == PhaseProcessing {
			d.release()
		} else {
			d.finish("")
		}

	case wire.TypeHeartbeat:
		reply(nil)

	case wire.TypeEventAck:
		var m wire.EventAck
		if !decode(&m) {
			return
		}
		if p := s.pending[m.Seq]; p != nil {
			p.timer.Stop()
			delete(s.pending, m.Seq)
		}
		reply(nil)
	}
}

func (d *Device) setDisplay(m wire.Display) {
	if d.coll != nil && d.coll.phase == PhaseProcessing {
		d.release()
	}
	d.display, d.displayAt, d.dirty = copyDisplay(m), d.opts.Now(), true
}

func containsVersion(vs []uint8, v uint8) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// validateDisplay checks a SetDisplay against the screen's limits.
func validateDisplay(m wire.Display) (wire.Nak, bool) {
	switch m.Screen {
	case wire.ScreenIdle, wire.ScreenThankYou:
	case wire.ScreenCart:
		switch {
		case m.Cart == nil:
			return nak(wire.CodeBadPayload, "cart screen without a cart"), false
		case !isCurrency(m.Cart.Currency):
			return nak(wire.CodeBadPayload, "cart currency %q is not an ISO 4217 code", m.Cart.Currency), false
		case len(m.Cart.Lines) > MaxCartLines:
			return nak(wire.CodeTooLarge, "%d cart lines, at most %d", len(m.Cart.Lines), MaxCartLines), false
		}
	case wire.ScreenQR:
		switch {
		case m.QR == nil || m.QR.Payload == "":
			return nak(wire.CodeBadPayload, "QR screen without a code"), false
		case len(m.QR.Payload) > MaxQRPayload:
			return nak(wire.CodeTooLarge, "QR payload of %d bytes, at most %d", len(m.QR.Payload), MaxQRPayload), false
		}
	case wire.ScreenMessage:
		if m.Message == "" {
			return nak(wire.CodeBadPayload, "message screen without a message"), false
		}
	default:
		return nak(wire.CodeBadPayload, "unknown screen %d", m.Screen), false
	}
	if len(m.Message) > MaxMessageLen {
		return nak(wire.CodeTooLarge, "message of %d bytes, at most %d", len(m.Message), MaxMessageLen), false
	}
	if !utf8.ValidString(m.Message) {
		return nak(wire.CodeBadPayload, "message is not UTF-8"), false
	}
	return wire.Nak{}, true
}

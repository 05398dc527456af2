package reader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tillpos/till/reader/wire"
)

// Session limits.
const (
	dedupeWindow    = 64   // event sequence numbers remembered for de-duplication
	maxQueuedAcks   = 1024 // acks waiting to be sent; beyond, the reader's retransmission recovers
	recentCancels   = 16   // PaymentIntents whose CancelCollect this session sent
	sessionReadSize = wire.MaxFrame
)

// session is one connection to one reader, from dial to disconnect: a read
// loop routing replies and events, an ack loop and a heartbeat loop.
type session struct {
	c      *Client
	t      Transport
	ctx    context.Context // ends when the session does
	cancel context.CancelFunc
	dead   chan struct{} // closed once err is set
	wg     sync.WaitGroup
	sent   chan struct{} // poked after every write, for the heartbeat

	wmu  sync.Mutex // serialises writes; guards wbuf
	wbuf []byte

	mu        sync.Mutex
	err       error
	seq       uint16
	waiting   map[uint16]*call
	missed    int
	acks      []uint16
	ackWake   chan struct{}
	cancelled []string

	// Owned by the read loop.
	dec      wire.Decoder
	seen     [dedupeWindow]uint16
	seenN    int
	seenNext int
}

// call is one request waiting for its reply.
type call struct {
	typ  wire.Type
	seq  uint16
	out  any        // the reply payload is decoded into it; nil for empty replies
	done chan error // buffered; receives exactly once, after the call left waiting
}

func newSession(c *Client, t Transport) *session {
	ctx, cancel := context.WithCancel(c.ctx)
	return &session{
		c: c, t: t, ctx: ctx, cancel: cancel,
		dead:    make(chan struct{}),
		sent:    make(chan struct{}, 1),
		waiting: make(map[uint16]*call),
		ackWake: make(chan struct{}, 1),
	}
}

func (s *session) start() {
	s.wg.Add(2)
	go s.readLoop()
	go s.ackLoop()
}

func (s *session) startHeartbeat() {
	s.wg.Add(1)
	go s.heartbeatLoop()
}

// wait returns once every goroutine of the session has ended.
func (s *session) wait() { s.wg.Wait() }

// fail ends the session with cause (the first cause wins): the transport
// is closed and every waiting call fails.
func (s *session) fail(cause error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = cause
	s.mu.Unlock()
	s.cancel()
	if err := s.t.Close(); err != nil {
		s.c.log.Debug("close reader transport", "err", err)
	}
	s.c.sessionFailed(s, cause) // before any waiter wakes up
	close(s.dead)
}

func (s *session) cause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// deadErr is the error for op cut short by the end of the session.
func (s *session) deadErr(op string) error {
	if s.c.ctx.Err() != nil {
		return fmt.Errorf("card reader %s: %w", op, ErrClosed)
	}
	cause := s.cause()
	if errors.Is(cause, ErrDisconnected) {
		return fmt.Errorf("card reader %s: %w", op, cause)
	}
	return fmt.Errorf("card reader %s: %w: %w", op, ErrDisconnected, cause)
}

// roundTrip sends a request and waits for its reply, decoded into out.
func (s *session) roundTrip(ctx context.Context, typ wire.Type, msg, out any) error {
	cl, err := s.request(typ, msg, out)
	if err != nil {
		return err
	}
	return s.await(ctx, cl)
}

// request sends a request without waiting for the reply.
func (s *session) request(typ wire.Type, msg, out any) (*call, error) {
	var payload []byte
	if msg != nil {
		var err error
		if payload, err = wire.Marshal(msg); err != nil {
			return nil, fmt.Errorf("card reader %s: %w", typ, err)
		}
	}
	cl := &call{typ: typ, out: out, done: make(chan error, 1)}

	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return nil, s.deadErr(typ.String())
	}
	for {
		s.seq++
		if _, busy := s.waiting[s.seq]; s.seq != 0 && !busy {
			break
		}
	}
	cl.seq = s.seq
	s.waiting[cl.seq] = cl
	s.mu.Unlock()

	var err error
	s.wbuf, err = wire.AppendFrame(s.wbuf[:0], wire.Frame{Version: wire.Version1, Type: typ, Seq: cl.seq, Payload: payload})
	if err != nil {
		s.forget(cl)
		return nil, fmt.Errorf("card reader %s: %w", typ, err)
	}
	wctx, cancel := context.WithTimeout(s.ctx, s.c.opts.RequestTimeout)
	_, err = s.t.WriteContext(wctx, s.wbuf)
	cancel()
	if err != nil {
		// A partial write leaves the stream unusable: start afresh.
		s.fail(fmt.Errorf("write %s: %w", typ, err))
		if s.forget(cl) {
			return nil, s.deadErr(typ.String())
		}
		return nil, <-cl.done
	}
	select {
	case s.sent <- struct{}{}:
	default:
	}
	return cl, nil
}

// forget removes cl from the waiting calls; false when the read loop has
// already taken it (its result is then on the way to cl.done).
func (s *session) forget(cl *call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting[cl.seq] != cl {
		return false
	}
	delete(s.waiting, cl.seq)
	return true
}

// await waits for cl's reply, RequestTimeout, ctx or the end of the session.
func (s *session) await(ctx context.Context, cl *call) error {
	timer := time.NewTimer(s.c.opts.RequestTimeout)
	defer timer.Stop()
	select {
	case err := <-cl.done:
		return err
	case <-timer.C:
		if s.forget(cl) {
			s.missedReply()
			return fmt.Errorf("card reader %s: %w within %v", cl.typ, ErrNoResponse, s.c.opts.RequestTimeout)
		}
	case <-ctx.Done():
		if s.forget(cl) {
			return fmt.Errorf("card reader %s: %w", cl.typ, ctx.Err())
		}
	case <-s.dead:
		if s.forget(cl) {
			return s.deadErr(cl.typ.String())
		}
	}
	return <-cl.done
}

// missedReply counts an unanswered request; too many in a row end the session.
func (s *session) missedReply() {
	s.c.stats.timeouts.Add(1)
	s.mu.Lock()
	s.missed++
	n := s.missed
	s.mu.Unlock()
	if n >= s.c.opts.MissedHeartbeats {
		s.fail(fmt.Errorf("%d requests in a row unanswered: %w", n, ErrNoResponse))
	}
}

// identify opens the session: Identify with the versions Till speaks.
func (s *session) identify() (Info, error) {
	var info wire.Info
	req := wire.Identify{Versions: []uint8{wire.Version1}, Host: s.c.opts.Host}
	if err := s.roundTrip(s.ctx, wire.TypeIdentify, &req, &info); err != nil {
		return Info{}, err
	}
	if info.Version != wire.Version1 {
		return Info{}, fmt.Errorf("card reader Identify: the reader chose protocol version %d, Till speaks only %d", info.Version, wire.Version1)
	}
	return info, nil
}

func (s *session) heartbeatLoop() {
	defer s.wg.Done()
	every := s.c.opts.HeartbeatEvery
	timer := time.NewTimer(every)
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.sent:
			timer.Reset(every)
		case <-timer.C:
			if err := s.roundTrip(s.ctx, wire.TypeHeartbeat, nil, nil); err != nil && s.ctx.Err() == nil {
				s.c.log.Warn("card reader heartbeat", "err", err)
			}
			timer.Reset(every)
		}
	}
}

// queueAck schedules an EventAck without blocking the read loop.
func (s *session) queueAck(seq uint16) {
	s.mu.Lock()
	if len(s.acks) < maxQueuedAcks {
		s.acks = append(s.acks, seq)
	}
	s.mu.Unlock()
	select {
	case s.ackWake <- struct{}{}:
	default:
	}
}

// ackLoop sends queued acks, pipelined, and waits for their replies.
func (s *session) ackLoop() {
	defer s.wg.Done()
	var batch []uint16
	var calls []*call
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.ackWake:
		}
		s.mu.Lock()
		batch, s.acks = s.acks, batch[:0]
		s.mu.Unlock()
		calls = calls[:0]
		for _, seq := range batch {
			cl, err := s.request(wire.TypeEventAck, &wire.EventAck{Seq: seq}, nil)
			if err != nil {
				return // the session is over
			}
			calls = append(calls, cl)
		}
		for _, cl := range calls {
			if err := s.await(s.ctx, cl); err != nil && s.ctx.Err() == nil {
				s.c.log.Warn("card reader event ack", "err", err)
			}
		}
	}
}

// noteCancelled remembers that CancelCollect was sent for pi, so that a
// Collected crossing it is known to be released already.
func (s *session) noteCancelled(pi string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.cancelled, pi) {
		return
	}
	if len(s.cancelled) == recentCancels {
		s.cancelled = s.cancelled[1:]
	}
	s.cancelled = append(s.cancelled, pi)
}

func (s *session) wasCancelled(pi string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.cancelled, pi)
}

// readLoop decodes frames until the transport fails or the session ends.
func (s *session) readLoop() {
	defer s.wg.Done()
	buf := make([]byte, sessionReadSize)
	for {
		var (
			n     int
			err   error
			rctx  context.Context
			rstop context.CancelFunc
		)
		if s.dec.Buffered() > 0 {
			// A partial frame: give it ResyncAfter to complete.
			rctx, rstop = context.WithTimeout(s.ctx, s.c.opts.ResyncAfter)
			n, err = s.t.ReadContext(rctx, buf)
			rstop()
		} else {
			n, err = s.t.ReadContext(s.ctx, buf)
		}
		if n > 0 {
			s.dec.Feed(buf[:n])
		}
		if err != nil {
			switch {
			case s.ctx.Err() != nil:
				return
			case rctx != nil && rctx.Err() != nil:
				if n == 0 {
					s.c.stats.resyncs.Add(1)
					s.dec.Resync()
				}
			default:
				s.fail(fmt.Errorf("read: %w", err))
				return
			}
		}
		s.drain()
	}
}

// drain handles every whole frame the decoder holds.
func (s *session) drain() {
	for {
		f, err := s.dec.Next()
		if err == nil {
			s.handle(f)
			continue
		}
		var g *wire.GarbledError
		if !errors.As(err, &g) {
			return // wire.ErrNeedMore
		}
		s.c.stats.garbledFrames.Add(1)
		s.c.stats.garbledBytes.Add(uint64(g.Skipped))
		s.c.log.Warn("card reader sent garbled bytes", "skipped", g.Skipped, "reason", g.Reason)
	}
}

func (s *session) handle(f wire.Frame) {
	switch {
	case f.Version != wire.Version1:
		s.badFrame(f, "protocol version %d", f.Version)
	case f.Type.IsResponse():
		s.handleReply(f)
	case f.Type.IsEvent():
		s.handleEvent(f)
	default:
		s.badFrame(f, "not a reply or an event")
	}
}

func (s *session) badFrame(f wire.Frame, format string, args ...any) {
	s.c.stats.badFrames.Add(1)
	s.c.log.Warn("card reader frame dropped", "type", f.Type, "seq", f.Seq, "why", fmt.Sprintf(format, args...))
}

func (s *session) handleReply(f wire.Frame) {
	s.mu.Lock()
	s.missed = 0 // the reader is alive
	cl := s.waiting[f.Seq]
	if cl != nil {
		delete(s.waiting, f.Seq)
	}
	s.mu.Unlock()
	if cl == nil {
		s.c.stats.lateReplies.Add(1)
		s.c.log.Debug("card reader reply for no waiting request", "type", f.Type, "seq", f.Seq)
		return
	}
	cl.done <- s.replyErr(cl, f)
}

// replyErr decodes f, the reply to cl: nil, a *DeviceError for a Nak, or
// why the reply is unusable.
func (s *session) replyErr(cl *call, f wire.Frame) error {
	op := cl.typ.String()
	switch f.Type {
	case wire.TypeNak:
		var nak wire.Nak
		if err := wire.Unmarshal(f.Payload, &nak); err != nil {
			s.badFrame(f, "undecodable Nak: %v", err)
			return fmt.Errorf("card reader %s: refused, with an undecodable Nak: %w", op, err)
		}
		msg := nak.Message
		if len(nak.Versions) > 0 {
			if msg != "" {
				msg += "; "
			}
			msg += fmt.Sprintf("the reader speaks protocol versions %v, Till speaks [%d]", nak.Versions, wire.Version1)
		}
		return &DeviceError{Op: op, Code: nak.Code, Message: msg}
	case cl.typ.Response():
		if cl.out == nil {
			return nil
		}
		if err := wire.Unmarshal(f.Payload, cl.out); err != nil {
			s.badFrame(f, "undecodable reply: %v", err)
			return fmt.Errorf("card reader %s: bad reply: %w", op, err)
		}
		return nil
	}
	s.badFrame(f, "reply of the wrong type for %s", op)
	return fmt.Errorf("card reader %s: the reader answered with %s", op, f.Type)
}

// seenBefore records seq and says whether it was among the last
// dedupeWindow event sequence numbers.
func (s *session) seenBefore(seq uint16) bool {
	for i := range s.seenN {
		if s.seen[i] == seq {
			return true
		}
	}
	s.seen[s.seenNext] = seq
	s.seenNext = (s.seenNext + 1) % dedupeWindow
	s.seenN = min(s.seenN+1, dedupeWindow)
	return false
}

func (s *session) handleEvent(f wire.Frame) {
	s.queueAck(f.Seq) // every event, duplicates included
	if s.seenBefore(f.Seq) {
		s.c.stats.duplicates.Add(1)
		return
	}
	ev, err := decodeEvent(f)
	if err != nil {
		s.badFrame(f, "%v", err)
		s.c.badTerminalEvent(s, f.Type, err)
		return
	}
	s.c.deliver(s, ev)
}

// decodeEvent turns an event frame into an Event (At not yet set).
func decodeEvent(f wire.Frame) (Event, error) {
	var ev Event
	var err error
	switch f.Type {
	case wire.TypeWaitingForCard:
		var m wire.WaitingForCard
		err = wire.Unmarshal(f.Payload, &m)
		ev = Event{Kind: EventWaitingForCard, PaymentIntent: m.PaymentIntent}
	case wire.TypeCardPresented:
		var m wire.CardPresented
		err = wire.Unmarshal(f.Payload, &m)
		ev = Event{Kind: EventCardPresented, PaymentIntent: m.PaymentIntent, Method: m.Method}
	case wire.TypePINEntry:
		var m wire.PINEntry
		err = wire.Unmarshal(f.Payload, &m)
		ev = Event{Kind: EventPINEntry, PaymentIntent: m.PaymentIntent, Digits: int(m.Digits), Done: m.Done}
	case wire.TypeCardRemoved:
		var m wire.CardRemoved
		err = wire.Unmarshal(f.Payload, &m)
		ev = Event{Kind: EventCardRemoved, PaymentIntent: m.PaymentIntent}
	case wire.TypeCustomerCancelled:
		var m wire.CustomerCancelled
		err = wire.Unmarshal(f.Payload, &m)
		ev = Event{Kind: EventCustomerCancelled, PaymentIntent: m.PaymentIntent}
	case wire.TypeCollected:
		var m wire.Collected
		err = wire.Unmarshal(f.Payload, &m)
		ev = Event{Kind: EventCollected, PaymentIntent: m.PaymentIntent, Method: m.Method, Collected: &Collected{
			PaymentIntent: m.PaymentIntent, Payload: m.Payload, Brand: m.Brand, Last4: m.Last4,
			Method: m.Method, ExpMonth: int(m.ExpMonth), ExpYear: int(m.ExpYear), Offline: m.Offline,
		}}
		if err == nil && m.PaymentIntent == "" {
			err = errors.New("Collected event without a PaymentIntent")
		}
	case wire.TypeError:
		var m wire.ErrorEvent
		err = wire.Unmarshal(f.Payload, &m)
		ev = Event{Kind: EventError, PaymentIntent: m.PaymentIntent, Err: &DeviceError{Op: "collect", Code: m.Code, Message: m.Message}}
	default:
		return Event{}, fmt.Errorf("unknown event type %s", f.Type)
	}
	if err != nil {
		return Event{}, fmt.Errorf("%s event: %w", f.Type, err)
	}
	return ev, nil
}

// deliver routes a decoded event: to the running Collect when it ends
// that collection, and to OnEvent.
func (c *Client) deliver(s *session, ev Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev.At = c.opts.Now()
	k := c.coll
	mine := k != nil && k.sess == s && k.pi == ev.PaymentIntent
	switch ev.Kind {
	case EventCollected:
		ev.Collected.At = ev.At
		ev.Collected.ProcessBy = ev.At.Add(ProcessWindow)
		if !(mine && k.cancelRequested) && !s.wasCancelled(ev.PaymentIntent) {
			c.holdLocked(ev.PaymentIntent)
		}
		if mine {
			k.finish(collectResult{collected: *ev.Collected})
		}
	case EventCustomerCancelled:
		if mine {
			k.finish(collectResult{err: fmt.Errorf("card reader collect for %s: %w", k.pi, ErrCustomerCancelled)})
		}
	case EventError:
		if mine {
			k.finish(collectResult{err: ev.Err})
		}
	}
	c.emit(ev)
}

// badTerminalEvent ends the running collection when an event that could
// only have ended it arrives undecodable: one collection runs at a time,
// so it was that collection's outcome, now unknown.
func (c *Client) badTerminalEvent(s *session, t wire.Type, err error) {
	switch t {
	case wire.TypeCollected, wire.TypeCustomerCancelled, wire.TypeError:
	default:
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := c.coll; k != nil && k.sess == s && !k.ended {
		k.cancelRequested = true
		k.finish(collectResult{release: true, err: fmt.Errorf("card reader collect for %s: the reader's outcome was unreadable: %w", k.pi, err)})
	}
}

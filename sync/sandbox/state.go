package sandbox

import (
	"container/heap"
	"encoding/json"
	"time"

	"github.com/stripe/stripe-go/v86"
)

// apiVersion is reported on events; it is the version stripe-go v86 speaks.
var apiVersion = stripe.APIVersion

// state is everything the sandbox knows, guarded by Server.mu. Records are
// persisted one by one (persist.go); the derived indexes are rebuilt on
// load.
type state struct {
	Seq           int64
	Intents       map[string]*intentRec
	IntentOrder   []string
	Customers     map[string]*customerRec
	CustomerOrder []string
	PMs           map[string]*pmRec
	PMOrder       []string
	Charges       map[string]*chargeRec
	Events        []*eventRec
	Idem          map[string]*idemRecord
	ClockOffset   time.Duration

	// Derived indexes, rebuilt by reindex.
	eventIndex map[string]int
	nonces     map[string]string // redirect nonce -> PaymentIntent id
	timers     timerHeap
	idemQueue  []idemQueued // keys in creation order for pruning
	inflight   map[string]bool
}

func newState() *state {
	st := &state{
		Intents:   map[string]*intentRec{},
		Customers: map[string]*customerRec{},
		PMs:       map[string]*pmRec{},
		Charges:   map[string]*chargeRec{},
		Idem:      map[string]*idemRecord{},
	}
	st.reindex()
	return st
}

// reindex rebuilds the derived indexes after a load.
func (st *state) reindex() {
	st.eventIndex = make(map[string]int, len(st.Events))
	for i, e := range st.Events {
		st.eventIndex[e.ID] = i
	}
	st.nonces = map[string]string{}
	st.timers = nil
	for _, id := range st.IntentOrder {
		pi := st.Intents[id]
		if pi.RedirectNonce != "" {
			st.nonces[pi.RedirectNonce] = pi.ID
		}
		st.scheduleAll(pi)
	}
	st.idemQueue = st.idemQueue[:0]
	for k, r := range st.Idem {
		st.idemQueue = append(st.idemQueue, idemQueued{key: k, created: r.Created})
	}
	sortIdemQueue(st.idemQueue)
	if st.inflight == nil {
		st.inflight = map[string]bool{}
	}
}

func (st *state) nextSeq() int64 {
	st.Seq++
	return st.Seq
}

// Timers: each pending timed transition is a heap entry. An entry is stale
// (and skipped) when the PaymentIntent no longer carries that deadline.

const (
	timerAction = iota
	timerAuthExpiry
	timerSettle
)

type timer struct {
	at   int64
	kind int
	pi   string
}

type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

func (st *state) schedule(kind int, at int64, pi string) {
	if at > 0 {
		heap.Push(&st.timers, timer{at: at, kind: kind, pi: pi})
	}
}

func (st *state) scheduleAll(pi *intentRec) {
	st.schedule(timerAction, pi.ActionDeadline, pi.ID)
	st.schedule(timerAuthExpiry, pi.CaptureBefore, pi.ID)
	st.schedule(timerSettle, pi.SettleAt, pi.ID)
}

// Events.

// emit records an event carrying the PaymentIntent (or other object) as it
// is now. prev holds previous_attributes.
func (s *Server) emit(rc *reqCtx, typ string, obj any, prev map[string]any, at int64) {
	st := s.st
	raw, err := json.Marshal(obj)
	if err != nil {
		// The wire types are plain data; a failure here is a bug.
		panic("sandbox: marshal event object: " + err.Error())
	}
	e := &eventRec{Seq: st.nextSeq(), ID: s.ids.id("evt_"), Type: typ, Created: at, Object: raw, Previous: prev}
	if rc != nil {
		e.RequestID = rc.requestID
		e.IdemKey = rc.idemKey
	}
	st.eventIndex[e.ID] = len(st.Events)
	st.Events = append(st.Events, e)
	s.touch(bucketEvents, e.ID)
}

func renderEvent(e *eventRec) *eventJS {
	ev := &eventJS{
		ID: e.ID, Object: "event", APIVersion: apiVersion, Created: e.Created,
		Data: eventDataJS{Object: e.Object, PreviousAttributes: e.Previous},
		Type: e.Type,
	}
	if e.RequestID != "" {
		ev.Request.ID = strOrNil(e.RequestID)
		ev.Request.IdempotencyKey = strOrNil(e.IdemKey)
	}
	return ev
}

// piEvent emits the event that goes with a PaymentIntent status change.
func (s *Server) piEvent(rc *reqCtx, pi *intentRec, typ, prevStatus string, at int64) {
	var prev map[string]any
	if prevStatus != "" && prevStatus != pi.Status {
		prev = map[string]any{"status": prevStatus}
	}
	s.touchPI(pi)
	s.emit(rc, typ, s.renderIntent(pi, nil), prev, at)
}

// tick applies every timed transition that is due at now, in deadline
// order, stamping each with its own deadline.
func (s *Server) tick(now int64) {
	st := s.st
	for st.timers.Len() > 0 && st.timers[0].at <= now {
		t := heap.Pop(&st.timers).(timer)
		pi := st.Intents[t.pi]
		if pi == nil {
			continue
		}
		switch t.kind {
		case timerAction:
			if pi.ActionDeadline == t.at {
				s.expireAction(pi, t.at)
			}
		case timerAuthExpiry:
			if pi.CaptureBefore == t.at && pi.Status == statusRequiresCapture {
				s.expireAuthorization(pi, t.at)
			}
		case timerSettle:
			if pi.SettleAt == t.at && pi.Status == statusProcessing {
				s.settle(pi, t.at)
			}
		}
	}
	s.pruneIdempotency(now)
	s.pruneEvents(now)
}

// eventRetention is how far back /v1/events goes, as on Stripe.
const eventRetention = 30 * 24 * 60 * 60

// pruneEvents drops events older than 30 days.
func (s *Server) pruneEvents(now int64) {
	st := s.st
	cut := 0
	for cut < len(st.Events) && now-st.Events[cut].Created > eventRetention {
		cut++
	}
	if cut == 0 {
		return
	}
	for _, e := range st.Events[:cut] {
		delete(st.eventIndex, e.ID)
		s.touch(bucketEvents, e.ID)
	}
	st.Events = append(st.Events[:0:0], st.Events[cut:]...)
	for i, e := range st.Events {
		st.eventIndex[e.ID] = i
	}
	s.dirty = true
}

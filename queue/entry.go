package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

// Op is the payment API operation an outbox entry performs.
type Op uint8

// The operations the outbox knows. The numeric values are stored in the
// database: never renumber them, only append.
const (
	OpCreate  Op = 1 // create a PaymentIntent
	OpUpdate  Op = 2 // update a PaymentIntent (amount, metadata)
	OpConfirm Op = 3 // confirm (process) a PaymentIntent
	OpCapture Op = 4 // capture an authorised PaymentIntent
	OpCancel  Op = 5 // cancel a PaymentIntent
	OpRefund  Op = 6 // refund a captured PaymentIntent
)

var opNames = [...]string{OpCreate: "create", OpUpdate: "update", OpConfirm: "confirm", OpCapture: "capture", OpCancel: "cancel", OpRefund: "refund"}

// String returns the operation's name ("create", "capture", …), which is
// also the middle part of the idempotency key.
func (o Op) String() string {
	if o.Valid() {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Valid reports whether o is one of the known operations.
func (o Op) Valid() bool { return o >= OpCreate && int(o) < len(opNames) }

// ParseOp is the inverse of Op.String.
func ParseOp(s string) (Op, error) {
	for i, n := range opNames {
		if n != "" && n == s {
			return Op(i), nil
		}
	}
	return 0, fmt.Errorf("parse op %q: %w", s, ErrInvalid)
}

// State is where an entry stands in its life.
type State uint8

// Entry states. Pending, InFlight and Blocked entries are in the outbox;
// Dead entries are dead letters; Done and Discarded entries are history.
const (
	StatePending   State = 1 // waiting for its turn or its next attempt
	StateInFlight  State = 2 // leased by a drainer right now
	StateBlocked   State = 3 // an earlier entry of the same order is dead
	StateDead      State = 4 // failed permanently; blocks its order
	StateDone      State = 5 // the API call succeeded
	StateDiscarded State = 6 // a dead letter the manager chose to drop
)

var stateNames = [...]string{StatePending: "pending", StateInFlight: "in flight", StateBlocked: "blocked", StateDead: "dead", StateDone: "done", StateDiscarded: "discarded"}

// String returns the state's name ("pending", "in flight", …).
func (s State) String() string {
	if s >= StatePending && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Limits on what an entry may hold.
const (
	// MaxOrderIDLen bounds order ids so that the idempotency key
	// (order id, operation and sequence) always fits in 255 characters.
	MaxOrderIDLen = 200
	// MaxIdempotencyKeyLen is the payment API's limit on Idempotency-Key.
	MaxIdempotencyKeyLen = 255
	// MaxLastErrorLen is how much of an error message an entry keeps;
	// longer messages are cut at a UTF-8 boundary.
	MaxLastErrorLen = 2048
	// MaxPayloadLen bounds an entry's payload.
	MaxPayloadLen = 1 << 20
)

// NewEntry is what a caller enqueues.
type NewEntry struct {
	OrderID string // the order the operation belongs to; it must exist
	Op      Op
	Payload []byte // opaque to the store: the request parameters
	// NotBefore delays the first attempt. The zero value means "as soon as
	// the order's earlier entries are done".
	NotBefore time.Time
}

// Entry is one outbox operation as stored. Entries returned by the store
// are copies: they stay valid after the transaction ends.
type Entry struct {
	Seq     uint64 // unique, increasing in creation order; never reused
	OrderID string
	Op      Op
	Payload []byte
	// IdempotencyKey is fixed when the entry is enqueued and sent with
	// every attempt: "<order id>:<op>:<seq>", at most 255 characters.
	IdempotencyKey string
	Attempts       int       // leases so far (a lease counts even if the process then died)
	NextAttempt    time.Time // not leased before this time
	LastError      string    // the last failure, secrets redacted
	Created        time.Time // when it was enqueued
	Finished       time.Time // when it became Dead, Done or Discarded
	State          State
	leaseGen       uint64 // store generation that leased it; 0 when not leased
}

// IdempotencyKey returns the key of the operation op enqueued with sequence
// seq for order orderID: "<order id>:<op>:<seq>". Sequence numbers come from
// the outbox bucket's NextSequence and are never handed out twice in a
// database, and order ids are unique per lane, so a key always names exactly
// one operation; the operation name in the key keeps it from ever being
// replayed as a different kind of call.
func IdempotencyKey(orderID string, op Op, seq uint64) string {
	return orderID + ":" + op.String() + ":" + strconv.FormatUint(seq, 10)
}

// ValidOrderID reports why id cannot be used as an order id: it must be 1 to
// MaxOrderIDLen bytes of printable ASCII without spaces (0x21–0x7E), as the
// domain's "lane1-01JD…" ids are. This keeps ids safe inside index keys and
// HTTP headers.
func ValidOrderID(id string) error {
	if id == "" || len(id) > MaxOrderIDLen {
		return fmt.Errorf("order id %q: length %d not in 1..%d: %w", clip(id, 40), len(id), MaxOrderIDLen, ErrInvalid)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("order id %q: byte %d is %#x, not printable ASCII: %w", clip(id, 40), i, c, ErrInvalid)
		}
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// secretRE matches payment API secret and restricted keys so that they never
// reach the database through an error message.
var secretRE = regexp.MustCompile(`((?:sk|rk)_(?:live|test)_|whsec_)[A-Za-z0-9]+`)

// cleanError redacts secrets and bounds the length of an error message.
func cleanError(s string) string {
	s = secretRE.ReplaceAllString(s, "${1}[redacted]")
	if len(s) <= MaxLastErrorLen {
		return s
	}
	cut := MaxLastErrorLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Record layout (version 1), all integers as varints:
//
//	version(1) seq op state attempts leaseGen created nextAttempt finished
//	len+orderID len+idempotencyKey len+lastError len+payload
const entryVersion = 1

var errBadRecord = errors.New("bad entry record")

func appendString(b []byte, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodeEntry(e *Entry) []byte {
	b := make([]byte, 0, 48+len(e.OrderID)+len(e.IdempotencyKey)+len(e.LastError)+len(e.Payload))
	b = append(b, entryVersion)
	b = binary.AppendUvarint(b, e.Seq)
	b = append(b, byte(e.Op), byte(e.State))
	b = binary.AppendUvarint(b, uint64(e.Attempts))
	b = binary.AppendUvarint(b, e.leaseGen)
	b = binary.AppendVarint(b, unixNano(e.Created))
	b = binary.AppendVarint(b, unixNano(e.NextAttempt))
	b = binary.AppendVarint(b, unixNano(e.Finished))
	b = appendString(b, []byte(e.OrderID))
	b = appendString(b, []byte(e.IdempotencyKey))
	b = appendString(b, []byte(e.LastError))
	b = appendString(b, e.Payload)
	return b
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errBadRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errBadRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errBadRecord
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errBadRecord
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// decodeEntry decodes a record. The result does not alias b.
func decodeEntry(b []byte) (Entry, error) {
	r := reader{b: b}
	var e Entry
	if v := r.byte(); r.err == nil && v != entryVersion {
		return Entry{}, fmt.Errorf("%w: version %d", errBadRecord, v)
	}
	e.Seq = r.uvarint()
	e.Op = Op(r.byte())
	e.State = State(r.byte())
	attempts := r.uvarint()
	e.leaseGen = r.uvarint()
	e.Created = fromUnixNano(r.varint())
	e.NextAttempt = fromUnixNano(r.varint())
	e.Finished = fromUnixNano(r.varint())
	e.OrderID = string(r.bytes())
	e.IdempotencyKey = string(r.bytes())
	e.LastError = string(r.bytes())
	if p := r.bytes(); len(p) > 0 {
		e.Payload = append([]byte{}, p...)
	}
	switch {
	case r.err != nil:
		return Entry{}, r.err
	case len(r.b) != 0:
		return Entry{}, fmt.Errorf("%w: %d trailing bytes", errBadRecord, len(r.b))
	case !e.Op.Valid():
		return Entry{}, fmt.Errorf("%w: unknown op %d", errBadRecord, e.Op)
	case e.State < StatePending || e.State > StateDiscarded:
		return Entry{}, fmt.Errorf("%w: unknown state %d", errBadRecord, e.State)
	case attempts > math.MaxInt32:
		return Entry{}, fmt.Errorf("%w: attempts %d", errBadRecord, attempts)
	case ValidOrderID(e.OrderID) != nil:
		return Entry{}, fmt.Errorf("%w: bad order id", errBadRecord)
	case e.IdempotencyKey != IdempotencyKey(e.OrderID, e.Op, e.Seq):
		return Entry{}, fmt.Errorf("%w: idempotency key does not match the entry", errBadRecord)
	}
	e.Attempts = int(attempts)
	return e, nil
}

// unixNano maps the zero time to 0 so that "unset" survives a round trip.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// seqKey is the 8-byte big-endian key of an entry in the outbox, dead
// letter and history buckets, so that key order is creation order.
func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

// dueKey is the key of the due index: big-endian next-attempt time then
// sequence, so the first key is the next entry to lease.
func dueKey(at time.Time, seq uint64) []byte {
	n := unixNano(at)
	if n < 0 {
		n = 0
	}
	k := make([]byte, 0, 16)
	k = binary.BigEndian.AppendUint64(k, uint64(n))
	return binary.BigEndian.AppendUint64(k, seq)
}

// orderKey is the key of the per-order index: order id, a 0 byte (which
// valid ids never contain) and the sequence.
func orderKey(orderID string, seq uint64) []byte {
	k := make([]byte, 0, len(orderID)+9)
	k = append(k, orderID...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func orderPrefix(orderID string) []byte {
	k := make([]byte, 0, len(orderID)+1)
	k = append(k, orderID...)
	return append(k, 0)
}

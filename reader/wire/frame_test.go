package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"
)

// mustFrame encodes msg (nil = empty payload) as a frame.
func mustFrame(t testing.TB, typ Type, seq uint16, msg any) []byte {
	t.Helper()
	var payload []byte
	if msg != nil {
		var err error
		if payload, err = Marshal(msg); err != nil {
			t.Fatal(err)
		}
	}
	b, err := AppendFrame(nil, Frame{Version: Version1, Type: typ, Seq: seq, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// result is what one call to Next gave, payload copied.
type result struct {
	frame   Frame
	skipped int    // from a *GarbledError
	reason  string // from a *GarbledError
}

// drain calls Next until ErrNeedMore and returns what it gave.
func drain(t testing.TB, d *Decoder) []result {
	t.Helper()
	var out []result
	for {
		f, err := d.Next()
		var g *GarbledError
		switch {
		case err == nil:
			f.Payload = bytes.Clone(f.Payload)
			out = append(out, result{frame: f})
		case errors.Is(err, ErrNeedMore):
			return out
		case errors.As(err, &g):
			if g.Skipped <= 0 {
				t.Fatalf("GarbledError with Skipped %d", g.Skipped)
			}
			out = append(out, result{skipped: g.Skipped, reason: g.Reason})
		default:
			t.Fatalf("Next: unexpected error %v", err)
		}
	}
}

// TestRoundTrip sends every message through Marshal, AppendFrame, a
// Decoder fed in pieces of every size, and Unmarshal.
func TestRoundTrip(t *testing.T) {
	for _, tc := range messageCases {
		t.Run(tc.name, func(t *testing.T) {
			const seq = 0xBEEF
			frame := mustFrame(t, tc.typ, seq, tc.msg)
			for size := 1; size <= len(frame); size++ {
				var d Decoder
				var got []result
				for rest := frame; len(rest) > 0; {
					n := min(size, len(rest))
					d.Feed(rest[:n])
					rest = rest[n:]
					r := drain(t, &d)
					if len(rest) > 0 && len(r) > 0 {
						t.Fatalf("size %d: Next gave %+v before the frame was complete", size, r)
					}
					got = append(got, r...)
				}
				if len(got) != 1 || got[0].skipped != 0 {
					t.Fatalf("size %d: got %+v, want one frame", size, got)
				}
				f := got[0].frame
				if f.Version != Version1 || f.Type != tc.typ || f.Seq != seq {
					t.Fatalf("size %d: header %d/%s/%d, want %d/%s/%d", size, f.Version, f.Type, f.Seq, Version1, tc.typ, seq)
				}
				if d.Buffered() != 0 {
					t.Fatalf("size %d: %d bytes left buffered", size, d.Buffered())
				}
				if tc.msg == nil {
					if len(f.Payload) != 0 {
						t.Fatalf("size %d: payload %x, want empty", size, f.Payload)
					}
					continue
				}
				v := reflect.New(reflect.TypeOf(tc.msg).Elem()).Interface()
				if err := Unmarshal(f.Payload, v); err != nil {
					t.Fatalf("size %d: %v", size, err)
				}
				if !reflect.DeepEqual(v, tc.msg) {
					t.Fatalf("size %d: decoded\n%+v\nwant\n%+v", size, v, tc.msg)
				}
			}
		})
	}
}

// goldenCollect is the example frame of docs/reader-protocol.md and doc.go:
// a Collect request, seq 1, for 42.00 EUR. A vendor's encoder must produce
// exactly these bytes for this message.
const goldenCollect = "544c010401001d00" + // "TL", version 1, type 0x04 Collect, seq 1, length 29
	"a5" + // map(5)
	"01" + "6b" + "70695f676f6c64656e3031" + // 1: text(11) "pi_golden01"
	"02" + "191068" + // 2: 4200
	"03" + "63" + "657572" + // 3: text(3) "eur"
	"04" + "f5" + // 4: true
	"06" + "19ea60" + // 6: 60000
	"2a9e3f7c" // CRC-32 0x7C3F9E2A, little-endian

var goldenCollectMsg = &Collect{PaymentIntent: "pi_golden01", Amount: 4200, Currency: "eur", CustomerCancel: true, TimeoutMS: 60000}

func TestGoldenFrame(t *testing.T) {
	want, err := hex.DecodeString(goldenCollect)
	if err != nil {
		t.Fatal(err)
	}
	got := mustFrame(t, TypeCollect, 1, goldenCollectMsg)
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded\n%x\nwant\n%x", got, want)
	}
	// The CRC covers header and payload, and is stored little-endian.
	body := want[:len(want)-TrailerSize]
	if c := crc32.ChecksumIEEE(body); binary.LittleEndian.Uint32(want[len(body):]) != c {
		t.Fatalf("golden CRC is not CRC-32/IEEE of bytes 0..%d (0x%08X)", len(body)-1, c)
	}
	var d Decoder
	d.Feed(want)
	f, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	var c Collect
	if err := Unmarshal(f.Payload, &c); err != nil {
		t.Fatal(err)
	}
	if f.Type != TypeCollect || f.Seq != 1 || f.Version != 1 || !reflect.DeepEqual(&c, goldenCollectMsg) {
		t.Fatalf("decoded %+v %+v", f, c)
	}
}

// TestMarshalDeterministic pins the encoding rules a vendor relies on:
// keys ascending, shortest integers, omitted optional fields, and empty
// (never null) arrays and byte strings.
func TestMarshalDeterministic(t *testing.T) {
	tests := []struct {
		name string
		msg  any
		want string
	}{
		{"zero identify", &Identify{}, "a10140"},
		{"identify", &Identify{Versions: []uint8{1}, Host: "h"}, "a2014101026168"},
		{"heartbeat", &Heartbeat{}, "a0"},
		{"event ack", &EventAck{Seq: 24}, "a1011818"},
		{"zero collected", &Collected{}, "a501600240036004600500"},
		{"cart keeps zero amounts", &Cart{Currency: "eur"}, "a501636575720280030004000500"},
		{"negative amount", &Line{Name: "x", Quantity: -1, Amount: -25}, "a30161780220033818"},
		{"nak", &Nak{Code: CodeBusy}, "a10104"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(b); got != tc.want {
				t.Fatalf("Marshal = %s, want %s", got, tc.want)
			}
			again, err := Marshal(tc.msg)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("second Marshal differs: %x, %v", again, err)
			}
		})
	}
}

func TestMarshalUnsupported(t *testing.T) {
	_, err := Marshal(make(chan int))
	if err == nil || !strings.Contains(err.Error(), "encode chan int") {
		t.Fatalf("Marshal(chan) = %v, want an error naming the type", err)
	}
}

func TestAppendFrameTooLarge(t *testing.T) {
	dst := []byte("prefix")
	_, err := AppendFrame(dst, Frame{Type: TypeSetDisplay, Payload: make([]byte, MaxPayload+1)})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("AppendFrame(MaxPayload+1) = %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), "SetDisplay") {
		t.Fatalf("error %q does not name the frame type", err)
	}
	if string(dst) != "prefix" {
		t.Fatalf("dst changed to %q", dst)
	}

	// The largest payload fits exactly in MaxFrame and decodes.
	payload := bytes.Repeat([]byte{Magic0, Magic1}, MaxPayload/2)
	b, err := AppendFrame(dst, Frame{Version: 1, Type: TypeCollected, Seq: 9, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	if len(b)-len(dst) != MaxFrame {
		t.Fatalf("frame of MaxPayload is %d bytes, want %d", len(b)-len(dst), MaxFrame)
	}
	var d Decoder
	d.Feed(b[len(dst):])
	f, err := d.Next()
	if err != nil || !bytes.Equal(f.Payload, payload) {
		t.Fatalf("decode max frame: %v", err)
	}
}

func TestAppendFrameAppends(t *testing.T) {
	a := mustFrame(t, TypeHeartbeat, 1, nil)
	b := mustFrame(t, TypeEventAck, 2, &EventAck{Seq: 7})
	both, err := AppendFrame(bytes.Clone(a), Frame{Version: Version1, Type: TypeEventAck, Seq: 2, Payload: b[HeaderSize : len(b)-TrailerSize]})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(both, append(bytes.Clone(a), b...)) {
		t.Fatalf("AppendFrame did not append: %x", both)
	}
}

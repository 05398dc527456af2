package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecoder feeds arbitrary bytes in arbitrary pieces (sizes taken from
// split, cycled) with Resync calls where split says. The decoder must not
// panic, must keep Buffered within 2 × MaxFrame, must only return frames
// that were in the input verbatim and re-encode to a valid frame, and must
// account for every byte: returned in a frame, reported skipped, or still
// buffered.
func FuzzDecoder(f *testing.F) {
	var all []byte
	for _, tc := range messageCases {
		fr := mustFrame(f, tc.typ, 0x1234, tc.msg)
		f.Add(fr, []byte{1})
		f.Add(fr, []byte{3, 0, 200})
		all = append(all, fr...)
	}
	f.Add(all, []byte{255, 17, 1})
	hb := mustFrame(f, TypeHeartbeat, 1, nil)
	col := mustFrame(f, TypeCollect, 2, goldenCollectMsg)
	bad := bytes.Clone(col)
	bad[len(bad)-2] ^= 0xFF
	f.Add(cat([]byte("noise"), hb, []byte{Magic0}, col), []byte{2, 5})
	f.Add(cat(bad, hb), []byte{7})
	f.Add(cat(col[:20], hb, col), []byte{4, 0})
	f.Add(cat([]byte{Magic0, Magic1, 1, 1, 0, 0, 0xFF, 0xFF}, hb), []byte{9})
	f.Add(bytes.Repeat([]byte{Magic0, Magic1, 1, 1, 0, 0, 0xFF, 0x3F}, 5000), []byte{250, 0, 255})

	f.Fuzz(func(t *testing.T, data, split []byte) {
		if len(split) == 0 {
			split = []byte{0xFF}
		}
		var d Decoder
		inFrames, skipped := 0, 0
		next := func() {
			for {
				fr, err := d.Next()
				var g *GarbledError
				switch {
				case err == nil:
					enc, err := AppendFrame(nil, fr)
					if err != nil {
						t.Fatalf("returned frame does not re-encode: %v", err)
					}
					if !bytes.Contains(data, enc) {
						t.Fatalf("returned frame %x is not in the input", enc)
					}
					var again Decoder
					again.Feed(enc)
					fr2, err := again.Next()
					if err != nil || !reflect.DeepEqual(fr, fr2) {
						t.Fatalf("re-encoded frame decodes as %+v, %v; want %+v", fr2, err, fr)
					}
					inFrames += len(enc)
				case errors.Is(err, ErrNeedMore):
					return
				case errors.As(err, &g):
					if g.Skipped <= 0 || g.Reason == "" {
						t.Fatalf("empty report %+v", g)
					}
					skipped += g.Skipped
				default:
					t.Fatalf("Next: %v", err)
				}
			}
		}
		rest := data
		for i := 0; len(rest) > 0; i++ {
			s := split[i%len(split)]
			if s == 0 { // a partial-frame timeout, then one byte
				d.Resync()
				next()
				s = 1
			}
			n := min(int(s)*int(s), len(rest)) // 1 … 65025 bytes
			d.Feed(rest[:n])
			rest = rest[n:]
			if d.Buffered() > 2*MaxFrame {
				t.Fatalf("Buffered() = %d", d.Buffered())
			}
			next()
		}
		if inFrames+skipped+d.Buffered() != len(data) {
			t.Fatalf("%d bytes in frames + %d skipped + %d buffered != %d fed", inFrames, skipped, d.Buffered(), len(data))
		}
		for d.Buffered() > 0 {
			before := d.Buffered()
			d.Resync()
			next()
			if d.Buffered() >= before {
				t.Fatalf("Resync did not make progress at %d bytes", before)
			}
		}
		if inFrames+skipped != len(data) {
			t.Fatalf("after draining: %d bytes in frames + %d skipped != %d fed", inFrames, skipped, len(data))
		}
	})
}

// FuzzUnmarshal decodes arbitrary payloads into the message struct kind
// selects. It must not panic; whatever decodes must re-encode to bytes
// that decode to the same message and re-encode identically.
func FuzzUnmarshal(f *testing.F) {
	for _, tc := range messageCases {
		if tc.msg == nil {
			continue
		}
		b, err := Marshal(tc.msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(kindOf(tc.msg), b)
	}
	for _, tc := range rejectCases {
		f.Add(kindOf(tc.into()), tc.payload)
	}
	f.Add(byte(0), []byte{})

	f.Fuzz(func(t *testing.T, kind byte, data []byte) {
		newMsg := payloadKinds[int(kind)%len(payloadKinds)]
		v := newMsg()
		if err := Unmarshal(data, v); err != nil {
			return
		}
		b1, err := Marshal(v)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", v, err)
		}
		v2 := newMsg()
		if err := Unmarshal(b1, v2); err != nil {
			t.Fatalf("re-encoded %x does not decode: %v", b1, err)
		}
		b2, err := Marshal(v2)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("encoding not stable:\n%x\n%x (%v)", b1, b2, err)
		}
		v3 := newMsg()
		if err := Unmarshal(b2, v3); err != nil || !reflect.DeepEqual(v2, v3) {
			t.Fatalf("round trip: %+v != %+v (%v)", v2, v3, err)
		}
	})
}

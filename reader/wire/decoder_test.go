package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestDecoderDamage feeds streams with damage in them, whole and one byte
// at a time, and checks the exact sequence of frames and reports.
func TestDecoderDamage(t *testing.T) {
	hb := mustFrame(t, TypeHeartbeat, 1, nil)
	ack := mustFrame(t, TypeEventAck, 2, &EventAck{Seq: 77})
	col := mustFrame(t, TypeCollect, 3, goldenCollectMsg)

	badCRC := bytes.Clone(col)
	badCRC[len(badCRC)-1] ^= 0x01
	badPayload := bytes.Clone(col)
	badPayload[HeaderSize+3] ^= 0x80
	badHeader := bytes.Clone(ack)
	badHeader[4] ^= 0x01 // seq
	oversized := bytes.Clone(hb)
	binary.LittleEndian.PutUint16(oversized[6:8], MaxPayload+1)
	// A false start whose length is impossible, between noise bytes.
	fakeMagic := []byte{'x', Magic0, Magic1, 1, 1, 0, 0, 0xFF, 0xFF, 'y', Magic0}

	type want struct {
		typ     Type   // a frame of this type, or
		skipped int    // a report of this many bytes
		reason  string // containing this
	}
	frame := func(t Type) want { return want{typ: t} }
	tests := []struct {
		name   string
		stream []byte
		want   []want
	}{
		{"clean", cat(hb, ack, col), []want{frame(TypeHeartbeat), frame(TypeEventAck), frame(TypeCollect)}},
		{"noise before", cat([]byte("garbage"), hb), []want{{skipped: 7}, frame(TypeHeartbeat)}},
		{"noise between", cat(hb, []byte{0, 0xFF, Magic1}, ack), []want{frame(TypeHeartbeat), {skipped: 3}, frame(TypeEventAck)}},
		{"noise ending in first magic byte", cat([]byte{1, 2, Magic0}, hb), []want{{skipped: 3}, frame(TypeHeartbeat)}},
		{"fake magic in noise", cat(fakeMagic, hb), []want{{skipped: len(fakeMagic)}, frame(TypeHeartbeat)}},
		{"doubled magic byte", cat([]byte{Magic0}, hb), []want{{skipped: 1}, frame(TypeHeartbeat)}},
		{"bad CRC", cat(badCRC, ack), []want{{skipped: len(badCRC), reason: "CRC mismatch"}, frame(TypeEventAck)}},
		{"bad payload byte", cat(hb, badPayload, ack), []want{frame(TypeHeartbeat), {skipped: len(badPayload), reason: "CRC mismatch"}, frame(TypeEventAck)}},
		{"bad header byte", cat(badHeader, col), []want{{skipped: len(badHeader), reason: "CRC mismatch"}, frame(TypeCollect)}},
		{"oversized length", cat(oversized, ack), []want{{skipped: len(oversized), reason: "length 16373 over 16372"}, frame(TypeEventAck)}},
		{"frame inside garbage frame", cat(badCRC[:HeaderSize], hb, badCRC[HeaderSize:], ack),
			// The damaged frame's length swallows hb; its CRC fails and the
			// decoder rescans from its second byte, finding hb.
			[]want{{skipped: HeaderSize, reason: "CRC mismatch"}, frame(TypeHeartbeat), {skipped: len(badCRC) - HeaderSize}, frame(TypeEventAck)}},
	}
	for _, tc := range tests {
		for _, bytewise := range []bool{false, true} {
			name := tc.name
			if bytewise {
				name += "/byte at a time"
			}
			t.Run(name, func(t *testing.T) {
				var d Decoder
				var got []result
				if bytewise {
					for i := range tc.stream {
						d.Feed(tc.stream[i : i+1])
						got = append(got, drain(t, &d)...)
					}
				} else {
					d.Feed(tc.stream)
					got = drain(t, &d)
				}
				got = collapse(got)
				if len(got) != len(tc.want) {
					t.Fatalf("got %d results %+v, want %d %+v", len(got), got, len(tc.want), tc.want)
				}
				for i, w := range tc.want {
					g := got[i]
					if w.typ != 0 && (g.skipped != 0 || g.frame.Type != w.typ) {
						t.Fatalf("result %d = %+v, want a %s frame", i, g, w.typ)
					}
					if w.skipped != 0 && (g.skipped != w.skipped || !strings.Contains(g.reason, w.reason)) {
						t.Fatalf("result %d = %+v, want %d bytes skipped (%s)", i, g, w.skipped, w.reason)
					}
				}
				if d.Buffered() != 0 {
					t.Fatalf("%d bytes left buffered", d.Buffered())
				}
			})
		}
	}
}

// collapse merges consecutive reports: how damage is split into reports
// depends on how the bytes arrived, but not what is skipped between frames,
// nor the first reason.
func collapse(rs []result) []result {
	var out []result
	for _, r := range rs {
		if n := len(out); n > 0 && r.skipped > 0 && out[n-1].skipped > 0 {
			out[n-1].skipped += r.skipped
			continue
		}
		out = append(out, r)
	}
	return out
}

// TestDecoderTruncatedResync: a frame cut short leaves the decoder waiting
// until Resync, after which it finds the frames that follow.
func TestDecoderTruncatedResync(t *testing.T) {
	col := mustFrame(t, TypeCollect, 3, goldenCollectMsg)
	hb := mustFrame(t, TypeHeartbeat, 4, nil)
	for cut := 1; cut < len(col); cut++ {
		var d Decoder
		d.Feed(col[:cut])
		if _, err := d.Next(); !errors.Is(err, ErrNeedMore) {
			t.Fatalf("cut %d: Next = %v, want ErrNeedMore", cut, err)
		}
		// The next frame arrives, inside the span the truncated header
		// claims (when the header is whole): unless those bytes complete
		// that span, and the CRC fails, the decoder is still waiting.
		d.Feed(hb)
		got := drain(t, &d)
		waits := cut >= HeaderSize && len(col)-cut > len(hb)
		if waits && len(got) != 0 {
			t.Fatalf("cut %d: got %+v before Resync, want to wait", cut, got)
		}
		if len(got) == 0 {
			d.Resync()
			got = drain(t, &d)
		}
		if len(got) != 2 || got[0].skipped != cut || got[1].frame.Type != TypeHeartbeat || got[1].frame.Seq != 4 {
			t.Fatalf("cut %d: got %+v, want %d bytes skipped then the heartbeat", cut, got, cut)
		}
		if waits && got[0].reason != "incomplete frame timed out" {
			t.Fatalf("cut %d: reason %q", cut, got[0].reason)
		}
	}
}

func TestDecoderResyncEmpty(t *testing.T) {
	var d Decoder
	d.Resync()
	if _, err := d.Next(); !errors.Is(err, ErrNeedMore) {
		t.Fatalf("Next after Resync on nothing = %v, want ErrNeedMore", err)
	}
}

// TestDecoderBounded: whatever is fed, the decoder keeps at most
// 2 × MaxFrame bytes, its buffer does not grow past that, every byte is
// accounted for, and a frame after the flood still decodes.
func TestDecoderBounded(t *testing.T) {
	// Noise that always looks like the start of a frame still being
	// received: the worst case for a decoder that waits.
	head := []byte{Magic0, Magic1, 1, 1, 0, 0, 0xFF, 0x3F}
	flood := bytes.Repeat(head, 1<<17) // 1 MiB
	hb := mustFrame(t, TypeHeartbeat, 1, nil)
	for _, chunk := range []int{1, 7, 512, 4096, MaxFrame, 3 * MaxFrame, len(flood)} {
		var d Decoder
		skipped, frames := 0, 0
		count := func() {
			for _, r := range drain(t, &d) {
				skipped += r.skipped
				if r.skipped == 0 {
					frames++
				}
			}
		}
		for rest := flood; len(rest) > 0; {
			n := min(chunk, len(rest))
			d.Feed(rest[:n])
			rest = rest[n:]
			if d.Buffered() > 2*MaxFrame {
				t.Fatalf("chunk %d: Buffered() = %d > %d", chunk, d.Buffered(), 2*MaxFrame)
			}
			if cap(d.buf) > 4*MaxFrame {
				t.Fatalf("chunk %d: buffer capacity %d", chunk, cap(d.buf))
			}
			if chunk < 4096 && n == chunk && len(rest)%(64*chunk) != 0 {
				continue // drain now and then, not after every byte
			}
			count()
		}
		d.Resync() // the flood's tail is an incomplete frame
		count()
		d.Feed(hb)
		count()
		if frames != 1 || d.Buffered() != 0 {
			t.Fatalf("chunk %d: %d frames, %d buffered; want the heartbeat only", chunk, frames, d.Buffered())
		}
		if skipped != len(flood) {
			t.Fatalf("chunk %d: %d bytes reported skipped, want %d", chunk, skipped, len(flood))
		}
	}
}

func TestGarbledErrorMessage(t *testing.T) {
	err := error(&GarbledError{Skipped: 12, Reason: "CRC mismatch"})
	if got, want := err.Error(), "garbled reader frame: skipped 12 bytes (CRC mismatch)"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// ErrNeedMore is returned by Decoder.Next when the buffered bytes do not
// yet hold a whole frame.
var ErrNeedMore = errors.New("need more bytes for a frame")

// GarbledError reports bytes the decoder threw away to find the next frame:
// noise between frames, a length over MaxPayload, or a CRC mismatch. The
// decoder has already resynchronised; call Next again.
type GarbledError struct {
	Skipped int    // bytes discarded
	Reason  string // why the first of them were discarded
}

func (e *GarbledError) Error() string {
	return fmt.Sprintf("garbled reader frame: skipped %d bytes (%s)", e.Skipped, e.Reason)
}

// maxBuffered bounds the decoder's memory: two frames' worth. Bytes fed
// beyond it push the oldest out, counted as skipped.
const maxBuffered = 2 * MaxFrame

var magic = []byte{Magic0, Magic1}

// Decoder splits a byte stream into frames. It never allocates per frame
// once its buffer has grown, never holds more than 2 × MaxFrame bytes, and
// resynchronises on the next magic after any damage. The zero value is
// ready to use. A Decoder is not safe for concurrent use.
type Decoder struct {
	buf     []byte
	off     int // start of unread bytes in buf
	skipped int // bytes discarded since the last report
	reason  string
}

// Feed appends bytes read from the transport. Only the newest
// 2 × MaxFrame bytes are kept: older ones are discarded (and reported by
// Next as a *GarbledError) before p is copied, so no read, however large,
// grows the buffer past that bound.
func (d *Decoder) Feed(p []byte) {
	if over := d.Buffered() + len(p) - maxBuffered; over > 0 {
		old := min(over, d.Buffered())
		d.drop(old, "buffer overflow")
		d.skipped += over - old // the oldest part of p itself
		p = p[over-old:]
	}
	if d.off > 0 && (d.off >= len(d.buf)/2 || len(d.buf)+len(p) > cap(d.buf)) {
		n := copy(d.buf, d.buf[d.off:])
		d.buf, d.off = d.buf[:n], 0
	}
	d.buf = append(d.buf, p...)
}

// Buffered is the number of bytes fed but not yet returned or discarded.
func (d *Decoder) Buffered() int { return len(d.buf) - d.off }

// Resync gives up on the partial frame at the head of the buffer, for when
// the rest of it is overdue: a damaged length can otherwise make the
// decoder wait for bytes that are never sent. It drops one byte; the next
// Next call scans for the following magic.
func (d *Decoder) Resync() {
	if d.Buffered() > 0 {
		d.drop(1, "incomplete frame timed out")
	}
}

// drop discards n buffered bytes. The reason kept for the report is the
// first of a run of discards: the damage that started it.
func (d *Decoder) drop(n int, reason string) {
	d.off += n
	d.skipped += n
	if d.reason == "" {
		d.reason = reason
	}
}

// Next returns the next whole frame. It returns ErrNeedMore when more bytes
// are needed, and one *GarbledError for each run of damaged bytes it
// discarded, before the frame (or the wait for more bytes) that follows
// them. The frame's Payload is valid until the next call to Feed or Next.
func (d *Decoder) Next() (Frame, error) {
	for {
		b := d.buf[d.off:]
		i := bytes.Index(b, magic)
		if i < 0 {
			// Keep a trailing first magic byte: its partner may follow.
			keep := 0
			if len(b) > 0 && b[len(b)-1] == Magic0 {
				keep = 1
			}
			if len(b)-keep > 0 {
				d.drop(len(b)-keep, "no frame start")
				continue
			}
			return d.needMore()
		}
		if i > 0 {
			d.drop(i, "bytes before frame start")
			continue
		}
		if len(b) < HeaderSize {
			return d.needMore()
		}
		n := int(binary.LittleEndian.Uint16(b[6:8]))
		if n > MaxPayload {
			d.drop(1, fmt.Sprintf("length %d over %d", n, MaxPayload))
			continue
		}
		end := HeaderSize + n
		if len(b) < end+TrailerSize {
			return d.needMore()
		}
		if crc32.ChecksumIEEE(b[:end]) != binary.LittleEndian.Uint32(b[end:end+TrailerSize]) {
			d.drop(1, "CRC mismatch")
			continue
		}
		// Report the damage first; the frame stays buffered for the next call.
		if err := d.report(); err != nil {
			return Frame{}, err
		}
		d.off += end + TrailerSize
		return Frame{
			Version: b[2],
			Type:    Type(b[3]),
			Seq:     binary.LittleEndian.Uint16(b[4:6]),
			Payload: b[HeaderSize:end:end],
		}, nil
	}
}

func (d *Decoder) needMore() (Frame, error) {
	if err := d.report(); err != nil {
		return Frame{}, err
	}
	return Frame{}, ErrNeedMore
}

func (d *Decoder) report() error {
	if d.skipped == 0 {
		return nil
	}
	err := &GarbledError{Skipped: d.skipped, Reason: d.reason}
	d.skipped, d.reason = 0, ""
	return err
}

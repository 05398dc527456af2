package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Frame layout (all integers little-endian, as on USB):
//
//	offset size field
//	0      2    magic "TL" (0x54 0x4C)
//	2      1    protocol version
//	3      1    message type
//	4      2    sequence number
//	6      2    payload length n (≤ MaxPayload)
//	8      n    payload (CBOR)
//	8+n    4    CRC-32 (IEEE) of bytes 0 … 8+n-1
const (
	Magic0      = 0x54 // 'T'
	Magic1      = 0x4C // 'L'
	HeaderSize  = 8
	TrailerSize = 4
	// MaxFrame is the largest frame either side may send: 16 KiB.
	MaxFrame = 16 << 10
	// MaxPayload is the largest payload a frame can carry.
	MaxPayload = MaxFrame - HeaderSize - TrailerSize
)

// Version1 is the only protocol version so far.
const Version1 uint8 = 1

// Frame is one decoded frame. Payload aliases the decoder's buffer until
// the next call to Decoder.Next; copy it to keep it.
type Frame struct {
	Version uint8
	Type    Type
	Seq     uint16
	Payload []byte
}

// ErrTooLarge is returned by AppendFrame for a payload over MaxPayload.
var ErrTooLarge = errors.New("frame payload too large")

// AppendFrame appends the encoded frame to dst.
func AppendFrame(dst []byte, f Frame) ([]byte, error) {
	if len(f.Payload) > MaxPayload {
		return dst, fmt.Errorf("encode %s frame: %d bytes: %w", f.Type, len(f.Payload), ErrTooLarge)
	}
	start := len(dst)
	dst = append(dst, Magic0, Magic1, f.Version, byte(f.Type))
	dst = binary.LittleEndian.AppendUint16(dst, f.Seq)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(f.Payload)))
	dst = append(dst, f.Payload...)
	return binary.LittleEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:])), nil
}

// AppendMessage encodes msg (nil for an empty payload) and appends it to
// dst as a version-1 frame of type typ with sequence number seq.
func AppendMessage(dst []byte, typ Type, seq uint16, msg any) ([]byte, error) {
	var payload []byte
	if msg != nil {
		var err error
		if payload, err = Marshal(msg); err != nil {
			return dst, err
		}
	}
	return AppendFrame(dst, Frame{Version: Version1, Type: typ, Seq: seq, Payload: payload})
}

// Package wire is the byte-level codec of Till's card-reader protocol:
// frames, their stream decoder, and the CBOR message payloads. It knows
// nothing of sessions, timeouts or transports; package reader builds those
// on top. The protocol itself, for a vendor implementing a reader, is
// docs/reader-protocol.md in the repository.
//
// # Basics
//
// Every message travels in one frame:
//
//	offset size field
//	0      2    magic "TL" (0x54 0x4C)
//	2      1    protocol version (Version1)
//	3      1    message type (Type)
//	4      2    sequence number, little-endian
//	6      2    payload length n, little-endian, at most MaxPayload
//	8      n    payload: one CBOR map with integer keys
//	8+n    4    CRC-32 (IEEE) of bytes 0 … 8+n-1, little-endian
//
// A frame is at most MaxFrame (16 KiB) long. Types fall in ranges:
// requests from the host are 0x01–0x3E, the reply to request T is T|0x40
// (IdentifyReply is 0x41), Nak (0x7F) refuses any request, and events the
// reader sends unprompted are 0x80–0xBF. (0x3F is reserved: its reply
// would be Nak.) Type.IsRequest, IsResponse and
// IsEvent classify a type; Type.Response and Type.Request map between a
// request and its reply.
//
// To send, encode the payload struct with Marshal (deterministic CBOR)
// and append the frame with AppendFrame, reusing one buffer:
//
//	p, err := wire.Marshal(&wire.Collect{PaymentIntent: id, Amount: 4200, Currency: "eur", TimeoutMS: 60000})
//	buf, err = wire.AppendFrame(buf[:0], wire.Frame{Version: wire.Version1, Type: wire.TypeCollect, Seq: seq, Payload: p})
//
// That Collect for "pi_golden01" with CustomerCancel set, as seq 1, is
// these 41 bytes, the protocol document's golden example:
//
//	544c0104 01001d00 a5016b70 695f676f 6c64656e 30310219 10680363
//	65757204 f50619ea 602a9e3f 7c
//
// To receive, give every read from the transport to a Decoder with Feed,
// then call Next until it returns ErrNeedMore; Unmarshal each frame's
// payload into the struct its Type calls for. Types that carry nothing
// (ClearDisplay, most replies) have an empty payload, and Unmarshal of an
// empty payload gives the zero message.
//
// The decoder resynchronises by itself. Bytes that cannot start a frame,
// a length over MaxPayload and a CRC mismatch all make it discard bytes up
// to the next possible magic; Next reports each run of discarded bytes
// once, as a *GarbledError, before the frame that follows it. One case it
// cannot decide alone: a damaged length that promises more bytes than will
// ever come. The caller calls Resync when a partial frame has been idle too
// long (the protocol says 250 ms) and the decoder moves past it. Memory is
// bounded: the decoder never keeps more than 2 × MaxFrame bytes (older
// bytes are pushed out and reported as skipped), and once its buffer has
// grown, feeding and decoding allocate nothing.
//
// # Caveats
//
// Frame.Payload returned by Next aliases the decoder's buffer: it is valid
// until the next call to Feed or Next. Unmarshal it, or copy it, first.
// Unmarshal copies what it decodes, so a message (Collected.Payload
// included) does not alias the frame.
//
// A Decoder is not safe for concurrent use. Feed and Next are meant to be
// called from the one goroutine that reads the transport.
//
// Unmarshal ignores map keys it does not know, so that a newer peer may add
// fields without breaking an older one; it never fills them in anywhere.
// It is strict about everything else: duplicate keys, indefinite lengths,
// tags, values of the wrong type or out of range, trailing bytes, arrays
// over 512 elements, maps over 64 pairs and nesting over 8 levels are
// errors. The message structs use []uint8 for version lists, which CBOR
// carries as a byte string.
//
// The decoder does not check the version byte or the type: a frame of an
// unknown version or type is returned like any other, so that the session
// can answer it (Nak unsupported_version or unknown_message).
package wire

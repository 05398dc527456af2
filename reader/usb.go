package reader

// # The USB transport
//
// A Till card reader is a USB device with a vendor-specific interface
// (bInterfaceClass 0xFF) carrying one bulk OUT endpoint (host to reader)
// and one bulk IN endpoint (reader to host). Both are plain byte streams of
// frames (see package wire); frames are self-delimiting, so neither side
// relies on packet boundaries to find them.
//
// Finding and claiming: USBDialer's Dial opens every attached device whose
// VID:PID is in USBOptions.IDs (in that order of preference), takes the
// first whose active configuration has an interface alternate setting of
// class 0xFF with exactly one bulk IN and one bulk OUT endpoint (other
// endpoint types are ignored; the lowest interface then alternate number
// wins), enables automatic kernel-driver detach, claims that interface,
// selects the alternate setting and opens the two endpoints. Every other
// device it opened is closed again at once. No reader at all is a
// *NoReaderError (errors.Is ErrNoReader), whose message names the IDs
// searched.
//
// Transfers: reads use a buffer of 16 KiB (wire.MaxFrame) rounded down to a
// multiple of the IN endpoint's wMaxPacketSize, so a transfer never
// overflows; bytes beyond what the caller asked for are kept for the next
// read, never dropped. The device must end each IN transfer with a short
// packet, sending a zero-length packet after data whose length is a
// multiple of wMaxPacketSize, or the host waits for more. Each write is one
// bulk OUT transfer; the host never sends zero-length packets, so the
// device must not wait for one. Reads and writes are each serialised; a
// read and a write may run at the same time.
//
// Errors: a transfer that fails because the device went away (libusb "no
// device", "I/O error", a transfer that errored or found no device) or
// because an endpoint stalled (the transport then clears the halt, best
// effort) wraps ErrDisconnected and names the operation and the device; the
// Client then redials with backoff, which is how an unplug is detected and a
// replug recovered. When the caller's ctx ends, a read or write returns
// ctx's error (bytes that had already arrived are returned first). Close
// stops transfers in flight, then releases the interface, the configuration
// and the device, in that order, once.
//
// libusb context: each Dial creates its own and the Transport closes it
// last, so nothing outlives the Transport and a Dial that finds no reader
// leaves nothing behind (no goroutine, no libusb context). Dialling is
// therefore cheap and safe to repeat: one libusb initialisation and one
// device enumeration. If libusb cannot initialise (gousb panics), Dial
// returns an error wrapping ErrUSBUnavailable with libusb's message.
//
// Permissions: on Linux the user needs write access to the device node.
// Till's udev rule grants it to the logged-in user for the configured
// VID:PIDs; without it, opening fails and Dial returns an error wrapping
// ErrUSBAccess that says to install the rule and replug the reader.
//
// Windows: libusb can only open the vendor interface when the WinUSB driver
// is bound to it. A reader should carry a Microsoft OS 2.0 descriptor set
// (or a WCID descriptor) naming the WinUSB compatible ID, so that Windows
// binds WinUSB automatically on first plug; otherwise WinUSB must be
// installed for the device by hand (Zadig, or an INF file). Without it Dial
// fails with libusb's "not supported" error and a note saying so.
//
// Caveats: with automatic detach, gousb detaches kernel drivers from every
// interface of the active configuration when it is opened, so a composite
// reader's other functions (a HID keypad, say) are unavailable while Till
// holds it. gousb wraps claim errors as text, so a reader claimed by
// another program shows libusb's "busy" message without a sentinel. A
// reader must number its interfaces from 0 without gaps, as USB requires:
// gousb 1.1.3 indexes interfaces by number when it selects an alternate
// setting.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tillpos/till/reader/wire"
)

// USBID is a USB vendor and product ID pair.
type USBID struct{ Vendor, Product uint16 }

// String is "vvvv:pppp" in lowercase hexadecimal, as lsusb prints it.
func (id USBID) String() string {
	return fmt.Sprintf("%04x:%04x", id.Vendor, id.Product)
}

// DefaultUSBIDs are the IDs a USBDialer looks for when none are configured:
// the pid.codes test ID, until a product ID is allocated to Till readers.
var DefaultUSBIDs = []USBID{{0x1209, 0x0001}}

// ErrUSBAccess: a reader was found but this user may not open it (on Linux:
// the udev rule is missing).
var ErrUSBAccess = errors.New("permission denied opening the USB card reader")

// ParseUSBIDs parses a comma-separated list of VID:PID pairs in hexadecimal
// ("1209:0001,2fe3:0100"; 1 to 4 digits each, spaces around items
// ignored). Duplicates are dropped, keeping the first; order is kept, as it
// is the order of preference. An empty list is an error.
func ParseUSBIDs(s string) ([]USBID, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("usb ids: empty list, want VID:PID pairs like 1209:0001")
	}
	var ids []USBID
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		id, err := parseUSBID(item)
		if err != nil {
			return nil, fmt.Errorf("usb id %q: %w", item, err)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func parseUSBID(s string) (USBID, error) {
	if s == "" {
		return USBID{}, errors.New("empty item, want VID:PID like 1209:0001")
	}
	vid, pid, ok := strings.Cut(s, ":")
	if !ok {
		return USBID{}, errors.New("no colon, want VID:PID like 1209:0001")
	}
	v, err := parseHex16("vendor", vid)
	if err != nil {
		return USBID{}, err
	}
	p, err := parseHex16("product", pid)
	if err != nil {
		return USBID{}, err
	}
	return USBID{v, p}, nil
}

func parseHex16(what, s string) (uint16, error) {
	bad := fmt.Errorf("%s ID %q is not 1 to 4 hexadecimal digits", what, s)
	if len(s) == 0 || len(s) > 4 {
		return 0, bad
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return 0, bad
		}
	}
	n, err := strconv.ParseUint(s, 16, 16)
	if err != nil {
		return 0, bad
	}
	return uint16(n), nil
}

func joinUSBIDs(ids []USBID, sep string) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, sep)
}

// NoReaderError is Dial's error when no device with one of IDs is attached.
// errors.Is(err, ErrNoReader) holds.
type NoReaderError struct{ IDs []USBID }

func (e *NoReaderError) Error() string {
	if len(e.IDs) == 0 {
		return "no reader found"
	}
	return "no reader found (VID:PID " + joinUSBIDs(e.IDs, ", ") + ")"
}

// Unwrap returns ErrNoReader.
func (e *NoReaderError) Unwrap() error { return ErrNoReader }

// USBOptions configure USBDialer.
type USBOptions struct {
	// IDs are the VID:PID pairs to look for, in order of preference;
	// empty means DefaultUSBIDs.
	IDs []USBID
	// Logger receives what the transport does (device opened, extra
	// devices ignored, releases); nil discards it.
	Logger *slog.Logger
}

// USBDialer returns a Dialer that opens a card reader over USB with gousb
// (libusb). See the comment at the top of usb.go for how.
func USBDialer(opts USBOptions) Dialer {
	return newUSBDialer(opts, openGousb)
}

func newUSBDialer(opts USBOptions, backend func() (usbBackend, error)) *usbDialer {
	ids := slices.Clone(opts.IDs)
	if len(ids) == 0 {
		ids = slices.Clone(DefaultUSBIDs)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &usbDialer{ids: ids, log: log, backend: backend}
}

// The seam: usb_gousb.go implements these with gousb, as thin wrappers
// around its Context, Device, Config, Interface and endpoints; tests use a
// declarative fake. All logic lives above it, in this file.
type (
	// usbBackend is one initialised USB stack (a libusb context).
	usbBackend interface {
		// openDevices opens every attached device whose ID match
		// accepts. Like gousb, it may return devices and an error about
		// others it could not open.
		openDevices(match func(USBID) bool) ([]usbDevice, error)
		// classify says what kind of failure err, from any method here,
		// is.
		classify(err error) usbErrKind
		close() error
	}
	usbDevice interface {
		id() USBID
		String() string // "1209:0001 on bus 1 address 4"
		activeConfig() (usbConfigDesc, error)
		setAutoDetach(on bool) error
		openConfig(num int) (usbConfig, error)
		clearHalt(endpoint uint8) error
		close() error
	}
	usbConfig interface {
		claim(intf, alt int) (usbInterface, error)
		close() error
	}
	usbInterface interface {
		inEndpoint(num int) (usbInEndpoint, error)
		outEndpoint(num int) (usbOutEndpoint, error)
		close()
	}
	usbInEndpoint interface {
		ReadContext(ctx context.Context, p []byte) (int, error)
	}
	usbOutEndpoint interface {
		WriteContext(ctx context.Context, p []byte) (int, error)
	}
)

// usbConfigDesc describes a configuration: every alternate setting of
// every interface.
type usbConfigDesc struct {
	Number   int
	Settings []usbAltSetting
}

type usbAltSetting struct {
	Interface, Alternate int
	Class                uint8
	Endpoints            []usbEndpointDesc
}

type usbEndpointDesc struct {
	Address       uint8 // bit 7 set: IN
	Bulk          bool
	MaxPacketSize int
}

func (e usbEndpointDesc) in() bool    { return e.Address&0x80 != 0 }
func (e usbEndpointDesc) number() int { return int(e.Address & 0x0f) }

// usbClassVendorSpecific is bInterfaceClass 0xFF.
const usbClassVendorSpecific = 0xff

// usbErrKind classifies backend errors.
type usbErrKind int

const (
	usbErrOther        usbErrKind = iota
	usbErrGone                    // the device went away or the link failed
	usbErrStall                   // an endpoint halted
	usbErrAccess                  // permission denied
	usbErrNotSupported            // no usable driver (Windows without WinUSB)
	usbErrCancelled               // the transfer was cancelled
)

// pickInterface chooses the reader's interface in cfg.
func pickInterface(cfg usbConfigDesc) (setting usbAltSetting, in, out usbEndpointDesc, err error) {
	settings := slices.SortedFunc(slices.Values(cfg.Settings), func(a, b usbAltSetting) int {
		return cmp.Or(cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.Alternate, b.Alternate))
	})
	for _, s := range settings {
		if s.Class != usbClassVendorSpecific {
			continue
		}
		var ins, outs []usbEndpointDesc
		for _, e := range s.Endpoints {
			switch {
			case !e.Bulk || e.MaxPacketSize <= 0:
			case e.in():
				ins = append(ins, e)
			default:
				outs = append(outs, e)
			}
		}
		if len(ins) == 1 && len(outs) == 1 {
			return s, ins[0], outs[0], nil
		}
	}
	return usbAltSetting{}, usbEndpointDesc{}, usbEndpointDesc{}, fmt.Errorf(
		"configuration %d has no vendor-specific interface (class 0xff) with one bulk IN and one bulk OUT endpoint", cfg.Number)
}

// usbReadSize is the read buffer: one maximal frame.
const usbReadSize = wire.MaxFrame

// readBufferSize is usbReadSize rounded down to a multiple of the IN
// endpoint's packet size (at least one packet).
func readBufferSize(maxPacket int) int {
	return max(usbReadSize/maxPacket, 1) * maxPacket
}

type usbDialer struct {
	ids     []USBID
	log     *slog.Logger
	backend func() (usbBackend, error)
}

func (d *usbDialer) String() string { return "USB " + joinUSBIDs(d.ids, ",") }

// Dial opens the first usable reader; see the comment at the top of usb.go.
// Its errors name the device and the step that failed but not the Dialer,
// which the caller adds.
func (d *usbDialer) Dial(ctx context.Context) (Transport, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open USB card reader: %w", err)
	}
	b, err := d.backend()
	if err != nil {
		return nil, err
	}
	t, err := d.dial(ctx, b)
	if err != nil {
		if cerr := b.close(); cerr != nil {
			d.log.Warn("close libusb context", "err", cerr)
		}
		return nil, err
	}
	return t, nil
}

func (d *usbDialer) dial(ctx context.Context, b usbBackend) (*usbTransport, error) {
	devs, openErr := b.openDevices(func(id USBID) bool { return slices.Contains(d.ids, id) })
	slices.SortStableFunc(devs, func(a, b usbDevice) int {
		return cmp.Compare(slices.Index(d.ids, a.id()), slices.Index(d.ids, b.id()))
	})
	if len(devs) == 0 {
		return nil, d.openError(b, openErr)
	}
	if openErr != nil {
		d.log.Warn("some USB card readers could not be opened", "ids", d.String(), "err", openErr)
	}
	var errs []error
	var t *usbTransport
	for _, dev := range devs {
		if t == nil && ctx.Err() == nil {
			var err error
			if t, err = d.open(b, dev); err == nil {
				continue
			}
			errs = append(errs, err)
		} else if t != nil {
			d.log.Warn("several USB card readers attached; ignoring one", "using", t.dev.String(), "ignored", dev.String())
		}
		if err := dev.close(); err != nil {
			d.log.Warn("close unused USB device", "device", dev.String(), "err", err)
		}
	}
	if t != nil {
		return t, nil
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// openError explains why no device could be opened.
func (d *usbDialer) openError(b usbBackend, err error) error {
	if err == nil {
		return &NoReaderError{IDs: slices.Clone(d.ids)}
	}
	ids := joinUSBIDs(d.ids, ", ")
	switch b.classify(err) {
	case usbErrAccess:
		return fmt.Errorf("%w (VID:PID %s): install Till's udev rule, which grants the logged-in user "+
			"access to VID:PID %s, then replug the reader: %w", ErrUSBAccess, ids, ids, err)
	case usbErrNotSupported:
		return fmt.Errorf("open USB card reader (VID:PID %s): no usable driver (on Windows the reader's "+
			"vendor interface needs the WinUSB driver): %w", ids, err)
	case usbErrGone:
		// Unplugged between enumeration and open.
		return fmt.Errorf("%w: %w", &NoReaderError{IDs: slices.Clone(d.ids)}, err)
	}
	return fmt.Errorf("open USB card reader (VID:PID %s): %w", ids, err)
}

// open claims the reader's interface on dev and returns the Transport.
// On failure it releases what it took; the caller closes dev.
func (d *usbDialer) open(b usbBackend, dev usbDevice) (_ *usbTransport, err error) {
	wrap := func(op string, err error) error {
		return fmt.Errorf("%s of USB card reader %s: %w", op, dev, err)
	}
	desc, err := dev.activeConfig()
	if err != nil {
		return nil, wrap("read active configuration", err)
	}
	setting, inDesc, outDesc, err := pickInterface(desc)
	if err != nil {
		return nil, wrap("find interface", err)
	}
	if err := dev.setAutoDetach(true); err != nil {
		return nil, wrap("enable kernel driver auto-detach", err)
	}
	cfg, err := dev.openConfig(desc.Number)
	if err != nil {
		return nil, wrap(fmt.Sprintf("open configuration %d", desc.Number), err)
	}
	defer func() {
		if err != nil {
			if cerr := cfg.close(); cerr != nil {
				d.log.Warn("release USB configuration", "device", dev.String(), "err", cerr)
			}
		}
	}()
	intf, err := cfg.claim(setting.Interface, setting.Alternate)
	if err != nil {
		return nil, wrap(fmt.Sprintf("claim interface %d alternate setting %d", setting.Interface, setting.Alternate), err)
	}
	defer func() {
		if err != nil {
			intf.close()
		}
	}()
	in, err := intf.inEndpoint(inDesc.number())
	if err != nil {
		return nil, wrap(fmt.Sprintf("open IN endpoint 0x%02x", inDesc.Address), err)
	}
	out, err := intf.outEndpoint(outDesc.number())
	if err != nil {
		return nil, wrap(fmt.Sprintf("open OUT endpoint 0x%02x", outDesc.Address), err)
	}
	life, stop := context.WithCancel(context.Background())
	t := &usbTransport{
		backend: b, dev: dev, cfg: cfg, intf: intf, in: in, out: out,
		inAddr: inDesc.Address, outAddr: outDesc.Address,
		rbuf: make([]byte, readBufferSize(inDesc.MaxPacketSize)),
		life: life, stop: stop, log: d.log,
	}
	d.log.Info("USB card reader opened", "device", dev.String(),
		"interface", setting.Interface, "alternate", setting.Alternate,
		"in", fmt.Sprintf("0x%02x", inDesc.Address), "out", fmt.Sprintf("0x%02x", outDesc.Address),
		"max_packet", inDesc.MaxPacketSize, "read_buffer", len(t.rbuf))
	return t, nil
}

// usbTransport is a Transport over a claimed USB interface.
type usbTransport struct {
	backend         usbBackend
	dev             usbDevice
	cfg             usbConfig
	intf            usbInterface
	in              usbInEndpoint
	out             usbOutEndpoint
	inAddr, outAddr uint8
	log             *slog.Logger

	// life ends when Close begins; it cancels transfers in flight.
	life context.Context
	stop context.CancelFunc

	rmu     sync.Mutex
	rbuf    []byte
	pending []byte // of rbuf: read from the device, not yet by the caller

	wmu sync.Mutex

	closeOnce sync.Once
	closeErr  error
}

func (t *usbTransport) String() string { return "USB card reader " + t.dev.String() }

// opContext is ctx, also cancelled when Close begins.
func (t *usbTransport) opContext(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(t.life, cancel)
	return ctx, func() { stop(); cancel() }
}

func (t *usbTransport) ReadContext(ctx context.Context, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	t.rmu.Lock()
	defer t.rmu.Unlock()
	for len(t.pending) == 0 {
		if err := t.precheck(ctx, "read"); err != nil {
			return 0, err
		}
		opCtx, done := t.opContext(ctx)
		n, err := t.in.ReadContext(opCtx, t.rbuf)
		done()
		if n > 0 {
			// Keep what arrived even if the transfer then failed; a
			// lasting failure shows on the next read.
			t.pending = t.rbuf[:n]
			break
		}
		if err != nil {
			return 0, t.opError(ctx, "read", t.inAddr, err)
		}
		// A zero-length packet: read again.
	}
	n := copy(p, t.pending)
	t.pending = t.pending[n:]
	return n, nil
}

func (t *usbTransport) WriteContext(ctx context.Context, p []byte) (int, error) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	written := 0
	for written < len(p) {
		if err := t.precheck(ctx, "write"); err != nil {
			return written, err
		}
		opCtx, done := t.opContext(ctx)
		n, err := t.out.WriteContext(opCtx, p[written:])
		done()
		written += n
		if err != nil {
			return written, t.opError(ctx, "write", t.outAddr, err)
		}
		if n == 0 {
			return written, fmt.Errorf("write %s: endpoint 0x%02x accepted no bytes", t, t.outAddr)
		}
	}
	return written, nil
}

func (t *usbTransport) precheck(ctx context.Context, op string) error {
	if t.life.Err() != nil {
		return fmt.Errorf("%s %s: transport closed: %w", op, t, ErrDisconnected)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, t, err)
	}
	return nil
}

// opError maps a failed transfer to the Transport's errors.
func (t *usbTransport) opError(ctx context.Context, op string, ep uint8, err error) error {
	switch {
	case t.life.Err() != nil:
		return fmt.Errorf("%s %s: transport closed: %w", op, t, ErrDisconnected)
	case ctx.Err() != nil:
		return fmt.Errorf("%s %s: %w", op, t, ctx.Err())
	}
	switch t.backend.classify(err) {
	case usbErrGone:
		return fmt.Errorf("%s %s: %w: %w", op, t, ErrDisconnected, err)
	case usbErrStall:
		if cerr := t.dev.clearHalt(ep); cerr != nil {
			t.log.Warn("clear USB endpoint halt", "device", t.dev.String(), "endpoint", fmt.Sprintf("0x%02x", ep), "err", cerr)
		}
		return fmt.Errorf("%s %s: endpoint 0x%02x stalled: %w: %w", op, t, ep, ErrDisconnected, err)
	}
	return fmt.Errorf("%s %s: %w", op, t, err)
}

// Close stops transfers in flight, then releases the interface, the
// configuration, the device and the libusb context, in that order. Only the
// first call does anything; later calls return its result.
func (t *usbTransport) Close() error {
	t.closeOnce.Do(func() {
		t.stop()
		// Wait for transfers in flight, which t.stop cancelled.
		t.rmu.Lock()
		defer t.rmu.Unlock()
		t.wmu.Lock()
		defer t.wmu.Unlock()
		t.intf.close()
		var errs []error
		if err := t.cfg.close(); err != nil {
			errs = append(errs, fmt.Errorf("release configuration: %w", err))
		}
		if err := t.dev.close(); err != nil {
			errs = append(errs, fmt.Errorf("close device: %w", err))
		}
		if err := t.backend.close(); err != nil {
			errs = append(errs, fmt.Errorf("close libusb context: %w", err))
		}
		if err := errors.Join(errs...); err != nil {
			t.closeErr = fmt.Errorf("close %s: %w", t, err)
		}
		t.log.Info("USB card reader closed", "device", t.dev.String(), "err", t.closeErr)
	})
	return t.closeErr
}

// FoundUSB is an attached USB device with a supported ID.
type FoundUSB struct {
	ID    USBID
	Where string // e.g. "1209:0001 on bus 1 address 4"
}

// FindUSB lists the attached devices whose ID is in ids (DefaultUSBIDs
// when empty), in the order of ids, without claiming them: the set-up
// wizard's "Detect". A device this user may not open is listed only if
// libusb enumerates it; ErrUSBUnavailable when libusb cannot start.
func FindUSB(ids []USBID) ([]FoundUSB, error) { return findUSB(ids, openGousb) }

func findUSB(ids []USBID, backend func() (usbBackend, error)) ([]FoundUSB, error) {
	if len(ids) == 0 {
		ids = DefaultUSBIDs
	}
	b, err := backend()
	if err != nil {
		return nil, fmt.Errorf("find usb readers: %w", err)
	}
	defer b.close()
	devs, openErr := b.openDevices(func(id USBID) bool { return slices.Contains(ids, id) })
	var found []FoundUSB
	for _, d := range devs {
		found = append(found, FoundUSB{ID: d.id(), Where: d.String()})
		d.close()
	}
	slices.SortStableFunc(found, func(a, b FoundUSB) int {
		return slices.Index(ids, a.ID) - slices.Index(ids, b.ID)
	})
	if openErr != nil && len(found) == 0 {
		if b.classify(openErr) == usbErrAccess {
			return nil, fmt.Errorf("find usb readers: %w", ErrUSBAccess)
		}
		return nil, fmt.Errorf("find usb readers: %w", openErr)
	}
	return found, nil
}

package reader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillpos/till/reader/wire"
)

// The fake USB stack: a declarative bus of devices, modelled on gousb's own
// fakeLibusb. A test lists devices in a struct literal; the fake records
// every claim and release in order.

var (
	errFakeNoDevice     = errors.New("fake libusb: no device")
	errFakeAccess       = errors.New("fake libusb: bad access")
	errFakeNotSupported = errors.New("fake libusb: not supported")
	errFakeStall        = errors.New("fake libusb: endpoint stalled")
	errFakeCancelled    = errors.New("fake libusb: transfer cancelled")
	errFakeOverflow     = errors.New("fake libusb: overflow")
	errFakeBusy         = errors.New("fake libusb: device or resource busy")
)

type fakeBus struct {
	Devices []*fakeDevice
	// OpenErr is returned by openDevices besides the devices it opens.
	OpenErr error
	// InitErr makes creating a backend (a libusb context) fail.
	InitErr error

	mu       sync.Mutex
	log      []string
	contexts int // backends created and not closed
}

type fakeDevice struct {
	ID           USBID
	Bus, Address int
	// Config is the active configuration; zero means fakeReaderConfig.
	Config    usbConfigDesc
	OpenErr   error // opening the device fails
	ConfigErr error
	ClaimErr  error
	// Reads are the IN transfers, in order; after them reads wait for
	// ctx, unless Pipe is set.
	Reads []fakeRead
	// UnplugAfterReads > 0: the device is gone after that many reads.
	UnplugAfterReads int
	// Pipe, if set, serves the endpoints after Reads: the host end of a
	// Pipe whose device end a test or a simulator drives. Its
	// disconnection is the device's unplug.
	Pipe Transport

	mu       sync.Mutex
	reads    int
	gone     bool
	written  []byte
	bufSizes []int // the length of every read buffer
}

type fakeRead struct {
	Data []byte
	Err  error
}

// fakeReaderConfig is a well-formed reader: a HID interface 0 and the
// vendor interface 1 with bulk endpoints 0x02 OUT and 0x81 IN.
var fakeReaderConfig = usbConfigDesc{Number: 1, Settings: []usbAltSetting{
	{Interface: 0, Class: 0x03, Endpoints: []usbEndpointDesc{{Address: 0x83, MaxPacketSize: 8}}},
	{Interface: 1, Class: 0xff, Endpoints: []usbEndpointDesc{
		{Address: 0x02, Bulk: true, MaxPacketSize: 512},
		{Address: 0x81, Bulk: true, MaxPacketSize: 512},
	}},
}}

func (b *fakeBus) record(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.log = append(b.log, fmt.Sprintf(format, args...))
}

func (b *fakeBus) events() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.log)
}

func (b *fakeBus) openContexts() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.contexts
}

// plug attaches d (replug) and unplug detaches it.
func (b *fakeBus) plug(d *fakeDevice) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.Devices = append(b.Devices, d)
}

func (b *fakeBus) unplug(d *fakeDevice) {
	b.mu.Lock()
	b.Devices = slices.DeleteFunc(b.Devices, func(x *fakeDevice) bool { return x == d })
	b.mu.Unlock()
	d.mu.Lock()
	d.gone = true
	d.mu.Unlock()
	if d.Pipe != nil {
		d.Pipe.Close()
	}
}

func (b *fakeBus) dialer(ids ...USBID) *usbDialer {
	return newUSBDialer(USBOptions{IDs: ids}, b.newBackend)
}

func (b *fakeBus) newBackend() (usbBackend, error) {
	if b.InitErr != nil {
		return nil, b.InitErr
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.contexts++
	return &fakeBackend{bus: b}, nil
}

type fakeBackend struct {
	bus    *fakeBus
	mu     sync.Mutex
	open   int
	closed bool
}

func (f *fakeBackend) openDevices(match func(USBID) bool) ([]usbDevice, error) {
	f.bus.mu.Lock()
	devs := slices.Clone(f.bus.Devices)
	err := f.bus.OpenErr
	f.bus.mu.Unlock()
	var out []usbDevice
	for _, d := range devs {
		if !match(d.ID) {
			continue
		}
		if d.OpenErr != nil {
			err = d.OpenErr
			continue
		}
		f.mu.Lock()
		f.open++
		f.mu.Unlock()
		f.bus.record("open device %s", d.ID)
		out = append(out, &fakeHandle{b: f, d: d})
	}
	return out, err
}

func (f *fakeBackend) classify(err error) usbErrKind {
	switch {
	case errors.Is(err, errFakeNoDevice):
		return usbErrGone
	case errors.Is(err, errFakeStall):
		return usbErrStall
	case errors.Is(err, errFakeAccess):
		return usbErrAccess
	case errors.Is(err, errFakeNotSupported):
		return usbErrNotSupported
	case errors.Is(err, errFakeCancelled):
		return usbErrCancelled
	}
	return usbErrOther
}

func (f *fakeBackend) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("fake libusb context closed twice")
	}
	if f.open > 0 {
		// As gousb: a context with open devices cannot close.
		return fmt.Errorf("fake libusb context: %d devices still open", f.open)
	}
	f.closed = true
	f.bus.mu.Lock()
	f.bus.contexts--
	f.bus.mu.Unlock()
	f.bus.record("close context")
	return nil
}

// fakeHandle is one opened device.
type fakeHandle struct {
	b      *fakeBackend
	d      *fakeDevice
	config bool
	claims int
	closed bool
}

func (h *fakeHandle) id() USBID { return h.d.ID }
func (h *fakeHandle) String() string {
	return fmt.Sprintf("%s on bus %d address %d", h.d.ID, h.d.Bus, h.d.Address)
}

func (h *fakeHandle) activeConfig() (usbConfigDesc, error) {
	if h.d.Config.Number == 0 {
		return fakeReaderConfig, nil
	}
	return h.d.Config, nil
}

func (h *fakeHandle) setAutoDetach(on bool) error {
	h.b.bus.record("autodetach %v", on)
	return nil
}

func (h *fakeHandle) openConfig(num int) (usbConfig, error) {
	if h.d.ConfigErr != nil {
		return nil, h.d.ConfigErr
	}
	h.config = true
	h.b.bus.record("open config %d", num)
	return &fakeConfig{h: h, num: num}, nil
}

func (h *fakeHandle) clearHalt(ep uint8) error {
	h.b.bus.record("clear halt 0x%02x", ep)
	return nil
}

func (h *fakeHandle) close() error {
	if h.closed {
		return errors.New("device closed twice")
	}
	if h.config {
		return errors.New("device has an open configuration")
	}
	h.closed = true
	h.b.mu.Lock()
	h.b.open--
	h.b.mu.Unlock()
	h.b.bus.record("close device %s", h)
	return nil
}

type fakeConfig struct {
	h   *fakeHandle
	num int
}

func (c *fakeConfig) claim(intf, alt int) (usbInterface, error) {
	if c.h.d.ClaimErr != nil {
		return nil, c.h.d.ClaimErr
	}
	c.h.claims++
	c.h.b.bus.record("claim interface %d alt %d", intf, alt)
	return &fakeInterface{h: c.h, num: intf}, nil
}

func (c *fakeConfig) close() error {
	if c.h.claims > 0 {
		return errors.New("configuration has claimed interfaces")
	}
	c.h.config = false
	c.h.b.bus.record("close config %d", c.num)
	return nil
}

type fakeInterface struct {
	h   *fakeHandle
	num int
}

func (i *fakeInterface) inEndpoint(num int) (usbInEndpoint, error) {
	i.h.b.bus.record("open in %d", num)
	return fakeIn{i.h.d}, nil
}

func (i *fakeInterface) outEndpoint(num int) (usbOutEndpoint, error) {
	i.h.b.bus.record("open out %d", num)
	return fakeOut{i.h.d}, nil
}

func (i *fakeInterface) close() {
	i.h.claims--
	i.h.b.bus.record("release interface %d", i.num)
}

type fakeIn struct{ d *fakeDevice }

func (e fakeIn) ReadContext(ctx context.Context, p []byte) (int, error) {
	d := e.d
	d.mu.Lock()
	d.bufSizes = append(d.bufSizes, len(p))
	if d.UnplugAfterReads > 0 && d.reads >= d.UnplugAfterReads {
		d.gone = true
	}
	if d.gone {
		d.mu.Unlock()
		return 0, errFakeNoDevice
	}
	if d.reads < len(d.Reads) {
		r := d.Reads[d.reads]
		d.reads++
		d.mu.Unlock()
		if len(r.Data) > len(p) {
			return 0, errFakeOverflow
		}
		return copy(p, r.Data), r.Err
	}
	d.reads++
	d.mu.Unlock()
	if d.Pipe != nil {
		n, err := d.Pipe.ReadContext(ctx, p)
		return n, fakePipeError(ctx, err)
	}
	<-ctx.Done()
	return 0, errFakeCancelled
}

type fakeOut struct{ d *fakeDevice }

func (e fakeOut) WriteContext(ctx context.Context, p []byte) (int, error) {
	d := e.d
	d.mu.Lock()
	if d.gone {
		d.mu.Unlock()
		return 0, errFakeNoDevice
	}
	d.written = append(d.written, p...)
	d.mu.Unlock()
	if d.Pipe != nil {
		n, err := d.Pipe.WriteContext(ctx, p)
		return n, fakePipeError(ctx, err)
	}
	return len(p), nil
}

// fakePipeError turns a Pipe's errors into libusb's, as a real device's
// would be.
func fakePipeError(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return errFakeCancelled
	case errors.Is(err, ErrDisconnected):
		return errFakeNoDevice
	}
	return err
}

func (d *fakeDevice) writtenBytes() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.written)
}

var (
	idTest  = USBID{0x1209, 0x0001}
	idOther = USBID{0x2fe3, 0x0100}
)

// dialFake dials bus for idTest and fails the test on error.
func dialFake(t *testing.T, bus *fakeBus) *usbTransport {
	t.Helper()
	tr, err := bus.dialer(idTest).Dial(t.Context())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return tr.(*usbTransport)
}

var parseUSBIDsTests = []struct {
	in      string
	want    []USBID
	wantErr string // substring
}{
	{in: "1209:0001", want: []USBID{idTest}},
	{in: "1209:0001,2fe3:0100", want: []USBID{idTest, idOther}},
	{in: " 2FE3:100 , 1209:1 ", want: []USBID{idOther, idTest}},
	{in: "1209:0001,2fe3:0100,1209:0001", want: []USBID{idTest, idOther}},
	{in: "0:0,ffff:ffff", want: []USBID{{0, 0}, {0xffff, 0xffff}}},
	{in: "", wantErr: "usb ids: empty list"},
	{in: "  ", wantErr: "usb ids: empty list"},
	{in: "12x9:1", wantErr: `usb id "12x9:1": vendor ID "12x9" is not 1 to 4 hexadecimal digits`},
	{in: "1209:00001", wantErr: `usb id "1209:00001": product ID "00001" is not 1 to 4 hexadecimal digits`},
	{in: "1209", wantErr: `usb id "1209": no colon`},
	{in: "1209:", wantErr: `usb id "1209:": product ID "" is not`},
	{in: ":0001", wantErr: `usb id ":0001": vendor ID "" is not`},
	{in: "1209:0001,", wantErr: `usb id "": empty item`},
	{in: "1209:0001:02", wantErr: `product ID "0001:02" is not`},
	{in: "0x12:1", wantErr: `vendor ID "0x12" is not`},
	{in: "+12:1", wantErr: `vendor ID "+12" is not`},
	{in: "1_2:1", wantErr: `vendor ID "1_2" is not`},
	{in: "1209;0001", wantErr: "no colon"},
}

func TestParseUSBIDs(t *testing.T) {
	for _, tc := range parseUSBIDsTests {
		got, err := ParseUSBIDs(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseUSBIDs(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseUSBIDs(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseUSBIDs(f *testing.F) {
	for _, tc := range parseUSBIDsTests {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := ParseUSBIDs(s)
		if err != nil {
			if ids != nil {
				t.Fatalf("ParseUSBIDs(%q) returned IDs %v with error %v", s, ids, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "usb id") {
				t.Fatalf("ParseUSBIDs(%q) error %q does not say it is about usb ids", s, msg)
			}
			return
		}
		if len(ids) == 0 {
			t.Fatalf("ParseUSBIDs(%q) = no IDs and no error", s)
		}
		for i, id := range ids {
			if slices.Contains(ids[:i], id) {
				t.Fatalf("ParseUSBIDs(%q) = %v: duplicate %s", s, ids, id)
			}
		}
		// What String prints parses back to the same list.
		again, err := ParseUSBIDs(joinUSBIDs(ids, ","))
		if err != nil || !slices.Equal(again, ids) {
			t.Fatalf("round trip of %v = %v, %v", ids, again, err)
		}
	})
}

func TestUSBIDString(t *testing.T) {
	for id, want := range map[USBID]string{
		idTest:           "1209:0001",
		{0xABCD, 0x00ef}: "abcd:00ef",
		{}:               "0000:0000",
	} {
		if got := id.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", id, got, want)
		}
	}
}

func TestNoReaderError(t *testing.T) {
	for _, tc := range []struct {
		ids  []USBID
		want string
	}{
		{[]USBID{idTest}, "no reader found (VID:PID 1209:0001)"},
		{[]USBID{idTest, idOther}, "no reader found (VID:PID 1209:0001, 2fe3:0100)"},
		{nil, "no reader found"},
	} {
		var err error = &NoReaderError{IDs: tc.ids}
		if got := err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if !errors.Is(err, ErrNoReader) {
			t.Errorf("%v is not ErrNoReader", err)
		}
		if errors.Is(err, ErrDisconnected) {
			t.Errorf("%v is ErrDisconnected", err)
		}
	}
}

func TestUSBDialerString(t *testing.T) {
	if got := USBDialer(USBOptions{}).String(); got != "USB 1209:0001" {
		t.Errorf("default dialer = %q", got)
	}
	if got := USBDialer(USBOptions{IDs: []USBID{idOther, idTest}}).String(); got != "USB 2fe3:0100,1209:0001" {
		t.Errorf("dialer = %q", got)
	}
}

func TestPickInterface(t *testing.T) {
	bulkIn := usbEndpointDesc{Address: 0x81, Bulk: true, MaxPacketSize: 64}
	bulkOut := usbEndpointDesc{Address: 0x01, Bulk: true, MaxPacketSize: 64}
	intrIn := usbEndpointDesc{Address: 0x83, MaxPacketSize: 8}
	for _, tc := range []struct {
		name      string
		settings  []usbAltSetting
		wantIntf  int
		wantAlt   int
		wantIn    uint8
		wantOut   uint8
		wantError bool
	}{
		{name: "reader", settings: fakeReaderConfig.Settings, wantIntf: 1, wantIn: 0x81, wantOut: 0x02},
		{name: "extra interrupt endpoint ignored", settings: []usbAltSetting{
			{Interface: 0, Class: 0xff, Endpoints: []usbEndpointDesc{intrIn, bulkOut, bulkIn}},
		}, wantIn: 0x81, wantOut: 0x01},
		{name: "alternate setting 1 has the endpoints", settings: []usbAltSetting{
			{Interface: 2, Alternate: 1, Class: 0xff, Endpoints: []usbEndpointDesc{bulkIn, bulkOut}},
			{Interface: 2, Alternate: 0, Class: 0xff},
		}, wantIntf: 2, wantAlt: 1, wantIn: 0x81, wantOut: 0x01},
		{name: "lowest interface wins whatever the order", settings: []usbAltSetting{
			{Interface: 3, Class: 0xff, Endpoints: []usbEndpointDesc{bulkIn, bulkOut}},
			{Interface: 1, Class: 0xff, Endpoints: []usbEndpointDesc{{Address: 0x82, Bulk: true, MaxPacketSize: 64}, {Address: 0x03, Bulk: true, MaxPacketSize: 64}}},
		}, wantIntf: 1, wantIn: 0x82, wantOut: 0x03},
		{name: "not vendor-specific", wantError: true, settings: []usbAltSetting{
			{Interface: 0, Class: 0x0a, Endpoints: []usbEndpointDesc{bulkIn, bulkOut}},
		}},
		{name: "two bulk IN", wantError: true, settings: []usbAltSetting{
			{Interface: 0, Class: 0xff, Endpoints: []usbEndpointDesc{bulkIn, {Address: 0x82, Bulk: true, MaxPacketSize: 64}, bulkOut}},
		}},
		{name: "no OUT", wantError: true, settings: []usbAltSetting{
			{Interface: 0, Class: 0xff, Endpoints: []usbEndpointDesc{bulkIn}},
		}},
		{name: "zero packet size", wantError: true, settings: []usbAltSetting{
			{Interface: 0, Class: 0xff, Endpoints: []usbEndpointDesc{{Address: 0x81, Bulk: true}, bulkOut}},
		}},
		{name: "empty", wantError: true},
	} {
		s, in, out, err := pickInterface(usbConfigDesc{Number: 1, Settings: tc.settings})
		if tc.wantError {
			if err == nil || !strings.Contains(err.Error(), "configuration 1 has no vendor-specific interface") {
				t.Errorf("%s: got interface %d, err %v; want an error", tc.name, s.Interface, err)
			}
			continue
		}
		if err != nil || s.Interface != tc.wantIntf || s.Alternate != tc.wantAlt || in.Address != tc.wantIn || out.Address != tc.wantOut {
			t.Errorf("%s: got interface %d alt %d in %#x out %#x, err %v", tc.name, s.Interface, s.Alternate, in.Address, out.Address, err)
		}
	}
}

func TestReadBufferSize(t *testing.T) {
	for mps, want := range map[int]int{8: 16384, 64: 16384, 512: 16384, 1024: 16384, 1000: 16000, 20000: 20000} {
		if got := readBufferSize(mps); got != want {
			t.Errorf("readBufferSize(%d) = %d, want %d", mps, got, want)
		}
	}
}

func TestUSBDialNoReader(t *testing.T) {
	for _, bus := range []*fakeBus{
		{},
		{Devices: []*fakeDevice{{ID: USBID{0x046d, 0xc52b}, Bus: 1, Address: 3}}},
		{Devices: []*fakeDevice{{ID: idTest, OpenErr: errFakeNoDevice}}}, // unplugged while opening
	} {
		_, err := bus.dialer(idTest, idOther).Dial(t.Context())
		var nre *NoReaderError
		if !errors.As(err, &nre) || !errors.Is(err, ErrNoReader) {
			t.Fatalf("Dial = %v, want a *NoReaderError", err)
		}
		if !strings.HasPrefix(err.Error(), "no reader found (VID:PID 1209:0001, 2fe3:0100)") {
			t.Errorf("message %q", err)
		}
		if n := bus.openContexts(); n != 0 {
			t.Errorf("%d libusb contexts left open", n)
		}
	}
}

func TestUSBDialOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		bus  *fakeBus
		is   error
		want []string
	}{
		{
			name: "access denied",
			bus:  &fakeBus{Devices: []*fakeDevice{{ID: idTest, OpenErr: errFakeAccess}}},
			is:   ErrUSBAccess,
			want: []string{"permission denied opening the USB card reader (VID:PID 1209:0001): install Till's udev rule, " +
				"which grants the logged-in user access to VID:PID 1209:0001, then replug the reader: fake libusb: bad access"},
		},
		{
			name: "no driver",
			bus:  &fakeBus{Devices: []*fakeDevice{{ID: idTest, OpenErr: errFakeNotSupported}}},
			is:   errFakeNotSupported,
			want: []string{"open USB card reader (VID:PID 1209:0001)", "WinUSB"},
		},
		{
			name: "other",
			bus:  &fakeBus{Devices: []*fakeDevice{{ID: idTest, OpenErr: errFakeBusy}}},
			is:   errFakeBusy,
			want: []string{"open USB card reader (VID:PID 1209:0001): fake libusb: device or resource busy"},
		},
		{
			name: "libusb unavailable",
			bus:  &fakeBus{InitErr: fmt.Errorf("initialise libusb: %w", ErrUSBUnavailable)},
			is:   ErrUSBUnavailable,
			want: []string{"initialise libusb: USB access (libusb) unavailable"},
		},
	} {
		_, err := tc.bus.dialer(idTest).Dial(t.Context())
		if !errors.Is(err, tc.is) || errors.Is(err, ErrNoReader) {
			t.Errorf("%s: Dial = %v, want %v", tc.name, err, tc.is)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.name, err, w)
			}
		}
		if n := tc.bus.openContexts(); n != 0 {
			t.Errorf("%s: %d libusb contexts left open", tc.name, n)
		}
	}
}

func TestUSBDialClaimsInOrder(t *testing.T) {
	bus := &fakeBus{Devices: []*fakeDevice{{ID: idTest, Bus: 1, Address: 2}}}
	tr := dialFake(t, bus)
	want := []string{
		"open device 1209:0001",
		"autodetach true",
		"open config 1",
		"claim interface 1 alt 0",
		"open in 1",
		"open out 2",
	}
	if got := bus.events(); !slices.Equal(got, want) {
		t.Errorf("dial did\n%q\nwant\n%q", got, want)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	want = append(want,
		"release interface 1",
		"close config 1",
		"close device 1209:0001 on bus 1 address 2",
		"close context",
	)
	if got := bus.events(); !slices.Equal(got, want) {
		t.Errorf("dial and close did\n%q\nwant\n%q", got, want)
	}
	// Close again: nothing more happens.
	if err := tr.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if got := bus.events(); len(got) != len(want) {
		t.Errorf("second Close did %q", got[len(want):])
	}
	if n := bus.openContexts(); n != 0 {
		t.Errorf("%d libusb contexts left open", n)
	}
}

func TestUSBDialPrefersAndClosesOthers(t *testing.T) {
	bus := &fakeBus{Devices: []*fakeDevice{
		{ID: idTest, Bus: 1, Address: 2},
		{ID: USBID{0x046d, 0xc52b}, Bus: 1, Address: 3},
		{ID: idOther, Bus: 1, Address: 4},
	}}
	// idOther is preferred although enumerated last.
	tr, err := bus.dialer(idOther, idTest).Dial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.(*usbTransport).String(); got != "USB card reader 2fe3:0100 on bus 1 address 4" {
		t.Errorf("opened %s", got)
	}
	ev := bus.events()
	if !slices.Contains(ev, "close device 1209:0001 on bus 1 address 2") {
		t.Errorf("the unused reader was not closed: %q", ev)
	}
	if slices.Contains(ev, "open device 046d:c52b") {
		t.Errorf("a device not in the ID list was opened: %q", ev)
	}
	tr.Close()
	if n := bus.openContexts(); n != 0 {
		t.Errorf("%d libusb contexts left open", n)
	}
}

func TestUSBDialFallsBackToNextDevice(t *testing.T) {
	bus := &fakeBus{Devices: []*fakeDevice{
		{ID: idTest, Bus: 1, Address: 2, ClaimErr: errFakeBusy},
		{ID: idTest, Bus: 1, Address: 5},
	}}
	tr := dialFake(t, bus)
	defer tr.Close()
	if got := tr.String(); got != "USB card reader 1209:0001 on bus 1 address 5" {
		t.Errorf("opened %s", got)
	}
	ev := bus.events()
	for _, w := range []string{"close config 1", "close device 1209:0001 on bus 1 address 2"} {
		if !slices.Contains(ev, w) {
			t.Errorf("the busy reader was not released (%s): %q", w, ev)
		}
	}
}

func TestUSBDialFailuresRelease(t *testing.T) {
	noVendor := usbConfigDesc{Number: 2, Settings: []usbAltSetting{{Interface: 0, Class: 3}}}
	for _, tc := range []struct {
		dev  *fakeDevice
		want string
		is   error
	}{
		{
			dev:  &fakeDevice{ID: idTest, Bus: 1, Address: 2, ClaimErr: errFakeBusy},
			want: "claim interface 1 alternate setting 0 of USB card reader 1209:0001 on bus 1 address 2: fake libusb: device or resource busy",
			is:   errFakeBusy,
		},
		{
			dev:  &fakeDevice{ID: idTest, Bus: 1, Address: 2, ConfigErr: errFakeNoDevice},
			want: "open configuration 1 of USB card reader 1209:0001 on bus 1 address 2: fake libusb: no device",
			is:   errFakeNoDevice,
		},
		{
			dev:  &fakeDevice{ID: idTest, Bus: 1, Address: 2, Config: noVendor},
			want: "find interface of USB card reader 1209:0001 on bus 1 address 2: configuration 2 has no vendor-specific interface (class 0xff) with one bulk IN and one bulk OUT endpoint",
		},
	} {
		bus := &fakeBus{Devices: []*fakeDevice{tc.dev}}
		_, err := bus.dialer(idTest).Dial(t.Context())
		if err == nil || err.Error() != tc.want || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("Dial = %v\nwant %s", err, tc.want)
		}
		ev := bus.events()
		if n := len(ev); n < 2 || ev[n-2] != "close device 1209:0001 on bus 1 address 2" || ev[n-1] != "close context" {
			t.Errorf("after a failed dial: %q", ev)
		}
	}
}

func TestUSBDialCanceled(t *testing.T) {
	bus := &fakeBus{Devices: []*fakeDevice{{ID: idTest}}}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := bus.dialer(idTest).Dial(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial = %v, want context.Canceled", err)
	}
	if n := bus.openContexts(); n != 0 {
		t.Errorf("%d libusb contexts left open", n)
	}
}

func TestUSBReadWrite(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 100)
	dev := &fakeDevice{ID: idTest, Reads: []fakeRead{
		{Data: []byte("hello")},
		{},          // a zero-length packet
		{Data: big}, // more than the caller's buffer
		{Data: []byte("tail"), Err: errFakeCancelled}, // data and an error: the data first
		{Err: errFakeOverflow},
	}}
	bus := &fakeBus{Devices: []*fakeDevice{dev}}
	tr := dialFake(t, bus)
	defer tr.Close()
	ctx := t.Context()

	buf := make([]byte, 64)
	n, err := tr.ReadContext(ctx, buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read = %q, %v", buf[:n], err)
	}
	var got []byte
	for len(got) < len(big) {
		n, err := tr.ReadContext(ctx, buf)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("read %d bytes, not what was sent", len(got))
	}
	if n, err := tr.ReadContext(ctx, buf); err != nil || string(buf[:n]) != "tail" {
		t.Fatalf("read = %q, %v", buf[:n], err)
	}
	_, err = tr.ReadContext(ctx, buf)
	if !errors.Is(err, errFakeOverflow) || errors.Is(err, ErrDisconnected) {
		t.Errorf("read = %v, want the overflow error, not a disconnect", err)
	}
	if !strings.HasPrefix(err.Error(), "read USB card reader 1209:0001 on bus 0 address 0: ") {
		t.Errorf("error %q does not name the operation and device", err)
	}
	for i, size := range dev.bufSizes {
		if size != 16384 {
			t.Errorf("read %d used a %d-byte buffer, want 16384 (32 packets of 512)", i, size)
		}
	}
	if n, err := tr.ReadContext(ctx, nil); n != 0 || err != nil {
		t.Errorf("empty read = %d, %v", n, err)
	}

	for _, msg := range []string{"TL\x01\x01", "frame two"} {
		if n, err := tr.WriteContext(ctx, []byte(msg)); n != len(msg) || err != nil {
			t.Fatalf("write = %d, %v", n, err)
		}
	}
	if w := dev.writtenBytes(); string(w) != "TL\x01\x01frame two" {
		t.Errorf("device got %q", w)
	}
}

func TestUSBUnplug(t *testing.T) {
	dev := &fakeDevice{ID: idTest, Bus: 3, Address: 7, UnplugAfterReads: 2, Reads: []fakeRead{{Data: []byte("a")}, {Data: []byte("b")}}}
	bus := &fakeBus{Devices: []*fakeDevice{dev}}
	tr := dialFake(t, bus)
	ctx := t.Context()
	buf := make([]byte, 8)
	for _, want := range []string{"a", "b"} {
		if n, err := tr.ReadContext(ctx, buf); err != nil || string(buf[:n]) != want {
			t.Fatalf("read = %q, %v; want %q", buf[:n], err, want)
		}
	}
	_, err := tr.ReadContext(ctx, buf)
	if !errors.Is(err, ErrDisconnected) || !errors.Is(err, errFakeNoDevice) {
		t.Fatalf("read after unplug = %v, want ErrDisconnected", err)
	}
	if want := "read USB card reader 1209:0001 on bus 3 address 7: card reader disconnected: fake libusb: no device"; err.Error() != want {
		t.Errorf("read error\n%s\nwant\n%s", err, want)
	}
	_, err = tr.WriteContext(ctx, []byte("x"))
	if !errors.Is(err, ErrDisconnected) || !strings.HasPrefix(err.Error(), "write USB card reader 1209:0001 on bus 3 address 7: ") {
		t.Errorf("write after unplug = %v, want ErrDisconnected naming the op", err)
	}
	if err := tr.Close(); err != nil {
		t.Errorf("Close after unplug: %v", err)
	}
	if n := bus.openContexts(); n != 0 {
		t.Errorf("%d libusb contexts left open", n)
	}
}

func TestUSBStall(t *testing.T) {
	dev := &fakeDevice{ID: idTest, Reads: []fakeRead{{Err: errFakeStall}}}
	bus := &fakeBus{Devices: []*fakeDevice{dev}}
	tr := dialFake(t, bus)
	defer tr.Close()
	_, err := tr.ReadContext(t.Context(), make([]byte, 8))
	if !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "endpoint 0x81 stalled") {
		t.Errorf("read = %v, want ErrDisconnected naming the stalled endpoint", err)
	}
	if !slices.Contains(bus.events(), "clear halt 0x81") {
		t.Errorf("the halt was not cleared: %q", bus.events())
	}
}

func TestUSBReadContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dev := &fakeDevice{ID: idTest}
		bus := &fakeBus{Devices: []*fakeDevice{dev}}
		tr := dialFake(t, bus)
		defer tr.Close()

		ctx, cancel := context.WithTimeout(t.Context(), 100)
		defer cancel()
		_, err := tr.ReadContext(ctx, make([]byte, 8))
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrDisconnected) {
			t.Errorf("read = %v, want context.DeadlineExceeded", err)
		}
		_, err = tr.WriteContext(ctx, []byte("x"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("write = %v, want context.DeadlineExceeded", err)
		}
		if w := dev.writtenBytes(); len(w) != 0 {
			t.Errorf("a write with an ended ctx sent %q", w)
		}
	})
}

func TestUSBCloseDuringRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &fakeBus{Devices: []*fakeDevice{{ID: idTest}}}
		tr := dialFake(t, bus)
		errc := make(chan error, 1)
		go func() {
			_, err := tr.ReadContext(context.Background(), make([]byte, 8))
			errc <- err
		}()
		synctest.Wait() // the read is waiting for the device
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "transport closed") {
			t.Errorf("read during Close = %v, want ErrDisconnected", err)
		}
		if _, err := tr.WriteContext(t.Context(), []byte("x")); !errors.Is(err, ErrDisconnected) {
			t.Errorf("write after Close = %v, want ErrDisconnected", err)
		}
		if n := bus.openContexts(); n != 0 {
			t.Errorf("%d libusb contexts left open", n)
		}
	})
}

// TestUSBPipeDevice checks the fake's Pipe-backed device used by the Client
// test: bytes pass both ways and the Pipe's unplug is a USB disconnect.
func TestUSBPipeDevice(t *testing.T) {
	host, device := Pipe()
	dev := &fakeDevice{ID: idTest, Pipe: host}
	bus := &fakeBus{Devices: []*fakeDevice{dev}}
	tr := dialFake(t, bus)
	defer tr.Close()
	ctx := t.Context()
	if _, err := tr.WriteContext(ctx, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := device.ReadContext(ctx, buf); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("device read %q, %v", buf[:n], err)
	}
	if _, err := device.WriteContext(ctx, []byte("pong")); err != nil {
		t.Fatal(err)
	}
	if n, err := tr.ReadContext(ctx, buf); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("host read %q, %v", buf[:n], err)
	}
	bus.unplug(dev)
	if _, err := tr.ReadContext(ctx, buf); !errors.Is(err, ErrDisconnected) || !errors.Is(err, errFakeNoDevice) {
		t.Errorf("read after unplug = %v", err)
	}
	if _, err := bus.dialer(idTest).Dial(ctx); !errors.Is(err, ErrNoReader) {
		t.Errorf("Dial after unplug = %v, want ErrNoReader", err)
	}
}

// serveScriptedReader is a minimal reader on the device end of a Pipe: it
// answers Identify with an Info naming serial and every other request with
// an empty reply, until the Pipe is unplugged.
func serveScriptedReader(t *testing.T, device Transport, serial string) {
	var dec wire.Decoder
	buf := make([]byte, 512)
	for {
		n, err := device.ReadContext(context.Background(), buf)
		if err != nil {
			return // unplugged
		}
		dec.Feed(buf[:n])
		for {
			f, err := dec.Next()
			if errors.Is(err, wire.ErrNeedMore) {
				break
			}
			if err != nil {
				t.Errorf("scripted reader: %v", err)
				return
			}
			if !f.Type.IsRequest() {
				continue
			}
			var payload []byte
			if f.Type == wire.TypeIdentify {
				payload, _ = wire.Marshal(wire.Info{Version: 1, Model: "USB test reader", Serial: serial, Firmware: "1.0"})
			}
			out, _ := wire.AppendFrame(nil, wire.Frame{Version: wire.Version1, Type: f.Type.Response(), Seq: f.Seq, Payload: payload})
			if _, err := device.WriteContext(context.Background(), out); err != nil {
				return
			}
		}
	}
}

// plugScriptedReader attaches a reader served by serveScriptedReader.
func plugScriptedReader(t *testing.T, bus *fakeBus, serial string) *fakeDevice {
	host, device := Pipe()
	dev := &fakeDevice{ID: idTest, Bus: 1, Address: 9, Pipe: host}
	go serveScriptedReader(t, device, serial)
	bus.plug(dev)
	return dev
}

// TestUSBClientSurvivesReplug runs a Client over the USB transport: no
// reader for a while, a reader, an unplug, another reader.
func TestUSBClientSurvivesReplug(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &fakeBus{}
		states := make(chan Event, 256)
		c := New(Options{
			Dialer: bus.dialer(idTest),
			OnEvent: func(e Event) {
				if e.Kind == EventState {
					states <- e
				}
			},
			Backoff: func(int) time.Duration { return 100 * time.Millisecond },
		})
		nextState := func(want State) Event {
			t.Helper()
			for e := range states {
				if e.State == want {
					return e
				}
			}
			panic("unreachable")
		}

		// No reader: the Client keeps dialling and says why it cannot
		// connect.
		e := nextState(StateDisconnected)
		if !errors.Is(e.Err, ErrNoReader) || !strings.Contains(e.Err.Error(), "no reader found (VID:PID 1209:0001)") {
			t.Errorf("disconnected because %v, want no reader found", e.Err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		if err := c.Connect(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Connect with no reader = %v", err)
		}
		cancel()

		first := plugScriptedReader(t, bus, "R-1")
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		if info, err := c.Info(); err != nil || info.Serial != "R-1" {
			t.Fatalf("Info = %+v, %v", info, err)
		}

		bus.unplug(first)
		e = nextState(StateDisconnected)
		if !errors.Is(e.Err, ErrDisconnected) || !strings.Contains(e.Err.Error(), "USB card reader 1209:0001 on bus 1 address 9") {
			t.Errorf("disconnected because %v, want the USB read error", e.Err)
		}
		if err := c.SetDisplay(t.Context(), Display{Screen: wire.ScreenIdle}); err == nil {
			t.Error("SetDisplay with the reader unplugged succeeded")
		}

		second := plugScriptedReader(t, bus, "R-2")
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		if info, err := c.Info(); err != nil || info.Serial != "R-2" {
			t.Fatalf("Info after replug = %+v, %v", info, err)
		}
		if err := c.SetDisplay(t.Context(), Display{Screen: wire.ScreenIdle}); err != nil {
			t.Errorf("SetDisplay after replug: %v", err)
		}
		if got := c.Stats().Reconnects; got != 1 {
			t.Errorf("Reconnects = %d, want 1", got)
		}

		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		bus.unplug(second)
		if n := bus.openContexts(); n != 0 {
			t.Errorf("%d libusb contexts left open", n)
		}
	})
}

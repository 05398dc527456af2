package reader

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/gousb"
	"go.uber.org/goleak"
)

// These tests run the real gousb and libusb. The machines that run them
// have no USB bus at all: libusb initialises and finds no device.

func TestGousbNoReader(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	d := USBDialer(USBOptions{})
	for range 3 { // dialling again and again, as the Client does, is safe
		tr, err := d.Dial(t.Context())
		if err == nil {
			tr.Close()
			t.Skip("a USB device with the test ID 1209:0001 is attached")
		}
		var nre *NoReaderError
		if !errors.As(err, &nre) || !errors.Is(err, ErrNoReader) {
			t.Fatalf("Dial = %v, want a *NoReaderError", err)
		}
		if got, want := err.Error(), "no reader found (VID:PID 1209:0001)"; got != want {
			t.Errorf("Dial error %q, want %q", got, want)
		}
	}
}

func TestGousbUnavailable(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// gousb.NewContext panics with libusb's error when libusb_init fails.
	failing := func() (usbBackend, error) {
		return openGousbWith(func() *gousb.Context { panic(gousb.ErrorOther) })
	}
	_, err := newUSBDialer(USBOptions{}, failing).Dial(t.Context())
	if !errors.Is(err, ErrUSBUnavailable) || !errors.Is(err, gousb.ErrorOther) {
		t.Fatalf("Dial = %v, want ErrUSBUnavailable wrapping libusb's error", err)
	}
	if want := "initialise libusb: USB access (libusb) unavailable: libusb: unknown error [code -99]"; err.Error() != want {
		t.Errorf("Dial error\n%s\nwant\n%s", err, want)
	}
}

func TestGousbUnexpectedPanic(t *testing.T) {
	// Only libusb's errors are recovered; anything else is a bug and
	// keeps panicking.
	defer func() {
		if r := recover(); r != "bug" {
			t.Errorf("recovered %v, want the original panic", r)
		}
	}()
	openGousbWith(func() *gousb.Context { panic("bug") })
	t.Error("no panic")
}

func TestClassifyGousb(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want usbErrKind
	}{
		{gousb.ErrorNoDevice, usbErrGone},
		{gousb.ErrorIO, usbErrGone},
		{gousb.TransferNoDevice, usbErrGone},
		{gousb.TransferError, usbErrGone},
		{fmt.Errorf("submit: %w", gousb.ErrorNoDevice), usbErrGone},
		{gousb.ErrorPipe, usbErrStall},
		{gousb.TransferStall, usbErrStall},
		{gousb.ErrorAccess, usbErrAccess},
		{gousb.ErrorNotSupported, usbErrNotSupported},
		{gousb.TransferCancelled, usbErrCancelled},
		{gousb.ErrorBusy, usbErrOther},
		{gousb.ErrorTimeout, usbErrOther},
		{gousb.TransferOverflow, usbErrOther},
		{errors.New("libusb: no device"), usbErrOther}, // text is not enough
	} {
		if got := classifyGousb(tc.err); got != tc.want {
			t.Errorf("classifyGousb(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestGousbTransportErrors maps libusb's failures through the Transport, as
// the gousb backend classifies them.
func TestGousbTransportErrors(t *testing.T) {
	for _, tc := range []struct {
		err        error
		disconnect bool
	}{
		{gousb.TransferNoDevice, true},
		{gousb.ErrorNoDevice, true},
		{gousb.ErrorIO, true},
		{gousb.TransferStall, true},
		{gousb.TransferOverflow, false},
	} {
		bus := &fakeBus{Devices: []*fakeDevice{{ID: idTest, Reads: []fakeRead{{Err: tc.err}}}}}
		tr := dialFake(t, bus)
		tr.backend = gousbClassified{tr.backend}
		_, err := tr.ReadContext(t.Context(), make([]byte, 8))
		if errors.Is(err, ErrDisconnected) != tc.disconnect || !errors.Is(err, tc.err) {
			t.Errorf("read failing with %v = %v; disconnect %v", tc.err, err, tc.disconnect)
		}
		if !strings.HasPrefix(err.Error(), "read USB card reader 1209:0001") {
			t.Errorf("error %q does not name the operation and device", err)
		}
		tr.Close()
	}
}

// gousbClassified is a backend that classifies errors as gousb's does.
type gousbClassified struct{ usbBackend }

func (gousbClassified) classify(err error) usbErrKind { return classifyGousb(err) }

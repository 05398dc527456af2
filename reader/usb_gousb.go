package reader

// The gousb side of the USB seam in usb.go: thin wrappers, no logic. This is
// the only file that imports gousb.

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/gousb"
)

// openGousb initialises libusb through gousb.NewContext.
func openGousb() (usbBackend, error) { return openGousbWith(gousb.NewContext) }

// openGousbWith initialises libusb with newContext, which panics on failure
// as gousb.NewContext does; the panic becomes an error wrapping
// ErrUSBUnavailable.
func openGousbWith(newContext func() *gousb.Context) (b usbBackend, err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		e, ok := r.(error)
		if !ok {
			panic(r)
		}
		b, err = nil, fmt.Errorf("initialise libusb: %w: %w", ErrUSBUnavailable, e)
	}()
	return gousbBackend{newContext()}, nil
}

// controlTimeout bounds control requests (clearing an endpoint halt).
const controlTimeout = time.Second

type gousbBackend struct{ ctx *gousb.Context }

func (b gousbBackend) openDevices(match func(USBID) bool) ([]usbDevice, error) {
	devs, err := b.ctx.OpenDevices(func(d *gousb.DeviceDesc) bool {
		return match(USBID{uint16(d.Vendor), uint16(d.Product)})
	})
	out := make([]usbDevice, len(devs))
	for i, d := range devs {
		d.ControlTimeout = controlTimeout
		out[i] = gousbDevice{d}
	}
	return out, err
}

func (b gousbBackend) close() error { return b.ctx.Close() }

func (gousbBackend) classify(err error) usbErrKind { return classifyGousb(err) }

// classifyGousb sorts libusb's errors and transfer statuses.
func classifyGousb(err error) usbErrKind {
	var code gousb.Error
	var status gousb.TransferStatus
	switch {
	case errors.As(err, &code):
		switch code {
		case gousb.ErrorNoDevice, gousb.ErrorIO:
			return usbErrGone
		case gousb.ErrorPipe:
			return usbErrStall
		case gousb.ErrorAccess:
			return usbErrAccess
		case gousb.ErrorNotSupported:
			return usbErrNotSupported
		}
	case errors.As(err, &status):
		switch status {
		case gousb.TransferNoDevice, gousb.TransferError:
			return usbErrGone
		case gousb.TransferStall:
			return usbErrStall
		case gousb.TransferCancelled:
			return usbErrCancelled
		}
	}
	return usbErrOther
}

type gousbDevice struct{ d *gousb.Device }

func (g gousbDevice) id() USBID { return USBID{uint16(g.d.Desc.Vendor), uint16(g.d.Desc.Product)} }

func (g gousbDevice) String() string {
	return fmt.Sprintf("%s on bus %d address %d", g.id(), g.d.Desc.Bus, g.d.Desc.Address)
}

func (g gousbDevice) activeConfig() (usbConfigDesc, error) {
	num, err := g.d.ActiveConfigNum()
	if err != nil {
		return usbConfigDesc{}, err
	}
	c, ok := g.d.Desc.Configs[num]
	if !ok {
		return usbConfigDesc{}, fmt.Errorf("device is not configured (active configuration %d, descriptors have %d)", num, len(g.d.Desc.Configs))
	}
	desc := usbConfigDesc{Number: c.Number}
	for _, intf := range c.Interfaces {
		for _, alt := range intf.AltSettings {
			s := usbAltSetting{Interface: alt.Number, Alternate: alt.Alternate, Class: uint8(alt.Class)}
			for _, e := range alt.Endpoints {
				s.Endpoints = append(s.Endpoints, usbEndpointDesc{
					Address:       uint8(e.Address),
					Bulk:          e.TransferType == gousb.TransferTypeBulk,
					MaxPacketSize: e.MaxPacketSize,
				})
			}
			desc.Settings = append(desc.Settings, s)
		}
	}
	return desc, nil
}

func (g gousbDevice) setAutoDetach(on bool) error { return g.d.SetAutoDetach(on) }

func (g gousbDevice) openConfig(num int) (usbConfig, error) {
	c, err := g.d.Config(num)
	if err != nil {
		return nil, err
	}
	return gousbConfig{c}, nil
}

// clearHalt sends the standard CLEAR_FEATURE(ENDPOINT_HALT) request.
func (g gousbDevice) clearHalt(endpoint uint8) error {
	const (
		toEndpoint   = 0x02 // host to device, standard, recipient endpoint
		clearFeature = 0x01
		endpointHalt = 0x00
	)
	_, err := g.d.Control(toEndpoint, clearFeature, endpointHalt, uint16(endpoint), nil)
	return err
}

func (g gousbDevice) close() error { return g.d.Close() }

type gousbConfig struct{ c *gousb.Config }

func (g gousbConfig) claim(intf, alt int) (usbInterface, error) {
	i, err := g.c.Interface(intf, alt)
	if err != nil {
		return nil, err
	}
	return gousbInterface{i}, nil
}

func (g gousbConfig) close() error { return g.c.Close() }

type gousbInterface struct{ i *gousb.Interface }

func (g gousbInterface) inEndpoint(num int) (usbInEndpoint, error) {
	e, err := g.i.InEndpoint(num)
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (g gousbInterface) outEndpoint(num int) (usbOutEndpoint, error) {
	e, err := g.i.OutEndpoint(num)
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (g gousbInterface) close() { g.i.Close() }

// Compile-time checks that gousb's endpoints fit the seam.
var (
	_ usbInEndpoint  = (*gousb.InEndpoint)(nil)
	_ usbOutEndpoint = (*gousb.OutEndpoint)(nil)
)

package reader

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestFindUSB(t *testing.T) {
	unknown := USBID{0xdead, 0xbeef}
	for _, tc := range []struct {
		name    string
		bus     *fakeBus
		ids     []USBID
		want    []FoundUSB
		wantErr error
	}{
		{name: "none attached", bus: &fakeBus{}, ids: nil, want: nil},
		{
			name: "supported ones only, in order of preference",
			bus: &fakeBus{Devices: []*fakeDevice{
				{ID: idTest, Bus: 1, Address: 4}, {ID: unknown, Bus: 1, Address: 5}, {ID: idOther, Bus: 2, Address: 1},
			}},
			ids: []USBID{idOther, idTest},
			want: []FoundUSB{
				{ID: idOther, Where: "2fe3:0100 on bus 2 address 1"},
				{ID: idTest, Where: "1209:0001 on bus 1 address 4"},
			},
		},
		{name: "default ids", bus: &fakeBus{Devices: []*fakeDevice{{ID: idOther}, {ID: idTest, Bus: 3, Address: 9}}},
			want: []FoundUSB{{ID: idTest, Where: "1209:0001 on bus 3 address 9"}}},
		{name: "permission denied", bus: &fakeBus{Devices: []*fakeDevice{{ID: idTest, OpenErr: errFakeAccess}}}, wantErr: ErrUSBAccess},
		{name: "no libusb", bus: &fakeBus{InitErr: fmt.Errorf("initialise libusb: %w", ErrUSBUnavailable)}, wantErr: ErrUSBUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findUSB(tc.ids, tc.bus.newBackend)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("findUSB error = %v, want %v", err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("findUSB = %q, want %q", got, tc.want)
			}
			if tc.bus.contexts != 0 {
				t.Errorf("%d libusb contexts left open", tc.bus.contexts)
			}
		})
	}
}

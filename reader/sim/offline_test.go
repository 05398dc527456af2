package sim

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillpos/till/reader"
	"github.com/tillpos/till/reader/simcard"
	"github.com/tillpos/till/reader/wire"
)

// offlineRef is a host's offline reference: not a PaymentIntent id.
const offlineRef = "off_lane_1_20261123_0042"

// TestCollectOffline: with OfflineAllowed an OfflineCapable reader collects
// for deferred authorisation (Collected and payload marked offline, bound
// to the reference the host passed as PaymentIntent); without it nothing
// is marked offline; a reader that is not OfflineCapable answers Error
// offline_not_allowed without prompting for a card.
func TestCollectOffline(t *testing.T) {
	capsNoOffline := DefaultCapabilities
	capsNoOffline.OfflineCapable = false
	tests := []struct {
		name        string
		caps        wire.Capabilities
		id          string // the Collect's PaymentIntent field
		allowed     bool
		wantOffline bool
		wantRefused bool // Error offline_not_allowed
	}{
		{name: "offline allowed", id: offlineRef, allowed: true, wantOffline: true},
		{name: "offline allowed with a PaymentIntent id", id: "pi_3Off", allowed: true, wantOffline: true},
		{name: "online", id: "pi_3On"},
		{name: "online on a reader that cannot go offline", caps: capsNoOffline, id: "pi_3On"},
		{name: "offline on a reader that cannot", caps: capsNoOffline, id: offlineRef, allowed: true, wantRefused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d, h := start(t, Options{Capabilities: tt.caps, Now: time.Now})
				h.identify()
				req := wire.Collect{PaymentIntent: tt.id, Amount: 4200, Currency: "EUR", OfflineAllowed: tt.allowed, TimeoutMS: 60000}
				h.ok(wire.TypeCollect, req)
				if tt.wantRefused {
					f := h.event()
					if f.Type != wire.TypeError {
						t.Fatalf("got %s, want Error offline_not_allowed", f.Type)
					}
					if ev := decodeAs[wire.ErrorEvent](t, f); ev.Code != wire.CodeOfflineNotAllowed || ev.PaymentIntent != tt.id || ev.Message == "" {
						t.Fatalf("Error %+v", ev)
					}
					h.quiet(3 * time.Second)
					if s := d.Snapshot(); s.Phase != PhaseIdle || s.Collecting != nil || s.Prompt != PromptOfflineRefused {
						t.Errorf("snapshot after the refusal: %+v", s)
					}
					if err := d.Tap("visa"); !errors.Is(err, ErrNoCollection) {
						t.Errorf("tap after the refusal: %v", err)
					}
					// The reader still collects online.
					req.OfflineAllowed, req.PaymentIntent = false, "pi_after"
					h.ok(wire.TypeCollect, req)
					if f := h.event(); f.Type != wire.TypeWaitingForCard {
						t.Fatalf("online Collect after the refusal: %s", f.Type)
					}
					return
				}
				if f := h.event(); f.Type != wire.TypeWaitingForCard {
					t.Fatalf("got %s, want WaitingForCard", f.Type)
				}
				if err := d.Insert("visa_debit", false); err != nil {
					t.Fatal(err)
				}
				h.event() // CardPresented
				f := h.event()
				if f.Type != wire.TypeCollected {
					t.Fatalf("got %s, want Collected", f.Type)
				}
				ev := decodeAs[wire.Collected](t, f)
				if ev.Offline != tt.wantOffline || ev.PaymentIntent != tt.id || ev.Last4 != "5556" {
					t.Errorf("Collected %+v, want Offline %v for %s", ev, tt.wantOffline, tt.id)
				}
				card, err := simcard.Open(tt.id, ev.Payload)
				if err != nil {
					t.Fatalf("open the payload with %q: %v", tt.id, err)
				}
				want := simcard.Card{TestCard: "visa_debit", Brand: "visa", Last4: "5556", ExpMonth: 12, ExpYear: time.Now().Year() + 3,
					ReadMethod: "contact_emv", Offline: tt.wantOffline, Amount: 4200, Currency: "eur", CollectedAt: time.Now().Unix()}
				if card != want {
					t.Errorf("card %+v, want %+v", card, want)
				}
				for _, other := range []string{"pi_other", tt.id + "x", ""} {
					if _, err := simcard.Open(other, ev.Payload); !errors.Is(err, simcard.ErrInvalid) {
						t.Errorf("payload for %q opened with %q: %v", tt.id, other, err)
					}
				}
				if s := d.Snapshot(); s.LastCollected == nil || s.LastCollected.Offline != tt.wantOffline || s.Phase != PhaseProcessing {
					t.Errorf("snapshot %+v", s)
				}
			})
		})
	}
}

// TestClientCollectOffline drives an offline collection from the host
// side (reader.Client) with an offline reference, not a pi_ id.
func TestClientCollectOffline(t *testing.T) {
	capsNoOffline := DefaultCapabilities
	capsNoOffline.OfflineCapable = false
	tests := []struct {
		name     string
		opts     Options
		wantCode wire.ErrorCode // 0: collected
	}{
		{name: "offline capable", opts: Options{Auto: &Auto{Card: "mastercard"}}},
		{name: "not offline capable", opts: Options{Capabilities: capsNoOffline, Auto: &Auto{Card: "mastercard"}}, wantCode: wire.CodeOfflineNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := New(tt.opts)
				c, _ := connectClient(t, d)
				req := reader.CollectRequest{PaymentIntent: offlineRef, Amount: 1250, Currency: "CHF", OfflineAllowed: true, Timeout: 30 * time.Second}
				out := <-collectAsync(c, req)
				if tt.wantCode != 0 {
					if de, ok := errors.AsType[*reader.DeviceError](out.err); !ok || de.Code != tt.wantCode {
						t.Fatalf("Collect: %v, want a DeviceError %s", out.err, tt.wantCode)
					}
					return
				}
				if out.err != nil {
					t.Fatal(out.err)
				}
				if !out.col.Offline || out.col.PaymentIntent != offlineRef {
					t.Fatalf("collected %+v", out.col)
				}
				card, err := simcard.Open(offlineRef, out.col.Payload)
				if err != nil || !card.Offline || card.TestCard != "mastercard" || card.Amount != 1250 || card.Currency != "chf" {
					t.Fatalf("payload %+v, %v", card, err)
				}
			})
		})
	}
}

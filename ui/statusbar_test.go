package ui

import (
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

func TestStatusBarTexts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		st    StatusBarView
		texts []string
		dead  bool // the dead-letter count is shown
	}{
		{"online and idle", StatusBarView{Connectivity: ConnOnline, Reader: ReaderReady, ReaderDetail: "Till Sim R1"},
			[]string{"● Online", "Outbox: all sent", "Reader: ready (Till Sim R1)"}, false},
		{"offline with a backlog", StatusBarView{Connectivity: ConnOffline, Pending: 3, OldestPending: t0.Add(-3*time.Minute - 20*time.Second), Reader: ReaderBusy},
			[]string{"● Offline", "Outbox: 3 pending · oldest 3 min", "Reader: busy"}, false},
		{"dead letters", StatusBarView{Connectivity: ConnOnline, Pending: 1, OldestPending: t0.Add(-42 * time.Second), Dead: 2, Reader: ReaderConnecting},
			[]string{"● Online", "Outbox: 1 pending · oldest 42 s", "Dead letters: 2", "Reader: connecting…"}, true},
		{"reader unplugged", StatusBarView{Connectivity: ConnUnknown, Pending: 12, OldestPending: t0.Add(-2*time.Hour - 5*time.Minute), Reader: ReaderDisconnected, ReaderDetail: "no reader found on USB"},
			[]string{"● Connecting…", "Outbox: 12 pending · oldest 2 h 5 min", "Reader: unplugged (no reader found on USB)"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := newFakeRegister()
				reg.status = tc.st
				s, w := startCashier(t, CashierParams{Register: reg})
				wantShown(t, w.Canvas(), tc.texts...)
				if s.bar.dead.Visible() != tc.dead {
					t.Errorf("dead letters shown = %v, want %v", s.bar.dead.Visible(), tc.dead)
				}
				if s.bar.dead.Importance != widget.DangerImportance {
					t.Errorf("dead letters not in red")
				}
				wantConn := map[Connectivity]widget.Importance{ConnOnline: widget.SuccessImportance, ConnOffline: widget.DangerImportance, ConnUnknown: widget.MediumImportance}
				if got := s.bar.conn.Importance; got != wantConn[tc.st.Connectivity] {
					t.Errorf("connectivity importance %v, want %v", got, wantConn[tc.st.Connectivity])
				}
				if tc.st.Reader == ReaderDisconnected && s.bar.reader.Importance != widget.DangerImportance {
					t.Errorf("an unplugged reader is not in red")
				}
			})
		})
	}
}

// TestStatusBarAgesMove checks that the oldest pending entry's age moves
// on with the clock, with no change from the Register.
func TestStatusBarAgesMove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.status = StatusBarView{Connectivity: ConnOffline, Pending: 1, OldestPending: time.Now().Add(-50 * time.Second)}
		s, w := startCashier(t, CashierParams{Register: reg, Now: time.Now, Every: 10 * time.Second})
		wantShown(t, w.Canvas(), "Outbox: 1 pending · oldest 50 s")
		// Hand the widgets to the screen's goroutine through a channel (a
		// timer firing is no happens-before edge for the race detector),
		// then let the bubble's clock run: only the ticker moves the age.
		s.Changed()
		synctest.Wait()
		time.Sleep(130 * time.Second)
		synctest.Wait()
		wantShown(t, w.Canvas(), "Outbox: 1 pending · oldest 3 min")
	})
}

// TestStatusBarWarnings covers the row of warnings for the manager:
// offline card payments to forward, authorisations near expiry and the
// manager's list. It shows only when there is something to say.
func TestStatusBarWarnings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		st      StatusBarView
		texts   []string
		absent  []string
		offline widget.Importance // the offline payments' label, when shown
	}{
		{"nothing to say", StatusBarView{Connectivity: ConnOnline, Reader: ReaderReady}, nil,
			[]string{"Manager: 0 to check"}, 0},
		{"one offline payment, recent", StatusBarView{Connectivity: ConnOffline, OfflineStored: 1, OfflineAmount: "CHF 42.00", OfflineOldest: t0.Add(-20 * time.Minute)},
			[]string{"1 offline card payment, CHF 42.00, to forward"}, nil, widget.MediumImportance},
		{"offline payments overdue", StatusBarView{Connectivity: ConnOffline, OfflineStored: 2, OfflineAmount: "CHF 84.00", OfflineOldest: t0.Add(-26*time.Hour - 12*time.Minute), OfflineOverdue: true},
			[]string{"2 offline card payments, CHF 84.00, to forward · oldest 26 h"}, nil, widget.WarningImportance},
		{"near expiry", StatusBarView{Connectivity: ConnOnline, NearExpiry: 3},
			[]string{"3 authorisations expire soon — run end of day"}, nil, 0},
		{"one near expiry", StatusBarView{Connectivity: ConnOnline, NearExpiry: 1},
			[]string{"1 authorisation expires soon — run end of day"}, nil, 0},
		{"attention", StatusBarView{Connectivity: ConnOnline, Attention: 4},
			[]string{"Manager: 4 to check"}, nil, 0},
		{"all three", StatusBarView{Connectivity: ConnOnline, OfflineStored: 3, OfflineAmount: "CHF 84.00 + EUR 12.00", NearExpiry: 2, Attention: 1},
			[]string{"3 offline card payments, CHF 84.00 + EUR 12.00, to forward", "2 authorisations expire soon — run end of day", "Manager: 1 to check"}, nil, widget.MediumImportance},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := newFakeRegister()
				reg.status = tc.st
				s, w := startCashier(t, CashierParams{Register: reg})
				wantShown(t, w.Canvas(), tc.texts...)
				wantNotShown(t, w.Canvas(), tc.absent...)
				if got, want := s.bar.warnings.Visible(), len(tc.texts) > 0; got != want {
					t.Errorf("warnings row shown = %v, want %v", got, want)
				}
				if tc.offline != 0 && s.bar.offline.Importance != tc.offline {
					t.Errorf("offline payments' importance %v, want %v", s.bar.offline.Importance, tc.offline)
				}
				if tc.st.NearExpiry > 0 && s.bar.expiry.Importance != widget.WarningImportance {
					t.Errorf("near expiry not a warning")
				}

				// All cleared: the row goes.
				reg.set(func(_ *SaleView, st *StatusBarView) {
					st.OfflineStored, st.NearExpiry, st.Attention = 0, 0, 0
				})
				synctest.Wait()
				if s.bar.warnings.Visible() {
					t.Errorf("warnings row still shown with nothing to say")
				}
			})
		})
	}
}

// TestStatusBarLooksRight keeps golden images of the cashier screen with
// the manager's warnings. To regenerate one, delete it from testdata and
// run the test again, then look at it.
func TestStatusBarLooksRight(t *testing.T) {
	for _, tc := range []struct {
		file string
		st   func(*StatusBarView)
	}{
		{"statusbar_offline_overdue.png", func(st *StatusBarView) {
			st.Connectivity, st.Pending, st.OldestPending = ConnOffline, 6, t0.Add(-26*time.Hour-5*time.Minute)
			st.OfflineStored, st.OfflineAmount, st.OfflineOldest, st.OfflineOverdue = 2, "CHF 84.00", t0.Add(-26*time.Hour-5*time.Minute), true
		}},
		{"statusbar_near_expiry.png", func(st *StatusBarView) { st.NearExpiry = 3 }},
		{"statusbar_attention.png", func(st *StatusBarView) {
			st.Dead, st.Attention = 1, 4
			st.OfflineStored, st.OfflineAmount = 1, "CHF 12.50"
			st.NearExpiry = 1
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := newFakeRegister()
				reg.set(func(v *SaleView, st *StatusBarView) {
					cartSale(v, st)
					tc.st(st)
				})
				_, w := startCashier(t, CashierParams{Register: reg, Version: "0.1.0"})
				test.AssertImageMatches(t, tc.file, w.Canvas().Capture())
			})
		})
	}
}

func TestAge(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0 s"},
		{42 * time.Second, "42 s"},
		{3*time.Minute + 20*time.Second, "3 min"},
		{2*time.Hour + 5*time.Minute, "2 h 5 min"},
		{23*time.Hour + 59*time.Minute, "23 h 59 min"},
		{24 * time.Hour, "24 h"},
		{26*time.Hour + 12*time.Minute, "26 h"},
	} {
		if got := age(tc.d); got != tc.want {
			t.Errorf("age(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

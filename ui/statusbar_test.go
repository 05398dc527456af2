package ui

import (
	"testing"
	"testing/synctest"
	"time"

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

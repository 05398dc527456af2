package ui

import (
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// statusBar is the always-visible bar along the bottom of the cashier
// screen: the payment service, the outbox, dead letters and the reader,
// plus the buttons for help, receipts and settings.
type statusBar struct {
	box                        *fyne.Container
	conn, outbox, dead, reader *widget.Label
	deadSep                    *widget.Separator
}

func newStatusBar(s *CashierScreen) *statusBar {
	b := &statusBar{
		conn: widget.NewLabel(""), outbox: widget.NewLabel(""), dead: widget.NewLabel(""), reader: widget.NewLabel(""),
		deadSep: widget.NewSeparator(),
	}
	b.conn.TextStyle.Bold = true
	b.dead.Importance = widget.DangerImportance
	b.dead.TextStyle.Bold = true
	buttons := container.NewHBox(
		widget.NewButtonWithIcon(lang.L("Help")+" (F1)", theme.HelpIcon(), s.openHelp),
		widget.NewButtonWithIcon(lang.L("Receipts")+" (F9)", theme.DocumentIcon(), s.openReceipts),
	)
	if s.p.Settings != nil {
		buttons.Add(widget.NewButtonWithIcon(lang.L("Settings"), theme.SettingsIcon(), s.openSettings))
	}
	b.box = container.NewVBox(widget.NewSeparator(), container.NewHBox(
		b.conn, widget.NewSeparator(), b.outbox, b.deadSep, b.dead, widget.NewSeparator(), b.reader,
		layout.NewSpacer(), buttons))
	return b
}

func (b *statusBar) show(st StatusBarView, now time.Time) {
	before := [...]string{b.conn.Text, b.outbox.Text, b.dead.Text, b.reader.Text}
	defer func() {
		if [...]string{b.conn.Text, b.outbox.Text, b.dead.Text, b.reader.Text} != before {
			b.box.Refresh() // the labels' new widths: lay the bar out again
		}
	}()
	switch st.Connectivity {
	case ConnOnline:
		b.conn.SetText("● " + lang.L("Online"))
		b.conn.Importance = widget.SuccessImportance
	case ConnOffline:
		b.conn.SetText("● " + lang.L("Offline"))
		b.conn.Importance = widget.DangerImportance
	default:
		b.conn.SetText("● " + lang.L("Connecting…"))
		b.conn.Importance = widget.MediumImportance
	}
	b.conn.Refresh()

	if st.Pending == 0 {
		b.outbox.SetText(lang.L("Outbox: all sent"))
		b.outbox.Importance = widget.MediumImportance
	} else {
		text := lang.L("Outbox: {{.N}} pending", map[string]any{"N": st.Pending})
		if !st.OldestPending.IsZero() {
			text += " · " + lang.L("oldest {{.Age}}", map[string]any{"Age": age(now.Sub(st.OldestPending))})
		}
		b.outbox.SetText(text)
		b.outbox.Importance = widget.WarningImportance
		if st.Connectivity == ConnOnline {
			b.outbox.Importance = widget.MediumImportance
		}
	}
	b.outbox.Refresh()

	if setVisible(b.dead, st.Dead > 0) {
		setVisible(b.deadSep, st.Dead > 0)
		before[2] = "" // lay out again
	}
	b.dead.SetText(lang.L("Dead letters: {{.N}}", map[string]any{"N": st.Dead}))

	var r string
	switch st.Reader {
	case ReaderReady:
		r, b.reader.Importance = lang.L("Reader: ready"), widget.SuccessImportance
	case ReaderBusy:
		r, b.reader.Importance = lang.L("Reader: busy"), widget.MediumImportance
	case ReaderConnecting:
		r, b.reader.Importance = lang.L("Reader: connecting…"), widget.WarningImportance
	default:
		r, b.reader.Importance = lang.L("Reader: unplugged"), widget.DangerImportance
	}
	if st.ReaderDetail != "" {
		r += " (" + st.ReaderDetail + ")"
	}
	b.reader.SetText(r)
	b.reader.Refresh()
}

// age says how long ago, as a cashier reads it at a glance.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return lang.L("{{.N}} s", map[string]any{"N": int(max(d, 0) / time.Second)})
	case d < time.Hour:
		return lang.L("{{.N}} min", map[string]any{"N": int(d / time.Minute)})
	default:
		return lang.L("{{.H}} h {{.M}} min", map[string]any{"H": int(d / time.Hour), "M": int(d % time.Hour / time.Minute)})
	}
}

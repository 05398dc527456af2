package ui

import (
	"slices"
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
//
// Its warnings — card payments taken offline and not yet forwarded,
// authorisations about to expire, the items on the manager's list — are
// shown only while there is something to say, one a line, at the foot of
// the product pane just above the bar: there is no room for them in the
// bar's one row at 1366 pixels, and a second row would take height the
// cart does not have at 768.
type statusBar struct {
	box                        *fyne.Container
	conn, outbox, dead, reader *widget.Label
	deadSep                    *widget.Separator
	// warnings holds the warnings shown; hidden when there are none.
	warnings                   *fyne.Container
	offline, expiry, attention *widget.Label
	shownWarnings              []*widget.Label // in warnings, in order
	// relayout lays out again what holds warnings, when it grew or shrank.
	relayout func()
}

func newStatusBar(s *CashierScreen) *statusBar {
	b := &statusBar{
		conn: widget.NewLabel(""), outbox: widget.NewLabel(""), dead: widget.NewLabel(""), reader: widget.NewLabel(""),
		deadSep:  widget.NewSeparator(),
		warnings: container.NewVBox(),
		offline:  widget.NewLabel(""), expiry: widget.NewLabel(""), attention: widget.NewLabel(""),
	}
	b.conn.TextStyle.Bold = true
	b.dead.Importance = widget.DangerImportance
	b.dead.TextStyle.Bold = true
	b.expiry.Importance = widget.WarningImportance
	b.expiry.TextStyle.Bold = true
	b.attention.Importance = widget.WarningImportance
	b.attention.TextStyle.Bold = true
	b.warnings.Hide()
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
		setLabel(b.conn, "● "+lang.L("Online"), widget.SuccessImportance)
	case ConnOffline:
		setLabel(b.conn, "● "+lang.L("Offline"), widget.DangerImportance)
	default:
		setLabel(b.conn, "● "+lang.L("Connecting…"), widget.MediumImportance)
	}

	if st.Pending == 0 {
		setLabel(b.outbox, lang.L("Outbox: all sent"), widget.MediumImportance)
	} else {
		text := lang.L("Outbox: {{.N}} pending", map[string]any{"N": st.Pending})
		if !st.OldestPending.IsZero() {
			text += " · " + lang.L("oldest {{.Age}}", map[string]any{"Age": age(now.Sub(st.OldestPending))})
		}
		imp := widget.WarningImportance
		if st.Connectivity == ConnOnline {
			imp = widget.MediumImportance
		}
		setLabel(b.outbox, text, imp)
	}

	if setVisible(b.dead, st.Dead > 0) {
		setVisible(b.deadSep, st.Dead > 0)
		before[2] = "" // lay out again
	}
	setText(b.dead, lang.L("Dead letters: {{.N}}", map[string]any{"N": st.Dead}))

	var r string
	var imp widget.Importance
	switch st.Reader {
	case ReaderReady:
		r, imp = lang.L("Reader: ready"), widget.SuccessImportance
	case ReaderBusy:
		r, imp = lang.L("Reader: busy"), widget.MediumImportance
	case ReaderConnecting:
		r, imp = lang.L("Reader: connecting…"), widget.WarningImportance
	default:
		r, imp = lang.L("Reader: unplugged"), widget.DangerImportance
	}
	if st.ReaderDetail != "" {
		r += " (" + st.ReaderDetail + ")"
	}
	setLabel(b.reader, r, imp)

	b.showWarnings(st, now)
}

// showWarnings shows the warnings there are, laying them out again only
// when which of them are shown changed.
func (b *statusBar) showWarnings(st StatusBarView, now time.Time) {
	var shown []*widget.Label
	if st.OfflineStored > 0 {
		var text string
		if st.OfflineStored == 1 {
			text = lang.L("1 offline card payment, {{.Amount}}, to forward", map[string]any{"Amount": st.OfflineAmount})
		} else {
			text = lang.L("{{.N}} offline card payments, {{.Amount}}, to forward", map[string]any{"N": st.OfflineStored, "Amount": st.OfflineAmount})
		}
		imp := widget.MediumImportance
		if st.OfflineOverdue {
			imp = widget.WarningImportance
			if !st.OfflineOldest.IsZero() {
				text += " · " + lang.L("oldest {{.Age}}", map[string]any{"Age": age(now.Sub(st.OfflineOldest))})
			}
		}
		setLabel(b.offline, text, imp)
		b.offline.TextStyle.Bold = st.OfflineOverdue
		shown = append(shown, b.offline)
	}
	if st.NearExpiry > 0 {
		if st.NearExpiry == 1 {
			setText(b.expiry, lang.L("1 authorisation expires soon — run end of day"))
		} else {
			setText(b.expiry, lang.L("{{.N}} authorisations expire soon — run end of day", map[string]any{"N": st.NearExpiry}))
		}
		shown = append(shown, b.expiry)
	}
	if st.Attention > 0 {
		setText(b.attention, lang.L("Manager: {{.N}} to check", map[string]any{"N": st.Attention}))
		shown = append(shown, b.attention)
	}
	if slices.Equal(shown, b.shownWarnings) {
		return
	}
	b.shownWarnings = shown
	objs := []fyne.CanvasObject{widget.NewSeparator()}
	for _, l := range shown {
		objs = append(objs, l)
	}
	b.warnings.Objects = objs
	setVisible(b.warnings, len(shown) > 0)
	b.warnings.Refresh()
	if b.relayout != nil {
		b.relayout()
	}
}

// setLabel gives l a text and an importance, redrawing it only when one
// of them changed: the bar is shown again every few seconds.
func setLabel(l *widget.Label, text string, imp widget.Importance) {
	if l.Importance != imp {
		l.Importance = imp
		l.Text = text
		l.Refresh()
		return
	}
	setText(l, text)
}

// age says how long ago, as a cashier reads it at a glance.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return lang.L("{{.N}} s", map[string]any{"N": int(max(d, 0) / time.Second)})
	case d < time.Hour:
		return lang.L("{{.N}} min", map[string]any{"N": int(d / time.Minute)})
	case d < 24*time.Hour:
		return lang.L("{{.H}} h {{.M}} min", map[string]any{"H": int(d / time.Hour), "M": int(d % time.Hour / time.Minute)})
	default: // a day or more: the minutes are noise
		return lang.L("{{.H}} h", map[string]any{"H": int(d / time.Hour)})
	}
}

package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// AboutInfo is what the About box shows: the version and where Till keeps
// its files, and the diagnostics a shop owner copies for support.
type AboutInfo struct {
	Version    string
	ConfigFile string
	DataDir    string
	LogFile    string
	// Diagnostics gathers the text for support (never a secret); it may
	// block, and is called off the UI goroutine. Nil hides the button.
	Diagnostics func() (string, error)
	// Clipboard receives the diagnostics. Nil hides the button.
	Clipboard fyne.Clipboard
}

// ShowAbout shows the About box over w.
func ShowAbout(w fyne.Window, info AboutInfo) {
	name := widget.NewLabelWithStyle("Till", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.SizeName = theme.SizeNameHeadingText
	place := func(path string) *widget.Label {
		l := widget.NewLabelWithStyle(path, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		l.Wrapping = fyne.TextWrapBreak
		return l
	}
	form := widget.NewForm(
		widget.NewFormItem(lang.L("Version"), widget.NewLabel(info.Version)),
		widget.NewFormItem(lang.L("Settings file"), place(info.ConfigFile)),
		widget.NewFormItem(lang.L("Data folder"), place(info.DataDir)),
		widget.NewFormItem(lang.L("Log file"), place(info.LogFile)),
	)
	body := container.NewVBox(name,
		widget.NewLabel(lang.L("An offline-first point of sale.")),
		form,
		widget.NewLabel(lang.L("© Till contributors")))
	if b, note := copyDiagnosticsButton(info.Diagnostics, info.Clipboard, body.Refresh); b != nil {
		body.Add(container.NewHBox(b))
		body.Add(note)
	}
	d := dialog.NewCustom(lang.L("About Till"), lang.L("Close"), body, w)
	if width := w.Canvas().Size().Width; width > 0 { // wide enough for the paths, within the window
		d.Resize(fyne.NewSize(min(640, width-20), d.MinSize().Height))
	}
	d.Show()
}

// copyDiagnosticsButton is "Copy diagnostics", and the label under it that
// says how it went; nil when diag or clip is nil. The diagnostics are
// gathered off the UI goroutine, with the button disabled meanwhile, then
// put on the clipboard. relayout lays out the screen around the label
// again once it shows.
func copyDiagnosticsButton(diag func() (string, error), clip fyne.Clipboard, relayout func()) (*widget.Button, *widget.Label) {
	if diag == nil || clip == nil {
		return nil, nil
	}
	note := widget.NewLabel("")
	note.Wrapping = fyne.TextWrapWord
	note.Hide()
	var b *widget.Button
	b = widget.NewButtonWithIcon(lang.L("Copy diagnostics"), theme.ContentCopyIcon(), func() {
		b.Disable()
		note.Importance = widget.MediumImportance
		note.SetText(lang.L("Gathering the diagnostics…"))
		note.Show()
		relayout()
		go func() {
			text, err := diag()
			fyne.Do(func() {
				b.Enable()
				defer relayout()
				if err != nil {
					note.Importance = widget.DangerImportance
					note.SetText(lang.L("The diagnostics could not be gathered: {{.Error}}", map[string]any{"Error": err.Error()}))
					return
				}
				clip.SetContent(text)
				note.Importance = widget.SuccessImportance
				note.SetText(lang.L("Copied"))
			})
		}()
	})
	return b, note
}

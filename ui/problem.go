package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// ProblemParams describes something that stops Till from starting: what
// happened, in words a shop owner can act on, and what they can do next.
type ProblemParams struct {
	Title   string
	Message string
	Detail  string // the underlying error, shown smaller; never a secret
	// Actions are the ways out, e.g. "Move the damaged file aside". Each runs
	// off the UI goroutine with the buttons disabled; one that succeeds is
	// expected to replace this screen, one that fails has its error shown.
	Actions []Action
	Quit    func() // the always-present way out
	// Diagnostics gathers the text for support; with Clipboard, "Copy
	// diagnostics" puts it there, for a shop owner on the phone with
	// support. The button is hidden when either is nil.
	Diagnostics func() (string, error)
	Clipboard   fyne.Clipboard
}

// ProblemScreen shows a start-up problem and the choices it leaves.
type ProblemScreen struct {
	p       ProblemParams
	status  *widget.Label
	buttons []*widget.Button
	content fyne.CanvasObject
}

// NewProblemScreen builds the screen.
func NewProblemScreen(p ProblemParams) *ProblemScreen {
	s := &ProblemScreen{p: p}
	title := widget.NewLabelWithStyle(p.Title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	msg := widget.NewLabel(p.Message)
	msg.Wrapping = fyne.TextWrapWord
	detail := widget.NewLabel(p.Detail)
	detail.Wrapping = fyne.TextWrapBreak
	detail.SizeName = theme.SizeNameCaptionText
	s.status = widget.NewLabel("")
	s.status.Wrapping = fyne.TextWrapWord
	s.status.Importance = widget.DangerImportance
	s.status.Hide()

	row := container.NewHBox()
	for _, a := range p.Actions {
		b := widget.NewButton(a.Label, nil)
		b.Importance = widget.HighImportance
		b.OnTapped = func() { s.run(a) }
		s.buttons = append(s.buttons, b)
		row.Add(b)
	}
	if p.Quit != nil {
		row.Add(widget.NewButton("Quit", p.Quit))
	}
	icon := widget.NewIcon(theme.ErrorIcon())
	box := container.NewVBox(container.NewHBox(icon, title), msg, detail, s.status, row)
	if b, note := copyDiagnosticsButton(p.Diagnostics, p.Clipboard, func() { s.content.Refresh() }); b != nil {
		box.Add(container.NewHBox(b))
		box.Add(note)
	}
	s.content = container.NewPadded(box)
	return s
}

// Content is the screen's root object.
func (s *ProblemScreen) Content() fyne.CanvasObject { return s.content }

func (s *ProblemScreen) run(a Action) {
	for _, b := range s.buttons {
		b.Disable()
	}
	go func() {
		err := a.Run()
		if err == nil && !a.Stay {
			return // the action moved on: this screen has been replaced
		}
		fyne.Do(func() {
			for _, b := range s.buttons {
				b.Enable()
			}
			if err == nil {
				s.status.Hide()
				return
			}
			s.status.SetText(err.Error())
			s.status.Show()
		})
	}()
}

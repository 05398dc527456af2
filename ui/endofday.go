package ui

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// EndOfDay is the manager's closing of the day, as the end-of-day screen
// drives it. Every method may block (disk, network, a slow hash): the
// screen calls them off the UI goroutine only.
type EndOfDay interface {
	// Unlock checks the manager's PIN (slow hash; wrong PINs lock it out
	// for a while: the screen shows the error as it is).
	Unlock(pin string) error
	// Plan fetches the day's payments from the payment service and
	// matches them to the till's orders; it may take seconds. ErrOffline
	// when the service is unreachable.
	Plan(ctx context.Context) (EndOfDayPlan, error)
	// Apply carries out the actions of the last plan through the outbox
	// and waits for them, calling progress (from any goroutine) as each
	// finishes; then returns the Z report.
	Apply(ctx context.Context, progress func(done, total int)) (ZReportView, error)
	// Report is the day's Z report as it stands, without applying
	// anything.
	Report() (ZReportView, error)
	// WriteCSV and WritePNG export the last report.
	WriteCSV(w io.Writer) error
	WritePNG(w io.Writer) error
}

// EndOfDayPlan is what closing the day would do, for the manager to read
// before applying it.
type EndOfDayPlan struct {
	Day     string // "Monday 23 November 2026", formatted by the app
	Rows    []PlanRowView
	Actions int    // rows Apply will act on
	Summary string // e.g. "254 payments read in 3 pages; 12 to capture, 3 to cancel"
}

// PlanRowView is one row of the plan.
type PlanRowView struct {
	Group    PlanGroup
	Action   string // "Capture", "Cancel", or "": already translated
	Order    string
	Amount   string // formatted
	Reason   string // a translated sentence
	Expiring bool   // an authorisation near expiry: highlighted
}

// PlanGroup is the section of the plan a row belongs to.
type PlanGroup int

// Plan groups, in the order the screen shows them.
const (
	PlanToDo      PlanGroup = iota // Apply acts on it
	PlanAttention                  // the manager must look at it
	PlanInfo                       // for information
)

// ZReportView is the day's Z report.
type ZReportView struct {
	Title string
	Lines []ReportLine
}

// ReportLine is one line of a report: a label and its value, a heading,
// or a rule (a line across).
type ReportLine struct {
	Label, Value  string
	Heading, Rule bool
}

// EndOfDayParams configures an EndOfDayScreen.
type EndOfDayParams struct {
	EndOfDay EndOfDay
	// Window shows the screen; the file-save dialogs of the exports open
	// over it.
	Window fyne.Window
	// OnClose is called (on the UI goroutine) when the manager closes the
	// screen; the app closes its window and calls Stop.
	OnClose func()
	// Now names the exported files (z-report-2026-11-23.csv); time.Now
	// when nil.
	Now func() time.Time
	// Do runs the screen's widget updates on the UI goroutine; fyne.Do
	// when nil. Tests pass one that takes turns with their taps.
	Do func(func())
}

// EndOfDayScreen is the manager's closing of the day, on one screen:
// the manager's PIN, then the plan (read from the payment service and
// matched to the till's orders) in three sections — to do, needs
// attention, for information — then applying it with progress, then the
// Z report, exported as CSV or PNG.
//
// Every call into the EndOfDay runs on a goroutine of its own, never on
// the UI goroutine; results reach the widgets through EndOfDayParams.Do.
// Each step replaces the one before; a result that arrives for a step the
// manager has left (a cancelled read) is dropped. Apply cannot start
// twice: its button is gone once tapped, and the screen leaves the plan.
type EndOfDayScreen struct {
	p      EndOfDayParams
	ctx    context.Context
	stop   context.CancelFunc
	jobs   sync.WaitGroup
	root   *fyne.Container
	header *widget.Label // the title of the step shown

	// Owned by the UI goroutine.
	step       int                // counts the steps shown; a result for an older one is dropped
	cancelStep context.CancelFunc // cancels the plan read or the wait for Apply under way
	spinner    *widget.ProgressBarInfinite
	applied    *widget.ProgressBar
	done       int
	entry      fyne.Focusable     // the step's entry that takes the keyboard, or nil
	saveDialog *dialog.FileDialog // the last export's, for tests
	exportNote *widget.Label      // the last export's outcome
}

// NewEndOfDayScreen builds the screen, asking for the manager's PIN.
func NewEndOfDayScreen(p EndOfDayParams) *EndOfDayScreen {
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Do == nil {
		p.Do = fyne.Do
	}
	s := &EndOfDayScreen{p: p, root: container.NewStack()}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.header = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.header.SizeName = theme.SizeNameHeadingText
	s.showLocked()
	return s
}

// Content is the screen's root object; it stays the same object as the
// steps change.
func (s *EndOfDayScreen) Content() fyne.CanvasObject { return s.root }

// Stop cancels what the screen waits for (the plan's read, Apply's
// wait: the actions already queued still go through the outbox). Call it
// when its window closes.
func (s *EndOfDayScreen) Stop() { s.stop() }

// Wait returns once the screen's goroutines have ended. Do not call it on
// the UI goroutine: they end by handing their results to it.
func (s *EndOfDayScreen) Wait() { s.jobs.Wait() }

// background runs job off the UI goroutine, then what it returns on the
// UI goroutine, unless the manager has moved to another step meanwhile.
func (s *EndOfDayScreen) background(job func() func()) {
	step := s.step
	s.jobs.Go(func() {
		show := job()
		s.p.Do(func() {
			if s.step == step && show != nil {
				show()
			}
		})
	})
}

// show replaces the step on screen. top is under the title, bottom holds
// the buttons and center takes the rest.
func (s *EndOfDayScreen) show(title string, top, center fyne.CanvasObject, buttons ...fyne.CanvasObject) {
	s.step++
	if s.cancelStep != nil {
		s.cancelStep()
		s.cancelStep = nil
	}
	if s.spinner != nil {
		s.spinner.Stop()
		s.spinner = nil
	}
	s.applied = nil
	s.exportNote = nil
	s.entry = nil
	s.header.SetText(title)
	head := container.NewVBox(s.header)
	if top != nil {
		head.Add(top)
	}
	var bottom fyne.CanvasObject
	if len(buttons) > 0 {
		row := container.NewHBox(layout.NewSpacer())
		for _, b := range buttons {
			row.Add(tall(56, b))
		}
		bottom = container.NewVBox(widget.NewSeparator(), row)
	}
	if center == nil {
		center = layout.NewSpacer()
	}
	s.root.Objects = []fyne.CanvasObject{container.NewPadded(container.NewBorder(head, bottom, nil, nil, center))}
	s.root.Refresh()
}

// Focus gives the keyboard to the step shown (the PIN entry at first).
// Call it on the UI goroutine once the window shows Content.
func (s *EndOfDayScreen) Focus() {
	if s.entry != nil {
		s.focus(s.entry)
	}
}

func (s *EndOfDayScreen) focus(f fyne.Focusable) {
	if s.p.Window != nil {
		s.p.Window.Canvas().Focus(f)
	}
}

func (s *EndOfDayScreen) closeButton() *widget.Button {
	return bigButton(lang.L("Close"), theme.CancelIcon(), widget.MediumImportance, func() {
		if s.p.OnClose != nil {
			s.p.OnClose()
		}
	})
}

// showLocked asks for the manager's PIN.
func (s *EndOfDayScreen) showLocked() {
	pin := widget.NewPasswordEntry()
	pin.SetPlaceHolder(lang.L("Manager PIN"))
	problem := widget.NewLabel("")
	problem.Importance = widget.DangerImportance
	problem.Hide()
	var unlock *widget.Button
	busy := false // one check at a time: Enter pressed twice checks once
	submit := func() {
		if busy {
			return
		}
		code := pin.Text
		if code == "" {
			showError(problem, lang.L("Enter the manager's PIN."))
			return
		}
		busy = true
		unlock.Disable()
		eod := s.p.EndOfDay
		s.background(func() func() {
			err := eod.Unlock(code)
			return func() {
				busy = false
				if err == nil {
					s.loadPlan()
					return
				}
				unlock.Enable()
				pin.SetText("")
				showError(problem, err.Error())
				s.focus(pin)
			}
		})
	}
	pin.OnSubmitted = func(string) { submit() }
	unlock = bigButton(lang.L("Unlock")+" (Enter)", theme.ConfirmIcon(), widget.HighImportance, submit)
	body := container.NewVBox(widget.NewLabel(lang.L("The manager closes the day: enter the manager's PIN.")),
		tall(56, pin), problem)
	s.show(lang.L("End of day"), nil, body, s.closeButton(), unlock)
	s.entry = pin
	s.focus(pin)
}

// loadPlan reads the day's payments and shows the plan.
func (s *EndOfDayScreen) loadPlan() {
	cancel := bigButton(lang.L("Cancel"), theme.CancelIcon(), widget.MediumImportance, func() {
		s.showProblem(lang.L("Reading the day's payments was stopped."), s.loadPlan)
	})
	spinner := widget.NewProgressBarInfinite()
	s.show(lang.L("End of day"), nil,
		container.NewVBox(widget.NewLabel(lang.L("Reading the day's payments…")), spinner), cancel)
	s.spinner = spinner
	ctx, stop := context.WithCancel(s.ctx)
	s.cancelStep = stop
	eod := s.p.EndOfDay
	s.background(func() func() {
		plan, err := eod.Plan(ctx)
		return func() {
			if err != nil {
				msg := err.Error()
				if errors.Is(err, ErrOffline) {
					msg = lang.L("The payment service is not reachable, so the day's payments cannot be read. Check the connection and try again. The Z report works without it.") +
						"\n\n" + msg
				}
				s.showProblem(msg, s.loadPlan)
				return
			}
			s.showPlan(plan)
		}
	})
}

// showProblem shows what went wrong, with a way back (retry) and the Z
// report, which needs no connection.
func (s *EndOfDayScreen) showProblem(msg string, retry func()) {
	problem := widget.NewLabel(msg)
	problem.Importance = widget.DangerImportance
	problem.Wrapping = fyne.TextWrapWord
	again := bigButton(lang.L("Try again"), theme.ViewRefreshIcon(), widget.HighImportance, retry)
	report := bigButton(lang.L("Z report without applying"), theme.DocumentIcon(), widget.MediumImportance, func() { s.loadReport(nil) })
	s.show(lang.L("End of day"), nil, container.NewVScroll(problem), s.closeButton(), report, again)
}

// showPlan shows the plan in its three sections.
func (s *EndOfDayScreen) showPlan(plan EndOfDayPlan) {
	var groups [3][]PlanRowView
	for _, r := range plan.Rows {
		g := min(max(r.Group, PlanToDo), PlanInfo)
		groups[g] = append(groups[g], r)
	}
	titles := [3]string{
		lang.L("To do ({{.N}})", map[string]any{"N": len(groups[PlanToDo])}),
		lang.L("Needs attention ({{.N}})", map[string]any{"N": len(groups[PlanAttention])}),
		lang.L("For information ({{.N}})", map[string]any{"N": len(groups[PlanInfo])}),
	}
	rows := container.NewVBox()
	for g, rs := range groups {
		head := widget.NewLabelWithStyle(titles[g], fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		head.SizeName = theme.SizeNameSubHeadingText
		if PlanGroup(g) == PlanAttention && len(rs) > 0 {
			head.Importance = widget.WarningImportance
		}
		rows.Add(head)
		if len(rs) == 0 {
			rows.Add(widget.NewLabelWithStyle(lang.L("Nothing."), fyne.TextAlignLeading, fyne.TextStyle{Italic: true}))
		}
		for _, r := range rs {
			rows.Add(planRow(r))
		}
		rows.Add(widget.NewSeparator())
	}
	summary := widget.NewLabel(plan.Summary)
	summary.Truncation = fyne.TextTruncateEllipsis

	var apply *widget.Button
	if plan.Actions == 1 {
		apply = bigButton(lang.L("Apply 1 action"), theme.ConfirmIcon(), widget.HighImportance, nil)
	} else {
		apply = bigButton(lang.L("Apply {{.N}} actions", map[string]any{"N": plan.Actions}), theme.ConfirmIcon(), widget.HighImportance, nil)
	}
	apply.OnTapped = func() {
		apply.Disable() // at once: a second tap before the step changes does nothing
		s.apply(plan.Actions)
	}
	if plan.Actions <= 0 {
		apply.Disable()
	}
	refresh := bigButton(lang.L("Refresh"), theme.ViewRefreshIcon(), widget.MediumImportance, s.loadPlan)
	report := bigButton(lang.L("Z report without applying"), theme.DocumentIcon(), widget.MediumImportance, func() { s.loadReport(&plan) })
	title := lang.L("End of day")
	if plan.Day != "" {
		title = lang.L("End of day — {{.Day}}", map[string]any{"Day": plan.Day})
	}
	s.show(title, summary, container.NewVScroll(rows), s.closeButton(), refresh, report, apply)
}

// planRow is one row of the plan: action, order and amount on a line,
// the reason under them; an authorisation near expiry is highlighted.
func planRow(r PlanRowView) fyne.CanvasObject {
	action := widget.NewLabelWithStyle(r.Action, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	order := widget.NewLabelWithStyle(r.Order, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	order.Truncation = fyne.TextTruncateEllipsis
	amount := widget.NewLabelWithStyle(r.Amount, fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true})
	reason := widget.NewLabel(r.Reason)
	reason.Truncation = fyne.TextTruncateEllipsis
	reason.SizeName = theme.SizeNameCaptionText
	row := container.NewVBox(container.New(planColumns{}, action, order, amount), reason)
	if !r.Expiring {
		return row
	}
	amount.Importance = widget.WarningImportance
	reason.Importance = widget.WarningImportance
	bg := canvas.NewRectangle(withAlpha(theme.Color(theme.ColorNameWarning), 0x30))
	bg.CornerRadius = theme.InputRadiusSize()
	return container.NewStack(bg, row)
}

func withAlpha(c color.Color, a uint8) color.Color {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	n.A = a
	return n
}

// planColumns lays a plan row's action, order and amount out in columns
// of the same width on every row: the action and the amount fixed, the
// order in between.
type planColumns struct{}

const planActionWidth, planAmountWidth = 140, 180

func (planColumns) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(planActionWidth+planAmountWidth+objs[1].MinSize().Width, h)
}

func (planColumns) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	mid := max(size.Width-planActionWidth-planAmountWidth, 0)
	objs[0].Move(fyne.NewPos(0, 0))
	objs[0].Resize(fyne.NewSize(planActionWidth, size.Height))
	objs[1].Move(fyne.NewPos(planActionWidth, 0))
	objs[1].Resize(fyne.NewSize(mid, size.Height))
	objs[2].Move(fyne.NewPos(planActionWidth+mid, 0))
	objs[2].Resize(fyne.NewSize(planAmountWidth, size.Height))
}

// apply carries the plan out, showing its progress, then the Z report.
func (s *EndOfDayScreen) apply(total int) {
	bar := widget.NewProgressBar()
	bar.Max = float64(max(total, 1))
	s.done = 0
	n := total
	bar.TextFormatter = func() string {
		return lang.L("{{.Done}} of {{.Total}}", map[string]any{"Done": int(bar.Value), "Total": n})
	}
	note := widget.NewLabel(lang.L("Capturing and cancelling through the outbox. Keep this window open until the Z report shows."))
	stopWaiting := bigButton(lang.L("Stop waiting"), theme.MediaStopIcon(), widget.MediumImportance, func() {
		s.showProblem(lang.L("Stopped waiting. The actions already queued still go through the outbox: refresh to see what remains."), s.loadPlan)
	})
	s.show(lang.L("Applying the plan"), nil, container.NewVBox(note, bar), stopWaiting)
	s.applied = bar
	ctx, stop := context.WithCancel(s.ctx)
	s.cancelStep = stop
	step := s.step
	progress := func(done, total int) {
		s.p.Do(func() {
			if s.step != step || s.applied == nil || done <= s.done {
				return // late, or out of order: the bar only moves on
			}
			s.done = done
			if total != n {
				n = total
				s.applied.Max = float64(max(total, 1))
			}
			s.applied.SetValue(float64(done))
		})
	}
	eod := s.p.EndOfDay
	s.background(func() func() {
		rep, err := eod.Apply(ctx, progress)
		return func() {
			if err != nil {
				s.showProblem(lang.L("Applying the plan failed: {{.Error}}. What went through is not done again: refresh to see what remains.",
					map[string]any{"Error": err.Error()}), s.loadPlan)
				return
			}
			s.showReport(rep, nil)
		}
	})
}

// loadReport reads the Z report without applying anything. from is the
// plan shown before, to go back to; nil when there is none.
func (s *EndOfDayScreen) loadReport(from *EndOfDayPlan) {
	spinner := widget.NewProgressBarInfinite()
	s.show(lang.L("Z report"), nil, container.NewVBox(widget.NewLabel(lang.L("Preparing the Z report…")), spinner))
	s.spinner = spinner
	eod := s.p.EndOfDay
	s.background(func() func() {
		rep, err := eod.Report()
		return func() {
			if err != nil {
				s.showProblem(err.Error(), func() { s.loadReport(from) })
				return
			}
			s.showReport(rep, from)
		}
	})
}

// showReport shows the Z report, aligned in columns, with its exports.
func (s *EndOfDayScreen) showReport(rep ZReportView, from *EndOfDayPlan) {
	lines := container.NewVBox()
	for i, text := range reportText(rep.Lines) {
		l := rep.Lines[i]
		if l.Rule {
			lines.Add(widget.NewSeparator())
			continue
		}
		style := fyne.TextStyle{Monospace: true}
		if l.Heading { // themes have no bold monospace face
			style = fyne.TextStyle{Bold: true}
		}
		lines.Add(widget.NewLabelWithStyle(text, fyne.TextAlignLeading, style))
	}
	note := widget.NewLabel("")
	note.Wrapping = fyne.TextWrapWord
	note.Hide()
	csv := bigButton(lang.L("Export CSV…"), theme.DocumentSaveIcon(), widget.MediumImportance, func() {
		s.export(".csv", s.p.EndOfDay.WriteCSV)
	})
	png := bigButton(lang.L("Export PNG…"), theme.DocumentSaveIcon(), widget.MediumImportance, func() {
		s.export(".png", s.p.EndOfDay.WritePNG)
	})
	buttons := []fyne.CanvasObject{}
	if from != nil {
		plan := *from
		buttons = append(buttons, bigButton(lang.L("Back to the plan"), theme.NavigateBackIcon(), widget.MediumImportance,
			func() { s.showPlan(plan) }))
	}
	buttons = append(buttons, csv, png, bigButton(lang.L("Close"), theme.ConfirmIcon(), widget.HighImportance, func() {
		if s.p.OnClose != nil {
			s.p.OnClose()
		}
	}))
	title := rep.Title
	if title == "" {
		title = lang.L("Z report")
	}
	s.show(title, nil, container.NewBorder(nil, note, nil, nil, container.NewVScroll(lines)), buttons...)
	s.exportNote = note
}

// reportText lays the report's lines out as monospace text: labels
// padded to the longest, values aligned on the right. Rules are "" (the
// screen draws a line), headings keep their value, if any, aligned too.
func reportText(lines []ReportLine) []string {
	lw, vw := 0, 0
	for _, l := range lines {
		if l.Rule {
			continue
		}
		lw = max(lw, utf8.RuneCountInString(l.Label))
		vw = max(vw, utf8.RuneCountInString(l.Value))
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		switch {
		case l.Rule:
		case l.Value == "":
			out[i] = l.Label
		default:
			out[i] = l.Label + strings.Repeat(" ", lw-utf8.RuneCountInString(l.Label)+2+vw-utf8.RuneCountInString(l.Value)) + l.Value
		}
	}
	return out
}

// export asks where to save the report (ext: ".csv", ".png") and writes
// it there with write.
func (s *EndOfDayScreen) export(ext string, write func(io.Writer) error) {
	if s.p.Window == nil {
		return
	}
	d := dialog.NewFileSave(s.saveTo(write), s.p.Window)
	d.SetFileName("z-report-" + s.p.Now().Format("2006-01-02") + ext)
	d.SetFilter(storage.NewExtensionFileFilter([]string{ext}))
	s.saveDialog = d
	d.Show()
}

// saveTo is the file-save dialog's callback: it writes the report off
// the UI goroutine and says where it went, or why it did not.
func (s *EndOfDayScreen) saveTo(write func(io.Writer) error) func(fyne.URIWriteCloser, error) {
	return func(w fyne.URIWriteCloser, err error) {
		note := s.exportNote // nil when the report is no longer shown
		if err != nil {
			exportOutcome(note, fmt.Errorf("export the Z report: %w", err), "")
			return
		}
		if w == nil {
			return // the manager cancelled
		}
		where := w.URI().Path()
		if note != nil {
			note.SetText(lang.L("Saving to {{.Path}}…", map[string]any{"Path": where}))
			note.Importance = widget.MediumImportance
			note.Show()
		}
		s.jobs.Go(func() {
			err := write(w)
			if cerr := w.Close(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				// A half-written report must not pass for the report.
				if derr := storage.Delete(w.URI()); derr != nil {
					err = errors.Join(err, derr)
				}
				err = fmt.Errorf("export the Z report to %s: %w", where, err)
			}
			s.p.Do(func() { exportOutcome(note, err, where) })
		})
	}
}

// exportOutcome says where the report went, or why it did not, on note
// (nil: not shown any more, so nowhere).
func exportOutcome(note *widget.Label, err error, where string) {
	if note == nil {
		if err != nil {
			fyne.LogError("end of day", err)
		}
		return
	}
	if err != nil {
		note.Importance = widget.DangerImportance
		note.SetText(err.Error())
	} else {
		note.Importance = widget.SuccessImportance
		note.SetText(lang.L("Saved to {{.Path}}", map[string]any{"Path": where}))
	}
	note.Show()
}

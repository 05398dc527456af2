package ui

import (
	"context"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// StoreState is a snapshot of the till's store, as the status screen shows it.
type StoreState struct {
	Path          string    // the database file
	Connection    string    // the payment API as the outbox sees it: online, offline, …
	Reader        string    // the card reader: model and state, or why there is none
	Orders        uint64    // orders ever recorded on this till
	Pending       int       // outbox entries waiting to reach the API
	InFlight      int       // outbox entries being sent right now
	Dead          int       // outbox entries that failed for good
	OldestPending time.Time // creation time of the oldest pending entry; zero when none
	Recent        []OrderSummary
}

// OrderSummary is one row of the recent-orders list. Amounts arrive already
// formatted for the till's locale: the screen does no money arithmetic.
type OrderSummary struct {
	ID      string
	Status  string
	Total   string
	Created time.Time
}

// StatusSource supplies store snapshots. StoreState may block on disk; the
// screen only calls it from its own goroutine.
type StatusSource interface {
	StoreState() (StoreState, error)
}

// Action is a button on the status screen. Run executes off the UI
// goroutine; its error, if any, is shown under the buttons.
type Action struct {
	Label string
	Run   func() error
	// Stay, on the problem screen, says the screen stays after Run
	// succeeds, its buttons usable again: for an action that opens another
	// window. Otherwise success there means the action has replaced the
	// screen. The status screen always stays and ignores it.
	Stay bool
}

// StatusParams configures a StatusScreen.
type StatusParams struct {
	Version string
	API     string // which payment API the till talks to, in words
	Source  StatusSource
	Actions []Action
	Now     func() time.Time // clock for "oldest pending" ages; time.Now when nil
	Every   time.Duration    // how often ages are refreshed without a change; 5s when zero
	// Diagnostics gathers the text for support; with Clipboard, "Copy
	// diagnostics" puts it there. The button is hidden when either is nil.
	Diagnostics func() (string, error)
	Clipboard   fyne.Clipboard
}

// StatusScreen says what Till is and shows the live state of its store:
// orders recorded, outbox entries pending, in flight and dead, and the most
// recent orders.
type StatusScreen struct {
	p      StatusParams
	reload chan struct{}
	// finished carries an action's result to the refresh loop; the
	// action buttons are disabled while one runs, so it holds at most one.
	finished chan actionResult
	content  fyne.CanvasObject

	path, conn, reader, orders, pending, inFlight, dead, oldest *widget.Label
	problem                                                     *widget.Label
	readFailed                                                  bool // problem shows a failed read
	actions                                                     []*widget.Button
	recent                                                      *widget.List
	rows                                                        []OrderSummary
}

// NewStatusScreen builds the screen. Call Start to keep it up to date.
func NewStatusScreen(p StatusParams) *StatusScreen {
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Every <= 0 {
		p.Every = 5 * time.Second
	}
	s := &StatusScreen{p: p, reload: make(chan struct{}, 1), finished: make(chan actionResult, 1)}
	s.build()
	return s
}

// Content is the screen's root object.
func (s *StatusScreen) Content() fyne.CanvasObject { return s.content }

// Changed asks the screen to reload its snapshot. It never blocks and may be
// called from any goroutine; bursts of calls coalesce into one reload.
func (s *StatusScreen) Changed() {
	select {
	case s.reload <- struct{}{}:
	default:
	}
}

// Start loads the first snapshot and keeps the screen current until ctx is
// done: on every Changed call, and every StatusParams.Every so ages move.
func (s *StatusScreen) Start(ctx context.Context) {
	s.Changed()
	go func() {
		tick := time.NewTicker(s.p.Every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.reload:
			case <-tick.C:
			case r := <-s.finished:
				fyne.Do(func() { s.actionDone(r) })
			}
			st, err := s.p.Source.StoreState()
			now := s.p.Now()
			fyne.Do(func() { s.show(st, err, now) })
		}
	}()
}

func (s *StatusScreen) build() {
	title := widget.NewLabelWithStyle("Till", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	// Short unwrapped lines: a word-wrapped label in a VBox reserves the
	// height of its narrowest layout.
	intro := widget.NewLabel("An offline-first point of sale. Every sale is committed on this till first;\n" +
		"card payments wait in a durable outbox and reach the payment API exactly once.")
	version := widget.NewLabel("Version " + s.p.Version)

	s.path, s.conn, s.reader = widget.NewLabel(""), widget.NewLabel("…"), widget.NewLabel("…")
	s.reader.Wrapping = fyne.TextWrapWord
	s.path.Wrapping = fyne.TextWrapBreak
	s.orders, s.pending, s.inFlight = widget.NewLabel("…"), widget.NewLabel("…"), widget.NewLabel("…")
	s.dead, s.oldest = widget.NewLabel("…"), widget.NewLabel("…")
	s.problem = widget.NewLabel("")
	s.problem.Importance = widget.DangerImportance
	s.problem.Wrapping = fyne.TextWrapWord
	s.problem.Hide()

	form := widget.NewForm(
		widget.NewFormItem("Payment API", widget.NewLabel(s.p.API)),
		widget.NewFormItem("Connection", s.conn),
		widget.NewFormItem("Card reader", s.reader),
		widget.NewFormItem("Database", s.path),
		widget.NewFormItem("Orders", s.orders),
		widget.NewFormItem("Outbox pending", s.pending),
		widget.NewFormItem("Sending now", s.inFlight),
		widget.NewFormItem("Dead letters", s.dead),
		widget.NewFormItem("Oldest pending", s.oldest),
	)

	s.recent = widget.NewList(
		func() int { return len(s.rows) },
		func() fyne.CanvasObject {
			return container.NewHBox(widget.NewLabel("order id"), layout.NewSpacer(),
				widget.NewLabel("status"), widget.NewLabel("total"))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			r := s.rows[i]
			box := o.(*fyne.Container)
			box.Objects[0].(*widget.Label).SetText(r.ID)
			box.Objects[2].(*widget.Label).SetText(r.Status)
			box.Objects[3].(*widget.Label).SetText(r.Total)
			box.Refresh() // lay the row out again for its new text widths
		},
	)

	actions := container.NewHBox()
	for _, a := range s.p.Actions {
		b := widget.NewButton(a.Label, func() { s.run(a) })
		s.actions = append(s.actions, b)
		actions.Add(b)
	}
	top := container.NewVBox(title, intro, version, widget.NewCard("Store", "", form), actions)
	if b, note := copyDiagnosticsButton(s.p.Diagnostics, s.p.Clipboard, func() { s.content.Refresh() }); b != nil {
		actions.Add(b)
		top.Add(note)
	}
	top.Add(s.problem)
	top.Add(widget.NewLabelWithStyle("Recent orders", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))

	s.content = container.NewBorder(top, nil, nil, nil, s.recent)
}

// run executes an action off the UI goroutine, with the action buttons
// disabled so a double tap cannot start it twice, then reloads.
//
// The action's goroutine touches no widget: it hands its result to the
// screen's refresh loop, the one goroutine that updates this screen.
func (s *StatusScreen) run(a Action) {
	for _, b := range s.actions {
		b.Disable()
	}
	go func() {
		s.finished <- actionResult{label: a.Label, err: a.Run()}
	}()
}

type actionResult struct {
	label string
	err   error
}

func (s *StatusScreen) actionDone(r actionResult) {
	for _, b := range s.actions {
		b.Enable()
	}
	s.readFailed = false
	s.showProblem(r.label, r.err)
}

func (s *StatusScreen) showProblem(what string, err error) {
	if err == nil {
		s.problem.Hide()
		return
	}
	s.problem.SetText(fmt.Sprintf("%s: %v", what, err))
	s.problem.Show()
}

func (s *StatusScreen) show(st StoreState, err error, now time.Time) {
	if err != nil {
		s.showProblem("Reading the store", err)
		s.readFailed = true
		return
	}
	if s.readFailed { // the store reads again: its error is over
		s.showProblem("", nil)
		s.readFailed = false
	}
	s.path.SetText(st.Path)
	s.conn.SetText(st.Connection)
	s.reader.SetText(st.Reader)
	s.orders.SetText(fmt.Sprint(st.Orders))
	s.pending.SetText(fmt.Sprint(st.Pending))
	s.inFlight.SetText(fmt.Sprint(st.InFlight))
	s.dead.SetText(fmt.Sprint(st.Dead))
	if st.Dead > 0 {
		s.dead.Importance = widget.DangerImportance
	} else {
		s.dead.Importance = widget.MediumImportance
	}
	s.dead.Refresh()
	if st.OldestPending.IsZero() {
		s.oldest.SetText("none")
	} else {
		s.oldest.SetText(fmt.Sprintf("%s (%s ago)", st.OldestPending.Local().Format("15:04:05"),
			now.Sub(st.OldestPending).Truncate(time.Second)))
	}
	s.rows = st.Recent
	s.recent.Refresh()
}

package ui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// checkAPITimeout bounds "Check connection": a payment service that does
// not answer in this time is reported as not reachable.
const checkAPITimeout = 15 * time.Second

// defaultAPIBaseURL prefills the payment account's address.
const defaultAPIBaseURL = "https://api.stripe.com"

// SetupParams configures a SetupScreen.
type SetupParams struct {
	Setup   Setup
	Choices SetupChoices
	// Form holds the starting values: the defaults on a first run, the
	// saved settings later (HasAPIKey and HasPIN, never the secrets).
	Form SetupForm
	// Settings makes the screen the manager's settings: the manager's PIN
	// first, no welcome page, no demo. False: the first run.
	Settings bool
	// OnDone is called on the UI goroutine once Save succeeded, with the
	// form as saved but PIN, PINAgain and APIKey cleared (HasAPIKey and
	// HasPIN then say whether one is saved).
	OnDone func(SetupForm)
	// OnDemo, on a first run, is "Try the demo first": the built-in
	// sandbox and simulated reader, nothing saved. Nil hides it.
	OnDemo func()
	// OnCancel, in the settings, closes them without saving. Nil hides
	// Cancel.
	OnCancel func()
	// Do runs the screen's widget updates on the UI goroutine; fyne.Do
	// when nil. Tests pass one that takes turns with their taps.
	Do func(func())
}

// setupPage is one page of the wizard.
type setupPage int

const (
	pageWelcome  setupPage = iota // first run: what Till is
	pageUnlock                    // settings: the manager's PIN
	pageShop                      // lane, currency, locale, tax, language
	pagePayments                  // sandbox or the shop's payment account
	pageReader                    // the card reader
	pageManager                   // the manager's PIN
	pageReview                    // every answer, then Save
)

// stepPages are the pages the step indicator counts, in order.
var stepPages = []setupPage{pageShop, pagePayments, pageReader, pageManager, pageReview}

// pageFields are the form's fields each page asks for: Next on a page is
// held back only by problems with these.
var pageFields = map[setupPage][]string{
	pageShop:     {FieldLane, FieldCurrency, FieldLocale, FieldTaxMode, FieldLanguage},
	pagePayments: {FieldAPIBaseURL, FieldAPIKey},
	pageReader:   {FieldReader},
	pageManager:  {FieldPIN},
}

// SetupScreen is the first-run wizard and, later, the manager's settings:
// a page per subject with Back and Next (Enter), a step indicator, and a
// review of every answer before it is saved.
//
// The screen holds no rules: it collects the answers into a SetupForm
// and shows what the Setup says about them. Next asks Setup.Validate and
// is held back only by the problems of the page's own fields, shown under
// them; a refused Save goes back to the first page with a problem. Every
// call into the Setup runs on a goroutine of its own with the buttons
// disabled, so Enter pressed twice saves once; results reach the widgets
// through SetupParams.Do.
type SetupScreen struct {
	p    SetupParams
	ctx  context.Context
	stop context.CancelFunc
	jobs sync.WaitGroup
	root *fyne.Container

	// Owned by the UI goroutine.
	canvas   fyne.Canvas
	pages    []setupPage
	at       int // index in pages of the page shown
	views    map[setupPage]*setupView
	buttons  []*widget.Button // every button that starts something: disabled while a call runs
	busy     bool             // a call into the Setup is under way
	done     bool             // saved: nothing more to do here
	problems map[string]*widget.Label

	// The inputs.
	lane         *widget.Entry
	currency     *widget.SelectEntry
	locale       *widget.Select
	taxMode      *widget.RadioGroup
	taxValues    []string // taxMode's options' values
	language     *widget.Select
	langTags     []string // language's options' tags
	payMode      *widget.RadioGroup
	account      *fyne.Container // the payment account's inputs
	baseURL      *widget.Entry
	apiKey       *widget.Entry
	checkNote    *widget.Label
	readerMode   *widget.RadioGroup
	readerLabels [3]string // USB, TCP, built-in
	tcpRow       *fyne.Container
	tcpAddr      *widget.Entry
	usbChoice    string // a detected reader chosen: usb:VID:PID; "" any
	usbNote      *widget.Label
	detectNote   *widget.Label
	detected     *fyne.Container // the readers found
	pin          *widget.Entry
	pinAgain     *widget.Entry
	unlockPIN    *widget.Entry
	unlockNote   *widget.Label
	summary      *fyne.Container
	reviewNote   *widget.Label
}

// setupView is a page as built once: its inputs keep their answers as the
// user goes back and forth.
type setupView struct {
	content fyne.CanvasObject
	note    *widget.Label  // a problem with the page as a whole
	first   fyne.Focusable // the entry that takes the keyboard, or nil
}

// NewSetupScreen builds the screen on its first page: the welcome on a
// first run, the manager's PIN in the settings.
func NewSetupScreen(p SetupParams) *SetupScreen {
	if p.Do == nil {
		p.Do = fyne.Do
	}
	s := &SetupScreen{p: p, root: container.NewStack(), views: map[setupPage]*setupView{},
		problems: map[string]*widget.Label{}}
	s.ctx, s.stop = context.WithCancel(context.Background())
	if p.Settings {
		s.pages = append([]setupPage{pageUnlock}, stepPages...)
	} else {
		s.pages = append([]setupPage{pageWelcome}, stepPages...)
	}
	s.buildInputs()
	for _, pg := range s.pages {
		s.views[pg] = s.buildPage(pg)
	}
	s.goTo(0)
	return s
}

// Content is the screen's root object; it stays the same object as the
// pages change.
func (s *SetupScreen) Content() fyne.CanvasObject { return s.root }

// Focus attaches the screen to the canvas showing Content: Enter goes to
// the page's main button when no entry has the keyboard, and each page
// gives the keyboard to its first entry. Call it on the UI goroutine.
func (s *SetupScreen) Focus(c fyne.Canvas) {
	s.canvas = c
	c.SetOnTypedKey(func(k *fyne.KeyEvent) {
		if k.Name == fyne.KeyReturn || k.Name == fyne.KeyEnter {
			s.next()
		}
	})
	s.focusPage()
}

// Stop cancels what the screen waits for (a connection check). Call it
// when the screen goes away.
func (s *SetupScreen) Stop() { s.stop() }

// Wait returns once the screen's goroutines have ended. Do not call it on
// the UI goroutine: they end by handing their results to it.
func (s *SetupScreen) Wait() { s.jobs.Wait() }

// run calls job off the UI goroutine with the buttons disabled, then what
// it returns on the UI goroutine.
func (s *SetupScreen) run(job func() func()) {
	s.setBusy(true)
	s.jobs.Go(func() {
		show := job()
		s.p.Do(func() {
			s.setBusy(false)
			show()
			s.relayout()
		})
	})
}

// relayout lays the page out again: a label shown or hidden does not
// move the ones around it by itself.
func (s *SetupScreen) relayout() { s.root.Refresh() }

func (s *SetupScreen) setBusy(on bool) {
	s.busy = on
	for _, b := range s.buttons {
		setEnabled(b, !on && !s.done)
	}
}

func (s *SetupScreen) button(label string, icon fyne.Resource, imp widget.Importance, tapped func()) *widget.Button {
	b := bigButton(label, icon, imp, tapped)
	s.buttons = append(s.buttons, b)
	return b
}

// problemLabel is the label under a field that shows its problem.
func (s *SetupScreen) problemLabel(field string) *widget.Label {
	l := errorLabel()
	s.problems[field] = l
	return l
}

// buildInputs makes the form's inputs, set to the starting values.
func (s *SetupScreen) buildInputs() {
	f := s.p.Form
	submit := func(string) { s.next() }

	s.lane = widget.NewEntry()
	s.lane.SetText(f.Lane)
	s.lane.SetPlaceHolder("lane1")
	s.lane.OnSubmitted = submit

	s.currency = widget.NewSelectEntry(s.p.Choices.Currencies)
	s.currency.SetText(f.Currency)
	s.currency.SetPlaceHolder("CHF")
	s.currency.OnSubmitted = submit

	locales := s.p.Choices.Locales
	if f.Locale != "" && !slices.Contains(locales, f.Locale) {
		locales = append([]string{f.Locale}, locales...)
	}
	s.locale = widget.NewSelect(locales, nil)
	s.locale.PlaceHolder = lang.L("Choose a locale")
	if f.Locale != "" {
		s.locale.SetSelected(f.Locale)
	}

	s.taxValues = []string{"inclusive", "exclusive"}
	s.taxMode = widget.NewRadioGroup([]string{lang.L("Prices include tax"), lang.L("Prices exclude tax")}, nil)
	s.taxMode.Required = true
	if i := slices.Index(s.taxValues, f.TaxMode); i >= 0 {
		s.taxMode.SetSelected(s.taxMode.Options[i])
	}

	langs := s.p.Choices.Languages
	if len(langs) == 0 {
		langs = shippedLanguages
	}
	s.langTags = append([]string{""}, langs...)
	if f.Language != "" && !slices.Contains(s.langTags, f.Language) {
		s.langTags = append(s.langTags, f.Language)
	}
	names := make([]string, len(s.langTags))
	for i, t := range s.langTags {
		names[i] = languageName(t)
	}
	s.language = widget.NewSelect(names, nil)
	s.language.SetSelectedIndex(slices.Index(s.langTags, f.Language))

	s.baseURL = widget.NewEntry()
	s.baseURL.SetText(f.APIBaseURL)
	if f.APIBaseURL == "" {
		s.baseURL.SetText(defaultAPIBaseURL)
	}
	s.baseURL.OnSubmitted = submit
	s.apiKey = widget.NewPasswordEntry()
	if f.HasAPIKey {
		s.apiKey.SetPlaceHolder(lang.L("A key is saved — leave empty to keep it"))
	} else {
		s.apiKey.SetPlaceHolder(lang.L("Secret key, e.g. sk_live_…"))
	}
	s.apiKey.OnSubmitted = submit
	s.checkNote = widget.NewLabel("")
	s.checkNote.Wrapping = fyne.TextWrapWord
	s.checkNote.Hide()
	s.payMode = widget.NewRadioGroup([]string{
		lang.L("Use the built-in sandbox (practice, no real money)"),
		lang.L("Use my payment account"),
	}, nil)
	s.payMode.Required = true

	s.readerLabels = [3]string{
		lang.L("USB reader (found automatically)"),
		lang.L("Simulator on this network (tcp://…)"),
		lang.L("Built-in simulator"),
	}
	s.readerMode = widget.NewRadioGroup(s.readerLabels[:], nil)
	s.tcpAddr = widget.NewEntry()
	s.tcpAddr.SetPlaceHolder("127.0.0.1:7070")
	s.tcpAddr.OnSubmitted = submit
	s.usbNote = widget.NewLabel("")
	s.usbNote.Hide()
	switch r := f.Reader; {
	case r == "usb":
		s.readerMode.SetSelected(s.readerLabels[0])
	case strings.HasPrefix(r, "usb:"):
		s.readerMode.SetSelected(s.readerLabels[0])
		s.usbChoice = r
	case strings.HasPrefix(r, "tcp://"):
		s.readerMode.SetSelected(s.readerLabels[1])
		s.tcpAddr.SetText(strings.TrimPrefix(r, "tcp://"))
	case r == "simulator":
		s.readerMode.SetSelected(s.readerLabels[2])
	}

	s.pin = widget.NewPasswordEntry()
	s.pin.OnSubmitted = submit
	s.pinAgain = widget.NewPasswordEntry()
	s.pinAgain.OnSubmitted = submit
	if f.HasPIN {
		s.pin.SetPlaceHolder(lang.L("A PIN is saved — leave empty to keep it"))
		s.pinAgain.SetPlaceHolder(lang.L("A PIN is saved — leave empty to keep it"))
	}
}

// languageName is how a screen language is offered: by its own name.
func languageName(tag string) string {
	if tag == "" {
		return lang.L("Same as the system")
	}
	if n, ok := languageNames[tag]; ok {
		return n
	}
	return tag
}

// field is one row of a page's form: the input, and its problem under it.
func (s *SetupScreen) field(label string, input fyne.CanvasObject, name string) []fyne.CanvasObject {
	l := widget.NewLabelWithStyle(label, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	return []fyne.CanvasObject{l, container.NewVBox(input, s.problemLabel(name))}
}

// fieldsLayout puts rows of fields in a two-column form.
func fieldsLayout(rows ...[]fyne.CanvasObject) *fyne.Container {
	form := container.New(layout.NewFormLayout())
	for _, r := range rows {
		form.Add(r[0])
		form.Add(r[1])
	}
	return form
}

func intro(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// buildPage builds one page: a title, the body, and the buttons at the
// bottom.
func (s *SetupScreen) buildPage(pg setupPage) *setupView {
	v := &setupView{note: errorLabel()}
	var title string
	var body fyne.CanvasObject
	var buttons []fyne.CanvasObject
	back := func() *widget.Button {
		return s.button(lang.L("Back"), theme.NavigateBackIcon(), widget.MediumImportance, s.back)
	}
	nextButton := func() *widget.Button {
		b := s.button(lang.L("Next")+" (Enter)", theme.NavigateNextIcon(), widget.HighImportance, s.next)
		b.IconPlacement = widget.ButtonIconTrailingText
		return b
	}
	switch pg {
	case pageWelcome:
		title = lang.L("Welcome to Till")
		// One label: a word-wrapped label reserves the height of its
		// narrowest layout, which would leave a gap under a first one.
		body = intro(lang.L("Till is a point of sale for a shop's counter. Every sale is recorded on this computer first, so the till keeps selling when the internet is down; card payments reach your payment account once it is back, exactly once.") +
			"\n\n" + lang.L("A few questions set this till up: the shop, how cards are paid, the card reader and the manager's PIN. You can change every answer later in the settings."))
		if s.p.OnDemo != nil {
			buttons = append(buttons, s.button(lang.L("Try the demo first"), theme.MediaPlayIcon(), widget.MediumImportance, s.demo))
		}
		buttons = append(buttons, s.button(lang.L("Set up this till")+" (Enter)", theme.NavigateNextIcon(), widget.HighImportance, s.next))
	case pageUnlock:
		title = lang.L("Settings")
		s.unlockPIN = widget.NewPasswordEntry()
		s.unlockPIN.SetPlaceHolder(lang.L("Manager PIN"))
		s.unlockPIN.OnSubmitted = func(string) { s.next() }
		s.unlockNote = errorLabel()
		body = container.NewVBox(intro(lang.L("The settings are for the manager: enter the manager's PIN.")),
			tall(56, s.unlockPIN), s.unlockNote)
		v.first = s.unlockPIN
		buttons = append(buttons, s.button(lang.L("Unlock")+" (Enter)", theme.ConfirmIcon(), widget.HighImportance, s.next))
	case pageShop:
		title = lang.L("Shop")
		body = container.NewVBox(intro(lang.L("Name this till and say how the shop sells.")), fieldsLayout(
			s.field(lang.L("Lane"), s.lane, FieldLane),
			s.field(lang.L("Currency"), s.currency, FieldCurrency),
			s.field(lang.L("Locale"), s.locale, FieldLocale),
			s.field(lang.L("Prices"), s.taxMode, FieldTaxMode),
			s.field(lang.L("Screen language"), s.language, FieldLanguage)))
		v.first = s.lane
		if !s.p.Settings {
			buttons = append(buttons, back())
		}
		buttons = append(buttons, nextButton())
	case pagePayments:
		title = lang.L("Payments")
		check := s.button(lang.L("Check connection"), theme.ViewRefreshIcon(), widget.MediumImportance, s.checkAPI)
		s.account = container.NewVBox(fieldsLayout(
			s.field(lang.L("Address"), s.baseURL, FieldAPIBaseURL),
			s.field(lang.L("Secret key"), s.apiKey, FieldAPIKey)),
			container.NewHBox(check), s.checkNote)
		s.payMode.OnChanged = func(string) { s.showAccount() }
		s.payMode.SetSelected(s.payMode.Options[1])
		if s.p.Form.UseSandbox {
			s.payMode.SetSelected(s.payMode.Options[0])
		}
		body = container.NewVBox(intro(lang.L("Practise with the built-in sandbox, or take real card payments through your payment account.")),
			s.payMode, s.account)
		buttons = append(buttons, back(), nextButton())
	case pageReader:
		title = lang.L("Card reader")
		s.tcpRow = container.NewBorder(nil, nil, widget.NewLabel("tcp://"), nil, s.tcpAddr)
		s.detectNote = widget.NewLabel("")
		s.detectNote.Wrapping = fyne.TextWrapWord
		s.detectNote.Hide()
		s.detected = container.NewVBox()
		detect := s.button(lang.L("Detect"), theme.SearchIcon(), widget.MediumImportance, s.detect)
		s.readerMode.OnChanged = func(string) { s.showReaderMode() }
		s.showReaderMode()
		body = container.NewVBox(intro(lang.L("Which card reader does this till use?")),
			s.readerMode, s.usbNote, s.tcpRow, s.problemLabel(FieldReader),
			container.NewHBox(detect), s.detectNote, s.detected)
		buttons = append(buttons, back(), nextButton())
	case pageManager:
		title = lang.L("Manager PIN")
		text := lang.L("The manager's PIN protects the settings, large discounts and the end of day. Type it twice.")
		if s.p.Form.HasPIN {
			text = lang.L("The manager's PIN protects the settings, large discounts and the end of day. Leave both empty to keep the saved PIN.")
		}
		body = container.NewVBox(intro(text), fieldsLayout(
			s.field(lang.L("New PIN"), s.pin, FieldPIN),
			[]fyne.CanvasObject{widget.NewLabelWithStyle(lang.L("New PIN again"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), s.pinAgain}))
		v.first = s.pin
		buttons = append(buttons, back(), nextButton())
	case pageReview:
		title = lang.L("Review")
		s.summary = container.New(layout.NewFormLayout())
		s.reviewNote = errorLabel()
		label := lang.L("Finish")
		if s.p.Settings {
			label = lang.L("Save")
		}
		body = container.NewVBox(intro(lang.L("Check the answers, then save them.")), s.summary, s.reviewNote)
		buttons = append(buttons, back(), s.button(label+" (Enter)", theme.ConfirmIcon(), widget.HighImportance, s.next))
	}
	heading := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	heading.SizeName = theme.SizeNameHeadingText
	if n := slices.Index(stepPages, pg); n >= 0 {
		heading.SetText(lang.L("Step {{.N}} of {{.Total}} — {{.Page}}",
			map[string]any{"N": n + 1, "Total": len(stepPages), "Page": title}))
	}
	row := container.NewHBox()
	if s.p.Settings && s.p.OnCancel != nil {
		row.Add(tall(56, s.button(lang.L("Cancel"), theme.CancelIcon(), widget.MediumImportance, s.cancel)))
	}
	row.Add(layout.NewSpacer())
	for _, b := range buttons {
		row.Add(tall(56, b))
	}
	top := container.NewVBox(heading, v.note)
	bottom := container.NewVBox(widget.NewSeparator(), row)
	v.content = container.NewPadded(container.NewBorder(top, bottom, nil, nil, container.NewVScroll(body)))
	return v
}

// showAccount shows the payment account's inputs when it is chosen.
func (s *SetupScreen) showAccount() {
	if s.account == nil {
		return
	}
	if s.payMode.Selected == s.payMode.Options[1] {
		s.account.Show()
	} else {
		s.account.Hide()
	}
	s.relayout()
}

// showReaderMode shows the address for the network simulator, and the
// USB reader chosen among those detected.
func (s *SetupScreen) showReaderMode() {
	if s.tcpRow == nil {
		return
	}
	mode := s.readerMode.Selected
	if mode == s.readerLabels[1] {
		s.tcpRow.Show()
	} else {
		s.tcpRow.Hide()
	}
	if mode == s.readerLabels[0] && s.usbChoice != "" {
		s.usbNote.SetText(lang.L("Chosen: {{.Reader}}", map[string]any{"Reader": strings.TrimPrefix(s.usbChoice, "usb:")}))
		s.usbNote.Show()
	} else {
		s.usbNote.Hide()
	}
	s.relayout()
}

// collect reads the answers into a form. Only the inputs' own values are
// read; a key typed before choosing the sandbox is dropped, as the review
// says.
func (s *SetupScreen) collect() SetupForm {
	f := SetupForm{
		Lane:       strings.TrimSpace(s.lane.Text),
		Currency:   strings.TrimSpace(s.currency.Text),
		Locale:     s.locale.Selected,
		HasAPIKey:  s.p.Form.HasAPIKey,
		HasPIN:     s.p.Form.HasPIN,
		UseSandbox: s.payMode.Selected == s.payMode.Options[0],
		APIBaseURL: strings.TrimSpace(s.baseURL.Text),
		PIN:        s.pin.Text,
		PINAgain:   s.pinAgain.Text,
	}
	if i := slices.Index(s.taxMode.Options, s.taxMode.Selected); i >= 0 {
		f.TaxMode = s.taxValues[i]
	}
	if i := s.language.SelectedIndex(); i >= 0 {
		f.Language = s.langTags[i]
	}
	if !f.UseSandbox {
		f.APIKey = strings.TrimSpace(s.apiKey.Text)
	}
	switch s.readerMode.Selected {
	case s.readerLabels[0]:
		f.Reader = "usb"
		if s.usbChoice != "" {
			f.Reader = s.usbChoice
		}
	case s.readerLabels[1]:
		f.Reader = "tcp://" + strings.TrimSpace(s.tcpAddr.Text)
	case s.readerLabels[2]:
		f.Reader = "simulator"
	}
	return f
}

// goTo shows page i.
func (s *SetupScreen) goTo(i int) {
	s.at = i
	pg := s.pages[i]
	if pg == pageReview {
		s.showSummary()
	}
	s.root.Objects = []fyne.CanvasObject{s.views[pg].content}
	s.root.Refresh()
	s.focusPage()
}

func (s *SetupScreen) focusPage() {
	if s.canvas == nil {
		return
	}
	v := s.views[s.pages[s.at]]
	if v.first != nil {
		s.canvas.Focus(v.first)
	} else {
		s.canvas.Unfocus()
	}
}

func (s *SetupScreen) back() {
	if s.busy || s.done || s.at == 0 || s.pages[s.at-1] == pageUnlock {
		return
	}
	s.goTo(s.at - 1)
}

func (s *SetupScreen) cancel() {
	if s.busy || s.done || s.p.OnCancel == nil {
		return
	}
	s.p.OnCancel()
}

func (s *SetupScreen) demo() {
	if s.busy || s.done || s.p.OnDemo == nil {
		return
	}
	s.p.OnDemo()
}

// next is the page's main button, and Enter: on to the next page once the
// Setup has no problem with this one's answers.
func (s *SetupScreen) next() {
	if s.busy || s.done {
		return
	}
	switch pg := s.pages[s.at]; pg {
	case pageWelcome:
		s.goTo(s.at + 1)
	case pageUnlock:
		s.unlock()
	case pageReview:
		s.save()
	default:
		s.validatePage(pg)
	}
}

func (s *SetupScreen) unlock() {
	code := s.unlockPIN.Text
	if code == "" {
		showError(s.unlockNote, lang.L("Enter the manager's PIN."))
		s.relayout()
		return
	}
	setup := s.p.Setup
	s.run(func() func() {
		err := setup.CheckPIN(code)
		return func() {
			s.unlockPIN.SetText("")
			if err != nil {
				showError(s.unlockNote, err.Error())
				s.focusPage()
				return
			}
			s.unlockNote.Hide()
			s.goTo(s.at + 1)
		}
	})
}

// validatePage asks the Setup about the whole form and moves on unless
// the page's own fields have problems; the other pages' problems wait
// for their page.
func (s *SetupScreen) validatePage(pg setupPage) {
	f := s.collect()
	setup := s.p.Setup
	s.run(func() func() {
		problems := setup.Validate(f)
		return func() {
			s.views[pg].note.Hide()
			if s.showProblems(pageFields[pg], problems) {
				return
			}
			s.goTo(s.at + 1)
		}
	})
}

// showProblems shows each of fields' problems under it, hides the others'
// labels, and says whether there was any.
func (s *SetupScreen) showProblems(fields []string, problems []FieldProblem) bool {
	shown := false
	for _, name := range fields {
		var msgs []string
		for _, p := range problems {
			if p.Field == name {
				msgs = append(msgs, p.Message)
			}
		}
		l := s.problems[name]
		if len(msgs) == 0 {
			l.Hide()
			continue
		}
		shown = true
		showError(l, strings.Join(msgs, "\n"))
	}
	return shown
}

// showSummary lists every answer on the review page; the key and the PIN
// only as whether one is new, kept or missing.
func (s *SetupScreen) showSummary() {
	f := s.collect()
	s.reviewNote.Hide()
	tax := ""
	if i := slices.Index(s.taxValues, f.TaxMode); i >= 0 {
		tax = s.taxMode.Options[i]
	}
	payments := lang.L("Built-in sandbox (practice, no real money)")
	key := lang.L("none (sandbox)")
	if !f.UseSandbox {
		payments = lang.L("My payment account at {{.URL}}", map[string]any{"URL": f.APIBaseURL})
		switch {
		case f.APIKey != "":
			key = lang.L("new key entered")
		case f.HasAPIKey:
			key = lang.L("saved key kept")
		default:
			key = lang.L("none entered")
		}
	}
	reader := ""
	switch {
	case f.Reader == "usb":
		reader = s.readerLabels[0]
	case strings.HasPrefix(f.Reader, "usb:"):
		reader = lang.L("USB reader {{.ID}}", map[string]any{"ID": strings.TrimPrefix(f.Reader, "usb:")})
	case strings.HasPrefix(f.Reader, "tcp://"):
		reader = lang.L("Simulator at {{.Address}}", map[string]any{"Address": f.Reader})
	case f.Reader == "simulator":
		reader = s.readerLabels[2]
	}
	pin := lang.L("not set")
	switch {
	case f.PIN != "":
		pin = lang.L("new PIN entered")
	case f.HasPIN:
		pin = lang.L("saved PIN kept")
	}
	rows := [][2]string{
		{lang.L("Lane"), f.Lane},
		{lang.L("Currency"), f.Currency},
		{lang.L("Locale"), f.Locale},
		{lang.L("Prices"), tax},
		{lang.L("Screen language"), languageName(f.Language)},
		{lang.L("Payments"), payments},
		{lang.L("Secret key"), key},
		{lang.L("Card reader"), reader},
		{lang.L("Manager PIN"), pin},
	}
	s.summary.RemoveAll()
	for _, r := range rows {
		value := widget.NewLabel(r[1])
		value.Wrapping = fyne.TextWrapBreak
		s.summary.Add(widget.NewLabelWithStyle(r[0], fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
		s.summary.Add(value)
	}
}

// save stores the form. A refusal goes back to the first page with a
// problem; any other failure is shown here.
func (s *SetupScreen) save() {
	f := s.collect()
	setup := s.p.Setup
	s.run(func() func() {
		err := setup.Save(f)
		return func() {
			var refused *FormError
			switch {
			case err == nil:
				s.done = true
				s.setBusy(false)
				f.HasAPIKey = f.HasAPIKey || f.APIKey != ""
				f.HasPIN = f.HasPIN || f.PIN != ""
				f.APIKey, f.PIN, f.PINAgain = "", "", ""
				s.pin.SetText("")
				s.pinAgain.SetText("")
				s.apiKey.SetText("")
				if s.p.OnDone != nil {
					s.p.OnDone(f)
				}
			case errors.As(err, &refused):
				s.refused(refused.Problems)
			default:
				showError(s.reviewNote, err.Error())
			}
		}
	})
}

// refused shows Save's problems under their fields and goes back to the
// first page that has one; problems with no field on any page are shown
// on the review page.
func (s *SetupScreen) refused(problems []FieldProblem) {
	first := -1
	for i, pg := range s.pages {
		if s.showProblems(pageFields[pg], problems) && first < 0 {
			first = i
		}
	}
	var other []string
	for _, p := range problems {
		if _, ok := s.problems[p.Field]; !ok {
			other = append(other, p.Message)
		}
	}
	if first < 0 {
		if len(other) == 0 {
			other = append(other, (&FormError{Problems: problems}).Error())
		}
		showError(s.reviewNote, strings.Join(other, "\n"))
		return
	}
	msg := lang.L("Some answers need a change before they can be saved: see below.")
	if len(other) > 0 {
		msg += "\n" + strings.Join(other, "\n")
	}
	showError(s.views[s.pages[first]].note, msg)
	s.goTo(first)
}

// checkAPI makes one call to the payment account with the address and
// key typed, and says how it went.
func (s *SetupScreen) checkAPI() {
	if s.busy || s.done {
		return
	}
	url, key := strings.TrimSpace(s.baseURL.Text), strings.TrimSpace(s.apiKey.Text)
	setup, parent := s.p.Setup, s.ctx
	s.checkNote.Importance = widget.MediumImportance
	s.checkNote.SetText(lang.L("Checking the connection…"))
	s.checkNote.Show()
	s.relayout()
	s.run(func() func() {
		ctx, cancel := context.WithTimeout(parent, checkAPITimeout)
		defer cancel()
		err := setup.CheckAPI(ctx, url, key)
		return func() {
			if err != nil {
				s.checkNote.Importance = widget.DangerImportance
				s.checkNote.SetText(lang.L("No connection: {{.Error}}", map[string]any{"Error": err.Error()}))
				return
			}
			s.checkNote.Importance = widget.SuccessImportance
			s.checkNote.SetText(lang.L("Connected: the payment service answered and accepted the key."))
		}
	})
}

// detect lists the USB readers plugged in; choosing one picks it.
func (s *SetupScreen) detect() {
	if s.busy || s.done {
		return
	}
	setup := s.p.Setup
	s.run(func() func() {
		found, err := setup.DetectReaders()
		return func() {
			s.detected.RemoveAll()
			s.detectNote.Importance = widget.MediumImportance
			switch {
			case err != nil:
				s.detectNote.Importance = widget.DangerImportance
				s.detectNote.SetText(lang.L("Looking for readers failed: {{.Error}}", map[string]any{"Error": err.Error()}))
			case len(found) == 0:
				s.detectNote.SetText(lang.L("No reader found. You can plug it in later: with \"USB reader\" chosen, Till finds it by itself."))
			default:
				s.detectNote.SetText(lang.L("Readers found: choose one, or any supported reader."))
				s.detected.Add(s.readerList(found))
			}
			s.detectNote.Show()
		}
	})
}

// readerList offers the readers found, and any supported reader.
func (s *SetupScreen) readerList(found []DetectedReader) fyne.CanvasObject {
	values := []string{""}
	labels := []string{lang.L("Any supported reader")}
	for _, r := range found {
		values = append(values, r.Reader)
		labels = append(labels, r.Label)
	}
	list := widget.NewRadioGroup(labels, nil)
	if i := slices.Index(values, s.usbChoice); i >= 0 && s.readerMode.Selected == s.readerLabels[0] {
		list.SetSelected(labels[i])
	}
	list.OnChanged = func(label string) {
		i := slices.Index(labels, label)
		if i < 0 {
			return
		}
		s.usbChoice = values[i]
		if s.readerMode.Selected == s.readerLabels[0] {
			s.showReaderMode()
		} else {
			s.readerMode.SetSelected(s.readerLabels[0])
		}
	}
	return list
}

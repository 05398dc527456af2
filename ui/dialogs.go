package ui

import (
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// popup is the one dialog open over the cashier screen. The screen's own
// modal pop-ups stand in for fyne's dialog package, which needs a window:
// these need only the canvas, have big buttons and take Enter and Escape.
type popup struct {
	pop    *widget.PopUp
	enter  func() // Enter when no entry has the focus; nil: nothing
	update func() // after each refresh of the sale, on the UI goroutine
	// typed: characters arrived with nothing focused since the last Enter,
	// as a barcode scanner types them. The Enter that follows ends the
	// scan; it does not confirm (void!) the dialog.
	typed bool
}

// openPopup shows a modal dialog with a title over the screen and
// focuses focus (or nothing, so that Enter and Escape reach the screen).
func (s *CashierScreen) openPopup(title string, body fyne.CanvasObject, size fyne.Size, focus fyne.Focusable) *popup {
	c := s.canvasOrNil()
	if c == nil {
		return nil
	}
	s.closePopup()
	heading := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	heading.SizeName = theme.SizeNameHeadingText
	p := &popup{pop: widget.NewModalPopUp(container.NewPadded(container.NewBorder(heading, nil, nil, nil, body)), c)}
	s.pop = p
	p.pop.Resize(fyne.NewSize(min(size.Width, c.Size().Width-20), min(size.Height, c.Size().Height-20)))
	p.pop.Show()
	if focus != nil {
		c.Focus(focus)
	} else {
		c.Unfocus()
	}
	return p
}

func (s *CashierScreen) closePopup() {
	if s.pop == nil {
		return
	}
	s.pop.pop.Hide()
	s.pop = nil
	s.focusScan()
}

// closeThis closes p if it is still the open dialog.
func (s *CashierScreen) closeThis(p *popup) {
	if p != nil && s.pop == p {
		s.closePopup()
	}
}

func errorLabel() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return l
}

func showError(l *widget.Label, msg string) {
	l.SetText(msg)
	l.Show()
}

// dialogEntry is an entry for a dialog: Escape closes the dialog.
func (s *CashierScreen) dialogEntry() *hookEntry {
	e := newHookEntry()
	e.onKey = func(k *fyne.KeyEvent) bool {
		if k.Name == fyne.KeyEscape {
			s.closePopup()
			return true
		}
		return false
	}
	return e
}

// dialogList is a list for a dialog. A tapped list takes the focus, and a
// plain List ignores Escape and Enter: the dialog would then stay open.
// This one hands them to the screen's keyboard, which closes (or
// confirms) the dialog.
type dialogList struct {
	widget.List
	s *CashierScreen
}

func (s *CashierScreen) dialogList(length func() int, create func() fyne.CanvasObject, update func(widget.ListItemID, fyne.CanvasObject)) *dialogList {
	l := &dialogList{s: s}
	l.Length, l.CreateItem, l.UpdateItem = length, create, update
	l.ExtendBaseWidget(l)
	return l
}

// TypedKey implements fyne.Focusable.
func (l *dialogList) TypedKey(k *fyne.KeyEvent) {
	if (k.Name == fyne.KeyEscape || k.Name == fyne.KeyReturn || k.Name == fyne.KeyEnter) && l.s.key(k.Name) {
		return
	}
	l.List.TypedKey(k)
}

// dialogSelect is a Select for a dialog: Escape closes the dialog, as
// dialogList does.
type dialogSelect struct {
	widget.Select
	s *CashierScreen
}

func (s *CashierScreen) dialogSelect(options []string) *dialogSelect {
	sel := &dialogSelect{s: s}
	sel.Options = options
	sel.ExtendBaseWidget(sel)
	return sel
}

// TypedKey implements fyne.Focusable.
func (sel *dialogSelect) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape && sel.s.key(k.Name) {
		return
	}
	sel.Select.TypedKey(k)
}

// openCash asks how much cash the customer gave, previews the change as
// the cashier types and settles the sale in cash.
func (s *CashierScreen) openCash() {
	if !s.sale.CanPayCash {
		return
	}
	reg := s.p.Register
	due := canvas.NewText(s.sale.CashDue, theme.Color(theme.ColorNameForeground))
	due.TextSize = 34
	due.TextStyle.Bold = true
	given := s.dialogEntry()
	given.SetPlaceHolder(lang.L("Amount given (empty: exact)"))
	change := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	change.SizeName = theme.SizeNameHeadingText
	problem := errorLabel()
	var p *popup
	var confirm, exact *widget.Button
	paying := false // one payment at a time: Enter pressed twice pays once
	pay := func(text string) {
		if paying {
			return
		}
		if text == "" {
			text = s.sale.CashDue // the exact amount, as the app formats (and parses) it
		}
		paying = true
		confirm.Disable()
		exact.Disable()
		s.do(func() func() {
			err := reg.PayCash(text)
			return func() {
				paying = false
				if err == nil {
					s.closeThis(p)
					return
				}
				confirm.Enable()
				exact.Enable()
				showError(problem, err.Error())
			}
		})
	}
	given.OnChanged = func(text string) {
		problem.Hide()
		if text == "" {
			change.SetText("")
			return
		}
		s.do(func() func() {
			c, err := reg.ChangeFor(text)
			return func() {
				if given.Text != text {
					return // the cashier typed on
				}
				switch {
				case err != nil:
					change.SetText("")
					showError(problem, err.Error())
				case c == "":
					change.SetText(lang.L("Not enough"))
				default:
					change.SetText(lang.L("Change: {{.Change}}", map[string]any{"Change": c}))
				}
			}
		})
	}
	given.OnSubmitted = func(text string) { pay(text) }
	exact = bigButton(lang.L("Exact amount"), nil, widget.MediumImportance, func() { pay("") })
	confirm = bigButton(lang.L("Take cash")+" (Enter)", theme.ConfirmIcon(), widget.HighImportance, func() { pay(given.Text) })
	back := bigButton(lang.L("Back")+" (Esc)", theme.CancelIcon(), widget.MediumImportance, s.closePopup)
	body := container.NewVBox(
		widget.NewLabel(lang.L("To pay in cash")), due,
		widget.NewLabel(lang.L("Amount given")), tall(56, given), change, problem,
		layout.NewSpacer(),
		container.NewGridWithColumns(3, tall(64, back), tall(64, exact), tall(64, confirm)))
	p = s.openPopup(lang.L("Cash"), body, fyne.NewSize(620, 440), given)
	if p == nil {
		return
	}
	p.update = func() {
		if !s.sale.CanPayCash {
			s.closeThis(p) // paid, voided, or no longer possible
			return
		}
		due.Text = s.sale.CashDue
		due.Refresh()
	}
}

// openDiscount asks for a discount on a line (lineID > 0) or on the whole
// cart (lineID 0), and for the manager's PIN when the Register wants it.
func (s *CashierScreen) openDiscount(lineID int, name string) {
	if !s.sale.CanEdit {
		return
	}
	reg := s.p.Register
	title := lang.L("Cart discount")
	if lineID != 0 {
		title = lang.L("Discount: {{.Name}}", map[string]any{"Name": name})
	}
	value := s.dialogEntry()
	value.SetPlaceHolder(lang.L("10% or an amount such as 1.50"))
	pin := s.dialogEntry()
	pin.Password = true
	pinRow := container.NewVBox(widget.NewLabel(lang.L("Manager PIN")), tall(56, pin))
	pinRow.Hide()
	problem := errorLabel()
	var p *popup
	var apply *widget.Button
	busy := false // one request at a time: Enter pressed twice asks once
	submit := func(v string) {
		if busy {
			return
		}
		busy = true
		apply.Disable()
		code := pin.Text
		s.do(func() func() {
			var err error
			if lineID != 0 {
				err = reg.SetLineDiscount(lineID, v, code)
			} else {
				err = reg.SetCartDiscount(v, code)
			}
			return func() {
				busy = false
				apply.Enable()
				switch {
				case err == nil:
					s.closeThis(p)
				case errors.Is(err, ErrManagerPIN):
					pinRow.Show()
					showError(problem, lang.L("This discount needs the manager's PIN."))
					s.canvasOrNil().Focus(pin)
				case errors.Is(err, ErrWrongPIN):
					pin.SetText("")
					showError(problem, err.Error())
					s.canvasOrNil().Focus(pin)
				default:
					showError(problem, err.Error())
				}
			}
		})
	}
	value.OnSubmitted = func(v string) { submit(v) }
	pin.OnSubmitted = func(string) { submit(value.Text) }
	quick := container.NewGridWithColumns(4)
	for _, q := range []string{"5%", "10%", "20%", ""} {
		label := q
		if q == "" {
			label = lang.L("No discount")
		}
		quick.Add(tall(56, widget.NewButton(label, func() {
			if !busy {
				value.SetText(q)
				submit(q)
			}
		})))
	}
	apply = bigButton(lang.L("Apply")+" (Enter)", theme.ConfirmIcon(), widget.HighImportance, func() { submit(value.Text) })
	back := bigButton(lang.L("Back")+" (Esc)", theme.CancelIcon(), widget.MediumImportance, s.closePopup)
	body := container.NewVBox(tall(56, value), quick, pinRow, problem, layout.NewSpacer(),
		container.NewGridWithColumns(2, tall(64, back), tall(64, apply)))
	p = s.openPopup(title, body, fyne.NewSize(600, 420), value)
	if p == nil {
		return
	}
	p.update = func() {
		if !s.sale.CanEdit {
			s.closeThis(p)
		}
	}
}

// confirmVoid asks before voiding: F8 is one key away from F9.
func (s *CashierScreen) confirmVoid() {
	if !s.sale.CanVoid {
		return
	}
	reg := s.p.Register
	var p *popup
	void := func() {
		s.closeThis(p)
		s.act(reg.Void)
	}
	msg := widget.NewLabel(lang.L("The sale and any card payment on it are cancelled. A void slip is kept."))
	msg.Wrapping = fyne.TextWrapWord
	keep := bigButton(lang.L("Keep the sale")+" (Esc)", theme.CancelIcon(), widget.MediumImportance, s.closePopup)
	yes := bigButton(lang.L("Void the sale")+" (Enter)", theme.DeleteIcon(), widget.DangerImportance, void)
	p = s.openPopup(lang.L("Void this sale?"), container.NewVBox(msg, layout.NewSpacer(),
		container.NewGridWithColumns(2, tall(64, keep), tall(64, yes))), fyne.NewSize(560, 260), nil)
	if p == nil {
		return
	}
	p.enter = void
	p.update = func() {
		if !s.sale.CanVoid {
			s.closeThis(p)
		}
	}
}

// shortcut is one line of the help overlay.
type shortcut struct{ Key, What string }

// shortcutHelp lists the screen's keys, translated.
func shortcutHelp() []shortcut {
	return []shortcut{
		{"F1", lang.L("This help")},
		{"F2", lang.L("Scan or search field")},
		{"Enter", lang.L("Add the scanned code; after a receipt: new sale; in a dialog: confirm")},
		{"+ / −", lang.L("One more / one less of the selected line")},
		{lang.L("Up / Down"), lang.L("Select the line above / below")},
		{lang.L("Delete"), lang.L("Remove the selected line")},
		{"F3", lang.L("Find a returning customer")},
		{"F5", lang.L("Pay by card; after a decline: try another card")},
		{"F6", lang.L("Pay in cash")},
		{"F7", lang.L("Pay with TWINT or MobilePay (QR code)")},
		{"F8", lang.L("Void the sale")},
		{"F9", lang.L("Last receipts")},
		{"Esc", lang.L("Close the dialog; cancel the card payment")},
	}
}

func (s *CashierScreen) openHelp() {
	grid := container.New(layout.NewFormLayout())
	for _, k := range shortcutHelp() {
		grid.Add(widget.NewLabelWithStyle(k.Key, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true}))
		grid.Add(widget.NewLabel(k.What))
	}
	version := widget.NewLabel(lang.L("Till version {{.Version}}", map[string]any{"Version": s.p.Version}))
	version.SizeName = theme.SizeNameCaptionText
	closeB := bigButton(lang.L("Close")+" (Esc)", nil, widget.MediumImportance, s.closePopup)
	p := s.openPopup(lang.L("Keyboard shortcuts"), container.NewBorder(nil, container.NewVBox(version, tall(56, closeB)), nil, nil,
		container.NewVScroll(grid)), fyne.NewSize(760, 620), nil)
	if p != nil {
		p.enter = s.closePopup
	}
}

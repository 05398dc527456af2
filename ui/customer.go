package ui

import (
	"errors"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// customerStrip shows the returning customer attached to the sale, above
// the tenders: who it is, a button to detach them, their saved payment
// methods, and the consent to keep the next card.
type customerStrip struct {
	s            *CashierScreen
	box          *fyne.Container
	name, detail *widget.Label
	clear, saved *widget.Button
	save         *widget.Check
	shown        *CustomerView // as last shown
	syncing      bool          // the check is being set from the sale, not by the cashier
}

func newCustomerStrip(s *CashierScreen) *customerStrip {
	c := &customerStrip{s: s}
	c.name = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	c.name.Truncation = fyne.TextTruncateEllipsis
	c.detail = widget.NewLabel("")
	c.detail.SizeName = theme.SizeNameCaptionText
	c.detail.Truncation = fyne.TextTruncateEllipsis
	c.clear = widget.NewButtonWithIcon("", theme.ContentClearIcon(), s.detachCustomer)
	c.saved = widget.NewButtonWithIcon(lang.L("Saved methods…"), theme.StorageIcon(), s.openSaved)
	c.saved.Importance = widget.HighImportance
	c.save = widget.NewCheck(lang.L("Save the card for later — the customer agrees"), func(on bool) {
		if !c.syncing {
			s.setSaveCard(on)
		}
	})
	c.save.Hide()
	who := container.New(layout.NewCustomPaddedVBoxLayout(-theme.Padding()*2), c.name, c.detail)
	row := container.NewBorder(nil, nil,
		widget.NewIcon(theme.AccountIcon()),
		container.NewHBox(tall(48, c.saved), container.NewGridWrap(fyne.NewSize(48, 48), c.clear)),
		who)
	c.box = container.NewVBox(row, c.save)
	c.box.Hide()
	return c
}

// show shows the sale's customer, if any; it says whether the strip's
// layout changed. Saved methods are a tender: offered with the others.
func (c *customerStrip) show(sale SaleView, tenders bool) bool {
	cu := sale.Customer
	moved := false
	if cu == nil {
		c.shown = nil
		return setVisible(c.box, false)
	}
	if c.shown == nil || *c.shown != *cu {
		v := *cu
		c.shown = &v
		moved = setText(c.name, cu.Name) || moved
		var parts []string
		for _, p := range []string{cu.Email, cu.Phone} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		moved = setText(c.detail, strings.Join(parts, " · ")) || moved
	}
	setEnabled(c.clear, sale.CanChooseCustomer)
	moved = setVisible(c.saved, tenders) || moved
	setEnabled(c.saved, sale.CanChargeSaved)
	if c.save.Checked != sale.SaveCard {
		c.syncing = true
		c.save.SetChecked(sale.SaveCard)
		c.syncing = false
	}
	setEnabled(c.save, sale.CanSaveCard)
	moved = setVisible(c.save, sale.CanSaveCard) || moved
	if moved {
		c.box.Refresh()
	}
	return setVisible(c.box, true) || moved
}

func (s *CashierScreen) detachCustomer() {
	if s.sale.CanChooseCustomer && s.sale.Customer != nil {
		reg := s.p.Register
		s.act(func() error { return reg.SetCustomer("") })
	}
}

func (s *CashierScreen) setSaveCard(on bool) {
	if !s.sale.CanSaveCard {
		return
	}
	reg := s.p.Register
	s.act(func() error { return reg.SetSaveCard(on) })
}

// openCustomers looks up a returning customer by email, phone or name
// and attaches the one the cashier picks to the sale.
func (s *CashierScreen) openCustomers() {
	if !s.sale.CanChooseCustomer {
		return
	}
	reg := s.p.Register
	query := s.dialogEntry()
	query.SetPlaceHolder(lang.L("Email, phone or name"))
	state := widget.NewLabel("")
	state.Wrapping = fyne.TextWrapWord
	state.Hide()
	problem := errorLabel()
	var found []CustomerView
	list := s.dialogList(
		func() int { return len(found) },
		func() fyne.CanvasObject {
			detail := widget.NewLabel("email · phone")
			detail.SizeName = theme.SizeNameCaptionText
			return container.NewVBox(widget.NewLabelWithStyle("Name", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), detail)
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			cu := found[i]
			box := o.(*fyne.Container)
			box.Objects[0].(*widget.Label).SetText(cu.Name)
			box.Objects[1].(*widget.Label).SetText(strings.Join(slices.DeleteFunc([]string{cu.Email, cu.Phone},
				func(p string) bool { return p == "" }), " · "))
		},
	)
	var p *popup
	asked := 0        // searches asked for: only the last one's answer is shown
	choosing := false // one customer at a time: a double tap attaches once
	search := func(q string) {
		q = strings.TrimSpace(q)
		if q == "" || choosing {
			return
		}
		asked++
		mine := asked
		if c := s.canvasOrNil(); c != nil {
			c.Focus(query) // after a tap on Search, typing refines the query
		}
		problem.Hide()
		state.SetText(lang.L("Searching…"))
		state.Show()
		s.do(func() func() {
			res, err := reg.FindCustomers(q)
			return func() {
				if mine != asked || s.pop != p {
					return // a newer search, or the dialog is gone
				}
				found = res
				list.UnselectAll()
				list.Refresh()
				switch {
				case errors.Is(err, ErrOffline):
					state.Hide()
					showError(problem, lang.L("Looking up customers needs a connection to the payment service. Carry on without a customer, or try again later."))
				case err != nil:
					state.Hide()
					showError(problem, err.Error())
				case len(res) == 0:
					state.SetText(lang.L("No customer matches “{{.Query}}”.", map[string]any{"Query": q}))
				default:
					state.Hide()
				}
			}
		})
	}
	choose := func(id string) {
		if choosing {
			return
		}
		choosing = true
		problem.Hide()
		s.do(func() func() {
			err := reg.SetCustomer(id)
			return func() {
				choosing = false
				if err == nil {
					s.closeThis(p)
					return
				}
				list.UnselectAll()
				showError(problem, err.Error())
			}
		})
	}
	list.OnSelected = func(i widget.ListItemID) {
		if i < len(found) {
			choose(found[i].ID)
		}
	}
	query.OnSubmitted = search
	find := bigButton(lang.L("Search")+" (Enter)", theme.SearchIcon(), widget.HighImportance, func() { search(query.Text) })
	back := bigButton(lang.L("Back")+" (Esc)", theme.CancelIcon(), widget.MediumImportance, s.closePopup)
	body := container.NewBorder(
		container.NewVBox(tall(56, query), state, problem),
		container.NewGridWithColumns(2, tall(64, back), tall(64, find)),
		nil, nil, list)
	p = s.openPopup(lang.L("Returning customer"), body, fyne.NewSize(700, 560), query)
	if p == nil {
		return
	}
	p.enter = func() { search(query.Text) }
	p.update = func() {
		if !s.sale.CanChooseCustomer {
			s.closeThis(p)
		}
	}
}

// openSaved reads the attached customer's saved payment methods off the
// UI goroutine, then offers them.
func (s *CashierScreen) openSaved() {
	if !s.sale.CanChargeSaved || s.pop != nil {
		return
	}
	reg := s.p.Register
	s.do(func() func() {
		ms, err := reg.SavedMethods()
		return func() { s.showSaved(ms, err) }
	})
}

// showSaved lists saved payment methods, each with its expiry and a
// Charge button; one the till cannot charge is greyed, with the reason.
func (s *CashierScreen) showSaved(ms []SavedMethodView, err error) {
	if s.pop != nil || !s.sale.CanChargeSaved {
		return // something else opened meanwhile, or the sale moved on
	}
	reg := s.p.Register
	problem := errorLabel()
	rows := container.NewVBox()
	var charges []*widget.Button
	var p *popup
	charging := false // one charge at a time: a double tap charges once
	enable := func(on bool) {
		for i, b := range charges {
			setEnabled(b, on && ms[i].Usable)
		}
	}
	for _, m := range ms {
		label := widget.NewLabelWithStyle(m.Label, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		info := container.NewVBox(label)
		if m.Expiry != "" {
			exp := widget.NewLabel(lang.L("Expires {{.Expiry}}", map[string]any{"Expiry": m.Expiry}))
			exp.SizeName = theme.SizeNameCaptionText
			info.Add(exp)
		}
		if !m.Usable {
			label.Importance = widget.LowImportance
			why := widget.NewLabel(m.Why)
			why.SizeName = theme.SizeNameCaptionText
			why.Importance = widget.WarningImportance
			why.Wrapping = fyne.TextWrapWord
			info.Add(why)
		}
		id := m.ID
		charge := bigButton(lang.L("Charge"), theme.ConfirmIcon(), widget.HighImportance, func() {
			if charging {
				return
			}
			charging = true
			enable(false)
			problem.Hide()
			s.do(func() func() {
				err := reg.ChargeSaved(id)
				return func() {
					charging = false
					if err == nil {
						s.closeThis(p)
						return
					}
					enable(true)
					showError(problem, err.Error())
				}
			})
		})
		setEnabled(charge, m.Usable)
		charges = append(charges, charge)
		rows.Add(container.NewBorder(nil, nil, nil, container.NewGridWrap(fyne.NewSize(180, 56), charge), info))
		rows.Add(widget.NewSeparator())
	}
	var body fyne.CanvasObject = container.NewVScroll(rows)
	switch {
	case errors.Is(err, ErrOffline):
		showError(problem, lang.L("Saved payment methods need a connection to the payment service."))
		body = layout.NewSpacer()
	case err != nil:
		showError(problem, err.Error())
		body = layout.NewSpacer()
	case len(ms) == 0:
		body = widget.NewLabel(lang.L("This customer has no saved payment methods."))
	}
	name := ""
	if s.sale.Customer != nil {
		name = s.sale.Customer.Name
	}
	closeB := bigButton(lang.L("Close")+" (Esc)", nil, widget.MediumImportance, s.closePopup)
	p = s.openPopup(lang.L("Saved payment methods of {{.Name}}", map[string]any{"Name": name}),
		container.NewBorder(nil, container.NewVBox(problem, tall(56, closeB)), nil, nil, body), fyne.NewSize(700, 520), nil)
	if p == nil {
		return
	}
	p.update = func() {
		if !s.sale.CanChargeSaved && !charging {
			s.closeThis(p)
		}
	}
}

package ui

import (
	"errors"
	"reflect"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// receiptTime is how a receipt shows when it was made: unambiguous in
// every language the till speaks.
const receiptTime = "2006-01-02 15:04"

// receiptBody draws a receipt (or void slip) as the customer would get it.
func receiptBody(r *ReceiptView) fyne.CanvasObject {
	title := lang.L("Receipt")
	if r.Voided {
		title = lang.L("Void slip — sale cancelled")
	}
	head := widget.NewLabelWithStyle(title, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	head.SizeName = theme.SizeNameSubHeadingText
	if r.Voided {
		head.Importance = widget.DangerImportance
	}
	meta := widget.NewLabelWithStyle(lang.L("Order {{.ID}}", map[string]any{"ID": r.OrderID})+"\n"+r.At.Local().Format(receiptTime),
		fyne.TextAlignCenter, fyne.TextStyle{Monospace: true})
	top := container.NewVBox(head, meta)
	if r.Pending {
		pending := widget.NewLabelWithStyle(lang.L("Payment pending"), fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
		pending.SizeName = theme.SizeNameSubHeadingText
		pending.Importance = widget.WarningImportance
		why := widget.NewLabelWithStyle(lang.L("The bank has not confirmed the payment yet. The till records the outcome when it does."),
			fyne.TextAlignCenter, fyne.TextStyle{})
		why.Wrapping = fyne.TextWrapWord
		top.Add(pending)
		top.Add(why)
	}

	lines := container.New(layout.NewFormLayout())
	for _, l := range r.Lines {
		name := lang.L("{{.Qty}} × {{.Name}}", map[string]any{"Qty": l.Quantity, "Name": l.Name})
		if l.Discount != "" {
			name += "  " + l.Discount
		}
		lines.Add(widget.NewLabel(name))
		lines.Add(widget.NewLabelWithStyle(l.Total, fyne.TextAlignTrailing, fyne.TextStyle{}))
	}
	sums := container.New(layout.NewFormLayout())
	add := func(label, value string) {
		sums.Add(widget.NewLabel(label))
		sums.Add(widget.NewLabelWithStyle(value, fyne.TextAlignTrailing, fyne.TextStyle{}))
	}
	sumRows(r.Subtotal, r.CartDiscount, r.Tax, r.TaxLines, add)
	total := canvas.NewText(r.Total, theme.Color(theme.ColorNameForeground))
	total.TextSize = 28
	total.TextStyle.Bold = true
	totalRow := container.NewBorder(nil, nil,
		container.NewCenter(widget.NewLabelWithStyle(lang.L("TOTAL"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})), total)

	tenders := container.New(layout.NewFormLayout())
	for _, t := range r.Tenders {
		tenders.Add(widget.NewLabelWithStyle(tenderKind(t.Kind), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
		tenders.Add(widget.NewLabelWithStyle(t.Amount, fyne.TextAlignTrailing, fyne.TextStyle{}))
		if t.Detail != "" {
			tenders.Add(layout.NewSpacer())
			tenders.Add(widget.NewLabelWithStyle(t.Detail, fyne.TextAlignTrailing, fyne.TextStyle{}))
		}
	}
	if r.Change != "" {
		tenders.Add(widget.NewLabelWithStyle(lang.L("Change"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
		tenders.Add(widget.NewLabelWithStyle(r.Change, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true}))
	}
	return container.NewVBox(top, widget.NewSeparator(), lines, widget.NewSeparator(), sums, totalRow,
		widget.NewSeparator(), tenders)
}

// tenderKind is a TenderView.Kind for people reading the till's
// language. Wallets keep their brand names.
func tenderKind(kind string) string {
	switch kind {
	case "Card":
		return lang.L("Card")
	case "Cash":
		return lang.L("Cash")
	case "SEPA Direct Debit":
		return lang.L("SEPA Direct Debit")
	}
	return kind
}

// showReceipt puts the sale's receipt in the right-hand pane.
func (s *CashierScreen) showReceipt(r *ReceiptView) {
	if len(s.receipt.Objects) > 0 && reflect.DeepEqual(r, s.shownReceipt) {
		return
	}
	c := *r
	s.shownReceipt = &c
	s.receipt.Objects = []fyne.CanvasObject{receiptBody(r)}
	s.receipt.Refresh()
}

// openReceipts lists the last receipts; picking one shows it in full, to
// read out or show the customer. There is no printer yet: "reprint" is
// this view.
func (s *CashierScreen) openReceipts() {
	if s.pop != nil {
		return
	}
	reg := s.p.Register
	s.do(func() func() {
		rs := reg.Receipts(20)
		return func() { s.showReceipts(rs) }
	})
}

func (s *CashierScreen) showReceipts(rs []ReceiptView) {
	if s.pop != nil {
		return // something else opened meanwhile
	}
	s.showReceiptsAt(rs, 0)
}

// showReceiptsAt opens the receipts dialog with receipt sel picked.
func (s *CashierScreen) showReceiptsAt(rs []ReceiptView, sel int) {
	detail := container.NewStack()
	var p *popup
	pick := func(i int) {
		body := fyne.CanvasObject(container.NewVScroll(receiptBody(&rs[i])))
		if rs[i].Voidable {
			r := rs[i]
			voidB := bigButton(lang.L("Void sale…"), theme.DeleteIcon(), widget.DangerImportance, func() {
				s.askVoidPaid(p, detail, r, rs)
			})
			body = container.NewBorder(nil, tall(56, voidB), nil, nil, body)
		}
		detail.Objects = []fyne.CanvasObject{body}
		detail.Refresh()
		if p != nil {
			p.enter = s.closePopup // the void form may have taken Enter
		}
	}
	list := s.dialogList(
		func() int { return len(rs) },
		func() fyne.CanvasObject {
			return container.NewVBox(widget.NewLabelWithStyle("00:00 CHF 000.00", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
				widget.NewLabel("order"))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			r := rs[i]
			box := o.(*fyne.Container)
			top := r.At.Local().Format("15:04") + "   " + r.Total
			switch {
			case r.Voided:
				top += "   " + lang.L("void")
			case r.Pending:
				top += "   " + lang.L("payment pending")
			}
			box.Objects[0].(*widget.Label).SetText(top)
			box.Objects[1].(*widget.Label).SetText(r.OrderID)
		},
	)
	list.OnSelected = func(i widget.ListItemID) { pick(i) }
	var body fyne.CanvasObject
	if len(rs) == 0 {
		body = widget.NewLabel(lang.L("No receipts yet."))
	} else {
		split := container.NewHSplit(list, detail)
		split.Offset = 0.4
		body = split
	}
	closeB := bigButton(lang.L("Close")+" (Esc)", nil, widget.MediumImportance, s.closePopup)
	p = s.openPopup(lang.L("Last receipts"), container.NewBorder(nil, tall(56, closeB), nil, nil, body), fyne.NewSize(1100, 700), nil)
	if p != nil {
		p.enter = s.closePopup
		if len(rs) > 0 {
			list.Select(min(max(sel, 0), len(rs)-1))
		}
	}
}

// askVoidPaid puts the form that voids a paid sale in place of the
// receipt r in the receipts dialog p: a reason (required) and the
// manager's PIN. Once the Register has voided the sale the dialog shows
// the receipts again, read afresh, with the same sale picked.
func (s *CashierScreen) askVoidPaid(p *popup, detail *fyne.Container, r ReceiptView, rs []ReceiptView) {
	if s.pop != p || p == nil {
		return
	}
	reg := s.p.Register
	intro := widget.NewLabel(lang.L("Void the sale {{.ID}} ({{.Total}}): card payments not yet captured are cancelled, captured ones refunded, offline ones never forwarded.",
		map[string]any{"ID": r.OrderID, "Total": r.Total}))
	intro.Wrapping = fyne.TextWrapWord
	reason := s.dialogEntry()
	reason.SetPlaceHolder(lang.L("Why, e.g. wrong item rung up"))
	pin := s.dialogEntry()
	pin.Password = true
	problem := errorLabel()
	var confirm *widget.Button
	busy := false // one void at a time: Enter pressed twice voids once
	submit := func() {
		if busy || s.pop != p {
			return
		}
		why := strings.TrimSpace(reason.Text)
		if why == "" {
			showError(problem, lang.L("Give a reason for the void."))
			s.canvasOrNil().Focus(reason)
			return
		}
		busy = true
		confirm.Disable()
		id, code := r.OrderID, pin.Text
		s.do(func() func() {
			err := reg.VoidPaid(id, why, code)
			var fresh []ReceiptView
			if err == nil {
				fresh = reg.Receipts(20)
			}
			return func() {
				busy = false
				confirm.Enable()
				switch {
				case s.pop != p:
					// The dialog was closed meanwhile.
				case err == nil:
					s.closePopup()
					s.showReceiptsAt(fresh, slices.IndexFunc(fresh, func(v ReceiptView) bool { return v.OrderID == id }))
				case errors.Is(err, ErrManagerPIN):
					showError(problem, lang.L("Voiding a paid sale needs the manager's PIN."))
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
	reason.OnSubmitted = func(string) { s.canvasOrNil().Focus(pin) }
	pin.OnSubmitted = func(string) { submit() }
	back := bigButton(lang.L("Back"), theme.NavigateBackIcon(), widget.MediumImportance, func() {
		if s.pop == p && !busy {
			s.closePopup()
			s.showReceiptsAt(rs, slices.IndexFunc(rs, func(v ReceiptView) bool { return v.OrderID == r.OrderID }))
		}
	})
	confirm = bigButton(lang.L("Void the sale"), theme.DeleteIcon(), widget.DangerImportance, submit)
	form := container.NewVBox(intro,
		widget.NewLabel(lang.L("Reason")), tall(56, reason),
		widget.NewLabel(lang.L("Manager PIN")), tall(56, pin),
		problem, layout.NewSpacer(),
		container.NewGridWithColumns(2, tall(64, back), tall(64, confirm)))
	detail.Objects = []fyne.CanvasObject{container.NewVScroll(form)}
	detail.Refresh()
	p.enter = submit
	s.canvasOrNil().Focus(reason)
}

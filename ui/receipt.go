package ui

import (
	"reflect"

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
	detail := container.NewStack()
	pick := func(i int) {
		detail.Objects = []fyne.CanvasObject{container.NewVScroll(receiptBody(&rs[i]))}
		detail.Refresh()
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
	p := s.openPopup(lang.L("Last receipts"), container.NewBorder(nil, tall(56, closeB), nil, nil, body), fyne.NewSize(1100, 700), nil)
	if p != nil {
		p.enter = s.closePopup
		if len(rs) > 0 {
			list.Select(0)
		}
	}
}

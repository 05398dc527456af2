package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// cardPanel shows a card payment under way, in place of the tender
// buttons: what the reader and the customer are doing, and the ways out.
type cardPanel struct {
	s                           *CashierScreen
	box                         *fyne.Container
	title, amount               *canvas.Text
	message, banner             *widget.Label
	progress                    *widget.ProgressBarInfinite
	cancel, retry, cash, void   *widget.Button
	editCart                    *widget.Button
	collecting, ended, simCards *fyne.Container
	sim                         *fyne.Container
}

func newCardPanel(s *CashierScreen) *cardPanel {
	c := &cardPanel{s: s}
	c.title = canvas.NewText("", theme.Color(theme.ColorNameForeground))
	c.title.TextSize = 30
	c.title.TextStyle.Bold = true
	c.title.Alignment = fyne.TextAlignCenter
	c.amount = canvas.NewText("", theme.Color(theme.ColorNameForeground))
	c.amount.TextSize = 40
	c.amount.TextStyle.Bold = true
	c.amount.Alignment = fyne.TextAlignCenter
	c.message = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{})
	c.message.Wrapping = fyne.TextWrapWord
	c.banner = widget.NewLabelWithStyle(lang.L("No connection to the payment service — take cash; the sale is kept."),
		fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	c.banner.Importance = widget.DangerImportance
	c.banner.Wrapping = fyne.TextWrapWord
	c.banner.Hide()
	c.progress = widget.NewProgressBarInfinite()
	c.progress.Hide()
	c.cancel = bigButton(lang.L("Cancel card payment")+" (Esc)", theme.CancelIcon(), widget.MediumImportance, s.cancelCard)
	c.retry = bigButton(lang.L("Try another card")+" (F5)", theme.ViewRefreshIcon(), widget.HighImportance, s.retryCard)
	c.cash = bigButton(lang.L("Cash")+" (F6)", nil, widget.HighImportance, s.openCash)
	c.void = bigButton(lang.L("Void")+" (F8)", theme.DeleteIcon(), widget.DangerImportance, s.confirmVoid)
	c.editCart = bigButton(lang.L("Change the cart"), theme.DocumentCreateIcon(), widget.MediumImportance, s.backToCart)
	c.collecting = container.NewGridWithColumns(1, tall(64, c.cancel))
	c.ended = container.NewVBox(
		container.NewGridWithColumns(3, tall(72, c.retry), tall(72, c.cash), tall(72, c.void)),
		tall(56, c.editCart))
	c.simCards = container.NewGridWithColumns(2)
	c.sim = container.NewVBox(widget.NewSeparator(),
		widget.NewLabelWithStyle(lang.L("Simulated reader: play the customer"), fyne.TextAlignLeading, fyne.TextStyle{Italic: true}),
		c.simCards)
	c.sim.Hide()
	c.box = container.NewVBox(c.title, c.amount, c.banner, c.message, c.progress, c.collecting, c.ended, c.sim)
	c.box.Hide()
	c.showSimulator(s.cards)
	return c
}

// showSimulator adds a button per test card and one for the customer's
// cancel key. The calls run on the worker, like every other action.
func (c *cardPanel) showSimulator(cards []string) {
	sim := c.s.p.Simulator
	if sim == nil {
		return
	}
	objs := make([]fyne.CanvasObject, 0, len(cards)+1)
	for _, card := range cards {
		objs = append(objs, tall(48, widget.NewButton(lang.L("Tap {{.Card}}", map[string]any{"Card": card}),
			func() { c.s.act(func() error { return sim.PresentCard(card) }) })))
	}
	objs = append(objs, tall(48, widget.NewButton(lang.L("Customer cancels"), func() { c.s.act(sim.CustomerCancel) })))
	c.simCards.Objects = objs
	c.simCards.Refresh()
}

// show shows the card payment's step; it says whether the panel appeared
// or went.
func (c *cardPanel) show(sale SaleView) bool {
	if sale.Stage != StageCard {
		c.progress.Stop()
		return setVisible(c.box, false)
	}
	v := sale.Card
	fg, danger := theme.Color(theme.ColorNameForeground), theme.Color(theme.ColorNameError)
	title, colour, busy, collecting, loud := "", fg, false, false, false
	retry := lang.L("Try again")
	switch v.Step {
	case CardCreating:
		title, busy, collecting = lang.L("Setting up the card payment…"), true, true
	case CardPresent:
		title, collecting = lang.L("Present card"), true
	case CardReading:
		title, busy, collecting = lang.L("Reading the card…"), true, true
	case CardProcessing:
		title, busy, collecting = lang.L("Authorising…"), true, true
	case CardDeclined:
		title, colour, retry = lang.L("Card declined"), danger, lang.L("Try another card")
	case CardCancelled:
		title, retry = lang.L("Card payment cancelled"), lang.L("Try another card")
	case CardOffline:
		title, colour = lang.L("Offline"), danger
	case CardReaderProblem:
		title, colour = lang.L("Card reader problem"), danger
	case CardAuthenticate:
		// The bank wants the customer to authenticate, which a saved card
		// charged at the till cannot do: the message says so, and the
		// same payment goes to the reader.
		title, colour, retry, loud = lang.L("The bank asks for authentication"),
			theme.Color(theme.ColorNameWarning), lang.L("Use the card reader"), true
	}
	if c.title.Text != title || c.title.Color != colour {
		c.title.Text, c.title.Color = title, colour
		c.title.Refresh()
	}
	moved := setVisible(c.banner, v.Step == CardOffline)
	if c.amount.Text != v.Amount {
		c.amount.Text = v.Amount
		c.amount.Refresh()
	}
	moved = c.emphasise(loud) || moved
	setText(c.message, v.Message)
	moved = setVisible(c.message, v.Message != "" && v.Message != title) || moved
	moved = setVisible(c.progress, busy) || moved
	if busy {
		c.progress.Start()
	} else {
		c.progress.Stop()
	}
	if retry += " (F5)"; c.retry.Text != retry {
		c.retry.SetText(retry)
	}
	moved = setVisible(c.collecting, collecting) || moved
	moved = setVisible(c.ended, !collecting) || moved
	setEnabled(c.cancel, sale.CanCancelCard)
	setEnabled(c.retry, sale.CanRetryCard)
	setEnabled(c.cash, sale.CanPayCash)
	setEnabled(c.void, sale.CanVoid)
	moved = setVisible(c.editCart, sale.CanBackToCart) || moved
	moved = setVisible(c.sim, c.s.p.Simulator != nil && collecting) || moved
	if moved {
		c.box.Refresh()
	}
	return setVisible(c.box, true) || moved
}

// emphasise makes the message large and coloured when it is what the cashier
// must read first; it says whether that changed.
func (c *cardPanel) emphasise(loud bool) bool {
	size, imp := theme.SizeNameText, widget.MediumImportance
	if loud {
		size, imp = theme.SizeNameSubHeadingText, widget.WarningImportance
	}
	if c.message.SizeName == size && c.message.Importance == imp {
		return false
	}
	// Not bold: a wrapped label measures its lines in the regular weight,
	// and bold lines would run over its edges.
	c.message.SizeName, c.message.Importance = size, imp
	c.message.Refresh()
	return true
}

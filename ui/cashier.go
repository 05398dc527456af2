package ui

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// CashierParams configures a CashierScreen.
type CashierParams struct {
	Register Register
	Settings Settings // nil hides the settings button
	// Simulator is set only with the built-in simulated reader: the card
	// panel then offers buttons that play the customer.
	Simulator CardSimulator
	// WalletSimulator is set only with the built-in sandbox payment
	// service: the wallet panel then offers buttons that play the
	// customer's phone.
	WalletSimulator WalletSimulator
	Version         string
	// Now is the clock for the status bar's ages and the wallet payment's
	// countdown; time.Now when nil. It is called from the screen's own
	// goroutines, so it must be safe for concurrent use.
	Now   func() time.Time
	Every time.Duration // how often ages are refreshed without a change; 5s when zero
	// OnApplied, when set, is called on the UI goroutine each time the
	// screen has shown a sale view (after a change, an action or a tick),
	// e.g. for a screenshot tour to know what is on screen. It must not
	// block.
	OnApplied func(SaleView)
	// Do runs the screen's widget updates on the UI goroutine; fyne.Do
	// when nil. Fyne's test driver runs fyne.Do at once on the calling
	// goroutine, so tests that tap while the screen updates pass a Do that
	// takes turns with their taps.
	Do func(func())
}

// CashierScreen is the till's main screen: the product grid and the
// scan field on the left, the cart, totals and tenders (card, cash, the
// wallets, a returning customer's saved methods) on the right, the card or
// wallet payment's progress (a wallet's QR code with its countdown), the
// receipt after each sale, and the status bar along the bottom.
//
// Every call into the Register, the Settings and the simulators runs on
// the screen's worker goroutine, one at a time in the order the cashier
// asked, and is followed there by a read of Sale and Status; the result
// comes back to the screen's refresh goroutine, which alone hands widget
// updates to the UI goroutine (through fyne.Do). Buttons are enabled
// exactly as SaleView's Can flags say. Refreshes update the widgets in
// place; they are rebuilt only when what they show changed.
//
// The keyboard (also shown by F1): F1 help, F2 the scan field, Enter adds
// the typed code (after a receipt: next sale; in a dialog: confirm),
// + and − change the selected cart line's quantity and Delete removes it
// (Up and Down select), F3 a returning customer, F5 card (after a decline:
// try another card; after a failed wallet payment: try again), F6 cash, F7
// the first wallet (TWINT, MobilePay) that takes the sale, F8 void (asks
// first), F9 the last receipts, Escape closes a dialog or cancels the card
// collection. The scan field keeps the focus (taps
// give it back at once), so a USB barcode scanner (which types the code,
// then Enter) works at any time. While a dialog is open the screen's keys
// wait; a code scanned over a dialog without an entry is dropped, and its
// Enter does not confirm the dialog.
type CashierScreen struct {
	p CashierParams
	// onUI runs a function on the UI goroutine: fyne.Do. Tests wrap it:
	// the test driver's fyne.Do runs the function at once, on the calling
	// goroutine, where the real driver queues it behind the event being
	// handled.
	onUI func(func())

	running sync.WaitGroup // the worker and refresh goroutines, after Start
	results chan func()
	wake    chan struct{}
	typed   chan struct{} // the search field changed: search once typing pauses
	mu      sync.Mutex
	queue   []func() func() // jobs: each runs off the UI goroutine and returns what to show
	reading bool            // a read of the sale is queued and not yet begun
	latest  string          // the search the cashier typed last ("" none)
	// counting: a countdown is on screen, so the refresh goroutine ticks
	// every second; clock tells it that counting changed.
	counting atomic.Bool
	clock    chan struct{}

	// Owned by the UI goroutine from here on.
	root   *fyne.Container // stable: its content is rebuilt on a language change
	canvas fyne.Canvas
	cats   []string
	cat    string
	shown  []ProductView // the products in the grid
	query  string        // the search the grid shows, "" for the category
	cards  []string      // the simulator's test cards
	sale   SaleView      // as last read
	status StatusBarView
	now    time.Time
	sel    int // the selected cart line's ID; 0 when none
	pop    *popup

	scan           *hookEntry
	left, leftTop  *fyne.Container
	notice         *widget.Label
	catBar         *fyne.Container
	catButtons     []*widget.Button
	grid           *fyne.Container
	productButtons []*widget.Button
	lines          *fyne.Container
	rows           []*cartRow // the rows in lines, one per cart line
	linesScroll    *container.Scroll
	shownLines     []LineView
	shownSel       int
	shownEdit      bool
	empty          *widget.Label
	totals         *fyne.Container
	total          *canvas.Text
	due            *widget.Label
	offline        *widget.Label
	charge, cash   *widget.Button
	cartDisc, void *widget.Button
	customer       *widget.Button
	walletRow      *fyne.Container
	walletTenders  []*walletTender // the buttons in walletRow, one per SaleView.Wallets entry
	tender         *fyne.Container
	cart           *fyne.Container
	card           *cardPanel
	cardScroll     *container.Scroll
	wallet         *walletPanel
	cust           *customerStrip
	receipt        *fyne.Container
	receiptPane    *fyne.Container
	right          *fyne.Container
	cartBottom     *fyne.Container
	gridScroll     *container.Scroll
	shownReceipt   *ReceiptView
	newSale        *widget.Button
	bar            *statusBar
}

// NewCashierScreen builds the screen. Call Attach with the window's canvas
// for keyboard shortcuts and dialogs, and Start to bring it to life.
func NewCashierScreen(p CashierParams) *CashierScreen {
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Every <= 0 {
		p.Every = 5 * time.Second
	}
	if p.Do == nil {
		p.Do = fyne.Do
	}
	s := &CashierScreen{p: p, onUI: p.Do,
		results: make(chan func()), wake: make(chan struct{}, 1), typed: make(chan struct{}, 1), clock: make(chan struct{}, 1),
		root:   container.NewStack(),
		status: StatusBarView{Connectivity: ConnUnknown, Reader: ReaderConnecting}, // until the first read
	}
	s.build()
	return s
}

// Content is the screen's root object. It stays the same object for the
// screen's life, also when the screen is rebuilt in another language.
func (s *CashierScreen) Content() fyne.CanvasObject { return s.root }

// Attach binds the screen to the canvas of the window that shows it: the
// keyboard shortcuts (see shortcutHelp) work from then on, dialogs open
// over it, and the scan field takes the focus. Call it on the UI goroutine
// after the window's content is set.
//
// Plain function keys are not desktop.CustomShortcut: Fyne's desktop driver
// only triggers a custom shortcut when Ctrl, Alt or Super is held. The
// screen takes its keys from the scan field (which has the focus almost
// always) and from the canvas when nothing has the focus.
func (s *CashierScreen) Attach(c fyne.Canvas) {
	s.canvas = c
	c.SetOnTypedKey(func(k *fyne.KeyEvent) { s.key(k.Name) })
	c.SetOnTypedRune(func(r rune) {
		if s.pop != nil {
			// A scan while a dialog waits for Enter: its Enter ends the
			// code and must not confirm the dialog (see key).
			s.pop.typed = true
			return
		}
		// Nothing has the focus (a button was tapped): a scanner's or the
		// cashier's typing goes to the scan field.
		if !s.lineKey(r) {
			s.focusScan()
			s.scan.TypedRune(r)
		}
	})
	s.focusScan()
}

// Wait returns once the goroutines Start began have ended, after its
// context is done.
func (s *CashierScreen) Wait() { s.running.Wait() }

// Changed asks the screen to read the sale and the status bar again. It
// never blocks and may be called from any goroutine; bursts coalesce into
// one read.
func (s *CashierScreen) Changed() {
	s.mu.Lock()
	if s.reading {
		s.mu.Unlock()
		return
	}
	s.reading = true
	s.queue = append(s.queue, s.read)
	s.mu.Unlock()
	s.poke()
}

// read is the worker's job for Changed: the worker reads the sale after
// every job, so this one only lets the next Changed queue another read.
func (s *CashierScreen) read() func() {
	s.mu.Lock()
	s.reading = false
	s.mu.Unlock()
	return nil
}

// Start subscribes to the Register, loads the catalog and keeps the screen
// current until ctx is done: on every change, after every action, every
// CashierParams.Every so the status bar's ages move, and every second
// while a wallet payment's countdown is shown (the countdown alone: those
// ticks call nothing in the Register).
func (s *CashierScreen) Start(ctx context.Context) {
	s.p.Register.Subscribe(s.Changed)
	reg, sim := s.p.Register, s.p.Simulator
	s.do(func() func() {
		cats := reg.Categories()
		var prods []ProductView
		if len(cats) > 0 {
			prods = reg.Products(cats[0])
		}
		var cards []string
		if sim != nil {
			cards = sim.TestCards()
		}
		return func() { s.catalogLoaded(cats, prods, cards) }
	})
	s.Changed()
	s.running.Go(func() { s.work(ctx) })
	s.running.Go(func() { s.refresh(ctx) })
}

// do queues a job for the worker. A job runs off the UI goroutine and
// returns a function (or nil) that the refresh goroutine applies through
// fyne.Do. do never blocks, so the UI goroutine may call it.
func (s *CashierScreen) do(job func() func()) {
	s.mu.Lock()
	s.queue = append(s.queue, job)
	s.mu.Unlock()
	s.poke()
}

func (s *CashierScreen) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *CashierScreen) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if len(s.queue) == 0 {
				s.mu.Unlock()
				break
			}
			job := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			show := job()
			// Every job may have changed the sale: read it here, on the
			// worker, like every other Register call.
			sale, st, now := s.p.Register.Sale(), s.p.Register.Status(), s.p.Now()
			select {
			case s.results <- func() {
				if show != nil {
					show()
				}
				s.apply(sale, st, now)
			}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// searchDelay is how long typing must pause before the grid follows the
// search field. A barcode scanner types a whole code and Enter faster, so
// a scan never makes the grid flash through the matches of half a code.
const searchDelay = 150 * time.Millisecond

func (s *CashierScreen) refresh(ctx context.Context) {
	tick := time.NewTicker(s.p.Every)
	defer tick.Stop()
	pause := time.NewTimer(searchDelay)
	pause.Stop()
	// secs ticks every second while a countdown is shown, and only then.
	var secs *time.Ticker
	var secC <-chan time.Time
	defer func() {
		if secs != nil {
			secs.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			pause.Stop()
			return
		case <-tick.C:
			s.Changed() // the status bar's ages move on
		case <-s.clock:
			switch on := s.counting.Load(); {
			case on && secs == nil:
				secs = time.NewTicker(time.Second)
				secC = secs.C
			case !on && secs != nil:
				secs.Stop()
				secs, secC = nil, nil
			}
		case <-secC:
			now := s.p.Now()
			s.onUI(func() { s.wallet.tick(now) })
		case <-s.typed:
			pause.Reset(searchDelay)
		case <-pause.C:
			s.do(s.searchJob)
		case show := <-s.results:
			s.onUI(show)
		}
	}
}

// searchJob runs the search the cashier typed last, if it is still there.
func (s *CashierScreen) searchJob() func() {
	s.mu.Lock()
	q := s.latest
	s.mu.Unlock()
	if q == "" {
		return nil // cleared (a scan ended) before typing paused
	}
	prods := s.p.Register.Search(q)
	return func() {
		if s.query == q {
			s.showProducts(prods)
		}
	}
}

// build makes the widgets in the current language.
func (s *CashierScreen) build() {
	s.bar = newStatusBar(s)
	s.card = newCardPanel(s)
	s.wallet = newWalletPanel(s)
	s.cust = newCustomerStrip(s)

	s.scan = newHookEntry()
	s.scan.SetPlaceHolder(lang.L("Scan or type a barcode, or search (F2)"))
	s.scan.OnSubmitted = s.submitScan
	s.scan.OnChanged = s.search
	s.scan.onKey = s.scanKey
	s.scan.onRune = func(r rune) bool { return s.scan.Text == "" && s.lineKey(r) }
	s.notice = widget.NewLabel("")
	s.notice.Importance = widget.DangerImportance
	s.notice.Wrapping = fyne.TextWrapWord
	s.notice.Hide()
	s.catBar = container.NewHBox()
	s.grid = container.NewGridWrap(fyne.NewSize(168, 96))
	s.leftTop = container.NewVBox(tall(56, s.scan), s.notice, tall(60, container.NewHScroll(s.catBar)))
	s.gridScroll = container.NewVScroll(s.grid)
	s.left = container.NewBorder(s.leftTop, s.bar.warnings, nil, nil, s.gridScroll)
	s.bar.relayout = s.left.Refresh

	s.lines = container.NewVBox()
	s.rows = nil
	s.empty = widget.NewLabelWithStyle(lang.L("Scan or tap a product to start a sale."), fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	s.linesScroll = container.NewVScroll(container.NewVBox(s.lines, s.empty))
	s.totals = container.New(layout.NewFormLayout())
	s.total = canvas.NewText("", theme.Color(theme.ColorNameForeground))
	s.total.TextSize = 34
	s.total.TextStyle = fyne.TextStyle{Bold: true}
	s.total.Alignment = fyne.TextAlignTrailing
	s.due = widget.NewLabelWithStyle("", fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
	s.due.Hide()
	totalRow := container.NewBorder(nil, nil,
		container.NewCenter(widget.NewLabelWithStyle(lang.L("TOTAL"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})), nil, s.total)

	s.offline = widget.NewLabel(lang.L("Offline: cash always works; card payments may have to wait."))
	s.offline.Importance = widget.WarningImportance
	s.offline.Wrapping = fyne.TextWrapWord
	s.offline.Hide()
	s.charge = bigButton(lang.L("Card")+" (F5)", theme.AccountIcon(), widget.HighImportance, s.chargeCard)
	s.cash = bigButton(lang.L("Cash")+" (F6)", nil, widget.HighImportance, s.openCash)
	s.cartDisc = bigButton(lang.L("Cart discount"), nil, widget.MediumImportance, func() { s.openDiscount(0, "") })
	s.void = bigButton(lang.L("Void")+" (F8)", theme.DeleteIcon(), widget.DangerImportance, s.confirmVoid)
	s.customer = bigButton(lang.L("Customer…")+" (F3)", theme.AccountIcon(), widget.MediumImportance, s.openCustomers)
	s.walletRow = container.NewGridWithColumns(1)
	s.walletRow.Hide()
	s.walletTenders = nil
	s.tender = container.NewVBox(
		s.offline,
		container.NewGridWithColumns(2, tall(72, s.charge), tall(72, s.cash)),
		s.walletRow,
		container.NewGridWithColumns(3, tall(56, s.customer), tall(56, s.cartDisc), tall(56, s.void)),
	)

	s.cartBottom = container.NewVBox(widget.NewSeparator(), s.totals, totalRow, s.due, s.cust.box, s.tender)
	// During a card or wallet payment its panel takes the place of the
	// lines. A hidden panel's scroll is hidden too: a visible one, even
	// empty, would take the mouse wheel from the lines under it.
	s.cardScroll = container.NewVScroll(s.card.box)
	s.cardScroll.Hide()
	s.cart = container.NewBorder(
		widget.NewLabelWithStyle(lang.L("Cart"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		s.cartBottom,
		nil, nil, container.NewStack(s.linesScroll, s.cardScroll, s.wallet.scroll))

	s.receipt = container.NewVBox()
	s.newSale = bigButton(lang.L("New sale")+" (Enter)", theme.ContentAddIcon(), widget.HighImportance, s.startNewSale)
	s.receiptPane = container.NewBorder(nil,
		container.NewGridWithColumns(2, tall(72, s.newSale),
			tall(72, bigButton(lang.L("Receipts")+" (F9)", theme.DocumentIcon(), widget.MediumImportance, s.openReceipts))),
		nil, nil, container.NewVScroll(s.receipt))
	s.receiptPane.Hide()

	s.right = container.NewStack(s.cart, s.receiptPane)
	split := container.NewHSplit(container.NewPadded(s.left), container.NewPadded(s.right))
	split.Offset = 0.55
	s.root.Objects = []fyne.CanvasObject{container.NewBorder(nil, s.bar.box, nil, nil, split)}
	s.root.Refresh()
	s.showCategories()
	s.showProducts(s.shown)
	s.shownLines, s.shownSel = nil, -1
	s.apply(s.sale, s.status, s.now)
}

// rebuild remakes the screen's widgets, after a language change.
func (s *CashierScreen) rebuild() {
	s.closePopup()
	s.card.progress.Stop()
	s.wallet.progress.Stop()
	s.build()
	s.focusScan()
}

func (s *CashierScreen) catalogLoaded(cats []string, prods []ProductView, cards []string) {
	s.cats, s.cards = cats, cards
	if len(cats) > 0 {
		s.cat = cats[0]
	}
	s.showCategories()
	s.showProducts(prods)
	s.card.showSimulator(cards)
}

// showCategories makes a button per category, once per catalog.
func (s *CashierScreen) showCategories() {
	s.catButtons = s.catButtons[:0]
	objs := make([]fyne.CanvasObject, 0, len(s.cats))
	for _, c := range s.cats {
		b := widget.NewButton(c, func() { s.pickCategory(c) })
		s.catButtons = append(s.catButtons, b)
		objs = append(objs, tall(56, b))
	}
	s.catBar.Objects = objs
	s.markCategory()
	s.left.Refresh()
}

// markCategory highlights the category the grid shows, none during a
// search. It updates the buttons in place: a scanner types a search on
// every key.
func (s *CashierScreen) markCategory() {
	for i, b := range s.catButtons {
		imp := widget.MediumImportance
		if s.cats[i] == s.cat && s.query == "" {
			imp = widget.HighImportance
		}
		if b.Importance != imp {
			b.Importance = imp
			b.Refresh()
		}
	}
}

func (s *CashierScreen) pickCategory(c string) {
	s.cat, s.query = c, ""
	if s.scan.Text != "" {
		s.scan.SetText("") // OnChanged searches "": back here
	}
	s.markCategory()
	reg := s.p.Register
	s.do(func() func() {
		prods := reg.Products(c)
		return func() {
			if s.cat == c && s.query == "" {
				s.showProducts(prods)
			}
		}
	})
	s.focusScan()
}

// showProducts fills the grid; it keeps the buttons (and the scroll
// position) when the products are the ones shown, as after every scan.
func (s *CashierScreen) showProducts(prods []ProductView) {
	if len(s.grid.Objects) == len(prods) && slices.Equal(prods, s.shown) {
		s.enableProducts()
		return
	}
	s.shown = prods
	s.productButtons = s.productButtons[:0]
	objs := make([]fyne.CanvasObject, 0, len(prods))
	for _, p := range prods {
		b := widget.NewButton("", func() { s.addProduct(p.SKU) })
		name := widget.NewLabelWithStyle(p.Name, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
		name.Truncation = fyne.TextTruncateEllipsis
		price := widget.NewLabelWithStyle(p.Price, fyne.TextAlignCenter, fyne.TextStyle{})
		s.productButtons = append(s.productButtons, b)
		objs = append(objs, container.NewStack(b, container.NewVBox(layout.NewSpacer(), name, price, layout.NewSpacer())))
	}
	s.grid.Objects = objs
	s.gridScroll.ScrollToTop()
	s.gridScroll.Refresh()
	s.enableProducts()
}

// canRingUp: products can be added now, to this sale or (after a
// receipt) to the next one.
func (s *CashierScreen) canRingUp() bool { return s.sale.CanEdit || s.sale.CanNewSale }

func (s *CashierScreen) enableProducts() {
	for _, b := range s.productButtons {
		setEnabled(b, s.canRingUp())
	}
}

// search runs as the cashier (or a scanner) types: the grid shows what
// matches, or the category again when the field is empty.
func (s *CashierScreen) search(q string) {
	s.query = q
	s.mu.Lock()
	s.latest = q
	s.mu.Unlock()
	if q == "" {
		s.pickCategory(s.cat)
		return
	}
	s.markCategory()
	select { // searched once typing pauses: see searchDelay
	case s.typed <- struct{}{}:
	default:
	}
}

// submitScan is Enter in the scan field: a scanner ends every code with
// it. The field is cleared at once, ready for the next scan.
func (s *CashierScreen) submitScan(code string) {
	if code == "" {
		return
	}
	s.hideNotice()
	defer s.scan.SetText("") // after the scan is queued: clearing it shows the category again
	reg, next := s.p.Register, s.sale.CanNewSale && !s.sale.CanEdit
	s.do(func() func() {
		var err error
		if next {
			err = reg.NewSale()
		}
		if err == nil {
			err = reg.Scan(code)
		}
		// Enter after typing a name that leaves one product adds it.
		if errors.Is(err, ErrUnknownCode) {
			if found := reg.Search(code); len(found) == 1 {
				err = reg.Add(found[0].SKU)
			}
		}
		return func() {
			switch {
			case errors.Is(err, ErrUnknownCode):
				s.showNotice(lang.L("Unknown code {{.Code}}: no product has it.", map[string]any{"Code": code}))
			case err != nil:
				s.showNotice(err.Error())
			}
			s.focusScan()
		}
	})
}

func (s *CashierScreen) addProduct(sku string) {
	s.hideNotice()
	reg, next := s.p.Register, s.sale.CanNewSale && !s.sale.CanEdit
	s.act(func() error {
		if next {
			if err := reg.NewSale(); err != nil {
				return err
			}
		}
		return reg.Add(sku)
	})
}

// act runs a Register call on the worker and shows its error, if any,
// under the scan field.
//
// The scan field takes the focus back at once: a tap on a button leaves
// nothing focused (the desktop driver unfocuses on the press), and the
// next scan must land in the field even while the call runs.
func (s *CashierScreen) act(call func() error) {
	s.focusScan()
	s.do(func() func() {
		err := call()
		return func() {
			if err != nil {
				s.showNotice(err.Error())
			}
			s.focusScan()
		}
	})
}

func (s *CashierScreen) showNotice(msg string) {
	s.notice.SetText(msg)
	if setVisible(s.notice, true) {
		s.left.Refresh()
	}
}

func (s *CashierScreen) hideNotice() {
	s.notice.SetText("")
	if setVisible(s.notice, false) {
		s.left.Refresh()
	}
}

func (s *CashierScreen) focusScan() {
	if c := s.canvasOrNil(); c != nil && s.pop == nil {
		c.Focus(s.scan)
	}
}

func (s *CashierScreen) canvasOrNil() fyne.Canvas {
	if s.canvas != nil {
		return s.canvas
	}
	if a := fyne.CurrentApp(); a != nil {
		return a.Driver().CanvasForObject(s.root)
	}
	return nil
}

func (s *CashierScreen) chargeCard() {
	if !s.sale.CanCharge {
		return
	}
	s.hideNotice()
	s.act(s.p.Register.ChargeCard)
}

func (s *CashierScreen) startNewSale() {
	if !s.sale.CanNewSale {
		return
	}
	s.act(s.p.Register.NewSale)
}

// changeQuantity adds by (+1 or −1) to a line's quantity; one less of the
// last one removes the line. The worker counts from the sale as it is when
// the call runs, not as the screen last showed it: + pressed three times
// before the screen caught up is three more, not one.
func (s *CashierScreen) changeQuantity(id int, by int64) {
	if !s.sale.CanEdit {
		return
	}
	s.sel = id
	reg := s.p.Register
	s.act(func() error {
		lines := reg.Sale().Lines
		i := slices.IndexFunc(lines, func(l LineView) bool { return l.ID == id })
		if i < 0 {
			return nil // already removed by an earlier key
		}
		if qty := lines[i].Quantity + by; qty > 0 {
			return reg.SetQuantity(id, qty)
		}
		return reg.Remove(id)
	})
}

func (s *CashierScreen) removeLine(id int) {
	if !s.sale.CanEdit {
		return
	}
	reg := s.p.Register
	s.act(func() error { return reg.Remove(id) })
}

func (s *CashierScreen) selectedLine() (LineView, bool) {
	for _, l := range s.sale.Lines {
		if l.ID == s.sel {
			return l, true
		}
	}
	return LineView{}, false
}

// lineKey handles + and − typed for the selected line.
func (s *CashierScreen) lineKey(r rune) bool {
	l, ok := s.selectedLine()
	if !ok || !s.sale.CanEdit {
		return false
	}
	switch r {
	case '+':
		s.changeQuantity(l.ID, 1)
	case '-', '−':
		s.changeQuantity(l.ID, -1)
	default:
		return false
	}
	return true
}

func (s *CashierScreen) moveSelection(by int) {
	i := slices.IndexFunc(s.sale.Lines, func(l LineView) bool { return l.ID == s.sel })
	if i < 0 || len(s.sale.Lines) == 0 {
		return
	}
	i = min(max(i+by, 0), len(s.sale.Lines)-1)
	s.sel = s.sale.Lines[i].ID
	s.showLines(true)
}

// scanKey sees the keys typed into the scan field before it does.
func (s *CashierScreen) scanKey(k *fyne.KeyEvent) bool {
	switch k.Name {
	case fyne.KeyEscape:
		if s.scan.Text != "" && !s.sale.CanCancelCard {
			s.scan.SetText("") // and the grid shows the category again
			return true
		}
	case fyne.KeyReturn, fyne.KeyEnter, fyne.KeyDelete, fyne.KeyUp, fyne.KeyDown:
		if s.scan.Text != "" {
			return false // Enter submits the code; Delete edits it
		}
	}
	return s.key(k.Name)
}

// key is the screen's keyboard: see shortcutHelp. + and − arrive as
// runes (lineKey): the desktop driver sends both a key and a rune for
// them, and acting on both would count twice.
func (s *CashierScreen) key(k fyne.KeyName) bool {
	if p := s.pop; p != nil {
		switch {
		case k == fyne.KeyEscape:
			s.closePopup()
		case (k == fyne.KeyReturn || k == fyne.KeyEnter) && p.typed:
			p.typed = false // the end of a scan, not the cashier's answer
		case (k == fyne.KeyReturn || k == fyne.KeyEnter) && p.enter != nil:
			p.enter()
		default:
			return false
		}
		return true
	}
	switch k {
	case fyne.KeyF1:
		s.openHelp()
	case fyne.KeyF2:
		s.focusScan()
	case fyne.KeyF3:
		s.openCustomers()
	case fyne.KeyF5:
		switch {
		case s.sale.CanCharge:
			s.chargeCard()
		case s.sale.CanRetryCard:
			s.retryCard()
		case s.sale.CanRetryWallet:
			s.retryWallet()
		}
	case fyne.KeyF6:
		s.openCash()
	case fyne.KeyF7:
		s.chargeFirstWallet()
	case fyne.KeyF8:
		s.confirmVoid()
	case fyne.KeyF9:
		s.openReceipts()
	case fyne.KeyEscape:
		if s.sale.CanCancelCard {
			s.cancelCard()
		}
	case fyne.KeyReturn, fyne.KeyEnter:
		s.startNewSale()
	case fyne.KeyDelete:
		if l, ok := s.selectedLine(); ok {
			s.removeLine(l.ID)
		}
	case fyne.KeyUp:
		s.moveSelection(-1)
	case fyne.KeyDown:
		s.moveSelection(1)
	default:
		return false
	}
	return true
}

func (s *CashierScreen) retryCard() {
	if s.sale.CanRetryCard {
		s.act(s.p.Register.RetryCard)
	}
}

// backToCart reopens the cart after a declined or cancelled card.
func (s *CashierScreen) backToCart() {
	if s.sale.CanBackToCart {
		s.act(s.p.Register.BackToCart)
	}
}

func (s *CashierScreen) cancelCard() {
	if s.sale.CanCancelCard {
		s.act(s.p.Register.CancelCard)
	}
}

// apply shows the sale and the status bar as last read.
func (s *CashierScreen) apply(sale SaleView, st StatusBarView, now time.Time) {
	s.sale, s.status, s.now = sale, st, now
	s.bar.show(st, now)
	s.enableProducts()

	done := (sale.Stage == StageDone || sale.Stage == StageVoided) && sale.Receipt != nil
	if done {
		s.showReceipt(sale.Receipt)
	}
	moved := setVisible(s.receiptPane, done)
	moved = setVisible(s.cart, !done) || moved
	setEnabled(s.newSale, sale.CanNewSale)

	s.showLines(false)
	s.showTotals()

	setEnabled(s.charge, sale.CanCharge)
	setEnabled(s.cash, sale.CanPayCash)
	setEnabled(s.void, sale.CanVoid)
	setEnabled(s.cartDisc, sale.CanEdit && len(sale.Lines) > 0)
	setEnabled(s.customer, sale.CanChooseCustomer)
	moved = s.showWallets() || moved
	moved = setVisible(s.offline, st.Connectivity == ConnOffline && sale.Stage == StageCart && len(sale.Lines) > 0) || moved
	paying := sale.Stage == StageCard || sale.Stage == StageWallet
	moved = setVisible(s.tender, !paying) || moved
	moved = s.cust.show(sale, !paying) || moved
	moved = setVisible(s.linesScroll, !paying) || moved
	moved = s.card.show(sale) || moved
	moved = setVisible(s.cardScroll, sale.Stage == StageCard) || moved
	moved = s.wallet.show(sale, now) || moved
	if s.counting.Swap(s.wallet.counting) != s.wallet.counting {
		select { // the refresh goroutine starts or stops its ticks
		case s.clock <- struct{}{}:
		default:
		}
	}
	if moved {
		s.right.Refresh()
	}
	if s.pop != nil && s.pop.update != nil {
		s.pop.update()
	}
	if s.p.OnApplied != nil {
		s.p.OnApplied(sale)
	}
}

// showLines shows the cart lines when they (or the selection) changed. The
// rows are updated in place; only a line more or less adds or drops one.
func (s *CashierScreen) showLines(force bool) {
	lines := s.sale.Lines
	grew := len(lines) > len(s.shownLines)
	if _, ok := s.selectedLine(); !ok || grew {
		s.sel = 0
		if len(lines) > 0 { // the newest line: + after a scan adds to it
			s.sel = lines[len(lines)-1].ID
		}
	}
	if !force && s.shownLines != nil && slices.Equal(lines, s.shownLines) && s.sel == s.shownSel &&
		s.shownEdit == s.sale.CanEdit {
		return
	}
	s.shownLines, s.shownSel, s.shownEdit = slices.Clone(lines), s.sel, s.sale.CanEdit
	if s.shownLines == nil {
		s.shownLines = []LineView{}
	}
	for len(s.rows) < len(lines) {
		s.rows = append(s.rows, s.newCartRow())
	}
	s.rows = s.rows[:len(lines)]
	if len(s.lines.Objects) != len(lines) {
		objs := make([]fyne.CanvasObject, len(lines))
		for i, r := range s.rows {
			objs[i] = r.box
		}
		s.lines.Objects = objs
	}
	for i, l := range lines {
		s.rows[i].show(l, l.ID == s.sel, s.sale.CanEdit)
	}
	setVisible(s.empty, len(lines) == 0)
	s.linesScroll.Refresh() // the scrolled content's new size
	if grew {
		s.linesScroll.ScrollToBottom()
	}
}

// cartRow is one cart line's row: its name (tap to select), quantity and
// price, the − and + buttons, its total, and its discount and remove
// buttons. Its buttons act on the line it shows now.
type cartRow struct {
	line                      LineView
	box                       *fyne.Container
	bg                        *canvas.Rectangle
	name                      *widget.Button
	detail, tag, qty, total   *widget.Label
	minus, plus, disc, remove *widget.Button
}

func (s *CashierScreen) newCartRow() *cartRow {
	r := &cartRow{}
	r.name = widget.NewButton("", func() { s.sel = r.line.ID; s.showLines(true); s.focusScan() })
	r.name.Alignment = widget.ButtonAlignLeading
	r.name.Importance = widget.LowImportance
	r.detail = widget.NewLabel("")
	r.detail.SizeName = theme.SizeNameCaptionText
	r.tag = widget.NewLabel("")
	r.tag.Importance = widget.WarningImportance
	r.tag.SizeName = theme.SizeNameCaptionText
	r.minus = widget.NewButtonWithIcon("", theme.ContentRemoveIcon(), func() { s.changeQuantity(r.line.ID, -1) })
	r.plus = widget.NewButtonWithIcon("", theme.ContentAddIcon(), func() { s.changeQuantity(r.line.ID, 1) })
	r.disc = widget.NewButton("%", func() { s.openDiscount(r.line.ID, r.line.Name) })
	r.remove = widget.NewButtonWithIcon("", theme.DeleteIcon(), func() { s.removeLine(r.line.ID) })
	r.remove.Importance = widget.DangerImportance
	r.qty = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	r.total = widget.NewLabelWithStyle("", fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
	btn := fyne.NewSize(56, 56)
	controls := container.NewHBox(
		container.NewGridWrap(btn, r.minus), container.NewGridWrap(fyne.NewSize(44, 56), r.qty), container.NewGridWrap(btn, r.plus),
		container.NewGridWrap(fyne.NewSize(112, 56), r.total),
		container.NewGridWrap(btn, r.disc), container.NewGridWrap(btn, r.remove))
	info := container.NewVBox(r.name, container.NewHBox(r.detail, r.tag))
	r.bg = canvas.NewRectangle(theme.Color(theme.ColorNameBackground))
	r.box = container.NewStack(r.bg, container.NewBorder(nil, nil, nil, controls, info))
	return r
}

// show puts line l in the row, selected or not, its buttons enabled when
// the cart may change.
func (r *cartRow) show(l LineView, selected, edit bool) {
	r.line = l
	if r.name.Text != l.Name {
		r.name.SetText(l.Name)
	}
	setText(r.detail, lang.L("{{.Qty}} × {{.Price}}", map[string]any{"Qty": l.Quantity, "Price": l.UnitPrice}))
	setText(r.tag, l.Discount)
	moved := setVisible(r.tag, l.Discount != "")
	setText(r.qty, strconv.FormatInt(l.Quantity, 10))
	setText(r.total, l.Total)
	for _, b := range []*widget.Button{r.minus, r.plus, r.disc, r.remove} {
		setEnabled(b, edit)
	}
	bg := theme.Color(theme.ColorNameBackground)
	if selected {
		bg = theme.Color(theme.ColorNameSelection)
	}
	if r.bg.FillColor != bg {
		r.bg.FillColor = bg
		r.bg.Refresh()
	}
	if moved {
		r.box.Refresh()
	}
}

// showTotals shows the rows between the lines and the total, and the
// total. Its labels are updated in place; rows are made or dropped only
// when their number changes, so the status bar's ticks do not redraw them.
func (s *CashierScreen) showTotals() {
	sale := s.sale
	var rows [][2]string
	if len(sale.Lines) > 0 {
		sumRows(sale.Subtotal, sale.CartDiscount, sale.Tax, sale.TaxLines, func(label, value string) {
			rows = append(rows, [2]string{label, value})
		})
	}
	moved := false
	if len(s.totals.Objects) != 2*len(rows) {
		objs := make([]fyne.CanvasObject, 0, 2*len(rows))
		for range rows {
			objs = append(objs, widget.NewLabel(""), widget.NewLabelWithStyle("", fyne.TextAlignTrailing, fyne.TextStyle{}))
		}
		s.totals.Objects = objs
		moved = true
	}
	for i, r := range rows {
		moved = setText(s.totals.Objects[2*i].(*widget.Label), r[0]) || moved
		moved = setText(s.totals.Objects[2*i+1].(*widget.Label), r[1]) || moved
	}
	if fg := theme.Color(theme.ColorNameForeground); s.total.Text != sale.Total || s.total.Color != fg {
		s.total.Text, s.total.Color = sale.Total, fg
		s.total.Refresh()
		moved = true
	}
	setText(s.due, lang.L("Paid {{.Paid}} · due {{.Due}}", map[string]any{"Paid": sale.Paid, "Due": sale.Due}))
	moved = setVisible(s.due, sale.Paid != "") || moved
	if moved {
		s.cart.Refresh() // lays out the totals' rows: a parent's layout does not follow its children
	}
}

// setText sets l's text when it differs and says whether it did: a
// label's SetText redraws it even when nothing changed.
func setText(l *widget.Label, text string) bool {
	if l.Text == text {
		return false
	}
	l.SetText(text)
	return true
}

// tallLayout gives its one object the full width and at least a height.
type tallLayout struct{ h float32 }

func (l tallLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	m := objs[0].MinSize()
	return fyne.NewSize(m.Width, max(m.Height, l.h))
}

func (l tallLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// tall makes o at least h high: a touch target.
func tall(h float32, o fyne.CanvasObject) *fyne.Container { return container.New(tallLayout{h}, o) }

func bigButton(label string, icon fyne.Resource, imp widget.Importance, tapped func()) *widget.Button {
	b := widget.NewButtonWithIcon(label, icon, tapped)
	b.Importance = imp
	return b
}

func setEnabled(w fyne.Disableable, on bool) {
	if on && w.Disabled() {
		w.Enable()
	} else if !on && !w.Disabled() {
		w.Disable()
	}
}

// setVisible shows or hides o and says whether that changed anything:
// the container around it must then be laid out again.
func setVisible(o fyne.CanvasObject, on bool) bool {
	switch {
	case on && !o.Visible():
		o.Show()
	case !on && o.Visible():
		o.Hide()
	default:
		return false
	}
	return true
}

// hookEntry is an Entry whose keys the screen sees first.
type hookEntry struct {
	widget.Entry
	onKey  func(*fyne.KeyEvent) bool // true: handled, the entry does not see it
	onRune func(rune) bool
}

func newHookEntry() *hookEntry {
	e := &hookEntry{}
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey implements fyne.Focusable.
func (e *hookEntry) TypedKey(k *fyne.KeyEvent) {
	if e.onKey != nil && e.onKey(k) {
		return
	}
	e.Entry.TypedKey(k)
}

// TypedRune implements fyne.Focusable.
func (e *hookEntry) TypedRune(r rune) {
	if e.onRune != nil && e.onRune(r) {
		return
	}
	e.Entry.TypedRune(r)
}

// sumRows lists the rows between a cart's lines and its total — subtotal,
// cart discount, tax by rate — as the cart and the receipt both show them.
func sumRows(subtotal, cartDiscount, tax string, taxLines []TaxLineView, add func(label, value string)) {
	add(lang.L("Subtotal"), subtotal)
	if cartDiscount != "" {
		add(lang.L("Discount"), cartDiscount)
	}
	for _, t := range taxLines {
		add(t.Label, t.Amount)
	}
	if len(taxLines) == 0 && tax != "" {
		add(lang.L("Tax"), tax)
	}
}

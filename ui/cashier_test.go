package ui

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/tillpos/till/ui/uitest"
)

// fakeRegister is the Register interface as data: it returns the views
// the test sets and records every call the screen makes. It holds no
// rules; the app's own tests drive the screen with the real Register.
type fakeRegister struct {
	mu       sync.Mutex
	cats     []string
	products map[string][]ProductView
	sale     SaleView
	status   StatusBarView
	receipts []ReceiptView
	change   map[string]string // ChangeFor answers by input
	// customers answer FindCustomers (every query), methods SavedMethods.
	customers []CustomerView
	methods   []SavedMethodView
	// found, when set, holds FindCustomers until it is closed.
	found    chan struct{}
	fail     map[string]error // by method name: what it returns
	discount func(value, pin string) error
	calls    []string
	subs     []func()
	// follow: SetQuantity and Remove change the sale's lines (telling no
	// one), as the app's would before the screen catches up.
	follow bool
	// gate, when set, holds Add until it is closed; adding is true
	// meanwhile, and overlaps counts the Sale and Status reads made then.
	gate     chan struct{}
	adding   bool
	overlaps int
}

func newFakeRegister() *fakeRegister {
	return &fakeRegister{
		cats: []string{"Coffee", "Bakery"},
		products: map[string][]ProductView{
			"Coffee": {
				{SKU: "esp", Name: "Espresso", Price: "CHF 3.80", Category: "Coffee"},
				{SKU: "cap", Name: "Cappuccino", Price: "CHF 4.90", Category: "Coffee"},
				{SKU: "flw", Name: "Flat white", Price: "CHF 5.20", Category: "Coffee"},
				{SKU: "lat", Name: "Latte macchiato", Price: "CHF 5.40", Category: "Coffee"},
				{SKU: "tea", Name: "Black tea", Price: "CHF 3.50", Category: "Coffee"},
				{SKU: "cho", Name: "Hot chocolate", Price: "CHF 4.60", Category: "Coffee"},
			},
			"Bakery": {
				{SKU: "cro", Name: "Croissant", Price: "CHF 2.40", Category: "Bakery"},
				{SKU: "pac", Name: "Pain au chocolat", Price: "CHF 2.80", Category: "Bakery"},
			},
		},
		sale:   SaleView{Stage: StageCart, Total: "CHF 0.00", CanEdit: true},
		status: StatusBarView{Connectivity: ConnOnline, Reader: ReaderReady, ReaderDetail: "Till Sim R1"},
		change: map[string]string{},
		fail:   map[string]error{},
	}
}

func (f *fakeRegister) record(call string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := call
	if len(args) > 0 {
		c += fmt.Sprint(any(args))
	}
	f.calls = append(f.calls, c)
	return f.fail[call]
}

// Calls returns the calls so far and forgets them.
func (f *fakeRegister) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// set changes the views and tells the subscribers, as the app does.
func (f *fakeRegister) set(change func(*SaleView, *StatusBarView)) {
	f.mu.Lock()
	change(&f.sale, &f.status)
	subs := slices.Clone(f.subs)
	f.mu.Unlock()
	for _, fn := range subs {
		fn()
	}
}

func (f *fakeRegister) Categories() []string { return f.cats }
func (f *fakeRegister) Products(c string) []ProductView {
	_ = f.record("Products", c)
	return f.products[c]
}
func (f *fakeRegister) Search(q string) []ProductView {
	_ = f.record("Search", q)
	var out []ProductView
	for _, c := range f.cats {
		for _, p := range f.products[c] {
			if strings.Contains(strings.ToLower(p.Name), strings.ToLower(q)) {
				out = append(out, p)
			}
		}
	}
	return out
}
func (f *fakeRegister) Sale() SaleView {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.adding {
		f.overlaps++
	}
	return f.sale
}
func (f *fakeRegister) Status() StatusBarView {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.adding {
		f.overlaps++
	}
	return f.status
}
func (f *fakeRegister) Subscribe(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, fn)
}
func (f *fakeRegister) Add(sku string) error {
	f.mu.Lock()
	gate := f.gate
	f.adding = gate != nil
	f.mu.Unlock()
	if gate != nil {
		<-gate
		f.mu.Lock()
		f.adding = false
		f.mu.Unlock()
	}
	return f.record("Add", sku)
}
func (f *fakeRegister) Scan(code string) error { return f.record("Scan", code) }
func (f *fakeRegister) SetQuantity(id int, q int64) error {
	f.edit(id, func(l *LineView) bool { l.Quantity = q; return true })
	return f.record("SetQuantity", id, q)
}
func (f *fakeRegister) Remove(id int) error {
	f.edit(id, func(*LineView) bool { return false })
	return f.record("Remove", id)
}

// edit changes line id in follow mode: keep it (true) or drop it. The
// lines are copied, never changed in place: the screen holds the old ones.
func (f *fakeRegister) edit(id int, change func(*LineView) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.follow {
		return
	}
	var lines []LineView
	for _, l := range f.sale.Lines {
		if l.ID != id || change(&l) {
			lines = append(lines, l)
		}
	}
	f.sale.Lines = lines
}
func (f *fakeRegister) SetLineDiscount(id int, d, pin string) error {
	_ = f.record("SetLineDiscount", id, d, pin)
	return f.discount(d, pin)
}
func (f *fakeRegister) SetCartDiscount(d, pin string) error {
	_ = f.record("SetCartDiscount", d, pin)
	return f.discount(d, pin)
}
func (f *fakeRegister) ChargeCard() error      { return f.record("ChargeCard") }
func (f *fakeRegister) CancelCard() error      { return f.record("CancelCard") }
func (f *fakeRegister) RetryCard() error       { return f.record("RetryCard") }
func (f *fakeRegister) PayCash(g string) error { return f.record("PayCash", g) }
func (f *fakeRegister) Void() error            { return f.record("Void") }
func (f *fakeRegister) BackToCart() error      { return f.record("BackToCart") }
func (f *fakeRegister) NewSale() error         { return f.record("NewSale") }
func (f *fakeRegister) Receipts(n int) []ReceiptView {
	_ = f.record("Receipts", n)
	return f.receipts
}
func (f *fakeRegister) VoidPaid(id, reason, pin string) error {
	return f.record("VoidPaid", id, reason, pin)
}
func (f *fakeRegister) ChangeFor(g string) (string, error) {
	err := f.record("ChangeFor", g)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.change[g], err
}

func (f *fakeRegister) ChargeWallet(kind string) error { return f.record("ChargeWallet", kind) }
func (f *fakeRegister) RetryWallet() error             { return f.record("RetryWallet") }
func (f *fakeRegister) CancelWallet() error            { return f.record("CancelWallet") }
func (f *fakeRegister) FindCustomers(q string) ([]CustomerView, error) {
	err := f.record("FindCustomers", q)
	f.mu.Lock()
	found := f.found
	f.mu.Unlock()
	if found != nil {
		<-found
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return f.customers, nil
}
func (f *fakeRegister) SetCustomer(id string) error { return f.record("SetCustomer", id) }
func (f *fakeRegister) SavedMethods() ([]SavedMethodView, error) {
	err := f.record("SavedMethods")
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return f.methods, nil
}
func (f *fakeRegister) ChargeSaved(id string) error { return f.record("ChargeSaved", id) }
func (f *fakeRegister) SetSaveCard(save bool) error { return f.record("SetSaveCard", save) }

// fakeWalletSimulator records the answers of the customer's phone.
type fakeWalletSimulator struct{ reg *fakeRegister }

func (s fakeWalletSimulator) ApproveWallet(url string) error {
	return s.reg.record("ApproveWallet", url)
}
func (s fakeWalletSimulator) RefuseWallet(url string) error { return s.reg.record("RefuseWallet", url) }

// fakeSimulator records the customer's moves.
type fakeSimulator struct{ reg *fakeRegister }

func (s fakeSimulator) TestCards() []string           { return []string{"Visa", "declined card"} }
func (s fakeSimulator) PresentCard(card string) error { return s.reg.record("PresentCard", card) }
func (s fakeSimulator) CustomerCancel() error         { return s.reg.record("CustomerCancel") }

var (
	_ Register        = (*fakeRegister)(nil)
	_ CardSimulator   = fakeSimulator{}
	_ WalletSimulator = fakeWalletSimulator{}
)

var tillSize = fyne.NewSize(1366, 768)

// uiGoroutine stands for Fyne's UI goroutine in tests. The real driver
// runs what the screen hands to fyne.Do after the event being handled;
// the test driver runs it at once on the screen's goroutine, while the
// test may still be inside a widget's event handler. So the screen's
// updates (see startCashier) and the test's events (key, tap, typeIn)
// take turns through this lock.
var uiGoroutine sync.Mutex

// onUI runs an event on the stand-in UI goroutine, then lets the work it
// started finish.
func onUI(event func()) {
	uiGoroutine.Lock()
	event()
	uiGoroutine.Unlock()
	synctest.Wait()
}

// startCashier shows a cashier screen in a 1366×768 test window, attaches
// it and starts it for the rest of the test, and lets it settle. Call it
// inside a synctest bubble. The screen's catalog loads forget their calls.
func startCashier(t *testing.T, p CashierParams) (*CashierScreen, fyne.Window) {
	t.Helper()
	if p.Now == nil {
		p.Now = func() time.Time { return t0 }
	}
	s := NewCashierScreen(p)
	s.onUI = func(f func()) {
		uiGoroutine.Lock()
		defer uiGoroutine.Unlock()
		f()
	}
	w := test.NewTempApp(t).NewWindow("Till")
	w.SetContent(s.Content())
	w.Resize(tillSize)
	s.Attach(w.Canvas())
	s.Start(t.Context())
	synctest.Wait()
	p.Register.(*fakeRegister).Calls()
	return s, w
}

// objects lists the visible objects on the canvas, pop-ups first.
func objects(c fyne.Canvas) []fyne.CanvasObject {
	var out []fyne.CanvasObject
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		out = append(out, o)
		switch o := o.(type) {
		case fyne.Widget:
			for _, child := range test.WidgetRenderer(o).Objects() {
				walk(child)
			}
		case *fyne.Container:
			for _, child := range o.Objects {
				walk(child)
			}
		}
	}
	overlays := c.Overlays().List()
	for i := len(overlays) - 1; i >= 0; i-- {
		walk(overlays[i])
	}
	walk(c.Content())
	return out
}

// button finds the visible button labelled text, or fails the test.
func button(t *testing.T, c fyne.Canvas, text string) *widget.Button {
	t.Helper()
	for _, o := range objects(c) {
		if b, ok := o.(*widget.Button); ok && b.Text == text {
			return b
		}
	}
	t.Fatalf("no button %q shown", text)
	return nil
}

func hasButton(c fyne.Canvas, text string) bool {
	for _, o := range objects(c) {
		if b, ok := o.(*widget.Button); ok && b.Text == text {
			return true
		}
	}
	return false
}

// shown is every visible text, pop-ups included.
func shown(c fyne.Canvas) []string {
	var out []string
	for _, o := range c.Overlays().List() {
		out = append(out, uitest.ShownTexts(o)...)
	}
	return append(out, uitest.ShownTexts(c.Content())...)
}

func wantShown(t *testing.T, c fyne.Canvas, texts ...string) {
	t.Helper()
	all := shown(c)
	for _, want := range texts {
		if !slices.Contains(all, want) {
			t.Errorf("%q not shown; shown: %q", want, all)
		}
	}
}

func wantNotShown(t *testing.T, c fyne.Canvas, texts ...string) {
	t.Helper()
	all := shown(c)
	for _, no := range texts {
		if slices.Contains(all, no) {
			t.Errorf("%q shown, want it gone", no)
		}
	}
}

func wantCalls(t *testing.T, reg *fakeRegister, want ...string) {
	t.Helper()
	if got := reg.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
}

// key types a key where the cashier's keyboard would send it: to the
// focused widget, or to the canvas when nothing has the focus.
func key(c fyne.Canvas, name fyne.KeyName) {
	ev := &fyne.KeyEvent{Name: name}
	onUI(func() {
		if f := c.Focused(); f != nil {
			f.TypedKey(ev)
		} else {
			c.OnTypedKey()(ev)
		}
	})
}

// typeIn types text into e as a keyboard or a scanner would, and lets
// the searches it starts finish.
func typeIn(e fyne.Focusable, text string) {
	onUI(func() { test.Type(e, text) })
}

// pause lets the typing pause long enough for the grid to follow the
// search field (the bubble's clock moves; no real time passes).
func pause() {
	time.Sleep(searchDelay)
	synctest.Wait()
}

func tap(b *widget.Button) {
	onUI(func() { test.Tap(b) })
}

// cartSale is a sale with two lines, ready to pay.
func cartSale(v *SaleView, _ *StatusBarView) {
	*v = SaleView{
		OrderID: "lane1-01KAQ3D1V9F8C2W7Y5N0M4T6HB", Stage: StageCart,
		Lines: []LineView{
			{ID: 1, Name: "Cappuccino", Quantity: 2, UnitPrice: "CHF 4.90", Total: "CHF 9.80"},
			{ID: 2, Name: "Croissant", Quantity: 1, UnitPrice: "CHF 2.40", Discount: "−10 %", Total: "CHF 2.16"},
		},
		Subtotal: "CHF 11.96", Tax: "CHF 0.89", Total: "CHF 11.96",
		TaxLines: []TaxLineView{{Label: "VAT 8.1 %", Amount: "CHF 0.73"}, {Label: "VAT 2.6 %", Amount: "CHF 0.06"}},
		CanEdit:  true, CanCharge: true, CanPayCash: true, CanVoid: true,
		CashDue: "CHF 11.95", Due: "CHF 11.96",
	}
}

func cardSale(step CardStep, msg string) func(*SaleView, *StatusBarView) {
	return func(v *SaleView, st *StatusBarView) {
		cartSale(v, st)
		v.Stage, v.CanEdit, v.CanCharge = StageCard, false, false
		v.Card = CardView{Step: step, Message: msg, Amount: "CHF 11.96"}
		switch step {
		case CardCreating, CardPresent, CardReading, CardProcessing:
			v.CanCancelCard, v.CanPayCash, v.CanVoid = true, false, false
			st.Reader = ReaderBusy
		default:
			v.CanRetryCard = true
		}
	}
}

func TestCashierShowsProductsPerCategory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		_, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		wantShown(t, c, "Espresso", "CHF 3.80", "Hot chocolate")
		wantNotShown(t, c, "Croissant")
		tap(button(t, c, "Bakery"))
		wantCalls(t, reg, "Products[Bakery]")
		wantShown(t, c, "Croissant", "Pain au chocolat", "CHF 2.80")
		wantNotShown(t, c, "Espresso")
	})
}

func TestCashierTapProductAdds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cartSale)
		s, w := startCashier(t, CashierParams{Register: reg})
		tap(s.productButtons[1])
		wantCalls(t, reg, "Add[cap]")
		if w.Canvas().Focused() != s.scan {
			t.Errorf("the scan field lost the focus after a tap on a product")
		}
		// An error from the app is shown as it is.
		reg.fail["Add"] = errors.New("the cart is full")
		tap(s.productButtons[0])
		wantShown(t, w.Canvas(), "the cart is full")
	})
}

func TestCashierSearchFiltersTheGrid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		s, w := startCashier(t, CashierParams{Register: reg})
		typeIn(s.scan, "ch")
		typeIn(s.scan, "oc")
		wantCalls(t, reg) // still typing
		pause()
		wantShown(t, w.Canvas(), "Hot chocolate", "Pain au chocolat")
		wantNotShown(t, w.Canvas(), "Espresso")
		wantCalls(t, reg, "Search[choc]") // once, for what is there when typing pauses
		// Emptying the field shows the category again.
		onUI(func() { s.scan.SetText("") })
		wantShown(t, w.Canvas(), "Espresso")
	})
}

func TestCashierScan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		// A USB scanner types the code, then Enter.
		typeIn(s.scan, "7610000000017")
		key(c, fyne.KeyReturn)
		pause()
		wantCalls(t, reg, "Scan[7610000000017]", "Products[Coffee]") // and no search for half a code
		if s.scan.Text != "" {
			t.Errorf("scan field keeps %q after Enter", s.scan.Text)
		}

		reg.fail["Scan"] = fmt.Errorf("scan 0000: %w", ErrUnknownCode)
		typeIn(s.scan, "0000")
		key(c, fyne.KeyReturn)
		wantShown(t, c, "Unknown code 0000: no product has it.")
		if s.scan.Text != "" || c.Focused() != s.scan {
			t.Errorf("after an unknown code: field %q, focus on %T; want empty and focused", s.scan.Text, c.Focused())
		}
		// The next good scan clears the message.
		delete(reg.fail, "Scan")
		typeIn(s.scan, "7610000000017")
		key(c, fyne.KeyReturn)
		wantNotShown(t, c, "Unknown code 0000: no product has it.")

		// A name typed down to one product: Enter adds it.
		reg.fail["Scan"] = ErrUnknownCode
		typeIn(s.scan, "croiss")
		reg.Calls()
		key(c, fyne.KeyReturn)
		wantCalls(t, reg, "Scan[croiss]", "Search[croiss]", "Add[cro]", "Products[Coffee]")
		wantNotShown(t, c, "Unknown code croiss: no product has it.")

		// Escape clears what was typed.
		typeIn(s.scan, "lat")
		key(c, fyne.KeyEscape)
		if s.scan.Text != "" {
			t.Errorf("Escape left %q in the scan field", s.scan.Text)
		}
		wantShown(t, c, "Espresso")
	})
}

func TestCashierLineButtons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cartSale)
		s, w := startCashier(t, CashierParams{Register: reg})
		wantShown(t, w.Canvas(), "Cappuccino", "2", "CHF 9.80", "Croissant", "−10 %", "CHF 2.16")
		row := func(i int) []*widget.Button { // −, +, %, remove of line i
			var bs []*widget.Button
			for _, o := range test.LaidOutObjects(s.lines.Objects[i]) {
				if b, ok := o.(*widget.Button); ok && b.Text != s.sale.Lines[i].Name {
					bs = append(bs, b)
				}
			}
			return bs
		}
		tap(row(0)[1])
		tap(row(0)[0])
		tap(row(1)[0]) // one croissant, one less: remove it
		tap(row(1)[3])
		wantCalls(t, reg, "SetQuantity[1 3]", "SetQuantity[1 1]", "Remove[2]", "Remove[2]")

		// Nothing can change while the card is being collected.
		reg.set(cardSale(CardPresent, "Present card"))
		synctest.Wait()
		for _, b := range row(0) {
			if !b.Disabled() {
				t.Errorf("line button enabled during a card payment")
			}
		}
	})
}

func TestCashierButtonsFollowCanFlags(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		charge, cash, void, disc bool
	}{
		{"nothing", false, false, false, false},
		{"charge only", true, false, false, true},
		{"cash and void", false, true, true, true},
		{"all", true, true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := newFakeRegister()
				reg.set(func(v *SaleView, st *StatusBarView) {
					cartSale(v, st)
					v.CanCharge, v.CanPayCash, v.CanVoid, v.CanEdit = tc.charge, tc.cash, tc.void, tc.disc
				})
				s, _ := startCashier(t, CashierParams{Register: reg})
				for _, b := range []struct {
					b    *widget.Button
					want bool
				}{{s.charge, tc.charge}, {s.cash, tc.cash}, {s.void, tc.void}, {s.cartDisc, tc.disc}} {
					if b.b.Disabled() == b.want {
						t.Errorf("%q enabled = %v, want %v", b.b.Text, !b.b.Disabled(), b.want)
					}
				}
				tap(s.charge)
				tap(s.void)
				var want []string
				if tc.charge {
					want = append(want, "ChargeCard")
				}
				wantCalls(t, reg, want...) // Void asks first: no call yet
			})
		})
	}
}

func TestCashierCardSteps(t *testing.T) {
	for _, tc := range []struct {
		step    CardStep
		msg     string
		texts   []string
		buttons []string // shown and enabled
	}{
		{CardCreating, "Contacting the payment service", []string{"Setting up the card payment…", "CHF 11.96"}, []string{"Cancel card payment (Esc)"}},
		{CardPresent, "Tap, insert or swipe", []string{"Present card", "CHF 11.96", "Tap, insert or swipe"}, []string{"Cancel card payment (Esc)"}},
		{CardReading, "Customer is entering the PIN", []string{"Reading the card…", "Customer is entering the PIN"}, []string{"Cancel card payment (Esc)"}},
		{CardProcessing, "Authorising", []string{"Authorising…"}, []string{"Cancel card payment (Esc)"}},
		{CardDeclined, "Insufficient funds", []string{"Card declined", "Insufficient funds"}, []string{"Try another card (F5)", "Cash (F6)", "Void (F8)"}},
		{CardCancelled, "The customer cancelled on the reader", []string{"Card payment cancelled", "The customer cancelled on the reader"}, []string{"Try another card (F5)", "Cash (F6)"}},
		{CardOffline, "api.stripe.com unreachable", []string{"Offline", "No connection to the payment service — take cash; the sale is kept."}, []string{"Cash (F6)", "Try again (F5)"}},
		{CardReaderProblem, "The reader was unplugged", []string{"Card reader problem", "The reader was unplugged"}, []string{"Try again (F5)", "Cash (F6)", "Void (F8)"}},
	} {
		t.Run(tc.texts[0], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := newFakeRegister()
				reg.set(cardSale(tc.step, tc.msg))
				s, w := startCashier(t, CashierParams{Register: reg})
				c := w.Canvas()
				wantShown(t, c, tc.texts...)
				for _, label := range tc.buttons {
					if b := button(t, c, label); b.Disabled() {
						t.Errorf("%q disabled", label)
					}
				}
				// The tenders give way to the card panel.
				if hasButton(c, "Card (F5)") {
					t.Errorf("the Card button is shown during the card payment")
				}
				// Waiting shows progress; a step that waits for the cashier does not.
				waits := tc.step == CardCreating || tc.step == CardReading || tc.step == CardProcessing
				if got := s.card.progress.Visible(); got != waits {
					t.Errorf("progress shown = %v, want %v", got, waits)
				}
			})
		})
	}
}

func TestCashierDeclineChangeCart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cardSale(CardDeclined, "Insufficient funds"))
		_, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		if hasButton(c, "Change the cart") {
			t.Fatal("Change the cart offered while the sale does not allow it")
		}
		reg.set(func(v *SaleView, _ *StatusBarView) { v.CanBackToCart = true })
		synctest.Wait()
		tap(button(t, c, "Change the cart"))
		wantCalls(t, reg, "BackToCart")
	})
}

func TestCashierDeclineRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cardSale(CardDeclined, "Insufficient funds"))
		_, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		tap(button(t, c, "Try another card (F5)"))
		key(c, fyne.KeyF5)
		wantCalls(t, reg, "RetryCard", "RetryCard")
		tap(button(t, c, "Cash (F6)"))
		wantShown(t, c, "To pay in cash", "CHF 11.95")

		// While collecting, Escape cancels the collection.
		key(c, fyne.KeyEscape) // closes the cash dialog
		reg.set(cardSale(CardPresent, "Present card"))
		synctest.Wait()
		key(c, fyne.KeyEscape)
		wantCalls(t, reg, "CancelCard")
	})
}

func TestCashierSimulator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cardSale(CardPresent, "Present card"))
		_, w := startCashier(t, CashierParams{Register: reg, Simulator: fakeSimulator{reg}})
		c := w.Canvas()
		tap(button(t, c, "Tap Visa"))
		tap(button(t, c, "Tap declined card"))
		tap(button(t, c, "Customer cancels"))
		wantCalls(t, reg, "PresentCard[Visa]", "PresentCard[declined card]", "CustomerCancel")

		reg.set(cardSale(CardDeclined, "Do not honour"))
		synctest.Wait()
		if hasButton(c, "Tap Visa") {
			t.Errorf("simulator shown while no card is being collected")
		}
	})
}

func TestCashierCashDialog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cartSale)
		reg.change["20"] = "CHF 8.05"
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		key(c, fyne.KeyF6)
		wantShown(t, c, "To pay in cash", "CHF 11.95")
		typeIn(c.Focused(), "2")
		wantShown(t, c, "Not enough")
		typeIn(c.Focused(), "0")
		wantShown(t, c, "Change: CHF 8.05")
		wantCalls(t, reg, "ChangeFor[2]", "ChangeFor[20]")

		reg.fail["PayCash"] = errors.New("cash drawer: the amount is too large")
		key(c, fyne.KeyReturn)
		wantCalls(t, reg, "PayCash[20]")
		wantShown(t, c, "cash drawer: the amount is too large")
		if s.pop == nil {
			t.Fatal("the cash dialog closed after a failure")
		}

		// The card was tapped meanwhile on a store-and-forward reader: the
		// sale is paid and the dialog goes.
		reg.set(func(v *SaleView, _ *StatusBarView) { v.CanPayCash = false })
		synctest.Wait()
		if s.pop != nil {
			t.Fatal("the cash dialog stayed open once cash was no longer possible")
		}
		reg.set(func(v *SaleView, _ *StatusBarView) { v.CanPayCash = true })
		synctest.Wait()
		key(c, fyne.KeyF6)

		delete(reg.fail, "PayCash")
		tap(button(t, c, "Exact amount"))
		wantCalls(t, reg, "PayCash[CHF 11.95]")
		if s.pop != nil {
			t.Errorf("the cash dialog is still open after paying")
		}
		if c.Focused() != s.scan {
			t.Errorf("focus on %T after paying, want the scan field", c.Focused())
		}
	})
}

func TestCashierDiscountNeedsPIN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cartSale)
		reg.discount = func(v, pin string) error {
			switch pin {
			case "":
				return fmt.Errorf("discount %s: %w", v, ErrManagerPIN)
			case "4321":
				return nil
			}
			return fmt.Errorf("%w: 2 tries left", ErrWrongPIN)
		}
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		tap(s.cartDisc)
		wantShown(t, c, "Cart discount")
		wantNotShown(t, c, "Manager PIN")
		tap(button(t, c, "20%"))
		wantCalls(t, reg, "SetCartDiscount[20% ]")
		wantShown(t, c, "Manager PIN", "This discount needs the manager's PIN.")

		typeIn(c.Focused(), "1111")
		key(c, fyne.KeyReturn)
		wantCalls(t, reg, "SetCartDiscount[20% 1111]")
		wantShown(t, c, "wrong manager PIN: 2 tries left")

		typeIn(c.Focused(), "4321")
		key(c, fyne.KeyReturn)
		wantCalls(t, reg, "SetCartDiscount[20% 4321]")
		if s.pop != nil {
			t.Errorf("discount dialog still open after success")
		}

		// A line's % button asks for that line.
		for _, o := range test.LaidOutObjects(s.lines.Objects[1]) {
			if b, ok := o.(*widget.Button); ok && b.Text == "%" {
				tap(b)
			}
		}
		wantShown(t, c, "Discount: Croissant")
		typeIn(c.Focused(), "1.00")
		key(c, fyne.KeyReturn)
		wantCalls(t, reg, "SetLineDiscount[2 1.00 ]")
	})
}

// doneSale is a sale paid by card, with its receipt.
func doneSale(v *SaleView, st *StatusBarView) {
	cartSale(v, st)
	v.Stage, v.CanEdit, v.CanCharge, v.CanPayCash, v.CanVoid, v.CanNewSale = StageDone, false, false, false, false, true
	v.Receipt = &ReceiptView{
		OrderID: v.OrderID, At: time.Date(2026, 11, 23, 8, 3, 0, 0, time.Local),
		Lines: v.Lines, Subtotal: v.Subtotal, Tax: v.Tax, TaxLines: v.TaxLines, Total: v.Total,
		Tenders: []TenderView{{Kind: "Card", Amount: "CHF 11.96", Detail: "VISA •••• 4242 (contactless)"}},
	}
}

func TestCashierReceipt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(doneSale)
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		wantShown(t, c, "Receipt", "Order lane1-01KAQ3D1V9F8C2W7Y5N0M4T6HB", "2026-11-23 08:03", "2 × Cappuccino",
			"VAT 8.1 %", "CHF 11.96", "Card", "VISA •••• 4242 (contactless)")
		tap(s.newSale)
		key(c, fyne.KeyReturn) // Enter in the empty scan field
		wantCalls(t, reg, "NewSale", "NewSale")

		// Scanning on the receipt starts the next sale with the item.
		typeIn(s.scan, "cro")
		reg.Calls()
		key(c, fyne.KeyReturn)
		wantCalls(t, reg, "NewSale", "Scan[cro]", "Products[Coffee]")
	})
}

func TestCashierVoidSlip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(func(v *SaleView, st *StatusBarView) {
			doneSale(v, st)
			v.Stage, v.Receipt.Voided, v.Receipt.Tenders = StageVoided, true, nil
		})
		_, w := startCashier(t, CashierParams{Register: reg})
		wantShown(t, w.Canvas(), "Void slip — sale cancelled", "2 × Cappuccino")
		wantNotShown(t, w.Canvas(), "Receipt")
	})
}

func TestCashierOnApplied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		var shown []Stage
		_, w := startCashier(t, CashierParams{Register: reg, OnApplied: func(v SaleView) { shown = append(shown, v.Stage) }})
		reg.set(cardSale(CardPresent, "Present card"))
		synctest.Wait()
		if len(shown) == 0 || shown[len(shown)-1] != StageCard {
			t.Errorf("OnApplied saw stages %v, want the card stage last", shown)
		}
		// When it is called, the view is on screen.
		wantShown(t, w.Canvas(), "Present card")
	})
}

func TestCashierOfflineHint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cartSale)
		_, w := startCashier(t, CashierParams{Register: reg})
		hint := "Offline: cash always works; card payments may have to wait."
		wantNotShown(t, w.Canvas(), hint)
		reg.set(func(_ *SaleView, st *StatusBarView) { st.Connectivity = ConnOffline })
		synctest.Wait()
		wantShown(t, w.Canvas(), hint, "● Offline")
	})
}

func TestCashierReceiptsDialog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		var v SaleView
		doneSale(&v, &StatusBarView{})
		cash := *v.Receipt
		cash.OrderID, cash.Tenders, cash.Change = "lane1-OLDER", []TenderView{{Kind: "Cash", Amount: "CHF 11.95", Detail: "given CHF 20.00"}}, "CHF 8.05"
		reg.receipts = []ReceiptView{*v.Receipt, cash}
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		key(c, fyne.KeyF9)
		wantCalls(t, reg, "Receipts[20]")
		wantShown(t, c, "Last receipts", "lane1-OLDER", "VISA •••• 4242 (contactless)")
		key(c, fyne.KeyEscape)
		if s.pop != nil {
			t.Errorf("Escape left the receipts open")
		}
	})
}

func TestCashierShortcuts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cartSale)
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()

		// +, − and Delete act on the selected line: the newest one.
		typeIn(s.scan, "+")
		typeIn(s.scan, "-")
		key(c, fyne.KeyUp)
		key(c, fyne.KeyDelete)
		wantCalls(t, reg, "SetQuantity[2 2]", "Remove[2]", "Remove[1]")
		if s.scan.Text != "" {
			t.Errorf("+/− typed into the scan field: %q", s.scan.Text)
		}

		key(c, fyne.KeyF5)
		wantCalls(t, reg, "ChargeCard")
		key(c, fyne.KeyF8)
		wantShown(t, c, "Void this sale?")
		key(c, fyne.KeyEscape)
		wantNotShown(t, c, "Void this sale?")
		key(c, fyne.KeyF8)
		key(c, fyne.KeyReturn)
		wantCalls(t, reg, "Void")

		key(c, fyne.KeyF1)
		wantShown(t, c, "Keyboard shortcuts", "F5", "Pay by card; after a decline: try another card")
		key(c, fyne.KeyEscape)

		// With nothing focused, typing goes to the scan field and F2
		// brings the focus back.
		onUI(func() {
			c.Unfocus()
			test.TypeOnCanvas(c, "76")
		})
		if s.scan.Text != "76" || c.Focused() != s.scan {
			t.Errorf("typing on the canvas: field %q, focus %T", s.scan.Text, c.Focused())
		}
		onUI(c.Unfocus)
		key(c, fyne.KeyF2)
		if c.Focused() != s.scan {
			t.Errorf("F2 did not focus the scan field")
		}
	})
}

// click taps b as the desktop driver does: the press unfocuses whatever
// had the focus (a button takes none), then the tap. It returns what has
// the focus right after the tap, before the work the tap started has run.
func click(c fyne.Canvas, b *widget.Button) (focused fyne.Focusable) {
	onUI(func() {
		c.Unfocus()
		test.Tap(b)
		focused = c.Focused()
	})
	return focused
}

// lineButtons are the −, +, % and remove buttons of cart line i.
func lineButtons(s *CashierScreen, i int) []*widget.Button {
	var bs []*widget.Button
	for _, o := range test.LaidOutObjects(s.lines.Objects[i]) {
		if b, ok := o.(*widget.Button); ok && b.Text != s.sale.Lines[i].Name {
			bs = append(bs, b)
		}
	}
	return bs
}

// TestCashierTapsGiveFocusBack: after a tap on any product, category,
// line or tender button, the next scan lands in the scan field at once,
// not only once the Register has answered; after a dialog closes too.
func TestCashierTapsGiveFocusBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cartSale)
		s, w := startCashier(t, CashierParams{Register: reg, Simulator: fakeSimulator{reg}})
		c := w.Canvas()
		want := func(what string, got fyne.Focusable) {
			t.Helper()
			if got != s.scan {
				t.Errorf("after a tap on %s the focus is on %T, want the scan field", what, got)
			}
		}
		want("a product", click(c, s.productButtons[0]))
		want("a category", click(c, button(t, c, "Bakery")))
		for i, what := range []string{"−", "+"} {
			want("a line's "+what, click(c, lineButtons(s, 0)[i]))
		}
		want("a line's remove", click(c, lineButtons(s, 0)[3]))
		want("Card", click(c, s.charge))
		wantCalls(t, reg, "Add[esp]", "Products[Bakery]", "SetQuantity[1 1]", "SetQuantity[1 3]", "Remove[1]", "ChargeCard")

		// Dialogs give it back when they close, by key or by button.
		click(c, s.cartDisc)
		key(c, fyne.KeyEscape)
		want("Cart discount, then Escape", c.Focused())
		click(c, s.void)
		want("Void, then Keep the sale", click(c, button(t, c, "Keep the sale (Esc)")))
		click(c, s.cash)
		want("Cash, then Back", click(c, button(t, c, "Back (Esc)")))
		click(c, button(t, c, "Help (F1)"))
		want("Help, then Close", click(c, button(t, c, "Close (Esc)")))

		reg.set(cardSale(CardPresent, "Present card"))
		synctest.Wait()
		want("Tap Visa", click(c, button(t, c, "Tap Visa")))
		want("Cancel card payment", click(c, button(t, c, "Cancel card payment (Esc)")))
		reg.set(func(v *SaleView, st *StatusBarView) {
			cardSale(CardDeclined, "Insufficient funds")(v, st)
			v.CanBackToCart = true
		})
		synctest.Wait()
		want("Try another card", click(c, button(t, c, "Try another card (F5)")))
		want("Change the cart", click(c, button(t, c, "Change the cart")))
		reg.set(doneSale)
		synctest.Wait()
		want("New sale", click(c, s.newSale))
		wantCalls(t, reg, "PresentCard[Visa]", "CancelCard", "RetryCard", "BackToCart", "NewSale")
	})
}

// TestCashierQuantityCountsFromTheSale: + pressed three times before the
// screen has shown the first change is three more, and − pressed past
// the last one removes the line once.
func TestCashierQuantityCountsFromTheSale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cartSale)
		reg.follow = true
		s, _ := startCashier(t, CashierParams{Register: reg})
		typeIn(s.scan, "+++") // one turn of the UI goroutine: no refresh between the keys
		wantCalls(t, reg, "SetQuantity[2 2]", "SetQuantity[2 3]", "SetQuantity[2 4]")
		typeIn(s.scan, "-----")
		wantCalls(t, reg, "SetQuantity[2 3]", "SetQuantity[2 2]", "SetQuantity[2 1]", "Remove[2]")
		if len(s.sale.Lines) != 1 {
			t.Errorf("the screen shows %d lines, want 1", len(s.sale.Lines))
		}
	})
}

// TestCashierEnterTwiceActsOnce: a second Enter (or a scanner's) while a
// dialog's request runs does not send it again.
func TestCashierEnterTwiceActsOnce(t *testing.T) {
	enterTwice := func(c fyne.Canvas) {
		onUI(func() {
			f := c.Focused()
			f.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
			f.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		})
	}
	t.Run("cash", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			reg := newFakeRegister()
			reg.set(cartSale)
			reg.fail["PayCash"] = errors.New("cash drawer jammed")
			_, w := startCashier(t, CashierParams{Register: reg})
			c := w.Canvas()
			key(c, fyne.KeyF6)
			typeIn(c.Focused(), "20")
			reg.Calls()
			enterTwice(c)
			wantCalls(t, reg, "PayCash[20]")
			// Once it has answered, Enter tries again.
			key(c, fyne.KeyReturn)
			wantCalls(t, reg, "PayCash[20]")
		})
	})
	t.Run("discount", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			reg := newFakeRegister()
			reg.set(cartSale)
			reg.discount = func(string, string) error { return errors.New("no discounts today") }
			s, w := startCashier(t, CashierParams{Register: reg})
			c := w.Canvas()
			tap(s.cartDisc)
			typeIn(c.Focused(), "5%")
			enterTwice(c)
			wantCalls(t, reg, "SetCartDiscount[5% ]")
		})
	})
	t.Run("settings", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			reg := newFakeRegister()
			set := &fakeSettings{lang: "en"}
			s, w := startCashier(t, CashierParams{Register: reg, Settings: set})
			c := w.Canvas()
			tap(button(t, c, "Settings"))
			typeIn(c.Focused(), "1111")
			enterTwice(c)
			wantShown(t, c, "wrong manager PIN: 2 tries left")
			if set.tries != 1 {
				t.Errorf("SetLanguage called %d times, want 1", set.tries)
			}
			if s.pop == nil {
				t.Errorf("the settings closed after a wrong PIN")
			}
		})
	})
}

// TestCashierScanDoesNotConfirm: a barcode scanned while "Void this
// sale?" is open ends with Enter; that Enter does not void the sale.
func TestCashierScanDoesNotConfirm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cartSale)
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		key(c, fyne.KeyF8)
		onUI(func() { test.TypeOnCanvas(c, "7610000000017") })
		key(c, fyne.KeyReturn)
		wantCalls(t, reg)
		if s.pop == nil {
			t.Fatal("the scanner's Enter closed the void dialog")
		}
		if s.scan.Text != "" {
			t.Errorf("the scan went to the field behind the dialog: %q", s.scan.Text)
		}
		key(c, fyne.KeyReturn) // the cashier's own Enter
		wantCalls(t, reg, "Void")
	})
}

// TestCashierDialogEscapeWithFocus: Escape closes the receipts and the
// settings also after the cashier tapped their list or language choice,
// which then has the focus.
func TestCashierDialogEscapeWithFocus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		var v SaleView
		doneSale(&v, &StatusBarView{})
		reg.receipts = []ReceiptView{*v.Receipt}
		s, w := startCashier(t, CashierParams{Register: reg, Settings: &fakeSettings{lang: "en"}})
		c := w.Canvas()
		focusIn := func(what string) { // as a tap on it does
			t.Helper()
			var f fyne.Focusable
			onUI(func() {
				for _, o := range objects(c) {
					switch o.(type) {
					case *dialogList, *dialogSelect:
						f = o.(fyne.Focusable)
						c.Focus(f)
						return
					}
				}
			})
			if f == nil {
				t.Fatalf("no %s in the dialog", what)
			}
		}
		key(c, fyne.KeyF9)
		focusIn("receipt list")
		key(c, fyne.KeyEscape)
		if s.pop != nil || c.Focused() != s.scan {
			t.Errorf("Escape in the receipt list: dialog open %v, focus on %T", s.pop != nil, c.Focused())
		}
		tap(button(t, c, "Settings"))
		focusIn("language choice")
		key(c, fyne.KeyEscape)
		if s.pop != nil || c.Focused() != s.scan {
			t.Errorf("Escape in the language choice: dialog open %v, focus on %T", s.pop != nil, c.Focused())
		}
	})
}

// TestCashierRefreshKeepsWidgets: refreshes, searches and scans update the
// widgets in place instead of building them again (which flickers and,
// with a scanner typing, costs a rebuild per key).
func TestCashierRefreshKeepsWidgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cartSale)
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		cat, prod, line := s.catButtons[0], s.productButtons[0], s.lines.Objects[0]
		totals := slices.Clone(s.totals.Objects)

		typeIn(s.scan, "choc")
		if s.catButtons[0] != cat || cat.Importance != widget.MediumImportance {
			t.Errorf("searching rebuilt the category buttons or left Coffee highlighted")
		}
		onUI(func() { s.scan.SetText("") })
		typeIn(s.scan, "7610000000017")
		key(c, fyne.KeyReturn)
		s.Changed()
		synctest.Wait()
		if s.catButtons[0] != cat || cat.Importance != widget.HighImportance {
			t.Errorf("after a scan: category button rebuilt or Coffee not highlighted")
		}
		if s.productButtons[0] != prod {
			t.Errorf("a scan rebuilt the product grid")
		}
		if s.lines.Objects[0] != line {
			t.Errorf("a refresh with the same lines rebuilt them")
		}
		if !slices.Equal(s.totals.Objects, totals) {
			t.Errorf("a refresh with the same totals rebuilt them")
		}

		// New amounts go into the same labels.
		reg.set(func(v *SaleView, _ *StatusBarView) { v.Subtotal, v.Total = "CHF 12.96", "CHF 12.96" })
		synctest.Wait()
		if !slices.Equal(s.totals.Objects, totals) {
			t.Errorf("a new subtotal rebuilt the totals")
		}
		wantShown(t, c, "CHF 12.96")
		// A line's new quantity goes into the same row.
		reg.set(func(v *SaleView, _ *StatusBarView) {
			v.Lines = slices.Clone(v.Lines)
			v.Lines[0].Quantity, v.Lines[0].Total = 7, "CHF 34.30"
		})
		synctest.Wait()
		if s.lines.Objects[0] != line {
			t.Errorf("a new quantity rebuilt the line's row")
		}
		wantShown(t, c, "7", "CHF 34.30", "7 × CHF 4.90")
		// A cart discount is one row more.
		reg.set(func(v *SaleView, _ *StatusBarView) { v.CartDiscount = "−CHF 1.00" })
		synctest.Wait()
		wantShown(t, c, "Discount", "−CHF 1.00")
	})
}

// TestCashierRegisterCallsOneAtATime: the screen reads the sale on its
// worker too, never while an action is still running in the Register.
func TestCashierRegisterCallsOneAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cartSale)
		s, _ := startCashier(t, CashierParams{Register: reg, Every: time.Second})
		reg.gate = make(chan struct{})
		tap(s.productButtons[0]) // Add now waits for the gate
		reg.set(func(v *SaleView, st *StatusBarView) { st.Pending = 1 })
		time.Sleep(3 * time.Second) // the bubble's clock: the status bar's ticks
		synctest.Wait()
		close(reg.gate)
		synctest.Wait()
		if reg.overlaps != 0 {
			t.Errorf("the sale or the status was read %d times while Add ran", reg.overlaps)
		}
		wantCalls(t, reg, "Add[esp]")
		if s.status.Pending != 1 {
			t.Errorf("the change made during Add was never shown")
		}
	})
}

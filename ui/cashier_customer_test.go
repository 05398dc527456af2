package ui

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

var anna = CustomerView{ID: "cus_RbT4nna", Name: "Anna Muster", Email: "anna.muster@example.ch", Phone: "+41 79 555 01 23"}

// customerCart is cartSale with a customer who may be looked up.
func customerCart(v *SaleView, st *StatusBarView) {
	cartSale(v, st)
	v.CanChooseCustomer = true
}

// annaCart is cartSale with Anna attached, her saved methods on offer.
func annaCart(v *SaleView, st *StatusBarView) {
	customerCart(v, st)
	c := anna
	v.Customer, v.CanChargeSaved, v.CanSaveCard = &c, true, true
}

func annaMethods() []SavedMethodView {
	return []SavedMethodView{
		{ID: "pm_visa", Type: "card", Label: "VISA •••• 4242", Expiry: "12/2028", Usable: true},
		{ID: "pm_sepa", Type: "sepa_debit", Label: "SEPA Direct Debit •••• 3000", Usable: true},
		{ID: "pm_old", Type: "card", Label: "Mastercard •••• 4444", Expiry: "03/2024", Why: "The card has expired"},
	}
}

// listItem selects row i of the dialog's list, as a tap on it does.
func listItem(t *testing.T, c fyne.Canvas, i int) {
	t.Helper()
	var list *dialogList
	for _, o := range objects(c) {
		if l, ok := o.(*dialogList); ok {
			list = l
		}
	}
	if list == nil {
		t.Fatal("no list in the dialog")
	}
	onUI(func() { list.Select(i) })
}

func TestCashierCustomerSearch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(customerCart)
		reg.customers = []CustomerView{anna, {ID: "cus_B3n", Name: "Ben Keller", Phone: "+41 76 555 44 11"}}
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		key(c, fyne.KeyF3)
		wantShown(t, c, "Returning customer")
		reg.found = make(chan struct{})
		typeIn(c.Focused(), "muster")
		key(c, fyne.KeyReturn)
		wantShown(t, c, "Searching…")
		close(reg.found)
		synctest.Wait()
		wantCalls(t, reg, "FindCustomers[muster]")
		wantShown(t, c, "Anna Muster", "anna.muster@example.ch · +41 79 555 01 23", "Ben Keller", "+41 76 555 44 11")
		wantNotShown(t, c, "Searching…")

		// A refusal stays in the dialog.
		reg.fail["SetCustomer"] = errors.New("set customer: the sale is being paid")
		listItem(t, c, 1)
		wantCalls(t, reg, "SetCustomer[cus_B3n]")
		wantShown(t, c, "set customer: the sale is being paid")
		delete(reg.fail, "SetCustomer")
		listItem(t, c, 0)
		wantCalls(t, reg, "SetCustomer[cus_RbT4nna]")
		if s.pop != nil {
			t.Errorf("the dialog stayed open after choosing")
		}
		if c.Focused() != s.scan {
			t.Errorf("focus on %T after choosing, want the scan field", c.Focused())
		}
	})
}

func TestCashierCustomerSearchFails(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		found []CustomerView
		want  string
	}{
		{"offline", fmt.Errorf("find customers: %w", ErrOffline), nil,
			"Looking up customers needs a connection to the payment service. Carry on without a customer, or try again later."},
		{"other error", errors.New("find customers: 429 too many requests"), nil, "find customers: 429 too many requests"},
		{"nobody", nil, nil, "No customer matches “zz”."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := newFakeRegister()
				reg.set(customerCart)
				if tc.err != nil {
					reg.fail["FindCustomers"] = tc.err
				}
				s, w := startCashier(t, CashierParams{Register: reg})
				c := w.Canvas()
				tap(s.customer)
				typeIn(c.Focused(), "zz")
				tap(button(t, c, "Search (Enter)"))
				wantCalls(t, reg, "FindCustomers[zz]")
				var texts []string
				for _, o := range objects(c) {
					if l, ok := o.(*widget.Label); ok {
						texts = append(texts, l.Text)
					}
				}
				found := false
				for _, text := range texts {
					found = found || text == tc.want
				}
				if !found {
					t.Errorf("%q not shown; labels: %q", tc.want, texts)
				}
				// An empty search asks nothing.
				onUI(func() { c.Focused().(*hookEntry).SetText("  ") })
				key(c, fyne.KeyReturn)
				wantCalls(t, reg)
			})
		})
	}
}

func TestCashierCustomerButtonFollowsFlag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(cartSale)
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		if !s.customer.Disabled() {
			t.Errorf("Customer… enabled while CanChooseCustomer is false")
		}
		key(c, fyne.KeyF3)
		if s.pop != nil {
			t.Errorf("F3 opened the customer search while it is not allowed")
		}
		reg.set(customerCart)
		synctest.Wait()
		if s.customer.Disabled() {
			t.Errorf("Customer… disabled while CanChooseCustomer is true")
		}
		key(c, fyne.KeyF3)
		if s.pop == nil {
			t.Fatal("F3 did not open the customer search")
		}
		// The sale moves on (a card is being collected): the dialog goes.
		reg.set(func(v *SaleView, _ *StatusBarView) { v.CanChooseCustomer = false })
		synctest.Wait()
		if s.pop != nil {
			t.Errorf("the customer search stayed open once it was no longer allowed")
		}
	})
}

func TestCashierAttachedCustomer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(customerCart)
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		if s.cust.box.Visible() {
			t.Errorf("customer strip shown with no customer")
		}
		reg.set(annaCart)
		synctest.Wait()
		wantShown(t, c, "Anna Muster", "anna.muster@example.ch · +41 79 555 01 23", "Saved methods…")
		tap(s.cust.clear)
		wantCalls(t, reg, "SetCustomer[]")

		reg.set(func(v *SaleView, _ *StatusBarView) { v.CanChooseCustomer = false })
		synctest.Wait()
		tap(s.cust.clear)
		wantCalls(t, reg)
		if !s.cust.clear.Disabled() {
			t.Errorf("the × is enabled while the customer may not change")
		}
	})
}

func TestCashierSaveCard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(func(v *SaleView, st *StatusBarView) {
			annaCart(v, st)
			v.CanSaveCard = false
		})
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		label := "Save the card for later — the customer agrees"
		wantNotShown(t, c, label)
		reg.set(func(v *SaleView, _ *StatusBarView) { v.CanSaveCard = true })
		synctest.Wait()
		wantShown(t, c, label)
		if s.cust.save.Checked {
			t.Errorf("save card checked before the customer agreed")
		}
		onUI(func() { test.Tap(s.cust.save) })
		wantCalls(t, reg, "SetSaveCard[true]")
		// The sale says so: the check follows without another call.
		reg.set(func(v *SaleView, _ *StatusBarView) { v.SaveCard = true })
		synctest.Wait()
		if !s.cust.save.Checked {
			t.Errorf("the check does not show the consent the sale has")
		}
		onUI(func() { test.Tap(s.cust.save) })
		wantCalls(t, reg, "SetSaveCard[false]")
		// The app refused: the check shows the sale, not the tap.
		reg.set(func(v *SaleView, _ *StatusBarView) {})
		synctest.Wait()
		if !s.cust.save.Checked {
			t.Errorf("the check shows the tap, not the sale's consent")
		}
		wantCalls(t, reg)
	})
}

func TestCashierSavedMethods(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		reg.set(annaCart)
		reg.methods = annaMethods()
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		tap(button(t, c, "Saved methods…"))
		wantCalls(t, reg, "SavedMethods")
		wantShown(t, c, "Saved payment methods of Anna Muster", "VISA •••• 4242", "Expires 12/2028",
			"SEPA Direct Debit •••• 3000", "Mastercard •••• 4444", "The card has expired")
		var charges []*widget.Button
		for _, o := range objects(c) {
			if b, ok := o.(*widget.Button); ok && b.Text == "Charge" {
				charges = append(charges, b)
			}
		}
		if len(charges) != 3 {
			t.Fatalf("%d Charge buttons, want one per method", len(charges))
		}
		if charges[0].Disabled() || charges[1].Disabled() || !charges[2].Disabled() {
			t.Errorf("Charge enabled: %v %v %v, want the expired card's alone disabled",
				!charges[0].Disabled(), !charges[1].Disabled(), !charges[2].Disabled())
		}
		tap(charges[2])
		wantCalls(t, reg)

		reg.fail["ChargeSaved"] = errors.New("charge saved: the amount is zero")
		tap(charges[1])
		wantCalls(t, reg, "ChargeSaved[pm_sepa]")
		wantShown(t, c, "charge saved: the amount is zero")
		delete(reg.fail, "ChargeSaved")
		tap(charges[0])
		wantCalls(t, reg, "ChargeSaved[pm_visa]")
		if s.pop != nil {
			t.Errorf("the saved methods stayed open after the charge")
		}
	})
}

func TestCashierSavedMethodsFail(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		methods []SavedMethodView
		want    string
	}{
		{"offline", fmt.Errorf("saved methods: %w", ErrOffline), nil, "Saved payment methods need a connection to the payment service."},
		{"error", errors.New("saved methods: 500 internal error"), nil, "saved methods: 500 internal error"},
		{"none", nil, nil, "This customer has no saved payment methods."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := newFakeRegister()
				reg.set(annaCart)
				if tc.err != nil {
					reg.fail["SavedMethods"] = tc.err
				}
				s, w := startCashier(t, CashierParams{Register: reg})
				c := w.Canvas()
				tap(s.cust.saved)
				wantShown(t, c, tc.want)
				if hasButton(c, "Charge") {
					t.Errorf("a Charge button with no method to charge")
				}
			})
		})
	}
}

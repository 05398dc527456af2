package ui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"fyne.io/fyne/v2"

	"github.com/tillpos/till/ui/uitest"
)

// TestCashierVoidPaidSale voids a paid sale from the receipts dialog: a
// reason is required, the manager's PIN is asked for, errors show in
// place, and once voided the receipts are read again.
func TestCashierVoidPaidSale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		var v SaleView
		doneSale(&v, &StatusBarView{})
		paid := *v.Receipt
		paid.Voidable = true
		cash := paid
		cash.OrderID, cash.Voidable = "lane1-OLDER", false
		reg.receipts = []ReceiptView{paid, cash}
		s, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		key(c, fyne.KeyF9)
		reg.Calls()

		// Only a voidable receipt offers it.
		button(t, c, "Void sale…")
		onUI(func() { uitest.SelectRow(c.Overlays().Top(), 1) })
		if hasButton(c, "Void sale…") {
			t.Fatal("a receipt that is not voidable offers a void")
		}
		onUI(func() { uitest.SelectRow(c.Overlays().Top(), 0) })
		tap(button(t, c, "Void sale…"))
		wantShown(t, c, "Reason", "Manager PIN")
		if all := shown(c); !slices.ContainsFunc(all, func(s string) bool {
			return strings.HasPrefix(s, "Void the sale lane1-01KAQ3D1V9F8C2W7Y5N0M4T6HB (CHF 11.96): ")
		}) {
			t.Fatalf("the sale to void is not named; shown %q", all)
		}

		// No reason: refused here, nothing asked of the Register.
		tap(button(t, c, "Void the sale"))
		wantShown(t, c, "Give a reason for the void.")
		wantCalls(t, reg)

		reason := c.Focused()
		if _, ok := reason.(*hookEntry); !ok {
			t.Fatalf("focus on %T, want the reason", reason)
		}
		typeIn(reason, "wrong item rung up")
		key(c, fyne.KeyReturn) // on to the PIN
		pin := c.Focused()
		if pin == reason {
			t.Fatal("Enter in the reason did not move to the PIN")
		}

		// No PIN: the Register says it needs the manager's.
		setFail(reg, "VoidPaid", fmt.Errorf("void %s: %w", paid.OrderID, ErrManagerPIN))
		key(c, fyne.KeyReturn)
		wantCalls(t, reg, "VoidPaid[lane1-01KAQ3D1V9F8C2W7Y5N0M4T6HB wrong item rung up ]")
		wantShown(t, c, "Voiding a paid sale needs the manager's PIN.")

		// A wrong PIN: its error as it is, the PIN cleared.
		setFail(reg, "VoidPaid", fmt.Errorf("%w: locked for 5 min", ErrWrongPIN))
		typeIn(c.Focused(), "1111")
		key(c, fyne.KeyReturn)
		wantCalls(t, reg, "VoidPaid[lane1-01KAQ3D1V9F8C2W7Y5N0M4T6HB wrong item rung up 1111]")
		wantShown(t, c, "wrong manager PIN: locked for 5 min")
		if e := c.Focused().(*hookEntry); e.Text != "" {
			t.Errorf("the wrong PIN stays in its entry")
		}

		// The right one: voided, and the receipts read again.
		setFail(reg, "VoidPaid", nil)
		voided := paid
		voided.Voided, voided.Voidable = true, false
		reg.mu.Lock()
		reg.receipts = []ReceiptView{voided, cash}
		reg.mu.Unlock()
		typeIn(c.Focused(), "4321")
		key(c, fyne.KeyReturn)
		wantCalls(t, reg, "VoidPaid[lane1-01KAQ3D1V9F8C2W7Y5N0M4T6HB wrong item rung up 4321]", "Receipts[20]")
		if s.pop == nil {
			t.Fatal("the receipts closed after the void")
		}
		wantShown(t, c, "Last receipts", "Void slip — sale cancelled")
		if hasButton(c, "Void sale…") {
			t.Error("a voided sale still offers a void")
		}
	})
}

// TestCashierVoidPaidBack: Back leaves the form without voiding.
func TestCashierVoidPaidBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegister()
		var v SaleView
		doneSale(&v, &StatusBarView{})
		v.Receipt.Voidable = true
		reg.receipts = []ReceiptView{*v.Receipt}
		_, w := startCashier(t, CashierParams{Register: reg})
		c := w.Canvas()
		key(c, fyne.KeyF9)
		tap(button(t, c, "Void sale…"))
		tap(button(t, c, "Back"))
		wantShown(t, c, "Last receipts", "Receipt")
		button(t, c, "Void sale…")
		for _, call := range reg.Calls() {
			if call != "Receipts[20]" {
				t.Errorf("call %q", call)
			}
		}
	})
}

func setFail(reg *fakeRegister, method string, err error) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.fail[method] = err
}

package app

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/tillpos/till/ui"
	"github.com/tillpos/till/ui/uitest"
)

// valueAfter returns the text drawn right after label, as a form shows a
// field's value after its name.
func valueAfter(t *testing.T, all []string, label string) string {
	t.Helper()
	i := slices.Index(all, label)
	if i < 0 || i+1 >= len(all) {
		t.Fatalf("%q not on screen; screen shows %q", label, all)
	}
	return all[i+1]
}

func button(t *testing.T, o fyne.CanvasObject, text string) *widget.Button {
	t.Helper()
	for _, c := range test.LaidOutObjects(o) {
		if b, ok := c.(*widget.Button); ok && b.Text == text {
			return b
		}
	}
	t.Fatalf("no button %q", text)
	return nil
}

// TestStatusScreenShowsLiveStore drives the status screen over a real till:
// it shows the store's counts, and a demo card sale rung up from its button
// appears as a new order with one pending outbox entry.
func TestStatusScreenShowsLiveStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := test.NewTempApp(t)
		till, clock := openTill(t, nil)
		screen := ui.NewStatusScreen(ui.StatusParams{
			Version: "1.2.3", Source: till, Now: clock.Now, Actions: till.demoActions(),
		})
		till.Subscribe(screen.Changed)
		w := a.NewWindow("Till")
		w.SetContent(screen.Content())
		w.Resize(fyne.NewSize(1024, 720))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		screen.Start(ctx)
		synctest.Wait()

		shown := uitest.ShownTexts(w.Content())
		if got := valueAfter(t, shown, "Orders"); got != "0" {
			t.Errorf("orders = %q, want 0", got)
		}
		if got := valueAfter(t, shown, "Oldest pending"); got != "none" {
			t.Errorf("oldest pending = %q, want none", got)
		}
		if !slices.Contains(shown, "Version 1.2.3") {
			t.Errorf("version missing from %q", shown)
		}

		// No API answers here (openTill's unusedAPI, drainer not started):
		// the card sale is committed at once, its wait for the API runs
		// out on the bubble's clock, and the cashier is told it is kept.
		test.Tap(button(t, w.Content(), "Ring up a demo card sale"))
		time.Sleep(time.Minute)
		synctest.Wait()
		shown = uitest.ShownTexts(w.Content())
		if !slices.ContainsFunc(shown, func(s string) bool { return strings.Contains(s, "is kept") }) {
			t.Errorf("no word that the unpaid card sale is kept: %q", shown)
		}
		if got := valueAfter(t, shown, "Orders"); got != "1" {
			t.Errorf("orders after a card sale = %q, want 1", got)
		}
		if got := valueAfter(t, shown, "Outbox pending"); got != "1" {
			t.Errorf("outbox pending after a card sale = %q, want 1", got)
		}
		st, err := till.StoreState()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(shown, st.Recent[0].ID) || !slices.Contains(shown, "tendering") {
			t.Errorf("recent orders do not show %s in tendering: %q", st.Recent[0].ID, shown)
		}

		// A change made elsewhere (later: the drainer) reaches the screen
		// through the store's change subscription, not through a button.
		if _, err := till.DemoCashSale(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		shown = uitest.ShownTexts(w.Content())
		if got := valueAfter(t, shown, "Orders"); got != "2" {
			t.Errorf("orders after a cash sale = %q, want 2", got)
		}
		if got := valueAfter(t, shown, "Outbox pending"); got != "1" {
			t.Errorf("a cash sale changed the outbox: pending = %q, want 1", got)
		}
	})
}

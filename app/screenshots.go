package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"

	"github.com/tillpos/till/ui"
)

// screenshotSettle is how long the screenshot tour lets the window paint
// after the screen applied a change: the driver draws on its own frame
// clock, and a capture reads the last frame drawn.
const screenshotSettle = 400 * time.Millisecond

// shot is one screenshot of the tour: what to do, what the screen must
// show before the picture is taken, and the file name.
type shot struct {
	name string
	do   func(t *Till, r *Register) error
	want func(ui.SaleView) bool
}

// screenshotTour runs the real window through a card sale on the embedded
// default — empty till, cart, waiting for the card, a decline, the approved
// receipt — and then an offline charge on a till whose payment API is
// unreachable, writing a PNG of the window at each step into dir. It runs
// off the UI goroutine and quits the app when done.
func (r *runner) screenshotTour(dir string, applied <-chan ui.SaleView) {
	err := r.tour(dir, applied)
	if err != nil {
		r.log.Error("screenshots", "err", err)
		r.exitCode = 1
	}
	fyne.Do(r.app.Quit)
}

func (r *runner) tour(dir string, applied <-chan ui.SaleView) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("screenshots: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	scan := func(codes ...string) func(*Till, *Register) error {
		return func(_ *Till, reg *Register) error {
			for _, c := range codes {
				if err := reg.Scan(c); err != nil {
					return err
				}
			}
			return nil
		}
	}
	tap := func(card string) func(*Till, *Register) error {
		return func(t *Till, reg *Register) error {
			o, err := t.Order(reg.Sale().OrderID)
			if err != nil {
				return err
			}
			c, _ := CurrentCard(o)
			return t.PresentSimulatedCard(ctx, c.Payment.PaymentIntentID, card)
		}
	}
	step := func(s ui.CardStep) func(ui.SaleView) bool {
		return func(v ui.SaleView) bool { return v.Stage == ui.StageCard && v.Card.Step == s }
	}
	tour := []shot{
		{name: "empty", want: func(v ui.SaleView) bool { return v.Stage == ui.StageCart && len(v.Lines) == 0 }},
		{name: "cart", do: scan("7610335001202", "HOT-CAP", "HOT-CAP", "PAS-GIP"),
			want: func(v ui.SaleView) bool { return len(v.Lines) == 3 }},
		{name: "waiting-for-card", do: func(_ *Till, reg *Register) error { return reg.ChargeCard() },
			want: step(ui.CardPresent)},
		{name: "declined", do: tap("charge_declined_insufficient_funds"), want: step(ui.CardDeclined)},
		{name: "receipt", do: func(t *Till, reg *Register) error {
			if err := reg.RetryCard(); err != nil {
				return err
			}
			if err := r.waitApplied(ctx, applied, step(ui.CardPresent)); err != nil {
				return err
			}
			return tap("visa")(t, reg)
		}, want: func(v ui.SaleView) bool { return v.Stage == ui.StageDone }},
	}
	wallet := func(v ui.SaleView) bool { return v.Stage == ui.StageWallet && v.Wallet.Step == ui.WalletScan }
	tour = append(tour,
		shot{name: "twint-qr", do: func(t *Till, reg *Register) error {
			if err := reg.NewSale(); err != nil {
				return err
			}
			if err := scan("HOT-CAP", "PAS-GIP")(t, reg); err != nil {
				return err
			}
			return reg.ChargeWallet("twint")
		}, want: wallet},
		shot{name: "twint-paid", do: func(t *Till, reg *Register) error {
			return t.WalletSimulator().ApproveWallet(reg.Sale().Wallet.URL)
		}, want: func(v ui.SaleView) bool { return v.Stage == ui.StageDone }},
	)
	for _, s := range tour {
		if err := r.takeShot(ctx, dir, s, applied); err != nil {
			return err
		}
	}

	// MobilePay: a till in Copenhagen, on its own embedded sandbox.
	dkk, err := r.openTempTill("till-dkk-*", func(cfg *Config) { cfg.Currency, cfg.Locale = "DKK", "da-DK" })
	if err != nil {
		return err
	}
	defer dkk.close()
	fyne.DoAndWait(func() { r.showTill(dkk) })
	if err := r.takeShot(ctx, dir, shot{name: "mobilepay-qr", do: func(t *Till, reg *Register) error {
		if err := scan("HOT-CAP", "HOT-CAP", "PAS-GIP")(t, reg); err != nil {
			return err
		}
		return reg.ChargeWallet("mobilepay")
	}, want: wallet}, applied); err != nil {
		return err
	}

	// Offline: the same till software on a payment API nobody answers.
	offline, err := r.openOfflineTill()
	if err != nil {
		return err
	}
	defer offline.close()
	fyne.DoAndWait(func() { r.showTill(offline) })
	return r.takeShot(ctx, dir, shot{name: "offline",
		do: func(_ *Till, reg *Register) error {
			if err := scan("HOT-ESP", "PAS-GIP")(nil, reg); err != nil {
				return err
			}
			return reg.ChargeCard()
		}, want: step(ui.CardOffline)}, applied)
}

// takeShot does s, waits until the screen shows what it wants, and saves
// the window as dir/name.png.
func (r *runner) takeShot(ctx context.Context, dir string, s shot, applied <-chan ui.SaleView) error {
	if s.do != nil {
		if err := s.do(r.till, r.reg); err != nil {
			return fmt.Errorf("screenshot %s: %w", s.name, err)
		}
	}
	if err := r.waitApplied(ctx, applied, s.want); err != nil {
		return fmt.Errorf("screenshot %s: %w", s.name, err)
	}
	time.Sleep(screenshotSettle)
	path := filepath.Join(dir, s.name+".png")
	if err := r.capture(path); err != nil {
		return fmt.Errorf("screenshot %s: %w", s.name, err)
	}
	r.log.Info("screenshot", "file", path)
	return nil
}

// capture saves what the display shows. Under Xvfb the window's own
// Capture reads an OpenGL front buffer that Mesa leaves black, so the X
// server's picture is taken with ImageMagick's import (make screenshots
// installs it) when it is there; the canvas capture is the fallback.
func (r *runner) capture(path string) error {
	if imp, err := exec.LookPath("import"); err == nil {
		if out, err := exec.Command(imp, "-window", "root", path).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", imp, err, out)
		}
		return nil
	}
	var img image.Image
	fyne.DoAndWait(func() { img = r.win.Canvas().Capture() })
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(png.Encode(f, img), f.Close())
}

// waitApplied waits until the screen has shown a sale that satisfies want.
func (r *runner) waitApplied(ctx context.Context, applied <-chan ui.SaleView, want func(ui.SaleView) bool) error {
	for {
		select {
		case v := <-applied:
			if want(v) {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("the screen never got there: %w", ctx.Err())
		}
	}
}

// openOfflineTill opens a second till in a temporary directory whose
// payment API is a loopback port nobody listens on.
func (r *runner) openOfflineTill() (*opened, error) {
	return r.openTempTill("till-offline-*", func(cfg *Config) {
		cfg.API = APIConfig{BaseURL: "http://127.0.0.1:9", Key: "sk_test_offline_screenshot"}
	})
}

// openTempTill opens another till in a temporary directory, its default
// config changed by mutate.
func (r *runner) openTempTill(pattern string, mutate func(*Config)) (*opened, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return nil, err
	}
	cfg := DefaultConfig()
	cfg.Database = filepath.Join(dir, "till.db")
	mutate(&cfg)
	op, err := openWithRegister(Params{Config: cfg, Now: r.now, Logger: slog.New(slog.DiscardHandler),
		DrainBackoff: func(int) time.Duration { return time.Second }})
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	op.tempDir = dir
	return op, nil
}

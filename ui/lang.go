package ui

import (
	"embed"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"
)

// The screens' own catalogs: one JSON file per language, keyed by the
// English text passed to lang.L. en.json maps every key to itself so that
// an English override can replace an earlier one.
//
//go:embed translations/*.json
var translations embed.FS

// shippedLanguages are the languages the screens are translated into.
var shippedLanguages = []string{"en", "fr", "de"}

// LoadTranslations loads the screens' catalogs into Fyne's translation
// engine. It is process-global and should run once at start-up, before any
// screen is built (a screen reads its texts when it is built).
//
// With override "" the operating system's locale decides, as Fyne does by
// default: each catalog is registered for its own language.
//
// Fyne has no public API to force a language: its localizer is always
// chosen by matching the OS locales against the registered catalogs. So an
// override ("en", "fr" or "de") registers that one catalog under every
// language the till ships, and whichever of them the OS locale matches
// (or the English fallback when it matches none) yields the chosen
// language. Fyne's own widget texts, which come from Fyne's catalogs, still
// follow the OS when it is one of the other languages Fyne ships.
func LoadTranslations(override string) error {
	if override == "" {
		if err := lang.AddTranslationsFS(translations, "translations"); err != nil {
			return fmt.Errorf("load translations: %w", err)
		}
		return nil
	}
	data, err := translations.ReadFile("translations/" + override + ".json")
	if err != nil {
		return fmt.Errorf("load translations for %q: no such language", override)
	}
	for _, tag := range shippedLanguages {
		if err := lang.AddTranslationsForLocale(data, fyne.Locale(tag)); err != nil {
			return fmt.Errorf("load translations for %q as %s: %w", override, tag, err)
		}
	}
	return nil
}

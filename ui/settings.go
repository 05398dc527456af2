package ui

import (
	"errors"
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// languageNames are the languages as their speakers name them; "" is the
// system's language.
var languageNames = map[string]string{"en": "English", "fr": "Français", "de": "Deutsch"}

// openSettings reads the settings off the UI goroutine, then shows them.
func (s *CashierScreen) openSettings() {
	set := s.p.Settings
	if set == nil || s.pop != nil {
		return
	}
	s.do(func() func() {
		cur, langs := set.Language(), set.Languages()
		return func() { s.showSettings(cur, langs) }
	})
}

// showSettings offers the language, behind the manager's PIN. Once saved
// the translations are loaded and the screen is rebuilt in the language.
func (s *CashierScreen) showSettings(cur string, langs []string) {
	if s.pop != nil {
		return
	}
	system := lang.L("Same as the system")
	tags := append([]string{""}, langs...)
	names := make([]string, len(tags))
	for i, t := range tags {
		switch n, ok := languageNames[t]; {
		case t == "":
			names[i] = system
		case ok:
			names[i] = n
		default:
			names[i] = t
		}
	}
	choice := s.dialogSelect(names)
	if i := slices.Index(tags, cur); i >= 0 {
		choice.SetSelectedIndex(i)
	}
	pin := s.dialogEntry()
	pin.Password = true
	problem := errorLabel()
	var p *popup
	var save *widget.Button
	busy := false // one save at a time: Enter pressed twice saves once
	submit := func() {
		if busy {
			return
		}
		i := choice.SelectedIndex()
		if i < 0 {
			showError(problem, lang.L("Choose a language."))
			return
		}
		tag, code, set := tags[i], pin.Text, s.p.Settings
		busy = true
		save.Disable()
		s.do(func() func() {
			err := set.SetLanguage(tag, code)
			return func() {
				busy = false
				save.Enable()
				if err == nil { // translations are process-global: load them on the UI goroutine
					err = LoadTranslations(tag)
				}
				switch {
				case err == nil:
					s.closeThis(p)
					s.rebuild()
				case errors.Is(err, ErrWrongPIN):
					pin.SetText("")
					showError(problem, err.Error())
				default:
					showError(problem, err.Error())
				}
			}
		})
	}
	pin.OnSubmitted = func(string) { submit() }
	save = bigButton(lang.L("Save")+" (Enter)", theme.ConfirmIcon(), widget.HighImportance, submit)
	back := bigButton(lang.L("Back")+" (Esc)", theme.CancelIcon(), widget.MediumImportance, s.closePopup)
	form := container.New(layout.NewFormLayout(),
		widget.NewLabel(lang.L("Language")), choice,
		widget.NewLabel(lang.L("Manager PIN")), tall(56, pin))
	p = s.openPopup(lang.L("Settings"), container.NewVBox(form, problem, layout.NewSpacer(),
		container.NewGridWithColumns(2, tall(64, back), tall(64, save))), fyne.NewSize(560, 340), pin)
}

package main

import (
	"strings"
	"testing"

	"github.com/tillpos/till/reader"
)

// TestRuleCoversDefaultIDs checks that every supported reader gets exactly
// one uaccess line, and nothing else is allowed.
func TestRuleCoversDefaultIDs(t *testing.T) {
	var out strings.Builder
	if err := write(&out, reader.DefaultUSBIDs); err != nil {
		t.Fatal(err)
	}
	var rules []string
	for line := range strings.Lines(out.String()) {
		if !strings.HasPrefix(line, "#") {
			rules = append(rules, line)
		}
	}
	if len(rules) != len(reader.DefaultUSBIDs) {
		t.Fatalf("got %d rule lines, want one per DefaultUSBIDs entry (%d):\n%s", len(rules), len(reader.DefaultUSBIDs), out.String())
	}
	for i, id := range reader.DefaultUSBIDs {
		vid, pid, _ := strings.Cut(id.String(), ":")
		want := `ATTR{idVendor}=="` + vid + `", ATTR{idProduct}=="` + pid + `", TAG+="uaccess"`
		if !strings.Contains(rules[i], want) || !strings.HasPrefix(rules[i], `SUBSYSTEM=="usb"`) {
			t.Errorf("rule %d = %q, want it to contain %q", i, rules[i], want)
		}
	}
}

// TestRuleFileSortsBeforeSeatLate: uaccess only works if the tag is set
// before 73-seat-late.rules applies the ACLs.
func TestRuleFileSortsBeforeSeatLate(t *testing.T) {
	if RuleFile >= "73-seat-late.rules" {
		t.Fatalf("%s sorts after 73-seat-late.rules; uaccess would be ignored", RuleFile)
	}
}

func TestWriteRefusesEmptyList(t *testing.T) {
	if err := write(&strings.Builder{}, nil); err == nil {
		t.Fatal("write with no IDs: got nil error")
	}
}

// Command udevrules prints Till's udev rule for the supported card readers,
// generated from reader.DefaultUSBIDs so that the rule the .deb installs and
// the IDs the USB transport looks for can never disagree.
//
// The rule tags each matching USB device with "uaccess", which systemd-logind
// turns into an ACL for the user logged in at the local seat (applied by
// 73-seat-late.rules, so the file must sort before it: see RuleFile).
//
// Usage (from the repository root, as assets/packaging/linux/build.sh does):
//
//	go run -trimpath ./assets/packaging/linux/udevrules > 70-till-readers.rules
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tillpos/till/reader"
)

// RuleFile is the name the rule is installed under in
// /usr/lib/udev/rules.d. It must sort before 73-seat-late.rules, where
// uaccess tags are turned into ACLs.
const RuleFile = "70-till-readers.rules"

func main() {
	if err := write(os.Stdout, reader.DefaultUSBIDs); err != nil {
		fmt.Fprintln(os.Stderr, "udevrules:", err)
		os.Exit(1)
	}
}

// write prints the rule file for ids: a header, then one line per VID:PID.
func write(w io.Writer, ids []reader.USBID) error {
	if len(ids) == 0 {
		return errors.New("write udev rule: no USB IDs to allow")
	}
	var b strings.Builder
	b.WriteString("# Till card readers: give the user logged in at the local seat access to\n")
	b.WriteString("# the supported readers (TAG+=\"uaccess\", applied by 73-seat-late.rules).\n")
	b.WriteString("# Generated from reader.DefaultUSBIDs by assets/packaging/linux/udevrules;\n")
	b.WriteString("# do not edit. Installed by the till package as " + RuleFile + ".\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\", ATTR{idVendor}==\"%04x\", ATTR{idProduct}==\"%04x\", TAG+=\"uaccess\"\n",
			id.Vendor, id.Product)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write udev rule: %w", err)
	}
	return nil
}

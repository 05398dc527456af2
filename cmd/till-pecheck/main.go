// Command till-pecheck checks that a Windows executable is fit to ship as
// Till's Windows build: a 64-bit (PE32+, AMD64) GUI-subsystem image with
// ASLR and DEP, that imports only Windows system DLLs (no libusb, MinGW
// runtime or C++ runtime DLLs to ship beside it), and that carries an icon,
// an application manifest (asInvoker, per-monitor DPI aware) and version
// information, optionally of a given version.
//
// Usage:
//
//	till-pecheck [-version 1.2.3-4-gabcdef] [-file-version 1.2.3.4] [-allow foo.dll] till.exe ...
//
// It prints what it found, then one line per failed check, and exits 1 if
// any check failed (2 on a usage error or a file that is not a PE image).
//
// The decisions (Check) are separate from the parsing (Inspect), so that
// they can be tested without an executable.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// run is main with its arguments and outputs injected, returning the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("till-pecheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		pol   = DefaultPolicy()
		allow listFlag
	)
	fs.StringVar(&pol.ProductVersion, "version", "", "expected ProductVersion string in the version resource (e.g. 1.2.3-4-gabcdef); empty: any")
	fs.StringVar(&pol.FileVersion, "file-version", "", "expected numeric file and product version MAJOR.MINOR.PATCH.BUILD (e.g. 1.2.3.4); empty: any")
	fs.BoolVar(&pol.RequireIcon, "icon", pol.RequireIcon, "require an icon resource (RT_GROUP_ICON)")
	fs.BoolVar(&pol.RequireManifest, "manifest", pol.RequireManifest, "require an application manifest (RT_MANIFEST)")
	fs.BoolVar(&pol.RequireVersionInfo, "versioninfo", pol.RequireVersionInfo, "require a version resource (RT_VERSION)")
	fs.StringVar(&pol.ExecutionLevel, "execution-level", pol.ExecutionLevel, "required requestedExecutionLevel in the manifest; empty: any")
	fs.BoolVar(&pol.RequirePerMonitorDPI, "dpi", pol.RequirePerMonitorDPI, "require per-monitor DPI awareness in the manifest")
	fs.Var(&allow, "allow", "also allow this DLL (repeatable; a trailing * matches a prefix)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: till-pecheck [flags] FILE.exe ...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	pol.AllowedDLLs = append(pol.AllowedDLLs, allow...)

	code := 0
	for _, path := range fs.Args() {
		facts, err := InspectFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "till-pecheck: %v\n", err)
			code = max(code, 2)
			continue
		}
		fmt.Fprintf(stdout, "%s:\n%s", path, facts.Summary())
		problems := Check(facts, pol)
		if len(problems) == 0 {
			fmt.Fprintf(stdout, "  OK: all checks passed\n")
			continue
		}
		for _, p := range problems {
			fmt.Fprintf(stderr, "%s: FAIL: %s\n", path, p)
		}
		code = max(code, 1)
	}
	return code
}

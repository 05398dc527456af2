package main

import (
	"debug/pe"
	"fmt"
	"strings"
)

// SystemDLLs are the DLLs every supported Windows (10 and later, x64) has
// in System32: a Till exe may import these and nothing else. Names are
// compared case-insensitively; a trailing * matches a prefix.
var SystemDLLs = []string{
	"kernel32.dll", "ntdll.dll", "user32.dll", "gdi32.dll", "opengl32.dll",
	"shell32.dll", "ole32.dll", "oleaut32.dll", "advapi32.dll", "winmm.dll",
	"ws2_32.dll", "msvcrt.dll", "ucrtbase.dll", "comctl32.dll", "comdlg32.dll",
	"imm32.dll", "dwmapi.dll", "uxtheme.dll", "shlwapi.dll", "setupapi.dll",
	"cfgmgr32.dll", "version.dll", "crypt32.dll", "bcrypt.dll", "secur32.dll",
	"iphlpapi.dll", "userenv.dll", "dnsapi.dll", "winusb.dll", "hid.dll",
	"powrprof.dll", "dbghelp.dll",
	"api-ms-win-*",
}

// Policy is what Check requires of an executable.
type Policy struct {
	AllowedDLLs        []string // see SystemDLLs
	RequireIcon        bool     // an RT_GROUP_ICON resource
	RequireManifest    bool     // an RT_MANIFEST resource
	RequireVersionInfo bool     // an RT_VERSION resource
	// ExecutionLevel, when set, is the manifest's required
	// requestedExecutionLevel ("asInvoker": no UAC prompt).
	ExecutionLevel string
	// RequirePerMonitorDPI requires the manifest to declare per-monitor
	// DPI awareness.
	RequirePerMonitorDPI bool
	// ProductVersion, when set, is the expected ProductVersion string of
	// the version resource (the full Till version, e.g. "1.2.3-4-gabcdef").
	ProductVersion string
	// FileVersion, when set, is the expected numeric file and product
	// version of the fixed version info, "MAJOR.MINOR.PATCH.BUILD".
	FileVersion string
}

// DefaultPolicy is the policy for a shippable Till exe.
func DefaultPolicy() Policy {
	return Policy{
		AllowedDLLs:          append([]string(nil), SystemDLLs...),
		RequireIcon:          true,
		RequireManifest:      true,
		RequireVersionInfo:   true,
		ExecutionLevel:       "asInvoker",
		RequirePerMonitorDPI: true,
	}
}

// Hardening flags every image must have: ASLR (with 64-bit entropy) and DEP.
const requiredDllCharacteristics = pe.IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE |
	pe.IMAGE_DLLCHARACTERISTICS_HIGH_ENTROPY_VA |
	pe.IMAGE_DLLCHARACTERISTICS_NX_COMPAT

// Check returns one message for each way facts fall short of pol; none
// means the image passes.
func Check(facts *Facts, pol Policy) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if !facts.PE32Plus {
		fail("not PE32+: the optional header is 32-bit")
	}
	if facts.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
		fail("machine is %#04x, want AMD64 (%#04x)", facts.Machine, pe.IMAGE_FILE_MACHINE_AMD64)
	}
	if facts.Subsystem != pe.IMAGE_SUBSYSTEM_WINDOWS_GUI {
		fail("subsystem is %d (%s), want %d (Windows GUI): was it linked with -H=windowsgui?",
			facts.Subsystem, subsystemName(facts.Subsystem), pe.IMAGE_SUBSYSTEM_WINDOWS_GUI)
	}
	if missing := requiredDllCharacteristics &^ facts.DllCharacteristics; missing != 0 {
		fail("DLL characteristics %#04x lack %#04x (want DYNAMIC_BASE, HIGH_ENTROPY_VA and NX_COMPAT)",
			facts.DllCharacteristics, missing)
	}
	if len(facts.Imports) == 0 {
		fail("no imported DLLs: the import table is empty or unreadable")
	}
	for _, dll := range facts.Imports {
		if !dllAllowed(dll, pol.AllowedDLLs) {
			fail("imports %s, which is not a Windows system DLL (it would have to ship beside the exe)", dll)
		}
	}
	for _, dll := range facts.DelayImports {
		if !dllAllowed(dll, pol.AllowedDLLs) {
			fail("delay-loads %s, which is not a Windows system DLL", dll)
		}
	}
	if pol.RequireIcon && facts.Resources[rtGroupIcon] == 0 {
		fail("no icon resource (RT_GROUP_ICON)")
	}
	if pol.RequireIcon && facts.Resources[rtGroupIcon] > 0 && facts.Resources[rtIcon] == 0 {
		fail("an icon group (RT_GROUP_ICON) but no icon images (RT_ICON)")
	}
	if pol.RequireManifest && facts.Resources[rtManifest] == 0 {
		fail("no application manifest (RT_MANIFEST)")
	}
	if facts.Manifest != nil && (pol.ExecutionLevel != "" || pol.RequirePerMonitorDPI) {
		if m, err := ParseManifest(facts.Manifest); err != nil {
			fail("manifest: %v", err)
		} else {
			if pol.ExecutionLevel != "" && m.ExecutionLevel != pol.ExecutionLevel {
				fail("manifest requestedExecutionLevel is %q, want %q", m.ExecutionLevel, pol.ExecutionLevel)
			}
			if pol.RequirePerMonitorDPI && !m.PerMonitorDPIAware() {
				fail("manifest does not declare per-monitor DPI awareness (dpiAware %q, dpiAwareness %q)", m.DPIAware, m.DPIAwareness)
			}
		}
	}
	needVersion := pol.RequireVersionInfo || pol.ProductVersion != "" || pol.FileVersion != ""
	switch v := facts.Version; {
	case v == nil && needVersion:
		fail("no version resource (RT_VERSION)")
	case v == nil:
	default:
		if pol.ProductVersion != "" && v.Strings["ProductVersion"] != pol.ProductVersion {
			fail("version resource ProductVersion is %q, want %q", v.Strings["ProductVersion"], pol.ProductVersion)
		}
		if pol.FileVersion != "" {
			if got := formatVersion(v.FileVersion); got != pol.FileVersion {
				fail("version resource file version is %s, want %s", got, pol.FileVersion)
			}
			if got := formatVersion(v.ProductVersion); got != pol.FileVersion {
				fail("version resource product version is %s, want %s", got, pol.FileVersion)
			}
		}
	}
	return problems
}

// dllAllowed reports whether dll matches a name or prefix* of allowed,
// ignoring case.
func dllAllowed(dll string, allowed []string) bool {
	dll = strings.ToLower(dll)
	for _, a := range allowed {
		a = strings.ToLower(a)
		if prefix, ok := strings.CutSuffix(a, "*"); ok {
			if strings.HasPrefix(dll, prefix) {
				return true
			}
		} else if dll == a {
			return true
		}
	}
	return false
}

package main

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

const goodManifest = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v1" manifestVersion="1.0">
  <trustInfo xmlns="urn:schemas-microsoft-com:asm.v3"><security><requestedPrivileges>
    <requestedExecutionLevel level="asInvoker" uiAccess="false"/>
  </requestedPrivileges></security></trustInfo>
  <application xmlns="urn:schemas-microsoft-com:asm.v3"><windowsSettings>
    <dpiAware xmlns="http://schemas.microsoft.com/SMI/2005/WindowsSettings">true/pm</dpiAware>
    <dpiAwareness xmlns="http://schemas.microsoft.com/SMI/2016/WindowsSettings">PerMonitorV2, PerMonitor</dpiAwareness>
  </windowsSettings></application>
</assembly>
`

// goodFacts is what a shippable Till exe looks like.
func goodFacts() *Facts {
	return &Facts{
		PE32Plus:           true,
		Machine:            pe.IMAGE_FILE_MACHINE_AMD64,
		Subsystem:          pe.IMAGE_SUBSYSTEM_WINDOWS_GUI,
		DllCharacteristics: 0x0160,
		Imports:            []string{"ADVAPI32.dll", "KERNEL32.dll", "msvcrt.dll", "OPENGL32.dll", "api-ms-win-core-synch-l1-2-0.dll"},
		Resources:          map[uint32]int{rtIcon: 7, rtGroupIcon: 1, rtVersion: 1, rtManifest: 1},
		Manifest:           []byte(goodManifest),
		Version: &VersionInfo{
			FileVersion:    [4]uint16{1, 2, 3, 4},
			ProductVersion: [4]uint16{1, 2, 3, 4},
			Strings:        map[string]string{"ProductVersion": "1.2.3-4-gabcdef"},
		},
	}
}

func TestCheck(t *testing.T) {
	versioned := DefaultPolicy()
	versioned.ProductVersion, versioned.FileVersion = "1.2.3-4-gabcdef", "1.2.3.4"
	lax := DefaultPolicy()
	lax.RequireIcon, lax.RequireManifest, lax.RequireVersionInfo = false, false, false

	tests := []struct {
		name   string
		mutate func(*Facts)
		pol    Policy
		want   []string // substrings, one per expected problem, in order
	}{
		{name: "good", mutate: func(*Facts) {}, pol: versioned},
		{name: "32-bit", mutate: func(f *Facts) { f.PE32Plus = false; f.Machine = pe.IMAGE_FILE_MACHINE_I386 },
			pol: versioned, want: []string{"not PE32+", "want AMD64"}},
		{name: "console", mutate: func(f *Facts) { f.Subsystem = pe.IMAGE_SUBSYSTEM_WINDOWS_CUI },
			pol: versioned, want: []string{"subsystem is 3 (Windows console)"}},
		{name: "no ASLR", mutate: func(f *Facts) { f.DllCharacteristics = pe.IMAGE_DLLCHARACTERISTICS_NX_COMPAT },
			pol: versioned, want: []string{"lack 0x0060"}},
		{name: "libusb and mingw DLLs", mutate: func(f *Facts) {
			f.Imports = append(f.Imports, "libusb-1.0.dll", "libgcc_s_seh-1.dll", "libwinpthread-1.dll", "libstdc++-6.dll")
		}, pol: versioned, want: []string{"imports libusb-1.0.dll", "imports libgcc_s_seh-1.dll", "imports libwinpthread-1.dll", "imports libstdc++-6.dll"}},
		{name: "extra DLL allowed by flag", mutate: func(f *Facts) { f.Imports = append(f.Imports, "Foo.DLL") },
			pol: func() Policy {
				p := versioned
				p.AllowedDLLs = append(slices.Clone(p.AllowedDLLs), "foo.dll")
				return p
			}()},
		{name: "delay-loaded foreign DLL", mutate: func(f *Facts) { f.DelayImports = []string{"vcruntime140.dll"} },
			pol: versioned, want: []string{"delay-loads vcruntime140.dll"}},
		{name: "no imports", mutate: func(f *Facts) { f.Imports = nil },
			pol: versioned, want: []string{"no imported DLLs"}},
		{name: "no resources", mutate: func(f *Facts) { f.Resources = map[uint32]int{}; f.Version = nil },
			pol: versioned, want: []string{"no icon resource", "no application manifest", "no version resource"}},
		{name: "no resources, none required", mutate: func(f *Facts) { f.Resources = map[uint32]int{}; f.Version = nil },
			pol: lax},
		{name: "icon group without images", mutate: func(f *Facts) { delete(f.Resources, rtIcon) },
			pol: versioned, want: []string{"no icon images"}},
		{name: "wrong versions", mutate: func(f *Facts) {
			f.Version.Strings["ProductVersion"] = "0.0.0-dev"
			f.Version.FileVersion = [4]uint16{0, 0, 0, 0}
		}, pol: versioned, want: []string{`ProductVersion is "0.0.0-dev", want "1.2.3-4-gabcdef"`, "file version is 0.0.0.0, want 1.2.3.4"}},
		{name: "wrong product version only", mutate: func(f *Facts) { f.Version.ProductVersion = [4]uint16{1, 2, 3, 0} },
			pol: versioned, want: []string{"product version is 1.2.3.0, want 1.2.3.4"}},
		{name: "manifest asks for admin", mutate: func(f *Facts) {
			f.Manifest = []byte(strings.Replace(goodManifest, `"asInvoker"`, `"requireAdministrator"`, 1))
		}, pol: versioned, want: []string{`requestedExecutionLevel is "requireAdministrator", want "asInvoker"`}},
		{name: "manifest without DPI awareness", mutate: func(f *Facts) {
			f.Manifest = []byte(`<assembly xmlns="urn:schemas-microsoft-com:asm.v1"><trustInfo><security><requestedPrivileges>` +
				`<requestedExecutionLevel level="asInvoker"/></requestedPrivileges></security></trustInfo></assembly>`)
		}, pol: versioned, want: []string{"per-monitor DPI awareness"}},
		{name: "manifest with only the old dpiAware", mutate: func(f *Facts) {
			f.Manifest = []byte(`<assembly><trustInfo><requestedExecutionLevel level="asInvoker"/></trustInfo>` +
				`<dpiAware> Per Monitor </dpiAware></assembly>`)
		}, pol: versioned},
		{name: "manifest system-aware only", mutate: func(f *Facts) {
			f.Manifest = []byte(`<assembly><requestedExecutionLevel level="asInvoker"/><dpiAware>true</dpiAware>` +
				`<dpiAwareness>System</dpiAwareness></assembly>`)
		}, pol: versioned, want: []string{`dpiAware "true", dpiAwareness "System"`}},
		{name: "manifest not XML", mutate: func(f *Facts) { f.Manifest = []byte("<assembly><oops></assembly>") },
			pol: versioned, want: []string{"manifest: parse manifest XML"}},
		{name: "manifest of another kind", mutate: func(f *Facts) { f.Manifest = []byte("<html/>") },
			pol: versioned, want: []string{"root element is <html>"}},
		{name: "manifest not checked", mutate: func(f *Facts) { f.Manifest = []byte("<html/>") },
			pol: func() Policy { p := versioned; p.ExecutionLevel, p.RequirePerMonitorDPI = "", false; return p }()},
		{name: "any version", mutate: func(f *Facts) { f.Version.Strings["ProductVersion"] = "9" }, pol: DefaultPolicy()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := goodFacts()
			tt.mutate(f)
			got := Check(f, tt.pol)
			if len(got) != len(tt.want) {
				t.Fatalf("Check = %q, want %d problems like %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestDLLAllowed(t *testing.T) {
	for _, tt := range []struct {
		dll  string
		want bool
	}{
		{"KERNEL32.dll", true},
		{"kernel32.DLL", true},
		{"api-ms-win-crt-runtime-l1-1-0.dll", true},
		{"API-MS-WIN-core-path-l1-1-0.dll", true},
		{"kernel32", false},
		{"libusb-1.0.dll", false},
		{"libwinpthread-1.dll", false},
		{"vcruntime140.dll", false},
	} {
		if got := dllAllowed(tt.dll, SystemDLLs); got != tt.want {
			t.Errorf("dllAllowed(%q) = %v, want %v", tt.dll, got, tt.want)
		}
	}
}

// encodeVerNode encodes a VS_VERSIONINFO-style node, as a resource compiler does.
func encodeVerNode(key string, value []byte, text bool, children ...[]byte) []byte {
	var b bytes.Buffer
	b.Write(make([]byte, 6)) // length, value length, type: patched below
	for _, c := range utf16.Encode([]rune(key + "\x00")) {
		_ = binary.Write(&b, binary.LittleEndian, c)
	}
	pad := func() {
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	pad()
	b.Write(value)
	for _, c := range children {
		pad()
		b.Write(c)
	}
	out := b.Bytes()
	valueLen, typ := len(value), uint16(0)
	if text {
		valueLen, typ = len(value)/2, 1
	}
	binary.LittleEndian.PutUint16(out, uint16(len(out)))
	binary.LittleEndian.PutUint16(out[2:], uint16(valueLen))
	binary.LittleEndian.PutUint16(out[4:], typ)
	return out
}

func utf16z(s string) []byte {
	var b bytes.Buffer
	for _, c := range utf16.Encode([]rune(s + "\x00")) {
		_ = binary.Write(&b, binary.LittleEndian, c)
	}
	return b.Bytes()
}

func fixedInfo(fileMS, fileLS, prodMS, prodLS uint32) []byte {
	b := make([]byte, 52)
	for i, v := range []uint32{0xFEEF04BD, 0x10000, fileMS, fileLS, prodMS, prodLS} {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func TestParseVersionInfo(t *testing.T) {
	good := encodeVerNode("VS_VERSION_INFO", fixedInfo(1<<16|2, 3<<16|4, 1<<16|2, 3<<16), false,
		encodeVerNode("StringFileInfo", nil, true,
			encodeVerNode("040904B0", nil, true,
				encodeVerNode("ProductVersion", utf16z("1.2.3-4-gabcdef"), true),
				encodeVerNode("FileDescription", utf16z("Till"), true))),
		encodeVerNode("VarFileInfo", nil, true,
			encodeVerNode("Translation", []byte{0x09, 0x04, 0xb0, 0x04}, false)))

	v, err := ParseVersionInfo(good)
	if err != nil {
		t.Fatalf("ParseVersionInfo: %v", err)
	}
	if v.FileVersion != [4]uint16{1, 2, 3, 4} || v.ProductVersion != [4]uint16{1, 2, 3, 0} {
		t.Errorf("versions = %v, %v", v.FileVersion, v.ProductVersion)
	}
	if v.Strings["ProductVersion"] != "1.2.3-4-gabcdef" || v.Strings["FileDescription"] != "Till" {
		t.Errorf("strings = %q", v.Strings)
	}

	badKey := encodeVerNode("VS_VERSION_INFX", fixedInfo(0, 0, 0, 0), false)
	noFixed := encodeVerNode("VS_VERSION_INFO", nil, false)
	truncated := slices.Clone(good[:len(good)-10])
	for name, b := range map[string][]byte{"bad key": badKey, "no fixed info": noFixed, "truncated": truncated, "empty": nil} {
		if _, err := ParseVersionInfo(b); err == nil {
			t.Errorf("%s: ParseVersionInfo succeeded, want an error", name)
		}
	}
}

func TestRunUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 {
		t.Errorf("run() = %d, want 2", code)
	}
	if code := run([]string{"check_test.go"}, &out, &errb); code != 2 {
		t.Errorf("run(not a PE) = %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "open PE check_test.go") {
		t.Errorf("stderr = %q, want it to name the file", errb.String())
	}
}

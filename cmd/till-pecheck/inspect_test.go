package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// buildTinyExe cross-builds a tiny pure-Go windows/amd64 GUI program into a
// temporary directory, with the .syso files given (name → contents) beside
// its source, and returns the exe's path.
func buildTinyExe(t *testing.T, syso map[string][]byte) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: cannot build a real PE")
	}
	dir := t.TempDir()
	files := map[string][]byte{
		"go.mod":  []byte("module tiny\n\ngo 1.26\n"),
		"main.go": []byte("// Command tiny does nothing.\npackage main\n\nfunc main() {}\n"),
	}
	for name, b := range syso {
		files[name] = b
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(dir, "tiny.exe")
	cmd := exec.Command(gobin, "build", "-trimpath", "-ldflags=-H=windowsgui -s -w", "-o", exe, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build tiny.exe: %v\n%s", err, out)
	}
	return exe
}

// A pure-Go GUI exe is PE32+, AMD64, GUI, imports only kernel32.dll and has
// no resources: Check must say exactly that it lacks them.
func TestInspectTinyExe(t *testing.T) {
	exe := buildTinyExe(t, nil)
	facts, err := InspectFile(exe)
	if err != nil {
		t.Fatalf("InspectFile: %v", err)
	}
	if !facts.PE32Plus || facts.Subsystem != 2 || facts.Machine != 0x8664 {
		t.Errorf("facts = %+v, want PE32+ AMD64 GUI", facts)
	}
	if !slices.ContainsFunc(facts.Imports, func(s string) bool { return strings.EqualFold(s, "kernel32.dll") }) {
		t.Errorf("imports = %q, want kernel32.dll among them", facts.Imports)
	}
	got := Check(facts, DefaultPolicy())
	want := []string{"no icon resource (RT_GROUP_ICON)", "no application manifest (RT_MANIFEST)", "no version resource (RT_VERSION)"}
	if !slices.Equal(got, want) {
		t.Errorf("Check = %q, want %q", got, want)
	}
	lax := DefaultPolicy()
	lax.RequireIcon, lax.RequireManifest, lax.RequireVersionInfo = false, false, false
	if got := Check(facts, lax); len(got) != 0 {
		t.Errorf("Check (no resources required) = %q, want none", got)
	}
}

// tinyICO returns a one-image .ico holding a 16×16 PNG.
func tinyICO(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for i := range 16 {
		img.Set(i, i, color.NRGBA{R: 200, A: 255})
	}
	var p bytes.Buffer
	if err := png.Encode(&p, img); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	le([]uint16{0, 1, 1})                 // ICONDIR: reserved, type icon, one image
	le([]uint8{16, 16, 0, 0})             // width, height, colours, reserved
	le([]uint16{1, 32})                   // planes, bits per pixel
	le([]uint32{uint32(p.Len()), 6 + 16}) // size, offset
	b.Write(p.Bytes())
	return b.Bytes()
}

// With an icon, a manifest and version information compiled by MinGW's
// windres (as build.sh does) every check passes, and the versions read back.
func TestInspectTinyExeWithResources(t *testing.T) {
	// windres preprocesses with the MinGW gcc, whose headers define winver.h.
	windres, err := exec.LookPath("x86_64-w64-mingw32-windres")
	if err != nil {
		t.Skip("x86_64-w64-mingw32-windres is not installed")
	}
	if _, err := exec.LookPath("x86_64-w64-mingw32-gcc"); err != nil {
		t.Skip("x86_64-w64-mingw32-gcc is not installed (windres needs its preprocessor)")
	}
	dir := t.TempDir()
	rc := `#include <winver.h>
1 ICON "tiny.ico"
1 24 "tiny.manifest"
VS_VERSION_INFO VERSIONINFO
FILEVERSION 1,2,3,4
PRODUCTVERSION 1,2,3,4
FILEOS VOS_NT_WINDOWS32
FILETYPE VFT_APP
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904B0"
    BEGIN
      VALUE "FileDescription", "Tiny"
      VALUE "ProductVersion", "1.2.3-4-gabcdef"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x0409, 1200
  END
END
`
	manifest := goodManifest
	for name, b := range map[string][]byte{"tiny.rc": []byte(rc), "tiny.ico": tinyICO(t), "tiny.manifest": []byte(manifest)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	syso := filepath.Join(dir, "rsrc.syso")
	cmd := exec.Command(windres, "--input-format=rc", "--output-format=coff", "-i", "tiny.rc", "-o", syso)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("windres: %v\n%s", err, out)
	}
	b, err := os.ReadFile(syso)
	if err != nil {
		t.Fatal(err)
	}
	exe := buildTinyExe(t, map[string][]byte{"rsrc_windows_amd64.syso": b})

	facts, err := InspectFile(exe)
	if err != nil {
		t.Fatalf("InspectFile: %v", err)
	}
	pol := DefaultPolicy()
	pol.ProductVersion, pol.FileVersion = "1.2.3-4-gabcdef", "1.2.3.4"
	if got := Check(facts, pol); len(got) != 0 {
		t.Errorf("Check = %q, want none\n%s", got, facts.Summary())
	}
	pol.ProductVersion, pol.FileVersion = "1.2.3", "1.2.3.0"
	if got := Check(facts, pol); len(got) != 3 {
		t.Errorf("Check with other versions = %q, want 3 problems", got)
	}
	if string(facts.Manifest) != goodManifest {
		t.Errorf("manifest = %q, want the one linked in", facts.Manifest)
	}
	if d := facts.Version.Strings["FileDescription"]; d != "Tiny" {
		t.Errorf("FileDescription = %q, want Tiny", d)
	}

	// The command line: exit 0 on this exe, 1 when a version differs.
	var out, errb bytes.Buffer
	if code := run([]string{"-version", "1.2.3-4-gabcdef", "-file-version", "1.2.3.4", exe}, &out, &errb); code != 0 {
		t.Errorf("run = %d, want 0\n%s%s", code, out.String(), errb.String())
	}
	errb.Reset()
	if code := run([]string{"-version", "9.9.9", exe}, &out, &errb); code != 1 || !strings.Contains(errb.String(), `FAIL: version resource ProductVersion is "1.2.3-4-gabcdef", want "9.9.9"`) {
		t.Errorf("run -version 9.9.9 = %d, stderr %q; want 1 and a message naming the versions", code, errb.String())
	}
}

package main

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf16"
)

// Resource type IDs (winuser.h).
const (
	rtIcon      = 3
	rtGroupIcon = 14
	rtVersion   = 16
	rtManifest  = 24
)

// Data directory indexes (winnt.h).
const (
	dirImport      = 1
	dirResource    = 2
	dirDelayImport = 13
)

// Facts is what Inspect read from a PE image: everything Check decides on.
type Facts struct {
	PE32Plus           bool   // a PE32+ optional header (64-bit image)
	Machine            uint16 // COFF machine, pe.IMAGE_FILE_MACHINE_*
	Subsystem          uint16 // pe.IMAGE_SUBSYSTEM_*
	DllCharacteristics uint16 // pe.IMAGE_DLLCHARACTERISTICS_*
	// Imports lists the DLLs of the import table, in file order.
	Imports []string
	// DelayImports lists the DLLs of the delay-load import table.
	DelayImports []string
	// Resources counts the named or numbered resources of each type ID.
	Resources map[uint32]int
	// Version is the first RT_VERSION resource, nil if there is none.
	Version *VersionInfo
	// Manifest is the first RT_MANIFEST resource, nil if there is none.
	Manifest []byte
}

// VersionInfo is the part of a VS_VERSIONINFO resource Check looks at.
type VersionInfo struct {
	FileVersion    [4]uint16         // VS_FIXEDFILEINFO dwFileVersionMS/LS
	ProductVersion [4]uint16         // VS_FIXEDFILEINFO dwProductVersionMS/LS
	Strings        map[string]string // StringFileInfo values, first table that has each key
}

// Summary describes the facts in a few indented lines.
func (f *Facts) Summary() string {
	var b strings.Builder
	format := "PE32"
	if f.PE32Plus {
		format = "PE32+"
	}
	fmt.Fprintf(&b, "  format: %s, machine %#04x, subsystem %d (%s), DLL characteristics %#04x\n",
		format, f.Machine, f.Subsystem, subsystemName(f.Subsystem), f.DllCharacteristics)
	fmt.Fprintf(&b, "  imports: %s\n", strings.Join(f.Imports, ", "))
	if len(f.DelayImports) > 0 {
		fmt.Fprintf(&b, "  delay-load imports: %s\n", strings.Join(f.DelayImports, ", "))
	}
	types := make([]uint32, 0, len(f.Resources))
	for t := range f.Resources {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
	var rs []string
	for _, t := range types {
		rs = append(rs, fmt.Sprintf("%s×%d", resourceTypeName(t), f.Resources[t]))
	}
	fmt.Fprintf(&b, "  resources: %s\n", strings.Join(rs, ", "))
	if f.Manifest != nil {
		if m, err := ParseManifest(f.Manifest); err == nil {
			fmt.Fprintf(&b, "  manifest: requestedExecutionLevel %q, dpiAware %q, dpiAwareness %q\n", m.ExecutionLevel, m.DPIAware, m.DPIAwareness)
		}
	}
	if v := f.Version; v != nil {
		fmt.Fprintf(&b, "  version: file %s, product %s, ProductVersion %q, FileDescription %q\n",
			formatVersion(v.FileVersion), formatVersion(v.ProductVersion), v.Strings["ProductVersion"], v.Strings["FileDescription"])
	}
	return b.String()
}

func subsystemName(s uint16) string {
	switch s {
	case pe.IMAGE_SUBSYSTEM_WINDOWS_GUI:
		return "Windows GUI"
	case pe.IMAGE_SUBSYSTEM_WINDOWS_CUI:
		return "Windows console"
	}
	return "other"
}

func resourceTypeName(t uint32) string {
	switch t {
	case rtIcon:
		return "RT_ICON"
	case rtGroupIcon:
		return "RT_GROUP_ICON"
	case rtVersion:
		return "RT_VERSION"
	case rtManifest:
		return "RT_MANIFEST"
	}
	return fmt.Sprintf("type%d", t)
}

func formatVersion(v [4]uint16) string {
	return fmt.Sprintf("%d.%d.%d.%d", v[0], v[1], v[2], v[3])
}

// InspectFile reads the facts of the PE image at path.
func InspectFile(path string) (*Facts, error) {
	f, err := pe.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open PE %s: %w", path, err)
	}
	defer f.Close()
	facts, err := Inspect(f)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	return facts, nil
}

// Inspect reads the facts of an opened PE image.
func Inspect(f *pe.File) (*Facts, error) {
	facts := &Facts{Machine: f.Machine, Resources: map[uint32]int{}}
	var (
		dirs      []pe.DataDirectory
		imageBase uint64
	)
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		facts.PE32Plus = true
		facts.Subsystem, facts.DllCharacteristics = oh.Subsystem, oh.DllCharacteristics
		dirs, imageBase = oh.DataDirectory[:oh.NumberOfRvaAndSizes], oh.ImageBase
	case *pe.OptionalHeader32:
		facts.Subsystem, facts.DllCharacteristics = oh.Subsystem, oh.DllCharacteristics
		dirs, imageBase = oh.DataDirectory[:oh.NumberOfRvaAndSizes], uint64(oh.ImageBase)
	default:
		return nil, errors.New("no optional header: not an image")
	}
	img := peImage{f: f}
	dir := func(i int) pe.DataDirectory {
		if i < len(dirs) {
			return dirs[i]
		}
		return pe.DataDirectory{}
	}

	var err error
	if facts.Imports, err = img.imports(dir(dirImport)); err != nil {
		return nil, fmt.Errorf("read import table: %w", err)
	}
	if facts.DelayImports, err = img.delayImports(dir(dirDelayImport), imageBase); err != nil {
		return nil, fmt.Errorf("read delay-load import table: %w", err)
	}
	if err := img.resources(dir(dirResource), facts); err != nil {
		return nil, fmt.Errorf("read resources: %w", err)
	}
	return facts, nil
}

// peImage reads a PE image's memory by relative virtual address.
type peImage struct{ f *pe.File }

// read returns n bytes at rva, from the section that holds them.
func (m peImage) read(rva, n uint32) ([]byte, error) {
	for _, s := range m.f.Sections {
		if rva < s.VirtualAddress || rva-s.VirtualAddress >= max(s.VirtualSize, s.Size) {
			continue
		}
		off := rva - s.VirtualAddress
		if uint64(off)+uint64(n) > uint64(s.Size) {
			return nil, fmt.Errorf("RVA %#x+%d runs past the raw data of section %s", rva, n, s.Name)
		}
		b := make([]byte, n)
		if _, err := s.ReadAt(b, int64(off)); err != nil {
			return nil, fmt.Errorf("read section %s at %#x: %w", s.Name, off, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("RVA %#x is in no section", rva)
}

// cstring returns the NUL-terminated string at rva.
func (m peImage) cstring(rva uint32) (string, error) {
	for _, s := range m.f.Sections {
		if rva < s.VirtualAddress || rva-s.VirtualAddress >= s.Size {
			continue
		}
		n := min(s.Size-(rva-s.VirtualAddress), 512)
		b, err := m.read(rva, n)
		if err != nil {
			return "", err
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return string(b[:i]), nil
		}
		return "", fmt.Errorf("string at RVA %#x is not terminated", rva)
	}
	return "", fmt.Errorf("string RVA %#x is in no section", rva)
}

// imports lists the DLL names of the IMAGE_IMPORT_DESCRIPTOR array.
func (m peImage) imports(d pe.DataDirectory) ([]string, error) {
	if d.VirtualAddress == 0 {
		return nil, nil
	}
	var dlls []string
	const size = 20 // sizeof(IMAGE_IMPORT_DESCRIPTOR)
	for rva := d.VirtualAddress; ; rva += size {
		b, err := m.read(rva, size)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(b, make([]byte, size)) {
			return dlls, nil
		}
		name, err := m.cstring(binary.LittleEndian.Uint32(b[12:]))
		if err != nil {
			return nil, fmt.Errorf("import name: %w", err)
		}
		dlls = append(dlls, name)
		if len(dlls) > 4096 {
			return nil, errors.New("import table not terminated")
		}
	}
}

// delayImports lists the DLL names of the ImgDelayDescr array.
func (m peImage) delayImports(d pe.DataDirectory, imageBase uint64) ([]string, error) {
	if d.VirtualAddress == 0 {
		return nil, nil
	}
	var dlls []string
	const size = 32 // sizeof(ImgDelayDescr)
	for rva := d.VirtualAddress; ; rva += size {
		b, err := m.read(rva, size)
		if err != nil {
			return nil, err
		}
		attrs, name := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
		if name == 0 {
			return dlls, nil
		}
		if attrs&1 == 0 { // dlattrRva unset: old-style descriptor holding VAs
			name = uint32(uint64(name) - imageBase)
		}
		s, err := m.cstring(name)
		if err != nil {
			return nil, fmt.Errorf("delay-load import name: %w", err)
		}
		dlls = append(dlls, s)
		if len(dlls) > 4096 {
			return nil, errors.New("delay-load import table not terminated")
		}
	}
}

// resources walks the resource tree (type, name, language) to count the
// resources of each type, decode the first RT_VERSION and keep the first
// RT_MANIFEST.
func (m peImage) resources(d pe.DataDirectory, facts *Facts) error {
	if d.VirtualAddress == 0 || d.Size == 0 {
		return nil
	}
	tree, err := m.read(d.VirtualAddress, d.Size)
	if err != nil {
		return err
	}
	types, err := resourceDir(tree, 0)
	if err != nil {
		return err
	}
	for _, t := range types {
		if !t.isDir || t.named {
			continue
		}
		names, err := resourceDir(tree, t.offset)
		if err != nil {
			return fmt.Errorf("type %d: %w", t.id, err)
		}
		facts.Resources[t.id] += len(names)
		if len(names) == 0 || !names[0].isDir {
			continue
		}
		var dst func([]byte) error
		switch {
		case t.id == rtVersion && facts.Version == nil:
			dst = func(b []byte) (err error) { facts.Version, err = ParseVersionInfo(b); return err }
		case t.id == rtManifest && facts.Manifest == nil:
			dst = func(b []byte) error { facts.Manifest = b; return nil }
		default:
			continue
		}
		data, err := m.firstLeaf(tree, names[0].offset)
		if err != nil {
			return fmt.Errorf("%s resource: %w", resourceTypeName(t.id), err)
		}
		if err := dst(data); err != nil {
			return err
		}
	}
	return nil
}

// firstLeaf returns the data of the first language of the resource name
// directory at off.
func (m peImage) firstLeaf(tree []byte, off uint32) ([]byte, error) {
	langs, err := resourceDir(tree, off)
	if err != nil {
		return nil, err
	}
	if len(langs) == 0 || langs[0].isDir || uint64(langs[0].offset)+16 > uint64(len(tree)) {
		return nil, errors.New("no data entry")
	}
	entry := tree[langs[0].offset:]
	return m.read(binary.LittleEndian.Uint32(entry), binary.LittleEndian.Uint32(entry[4:]))
}

// resEntry is one IMAGE_RESOURCE_DIRECTORY_ENTRY.
type resEntry struct {
	id     uint32 // the ID, when not named
	named  bool
	isDir  bool   // offset is a subdirectory, else a data entry
	offset uint32 // from the start of the resource tree
}

// resourceDir decodes the IMAGE_RESOURCE_DIRECTORY at off in tree.
func resourceDir(tree []byte, off uint32) ([]resEntry, error) {
	if uint64(off)+16 > uint64(len(tree)) {
		return nil, fmt.Errorf("resource directory at %#x is outside the tree", off)
	}
	n := int(binary.LittleEndian.Uint16(tree[off+12:])) + int(binary.LittleEndian.Uint16(tree[off+14:]))
	if uint64(off)+16+8*uint64(n) > uint64(len(tree)) {
		return nil, fmt.Errorf("resource directory at %#x overruns the tree", off)
	}
	entries := make([]resEntry, n)
	for i := range entries {
		e := tree[off+16+8*uint32(i):]
		name, data := binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:])
		entries[i] = resEntry{
			id:     name & 0x7fffffff,
			named:  name&0x80000000 != 0,
			isDir:  data&0x80000000 != 0,
			offset: data & 0x7fffffff,
		}
	}
	return entries, nil
}

// ParseVersionInfo decodes a VS_VERSIONINFO resource: its fixed file info
// and the strings of its StringFileInfo tables.
func ParseVersionInfo(b []byte) (*VersionInfo, error) {
	root, err := parseVerNode(b, 0)
	if err != nil {
		return nil, fmt.Errorf("parse VS_VERSIONINFO: %w", err)
	}
	if root.key != "VS_VERSION_INFO" {
		return nil, fmt.Errorf("parse VS_VERSIONINFO: root key is %q", root.key)
	}
	if len(root.value) < 52 || binary.LittleEndian.Uint32(root.value) != 0xFEEF04BD {
		return nil, errors.New("parse VS_VERSIONINFO: no VS_FIXEDFILEINFO")
	}
	u32 := func(i int) uint32 { return binary.LittleEndian.Uint32(root.value[i:]) }
	split := func(ms, ls uint32) [4]uint16 {
		return [4]uint16{uint16(ms >> 16), uint16(ms), uint16(ls >> 16), uint16(ls)}
	}
	v := &VersionInfo{
		FileVersion:    split(u32(8), u32(12)),
		ProductVersion: split(u32(16), u32(20)),
		Strings:        map[string]string{},
	}
	for _, c := range root.children {
		if c.key != "StringFileInfo" {
			continue
		}
		for _, table := range c.children {
			for _, s := range table.children {
				if _, ok := v.Strings[s.key]; !ok {
					v.Strings[s.key] = utf16String(s.value)
				}
			}
		}
	}
	return v, nil
}

// verNode is one node of a VS_VERSIONINFO tree (VS_VERSIONINFO,
// StringFileInfo, StringTable, String, VarFileInfo, Var share the layout).
type verNode struct {
	key      string
	value    []byte
	children []verNode
}

// parseVerNode decodes the node at off in b; offsets are from the start of
// the resource, to which the 32-bit alignment of the format is relative.
func parseVerNode(b []byte, off int) (verNode, error) {
	if off+6 > len(b) {
		return verNode{}, fmt.Errorf("node at %d: truncated header", off)
	}
	length := int(binary.LittleEndian.Uint16(b[off:]))
	valueLen := int(binary.LittleEndian.Uint16(b[off+2:]))
	text := binary.LittleEndian.Uint16(b[off+4:]) == 1
	end := off + length
	if length < 6 || end > len(b) {
		return verNode{}, fmt.Errorf("node at %d: length %d overruns %d bytes", off, length, len(b))
	}
	var key []uint16
	p := off + 6
	for ; ; p += 2 {
		if p+2 > end {
			return verNode{}, fmt.Errorf("node at %d: key not terminated", off)
		}
		c := binary.LittleEndian.Uint16(b[p:])
		if c == 0 {
			p += 2
			break
		}
		key = append(key, c)
	}
	n := verNode{key: string(utf16.Decode(key))}
	p = align4(p)
	if text {
		valueLen *= 2 // in WCHARs
	}
	if valueLen > 0 {
		if p+valueLen > end {
			// Some resource compilers count the value of a String in bytes
			// rather than WCHARs; take what the node holds.
			valueLen = end - p
		}
		n.value = b[p : p+valueLen]
		p = align4(p + valueLen)
	}
	for p < end {
		c, err := parseVerNode(b, p)
		if err != nil {
			return verNode{}, fmt.Errorf("%s: %w", n.key, err)
		}
		n.children = append(n.children, c)
		p = align4(p + int(binary.LittleEndian.Uint16(b[p:])))
	}
	return n, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// utf16String decodes little-endian UTF-16 up to the first NUL.
func utf16String(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ManifestInfo is what Check looks at in an application manifest.
type ManifestInfo struct {
	ExecutionLevel string // requestedExecutionLevel's level, "" if absent
	DPIAware       string // <dpiAware> text (Windows 8.1 and older)
	DPIAwareness   string // <dpiAwareness> text (Windows 10 1607 and later)
}

// ParseManifest reads the elements Check needs from a manifest, whatever
// their namespaces.
func ParseManifest(b []byte) (*ManifestInfo, error) {
	var info ManifestInfo
	d := xml.NewDecoder(bytes.NewReader(b))
	var text *string
	sawRoot := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse manifest XML: %w", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if !sawRoot && tok.Name.Local != "assembly" {
				return nil, fmt.Errorf("parse manifest XML: root element is <%s>, want <assembly>", tok.Name.Local)
			}
			sawRoot = true
			text = nil
			switch tok.Name.Local {
			case "requestedExecutionLevel":
				for _, a := range tok.Attr {
					if a.Name.Local == "level" {
						info.ExecutionLevel = a.Value
					}
				}
			case "dpiAware":
				text = &info.DPIAware
			case "dpiAwareness":
				text = &info.DPIAwareness
			}
		case xml.CharData:
			if text != nil {
				*text += strings.TrimSpace(string(tok))
			}
		case xml.EndElement:
			text = nil
		}
	}
	if !sawRoot {
		return nil, errors.New("parse manifest XML: no root element")
	}
	return &info, nil
}

// PerMonitorDPIAware reports whether the manifest declares per-monitor DPI
// awareness, in either of the two ways Windows reads.
func (m *ManifestInfo) PerMonitorDPIAware() bool {
	for _, v := range strings.Split(m.DPIAwareness, ",") {
		if v = strings.ToLower(strings.TrimSpace(v)); v == "permonitor" || v == "permonitorv2" {
			return true
		}
	}
	switch strings.ToLower(strings.TrimSpace(m.DPIAware)) {
	case "true/pm", "per monitor":
		return true
	}
	return false
}

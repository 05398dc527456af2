package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	noenv := func(string) string { return "" }
	tests := []struct {
		name    string
		file    string // "" = no file
		env     map[string]string
		want    func(Config) bool
		wantErr string
	}{
		{name: "no file is the embedded default", want: func(c Config) bool { return reflect.DeepEqual(c, DefaultConfig()) }},
		{name: "overrides", file: `{"lane":"lane_2","currency":"EUR","locale":"fr-FR","tax_mode":"exclusive","reader":"usb"}`,
			want: func(c Config) bool { return c.Lane == "lane_2" && c.Currency == "EUR" && c.TaxMode == "exclusive" }},
		{name: "unknown field", file: `{"lanes":"x"}`, wantErr: "unknown field"},
		{name: "not json", file: `lane = 1`, wantErr: "invalid configuration"},
		{name: "bad currency", file: `{"currency":"XXY"}`, wantErr: "currency"},
		{name: "bad locale", file: `{"locale":"??"}`, wantErr: "locale"},
		{name: "bad tax mode", file: `{"tax_mode":"sometimes"}`, wantErr: "tax_mode"},
		{name: "bad lane", file: `{"lane":"lane 1/2"}`, wantErr: "lane"},
		{name: "lane with the order id separator", file: `{"lane":"lane-2"}`, wantErr: "lane"},
		{name: "bad reader", file: `{"reader":"bluetooth"}`, wantErr: "reader"},
		{name: "api without key", file: `{"api":{"base_url":"https://api.example"}}`, wantErr: "TILL_API_KEY"},
		{name: "plain http off loopback", file: `{"api":{"base_url":"http://api.example"}}`,
			env: map[string]string{"TILL_API_KEY": "sk_test_x"}, wantErr: "https"},
		{name: "loopback look-alike host", file: `{"api":{"base_url":"http://127.0.0.1.example.net"}}`,
			env: map[string]string{"TILL_API_KEY": "sk_test_x"}, wantErr: "https"},
		{name: "localhost look-alike host", file: `{"api":{"base_url":"http://localhost.example.net:8080"}}`,
			env: map[string]string{"TILL_API_KEY": "sk_test_x"}, wantErr: "https"},
		{name: "plain http on loopback", file: `{"api":{"base_url":"http://127.0.0.1:12111"}}`,
			env:  map[string]string{"TILL_API_KEY": "sk_test_x"},
			want: func(c Config) bool { return c.API.BaseURL == "http://127.0.0.1:12111" }},
		{name: "api with key from env", file: `{"api":{"base_url":"https://api.example"}}`,
			env:  map[string]string{"TILL_API_KEY": "sk_test_123"},
			want: func(c Config) bool { return c.API.Key.Reveal() == "sk_test_123" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.json")
			if tt.file != "" {
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			getenv := noenv
			if tt.env != nil {
				getenv = func(k string) string { return tt.env[k] }
			}
			c, err := LoadConfig(path, getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadConfig error = %v, want it to mention %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrConfig) {
					t.Errorf("error %v does not wrap ErrConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if !tt.want(c) {
				t.Errorf("LoadConfig = %+v", c)
			}
		})
	}
}

// TestSecretNeverPrints checks every way a key could leak through
// formatting: fmt verbs, JSON, wrapped errors and structured logs.
func TestSecretNeverPrints(t *testing.T) {
	const key = "sk_test_51SuperSecretValue"
	c := DefaultConfig()
	c.API = APIConfig{BaseURL: "https://api.example", Key: Secret(key)}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", c, "key", c.API.Key)
	outputs := []string{
		fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q", c, c, c, c.API.Key, c.API.Key),
		string(js), fmt.Errorf("send with %v: %w", c.API.Key, errors.New("boom")).Error(), logged.String(),
	}
	for _, out := range outputs {
		if strings.Contains(out, key) || strings.Contains(out, "SuperSecret") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if c.API.Key.Reveal() != key {
		t.Errorf("Reveal = %q", c.API.Key.Reveal())
	}
}

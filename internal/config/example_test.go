package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The committed local.settings.json.example is what `make run` and Core Tools start with when a
// developer has no local.settings.json: it must be a configuration the handler accepts.
func TestLocalSettingsExampleLoads(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "local.settings.json.example"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Values map[string]string }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("local.settings.json.example: %v", err)
	}
	if _, err := Load(func(k string) string { return f.Values[k] }); err != nil {
		t.Errorf("Load(local.settings.json.example) = %v, want it accepted", err)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
)

// ERROR lines go to stderr (the host's Error), the rest to stdout (Information), each a JSON
// object on its own line, with the logger's attributes and groups.
func TestLoggerSendsErrorsToStderr(t *testing.T) {
	var out, errOut bytes.Buffer
	log := newLogger(slog.LevelDebug, &out, &errOut).With(slog.String("app", "x")).WithGroup("g")
	log.Debug("d")
	log.Info("i")
	log.Warn("w")
	log.Error("e", slog.Int("n", 1))
	check := func(name string, b []byte, want []string) {
		t.Helper()
		var got []string
		for line := range bytes.Lines(b) {
			var obj map[string]any
			if err := json.Unmarshal(line, &obj); err != nil {
				t.Fatalf("%s line is not a JSON object: %s", name, line)
			}
			if obj["app"] != "x" {
				t.Errorf("%s line lost the logger's attributes: %s", name, line)
			}
			got = append(got, obj["level"].(string))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s levels = %v, want %v", name, got, want)
		}
	}
	check("stdout", out.Bytes(), []string{"DEBUG", "INFO", "WARN"})
	check("stderr", errOut.Bytes(), []string{"ERROR"})

	var quiet, quietErr bytes.Buffer
	newLogger(slog.LevelError, &quiet, &quietErr).Warn("w")
	if quiet.Len()+quietErr.Len() != 0 {
		t.Error("a WARN line was written at level ERROR")
	}
}

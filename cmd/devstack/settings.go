package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
)

// exampleSettings is the committed example of local.settings.json.
const exampleSettings = "local.settings.json.example"

// loadSettings reads the Values of local.settings.json, or of the committed example when the
// developer has none: the same file Core Tools would read.
func loadSettings() (map[string]string, string, error) {
	for _, name := range []string{"local.settings.json", exampleSettings} {
		b, err := os.ReadFile(name)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		var f struct {
			Values map[string]string `json:"Values"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
		return f.Values, name, nil
	}
	return nil, "", fmt.Errorf("no local.settings.json or local.settings.json.example in the working directory")
}

// reconcileLoop plays the timer trigger: the host would POST the same envelope to /Reconcile.
func reconcileLoop(ctx context.Context, log *slog.Logger, url string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			body := fmt.Sprintf(`{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"Reconcile","UtcNow":%q}}}`,
				now.UTC().Format(time.RFC3339))
			resp, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				log.Warn("reconcile", slog.String("error", err.Error()))
				continue
			}
			resp.Body.Close()
		}
	}
}

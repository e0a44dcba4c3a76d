// Package browser drives headless Chromium (Debian's `chromium` package, installed by
// scripts/ensure-chromium.sh) with chromedp through the app's pages: the demo app, the quick
// link stand-in's capture page and back. The browser tests and `make screenshots` share it.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/chromedp/chromedp"
)

// DefaultPath is where Debian's chromium package puts the browser.
const DefaultPath = "/usr/bin/chromium"

// EnvPath names a variable that points at another Chromium or Chrome binary.
const EnvPath = "CHROMIUM_PATH"

// Path is the Chromium binary to run (EnvPath, else DefaultPath), or an error that says how to
// install it when it is missing.
func Path() (string, error) {
	path := os.Getenv(EnvPath)
	if path == "" {
		path = DefaultPath
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("no Chromium at %s (%w): run scripts/ensure-chromium.sh (as root it installs "+
			"Debian's chromium package; `make test` runs it) or set %s", path, err, EnvPath)
	}
	return path, nil
}

// Start starts a headless Chromium and returns a context of its first tab: derive tabs with
// chromedp.NewContext and per-step timeouts from it. cancel stops the browser. Start does not
// bound the browser's life; ctx ends it.
func Start(ctx context.Context) (context.Context, context.CancelFunc, error) {
	path, err := Path()
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // as root (CI, containers) Chromium refuses to start with its sandbox
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1000, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	cancel := func() { cancelTab(); cancelAlloc() }
	// The first action starts the browser: its failure is the clearest place to report.
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		return nil, nil, errors.Join(fmt.Errorf("starting Chromium (%s)", path), err)
	}
	return tab, cancel, nil
}

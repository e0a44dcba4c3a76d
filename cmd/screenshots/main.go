// Command screenshots (`make screenshots`) runs the whole app locally on free ports, walks one
// "real face" flow in headless Chromium with the browser suite's own code
// (internal/testing/browser) and writes PNGs of the pages a user sees: the demo's start page,
// its session page with the QR code, the quick link stand-in's capture page and the demo's
// return page.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/browser"
	"github.com/liveness-quicklink/functions/internal/testing/stack"
)

func main() {
	out := flag.String("out", filepath.Join("docs", "images"), "folder for the PNGs")
	root := flag.String("root", ".", "repository root (go.mod, node_modules)")
	flag.Parse()
	if err := run(*root, *out); err != nil {
		fmt.Fprintf(os.Stderr, "screenshots: %v\n", err)
		os.Exit(1)
	}
}

// shot is one page of the flow: its file name, and what to do in the browser before taking it.
type shot struct {
	file string
	step func(tab context.Context) error
}

func run(root, out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{Root: root})
	if err != nil {
		return fmt.Errorf("starting the local stack: %w", err)
	}
	defer st.Close()
	tab, stop, err := browser.Start(ctx)
	if err != nil {
		return err
	}
	defer stop()

	var started browser.Started
	shots := []shot{
		{"demo-start.png", func(tab context.Context) error { return browser.Open(tab, st.DemoURL+"/") }},
		{"demo-session.png", func(tab context.Context) (err error) {
			started, err = browser.StartSession(tab)
			return err
		}},
		{"capture.png", func(tab context.Context) error { return browser.Open(tab, started.Link) }},
		{"demo-return.png", func(tab context.Context) error {
			if err := browser.Choose(tab, "realface"); err != nil {
				return err
			}
			if _, err := browser.WaitLocation(tab, st.DemoURL+"/return"); err != nil {
				return err
			}
			_, err := browser.WaitText(tab, "#status", "completed", browser.StepTimeout)
			return err
		}},
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, s := range shots {
		if err := s.step(tab); err != nil {
			return fmt.Errorf("before %s: %w", s.file, err)
		}
		png, err := browser.Screenshot(tab)
		if err != nil {
			return fmt.Errorf("%s: %w", s.file, err)
		}
		path := filepath.Join(out, s.file)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%d bytes)\n", path, len(png))
	}
	return nil
}

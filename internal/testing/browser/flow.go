package browser

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// Outcomes are what the capture page's buttons record (each button's id and `outcome` value).
var Outcomes = []string{"realface", "spoofface", "uncertain", "error", "abandon"}

// StepTimeout bounds one step (a navigation, a click and the page it leads to).
const StepTimeout = 20 * time.Second

// Started is what the demo's session page shows after #start.
type Started struct {
	SessionID string // #session-id
	Link      string // #link's href: the quick link (a bearer secret)
	QR        string // #qr's markup (an inline SVG)
	URL       string // the session page's own URL
}

// Open navigates tab to url and waits for its body.
func Open(tab context.Context, url string) error {
	return step(tab, "open "+url, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body")))
}

// StartSession presses the demo's #start button (tab shows the demo's start page) and reads the
// session page it leads to.
func StartSession(tab context.Context) (Started, error) {
	var s Started
	if err := step(tab, "press #start", chromedp.WaitVisible(chromedp.CSS("#start")),
		chromedp.Click(chromedp.CSS("#start")), chromedp.WaitReady(chromedp.CSS("#link"))); err != nil {
		return s, err
	}
	ctx, cancel := context.WithTimeout(tab, StepTimeout)
	defer cancel()
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#link"), "href"))
	if err != nil || !href.Exists {
		return s, fmt.Errorf("the session page's #link has no href (%v)", err)
	}
	s.Link = href.Value
	if s.QR, err = chromedp.Run(ctx, chromedp.InnerHTML(chromedp.CSS("#qr"))); err != nil {
		return s, fmt.Errorf("reading #qr: %w", err)
	}
	if s.SessionID, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#session-id"))); err != nil {
		return s, fmt.Errorf("reading #session-id: %w", err)
	}
	s.SessionID = strings.TrimSpace(s.SessionID)
	if s.URL, err = chromedp.Run(ctx, chromedp.Location()); err != nil {
		return s, fmt.Errorf("reading the session page's URL: %w", err)
	}
	return s, nil
}

// Choose presses the capture page's button for outcome (tab shows the capture page).
func Choose(tab context.Context, outcome string) error {
	sel := "#" + outcome
	return step(tab, "press "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// WaitLocation waits until tab's URL starts with prefix and returns it.
func WaitLocation(tab context.Context, prefix string) (string, error) {
	ctx, cancel := context.WithTimeout(tab, StepTimeout)
	defer cancel()
	var last string
	for {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil {
			last = loc
			if strings.HasPrefix(loc, prefix) {
				return loc, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the browser did not reach %s within %v (at %q)", prefix, StepTimeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitText waits until the text of sel is want (pages that poll update it) and returns the
// last text seen when it does not within limit.
func WaitText(tab context.Context, sel, want string, limit time.Duration) (string, error) {
	return waitText(tab, sel, "is", want, func(txt string) bool { return txt == want }, limit)
}

// WaitTextContains is WaitText for a text that contains want.
func WaitTextContains(tab context.Context, sel, want string, limit time.Duration) (string, error) {
	return waitText(tab, sel, "contains", want, func(txt string) bool { return strings.Contains(txt, want) }, limit)
}

func waitText(tab context.Context, sel, verb, want string, match func(string) bool, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(tab, limit)
	defer cancel()
	var last string
	for {
		// AtLeast(0): an element not there yet (a page about to reload) is read again, not awaited.
		txt, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.AtLeast(0)))
		if err == nil {
			last = strings.TrimSpace(txt)
			if match(last) {
				return last, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("%s shows %q, want one that %s %q (waited %v)", sel, last, verb, want, limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Text is the text of sel now.
func Text(tab context.Context, sel string) (string, error) {
	ctx, cancel := context.WithTimeout(tab, StepTimeout)
	defer cancel()
	txt, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	return strings.TrimSpace(txt), err
}

// HTML is the whole document's markup now.
func HTML(tab context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(tab, StepTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
}

// Screenshot is a PNG of tab's viewport.
func Screenshot(tab context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(tab, StepTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

func step(tab context.Context, what string, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(tab, StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

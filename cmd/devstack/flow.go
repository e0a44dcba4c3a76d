package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// flowSettings adds what the quick link flow needs to the settings: links on the quick link
// stand-in (faceURL) whose signed callbacks reach the app at appURL and send the browser back to
// the demo at demoURL (empty: no demo). getenv is the developer's environment:
// CALLBACK_SIGNING_KEYS there wins, else a key of the developer's own local.settings.json, else a
// random key for this run (never the example's published one); each of behaviourSettings set
// there wins over the settings file.
func flowSettings(settings map[string]string, fromExample bool, faceURL, appURL, demoURL string, getenv func(string) string) error {
	settings["QUICKLINK_ENDPOINT"] = faceURL
	settings["PUBLIC_BASE_URL"] = appURL
	switch {
	case getenv("CALLBACK_SIGNING_KEYS") != "":
		settings["CALLBACK_SIGNING_KEYS"] = getenv("CALLBACK_SIGNING_KEYS")
	case fromExample || settings["CALLBACK_SIGNING_KEYS"] == "":
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return fmt.Errorf("callback signing key: %w", err)
		}
		settings["CALLBACK_SIGNING_KEYS"] = base64.StdEncoding.EncodeToString(key)
	}
	for _, name := range behaviourSettings {
		if v := getenv(name); v != "" {
			settings[name] = v
		}
	}
	if demoURL != "" {
		settings["RETURN_URL_ALLOWED_ORIGINS"] = addOrigin(settings["RETURN_URL_ALLOWED_ORIGINS"], demoURL)
	}
	return nil
}

// behaviourSettings are the app's settings that shape what it does rather than where its
// dependencies are (those devstack sets itself, to the services it starts): the environment of
// `make run` may set each, over local.settings.json, as it may CALLBACK_SIGNING_KEYS.
var behaviourSettings = []string{
	"ABANDON_AFTER_SECONDS", "RETENTION_DAYS", "DELETE_FACE_SESSIONS", "LIVENESS_DEFAULT_MODE",
	"RETURN_URL_ALLOWED_ORIGINS", "LOG_LEVEL",
}

// addOrigin adds origin to a comma-separated list unless it is there.
func addOrigin(list, origin string) string {
	var out []string
	for o := range strings.SplitSeq(list, ",") {
		if o = strings.TrimSpace(o); o == origin {
			return list
		} else if o != "" {
			out = append(out, o)
		}
	}
	return strings.Join(append(out, origin), ",")
}

// startDemo starts the demo app (cmd/demo) against the app at apiURL and waits until its page
// answers.
func (st *stack) startDemo(ctx context.Context, bin, apiURL string, port int) error {
	env := map[string]string{
		"DEMO_ADDR":       fmt.Sprintf("127.0.0.1:%d", port),
		"DEMO_API_URL":    apiURL,
		"DEMO_PUBLIC_URL": demoURL(port),
	}
	demo, err := st.startChild("demo", bin, nil, "", env)
	if err != nil {
		return err
	}
	if err := demo.WaitHealthy(ctx, demoURL(port)+"/", 30*time.Second); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// demoURL is the demo's origin, as browsers open it and as the handler allows it as a returnUrl.
func demoURL(port int) string { return fmt.Sprintf("http://127.0.0.1:%d", port) }

package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// TestMakeRunStartsTheDemoWithTheFlowSettings runs `make run` with the demo and the handler behind
// a wrapper that records its environment: the handler gets what the quick link flow needs, the
// demo answers on DEMO_PORT, the welcome names it first, the quick link routes are served on the
// Face stand-in's listener, and Ctrl-C stops the demo too. (The flow itself is the browser suite's.)
func TestMakeRunStartsTheDemoWithTheFlowSettings(t *testing.T) {
	bin := buildAll(t)
	envRecord := filepath.Join(t.TempDir(), "handler.env")
	handler := writeScript(t, "handler", fmt.Sprintf("env > '%s'\nexec '%s'\n", envRecord, filepath.Join(bin, "handler")))
	t.Setenv("ABANDON_AFTER_SECONDS", "7")
	t.Setenv("CALLBACK_SIGNING_KEYS", "")
	p := freePorts(t)
	d := startDevstack(t, filepath.Join(bin, "devstack"), append([]string{"-handler", handler,
		"-events-tail", filepath.Join(bin, "events-tail"), "-demo", filepath.Join(bin, "demo"), "-demo-port", fmt.Sprint(p.demo)},
		p.runArgs()...)...)

	demo := fmt.Sprintf("http://127.0.0.1:%d", p.demo)
	out := d.output.String()
	open, running := strings.Index(out, "Open "+demo+" and press Start"), strings.Index(out, "Liveness Quick Link is running locally")
	if open < 0 || open > running {
		t.Errorf("the welcome does not begin with %q:\n%s", "Open "+demo+" and press Start", out)
	}

	env := readEnv(t, envRecord)
	face := fmt.Sprintf("http://127.0.0.1:%d", p.face)
	want := map[string]string{
		"QUICKLINK_ENDPOINT":    face,
		"PUBLIC_BASE_URL":       fmt.Sprintf("http://localhost:%d", p.app),
		"ABANDON_AFTER_SECONDS": "7",
	}
	got := map[string]string{}
	for k := range want {
		got[k] = env[k]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the handler's flow settings (-want +got):\n%s", diff)
	}
	if !strings.Contains(","+env["RETURN_URL_ALLOWED_ORIGINS"]+",", ","+demo+",") {
		t.Errorf("RETURN_URL_ALLOWED_ORIGINS = %q, want it to hold the demo's origin %s", env["RETURN_URL_ALLOWED_ORIGINS"], demo)
	}
	checkRandomKey(t, env["CALLBACK_SIGNING_KEYS"])

	resp, err := http.Get(demo + "/")
	if err != nil {
		t.Fatalf("the demo: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `id="start"`) {
		t.Errorf("GET %s/ = %d without the start button:\n%s", demo, resp.StatusCode, b)
	}
	// The quick link stand-in answers on the Face stand-in's listener (a token it never issued is
	// refused by it, not a 404 of Face's routes).
	resp, err = http.Post(face+"/api/quicklink", "", nil)
	if err != nil {
		t.Fatalf("POST /api/quicklink: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode < 400 {
		t.Errorf("POST %s/api/quicklink without a token = %d, want the quick link stand-in's refusal", face, resp.StatusCode)
	}
	d.interrupt(t, map[string]int{"azurite": p.tables, "face stand-in": p.face, "handler": p.app, "demo": p.demo,
		"Service Bus stand-in": p.sb, "Service Bus counters": p.sbHTTP})
}

// checkRandomKey holds a CALLBACK_SIGNING_KEYS value to one fresh key: base64 of 32 bytes, not
// the example's published one.
func checkRandomKey(t *testing.T, keys string) {
	t.Helper()
	example, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), exampleSettings))
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(keys)
	if err != nil || len(key) != 32 {
		t.Errorf("CALLBACK_SIGNING_KEYS = %q, want one base64 key of 32 bytes (%v)", keys, err)
	}
	if strings.Contains(string(example), `"`+keys+`"`) {
		t.Errorf("CALLBACK_SIGNING_KEYS is the example's published key, want one made for this run")
	}
}

func TestFlowSettings(t *testing.T) {
	const (
		face = "http://127.0.0.1:7072"
		app  = "http://localhost:7071"
		demo = "http://127.0.0.1:8080"
	)
	for _, c := range []struct {
		name        string
		fromExample bool
		settings    map[string]string
		env         map[string]string
		want        map[string]string // "" for CALLBACK_SIGNING_KEYS: a random key
	}{
		{"the example's key is replaced", true,
			map[string]string{"CALLBACK_SIGNING_KEYS": "ZXhhbXBsZQ==", "RETURN_URL_ALLOWED_ORIGINS": "http://localhost:7072,http://localhost:3000"}, nil,
			map[string]string{"QUICKLINK_ENDPOINT": face, "PUBLIC_BASE_URL": app, "CALLBACK_SIGNING_KEYS": "",
				"RETURN_URL_ALLOWED_ORIGINS": "http://localhost:7072,http://localhost:3000," + demo}},
		{"the developer's own key is kept", false,
			map[string]string{"CALLBACK_SIGNING_KEYS": "b3du", "RETURN_URL_ALLOWED_ORIGINS": demo}, nil,
			map[string]string{"QUICKLINK_ENDPOINT": face, "PUBLIC_BASE_URL": app, "CALLBACK_SIGNING_KEYS": "b3du", "RETURN_URL_ALLOWED_ORIGINS": demo}},
		{"a missing key is made", false, map[string]string{}, nil,
			map[string]string{"QUICKLINK_ENDPOINT": face, "PUBLIC_BASE_URL": app, "CALLBACK_SIGNING_KEYS": "", "RETURN_URL_ALLOWED_ORIGINS": demo}},
		{"the environment wins", false,
			map[string]string{"CALLBACK_SIGNING_KEYS": "b3du", "ABANDON_AFTER_SECONDS": "120"},
			map[string]string{"CALLBACK_SIGNING_KEYS": "ZW52", "ABANDON_AFTER_SECONDS": "2"},
			map[string]string{"QUICKLINK_ENDPOINT": face, "PUBLIC_BASE_URL": app, "CALLBACK_SIGNING_KEYS": "ZW52",
				"ABANDON_AFTER_SECONDS": "2", "RETURN_URL_ALLOWED_ORIGINS": demo}},
		{"every behaviour setting from the environment", true,
			map[string]string{"CALLBACK_SIGNING_KEYS": "ZXhhbXBsZQ==", "RETENTION_DAYS": "30", "DELETE_FACE_SESSIONS": "true",
				"LIVENESS_DEFAULT_MODE": "PassiveActive", "LOG_LEVEL": "info", "RETURN_URL_ALLOWED_ORIGINS": "http://localhost:3000"},
			map[string]string{"RETENTION_DAYS": "0", "DELETE_FACE_SESSIONS": "false", "LIVENESS_DEFAULT_MODE": "Passive",
				"LOG_LEVEL": "debug", "RETURN_URL_ALLOWED_ORIGINS": "https://app.example.com", "FACE_ENDPOINT": "https://elsewhere.example"},
			map[string]string{"QUICKLINK_ENDPOINT": face, "PUBLIC_BASE_URL": app, "CALLBACK_SIGNING_KEYS": "",
				"RETENTION_DAYS": "0", "DELETE_FACE_SESSIONS": "false", "LIVENESS_DEFAULT_MODE": "Passive", "LOG_LEVEL": "debug",
				"RETURN_URL_ALLOWED_ORIGINS": "https://app.example.com," + demo}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := flowSettings(c.settings, c.fromExample, face, app, demo, func(k string) string { return c.env[k] }); err != nil {
				t.Fatal(err)
			}
			if c.want["CALLBACK_SIGNING_KEYS"] == "" {
				if k, err := base64.StdEncoding.DecodeString(c.settings["CALLBACK_SIGNING_KEYS"]); err != nil || len(k) != 32 {
					t.Errorf("CALLBACK_SIGNING_KEYS = %q, want a random base64 key of 32 bytes", c.settings["CALLBACK_SIGNING_KEYS"])
				}
				c.want["CALLBACK_SIGNING_KEYS"] = c.settings["CALLBACK_SIGNING_KEYS"]
			}
			if diff := cmp.Diff(c.want, c.settings); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
	a, b := map[string]string{}, map[string]string{}
	_ = flowSettings(a, true, face, app, "", func(string) string { return "" })
	_ = flowSettings(b, true, face, app, "", func(string) string { return "" })
	if a["CALLBACK_SIGNING_KEYS"] == b["CALLBACK_SIGNING_KEYS"] {
		t.Errorf("two runs made the same signing key %q", a["CALLBACK_SIGNING_KEYS"])
	}
	if _, set := a["RETURN_URL_ALLOWED_ORIGINS"]; set {
		t.Errorf("without a demo, RETURN_URL_ALLOWED_ORIGINS was set to %q", a["RETURN_URL_ALLOWED_ORIGINS"])
	}
}

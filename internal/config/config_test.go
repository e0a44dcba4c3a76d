package config

import (
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

var testKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

func env(overrides map[string]string) func(string) string {
	base := map[string]string{
		"FACE_ENDPOINT":              "https://face.example.com/",
		"PUBLIC_BASE_URL":            "https://app.example.com",
		"CALLBACK_SIGNING_KEYS":      testKey,
		"TABLES_CONNECTION_STRING":   "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;",
		"RETURN_URL_ALLOWED_ORIGINS": "https://App.example.com:443, http://localhost:3000",
		"SERVICEBUS_CONNECTION_STRING": "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=RootManageSharedAccessKey;" +
			"SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;",
	}
	for k, v := range overrides {
		base[k] = v
	}
	return func(k string) string { return base[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ListenAddr", c.ListenAddr, ":7071"},
		{"FaceEndpoint trimmed", c.FaceEndpoint, "https://face.example.com"},
		{"QuickLinkEndpoint", c.QuickLinkEndpoint, "https://liveness.face.azure.com"},
		{"PublicBaseURL", c.PublicBaseURL.String(), "https://app.example.com"},
		{"ServiceBusEntity", c.ServiceBusEntity, "liveness-events"},
		{"DefaultMode", c.DefaultMode, liveness.ModePassiveActive},
		{"ReconcileSchedule", c.ReconcileSchedule, "0 */1 * * * *"},
		{"DeleteFaceSessions", c.DeleteFaceSessions, true},
		{"AbandonAfter", c.AbandonAfter, 120 * time.Second},
		{"Retention", c.Retention, 30 * 24 * time.Hour},
		{"LogLevel", c.LogLevel, slog.LevelInfo},
		{"keys", len(c.CallbackSigningKeys), 1},
		{"origins", strings.Join(c.ReturnURLAllowedOrigins, " "), "https://app.example.com http://localhost:3000"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadCustomHandlerPort(t *testing.T) {
	c, err := Load(env(map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "41234"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.ListenAddr != "127.0.0.1:41234" {
		t.Errorf("ListenAddr = %q, want 127.0.0.1:41234 (the host always calls loopback)", c.ListenAddr)
	}
}

func TestLoadReportsEveryProblemWithoutValues(t *testing.T) {
	secret := "c2VjcmV0"
	getenv := env(map[string]string{
		"FACE_ENDPOINT":                "",
		"PUBLIC_BASE_URL":              "not a url",
		"CALLBACK_SIGNING_KEYS":        secret + ",%%%",
		"TABLES_CONNECTION_STRING":     "",
		"RETURN_URL_ALLOWED_ORIGINS":   "http://evil.example.com,https://x.example.com/path",
		"SERVICEBUS_CONNECTION_STRING": "Endpoint=https://x;SharedAccessKey=" + secret,
		"LIVENESS_DEFAULT_MODE":        "Active",
		"RECONCILE_SCHEDULE":           "* * *",
		"DELETE_FACE_SESSIONS":         "maybe",
		"ABANDON_AFTER_SECONDS":        "0",
		"RETENTION_DAYS":               "3651",
		"LOG_LEVEL":                    "loud",
		"FUNCTIONS_CUSTOMHANDLER_PORT": "http",
	})
	_, err := Load(getenv)
	if err == nil {
		t.Fatal("Load accepted a broken configuration")
	}
	msg := err.Error()
	for _, name := range []string{
		"FACE_ENDPOINT", "PUBLIC_BASE_URL", "CALLBACK_SIGNING_KEYS: key 1 is shorter", "CALLBACK_SIGNING_KEYS: key 2 is not base64",
		"TABLES_ENDPOINT or TABLES_CONNECTION_STRING", "RETURN_URL_ALLOWED_ORIGINS", "SERVICEBUS_CONNECTION_STRING",
		"LIVENESS_DEFAULT_MODE", "RECONCILE_SCHEDULE", "DELETE_FACE_SESSIONS", "ABANDON_AFTER_SECONDS", "RETENTION_DAYS",
		"LOG_LEVEL", "FUNCTIONS_CUSTOMHANDLER_PORT",
	} {
		if !strings.Contains(msg, name) {
			t.Errorf("error does not name %s: %s", name, msg)
		}
	}
	if strings.Contains(msg, secret) {
		t.Errorf("error leaks a setting's value: %s", msg)
	}
	if n := strings.Count(msg, "RETURN_URL_ALLOWED_ORIGINS"); n != 2 {
		t.Errorf("want both bad origins reported, got %d mentions: %s", n, msg)
	}
}

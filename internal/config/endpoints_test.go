package config

import (
	"strings"
	"testing"
)

// Credentials travel to these endpoints (the Face key or Entra token; the session token as Bearer
// for the quick link service). Over plain http to another machine the Face client refuses every
// call at run time (azcore's TLS rule) and the quick link swap would send the token in clear, yet
// start-up accepts the setting: the app reports healthy and answers 503 to every StartSession.
func TestLoadRejectsPlainHTTPToRemoteCredentialEndpoints(t *testing.T) {
	for _, name := range []string{"FACE_ENDPOINT", "QUICKLINK_ENDPOINT"} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(map[string]string{name: "http://face.example.com"}))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("Load with %s=http://face.example.com = %v, want an error naming %s (https only, http for loopback)", name, err, name)
			}
		})
	}
	for _, name := range []string{"FACE_ENDPOINT", "QUICKLINK_ENDPOINT"} {
		if _, err := Load(env(map[string]string{name: "http://127.0.0.1:7072"})); err != nil {
			t.Errorf("Load with %s on loopback over http = %v, want it accepted (local stand-ins)", name, err)
		}
	}
}

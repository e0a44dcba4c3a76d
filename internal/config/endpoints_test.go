package config

import (
	"strings"
	"testing"
)

// Credentials, tokens or the app's data travel to these endpoints (the Face key or Entra token;
// the session token as Bearer for the quick link service; Entra tokens and session rows for
// Tables; callback URLs and event sources built on PUBLIC_BASE_URL). Over plain http to another
// machine they would travel in clear, or azcore refuses every call at run time while start-up
// accepted the setting: the app reports healthy and answers 503 to everything.
func TestLoadRejectsPlainHTTPToRemoteEndpoints(t *testing.T) {
	names := []string{"FACE_ENDPOINT", "QUICKLINK_ENDPOINT", "TABLES_ENDPOINT", "PUBLIC_BASE_URL"}
	remote := []string{"http://face.example.com", "HTTP://face.example.com", "http://10.0.0.4:10002", "http://[2001:db8::1]", "http://localhost.example.com"}
	loopback := []string{"http://127.0.0.1:7072", "http://localhost:10002", "http://[::1]:7071", "http://127.0.0.2"}
	for _, name := range names {
		for _, v := range remote {
			_, err := Load(env(map[string]string{name: v}))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("Load with %s=%s = %v, want an error naming %s (https only, http for loopback)", name, v, err, name)
			}
		}
		for _, v := range loopback {
			if _, err := Load(env(map[string]string{name: v})); err != nil {
				t.Errorf("Load with %s=%s = %v, want it accepted (local stand-ins)", name, v, err)
			}
		}
	}
}

// The connection string is the same endpoint by another road: its table endpoint, explicit or
// built from DefaultEndpointsProtocol and the account, gets the same rule.
func TestLoadRejectsPlainHTTPConnectionStringsToRemoteHosts(t *testing.T) {
	const key = "AccountKey=a2V5;"
	tests := []struct {
		cs string
		ok bool
	}{
		{"DefaultEndpointsProtocol=http;AccountName=acct;" + key + "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;", true},
		{"DefaultEndpointsProtocol=http;AccountName=acct;" + key + "TableEndpoint=http://localhost:10002/acct", true},
		{"DefaultEndpointsProtocol=https;AccountName=acct;" + key + "EndpointSuffix=core.windows.net", true},
		{"AccountName=acct;" + key + "TableEndpoint=https://acct.table.core.windows.net/", true},
		{"DefaultEndpointsProtocol=http;AccountName=acct;" + key + "EndpointSuffix=core.windows.net", false},
		{"DefaultEndpointsProtocol=https;AccountName=acct;" + key + "TableEndpoint=http://acct.table.core.windows.net/", false},
		{"AccountName=acct;" + key + "tableendpoint=HTTP://10.1.2.3:10002/acct", false},
	}
	for _, tt := range tests {
		_, err := Load(env(map[string]string{"TABLES_CONNECTION_STRING": tt.cs}))
		if tt.ok && err != nil {
			t.Errorf("Load with TABLES_CONNECTION_STRING %q = %v, want it accepted", tt.cs, err)
		}
		if !tt.ok && (err == nil || !strings.Contains(err.Error(), "TABLES_CONNECTION_STRING")) {
			t.Errorf("Load with TABLES_CONNECTION_STRING %q = %v, want an error naming it (https only, http for loopback)", tt.cs, err)
		}
		if err != nil && strings.Contains(err.Error(), "a2V5") {
			t.Errorf("the error quotes the account key: %v", err)
		}
	}
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// start runs the command with args until the test ends and returns its listen address.
func start(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, pw, slog.New(slog.DiscardHandler))
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run after cancel = %v, want nil", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("read LISTENING line: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTENING ")
	if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("first line = %q, want LISTENING 127.0.0.1:<port>", line)
	}
	go io.Copy(io.Discard, pr)
	return addr
}

func TestRunServesUntilCanceled(t *testing.T) {
	addr := start(t, "-addr", "127.0.0.1:0", "-api-key", "k")
	resp, err := http.Post("http://"+addr+"/face/v1.2/detectLiveness-sessions", "application/json",
		strings.NewReader(`{"livenessOperationMode":"Passive","deviceCorrelationId":"d"}`))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("create without the -api-key: status %d, want 401", resp.StatusCode)
	}
}

// TestRunServesFaceAndQuickLinkOnOneListener walks a link through both stand-ins on the one
// address, with the return switches set by flags and by environment.
func TestRunServesFaceAndQuickLinkOnOneListener(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{name: "flags", args: []string{"-quicklink-return", "post", "-quicklink-append-params"}},
		{name: "env", env: map[string]string{"QUICKLINK_RETURN": "post", "QUICKLINK_APPEND_PARAMS": "true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			base := "http://" + start(t, append([]string{"-addr", "127.0.0.1:0", "-api-key", "k"}, tc.args...)...)
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			call := func(method, path, contentType, body string, header http.Header) (int, string) {
				t.Helper()
				req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
				for k, v := range header {
					req.Header[k] = v
				}
				if contentType != "" {
					req.Header.Set("Content-Type", contentType)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}

			status, body := call(http.MethodPost, "/face/v1.2/detectLiveness-sessions", "application/json",
				`{"livenessOperationMode":"Passive","deviceCorrelationId":"d"}`, http.Header{"Ocp-Apim-Subscription-Key": {"k"}})
			var sess struct{ SessionID, AuthToken string }
			if status != http.StatusOK || json.Unmarshal([]byte(body), &sess) != nil {
				t.Fatalf("create Face session: %d %s", status, body)
			}
			status, body = call(http.MethodPost, "/api/quicklink", "", "", http.Header{"Authorization": {"Bearer " + sess.AuthToken}})
			var link struct{ URL string }
			if status != http.StatusOK || json.Unmarshal([]byte(body), &link) != nil || !strings.HasPrefix(link.URL, "/?s=") {
				t.Fatalf("POST /api/quicklink: %d %s", status, body)
			}
			s := strings.TrimPrefix(link.URL, "/?s=")
			cb := "http://127.0.0.1:1/api/callback/" + sess.SessionID + "?exp=1&sig=x"
			if status, body = call(http.MethodGet, link.URL+"&callbackUrl="+url.QueryEscape(cb), "", "", nil); status != http.StatusOK ||
				!strings.Contains(body, `id="realface"`) {
				t.Fatalf("GET capture page: %d %s", status, body)
			}
			status, body = call(http.MethodPost, "/capture/"+s, "application/x-www-form-urlencoded", "outcome=realface", nil)
			if status != http.StatusOK || !strings.Contains(body, `<form id="return" method="post" action="`+strings.ReplaceAll(cb, "&", "&amp;")+`">`) ||
				!strings.Contains(body, `name="sessionId" value="`+sess.SessionID+`"`) {
				t.Errorf("capture in post mode with appended params: %d %s", status, body)
			}
			if status, body = call(http.MethodGet, "/_quicklink/settings", "", "", nil); body != "{\"returnMode\":\"post\",\"appendParams\":true}\n" {
				t.Errorf("GET /_quicklink/settings: %d %q", status, body)
			}
			if status, body = call(http.MethodGet, "/_stub/issued-tokens", "", "", nil); !strings.Contains(body, sess.AuthToken) {
				t.Errorf("GET /_stub/issued-tokens: %d %q, want the session's token", status, body)
			}
			if status, body = call(http.MethodGet, "/_quicklink/issued", "", "", nil); !strings.Contains(body, s) {
				t.Errorf("GET /_quicklink/issued: %d %q, want the link id", status, body)
			}
		})
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{name: "unknown flag", args: []string{"-nope"}},
		{name: "return mode", args: []string{"-quicklink-return", "redirect"}},
		{name: "return mode env", env: map[string]string{"QUICKLINK_RETURN": "POST"}},
		{name: "append params env", env: map[string]string{"QUICKLINK_APPEND_PARAMS": "maybe"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := append([]string{"-addr", "127.0.0.1:0"}, tc.args...)
			if err := run(context.Background(), args, io.Discard, slog.New(slog.DiscardHandler)); err == nil {
				t.Errorf("run %v with env %v = nil, want an error", tc.args, tc.env)
			}
		})
	}
}

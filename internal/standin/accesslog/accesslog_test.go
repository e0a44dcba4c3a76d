package accesslog_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/standin/accesslog"
	"github.com/liveness-quicklink/functions/internal/testing/logsink"
)

func TestHandlerLogsTheRouteTemplateAndStatus(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /t/{secret}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("x")) })
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	for _, tc := range []struct {
		path, msg, route string
		status           int
	}{
		{"/t/s3cret?q=s3cret", "request", "GET /t/{secret}", http.StatusTeapot},
		{"/ok", "request", "GET /ok", http.StatusOK},
		{"/boom", "request aborted", "GET /boom", 0},
	} {
		var buf logsink.Buffer
		h := accesslog.Handler(slog.New(slog.NewJSONHandler(&buf, nil)), mux)
		func() {
			defer func() { _ = recover() }()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tc.path, nil))
		}()
		var line struct {
			Msg, Method, Route string
			Status             int
		}
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("%s: log %q: %v", tc.path, buf.String(), err)
		}
		if line.Msg != tc.msg || line.Route != tc.route || line.Status != tc.status || line.Method != "GET" {
			t.Errorf("%s: logged %+v, want msg %q route %q status %d", tc.path, line, tc.msg, tc.route, tc.status)
		}
		if strings.Contains(buf.String(), "s3cret") {
			t.Errorf("%s: log holds the path's secret: %s", tc.path, buf.String())
		}
	}
}

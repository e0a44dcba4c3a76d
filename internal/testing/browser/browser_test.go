package browser

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// pages is a miniature of the demo and the capture page, with the ids the contracts name.
func pages() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<form method="post" action="/start"><button id="start">Start a liveness check</button></form>`)
	})
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/sessions/s-1", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /sessions/s-1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<p id="session-id"> s-1 </p><div id="qr"><svg viewBox="0 0 1 1"></svg></div>`+
			`<a id="link" href="/capture?s=x">open</a><p id="status">linkIssued</p>`)
	})
	mux.HandleFunc("GET /capture", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<form method="post" action="/done"><button type="submit" name="outcome" value="realface" id="realface">Real face</button></form>`)
	})
	mux.HandleFunc("POST /done", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/return?status="+r.FormValue("outcome"), http.StatusSeeOther)
	})
	// The return page changes its status after a moment, as the demo's polling page does.
	mux.HandleFunc("GET /return", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<p id="status">linkIssued</p><script>setTimeout(() => document.getElementById("status").textContent = "completed", 300)</script>`)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		mux.ServeHTTP(w, r)
	})
}

func TestFlowHelpersDriveChromium(t *testing.T) {
	if _, err := Path(); err != nil {
		t.Fatalf("%v", err) // never a skip: see scripts/ensure-chromium.sh
	}
	srv := httptest.NewServer(pages())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tab, stop, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	if err := Open(tab, srv.URL+"/"); err != nil {
		t.Fatal(err)
	}
	s, err := StartSession(tab)
	if err != nil {
		t.Fatal(err)
	}
	want := Started{SessionID: "s-1", Link: "/capture?s=x", QR: `<svg viewBox="0 0 1 1"></svg>`, URL: srv.URL + "/sessions/s-1"}
	if s != want {
		t.Errorf("StartSession read %+v, want %+v", s, want)
	}
	if err := Open(tab, srv.URL+s.Link); err != nil {
		t.Fatal(err)
	}
	if err := Choose(tab, "realface"); err != nil {
		t.Fatal(err)
	}
	loc, err := WaitLocation(tab, srv.URL+"/return")
	if err != nil {
		t.Fatal(err)
	}
	if loc != srv.URL+"/return?status=realface" {
		t.Errorf("landed on %s, want the return page with status=realface", loc)
	}
	if got, err := WaitText(tab, "#status", "completed", 5*time.Second); err != nil || got != "completed" {
		t.Errorf("WaitText = %q, %v; want the updated status", got, err)
	}
	if got, err := WaitText(tab, "#status", "never", 300*time.Millisecond); err == nil {
		t.Errorf("WaitText for a text that never comes = %q, nil; want an error", got)
	}
	png, err := Screenshot(tab)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("Screenshot is not a PNG: % x", png[:min(8, len(png))])
	}
}

func TestPathNamesTheFixWhenChromiumIsMissing(t *testing.T) {
	t.Setenv(EnvPath, "/nonexistent/chromium")
	_, err := Path()
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("scripts/ensure-chromium.sh")) {
		t.Errorf("Path() error = %v, want one naming scripts/ensure-chromium.sh", err)
	}
}

package tap

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestHandlerSeesWhatTheClientSees(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantBody   string
		wantWrote  bool
	}{
		{"status and body", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Seen", string(b))
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "made ")
			io.WriteString(w, "it")
			w.Header().Set("X-Late", "never sent")
		}, http.StatusCreated, "made it", true},
		{"body without WriteHeader", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}, http.StatusOK, "ok", true},
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {}, http.StatusOK, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Exchange
			srv := httptest.NewServer(Handler(tt.handler, func(x Exchange) { got = x }))
			defer srv.Close()
			resp, err := http.Post(srv.URL+"/p", "text/plain", strings.NewReader("hello"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
				t.Fatalf("client got %d %q, want %d %q: the tap changed the response", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			want := Exchange{RequestBody: []byte("hello"), Wrote: tt.wantWrote, Status: tt.wantStatus, Body: []byte(tt.wantBody)}
			if diff := cmp.Diff(want, got, cmp.FilterPath(func(p cmp.Path) bool {
				return p.String() == "Request" || p.String() == "Header"
			}, cmp.Ignore()), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("exchange (-want +got):\n%s", diff)
			}
			if got.Request == nil || got.Request.URL.Path != "/p" {
				t.Errorf("exchange request = %v, want the request to /p", got.Request)
			}
			if tt.wantWrote && tt.name == "status and body" {
				if got.Header.Get("X-Seen") != "hello" || got.Header.Get("X-Late") != "" {
					t.Errorf("exchange header = %v, want X-Seen: hello and no header set after WriteHeader", got.Header)
				}
			}
		})
	}
}

func TestHandlerMarksAClientThatLeftBeforeAnyResponse(t *testing.T) {
	seen := make(chan Exchange, 1)
	arrived := make(chan struct{})
	srv := httptest.NewServer(Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}), func(x Exchange) { seen <- x }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, strings.NewReader("bye"))
	go func() { <-arrived; cancel() }()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("the request succeeded although its client canceled it")
	}
	x := <-seen
	if !x.ClientGone || x.Wrote || string(x.RequestBody) != "bye" {
		t.Errorf("exchange = ClientGone %v, Wrote %v, request body %q; want a gone client, nothing written, the body kept", x.ClientGone, x.Wrote, x.RequestBody)
	}
}

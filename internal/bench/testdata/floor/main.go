// Command floor is the CPU floor of phase 4: a minimal net/http server that, for each request,
// makes the same number of sequential upstream calls as the handler made for the same endpoint
// (FLOOR_CALLS, "POST /api/sessions=3,GET /api/callback/=5": method and path prefix = calls),
// each a POST of a small JSON body to FLOOR_UPSTREAM with plain net/http, reads each answer and
// answers the client with a small JSON body. No SDK, no JSON decoding, no logging: what one HTTP
// server making those calls costs at the least on this machine.
package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

type route struct {
	method, prefix string
	calls          int
}

func main() {
	var routes []route
	for spec := range strings.SplitSeq(os.Getenv("FLOOR_CALLS"), ",") {
		key, n, _ := strings.Cut(spec, "=")
		method, prefix, _ := strings.Cut(key, " ")
		calls, err := strconv.Atoi(n)
		if err != nil {
			os.Exit(2)
		}
		routes = append(routes, route{method, prefix, calls})
	}
	upstream := os.Getenv("FLOOR_UPSTREAM")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	body := bytes.Repeat([]byte("x"), 600)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		calls := 0
		for _, rt := range routes {
			if r.Method == rt.method && strings.HasPrefix(r.URL.Path, rt.prefix) {
				calls = rt.calls
			}
		}
		for range calls {
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, upstream, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"), nil); err != nil {
		os.Exit(1)
	}
}

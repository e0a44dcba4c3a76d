// Command fakehandler is a stand-in custom handler for the harness's own tests: it reports the
// environment and working directory it was started with, and exits with $FAKE_EXIT_CODE on SIGTERM
// (the harness itself, like the host, stops it with SIGKILL unless asked for SIGTERM).
package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	// Before listening: a SIGTERM that arrives once the harness sees it ready must reach us.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	if os.Getenv("FAKE_FAIL_AT_START") != "" {
		os.Stderr.WriteString("fakehandler: failing at start\n")
		os.Exit(1)
	}
	if ms, _ := strconv.Atoi(os.Getenv("FAKE_LISTEN_DELAY_MS")); ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond) // the host must keep polling meanwhile
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"))
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, r *http.Request) {
		cwd, _ := os.Getwd()
		args, _ := json.Marshal(os.Args[1:])
		env := map[string]string{"cwd": cwd, "args": string(args)}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(env)
	})
	go func() { _ = http.Serve(ln, mux) }()
	os.Stdout.WriteString(`{"msg":"listening"}` + "\n")
	<-sig
	code, _ := strconv.Atoi(os.Getenv("FAKE_EXIT_CODE"))
	os.Exit(code)
}

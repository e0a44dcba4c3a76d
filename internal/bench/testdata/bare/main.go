// Command bare is the cold-start floor: a net/http server that answers every path 200 on
// FUNCTIONS_CUSTOMHANDLER_PORT, with nothing else to build.
package main

import (
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"), nil); err != nil {
		os.Exit(1)
	}
}

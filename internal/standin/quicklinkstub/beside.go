package quicklinkstub

import (
	"net/http"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// Beside serves face and q, the quick link stand-in over face's sessions, on one listener, as the
// local stack runs them: Face under /face/ with its controls under /_stub/, everything else
// (POST /api/quicklink, the capture page at /, /capture/…, the /_quicklink/ controls) quick link.
// QUICKLINK_ENDPOINT is then the same base URL as FACE_ENDPOINT.
func Beside(face *facestub.Server, q *Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/face/", face)
	mux.Handle("/_stub/", face)
	mux.Handle("/", q)
	return mux
}

package main

import (
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

//go:embed web
var webFiles embed.FS

var pages = template.Must(template.ParseFS(webFiles, "web/layout.html"))

// demo is the demo app's HTTP side: its pages, its status endpoint and its static files.
type demo struct {
	api       *apiClient
	publicURL string // where browsers reach the demo, without a trailing slash: the returnUrl's base
	links     *linkStore
	log       *slog.Logger
}

// handler serves the demo's routes behind its security headers and the standard library's
// cross-origin protection (a page of another site cannot press Start).
func (d *demo) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.index)
	mux.HandleFunc("POST /start", d.start)
	mux.HandleFunc("GET /sessions/{id}", d.session)
	mux.HandleFunc("GET /api/sessions/{id}/status", d.status)
	mux.HandleFunc("GET /return", d.returned)
	mux.Handle("GET /static/", http.FileServerFS(mustSub("web")))
	return d.logRequests(securityHeaders(http.NewCrossOriginProtection().Handler(mux)))
}

func (d *demo) index(w http.ResponseWriter, r *http.Request) {
	d.render(w, http.StatusOK, "index", map[string]any{"Title": "Start"})
}

// ownerCookie names the cookie that binds a session's link to the browser that pressed Start:
// the link is a bearer secret, and session ids are not secret (they are in log lines, in the
// returnUrl's query and in events), so knowing an id must not be enough to read the link.
const ownerCookie = "demo_link_owner"

// start is StartSession with a link and its QR code, server-side, then a 303 to the session page
// with the owner cookie that page asks for before it shows the link.
func (d *demo) start(w http.ResponseWriter, r *http.Request) {
	s, err := d.api.startSession(r.Context(), d.publicURL+"/return")
	if err != nil {
		d.apiFailed(w, r, "The session could not be started", err)
		return
	}
	id, _ := sessionID(s.SessionID) // checked by startSession
	owner := newOwnerToken()
	d.links.put(id, *s.Link, owner)
	// Scoped to this session's page: Strict keeps it off requests other sites start, HttpOnly
	// keeps it from scripts, and Secure follows the scheme browsers reach the demo by.
	http.SetCookie(w, &http.Cookie{Name: ownerCookie, Value: owner, Path: "/sessions/" + id,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: strings.HasPrefix(d.publicURL, "https://")})
	d.log.Info("session started", slog.String("sessionId", id))
	http.Redirect(w, r, "/sessions/"+id, http.StatusSeeOther)
}

// newOwnerToken is 32 random bytes, base64url: a value no other browser can guess.
func newOwnerToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// session shows the status GetSession reports and, to the browser that started the session
// only (its owner cookie), the link and its QR code.
func (d *demo) session(w http.ResponseWriter, r *http.Request) {
	id, ok := d.pathID(w, r)
	if !ok {
		return
	}
	s, err := d.api.getSession(r.Context(), id)
	if err != nil {
		d.apiFailed(w, r, "The session could not be read", err)
		return
	}
	data := map[string]any{"Title": "Session", "ID": id, "Status": s.Status, "Final": final(s.Status)}
	if l, held, owned := d.ownedLink(r, id); !owned {
		data["NotOwner"] = held
	} else if u, ok := linkURL(l.URL); ok {
		data["HasLink"], data["LinkURL"] = true, u
		data["ExpiresAt"] = l.ExpiresAt.UTC().Format(time.RFC1123)
		data["QR"] = qrImage(l.QRSvg)
	}
	d.render(w, http.StatusOK, "session", data)
}

// ownedLink is session id's link when one of the request's owner cookies is the one Start set;
// held reports whether the demo holds a link for id at all.
func (d *demo) ownedLink(r *http.Request, id string) (l link, held, owned bool) {
	for _, c := range r.CookiesNamed(ownerCookie) {
		if l, _, owned := d.links.get(id, c.Value); owned {
			return l, true, true
		}
	}
	_, held, _ = d.links.get(id, "")
	return link{}, held, false
}

// status is the demo's own JSON endpoint the pages poll: {"status": "...", "final": bool}, read
// from GetSession server-side.
func (d *demo) status(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	id, ok := sessionID(r.PathValue("id"))
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "sessionId is not a GUID"})
		return
	}
	s, err := d.api.getSession(r.Context(), id)
	if err != nil {
		e := asAPIError(err)
		d.log.Warn("GetSession failed", slog.String("sessionId", id), slog.String("error", e.Error()))
		w.WriteHeader(pageStatus(e))
		_ = json.NewEncoder(w).Encode(map[string]any{"error": e.Code, "apiStatus": e.Status})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"status": s.Status, "final": final(s.Status)})
}

// returned is the returnUrl: the status shown is GetSession's, never the query's own `status`,
// which anyone can write.
func (d *demo) returned(w http.ResponseWriter, r *http.Request) {
	id, ok := sessionID(r.URL.Query().Get("sessionId"))
	if !ok {
		d.badID(w)
		return
	}
	s, err := d.api.getSession(r.Context(), id)
	if err != nil {
		d.apiFailed(w, r, "The session could not be read", err)
		return
	}
	data := map[string]any{"Title": "Result", "ID": id, "Status": s.Status, "Final": final(s.Status)}
	if s.Outcome != nil {
		data["Decision"] = s.Outcome.Decision
		if s.Outcome.Failure != nil {
			data["Failure"] = s.Outcome.Failure.Code
		}
	}
	if s.Passed != nil {
		data["Passed"] = strconv.FormatBool(*s.Passed)
	}
	d.render(w, http.StatusOK, "return", data)
}

func (d *demo) pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id, ok := sessionID(r.PathValue("id"))
	if !ok {
		d.badID(w)
	}
	return id, ok
}

func (d *demo) badID(w http.ResponseWriter) {
	d.render(w, http.StatusBadRequest, "error", map[string]any{
		"Title": "Not a session id", "Message": "The session id must be a GUID, as the function API gives them.",
	})
}

// apiFailed answers a failed API call with a page naming the API's status and problem code and
// title (never its body, nor anything of the link).
func (d *demo) apiFailed(w http.ResponseWriter, r *http.Request, title string, err error) {
	e := asAPIError(err)
	d.log.Warn("function API call failed", slog.String("route", r.Pattern), slog.String("error", e.Error()))
	data := map[string]any{"Title": title, "Message": "The function API did not answer as expected."}
	if e.Status == 0 {
		data["Message"] = "The function API could not be reached. Is it running?"
	} else {
		data["API"] = e
	}
	d.render(w, pageStatus(e), "error", data)
}

// pageStatus is the demo's status for a failed API call: the API's 404 stays a 404, anything
// else is a bad gateway.
func pageStatus(e *apiError) int {
	if e.Status == http.StatusNotFound {
		return http.StatusNotFound
	}
	return http.StatusBadGateway
}

func (d *demo) render(w http.ResponseWriter, status int, name string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		d.log.Error("render", slog.String("page", name), slog.String("error", err.Error()))
	}
}

// linkURL is the link as a URL a page may point at: absolute http or https, else nothing.
func linkURL(s string) (template.URL, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	return template.URL(u.String()), true
}

// qrImage is the API's SVG as an image data URL: in an <img>, scripts or links the markup might
// hold never run. Anything that is not SVG markup is left out.
func qrImage(svg string) template.URL {
	s := strings.TrimSpace(svg)
	if s == "" || !(strings.HasPrefix(s, "<svg") || strings.HasPrefix(s, "<?xml")) || !strings.Contains(s, "<svg") {
		return ""
	}
	// Base64 has no character that could leave the attribute; the data URL is ours.
	return template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(s)))
}

// securityHeaders keep the pages to their own scripts and styles, out of frames, and the session
// id out of Referer headers sent elsewhere.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// logRequests logs each request's method, route pattern and status; never the query (it may
// hold whatever a caller put there) nor any answer.
func (d *demo) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		d.log.Info("request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

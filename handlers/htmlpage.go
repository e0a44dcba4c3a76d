package handlers

import (
	"html/template"
	"net/http"
	"strconv"
)

// page is the one small HTML page of the Callback route: its answers to a browser, errors
// included. It loads nothing and runs nothing (the CSP says so), and names no secret: its words
// come from the app, never from the request.
var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Title}}</title></head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Text}}</p>
{{with .Code}}<p><small>Error code: <code id="code">{{.}}</code></small></p>{{end}}
</body>
</html>
`))

type pageData struct{ Title, Text, Code string }

// writeHTML answers with the page.
func writeHTML(w http.ResponseWriter, status int, title, text string) {
	writePage(w, status, pageData{Title: title, Text: text})
}

// writeProblemHTML is the errorWriter of the Callback route for browsers: the table's status,
// code and words as the page.
func writeProblemHTML(w http.ResponseWriter, k problemKind, p problem) {
	if k.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(k.retryAfter))
	}
	text := p.Title
	if p.Detail != "" {
		text += " " + p.Detail
	}
	writePage(w, k.status, pageData{Title: http.StatusText(k.status), Text: text, Code: p.Code})
}

func writePage(w http.ResponseWriter, status int, d pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = page.Execute(w, d)
}

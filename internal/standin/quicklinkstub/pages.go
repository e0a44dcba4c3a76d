package quicklinkstub

import (
	"bytes"
	"html/template"
	"net/http"
)

// pages are small, self-contained (no external assets) and readable on a phone.
var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · quick link stand-in</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;padding:1.5rem;max-width:28rem;margin-inline:auto;color:#222}
h1{font-size:1.4rem}p{line-height:1.4}.kind{color:#555}
form.outcomes{display:grid;gap:.75rem;margin-top:1.5rem}
button{font-size:1.1rem;padding:.9rem;border-radius:.5rem;border:1px solid #888;background:#f4f4f4}
button#realface{background:#1b7f3b;color:#fff;border-color:#1b7f3b}
</style></head><body>{{end}}

{{define "capture"}}{{template "head" "Simulated capture"}}
<h1>Simulated liveness capture</h1>
<p class="kind" id="kind">{{.Kind}}</p>
<p>This local stand-in plays the quick link service's camera page. Pick what the capture found.</p>
<form class="outcomes" method="post" action="{{.Action}}">
<button type="submit" name="outcome" value="realface" id="realface">Real face</button>
<button type="submit" name="outcome" value="spoofface" id="spoofface">Spoof</button>
<button type="submit" name="outcome" value="uncertain" id="uncertain">Uncertain</button>
<button type="submit" name="outcome" value="error" id="error">Attempt error</button>
<button type="submit" name="outcome" value="abandon" id="abandon">Abandon</button>
</form>
</body></html>{{end}}

{{define "return"}}{{template "head" "Returning"}}
<h1>Returning to the app…</h1>
<form id="return" method="post" {{.ActionAttr}}>
{{range .Params}}<input type="hidden" name="{{index . 0}}" value="{{index . 1}}">
{{end}}<noscript><button type="submit">Continue</button></noscript>
</form>
<script>document.getElementById("return").submit();</script>
</body></html>{{end}}

{{define "message"}}{{template "head" .Title}}
<h1>{{.Title}}</h1>
<p id="message">{{.Text}}</p>
</body></html>{{end}}
`))

type capturePage struct {
	Action string // /capture/{s}
	Kind   string
}

// returnPage is the post mode's auto-submitted form back to Action, the callbackUrl.
type returnPage struct {
	Action string
	Params [][2]string
}

// ActionAttr writes the action attribute by hand: html/template would normalize the URL (re-encode
// quotes and parentheses), and the callbackUrl must arrive unchanged. Safe because Action passed
// checkCallbackURL (an http(s) URL) and is HTML-escaped here.
func (p returnPage) ActionAttr() template.HTMLAttr {
	return template.HTMLAttr(`action="` + template.HTMLEscapeString(p.Action) + `"`)
}

type messagePage struct{ Title, Text string }

func writeMessage(w http.ResponseWriter, status int, title, text string) {
	render(w, status, "message", messagePage{title, text})
}

// render writes a page that no cache keeps and that sends no Referer: the page's URL holds the link.
func render(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		panic(err) // our own templates and types: a bug, not a request's fault
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	if h.Get("Content-Security-Policy") == "" {
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	}
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

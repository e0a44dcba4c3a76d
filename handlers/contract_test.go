package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/liveness-quicklink/functions/internal/testing/tap"
)

// contract is the app's own OpenAPI document, api/openapi.yaml: every response the handler gives in
// these tests is checked against it, so an undocumented status or shape fails the test that saw it.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

var loadedContract = sync.OnceValues(func() (*contract, error) {
	// The Callback's pages: the document says only that they are text.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(filepath.Join("..", "api", "openapi.yaml"))
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contract{doc: doc, router: router}, nil
})

func loadContract(tb testing.TB) *contract {
	tb.Helper()
	c, err := loadedContract()
	if err != nil {
		tb.Fatalf("api/openapi.yaml: %v", err)
	}
	return c
}

// Middleware checks every answer of the app's HTTP API (paths under /api/) against the document
// and reports, with tb.Errorf, each one whose status, headers or body the operation does not
// declare. The host's own calls (GET /, POST /<FunctionName>) are no part of the API and pass
// unchecked.
func (c *contract) Middleware(tb testing.TB, next http.Handler) http.Handler {
	return tap.Handler(next, func(x tap.Exchange) {
		r := x.Request
		if x.ClientGone || !strings.HasPrefix(strings.ToLower(r.URL.Path), "/api/") {
			return
		}
		if routeless(c, x) {
			return
		}
		if err := c.validateResponse(x); err != nil {
			tb.Errorf("contract: %s %s answered %d, which api/openapi.yaml does not allow: %v\nbody: %.500s",
				r.Method, r.URL.EscapedPath(), x.Status, err, x.Body)
		}
	})
}

func (c *contract) validateResponse(x tap.Exchange) error {
	route, params, err := c.router.FindRoute(caseFolded(x.Request))
	if err != nil {
		return fmt.Errorf("no operation of the document: %w", err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: x.Request, PathParams: params, Route: route},
		Status:                 x.Status,
		Header:                 x.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(x.Body)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// validateRequest reports whether api/openapi.yaml accepts the request, so tests can hold the
// document to what the handler accepts and rejects. Errors do not quote values (images are large).
func (c *contract) validateRequest(req *http.Request, body []byte) error {
	route, params, err := c.router.FindRoute(caseFolded(req))
	if err != nil {
		return err
	}
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(body))
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			SkipSettingDefaults:     true,
			AuthenticationFunc:      requireFunctionKey,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
		},
	})
}

// caseFolded returns req with its path in lower case, without one trailing "/" and with its escapes
// decoded, as the Functions host matches routes (and the handler after it): /API/%53essions/ is
// /api/sessions. A request as a server received it gets the scheme and host the router expects.
func caseFolded(req *http.Request) *http.Request {
	r := req.Clone(context.Background())
	if r.URL.Host == "" {
		r.URL.Scheme, r.URL.Host = "http", r.Host
	}
	p := r.URL.EscapedPath()
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	// Escapes spelled one way (%61pi is api), "/" inside a segment kept escaped.
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = strings.ToLower(s)
		if u, err := url.PathUnescape(s); err == nil {
			segs[i] = url.PathEscape(strings.ToLower(u))
		}
	}
	r.URL.RawPath = strings.Join(segs, "/")
	r.URL.Path, _ = url.PathUnescape(r.URL.RawPath)
	return r
}

// routeless reports whether x is the handler's answer to a path no operation has, which the
// document cannot declare: only 404 not_found is that answer.
func routeless(c *contract, x tap.Exchange) bool {
	if _, _, err := c.router.FindRoute(caseFolded(x.Request)); err == nil || x.Status != http.StatusNotFound {
		return false
	}
	var p struct{ Code string }
	return json.Unmarshal(x.Body, &p) == nil && p.Code == "not_found"
}

// requireFunctionKey accepts a request that carries the key where the scheme says; checking the
// key itself is the Functions host's job.
func requireFunctionKey(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	s := in.SecurityScheme
	switch {
	case s.Type == "apiKey" && s.In == "header" && r.Header.Get(s.Name) != "":
		return nil
	case s.Type == "apiKey" && s.In == "query" && r.URL.Query().Get(s.Name) != "":
		return nil
	}
	return in.NewError(errors.New("no function key"))
}

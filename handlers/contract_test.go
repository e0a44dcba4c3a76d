package handlers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// contract is the app's own OpenAPI document, api/openapi.yaml: every response the handler gives in
// these tests is checked against it, so an undocumented status or shape fails the test that saw it.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

var loadedContract = sync.OnceValues(func() (*contract, error) {
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

// checkResponse fails t unless the response (status, headers, body) is one the document declares
// for the operation req addresses. req is the request as the client sent it.
func (c *contract) checkResponse(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	route, params, err := c.router.FindRoute(caseFolded(req))
	if err != nil {
		t.Errorf("contract: %s %s is no operation of api/openapi.yaml: %v", req.Method, req.URL.EscapedPath(), err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("contract: %s %s answered %d, which api/openapi.yaml does not allow: %v\nbody: %.500s",
			req.Method, req.URL.EscapedPath(), resp.StatusCode, err, body)
	}
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

// caseFolded returns req with its path in lower case, as the Functions host matches routes (and the
// handler after it): /API/Sessions is /api/sessions.
func caseFolded(req *http.Request) *http.Request {
	r := req.Clone(context.Background())
	r.URL.Path = strings.ToLower(r.URL.Path)
	r.URL.RawPath = strings.ToLower(r.URL.RawPath)
	return r
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

package facespec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

func validationOptions() *openapi3filter.Options {
	return &openapi3filter.Options{
		// Validation must observe the traffic, never rewrite it.
		SkipSettingDefaults: true,
		MultiError:          true,
		AuthenticationFunc:  authenticate,
		// Schema errors otherwise print the offending value, which may be a session auth token.
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
	}
}

// authenticate accepts a request when the credential the scheme names is present; whether it is the right
// one is the server's business, not the contract's.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header
	scheme := in.SecurityScheme
	switch scheme.Type {
	case "apiKey":
		if scheme.In == "header" && h.Get(scheme.Name) != "" {
			return nil
		}
		return in.NewError(fmt.Errorf("no %s header", scheme.Name))
	case "oauth2", "http", "openIdConnect":
		kind, token, _ := strings.Cut(h.Get("Authorization"), " ")
		if strings.EqualFold(kind, "Bearer") && strings.TrimSpace(token) != "" {
			return nil
		}
		return in.NewError(errors.New("no Authorization: Bearer header"))
	}
	return in.NewError(fmt.Errorf("security scheme type %q is not supported", scheme.Type))
}

// ValidateRequest checks r, whose body is body, against the operation it addresses. r is not modified and
// its body is not read; scheme and host are ignored.
func (s *Spec) ValidateRequest(r *http.Request, body []byte) error {
	in, err := s.route(r, body)
	if err != nil {
		return err
	}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		return fmt.Errorf("%s: %w", in.Route.Operation.OperationID, err)
	}
	return nil
}

// ValidateResponse checks a response to r against the operation r addresses. A success or redirect status
// must be declared by the operation: Azure specs use `default` for errors only, so a 200 where the spec says
// 204 is a violation even though `default` would otherwise cover it.
func (s *Spec) ValidateResponse(r *http.Request, body []byte, status int, header http.Header, respBody []byte) error {
	in, err := s.route(r, body)
	if err != nil {
		return err
	}
	op := in.Route.Operation
	if status < 400 && op.Responses.Status(status) == nil {
		return fmt.Errorf("%s: status %d is not declared by the operation", op.OperationID, status)
	}
	if header == nil {
		header = http.Header{}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Options:                in.Options,
	}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(r.Context(), out); err != nil {
		return fmt.Errorf("%s: response %d: %w", op.OperationID, status, err)
	}
	return nil
}

// route finds the operation for a copy of r reduced to its path and query, with body as its body.
func (s *Spec) route(r *http.Request, body []byte) (*openapi3filter.RequestValidationInput, error) {
	req := r.Clone(r.Context())
	req.URL = &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = nil
	req.ContentLength = int64(len(body))
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		var re *routers.RouteError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("no Face v1.2 operation for %s %s: %s", r.Method, r.URL.Path, re.Reason)
		}
		return nil, fmt.Errorf("route %s %s: %w", r.Method, r.URL.Path, err)
	}
	return &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options:    s.opts,
	}, nil
}

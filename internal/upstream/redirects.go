package upstream

import (
	"crypto/tls"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// NoRedirects returns a transport that hands a 3xx answer back to the pipeline instead of
// following it. Face and the quick link service never redirect an API call, and a followed
// redirect would resend what the request carries: net/http drops Authorization only when the
// host changes (not on a downgrade from https to http on the same host), and forwards every other
// header, the Face API key included, to any host. t nil means net/http's default transport with
// TLS 1.2 at least (as azcore's own default); an *http.Client is copied with redirects turned
// off; any other Transporter (a test's) is used as it is.
func NoRedirects(t policy.Transporter) policy.Transporter {
	refuse := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	switch c := t.(type) {
	case nil:
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		return &http.Client{Transport: tr, CheckRedirect: refuse}
	case *http.Client:
		cc := *c
		cc.CheckRedirect = refuse
		return &cc
	default:
		return t
	}
}

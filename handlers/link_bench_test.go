package handlers

import (
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/callbackurl"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/quicklink"
)

// BenchmarkLinkView is IssueLink's own work once the quick link service has answered: sign the
// callback URL, compose the link and, when asked, draw its QR code (linkView). No upstream call.
func BenchmarkLinkView(b *testing.B) {
	signer, err := callbackurl.NewSigner([][]byte{make([]byte, 32)})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv := New(Deps{Face: &countingFace{}, Store: &countingStore{}}, Settings{
		PublicBaseURL:     "https://fn-liveness.azurewebsites.net",
		QuickLinkEndpoint: "https://liveness.face.azure.com",
		Callbacks:         signer,
	}, &Options{Now: func() time.Time { return now }})
	id, err := quicklink.ParseAnswer([]byte(`{"url":"/?s=60c3980c-d9f6-4b16-a7f5-f1f4ad2b506f"}`))
	if err != nil {
		b.Fatal(err)
	}
	sess := &liveness.Session{ID: "b12e033e-bda7-4b83-a211-e721c661f30e", Kind: liveness.KindLiveness,
		Status: liveness.StatusCreated, TTLSeconds: 600, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	for _, qr := range []struct {
		name   string
		format qrFormat
	}{{"noQR", qrNone}, {"svg", qrSVG}, {"png", qrPNG}} {
		b.Run(qr.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := srv.linkView(sess, id, qr.format); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

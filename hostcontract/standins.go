package hostcontract

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/services"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// StandIns are the services the handler's app settings point at in tests: the Face stand-in
// (in process, over TLS), Azurite and the Service Bus stand-in. They stop when the test ends.
type StandIns struct {
	Face       *facestub.Server
	FaceURL    string
	APIKey     string
	SigningKey string // base64, as CALLBACK_SIGNING_KEYS holds it
	Tables     string // Azurite connection string
	ServiceBus *services.ServiceBus
	certFile   string
}

// AllowedReturnOrigin is the RETURN_URL_ALLOWED_ORIGINS of the stand-in settings.
const AllowedReturnOrigin = "https://app.example.com"

// StartStandIns starts the Face stand-in, Azurite and the Service Bus stand-in with fresh random
// secrets.
func StartStandIns(t testing.TB) *StandIns {
	t.Helper()
	s := &StandIns{APIKey: randomBase64(t, 24), SigningKey: randomBase64(t, 32)}
	s.Face = facestub.New(&facestub.Options{APIKey: s.APIKey})
	// TLS because the Face client sends its key only over https; the handler trusts the test
	// certificate through SSL_CERT_FILE, which Go's crypto/x509 reads on Linux.
	srv := httptest.NewTLSServer(s.Face)
	t.Cleanup(srv.Close)
	t.Cleanup(s.Face.Close) // releases requests a fault holds, before srv.Close waits for them
	s.FaceURL = srv.URL
	s.certFile = filepath.Join(t.TempDir(), "face-stub.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(s.certFile, certPEM, 0o600); err != nil {
		t.Fatalf("hostcontract: write the stand-in certificate: %v", err)
	}
	s.Tables = testenv.StartAzurite(t).ConnectionString()
	s.ServiceBus = testenv.StartServiceBus(t, services.ServiceBusOptions{})
	return s
}

// Settings are the app settings that point the handler at the stand-ins; publicBaseURL is the
// handler's own base URL.
func (s *StandIns) Settings(publicBaseURL string) []string {
	return []string{
		"FACE_ENDPOINT=" + s.FaceURL,
		"FACE_API_KEY=" + s.APIKey,
		"PUBLIC_BASE_URL=" + publicBaseURL,
		"CALLBACK_SIGNING_KEYS=" + s.SigningKey,
		"RETURN_URL_ALLOWED_ORIGINS=" + AllowedReturnOrigin,
		"TABLES_CONNECTION_STRING=" + s.Tables,
		"SERVICEBUS_CONNECTION_STRING=" + s.ServiceBus.ConnectionString(),
		"SSL_CERT_FILE=" + s.certFile,
		// The most verbose level gives a leaked secret the most chances to show.
		"LOG_LEVEL=debug",
	}
}

// Secrets are the values that must never reach the handler's output: the Face key, the signing
// key, the Service Bus connection string's key and every session auth token the stand-in issued
// so far.
func (s *StandIns) Secrets() map[string]string {
	out := map[string]string{"FACE_API_KEY": s.APIKey, "CALLBACK_SIGNING_KEYS": s.SigningKey}
	for _, part := range strings.Split(s.ServiceBus.ConnectionString(), ";") {
		if key, ok := strings.CutPrefix(part, "SharedAccessKey="); ok {
			out["SERVICEBUS_CONNECTION_STRING's SharedAccessKey"] = key
		}
	}
	if raw, err := base64.StdEncoding.DecodeString(s.SigningKey); err == nil {
		out["CALLBACK_SIGNING_KEYS (as base64url)"] = base64.RawURLEncoding.EncodeToString(raw)
		out["CALLBACK_SIGNING_KEYS (as hex)"] = hex.EncodeToString(raw)
	}
	for i, tok := range s.Face.IssuedTokens() {
		out[fmt.Sprintf("Face authToken #%d", i+1)] = tok
	}
	return out
}

// IssuedTokens are the session auth tokens the stand-in issued, in order.
func (s *StandIns) IssuedTokens() []string { return s.Face.IssuedTokens() }

func randomBase64(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("hostcontract: %v", err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

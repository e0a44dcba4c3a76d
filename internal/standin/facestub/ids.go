package facestub

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"
)

func (s *Server) random(n int) []byte {
	b := make([]byte, n)
	s.randMu.Lock()
	defer s.randMu.Unlock()
	if _, err := io.ReadFull(s.opts.Rand, b); err != nil {
		panic(fmt.Sprintf("facestub: read random bytes: %v", err)) // a broken Options.Rand is a test bug
	}
	return b
}

func (s *Server) uuid() string {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	id, err := uuid.NewRandomFromReader(s.opts.Rand)
	if err != nil {
		panic(fmt.Sprintf("facestub: read random bytes: %v", err))
	}
	return id.String()
}

// jwtHeader is {"alg":"ES256","typ":"JWT"}: tokens look like Face's ES256 JWTs but are opaque.
const jwtHeader = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9"

func (s *Server) token() string {
	enc := base64.RawURLEncoding
	return jwtHeader + "." + enc.EncodeToString(s.random(48)) + "." + enc.EncodeToString(s.random(64))
}

// hexID is an upper-case SHA-256-sized hex string, the shape of Face digests.
func (s *Server) hexID() string { return strings.ToUpper(hex.EncodeToString(s.random(32))) }

func (s *Server) imageID() string { return base64.RawURLEncoding.EncodeToString(s.random(33)) }

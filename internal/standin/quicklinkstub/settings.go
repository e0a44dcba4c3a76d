package quicklinkstub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ReturnMode is how a capture sends the browser back to callbackUrl.
type ReturnMode string

const (
	// ReturnGet answers the capture form with 303 See Other to callbackUrl.
	ReturnGet ReturnMode = "get"
	// ReturnPost answers with a page whose form, submitted by a script, POSTs to callbackUrl.
	ReturnPost ReturnMode = "post"
)

// Settings are the switches for what the real service does undocumented.
type Settings struct {
	// ReturnMode is get (the default when empty in Options) or post.
	ReturnMode ReturnMode `json:"returnMode"`
	// AppendParams adds sessionId=<Face session id>&result=<outcome>&timestamp=<unix seconds> to the
	// return (query parameters in get mode, hidden form fields in post mode): names the real service
	// might plausibly use, which the callback must ignore.
	AppendParams bool `json:"appendParams"`
}

func (st Settings) withDefaults() Settings {
	if st.ReturnMode == "" {
		st.ReturnMode = ReturnGet
	}
	return st
}

// ParseReturnMode reads a -quicklink-return flag or QUICKLINK_RETURN value: get or post.
func ParseReturnMode(v string) (ReturnMode, error) {
	switch m := ReturnMode(v); m {
	case ReturnGet, ReturnPost:
		return m, nil
	}
	return "", fmt.Errorf("return mode %q is not get or post", v)
}

// Settings returns the current switches.
func (s *Server) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings
}

// SetSettings replaces the switches for every capture from now on; an unknown ReturnMode is an
// error and changes nothing.
func (s *Server) SetSettings(st Settings) error {
	if _, err := ParseReturnMode(string(st.ReturnMode)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settings = st
	return nil
}

// controlRoutes serves the Go controls over HTTP for tests in other processes:
//
//	PUT /_quicklink/settings {"returnMode":"get"|"post","appendParams":bool} → 204; 400 on unknown
//	    fields, a missing field, trailing data or another mode
//	GET /_quicklink/settings → the same shape
//	GET /_quicklink/issued → {"linkIds":[...]} (IssuedLinkIDs)
func (s *Server) controlRoutes() {
	s.mux.HandleFunc("PUT /_quicklink/settings", func(w http.ResponseWriter, r *http.Request) {
		st, err := decodeSettings(http.MaxBytesReader(w, r.Body, 4<<10))
		if err == nil {
			err = s.SetSettings(st)
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "InvalidSettings", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /_quicklink/settings", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.Settings())
	})
	s.mux.HandleFunc("GET /_quicklink/issued", func(w http.ResponseWriter, _ *http.Request) {
		ids := s.IssuedLinkIDs()
		if ids == nil {
			ids = []string{}
		}
		writeJSON(w, struct {
			LinkIDs []string `json:"linkIds"`
		}{ids})
	})
}

// decodeSettings wants both fields and nothing else: a test control that silently kept a mistyped
// or missing switch would run the wrong suite.
func decodeSettings(body io.Reader) (Settings, error) {
	var in struct {
		ReturnMode   *ReturnMode `json:"returnMode"`
		AppendParams *bool       `json:"appendParams"`
	}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Settings{}, fmt.Errorf("settings body: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Settings{}, errors.New("settings body: data after the JSON object")
	}
	if in.ReturnMode == nil || in.AppendParams == nil {
		return Settings{}, errors.New(`settings body: both "returnMode" and "appendParams" are required`)
	}
	return Settings{ReturnMode: *in.ReturnMode, AppendParams: *in.AppendParams}, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

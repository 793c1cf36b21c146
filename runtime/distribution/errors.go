package distribution

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/plugdbg/plugdbg/errkind"
)

// classify gives a registry's answer its kind: a missing repository or
// manifest is NotFound, a refused login is Unauthenticated.
// It also words the registry's answer as a sentence (see readable).
func classify(err error) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	err = readable(err, te)
	switch te.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return errkind.Unauthenticated(err)
	case http.StatusNotFound:
		return errkind.NotFound(err)
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return errkind.Unauthenticated(err)
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
			return errkind.NotFound(err)
		}
	}
	return err
}

// readableError is err with te's part of the message in words.
type readableError struct {
	msg string
	err error
}

func (e *readableError) Error() string { return e.msg }
func (e *readableError) Unwrap() error { return e.err }

// readable rewords registry answer te, in err's chain, as docker words
// one, "manifest unknown: manifest unknown" with a detail, if any, in
// parentheses: "manifest unknown (Tag=1)" rather than go-containerregistry's
// "GET https://…/manifests/1: MANIFEST_UNKNOWN: manifest unknown;
// map[Tag:1]". The request is left out: err says what was being fetched.
// errors.As still finds te.
func readable(err error, te *transport.Error) error {
	if len(te.Errors) == 0 {
		return err // no diagnostic: the status says it all
	}
	parts := make([]string, 0, len(te.Errors))
	for _, d := range te.Errors {
		parts = append(parts, diagnosticText(d))
	}
	text := strings.Join(parts, "; ")
	msg := err.Error()
	if i := strings.LastIndex(msg, te.Error()); i >= 0 {
		msg = msg[:i] + text + msg[i+len(te.Error()):]
	} else {
		msg += " (" + text + ")"
	}
	return &readableError{msg: msg, err: err}
}

// maxDetail bounds the text of a diagnostic's detail, which the registry
// chooses.
const maxDetail = 200

// diagnosticText is "<code in words>: <message> (<detail>)", the message
// left out when it only repeats the code.
func diagnosticText(d transport.Diagnostic) string {
	code := strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " "))
	var b strings.Builder
	switch msg := strings.TrimSpace(d.Message); {
	case code == "":
		b.WriteString(msg)
	case msg == "" || strings.EqualFold(msg, code):
		b.WriteString(code)
	default:
		b.WriteString(code + ": " + msg)
	}
	if detail := detailText(d.Detail); detail != "" {
		if len(detail) > maxDetail {
			detail = strings.ToValidUTF8(detail[:maxDetail], "") + "…"
		}
		b.WriteString(" (" + detail + ")")
	}
	return b.String()
}

// detailText renders a diagnostic's detail: a JSON object as
// "key=value, …" in key order, a string as itself, anything else as JSON.
func detailText(detail any) string {
	switch v := detail.(type) {
	case nil:
		return ""
	case string:
		return v
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			val := v[k]
			if s, ok := val.(string); ok {
				parts = append(parts, k+"="+s)
			} else {
				parts = append(parts, k+"="+jsonText(val))
			}
		}
		return strings.Join(parts, ", ")
	}
	return jsonText(detail)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

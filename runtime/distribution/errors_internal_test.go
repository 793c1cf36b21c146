package distribution

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/stretchr/testify/assert"
)

func TestDiagnosticText(t *testing.T) {
	tests := []struct {
		name string
		d    transport.Diagnostic
		want string
	}{
		{name: "message repeats the code", d: transport.Diagnostic{Code: "MANIFEST_UNKNOWN", Message: "manifest unknown", Detail: map[string]any{"Tag": "1"}}, want: "manifest unknown (Tag=1)"},
		{name: "message of its own", d: transport.Diagnostic{Code: "UNAUTHORIZED", Message: "authentication required"}, want: "unauthorized: authentication required"},
		{name: "detail keys in order, values as JSON", d: transport.Diagnostic{Code: "DENIED", Message: "no", Detail: map[string]any{"b": 2.0, "a": []any{"x"}}}, want: `denied: no (a=["x"], b=2)`},
		{name: "string detail", d: transport.Diagnostic{Code: "NAME_UNKNOWN", Message: "repository name not known to registry", Detail: "p"}, want: "name unknown: repository name not known to registry (p)"},
		{name: "no code", d: transport.Diagnostic{Message: "odd"}, want: "odd"},
		{name: "long detail cut", d: transport.Diagnostic{Code: "UNKNOWN", Detail: strings.Repeat("é", 200)}, want: "unknown (" + strings.Repeat("é", 100) + "…)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, diagnosticText(tt.d))
		})
	}
}

// TestReadable: the registry's part of a wrapped error is reworded, the
// rest kept, and the chain still reaches the *transport.Error.
func TestReadable(t *testing.T) {
	te := &transport.Error{StatusCode: 404, Errors: []transport.Diagnostic{
		{Code: "MANIFEST_UNKNOWN", Message: "manifest unknown", Detail: map[string]any{"Tag": "1"}},
		{Code: "NAME_UNKNOWN", Message: "repository name not known to registry"},
	}}
	err := classify(fmt.Errorf("fetch manifest of r/p:1: %w", te))
	assert.Equal(t, "fetch manifest of r/p:1: manifest unknown (Tag=1); name unknown: repository name not known to registry", err.Error())
	var got *transport.Error
	assert.ErrorAs(t, err, &got)

	bare := &transport.Error{StatusCode: 502}
	err = classify(fmt.Errorf("x: %w", bare))
	assert.Equal(t, "x: "+bare.Error(), err.Error(), "no diagnostic: as it was")
}

package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewID()
		require.True(t, IsID(id), "NewID() = %q", id)
		assert.NotEqual(t, "", strings.Trim(ShortID(id), "0123456789"), "short ID %q is all digits", ShortID(id))
		assert.False(t, seen[id], "duplicate ID %q", id)
		seen[id] = true
	}
}

func TestIsID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"full", strings.Repeat("0123456789abcdef", 4), true},
		{"upper case", strings.Repeat("0123456789ABCDEF", 4), false},
		{"short", strings.Repeat("a", 63), false},
		{"long", strings.Repeat("a", 65), false},
		{"not hex", strings.Repeat("g", 64), false},
		{"empty", "", false},
		{"name", "vieux/sshfs:latest", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, IsID(tt.in))
		})
	}
}

func TestShortID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"full", strings.Repeat("0123456789abcdef", 4), "0123456789ab"},
		{"exactly 12", "0123456789ab", "0123456789ab"},
		{"shorter", "abc", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ShortID(tt.in))
		})
	}
}

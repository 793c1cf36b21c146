package api

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLoginHost(t *testing.T) {
	tests := []struct {
		name, addr, want string
	}{
		{name: "docker login's Docker Hub key", addr: "https://index.docker.io/v1/", want: "index.docker.io"},
		{name: "none: Docker Hub", addr: "", want: "index.docker.io"},
		{name: "docker.io", addr: "docker.io", want: "index.docker.io"},
		{name: "host and port", addr: "localhost:5000", want: "localhost:5000"},
		{name: "a URL with a path", addr: "http://reg.example:5000/v2/", want: "reg.example:5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, loginHost(tt.addr))
		})
	}
}

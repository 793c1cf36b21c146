package distribution_test

import (
	"testing"

	"github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/internal/testregistry"
)

// TestRegistryErrorSentence: a registry's error with a detail reads as a
// sentence, as docker words it, and keeps its kind.
func TestRegistryErrorSentence(t *testing.T) {
	host, _ := testregistry.Start(t, testregistry.DetailedErrors)
	g := newRegistry()
	_, _, err := pull(t, g, host+"/p:1", noAuth)
	require.Error(t, err)
	assert.Equal(t, "fetch manifest of "+host+"/p:1: manifest unknown (Tag=1)", err.Error())
	assert.True(t, errdefs.IsNotFound(err), "%v", err)

	assert.NotContains(t, err.Error(), "map[")
}

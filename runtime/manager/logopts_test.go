package manager

import (
	"context"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSetLogOpts(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	opts := func() map[string]string {
		p, err := m.Inspect("fake")
		require.NoError(t, err)
		return p.LogConfig.Config
	}
	assert.Equal(t, map[string]string{"max-size": "10m", "max-file": "5"}, opts())

	require.NoError(t, m.SetLogOpts("fake", map[string]string{"max-size": "1m"}))
	require.NoError(t, m.SetLogOpts("fake", map[string]string{"max-file": "2"}))
	assert.Equal(t, map[string]string{"max-size": "1m", "max-file": "2"}, opts(), "merged")

	for _, bad := range []map[string]string{{"max-size": "x"}, {"max-file": "-3"}, {"color": "red"}, {}} {
		err := m.SetLogOpts("fake", bad)
		assert.True(t, errdefs.IsInvalidArgument(err), "%v: %v", bad, err)
	}
	assert.Equal(t, map[string]string{"max-size": "1m", "max-file": "2"}, opts(), "refused opts change nothing")
	stored, err := m.store.Opts(id)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"max-size": "1m", "max-file": "2"}, stored.LogOpts)

	require.NoError(t, m.SetLogOpts("fake", map[string]string{"max-size": ""}))
	assert.Equal(t, map[string]string{"max-size": "10m", "max-file": "2"}, opts(), "an empty value restores the default")
	assert.True(t, errdefs.IsNotFound(m.SetLogOpts("nope", map[string]string{"max-file": "2"})))
}

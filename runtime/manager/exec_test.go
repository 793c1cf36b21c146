package manager

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/runtime/execproto"
	"github.com/plugdbg/plugdbg/runtime/spec"
)

func TestExecRefusesPluginsThatDoNotRun(t *testing.T) {
	m, x := newTestManager(t)
	ctx := context.Background()
	_, err := m.Create(ctx, "p", buildContext(t, fakeConfig))
	require.NoError(t, err)

	_, err = m.Exec("nosuch", execproto.Config{Cmd: []string{"sh"}})
	assert.True(t, IsNotFound(err), "unknown plugin: %v", err)

	_, err = m.Exec("p", execproto.Config{Cmd: []string{"sh"}})
	assert.True(t, IsConflict(err), "disabled plugin: %v", err)
	assert.ErrorContains(t, err, "disabled")

	_, err = m.Top("p")
	assert.True(t, IsConflict(err), "top of a disabled plugin: %v", err)
	_, err = m.Stats("p")
	assert.True(t, IsConflict(err), "stats of a disabled plugin: %v", err)

	_, err = m.Exec("p", execproto.Config{})
	assert.True(t, IsInvalid(err), "no command: %v", err)
	assert.Empty(t, x.execs, "nothing reached the executor")
}

func TestExecGetsThePluginsEnvironment(t *testing.T) {
	m, x := newTestManager(t)
	ctx := context.Background()
	id, err := m.Create(ctx, "p", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Set("p", []string{"DEBUG=1"}))
	require.NoError(t, m.Enable(ctx, "p", 10*time.Second))

	c := execproto.Config{Cmd: []string{"sh", "-c", "env"}, Env: []string{"X=1"}, Tty: true}
	_, err = m.Exec("p", c)
	var se *execproto.StartError
	require.True(t, errors.As(err, &se), "the fake's start error comes back unchanged: %v", err)
	assert.Equal(t, 127, se.ExitCode)

	x.mu.Lock()
	defer x.mu.Unlock()
	require.Len(t, x.execs, 1)
	got := x.execs[0]
	assert.Equal(t, id, got.id)
	assert.Equal(t, c, got.c)
	assert.Equal(t, []string{spec.DefaultPath, "DEBUG=1"}, got.base.Env)
	assert.Equal(t, "/", got.base.Cwd)
}

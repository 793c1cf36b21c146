package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/probe"
	"github.com/plugdbg/plugdbg/runtime/trace"
)

func socketInode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestTrace traces the volume plugin while a concurrent client calls it
// through the usual socket path: every call is answered as without the
// trace and recorded once, published as an event, and stopping the trace
// puts the plugin's own socket back without restarting it.
func TestTrace(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	before := d.enable(t, "vol")
	sock := before.State.Socket
	orig := socketInode(t, sock)
	evs := d.events(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, plugdbgBin, "trace", "--json", "vol")
	cmd.Env = append(os.Environ(), "PLUGDBG_HOST="+d.host)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	recs := make(chan trace.Record, 1024)
	go func() {
		defer close(recs)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r trace.Record
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				recs <- r
			}
		}
	}()
	eventually(t, func() bool {
		_, err := os.Lstat(trace.AsidePath(sock))
		return err == nil && socketInode(t, sock) != orig
	}, waitTimeout, "the proxy takes the socket's place; trace stderr: %s", &stderr)

	const clients, perClient = 4, 25
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			pc := probe.New(sock)
			defer pc.Close()
			for i := range perClient {
				name := fmt.Sprintf("t%d-%d", c, i)
				assert.NoError(t, pc.Call(testCtx(t), "VolumeDriver.Create", map[string]string{"Name": name}, nil))
				var got struct {
					Volume struct{ Name, Mountpoint string }
				}
				assert.NoError(t, pc.Call(testCtx(t), "VolumeDriver.Get", map[string]string{"Name": name}, &got))
				assert.Equal(t, name, got.Volume.Name)
				assert.Equal(t, "/data/"+name, got.Volume.Mountpoint)
			}
		})
	}
	wg.Wait()
	// A failing call is recorded with its Err.
	pc := probe.New(sock)
	err = pc.Call(testCtx(t), "VolumeDriver.Get", map[string]string{"Name": "nope"}, nil)
	pc.Close()
	require.Error(t, err)

	want := clients*perClient*2 + 1
	seen := map[string]int{}
	var failed trace.Record
	deadline := time.After(waitTimeout)
	for n := 0; n < want; n++ {
		select {
		case r := <-recs:
			seen[r.Method+" "+r.Request]++
			if r.Status != 200 {
				failed = r
			}
		case <-deadline:
			t.Fatalf("got %d of %d trace records", n, want)
		}
	}
	for c := range clients {
		for i := range perClient {
			name := fmt.Sprintf("t%d-%d", c, i)
			body := fmt.Sprintf("{\"Name\":%q}\n", name)
			assert.Equal(t, 1, seen["VolumeDriver.Create "+body], "Create %s", name)
			assert.Equal(t, 1, seen["VolumeDriver.Get "+body], "Get %s", name)
		}
	}
	assert.Equal(t, "VolumeDriver.Get", failed.Method)
	assert.Equal(t, 500, failed.Status)
	assert.Equal(t, "no such volume: nope", failed.Err)

	calls := 0
	timeout := time.After(waitTimeout)
	for calls < want {
		select {
		case ev := <-evs:
			if ev.Action == events.Action("call") && ev.Actor.ID == before.ID {
				calls++
				assert.NotEmpty(t, ev.Actor.Attributes["method"])
			}
		case <-timeout:
			t.Fatalf("got %d of %d call events", calls, want)
		}
	}

	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	_ = cmd.Wait()
	eventually(t, func() bool {
		_, err := os.Lstat(trace.AsidePath(sock))
		return os.IsNotExist(err) && socketInode(t, sock) == orig
	}, waitTimeout, "the plugin's socket is back, the proxy's gone")
	assert.Contains(t, volumeNames(t, sock), "t3-24", "calls go straight to the plugin")
	after := d.inspect(t, "vol")
	assert.Equal(t, before.State.Pid, after.State.Pid, "no restart")
	assert.Equal(t, before.State.RestartCount, after.State.RestartCount)

	stdout, errOut, code := d.cli(t, "trace", "nosuch")
	assert.Equal(t, 1, code, stdout)
	assert.Contains(t, errOut, "nosuch")
}

// TestTraceDaemonStop: a daemon stopped while a trace runs puts the
// plugin's socket back before it exits.
func TestTraceDaemonStop(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	sock := d.enable(t, "vol").State.Socket
	orig := socketInode(t, sock)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, plugdbgBin, "trace", "vol")
	cmd.Env = append(os.Environ(), "PLUGDBG_HOST="+d.host)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	eventually(t, func() bool { return socketInode(t, sock) != orig }, waitTimeout, "the proxy takes the socket's place")

	d.stop()
	assert.Equal(t, orig, socketInode(t, sock), "the plugin's socket is back once the daemon has exited")
	_, err := os.Lstat(trace.AsidePath(sock))
	assert.True(t, os.IsNotExist(err))
	assert.NotNil(t, volumeNames(t, sock), "the plugin answers on its socket")
}

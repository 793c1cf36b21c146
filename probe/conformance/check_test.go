package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/volume"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/probe"
	"github.com/plugdbg/plugdbg/probe/conformance"
	"github.com/plugdbg/plugdbg/probe/internal/plugintest"
)

// sloppyVolumes breaks the rules a real plugin most often breaks: a null
// Volume without Err for a missing volume, relative mountpoints, a List
// that misses volumes.
type sloppyVolumes struct{ *plugintest.MemVolumes }

func (d sloppyVolumes) Get(r *volume.GetRequest) (*volume.GetResponse, error) {
	res, err := d.MemVolumes.Get(r)
	if err != nil {
		return &volume.GetResponse{}, nil
	}
	return res, nil
}

func (d sloppyVolumes) Mount(r *volume.MountRequest) (*volume.MountResponse, error) {
	return &volume.MountResponse{Mountpoint: "data/" + r.Name}, nil
}

func (d sloppyVolumes) List() (*volume.ListResponse, error) {
	return &volume.ListResponse{}, nil
}

// byStep indexes a report's results by "Method/Step".
func byStep(rep *conformance.Report) map[string]conformance.Result {
	m := map[string]conformance.Result{}
	for _, r := range rep.Results {
		m[r.Method+"/"+r.Step] = r
	}
	return m
}

func TestCheckConformingVolume(t *testing.T) {
	sock, d := plugintest.VolumePlugin(t)
	c := probe.New(sock)
	defer c.Close()
	rep, err := conformance.Check(context.Background(), c, conformance.Options{})
	require.NoError(t, err)
	for _, r := range rep.Results {
		assert.Contains(t, []conformance.Status{conformance.Pass}, r.Status, "%s %s: %s", r.Method, r.Step, r.Reason)
	}
	assert.True(t, rep.OK(true))
	assert.Equal(t, []string{"VolumeDriver"}, rep.Implements)
	steps := byStep(rep)
	for _, s := range []string{
		"VolumeDriver.Create/Create", "VolumeDriver.Get/Get", "VolumeDriver.List/List",
		"VolumeDriver.Mount/Mount", "VolumeDriver.Mount/Mount with a second ID", "VolumeDriver.Path/Path while mounted",
		"VolumeDriver.Unmount/Unmount", "VolumeDriver.Remove/Remove", "VolumeDriver.Get/Get of a missing volume",
		"VolumeDriver.Capabilities/Capabilities",
	} {
		assert.Contains(t, steps, s)
	}
	assert.Contains(t, steps["VolumeDriver.Get/Get of a missing volume"].Reason, "no such volume")
	assert.Empty(t, d.Volumes(), "check removes what it created")
}

func TestCheckSloppyVolume(t *testing.T) {
	d := plugintest.NewMemVolumes()
	sock := plugintest.Serve(t, volume.NewHandler(sloppyVolumes{d}))
	c := probe.New(sock)
	defer c.Close()
	rep, err := conformance.Check(context.Background(), c, conformance.Options{})
	require.NoError(t, err)
	assert.False(t, rep.OK(false))
	steps := byStep(rep)
	tests := []struct {
		step   string
		status conformance.Status
		reason string
	}{
		{"VolumeDriver.Get/Get of a missing volume", conformance.Fail, "must answer Err"},
		{"VolumeDriver.Get/Get after Remove", conformance.Fail, "must answer Err"},
		{"VolumeDriver.Mount/Mount", conformance.Warn, `Mountpoint: "data/`},
		{"VolumeDriver.List/List", conformance.Fail, "does not list"},
		{"VolumeDriver.Create/Create", conformance.Pass, ""},
	}
	for _, tt := range tests {
		r, ok := steps[tt.step]
		require.True(t, ok, tt.step)
		assert.Equal(t, tt.status, r.Status, "%s: %s", tt.step, r.Reason)
		assert.Contains(t, r.Reason, tt.reason)
	}
	assert.Empty(t, d.Volumes(), "check removes what it created, also when steps fail")
}

func TestRunCheckOutputs(t *testing.T) {
	d := plugintest.NewMemVolumes()
	sock := plugintest.Serve(t, volume.NewHandler(sloppyVolumes{d}))
	junit := filepath.Join(t.TempDir(), "report.xml")

	var out bytes.Buffer
	err := conformance.Run(context.Background(), conformance.RunOptions{Socket: sock, JUnit: junit}, &out)
	require.Error(t, err)
	var failed *conformance.Failed
	require.ErrorAs(t, err, &failed)
	assert.Positive(t, failed.Fail)
	assert.Regexp(t, `(?m)^VolumeDriver$`, out.String())
	assert.Regexp(t, `(?m)^  FAIL +Get of a missing volume +VolumeDriver.Get .*must answer Err`, out.String())
	assert.Regexp(t, `(?m)^\d+ passed, [1-9]\d* failed, [1-9]\d* warnings, \d+ skipped$`, out.String())

	data, err := os.ReadFile(junit)
	require.NoError(t, err)
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Type string `xml:"type,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(data, &suites))
	require.Len(t, suites.Suites, 2)
	assert.Equal(t, "Plugin", suites.Suites[0].Name)
	assert.Equal(t, "VolumeDriver", suites.Suites[1].Name)
	assert.Positive(t, suites.Failures)

	out.Reset()
	err = conformance.Run(context.Background(), conformance.RunOptions{Socket: sock, JSON: true}, &out)
	require.Error(t, err)
	var rep conformance.Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	assert.Positive(t, rep.Fail)
	assert.Equal(t, rep.Pass+rep.Fail+rep.Warn+rep.Skip, len(rep.Results))
}

func TestCheckNoActivate(t *testing.T) {
	sock := plugintest.ServeHTTP(t, http.NotFoundHandler())
	var out bytes.Buffer
	err := conformance.Run(context.Background(), conformance.RunOptions{Socket: sock}, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--interface")
	assert.True(t, strings.Contains(out.String(), "FAIL"), out.String())
}

// relativeMounts answers every call as a conforming plugin does, but with
// relative mountpoints: warnings, and no failure.
type relativeMounts struct{ *plugintest.MemVolumes }

func (d relativeMounts) Mount(r *volume.MountRequest) (*volume.MountResponse, error) {
	if _, err := d.MemVolumes.Mount(r); err != nil {
		return nil, err
	}
	return &volume.MountResponse{Mountpoint: "data/" + r.Name}, nil
}

func (d relativeMounts) Path(r *volume.PathRequest) (*volume.PathResponse, error) {
	res, err := d.MemVolumes.Path(r)
	if err != nil || res.Mountpoint == "" {
		return res, err
	}
	return &volume.PathResponse{Mountpoint: "data/" + r.Name}, nil
}

// TestRunWarningsOnly: warnings alone pass a run, as a linter's do, and
// fail it under Strict.
func TestRunWarningsOnly(t *testing.T) {
	sock := plugintest.Serve(t, volume.NewHandler(relativeMounts{plugintest.NewMemVolumes()}))
	tests := []struct {
		name   string
		strict bool
	}{
		{name: "warnings pass", strict: false},
		{name: "--strict fails on warnings", strict: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := conformance.Run(context.Background(), conformance.RunOptions{Socket: sock, Strict: tt.strict}, &out)
			assert.Regexp(t, `(?m)^  WARN +Mount +VolumeDriver.Mount .*is not an absolute path`, out.String())
			assert.Regexp(t, `(?m)^\d+ passed, 0 failed, [1-9]\d* warnings, \d+ skipped$`, out.String())
			if !tt.strict {
				assert.NoError(t, err)
				return
			}
			var failed *conformance.Failed
			require.ErrorAs(t, err, &failed)
			assert.Zero(t, failed.Fail)
			assert.Positive(t, failed.Warn)
			assert.Contains(t, err.Error(), "(--strict)")
		})
	}
}

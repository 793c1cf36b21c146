package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/internal/testregistry"
)

// streamLines decodes a JSON progress stream.
func streamLines(t *testing.T, body []byte) []jsonstream.Message {
	t.Helper()
	var out []jsonstream.Message
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var m jsonstream.Message
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "stream line %q", sc.Text())
		out = append(out, m)
	}
	return out
}

func statuses(ms []jsonstream.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Status)
	}
	return out
}

// TestRegistryRoutes checks the Engine API's registry endpoints of the
// plugin subset: their query names, bodies, headers and streams.
func TestRegistryRoutes(t *testing.T) {
	host, reg := testregistry.Start(t, nil)
	s := newTestServer(t)
	ref := host + "/api/p:1"
	s.create(t, ref)

	status, hdr, body := s.do(t, http.MethodPost, "/v1.41/plugins/"+ref+"/push", nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Equal(t, "application/json", hdr.Get("Content-Type"))
	msgs := streamLines(t, body)
	assert.Equal(t, "The push refers to repository ["+host+"/api/p]", msgs[0].Status)
	last := msgs[len(msgs)-1]
	require.NotNil(t, last.Aux, "push ends with an aux message: %s", body)
	var aux struct {
		Tag, Digest string
		Size        int
	}
	require.NoError(t, json.Unmarshal(*last.Aux, &aux))
	assert.Equal(t, "1", aux.Tag)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, aux.Digest)
	assert.Positive(t, aux.Size)
	status, _, body = s.do(t, http.MethodDelete, "/plugins/"+ref, nil)
	require.Equal(t, http.StatusOK, status, "%s", body)

	q := url.Values{"remote": {ref}}.Encode()
	status, _, body = s.do(t, http.MethodGet, "/plugins/privileges?"+q, nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.JSONEq(t, `[]`, string(body), "no privileges is [], not null")

	missing := url.Values{"remote": {host + "/api/missing"}}.Encode()
	status, _, body = s.do(t, http.MethodGet, "/plugins/privileges?"+missing, nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, errorMessage(t, body), "name unknown")
	status, _, body = s.do(t, http.MethodGet, "/plugins/privileges?remote=UPPER", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, errorMessage(t, body), "invalid reference")

	// Privileges that are not the plugin's: refused before any progress,
	// so as a plain HTTP error.
	wrong, _ := json.Marshal(plugin.Privileges{{Name: "network", Value: []string{"host"}}})
	status, _, body = s.do(t, http.MethodPost, "/plugins/pull?"+q, bytes.NewReader(wrong))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, errorMessage(t, body), "incorrect privileges")
	status, _, body = s.do(t, http.MethodPost, "/plugins/pull?"+q, strings.NewReader("{"))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, errorMessage(t, body), "invalid body")

	pull := url.Values{"remote": {ref}, "name": {"local"}}.Encode()
	status, hdr, body = s.do(t, http.MethodPost, "/plugins/pull?"+pull, strings.NewReader("[]"))
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Equal(t, "local:latest", hdr.Get("Docker-Plugin-Name"))
	msgs = streamLines(t, body)
	assert.Equal(t, "Pulling from "+host+"/api/p", msgs[0].Status)
	assert.Equal(t, "1", msgs[0].ID)
	assert.Contains(t, statuses(msgs), "Download complete")
	assert.Contains(t, statuses(msgs), "Pull complete")
	for _, m := range msgs {
		assert.Nil(t, m.Error, "no error in the stream: %s", body)
	}
	p := s.inspect(t, "local")
	assert.Equal(t, ref, p.PluginReference)
	assert.False(t, p.Enabled)

	status, _, body = s.do(t, http.MethodPost, "/plugins/pull?"+pull, strings.NewReader("[]"))
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, "plugin local:latest already exists", errorMessage(t, body))

	up := url.Values{"remote": {host + "/api/missing:1"}}.Encode()
	status, _, body = s.do(t, http.MethodPost, "/plugins/local/upgrade?"+up, strings.NewReader("[]"))
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, errorMessage(t, body), "name unknown")
	status, hdr, body = s.do(t, http.MethodPost, "/plugins/local/upgrade?"+q, strings.NewReader("[]"))
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Equal(t, "local", hdr.Get("Docker-Plugin-Name"))
	assert.Contains(t, statuses(streamLines(t, body)), "Pull complete")
	status, _, body = s.do(t, http.MethodPost, "/plugins/nope/upgrade?"+q, strings.NewReader("[]"))
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, `plugin "nope" not found`, errorMessage(t, body))

	// A registry error after progress started ends the stream with an
	// error message (errorDetail and error, as dockerd writes them).
	s.create(t, host+"/api/q:1")
	reg.Close()
	status, _, body = s.do(t, http.MethodPost, "/plugins/"+host+"/api/q:1/push", nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	msgs = streamLines(t, body)
	last = msgs[len(msgs)-1]
	require.NotNil(t, last.Error, "%s", body)
	assert.Contains(t, last.Error.Message, "connection refused")
	var raw map[string]any
	lines := bytes.Split(bytes.TrimSpace(body), []byte("\n"))
	require.NoError(t, json.Unmarshal(lines[len(lines)-1], &raw))
	assert.Equal(t, last.Error.Message, raw["error"])
}

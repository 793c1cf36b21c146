package daemon

import (
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckMetricsAddr(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:9323", "[::1]:9323", "localhost:0", ":9323", "0.0.0.0:9323"} {
		assert.NoError(t, checkMetricsAddr(ok), ok)
	}
	for _, bad := range []string{"9323", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", "127.0.0.1:-1", "127.0.0.1:+80"} {
		err := checkMetricsAddr(bad)
		if assert.Error(t, err, bad) {
			assert.Contains(t, err.Error(), "invalid --metrics-addr")
			assert.Contains(t, err.Error(), "want HOST:PORT")
		}
	}
}

// logged is a logger whose output a test reads.
func logged() (*logrus.Logger, *strings.Builder) {
	var b strings.Builder
	l := logrus.New()
	l.SetOutput(&b)
	return l, &b
}

// TestStartMetrics serves metrics on a free loopback port, says where, and
// stops; an address in use is an error the daemon reports and runs on.
func TestStartMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	log, out := logged()
	stop, err := startMetrics("127.0.0.1:0", reg, log)
	require.NoError(t, err)
	line := out.String()
	url := regexp.MustCompile(`Prometheus metrics on (http://127\.0\.0\.1:[0-9]+/metrics)`).FindStringSubmatch(line)
	require.NotNil(t, url, "the bound address is logged: %s", line)
	assert.NotContains(t, line, "not a loopback address")

	resp, err := http.Get(url[1])
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "go_goroutines")

	// The port is taken now.
	addr := strings.TrimSuffix(strings.TrimPrefix(url[1], "http://"), "/metrics")
	_, err = startMetrics(addr, reg, log)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "metrics: listen tcp "+addr)

	stop()
	_, err = http.Get(url[1])
	assert.Error(t, err, "stopped")
}

// TestExposed: only loopback addresses are not exposed; every interface
// (0.0.0.0, ::) is.
func TestExposed(t *testing.T) {
	tests := []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", false},
		{"127.1.2.3", false},
		{"::1", false},
		{"0.0.0.0", true},
		{"::", true},
		{"192.0.2.7", true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, exposed(&net.TCPAddr{IP: net.ParseIP(tt.ip), Port: 9323}), tt.ip)
	}
}

package probe

// metricsCollector is the metrics interface: two calls whose answers
// dockerd ignores.
func metricsCollector() interfaceSpec {
	return interfaceSpec{
		iface: &Interface{
			Name: "MetricsCollector", Implements: "MetricsCollector", Type: "docker.metricscollector/1.0",
			Doc: "Scrapers of dockerd's metrics socket (/run/docker/metrics.sock in the plugin); answers are ignored",
		},
		errField: "",
		methods: []methodSpec{
			{name: "StartMetrics", doc: "Sent after each enable", resp: empty{}, exResp: `{}`},
			{name: "StopMetrics", doc: "Sent at daemon shutdown", resp: empty{}, exResp: `{}`},
		},
	}
}

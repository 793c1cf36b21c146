package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/cli/format"
)

func TestPrintStatsCallColumns(t *testing.T) {
	base := types.StatsReport{ID: "0123456789abcdef", Name: "vol:latest", Stats: types.Stats{MemoryUsage: 1 << 20, MemoryLimit: 1 << 30, PidsCurrent: 3}}
	for _, tt := range []struct {
		name      string
		calls     *types.CallRates
		rate, p99 string
	}{
		{"not observed", nil, "--", "--"},
		{"no call", &types.CallRates{Seconds: 1}, "0.0", "--"},
		{"fast", &types.CallRates{Seconds: 1, Calls: 120, PerSecond: 120, P99: 0.000082}, "120.0", "0.082ms"},
		{"ms", &types.CallRates{Seconds: 0.5, Calls: 3, PerSecond: 6, P99: 0.0042}, "6.0", "4.2ms"},
		{"hundreds of ms", &types.CallRates{Seconds: 1, Calls: 1, PerSecond: 1, P99: 0.25}, "1.0", "250ms"},
		{"seconds", &types.CallRates{Seconds: 1, Calls: 1, PerSecond: 1, P99: 1.5}, "1.0", "1.50s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			r.Calls = tt.calls
			var out bytes.Buffer
			tmpl, err := format.Parse(defaultStatsFormat)
			require.NoError(t, err)
			require.NoError(t, printStats(&out, tmpl, []types.StatsReport{r}))
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			require.Len(t, lines, 2)
			assert.Regexp(t, `^ID\s+NAME\s+CPU %\s+MEM USAGE / LIMIT\s+MEM %\s+PIDS\s+CALLS/S\s+P99$`, lines[0])
			f := strings.Fields(lines[1])
			assert.Equal(t, "0123456789ab", f[0])
			assert.Equal(t, []string{"3", tt.rate, tt.p99}, f[len(f)-3:])
		})
	}
}

func TestPrintStatsFormat(t *testing.T) {
	r := types.StatsReport{ID: "0123456789abcdef", Name: "vol:latest", CPUPercent: 1.5,
		Stats: types.Stats{MemoryUsage: 1 << 20, MemoryLimit: 1 << 30, PidsCurrent: 3}}
	for _, tt := range []struct{ format, want string }{
		{"{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}", "vol:latest 1.50% 1MiB / 1GiB 3\n"},
		{"{{.Name}} {{.MemoryUsage}} {{.CPUPercent}}", "vol:latest 1048576 1.5\n"}, // the sample's JSON fields
		{`table {{.Name}}\t{{.PIDs}}`, "NAME         PIDS\nvol:latest   3\n"},
		{"json", `{"CPUPerc":"1.50%","Calls":"--","ID":"0123456789ab","MemPerc":"0.10%","MemUsage":"1MiB / 1GiB","Name":"vol:latest","P99":"--","PIDs":"3"}` + "\n"},
	} {
		tmpl, err := format.Parse(format.Default(tt.format, defaultStatsFormat))
		require.NoError(t, err)
		var out bytes.Buffer
		require.NoError(t, printStats(&out, tmpl, []types.StatsReport{r}))
		assert.Equal(t, tt.want, out.String(), tt.format)
	}
}

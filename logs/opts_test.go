package logs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseOpts(t *testing.T) {
	base := Limits{MaxSize: DefaultMaxSize, MaxFiles: DefaultMaxFiles}
	tests := []struct {
		name    string
		opts    map[string]string
		want    Limits
		wantErr string
	}{
		{"none", nil, base, ""},
		{"size with unit", map[string]string{"max-size": "20m"}, Limits{20 << 20, 5}, ""},
		{"size in bytes", map[string]string{"max-size": "4096"}, Limits{4096, 5}, ""},
		{"size k", map[string]string{"max-size": "64k"}, Limits{64 << 10, 5}, ""},
		{"no rotation", map[string]string{"max-size": "-1"}, Limits{-1, 5}, ""},
		{"files", map[string]string{"max-file": "2"}, Limits{DefaultMaxSize, 2}, ""},
		{"both", map[string]string{"max-size": "1g", "max-file": "1"}, Limits{1 << 30, 1}, ""},
		{"empty resets", map[string]string{"max-size": "", "max-file": ""}, base, ""},
		{"bad size", map[string]string{"max-size": "lots"}, base, `invalid log opt max-size="lots"`},
		{"zero size", map[string]string{"max-size": "0"}, base, `invalid log opt max-size="0"`},
		{"bad files", map[string]string{"max-file": "0"}, base, `invalid log opt max-file="0"`},
		{"unknown", map[string]string{"max-sise": "1m"}, base, `unknown log opt "max-sise"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOpts(base, tt.opts)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Equal(t, base, got, "an error changes nothing")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestLimitsOptsRoundTrip(t *testing.T) {
	base := Limits{MaxSize: DefaultMaxSize, MaxFiles: DefaultMaxFiles}
	for _, l := range []Limits{base, {1 << 30, 1}, {64 << 10, 3}, {1000, 2}, {-1, 9}} {
		got, err := ParseOpts(base, l.Opts())
		require.NoError(t, err)
		assert.Equal(t, l, got)
	}
	assert.Equal(t, map[string]string{"max-size": "10m", "max-file": "5"}, base.Opts())
}

func TestSplitOpts(t *testing.T) {
	got, err := SplitOpts([]string{"max-size=1m", "max-file=", "a=b=c"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"max-size": "1m", "max-file": "", "a": "b=c"}, got)
	_, err = SplitOpts([]string{"max-size"})
	assert.ErrorContains(t, err, `invalid log opt "max-size": want KEY=VALUE`)
}

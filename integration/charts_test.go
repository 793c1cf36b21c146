package integration

import (
	"fmt"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/webui"
)

// TestChartsBrowser: the web UI's charts of an observed plugin, in a real
// browser on a real daemon. After N calls to the plugin's socket, the
// page's calls/s chart of the method holds them all (the sum over the
// window of calls/s × step is N), some point is above zero, the log
// lines/s chart has the lines the calls wrote, and the canvas shows the
// method's line off the chart's floor.
func TestChartsBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser test skipped: %s is not installed (scripts/deps.sh test installs the chromium package)", chromiumPath)
	}
	require.True(t, webui.Built(), "the web UI bundle is not built: run `make webui` (needs node) before this test")
	require.NoError(t, os.MkdirAll(webuiArtifacts, 0o755))

	d, addr, token := startUIDaemon(t)
	p := d.create(t, "chartecho", "echo")
	d.ok(t, "observe", p.Name)
	p = d.enable(t, p.Name)

	b := newBrowser(t, addr, "charts-failed.png", nil)
	ctx, waitJS := b.ctx, b.waitJS
	row := fmt.Sprintf(`#plugins tbody tr[data-name=%q]`, p.Name)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(webui.URL(addr, token)),
		chromedp.WaitVisible(chromedp.CSS(row+` td.state.running`)),
	))
	waitJS(`window.plugdbg.connected`, "websocket connected")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(row+` td.name`)),
		chromedp.Click(chromedp.CSS(`#tabs button[data-tab=charts]`)),
		chromedp.WaitVisible(chromedp.CSS(`#tab-charts`)),
	))
	charts := `window.plugdbg.charts`
	waitJS(charts+`.plugin === `+jsString(p.Name)+` && `+charts+`.windows > 0`, "the plugin's series window in the page")
	// A point means the daemon has sampled the plugin's counters once
	// before: every call from now on is in a later point.
	waitJS(charts+`.times.length > 0`, "a first point of the plugin")

	const n = 30
	for i := range n {
		echoWrite(t, p.State.Socket, "stdout", fmt.Sprintf("chart line %d\n", i))
	}
	// What the calls plot draws: its data, the series of Echo.Write's
	// calls, summed over the window as counts (calls/s × step).
	plot := charts + `.plots.calls`
	col := `(() => { const u = ` + plot + `; if (!u) return null; const i = u.series.findIndex(s => s.label === 'Echo.Write calls'); return i > 0 ? u.data[i] : null; })()`
	sum := `((c) => c ? Math.round(c.reduce((a, v) => a + (v ?? 0), 0) * ` + charts + `.step) : -1)(` + col + `)`
	waitJS(sum+` === `+fmt.Sprint(n), fmt.Sprintf("the %d calls of Echo.Write in the calls/s chart", n))

	peak, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Math.max(...`+col+`)`))
	require.NoError(t, err)
	assert.Positive(t, peak, "calls/s above zero at some point")
	cols, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](plot+`.data.map(c => c.length)`))
	require.NoError(t, err)
	require.NotEmpty(t, cols)
	assert.Positive(t, cols[0], "points on the time axis")
	for i, l := range cols {
		assert.Equal(t, cols[0], l, "column %d of the calls plot has a value per point", i)
	}
	step, err := chromedp.Run(ctx, chromedp.Evaluate[int](charts+`.step`))
	require.NoError(t, err)
	assert.Equal(t, 5, step, "the daemon's step")

	// Each call wrote a line: the log lines/s chart has them (and maybe
	// the plugin's own).
	lines := `Math.round(` + charts + `.plots.lines.data[1].reduce((a, v) => a + (v ?? 0), 0) * ` + charts + `.step)`
	waitJS(lines+` >= `+fmt.Sprint(n), "the calls' lines in the log lines/s chart")

	// The canvas: pixels of Echo.Write's colour above the chart's floor
	// (where a series of zeros, such as its errors/s, is drawn).
	inked := `(() => {
		const c = ` + charts + `, u = c.plots.calls, hex = c.colors.get('Echo.Write');
		const rgb = [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16));
		const { left, top, width, height } = u.bbox;
		const d = u.ctx.getImageData(left, top, width, height - 6).data;
		let n = 0;
		for (let i = 0; i < d.length; i += 4) {
			if (d[i + 3] > 128 && Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1]) + Math.abs(d[i + 2] - rgb[2]) < 60) n++;
		}
		return n;
	})()`
	waitJS(inked+` >= 10`, "Echo.Write's calls drawn on the canvas")
	b.shot("charts.png")

	// A crash loop: each restart the daemon makes is in the restarts
	// chart, none twice.
	d.create(t, "chartcrash", "crasher", "CRASH_AFTER=150ms")
	d.enable(t, "chartcrash")
	eventually(t, func() bool { return d.inspect(t, "chartcrash").State.RestartCount >= 2 }, waitTimeout, "chartcrash restarted twice")
	require.NoError(t, d.client.Disable(testCtx(t), "chartcrash", false))
	restarts := d.inspect(t, "chartcrash").State.RestartCount
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const s = document.querySelector('#chart-plugin'); s.value = 'chartcrash:latest'; s.dispatchEvent(new Event('change')); return true; })()`))
	require.NoError(t, err)
	waitJS(charts+`.plugin === 'chartcrash:latest' && `+charts+`.windows > 0`, "the crashing plugin's series")
	waitJS(`(() => { const u = `+charts+`.plots.restarts; return u && u.data[1].reduce((a, v) => a + (v ?? 0), 0) === `+fmt.Sprint(restarts)+`; })()`,
		fmt.Sprintf("the %d restarts in the restarts chart", restarts))
	b.shot("charts-restarts.png")
}

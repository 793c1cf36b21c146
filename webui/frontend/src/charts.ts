// The charts view: one plugin's last 15 minutes, as the daemon samples them
// (runtime/series, a point every few seconds) and sends them over the
// page's websocket ("series" once, then "series.points"; webui/charts.go).
// Drawn by uPlot on canvases: four charts, redrawn at most once per
// animation frame, rebuilt only when the set of methods changes.
import uPlot from "uplot";
// uPlot's own notice is a plain comment, which the bundler drops; its
// licence asks for it to ship with the code:
/*! @license uPlot v1.6.32 (https://github.com/leeoniya/uPlot): Copyright (c) 2025, Leon Sorokin. All rights reserved. (MIT Licensed) */

// ---- the server's messages ----
type Num = number | null;
interface MethodSeries { method: string; calls: Num[]; errors: Num[]; p50: Num[]; p99: Num[] }
interface SeriesWindow { step: number; times: number[]; lines: Num[]; restarts: number[]; methods: MethodSeries[] }
interface MethodPoint { method: string; calls: number; errors: number; p50: Num; p99: Num }
interface Point { time: number; lines: number; restarts: number; methods: MethodPoint[] }

const WINDOW = 15 * 60; // seconds the charts show
const HEIGHT = 170; // px of each plot
// Colours of the methods, in the order they are first seen: distinct on the
// page's dark background.
const PALETTE = ["#5aa9ff", "#3fb950", "#d29922", "#f778ba", "#a371f7", "#39c5cf", "#ff7b72", "#e3b341", "#7ee787", "#8b949e"];
const AXIS = { stroke: "#7d8894", grid: { stroke: "#262d36", width: 1 }, ticks: { stroke: "#262d36", width: 1 }, font: "11px system-ui, sans-serif" };

type PlotName = "calls" | "latency" | "lines" | "restarts";

export class ChartView {
  subID = "";
  plugin = ""; // the name the page subscribed to
  pluginID = "";
  step = 5;
  times: number[] = [];
  lines: Num[] = [];
  restarts: number[] = [];
  methods = new Map<string, MethodSeries>(); // by name, sorted when drawn
  colors = new Map<string, string>();
  plots: Partial<Record<PlotName, uPlot>> = {};
  drawn = ""; // the methods the plots were built for
  windows = 0; // "series" messages taken, for tests
  frame = 0;
  visible = false;
  private box: HTMLElement;
  private state: HTMLElement;

  constructor(
    private send: (m: object) => boolean,
    private nextID: (prefix: string) => string,
  ) {
    this.box = document.querySelector("#charts") as HTMLElement;
    this.state = document.querySelector("#chart-state") as HTMLElement;
    new ResizeObserver(() => this.resize()).observe(this.box);
  }

  // follow asks for plugin's series, replacing the one followed.
  follow(plugin: string) {
    if (this.subID) this.send({ type: "series.unsubscribe", id: this.subID });
    this.subID = "";
    this.plugin = plugin;
    this.clear();
    if (!plugin) return;
    this.subID = this.nextID("series");
    this.state.textContent = `loading ${plugin}…`;
    if (!this.send({ type: "series.subscribe", id: this.subID, plugin })) this.state.textContent = "not connected";
  }

  // reconnected subscribes again: the server forgot the subscription with
  // the socket, and sends the whole window anew.
  reconnected() {
    if (this.plugin) this.follow(this.plugin);
  }

  clear() {
    this.times = [];
    this.lines = [];
    this.restarts = [];
    this.methods.clear();
    this.schedule();
  }

  onWindow(id: string, plugin: string, pluginID: string, w: SeriesWindow) {
    if (id !== this.subID) return;
    this.pluginID = pluginID;
    this.step = w.step;
    this.times = w.times;
    this.lines = w.lines;
    this.restarts = w.restarts;
    this.methods.clear();
    for (const m of w.methods) {
      this.color(m.method);
      this.methods.set(m.method, m);
    }
    this.windows++;
    this.status(plugin);
    this.schedule();
  }

  onPoints(id: string, pts: Point[]) {
    if (id !== this.subID) return;
    for (const p of pts) {
      const n = this.times.length;
      this.times.push(p.time);
      this.lines.push(p.lines);
      this.restarts.push(p.restarts);
      const got = new Map(p.methods.map((m) => [m.method, m]));
      for (const [name, s] of this.methods) {
        const m = got.get(name);
        s.calls.push(m ? m.calls : 0);
        s.errors.push(m ? m.errors : 0);
        s.p50.push(m ? m.p50 : null);
        s.p99.push(m ? m.p99 : null);
        got.delete(name);
      }
      for (const m of got.values()) {
        // A method first called now: nothing before.
        const zeros = () => new Array<Num>(n).fill(0);
        const nulls = () => new Array<Num>(n).fill(null);
        this.color(m.method);
        this.methods.set(m.method, {
          method: m.method,
          calls: [...zeros(), m.calls],
          errors: [...zeros(), m.errors],
          p50: [...nulls(), m.p50],
          p99: [...nulls(), m.p99],
        });
      }
    }
    this.trim();
    this.status(this.plugin);
    this.schedule();
  }

  // trim drops the points older than the window, and the methods with no
  // call left in it.
  trim() {
    const last = this.times[this.times.length - 1] ?? 0;
    let k = 0;
    while (k < this.times.length && this.times[k] <= last - WINDOW) k++;
    if (!k) return;
    this.times.splice(0, k);
    this.lines.splice(0, k);
    this.restarts.splice(0, k);
    for (const [name, s] of this.methods) {
      for (const col of [s.calls, s.errors, s.p50, s.p99]) col.splice(0, k);
      if (!s.calls.some((v) => v)) this.methods.delete(name);
    }
  }

  color(method: string): string {
    let c = this.colors.get(method);
    if (!c) {
      c = PALETTE[this.colors.size % PALETTE.length];
      this.colors.set(method, c);
    }
    return c;
  }

  status(plugin: string) {
    const calls = [...this.methods.values()].reduce((a, s) => a + s.calls.reduce((x: number, v) => x + (v ?? 0), 0), 0) * this.step;
    this.state.textContent = !this.times.length
      ? `${plugin}: no point yet (one every ${this.step} s)`
      : this.methods.size
        ? `${plugin}: ${Math.round(calls)} calls in the last ${WINDOW / 60} min · a point every ${this.step} s`
        : `${plugin}: no call in the window (calls are counted for observed plugins: plugdbg observe ${plugin})`;
  }

  // show is called when the tab is shown or hidden: a hidden plot has no
  // size to draw at.
  show(visible: boolean) {
    this.visible = visible;
    if (visible) this.schedule();
  }

  schedule() {
    if (!this.frame && this.visible) this.frame = requestAnimationFrame(() => this.render());
  }

  names(): string[] {
    return [...this.methods.keys()].sort();
  }

  // data returns each plot's columns: time first, then one per series.
  data(): Record<PlotName, uPlot.AlignedData> {
    const names = this.names();
    const ms = names.map((n) => this.methods.get(n)!);
    const x = this.times;
    const ms2 = (v: Num) => (v === null ? null : v * 1000);
    return {
      calls: [x, ...ms.flatMap((s) => [s.calls, s.errors])] as uPlot.AlignedData,
      latency: [x, ...ms.flatMap((s) => [s.p50.map(ms2), s.p99.map(ms2)])] as uPlot.AlignedData,
      lines: [x, this.lines] as uPlot.AlignedData,
      restarts: [x, this.restarts] as uPlot.AlignedData,
    };
  }

  render() {
    this.frame = 0;
    if (!this.visible) return;
    const key = this.names().join("\n");
    const data = this.data();
    if (key !== this.drawn || !this.plots.calls) {
      this.build(data);
      this.drawn = key;
      return;
    }
    for (const name of Object.keys(this.plots) as PlotName[]) this.plots[name]!.setData(data[name]);
  }

  width(): number {
    const one = this.box.querySelector(".chart") as HTMLElement | null;
    return Math.max(200, (one?.clientWidth ?? 600) - 4);
  }

  // build makes the four plots anew for the current methods.
  build(data: Record<PlotName, uPlot.AlignedData>) {
    for (const u of Object.values(this.plots)) u?.destroy();
    this.plots = {};
    const names = this.names();
    const width = this.width();
    const range = (): uPlot.Range.MinMax => {
      const last = this.times[this.times.length - 1] ?? Math.floor(Date.now() / 1000);
      return [last - WINDOW, last];
    };
    const base = (ylabel: string, series: uPlot.Series[]): uPlot.Options => ({
      width,
      height: HEIGHT,
      scales: { x: { time: true, range }, y: { range: (_u, _min, max) => [0, Math.max(max || 0, 1) * 1.05] } },
      axes: [{ ...AXIS }, { ...AXIS, label: ylabel, labelSize: 14, labelFont: AXIS.font, size: 50 }],
      series: [{}, ...series],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    });
    // Latencies exist only in the steps with calls: their points are
    // drawn, or a step alone between two without calls would not show.
    const perMethod = (fmt: (v: number) => string, a: string, b: string, dots: boolean) =>
      names.flatMap((n): uPlot.Series[] => {
        const points = dots ? { show: true, size: 4, fill: this.color(n) } : undefined;
        return [
          { label: `${n} ${a}`, stroke: this.color(n), width: 1.5, points, value: (_u, v) => (v == null ? "—" : fmt(v)) },
          { label: `${n} ${b}`, stroke: this.color(n), width: 1, dash: [4, 3], points, value: (_u, v) => (v == null ? "—" : fmt(v)) },
        ];
      });
    const rate = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(2)) + "/s";
    const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toPrecision(3)) + " ms";
    const mount = (name: PlotName, opts: uPlot.Options) => {
      const box = this.box.querySelector(`#chart-${name} .plot`) as HTMLElement;
      box.replaceChildren();
      this.plots[name] = new uPlot(opts, data[name], box);
    };
    mount("calls", base("calls/s", perMethod(rate, "calls", "errors", false)));
    mount("latency", base("ms", perMethod(ms, "p50", "p99", true)));
    mount("lines", base("lines/s", [{ label: "stdout+stderr", stroke: PALETTE[0], width: 1.5, fill: "rgba(90,169,255,0.12)", value: (_u, v) => (v == null ? "—" : rate(v)) }]));
    const bars = uPlot.paths.bars!({ size: [0.8, 12] });
    mount("restarts", base("restarts", [{ label: "restarts", stroke: "#f85149", fill: "rgba(248,81,73,0.5)", paths: bars, points: { show: false } }]));
  }

  resize() {
    const width = this.width();
    for (const u of Object.values(this.plots)) if (u && u.width !== width) u.setSize({ width, height: HEIGHT });
  }
}

// plugdbg web UI: one websocket per page carries everything (see
// webui/conn.go for the messages). Plain DOM, no framework: the log view is
// the hot path; it holds a bounded array of lines and renders, once per
// animation frame, only the rows in view.
import "@xterm/xterm/css/xterm.css";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { ChartView } from "./charts";

// ---- types of the server's messages ----
interface ExitStatus { ExitCode: number; Signal?: string; ExitedAt?: string; Error?: string }
interface PluginView {
  id: string; name: string; enabled: boolean; status: string; pid?: number; restartCount: number;
  lastExit?: ExitStatus; nextRestart?: string; error?: string; types: string[]; description?: string;
}
interface Line { p: string; n: string; q?: number; t?: number; s?: string; l?: string; v?: string; k?: number; b?: boolean }
interface EventMsg { Action: string; Actor: { ID: string; Attributes: Record<string, string> }; timeNano: number }
interface CatalogMethod { name: string; doc?: string; emptyBody?: boolean; example?: string; answer?: string }
interface CatalogIface { name: string; type?: string; doc?: string; methods: CatalogMethod[] }
interface TraceRecord { Time: string; Conn: number; Method: string; Request?: string; Status: number; Response?: string; Err?: string; Latency: number }

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector(sel) as T;
const el = (tag: string, cls?: string, text?: string) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

// ---- the socket: reconnects, and lets each view resume ----
type Handler = (m: any) => void;
const handlers = new Map<string, Handler[]>();
const on = (type: string, fn: Handler) => handlers.set(type, [...(handlers.get(type) ?? []), fn]);
const onOpen: (() => void)[] = [];
let ws: WebSocket | null = null;
let backoff = 250;
let reqSeq = 0;
const nextID = (p: string) => `${p}${++reqSeq}`;

function send(m: object): boolean {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(m));
  return true;
}

// ---- the access token ----
// The daemon prints the URL with ?token=. The page keeps the token in
// sessionStorage, which belongs to this origin (scheme, host and port) and
// this tab, takes it out of the address bar, and presents it itself: on
// the websocket as a subprotocol, on a fetch as a header. Never a cookie:
// a browser sends a 127.0.0.1 cookie to every port of that address.
const TOKEN_KEY = "plugdbg.token";
const token = takeToken();
function takeToken(): string {
  const u = new URL(location.href);
  const q = u.searchParams.get("token");
  let stored = "";
  try {
    if (q) sessionStorage.setItem(TOKEN_KEY, q);
    stored = sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    // Storage turned off: the token lives as long as the page.
  }
  if (q !== null) {
    u.searchParams.delete("token");
    history.replaceState(history.state, "", u.pathname + u.search + u.hash);
  }
  return q || stored;
}
function api(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("X-Plugdbg-Token", token);
  return fetch(path, { ...init, headers, cache: "no-store", credentials: "omit" });
}
function authFailed(why: string) {
  const c = $("#conn");
  c.textContent = why;
  c.className = "conn down";
  const a = $("#auth");
  a.textContent = `${why}: open the URL that the daemon or plugdbg ui printed (http://${location.host}/?token=…); the daemon also keeps its token in <exec-root>/webui.token`;
  a.hidden = false;
}
// daemonDown says why the socket fails when plugdbg ui cannot reach the
// daemon (its answer to /auth is a 502 that says so); the page keeps
// retrying, and says nothing more once it is connected again.
let unreachable = false;
function daemonDown(why: string) {
  unreachable = true;
  const c = $("#conn");
  c.textContent = "daemon unreachable";
  c.className = "conn down";
  const a = $("#auth");
  a.textContent = why.trim().slice(0, 500);
  a.hidden = false;
}

function connect() {
  if (!token) return authFailed("no access token");
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  let sock: WebSocket;
  try {
    sock = new WebSocket(`${proto}//${location.host}/ws`, ["plugdbg", "plugdbg.token." + token]);
  } catch {
    return authFailed("invalid access token"); // not a valid subprotocol name
  }
  ws = sock;
  let opened = false;
  sock.onopen = () => {
    opened = true;
    backoff = 250;
    setConn(true);
    onOpen.forEach((f) => f());
  };
  sock.onmessage = (ev) => {
    const m = JSON.parse(ev.data as string);
    (handlers.get(m.type) ?? []).forEach((f) => f(m));
  };
  sock.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    setConn(false);
    const retry = () => {
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 5000);
    };
    if (opened) return retry();
    // A refused upgrade looks like a daemon that is down; ask which. A
    // refused token stays refused (a restarted daemon or plugdbg ui has a
    // new one); a daemon that plugdbg ui cannot reach is retried.
    api("/auth").then(async (r) => {
      if (r.status === 401) return authFailed("access token refused");
      if (r.status === 502) daemonDown(await r.text().catch(() => "the daemon is unreachable"));
      retry();
    }, retry);
  };
}

function setConn(up: boolean) {
  if (!up && unreachable) return; // still unreachable until it connects
  const c = $("#conn");
  c.textContent = up ? "live" : "reconnecting…";
  c.className = "conn " + (up ? "up" : "down");
  if (up) {
    unreachable = false;
    $("#auth").hidden = true;
  }
}

// ---- tabs ----
document.querySelectorAll<HTMLButtonElement>("#tabs button").forEach((b) =>
  b.addEventListener("click", () => showTab(b.dataset.tab!)),
);
function showTab(name: string) {
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", (b as HTMLElement).dataset.tab === name));
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.id === "tab-" + name));
  if (name === "terminal") termFit();
  charts.show(name === "charts");
}

// ---- plugins ----
let plugins: PluginView[] = [];
let selected = "";

function stateOf(p: PluginView): { text: string; cls: string } {
  if (p.status === "restarting" && p.lastExit) {
    return { text: `crashed (${exitText(p.lastExit)}), restarting`, cls: "crashed" };
  }
  if (!p.enabled && p.lastExit && p.lastExit.ExitCode !== 0 && p.status === "disabled") {
    return { text: "disabled", cls: "disabled" };
  }
  return { text: p.status, cls: p.status };
}
function exitText(e: ExitStatus): string {
  if (e.Error) return e.Error;
  return e.Signal ? `signal ${e.Signal}` : `exit code ${e.ExitCode}`;
}

on("hello", (m) => {
  $("#version").textContent = "v" + m.version;
  catalog = m.catalog;
  canTrace = m.trace;
  canChart = m.charts;
  fillMethods();
});

on("plugins", (m) => {
  plugins = m.plugins;
  renderPlugins();
  for (const sel of ["#log-plugin", "#probe-plugin", "#trace-plugin", "#term-plugin", "#chart-plugin"]) fillPluginSelect(sel);
  chartPluginChanged();
});

function renderPlugins() {
  const tb = $("#plugins tbody");
  tb.replaceChildren();
  $("#no-plugins").hidden = plugins.length > 0;
  for (const p of plugins) {
    const tr = el("tr");
    tr.dataset.name = p.name;
    tr.dataset.enabled = String(p.enabled);
    if (p.name === selected) tr.classList.add("selected");
    const st = stateOf(p);
    tr.append(el("td", "name", p.name), el("td", "", p.types.join(", ")));
    const td = el("td", "state " + st.cls, st.text);
    if (p.error) td.title = p.error;
    tr.append(td, el("td", "restarts", String(p.restartCount)), el("td", "exit", p.lastExit ? exitText(p.lastExit) : ""),
      el("td", "", p.pid ? String(p.pid) : ""));
    const act = el("td");
    const b = el("button", "toggle", p.enabled ? "Disable" : "Enable") as HTMLButtonElement;
    b.addEventListener("click", (ev) => {
      ev.stopPropagation();
      b.disabled = true;
      request({ type: p.enabled ? "plugin.disable" : "plugin.enable", plugin: p.name }, (r) => {
        b.disabled = false;
        if (r.error) alert(r.error);
      });
    });
    act.append(b);
    tr.append(act);
    tr.addEventListener("click", () => selectPlugin(p.name));
    tb.append(tr);
  }
}

function selectPlugin(name: string) {
  selected = name;
  renderPlugins();
  for (const sel of ["#probe-plugin", "#trace-plugin", "#term-plugin", "#chart-plugin"]) {
    const s = $<HTMLSelectElement>(sel);
    if ([...s.options].some((o) => o.value === name)) s.value = name;
  }
  chartPluginChanged();
  const lp = $<HTMLSelectElement>("#log-plugin");
  if (lp.value !== name) {
    lp.value = name;
    logs.resubscribe();
  }
  fillMethods();
}

function fillPluginSelect(sel: string) {
  const s = $<HTMLSelectElement>(sel);
  const cur = s.value;
  const first = sel === "#log-plugin" ? [el("option", "", "all plugins")] : [];
  if (first.length) (first[0] as HTMLOptionElement).value = "";
  const opts = plugins
    .filter((p) => sel === "#log-plugin" || sel === "#chart-plugin" || p.enabled)
    .map((p) => {
      const o = el("option", "", p.name) as HTMLOptionElement;
      o.value = p.name;
      return o;
    });
  s.replaceChildren(...first, ...opts);
  if ([...s.options].some((o) => o.value === cur)) s.value = cur;
  else if (selected && [...s.options].some((o) => o.value === selected)) s.value = selected;
}

// request sends m with a new ID and calls fn with the "result" or "error"
// answer.
const pending = new Map<string, (m: any) => void>();
function request(m: any, fn: (r: any) => void) {
  m.id = nextID("r");
  pending.set(m.id, fn);
  if (!send(m)) {
    pending.delete(m.id);
    fn({ error: "not connected" });
  }
}
on("result", (m) => {
  pending.get(m.id)?.(m);
  pending.delete(m.id);
});
on("error", (m) => {
  const fn = pending.get(m.id);
  if (fn) {
    pending.delete(m.id);
    fn(m);
  } else if (m.id === logs.subID) {
    logs.mark("error: " + m.error);
  } else {
    console.warn("plugdbg:", m.error);
  }
});

// ---- logs ----
const MAX_LINES = 50000; // lines kept in the page; older ones are a scroll (a history request) away
const HISTORY_PAGE = 200;
const ROW_H = 17; // px: every row has this height, so only the visible ones need DOM nodes
const OVERSCAN = 20;

// LogView keeps the lines in an array (bounded) and renders only the rows in
// view, once per animation frame, however fast lines arrive.
class LogView {
  subID = "";
  following = ""; // the subscription the server says is in place (logs.following)
  last = new Map<string, { seq: number; time: number }>(); // per plugin: the last line held
  lines: Line[] = []; // what the view holds, oldest first
  queue: Line[] = []; // arrived, not in lines yet (while paused, or until the next frame)
  paused = false;
  follow = true;
  heldWhilePaused = 0;
  frame = 0;
  loadingHistory = false;
  historyEnd = false;
  rate = 0;
  rateCount = 0;
  view = $("#log-view");
  spacer = $("#log-spacer");
  rows = $("#log-rows");
  onRender: ((lines: Line[], now: number) => void) | null = null; // for benchmarks and tests
  onArrive: ((lines: Line[]) => void) | null = null;
  fresh: Line[] = []; // lines added since the last frame, for onRender

  constructor() {
    this.view.addEventListener("scroll", () => this.scrolled());
    new ResizeObserver(() => this.schedule()).observe(this.view);
    setInterval(() => {
      this.rate = this.rateCount;
      this.rateCount = 0;
      this.stats();
    }, 1000);
  }

  filter() {
    return {
      plugin: $<HTMLSelectElement>("#log-plugin").value,
      stream: $<HTMLSelectElement>("#log-stream").value,
      grep: $<HTMLInputElement>("#log-grep").value,
      regex: $<HTMLInputElement>("#log-regex").checked,
    };
  }

  // subscribe asks for the view's lines: the last page of history and what
  // follows, or, after a reconnect, exactly what came after the last line
  // the page has.
  subscribe() {
    this.subID = nextID("logs");
    const resume: Record<string, { seq: number; time: number }> = {};
    this.last.forEach((v, k) => (resume[k] = v));
    send({ type: "logs.subscribe", id: this.subID, tail: this.last.size ? 0 : 500, resume: this.last.size ? resume : undefined, ...this.filter() });
  }

  resubscribe() {
    this.clear();
    this.subscribe();
  }

  clear() {
    this.lines = [];
    this.queue = [];
    this.last.clear();
    this.historyEnd = false;
    this.heldWhilePaused = 0;
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  add(lines: Line[]) {
    this.onArrive?.(lines);
    for (const l of lines) {
      if (l.q) {
        const prev = this.last.get(l.p);
        if (prev && l.q <= prev.seq) continue; // never twice
        this.last.set(l.p, { seq: l.q, time: l.t ?? 0 });
      }
      this.queue.push(l);
    }
    this.rateCount += lines.length;
    if (this.paused && this.queue.length > MAX_LINES) {
      const drop = this.queue.length - MAX_LINES;
      this.queue.splice(0, drop);
      this.heldWhilePaused += drop;
    }
    if (!this.paused) this.schedule();
  }

  mark(text: string) {
    this.queue.push({ p: "", n: "", k: -1, l: text });
    this.schedule();
  }

  row(l: Line): HTMLElement {
    const r = el("div", "r");
    if (l.k) {
      r.className = "r mark";
      r.textContent = l.k < 0 ? (l.l ?? "") : `… ${l.k} lines of ${l.n} skipped (rotated away before they could be read)`;
      return r;
    }
    if (l.s) r.classList.add("st-" + l.s);
    if (l.v) r.classList.add("lv-" + l.v);
    else if (l.s === "stderr") r.classList.add("lv-error");
    r.append(el("span", "t", l.t ? fmtTime(l.t) : ""), el("span", "n", l.n), document.createTextNode(l.l ?? ""));
    return r;
  }

  render() {
    this.frame = 0;
    if (!this.paused && this.queue.length) {
      if (this.heldWhilePaused) {
        this.lines.push({ p: "", n: "", k: -1, l: `… ${this.heldWhilePaused} lines arrived while paused and are not shown` });
        this.heldWhilePaused = 0;
      }
      for (const l of this.queue) this.lines.push(l);
      this.fresh = this.queue;
      this.queue = [];
      const extra = this.lines.length - MAX_LINES;
      if (extra > 0) {
        this.lines.splice(0, extra);
        this.historyEnd = false;
        if (!this.follow) this.view.scrollTop -= extra * ROW_H; // keep what the reader looks at in place
      }
    }
    const n = this.lines.length;
    this.spacer.style.height = n * ROW_H + "px";
    if (this.follow) this.view.scrollTop = n * ROW_H;
    const top = this.view.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const end = Math.min(n, Math.ceil((top + this.view.clientHeight) / ROW_H) + OVERSCAN);
    const frag = document.createDocumentFragment();
    for (let i = first; i < end; i++) frag.append(this.row(this.lines[i]));
    this.rows.style.transform = `translateY(${first * ROW_H}px)`;
    this.rows.replaceChildren(frag);
    if (this.fresh.length) {
      this.onRender?.(this.fresh, Date.now());
      this.fresh = [];
    }
    this.stats();
  }

  scrolled() {
    const v = this.view;
    const atBottom = v.scrollHeight - v.scrollTop - v.clientHeight < ROW_H;
    if (atBottom !== this.follow) this.setFollow(atBottom);
    if (v.scrollTop < ROW_H * 2 && !this.loadingHistory && !this.historyEnd && this.lines.length > 0) this.loadHistory();
    this.schedule();
  }

  setFollow(f: boolean) {
    this.follow = f;
    const b = $("#log-follow");
    b.classList.toggle("on", f);
    b.textContent = f ? "Following" : "Follow";
    this.schedule();
  }

  setPaused(p: boolean) {
    this.paused = p;
    const b = $("#log-pause");
    b.textContent = p ? "Resume" : "Pause";
    b.classList.toggle("on", p);
    this.schedule();
  }

  // loadHistory prepends the page of lines before the oldest line held.
  loadHistory() {
    // The oldest line held names where the page ends: by time alone,
    // lines written together (one time) would be skipped.
    const oldest = this.lines.find((l) => l.t && l.q);
    if (!oldest) return;
    this.loadingHistory = true;
    $("#log-top").textContent = "loading older lines…";
    const id = nextID("hist");
    const done = (m: any) => {
      this.loadingHistory = false;
      handlersOnce.delete(id);
      const got: Line[] = m.lines ?? [];
      $("#log-top").textContent = got.length < HISTORY_PAGE ? "start of the history" : "scroll up for older lines";
      if (got.length < HISTORY_PAGE) this.historyEnd = true;
      if (!got.length) return;
      this.lines.unshift(...got);
      this.view.scrollTop += got.length * ROW_H; // keep what the reader looks at in place
      this.schedule();
    };
    handlersOnce.set(id, done);
    const before = { before: oldest.t, beforePlugin: oldest.p, beforeSeq: oldest.q };
    if (!send({ type: "logs.history", id, ...before, tail: HISTORY_PAGE, ...this.filter() })) done({ lines: [] });
  }

  stats() {
    $("#log-stats").textContent = `${this.rate} lines/s · ${this.lines.length} held` + (this.paused ? " · paused" : "");
  }
}

const handlersOnce = new Map<string, (m: any) => void>();
on("logs.history", (m) => handlersOnce.get(m.id)?.(m));
on("error", (m) => handlersOnce.get(m.id)?.({ lines: [] }));

function fmtTime(ns: number): string {
  const d = new Date(ns / 1e6);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

const logs = new LogView();
on("logs", (m) => {
  if (m.id === logs.subID) logs.add(m.lines);
});
on("logs.following", (m) => {
  if (m.id === logs.subID) logs.following = m.id;
});
on("logs.lag", (m) => {
  if (m.id === logs.subID) logs.mark("… catching up: the page fell behind; the lines follow from the history");
});
onOpen.push(() => logs.subscribe());

let grepTimer = 0;
$("#log-grep").addEventListener("input", () => {
  clearTimeout(grepTimer);
  grepTimer = window.setTimeout(() => logs.resubscribe(), 300);
});
for (const id of ["#log-plugin", "#log-stream", "#log-regex"]) $(id).addEventListener("change", () => logs.resubscribe());
$("#log-ts").addEventListener("change", (e) => logs.view.classList.toggle("ts", (e.target as HTMLInputElement).checked));
$("#log-pause").addEventListener("click", () => logs.setPaused(!logs.paused));
$("#log-follow").addEventListener("click", () => logs.setFollow(!logs.follow));
$("#log-clear").addEventListener("click", () => {
  logs.lines = [];
  logs.queue = [];
  logs.schedule();
});

// ---- events ----
const MAX_EVENTS = 1000;
on("events", (m) => {
  const tb = $("#events tbody");
  if (m.lost) tb.prepend(Object.assign(el("tr"), { innerHTML: `<td colspan="4" class="hint">${Number(m.lost)} events lost: the page fell behind</td>` }));
  for (const ev of m.events as EventMsg[]) {
    const a = { ...ev.Actor.Attributes };
    const name = a.name ?? ev.Actor.ID.slice(0, 12);
    delete a.name;
    const tr = el("tr");
    tr.append(
      el("td", "", fmtTime(ev.timeNano)),
      el("td", "", name),
      el("td", "action-" + ev.Action, ev.Action),
      el("td", "", Object.entries(a).map(([k, v]) => `${k}=${v}`).join(" ")),
    );
    tb.prepend(tr);
  }
  while (tb.childElementCount > MAX_EVENTS) tb.lastElementChild!.remove();
});

// ---- probe ----
let catalog: CatalogIface[] = [];
function fillMethods() {
  const s = $<HTMLSelectElement>("#probe-method");
  const cur = s.value;
  const p = plugins.find((x) => x.name === $<HTMLSelectElement>("#probe-plugin").value);
  const types = new Set(p?.types ?? []);
  // The plugin's own interfaces first, then Plugin.Activate, then the rest.
  const order = [...catalog].sort((a, b) => rank(a) - rank(b));
  function rank(i: CatalogIface) {
    if (i.type && types.has(i.type)) return 0;
    return i.name === "Plugin" ? 1 : 2;
  }
  s.replaceChildren(
    ...order.map((i) => {
      const g = el("optgroup") as HTMLOptGroupElement;
      g.label = i.name;
      g.append(...i.methods.map((m) => Object.assign(el("option", "", m.name), { value: m.name })));
      return g;
    }),
  );
  if (cur && [...s.options].some((o) => o.value === cur)) s.value = cur;
  methodChanged();
}
function method(name: string): CatalogMethod | undefined {
  for (const i of catalog) for (const m of i.methods) if (m.name === name) return m;
}
function methodChanged() {
  const m = method($<HTMLSelectElement>("#probe-method").value);
  $("#probe-doc").textContent = m ? (m.doc ?? "") + (m.answer ? `  —  example answer: ${m.answer}` : "") : "";
  $<HTMLTextAreaElement>("#probe-body").value = m?.example ? pretty(m.example) : "";
}
function pretty(s: string): string {
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}
$("#probe-method").addEventListener("change", () => {
  $<HTMLInputElement>("#probe-custom").value = "";
  methodChanged();
});
$("#probe-plugin").addEventListener("change", fillMethods);
$("#probe-send").addEventListener("click", () => {
  const custom = $<HTMLInputElement>("#probe-custom").value.trim();
  const meth = custom || $<HTMLSelectElement>("#probe-method").value;
  const body = $<HTMLTextAreaElement>("#probe-body").value;
  const out = $("#probe-result");
  out.replaceChildren(el("p", "hint", `calling ${meth}…`));
  const id = nextID("probe");
  probeWaiting.set(id, showProbe);
  if (!send({ type: "probe", id, plugin: $<HTMLSelectElement>("#probe-plugin").value, method: meth, body: body.trim() ? body : null })) {
    probeWaiting.delete(id);
    out.replaceChildren(el("p", "err", "not connected"));
  }
});
const probeWaiting = new Map<string, (m: any) => void>();
on("probe", (m) => {
  probeWaiting.get(m.id)?.(m);
  probeWaiting.delete(m.id);
});
function showProbe(m: any) {
  const out = $("#probe-result");
  out.replaceChildren();
  if (m.error) {
    out.append(el("p", "err", `${m.method}: ${m.error}`));
    return;
  }
  const ok = m.status === 200 && !m.pluginError && !(m.warnings?.length);
  const head = el("p", ok ? "ok" : m.status === 200 ? "warn" : "err", `${m.method}: ${m.statusText} in ${(m.latencyNs / 1e6).toFixed(2)} ms`);
  head.id = "probe-status";
  out.append(head);
  if (m.pluginError) out.append(el("p", "err", `plugin error: ${m.pluginError}`));
  if (!m.known) out.append(el("p", "hint", "not in the catalog: the answer is not validated"));
  for (const w of m.requestWarnings ?? []) out.append(el("p", "warn", `request: ${w}`));
  for (const w of m.warnings ?? []) out.append(el("p", "warn", `answer: ${w}`));
  if (m.status === 200 && m.known && !m.warnings?.length) out.append(el("p", "ok", "the answer matches what dockerd expects"));
  const pre = el("pre", "", pretty(m.body ?? ""));
  pre.id = "probe-answer";
  out.append(pre);
}

// ---- trace ----
let canTrace = false;
let tracing = "";
$("#trace-toggle").addEventListener("click", () => {
  if (tracing) {
    send({ type: "trace.stop", plugin: tracing });
    return;
  }
  const p = $<HTMLSelectElement>("#trace-plugin").value;
  if (!p) return;
  if (!canTrace) {
    $("#trace-state").textContent = "this daemon cannot trace calls";
    return;
  }
  tracing = p;
  $("#trace-state").textContent = `starting the trace of ${p}…`;
  send({ type: "trace.start", plugin: p });
});
$("#trace-clear").addEventListener("click", () => $("#trace tbody").replaceChildren());
onOpen.push(() => {
  if (tracing) send({ type: "trace.start", plugin: tracing });
});
on("trace.started", (m) => {
  $("#trace-state").textContent = `tracing ${m.plugin}: calls to its socket appear here`;
  $("#trace-toggle").textContent = "Stop trace";
});
on("trace.ended", (m) => {
  if (m.plugin !== tracing) return;
  tracing = "";
  $("#trace-state").textContent = m.error ? `trace ended: ${m.error}` : "trace stopped; the plugin's socket is back in place";
  $("#trace-toggle").textContent = "Start trace";
});
on("trace", (m) => {
  const r: TraceRecord = m.record;
  const tb = $("#trace tbody");
  if (m.lost) tb.append(Object.assign(el("tr"), { innerHTML: `<td colspan="6" class="hint">${Number(m.lost)} calls not shown: the page fell behind</td>` }));
  const tr = el("tr");
  tr.append(
    el("td", "", fmtTime(Date.parse(r.Time) * 1e6)),
    el("td", "", String(r.Conn)),
    el("td", "", r.Method),
    el("td", r.Status === 200 ? "" : "err", String(r.Status || "—")),
    el("td", "", `${(r.Latency / 1e6).toFixed(2)} ms`),
    el("td", "err", r.Err ?? ""),
  );
  tr.addEventListener("click", () => {
    const next = tr.nextElementSibling;
    if (next?.classList.contains("detail")) return next.remove();
    const d = el("tr", "detail");
    const td = el("td", "", `→ ${r.Request ?? ""}\n← ${r.Response ?? ""}`);
    (td as HTMLTableCellElement).colSpan = 6;
    d.append(td);
    tr.after(d);
  });
  tb.append(tr);
  while (tb.childElementCount > 2000) tb.firstElementChild!.remove();
});

// ---- terminal ----
let term: Terminal | null = null;
let fit: FitAddon | null = null;
let termID = "";
function termFit() {
  if (!term || !fit) return;
  fit.fit();
}
$("#term-open").addEventListener("click", () => {
  const plugin = $<HTMLSelectElement>("#term-plugin").value;
  if (!plugin) return;
  if (termID) send({ type: "term.close", id: termID });
  if (!term) {
    term = new Terminal({ cursorBlink: true, fontSize: 13, convertEol: false, scrollback: 5000 });
    fit = new FitAddon();
    term.loadAddon(fit);
    term.open($("#term"));
    term.onData((d) => termID && send({ type: "term.in", id: termID, data: d }));
    term.onResize(({ cols, rows }) => termID && send({ type: "term.resize", id: termID, cols, rows }));
    new ResizeObserver(() => termFit()).observe($("#term"));
  }
  term.reset();
  termFit();
  termID = nextID("term");
  $("#term-state").textContent = `shell in ${plugin}`;
  ($("#term-close") as HTMLButtonElement).disabled = false;
  send({ type: "term.open", id: termID, plugin, cols: term.cols, rows: term.rows });
  term.focus();
});
$("#term-close").addEventListener("click", () => termID && send({ type: "term.close", id: termID }));
on("term.out", (m) => {
  if (m.id !== termID || !term) return;
  const bin = atob(m.data);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  term.write(bytes);
});
on("term.exit", (m) => {
  if (m.id !== termID) return;
  termID = "";
  const e = m.exit as ExitStatus;
  term?.write(`\r\n[${e.Error ? e.Error : "exited: " + exitText(e)}]\r\n`);
  $("#term-state").textContent = "closed";
  ($("#term-close") as HTMLButtonElement).disabled = true;
});
onOpen.push(() => {
  if (termID) {
    // The server hung the shell up when the socket dropped.
    term?.write("\r\n[disconnected]\r\n");
    termID = "";
    ($("#term-close") as HTMLButtonElement).disabled = true;
  }
});

// ---- charts ----
// The series of the plugin chosen (all plugins, enabled or not: a crash
// loop is worth seeing), followed while the page lives.
let canChart = false;
const charts = new ChartView(send, nextID);
function chartPluginChanged() {
  const p = $<HTMLSelectElement>("#chart-plugin").value;
  if (!canChart) {
    $("#chart-state").textContent = "this daemon keeps no chart series";
    return;
  }
  if (p !== charts.plugin) charts.follow(p);
}
$("#chart-plugin").addEventListener("change", chartPluginChanged);
on("series", (m) => charts.onWindow(m.id, m.plugin, m.pluginId, m.window));
on("series.points", (m) => charts.onPoints(m.id, m.points));
on("error", (m) => {
  if (m.id && m.id === charts.subID) $("#chart-state").textContent = "charts: " + m.error;
});
onOpen.push(() => charts.reconnected());

// Exposed for tests and benchmarks (bench/cmd/webuibench).
(window as any).plugdbg = { logs, charts, send, get connected() { return ws?.readyState === WebSocket.OPEN; } };

connect();

// Builds the web UI into ../dist: app.js and app.css bundled and minified
// by esbuild (xterm.js and uPlot included), and index.html copied. No CDN: the Go
// binary embeds everything in ../dist.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";

const out = new URL("../dist/", import.meta.url).pathname;
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) {
  if (f !== "README.md") rmSync(out + f, { recursive: true });
}
await build({
  entryPoints: { app: "src/main.ts" },
  bundle: true,
  minify: true,
  sourcemap: false,
  target: ["chrome110", "firefox110", "safari16"],
  outdir: out,
  loader: { ".css": "css" },
  legalComments: "linked",
  logLevel: "warning",
});
copyFileSync("src/index.html", out + "index.html");

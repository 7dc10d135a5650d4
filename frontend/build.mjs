// Bundles src/index.js into ONE ES module, tb_metrics_plugin/static/index.js, that the plugin serves.
// CSS is imported as text and injected in a <style> at render time (TensorBoard's CSP allows inline
// styles, and one file means one route). Output is deterministic: CI rebuilds and diffs it.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";

const frontendDir = fileURLToPath(new URL(".", import.meta.url));

await esbuild.build({
  absWorkingDir: frontendDir,
  entryPoints: ["src/index.js"],
  outfile: "../tb_metrics_plugin/static/index.js",
  bundle: true,
  format: "esm",
  // TensorBoard itself needs an evergreen browser; chrome110 keeps modern syntax as written.
  target: ["chrome110", "firefox110", "safari16"],
  minify: process.env.TBM_NO_MINIFY !== "1",
  charset: "utf8",
  legalComments: "eof",
  loader: { ".css": "text" },
  banner: { js: "// Built by frontend/build.mjs from frontend/src (npm run build). Do not edit." },
  logLevel: "warning",
});

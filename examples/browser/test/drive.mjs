// Drives a real browser through the demo and the check pages and writes what
// it saw as JSON; the Go test (../browser_test.go) judges it against the
// golden outputs. Chromium is driven by playwright-core, Firefox over
// WebDriver BiDi directly (playwright-core cannot drive a stock Firefox;
// needs Node's WebSocket: run with --experimental-websocket on Node 20).
//
//   node --experimental-websocket drive.mjs PLAN.json OUT.json
//
// PLAN: {url, browser: "chromium"|"firefox", executable, screenshot?,
//        coldstart: pairs, models: [{name, role, dims, sets}], big: NAME, blockingRuns}
// role is the demo's name for the model: mnist or mobilenet.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import net from "node:net";
import { spawn } from "node:child_process";

const [planFile, outFile] = process.argv.slice(2);
const plan = JSON.parse(fs.readFileSync(planFile, "utf8"));
const log = (...a) => console.error(`[${plan.browser}]`, ...a);

const STEP_MS = 240_000; // no single step may take longer: a hung page fails the test

function timeout(p, what) {
  let t;
  return Promise.race([p, new Promise((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: no answer in ${STEP_MS / 1000} s`)), STEP_MS)))]).finally(() => clearTimeout(t));
}

// fnSource runs in the page with arg; its (awaited) result comes back through JSON.
const callExpr = (fnSource, arg) => `(async () => JSON.stringify(await (${fnSource})(${JSON.stringify(arg === undefined ? null : arg)})))()`;

// ---- Chromium, through playwright-core ---------------------------------------------

async function chromium(executable) {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: executable,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return {
    version: `Chromium ${browser.version()}`,
    async open(url, { fresh = false } = {}) {
      const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
      const page = await context.newPage();
      page.on("console", (m) => m.type() === "error" && log("console:", m.text()));
      page.on("pageerror", (e) => log("page error:", e.message));
      await page.goto(url);
      return {
        page,
        eval: async (fn, arg) => JSON.parse(await timeout(page.evaluate(callExpr(fn, arg)), `${url}: ${String(fn).slice(0, 60)}`)),
        close: () => context.close(),
        fresh,
      };
    },
    close: () => browser.close(),
  };
}

// ---- Firefox, over WebDriver BiDi ----------------------------------------------------------

const FIREFOX_PREFS = `
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.startup.page", 0);
user_pref("browser.newtabpage.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.disabledForTesting", true);
user_pref("extensions.update.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.aboutwelcome.enabled", false);
user_pref("remote.active-protocols", 1);
`;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function firefox(executable) {
  if (typeof WebSocket === "undefined") throw new Error("driving Firefox needs WebSocket: run node with --experimental-websocket");
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "mlc-firefox-"));
  fs.writeFileSync(path.join(profile, "user.js"), FIREFOX_PREFS);
  const port = await freePort();
  const proc = spawn(executable, ["--headless", "--no-remote", "--profile", profile, `--remote-debugging-port=${port}`, "about:blank"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: "1" },
  });
  let stderr = "";
  const endpoint = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`Firefox did not start WebDriver BiDi in 90 s:\n${stderr.slice(-3000)}`)), 90_000);
    proc.stderr.on("data", (d) => {
      stderr += d;
      const m = stderr.match(/WebDriver BiDi listening on (ws:\/\/\S+)/);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`Firefox exited with ${code}:\n${stderr.slice(-3000)}`));
    });
  });
  const ws = new WebSocket(`${endpoint.replace(/\/$/, "")}/session`);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = (e) => reject(new Error(`BiDi connection: ${e.message || e.type}`));
  });
  let nextId = 1;
  const waiting = new Map();
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.id !== undefined && waiting.has(msg.id)) {
      const { resolve, reject } = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.type === "error") reject(new Error(`BiDi ${msg.error}: ${msg.message}`));
      else resolve(msg.result);
    } else if (msg.method === "log.entryAdded" && msg.params.level === "error") {
      log("console:", msg.params.text);
    }
  };
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  const session = await send("session.new", { capabilities: { alwaysMatch: {} } });
  await send("session.subscribe", { events: ["log.entryAdded"] });
  const tree = await send("browsingContext.getTree", {});
  const context = tree.contexts[0].context;
  return {
    version: `Firefox ${session.capabilities.browserVersion}`,
    async open(url) {
      await send("browsingContext.navigate", { context, url, wait: "complete" });
      return {
        async eval(fn, arg) {
          const r = await timeout(send("script.evaluate", { expression: callExpr(fn, arg), target: { context }, awaitPromise: true, resultOwnership: "none" }), `${url}: ${String(fn).slice(0, 60)}`);
          if (r.type === "exception") throw new Error(`in the page: ${r.exceptionDetails.text}\n${JSON.stringify(r.exceptionDetails.stackTrace || {}).slice(0, 2000)}`);
          return JSON.parse(r.result.value);
        },
        close: async () => {},
      };
    },
    async close() {
      try {
        await Promise.race([send("browser.close"), new Promise((r) => setTimeout(r, 5000))]);
      } catch {}
      ws.close();
      proc.kill();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// ---- the checks ------------------------------------------------------------------------------

async function main() {
  const b = plan.browser === "firefox" ? await firefox(plan.executable) : await chromium(plan.executable);
  const out = { browser: b.version };
  const save = () => fs.writeFileSync(outFile, JSON.stringify(out, null, 1));
  try {
    log(b.version);
    // The demo page: both models in Workers, on every data set, through the
    // page's own functions; in Chromium also its UI (a stroke, a sample image).
    let t = performance.now();
    const demo = await b.open(`${plan.url}`);
    out.demo = await demo.eval(
      async ({ models }) => {
        const { inputOf } = await import("/test/data.mjs");
        while (!window.demo) await new Promise((r) => setTimeout(r, 20));
        const d = await window.demo;
        const res = {};
        for (const m of models) {
          const role = d[m.role];
          const outputs = [];
          for (let k = 0; k < m.sets; k++) outputs.push(Array.from((await role.run(await inputOf(m.name, k))).data));
          res[m.name] = { outputs, loadMs: role.loadMs, bytes: role.bytes, latenciesMs: role.times.slice() };
        }
        return res;
      },
      { models: plan.models },
    );
    log(`demo: ${(performance.now() - t).toFixed(0)} ms`);
    if (demo.page) {
      const pad = await demo.page.locator("#pad").boundingBox();
      // A "7": a bar across the top, then a stroke down and to the left.
      const pts = [];
      for (let i = 0; i <= 10; i++) pts.push([0.3 + i * 0.04, 0.22]);
      for (let i = 1; i <= 14; i++) pts.push([0.7 - i * 0.018, 0.22 + i * 0.045]);
      await demo.page.mouse.move(pad.x + pts[0][0] * pad.width, pad.y + pts[0][1] * pad.height);
      await demo.page.mouse.down();
      for (const [x, y] of pts) await demo.page.mouse.move(pad.x + x * pad.width, pad.y + y * pad.height, { steps: 2 });
      await demo.page.mouse.up();
      await demo.page.click("#sample");
      await demo.page.waitForFunction(() => document.querySelectorAll("#top5 li").length === 5 && document.getElementById("digit").textContent !== "?", null, { timeout: 60_000 });
      await demo.page.waitForTimeout(300); // the last stroke's run
      out.ui = await demo.eval(async () => (await window.demo).showing());
      if (plan.screenshot) await demo.page.screenshot({ path: plan.screenshot });
    }
    await demo.close();
    save();

    // The check page: the package's tests, the main-thread load of a big
    // module, the Worker's effect on the main thread, the ORT-web snippet.
    t = performance.now();
    const check = await b.open(`${plan.url}test/check.html`);
    out.packageTests = await check.eval(async () => {
      while (!window.check) await new Promise((r) => setTimeout(r, 20));
      return window.check.packageTests();
    });
    log(`package tests: ${out.packageTests.filter((r) => r.ok).length}/${out.packageTests.length} ok, ${(performance.now() - t).toFixed(0)} ms`);
    const big = plan.models.find((m) => m.name === plan.big);
    out.mainThread = await check.eval(({ name, sets }) => window.check.mainThread(name, [...Array(sets).keys()]), big);
    out.blocking = await check.eval(({ name, runs }) => window.check.blocking(name, runs), { name: plan.big, runs: plan.blockingRuns });
    out.snippets = {};
    for (const which of ["mlc", "ort"]) {
      for (const m of plan.models) {
        out.snippets[`${which}/${m.name}`] = await check.eval(({ which, name, dims, sets }) => window.check.snippet(which, name, dims, [...Array(sets).keys()]), { which, ...m });
      }
    }
    await check.close();
    save();
    log(`checks: ${(performance.now() - t).toFixed(0)} ms`);

    // Fetch to first result, mlc vs onnxruntime-web, each in a fresh context, alternating.
    if (plan.coldstart > 0) {
      out.coldstart = { mlc: [], ort: [] };
      for (let i = 0; i < plan.coldstart; i++) {
        for (const engine of i % 2 ? ["ort", "mlc"] : ["mlc", "ort"]) {
          const p = await b.open(`${plan.url}test/coldstart.html?engine=${engine}&model=${big.name}&dims=${big.dims}`, { fresh: true });
          const r = await p.eval(() => window.coldstart);
          await p.close();
          out.coldstart[engine].push({ ms: r.ms, output: r.output });
        }
      }
      log(`fetch to first result (ms): mlc ${out.coldstart.mlc.map((r) => r.ms.toFixed(0))}, ort ${out.coldstart.ort.map((r) => r.ms.toFixed(0))}`);
      save();
    }
  } finally {
    save();
    await b.close();
  }
}

main().catch((e) => {
  console.error(`[${plan.browser}] ${e.stack || e}`);
  process.exit(1);
});

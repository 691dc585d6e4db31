// Checks run in a page by drive.mjs; each returns plain JSON-able data and
// leaves judging it (goldens, tolerances) to the Go test.
import { load, loadWorker } from "/runtime/mlc.mjs";
import { cases } from "/runtime/tests/cases.mjs";
import { inputOf } from "./data.mjs";

const firstOutput = (model, out) => Array.from(out[model.outputs[0].name].data);

// Watches the main thread: long tasks (over 50 ms) where the browser reports
// them (Chromium's Long Tasks API), and the gaps between setTimeout(0) ticks
// (a blocked thread cannot tick; on a loaded machine a gap also holds the
// time the thread waited for a core).
function watchMainThread() {
  const long = [];
  let observer = null;
  if (typeof PerformanceObserver !== "undefined" && (PerformanceObserver.supportedEntryTypes || []).includes("longtask")) {
    observer = new PerformanceObserver((list) => long.push(...list.getEntries().map((e) => e.duration)));
    observer.observe({ type: "longtask" });
  }
  const ticks = []; // [time, gap before it]
  let last = performance.now();
  let on = true;
  const tick = () => {
    const now = performance.now();
    ticks.push([now, now - last]);
    last = now;
    if (on) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  // stop(spans): spans are [start, end] times of runs; each gets the longest gap that ended inside it.
  return async (spans = []) => {
    await new Promise((r) => setTimeout(r, 20));
    on = false;
    if (observer) {
      long.push(...observer.takeRecords().map((e) => e.duration));
      observer.disconnect();
    }
    const maxGapMs = Math.max(0, ...ticks.map(([, g]) => g));
    const perRun = spans.map(([a, b]) => Math.max(0, ...ticks.filter(([t]) => t >= a && t <= b + 5).map(([, g]) => g)));
    return { maxGapMs, perRunGapMs: perRun, longTasksMs: long, longTaskAPI: observer !== null };
  };
}

window.check = {
  // The package's own tests (runtime-shim/js/tests/cases.mjs), in this page.
  async packageTests() {
    const url = new URL("/runtime/tests/fixtures/tiny_cnn.wasm", location.href).href;
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const threaded = new Uint8Array(await (await fetch(new URL("/runtime/tests/fixtures/tiny_cnn_threads.wasm", location.href))).arrayBuffer());
    const env = { bytes, url, threaded, response: (type) => new Response(bytes.slice(), { headers: { "content-type": type } }) };
    const results = [];
    for (const c of cases(env)) {
      const t0 = performance.now();
      try {
        await c.fn();
        results.push({ name: c.name, ok: true, ms: performance.now() - t0 });
      } catch (e) {
        results.push({ name: c.name, ok: false, error: String((e && e.stack) || e) });
      }
    }
    return results;
  },

  // load() from a URL on the main thread (a module over 8 MB is where a
  // synchronous compile would be refused), then every data set.
  async mainThread(name, sets) {
    const t0 = performance.now();
    const model = await load(`/models/${name}.wasm`);
    const loadMs = performance.now() - t0;
    const entry = performance.getEntriesByName(new URL(`/models/${name}.wasm`, location.href).href).pop();
    const outputs = [];
    for (const k of sets) outputs.push(firstOutput(model, model.run({ [model.inputs[0].name]: await inputOf(name, k) })));
    return { loadMs, bytes: entry ? entry.decodedBodySize : 0, outputs };
  },

  // Runs the model `runs` times in a Worker while watching the main thread.
  // Then a control: the same model on the main thread, run repeatedly in one
  // task of at least 150 ms, which the watch must see (so it can fail).
  async blocking(name, runs) {
    const input = await inputOf(name, 0);
    const feed = (m) => ({ [m.inputs[0].name]: input.slice() });
    const w = await loadWorker(`/models/${name}.wasm`);
    await w.run(feed(w)); // the first run is not what is measured
    let stop = watchMainThread();
    await new Promise((r) => setTimeout(r, 10));
    const spans = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await w.run(feed(w));
      spans.push([t, performance.now()]);
    }
    const worker = { ...(await stop(spans)), runsMs: spans.map(([a, b]) => b - a) };
    await w.terminate();
    const m = await load(`/models/${name}.wasm`);
    m.run(feed(m));
    stop = watchMainThread();
    await new Promise((r) => setTimeout(r, 10));
    const blockedMs = [];
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      while (performance.now() - t < 150) m.run(feed(m));
      blockedMs.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
    const control = { ...(await stop()), blockedMs };
    return { worker, control };
  },

  // The onnxruntime-web snippet with either import: "mlc" (the adapter, on
  // the .wasm) or "ort" (onnxruntime-web itself, on the .onnx, one thread).
  async snippet(which, name, dims, sets) {
    const mod = await import(`./snippet-${which}.mjs`);
    if (which === "ort") {
      mod.ort.env.wasm.numThreads = 1;
      mod.ort.env.wasm.proxy = false;
    }
    const url = which === "ort" ? `/onnx/${name}/model.onnx` : `/models/${name}.wasm`;
    const outputs = [];
    let type = "";
    for (const k of sets) {
      const r = await mod.classify(url, await inputOf(name, k), dims);
      outputs.push(Array.from(r.data));
      type = `${r.type}[${r.dims}]`;
    }
    return { type, outputs };
  },
};
window.checkReady = true;

// The demo: two models, each loaded into a Worker through its typed bindings
// (written by `mlc compile --emit js`, see build.sh). The page's main thread
// only draws and preprocesses; every run happens in a worker.
import * as mnist from "./models/mnist_cntk.mjs";
import * as mobilenet from "./models/mobilenet_v2.mjs";

const $ = (id) => document.getElementById(id);

function fmtBytes(n) {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${Math.round(n / 1024)} KB`;
}

function softmax(x) {
  const m = Math.max(...x);
  const e = Array.from(x, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

// A model in a worker, with the figures the page states: module size, load
// time (fetch start to ready) and run latency (round trip to the worker).
async function start(binding, statsEl) {
  const t0 = performance.now();
  const model = await binding.loadWorker();
  const loadMs = performance.now() - t0;
  const entry = performance.getEntriesByName(binding.wasmURL.href).pop();
  const bytes = entry ? entry.encodedBodySize || entry.decodedBodySize : 0;
  const file = binding.wasmURL.pathname.split("/").pop();
  const times = [];
  const show = () => {
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted.length ? sorted[sorted.length >> 1] : 0;
    const runs = times.length ? ` · latency ${times[times.length - 1].toFixed(1)} ms (median ${median.toFixed(1)} ms of ${times.length})` : "";
    statsEl.textContent = `${file} ${fmtBytes(bytes)} · loaded in ${loadMs.toFixed(0)} ms${runs}`;
  };
  show();
  // Runs one input; resolves to the first output's data and the latency.
  async function run(data) {
    const t = performance.now();
    const out = await model.run({ [binding.inputs[0].name]: data });
    const ms = performance.now() - t;
    times.push(ms);
    show();
    return { data: out[binding.outputs[0].name].data, ms };
  }
  return { model, run, loadMs, bytes, times };
}

// ---- MNIST: the drawing pad ---------------------------------------------------

const pad = $("pad");
const pen = pad.getContext("2d", { willReadFrequently: true });
pen.fillStyle = "#000";
pen.fillRect(0, 0, pad.width, pad.height);

// The pad as MNIST sees digits: the ink's bounding box scaled into 20x20,
// centred in 28x28, white on black, values in [0, 1].
function digitPixels() {
  const { width, height } = pad;
  const img = pen.getImageData(0, 0, width, height).data;
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (img[(y * width + x) * 4] > 16) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  const g = small.getContext("2d", { willReadFrequently: true });
  g.fillStyle = "#000";
  g.fillRect(0, 0, 28, 28);
  if (x1 < 0) return null;
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const scale = 20 / Math.max(w, h);
  g.imageSmoothingQuality = "high";
  g.drawImage(pad, x0, y0, w, h, 14 - (w * scale) / 2, 14 - (h * scale) / 2, w * scale, h * scale);
  const px = g.getImageData(0, 0, 28, 28).data;
  const out = new Float32Array(28 * 28);
  for (let i = 0; i < out.length; i++) out[i] = px[i * 4] / 255;
  return out;
}

function showDigit(logits) {
  const p = softmax(logits);
  const best = p.indexOf(Math.max(...p));
  $("digit").textContent = String(best);
  $("confidence").textContent = `${(p[best] * 100).toFixed(1)}% sure`;
  $("bars").replaceChildren(
    ...p.map((v, d) => {
      const li = document.createElement("li");
      li.innerHTML = `<span>${d}</span><span class="bar" style="width:${(v * 100).toFixed(1)}%"></span><span class="v">${(v * 100).toFixed(1)}%</span>`;
      return li;
    }),
  );
}

// ---- mobilenet_v2: the image classifier ------------------------------------------

const photo = $("photo");
const brush = photo.getContext("2d", { willReadFrequently: true });
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

// torchvision's preprocessing: shorter side to 256, centre crop 224, RGB
// planes normalized by ImageNet's mean and deviation, NCHW.
function drawPhoto(source, w, h) {
  const scale = 256 / Math.min(w, h);
  const [sw, sh] = [224 / scale, 224 / scale];
  brush.drawImage(source, (w - sw) / 2, (h - sh) / 2, sw, sh, 0, 0, 224, 224);
}

function photoTensor() {
  const px = brush.getImageData(0, 0, 224, 224).data;
  const plane = 224 * 224;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = (px[i * 4 + c] / 255 - MEAN[c]) / STD[c];
  }
  return out;
}

function showTop5(logits) {
  const p = softmax(logits);
  const top = [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, 5);
  $("top5").replaceChildren(
    ...top.map((k) => {
      const li = document.createElement("li");
      li.innerHTML = `class ${k}<span class="p">${(p[k] * 100).toFixed(2)}%</span>`;
      return li;
    }),
  );
}

// A made-up scene, so the classifier has something to look at without a file.
function sampleImage() {
  const c = document.createElement("canvas");
  c.width = c.height = 256;
  const g = c.getContext("2d");
  const sky = g.createLinearGradient(0, 0, 0, 256);
  sky.addColorStop(0, "#7fb2f0");
  sky.addColorStop(1, "#e8f1fb");
  g.fillStyle = sky;
  g.fillRect(0, 0, 256, 256);
  g.fillStyle = "#f6c945";
  g.beginPath();
  g.arc(190, 60, 30, 0, 2 * Math.PI);
  g.fill();
  g.fillStyle = "#4c8c4a";
  g.beginPath();
  g.moveTo(0, 200);
  g.quadraticCurveTo(90, 120, 256, 190);
  g.lineTo(256, 256);
  g.lineTo(0, 256);
  g.fill();
  g.fillStyle = "#8b5a2b";
  g.fillRect(70, 150, 14, 60);
  g.fillStyle = "#2f6b35";
  g.beginPath();
  g.arc(77, 140, 32, 0, 2 * Math.PI);
  g.fill();
  return c;
}

// ---- wiring -------------------------------------------------------------------------

// Runs fn on the latest input only: while a run is in flight, newer inputs replace older ones.
function latestOnly(fn) {
  let busy = false;
  let next = null;
  return async function go(input) {
    next = input;
    if (busy) return;
    busy = true;
    try {
      while (next !== null) {
        const x = next;
        next = null;
        await fn(x);
      }
    } finally {
      busy = false;
    }
  };
}

async function main() {
  $("env").textContent = `${navigator.userAgent.match(/(Chrome|Chromium|Firefox)\/[\d.]+/)?.[0] || navigator.userAgent} · ${navigator.hardwareConcurrency} cores · models run in Web Workers`;
  const [digits, images] = await Promise.all([start(mnist, $("mnist-stats")), start(mobilenet, $("mobilenet-stats"))]);

  const classifyDigit = latestOnly(async (pixels) => showDigit((await digits.run(pixels)).data));
  let drawing = false;
  let last = null;
  pad.addEventListener("pointerdown", (e) => {
    drawing = true;
    pad.setPointerCapture(e.pointerId);
    last = pos(e);
    stroke(last);
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    stroke(pos(e));
  });
  pad.addEventListener("pointerup", () => {
    drawing = false;
    last = null;
  });
  function pos(e) {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
  }
  function stroke(p) {
    pen.strokeStyle = "#fff";
    pen.lineWidth = 20;
    pen.lineCap = pen.lineJoin = "round";
    pen.beginPath();
    pen.moveTo(...last);
    pen.lineTo(...p);
    pen.stroke();
    last = p;
    const px = digitPixels();
    if (px) classifyDigit(px);
  }
  $("clear").addEventListener("click", () => {
    pen.fillStyle = "#000";
    pen.fillRect(0, 0, pad.width, pad.height);
    $("digit").textContent = "?";
    $("confidence").textContent = "draw a digit";
    $("bars").replaceChildren();
  });

  const classifyImage = latestOnly(async (x) => showTop5((await images.run(x)).data));
  $("file").addEventListener("change", async (e) => {
    const f = e.target.files[0];
    if (!f) return;
    const bmp = await createImageBitmap(f);
    drawPhoto(bmp, bmp.width, bmp.height);
    classifyImage(photoTensor());
  });
  $("sample").addEventListener("click", () => {
    drawPhoto(sampleImage(), 256, 256);
    classifyImage(photoTensor());
  });

  // For the browser test: the same models and paths the page uses.
  return {
    mnist: { run: (x) => digits.run(x), loadMs: digits.loadMs, bytes: digits.bytes, times: digits.times },
    mobilenet: { run: (x) => images.run(x), loadMs: images.loadMs, bytes: images.bytes, times: images.times },
    digitPixels,
    showing: () => ({ digit: $("digit").textContent, top5: [...$("top5").children].map((li) => li.textContent) }),
  };
}

window.demo = main();
window.demo.catch((e) => {
  document.body.insertAdjacentHTML("afterbegin", `<p style="color:#b42318;padding:10px 20px">${String(e.message || e)}</p>`);
  throw e;
});

// The test data set K of a model, as raw float32 (written beside the models by the Go test).
export async function inputOf(name, k = 0) {
  const res = await fetch(`/models/${name}.input_${k}.bin`);
  if (!res.ok) throw new Error(`no input ${k} for ${name}: HTTP ${res.status}`);
  return new Float32Array(await res.arrayBuffer());
}

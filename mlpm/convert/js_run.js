'use strict'
// Runs an ONNX model in onnxruntime-node on sample inputs, for mlpm's js-context parity check
// (mlpm/convert/js.py): one process, one session, as many runs as mlpm asks for.
//
// Arguments: a folder (where requests and answers are exchanged) and the model's path.
// mlpm writes request-K.json, {"samples": [[{"name", "dtype", "shape", "file"}, ...], ...]},
// with each file holding one tensor's little-endian bytes in C order, then writes the line
// K to stdin. This script runs the samples and writes reply-K.json, {"runtime": {...},
// "samples": [[{"name", "dtype", "shape", "file"}, ...], ...]} with the outputs in the
// model's output order (or {"error": TEXT}), then the line "mlpm-done K" to stdout. It exits
// when stdin closes. onnxruntime-node is found through NODE_PATH (mlpm sets it).

const fs = require('fs')
const path = require('path')
const readline = require('readline')

// ONNX Runtime's tensor type -> the typed array its bytes are read into.
const ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
}

function readTensor (ort, dir, spec) {
  const Array = ARRAYS[spec.dtype]
  if (!Array) throw new Error(`input '${spec.name}' has dtype ${spec.dtype}, which this check cannot feed`)
  const bytes = fs.readFileSync(path.join(dir, path.basename(spec.file)))
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  return new ort.Tensor(spec.dtype, new Array(copy), spec.shape)
}

// Sample names -> the model's input names: equal, or with TensorFlow's ":0", else by position.
function feeds (session, sample, tensors) {
  const names = session.inputNames
  const out = {}
  sample.forEach((spec, i) => {
    const name = names.includes(spec.name) ? spec.name
      : names.includes(spec.name + ':0') ? spec.name + ':0' : names[i]
    out[name] = tensors[i]
  })
  return out
}

function writeTensor (dir, file, tensor) {
  const data = tensor.data
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  fs.writeFileSync(path.join(dir, file), bytes)
}

async function answer (ort, session, dir, k) {
  const request = JSON.parse(fs.readFileSync(path.join(dir, `request-${k}.json`), 'utf8'))
  const samples = []
  for (const [i, sample] of request.samples.entries()) {
    const tensors = sample.map((spec) => readTensor(ort, dir, spec))
    const results = await session.run(feeds(session, sample, tensors))
    samples.push(session.outputNames.map((name, j) => {
      const tensor = results[name]
      const file = `out-${k}-${i}-${j}.bin`
      writeTensor(dir, file, tensor)
      return { name, dtype: tensor.type, shape: Array.from(tensor.dims), file }
    }))
  }
  const pkg = require('onnxruntime-node/package.json')
  return { runtime: { node: process.versions.node, 'onnxruntime-node': pkg.version }, samples }
}

async function main () {
  const [dir, model] = process.argv.slice(2)
  let ort = null
  // loaded once, while mlpm writes the first request; a failure is the answer to each
  const ready = (async () => {
    ort = require('onnxruntime-node')
    return ort.InferenceSession.create(model,
      { executionProviders: ['cpu'], graphOptimizationLevel: 'all' })
  })()
  ready.catch(() => {})
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const k = line.trim()
    if (!/^[0-9]+$/.test(k)) continue
    let reply
    try {
      reply = await answer(ort, await ready, dir, k)
    } catch (er) {
      reply = { error: String((er && er.message) || er) }
    }
    fs.writeFileSync(path.join(dir, `reply-${k}.json`), JSON.stringify(reply))
    process.stdout.write(`mlpm-done ${k}\n`)
  }
}

main()

'use strict'
// What a JavaScript application does with the file mlpm.path(name, context="js") gives:
// load it in onnxruntime-node and run it. Used by tests/e2e/test_js_context.py.
//
// argv[2]: the .onnx file. stdin: {"INPUT": {"shape": [...], "data": [...]}} (float32).
// stdout: {"outputs": [{"name", "dims", "data"}]} in the model's output order.

const fs = require('fs')
const ort = require('onnxruntime-node')

async function main () {
  const inputs = JSON.parse(fs.readFileSync(0, 'utf8'))
  const session = await ort.InferenceSession.create(process.argv[2])
  const feeds = {}
  for (const [name, value] of Object.entries(inputs)) {
    feeds[name] = new ort.Tensor('float32', Float32Array.from(value.data), value.shape)
  }
  const results = await session.run(feeds)
  const outputs = session.outputNames.map((name) => ({
    name, dims: Array.from(results[name].dims), data: Array.from(results[name].data)
  }))
  process.stdout.write(JSON.stringify({ inputs: session.inputNames, outputs }))
}

main().catch((er) => { console.error(String(er)); process.exit(1) })

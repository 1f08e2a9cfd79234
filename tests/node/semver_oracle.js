'use strict'
// The reference answers for tests/unit/test_semver_node.py: read a JSON list of questions on
// stdin, answer each with the pinned node-semver, write a JSON list on stdout.
//
// A question is [op, ...args]; an answer is {value} or {error} (the thrown message).
// satisfies also reports whether node could read the range and the version, because
// node answers false for unreadable input where mlpm raises.

const semver = require('semver')

const attempt = (fn) => {
  try {
    return { value: fn() }
  } catch (er) {
    return { error: String(er && er.message) }
  }
}

const readable = {
  range: (r) => attempt(() => new semver.Range(r)).error === undefined,
  version: (v) => attempt(() => new semver.SemVer(v)).error === undefined,
}

const ops = {
  range: (r) => attempt(() => new semver.Range(r).range),
  validRange: (r) => ({ value: semver.validRange(r) }),
  valid: (v) => ({ value: semver.valid(v) }),
  parse: (v) => attempt(() => {
    const p = new semver.SemVer(v)
    return [p.major, p.minor, p.patch, p.prerelease, p.build, p.version]
  }),
  satisfies: (v, r) => ({
    value: semver.satisfies(v, r),
    rangeOk: readable.range(r),
    versionOk: readable.version(v),
  }),
  maxSatisfying: (vs, r) => ({ value: semver.maxSatisfying(vs, r), rangeOk: readable.range(r) }),
  minSatisfying: (vs, r) => ({ value: semver.minSatisfying(vs, r), rangeOk: readable.range(r) }),
  subset: (a, b) => attempt(() => semver.subset(a, b)),
  intersects: (a, b) => attempt(() => semver.intersects(a, b)),
  compare: (a, b) => attempt(() => semver.compare(a, b)),
  // JSON null stands for an argument left out.
  inc: (v, release, identifier, base) => ({
    value: semver.inc(v, release, {}, identifier ?? undefined, base ?? undefined),
  }),
}

let input = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk) => {
  input += chunk
})
process.stdin.on('end', () => {
  const questions = JSON.parse(input)
  const answers = questions.map(([op, ...args]) => {
    if (!ops[op]) {
      throw new Error(`unknown question: ${op}`)
    }
    return ops[op](...args)
  })
  process.stdout.write(JSON.stringify({ version: require('semver/package.json').version, answers }))
})

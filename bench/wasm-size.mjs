#!/usr/bin/env node
// What each crate costs in the Worker's wasm: `node bench/wasm-size.mjs [FILE.wasm]`.
//
// Reads a wasm that still has its name section (by default the crate's own
// target/wasm32-unknown-unknown/release/edge_token.wasm, optimised here with `wasm-opt -O -g`
// as scripts/build.sh does but keeping the names), sums the size of each function's body by the
// crate its (mangled) name starts with, and prints the crates, the largest functions and the
// data section. A dependency-free stand-in for `twiggy top`, attributed by crate. The figures
// are of code before wasm-bindgen's own small changes, so they add up to within a few KB of
// build/index_bg.wasm. Also prints build/index_bg.wasm's raw and gzip -9 size.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const ROOT = join(import.meta.dirname, '..');
const TARGET = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
const FEATURES = ['mutable-globals', 'sign-ext', 'nontrapping-float-to-int', 'bulk-memory', 'multivalue',
  'reference-types', 'exception-handling'].map((f) => `--enable-${f}`);

function named(file) {
  if (file) return readFileSync(file);
  const raw = join(TARGET, 'wasm32-unknown-unknown', 'release', 'edge_token.wasm');
  if (!existsSync(raw)) throw new Error(`${raw} is missing: run scripts/build.sh first`);
  const out = join(TARGET, 'edge_token.named.wasm');
  execFileSync(join(ROOT, 'node_modules', '.bin', 'wasm-opt'), [raw, '-O', '-g', ...FEATURES, '-o', out]);
  return readFileSync(out);
}

/** Sections of a wasm module: function imports, body sizes, names, data size. */
function parse(buf) {
  let at = 8;
  const u32 = () => {
    let result = 0, shift = 0, byte;
    do { byte = buf[at++]; result |= (byte & 0x7f) << shift; shift += 7; } while (byte & 0x80);
    return result >>> 0;
  };
  const str = () => { const n = u32(); const s = buf.toString('utf8', at, at + n); at += n; return s; };
  const out = { imports: 0, bodies: [], names: new Map(), data: 0 };
  while (at < buf.length) {
    const id = buf[at++], size = u32(), end = at + size;
    if (id === 2) { // imports: count the functions, which come first in the index space
      for (let n = u32(); n > 0; n--) {
        str(); str();
        const kind = buf[at++];
        if (kind === 0) { u32(); out.imports++; }
        else if (kind === 1) { at++; const f = buf[at++]; u32(); if (f & 1) u32(); }
        else if (kind === 2) { const f = buf[at++]; u32(); if (f & 1) u32(); }
        else if (kind === 3) { at += 2; }
        else if (kind === 4) { at++; u32(); }
      }
    } else if (id === 10) {
      for (let n = u32(); n > 0; n--) { const len = u32(); out.bodies.push(len); at += len; }
    } else if (id === 11) {
      out.data = size;
    } else if (id === 0 && str() === 'name') {
      while (at < end) {
        const sub = buf[at++], len = u32(), subEnd = at + len;
        if (sub === 1) for (let n = u32(); n > 0; n--) { const idx = u32(); out.names.set(idx, str()); }
        at = subEnd;
      }
    }
    at = end;
  }
  return out;
}

/** The crate a mangled Rust name belongs to (for `<T as Trait>::f`, T's crate). */
function crate(name) {
  const m = /^_ZN(\d+)(.*)$/.exec(name);
  if (!m) return name.startsWith('__wbg') || name.includes('wasm_bindgen') ? 'wasm-bindgen glue' : `(other: ${name.slice(0, 30)})`;
  let first = m[2].slice(0, +m[1]);
  first = first.replace(/^_?\$LT\$/, '').replace(/^\$RF\$/, '').replace(/^(mut\$u20\$|\$u5b\$)/, '');
  return first.split(/\.\.|\$/)[0] || '(unnamed)';
}

const file = process.argv[2];
const wasm = parse(named(file));
const byCrate = new Map();
const fns = wasm.bodies.map((size, i) => ({ size, name: wasm.names.get(i + wasm.imports) ?? `#${i}` }));
for (const f of fns) byCrate.set(crate(f.name), (byCrate.get(crate(f.name)) ?? 0) + f.size);
const code = fns.reduce((a, f) => a + f.size, 0);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`.padStart(9);
console.log(`code ${kb(code)} in ${fns.length} functions; data ${kb(wasm.data)}`);
console.log('\nby crate:');
for (const [name, size] of [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${kb(size)}  ${name}`);
console.log('\nlargest functions:');
for (const f of fns.sort((a, b) => b.size - a.size).slice(0, 25)) console.log(`${kb(f.size)}  ${f.name.slice(0, 110)}`);
const built = join(ROOT, 'build', 'index_bg.wasm');
if (!file && existsSync(built)) {
  const b = readFileSync(built);
  console.log(`\nbuild/index_bg.wasm: ${b.length} B raw, ${gzipSync(b, { level: 9 }).length} B gzip -9`);
}

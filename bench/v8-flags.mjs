#!/usr/bin/env node
// Reads the binary workerd config that Miniflare writes to workerd's stdin (a Cap'n Proto
// message, stream framing, root `Config`), sets `Config.v8Flags` (capnp field 2, a list of
// text) to the flags in WORKERD_V8_FLAGS (separated by spaces), and writes the message to
// stdout. Miniflare exposes no option for V8 flags; bench/workerd-v8.sh runs this between
// Miniflare and workerd (see bench/README.md, "Profile"). The words are appended to the root's
// segment: offsets within a segment and far pointers into it stay valid. Refuses a message
// whose root is not a struct pointer or whose config already has V8 flags.
import { readFileSync, writeFileSync } from 'node:fs';

/** The framed message's segments, each a Buffer of whole words. */
function segmentsOf(buf) {
  const count = buf.readUInt32LE(0) + 1;
  let at = 4 * (count + 1);
  at += at % 8;
  const segments = [];
  for (let i = 0; i < count; i++) {
    const bytes = buf.readUInt32LE(4 + 4 * i) * 8;
    if (at + bytes > buf.length) throw new Error('the config message is truncated');
    segments.push(buf.subarray(at, at + bytes));
    at += bytes;
  }
  return segments;
}

/** The segments framed again, as Cap'n Proto's stream format. */
function framed(segments) {
  const head = Buffer.alloc(4 * (segments.length + 1) + (segments.length % 2 ? 0 : 4));
  head.writeUInt32LE(segments.length - 1, 0);
  segments.forEach((s, i) => head.writeUInt32LE(s.length / 8, 4 + 4 * i));
  return Buffer.concat([head, ...segments]);
}

/** A list pointer at word `from` to a list starting at word `to`, of `count` elements of `size`. */
function listPointer(from, to, size, count) {
  const p = Buffer.alloc(8);
  p.writeUInt32LE((((to - from - 1) << 2) | 1) >>> 0, 0);
  p.writeUInt32LE(((count << 3) | size) >>> 0, 4);
  return p;
}

/** Segment 0 with a list of texts appended, pointed at by the root struct's pointer `slot`. */
function withTextList(seg, slot, texts) {
  const root = seg.readBigUInt64LE(0);
  if ((root & 3n) !== 0n) throw new Error('the config root is not a struct pointer in segment 0');
  const offset = Number(BigInt.asIntN(30, (root >> 2n) & 0x3fffffffn));
  const dataWords = Number((root >> 32n) & 0xffffn);
  const pointers = Number((root >> 48n) & 0xffffn);
  if (slot >= pointers) throw new Error(`the config struct has no pointer ${slot}`);
  const at = 1 + offset + dataWords + slot; // the word of the pointer to set
  if (seg.readBigUInt64LE(at * 8) !== 0n) throw new Error('the config already sets V8 flags');
  const start = seg.length / 8; // the list of text pointers, appended
  let next = start + texts.length; // the first text's word
  const words = texts.map((t, i) => {
    const bytes = Buffer.byteLength(t) + 1; // NUL-terminated
    const p = listPointer(start + i, next, 2, bytes);
    next += Math.ceil(bytes / 8);
    return p;
  });
  const bodies = texts.map((t) => {
    const b = Buffer.alloc(Math.ceil((Buffer.byteLength(t) + 1) / 8) * 8);
    b.write(t);
    return b;
  });
  const out = Buffer.concat([seg, ...words, ...bodies]);
  listPointer(at, start, 6, texts.length).copy(out, at * 8);
  return out;
}

const flags = (process.env.WORKERD_V8_FLAGS ?? '').split(/\s+/).filter(Boolean);
const segments = segmentsOf(readFileSync(0));
if (flags.length) segments[0] = withTextList(segments[0], 2, flags);
writeFileSync(1, framed(segments));

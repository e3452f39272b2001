// Sets the V8 flags of a workerd configuration (Config.v8Flags, workerd.capnp), for
// bench/instructions.mjs: Miniflare has no option for them, and workerd takes them only from its
// configuration, which Miniflare writes to workerd's stdin as a binary Cap'n Proto message.
//   node bench/v8-flags.mjs <flag>... < config.bin > with-flags.bin
// The flags are appended to the message's first segment and the root struct's v8Flags pointer
// (pointer 2) is set to them, following the Cap'n Proto encoding
// (https://capnproto.org/encoding.html). Anything unexpected (a root that is not a struct in the
// first segment, v8Flags already set) is refused rather than guessed at.
import { readFileSync, writeSync } from "node:fs";

const V8_FLAGS_POINTER = 2;

/** `message` (a Buffer holding a binary Cap'n Proto Config) with its v8Flags set to `flags`. */
export function withV8Flags(message, flags) {
  const segments = message.readUInt32LE(0) + 1;
  const headerWords = Math.ceil((4 * (1 + segments)) / 8);
  const sizes = Array.from({ length: segments }, (_, i) => message.readUInt32LE(4 + 4 * i));
  const first = message.subarray(8 * headerWords, 8 * (headerWords + sizes[0]));
  const rest = message.subarray(8 * (headerWords + sizes[0]));
  const word = (at) => first.readBigUInt64LE(8 * at);

  const root = word(0);
  if ((root & 3n) !== 0n) throw new Error("v8-flags: the root pointer is not a struct pointer");
  const offset = Number(BigInt.asIntN(30, (root & 0xffffffffn) >> 2n));
  const dataWords = Number((root >> 32n) & 0xffffn);
  const pointers = Number((root >> 48n) & 0xffffn);
  if (pointers <= V8_FLAGS_POINTER) throw new Error("v8-flags: the root struct has no v8Flags pointer");
  const slot = 1 + offset + dataWords + V8_FLAGS_POINTER;
  if (word(slot) !== 0n) throw new Error("v8-flags: the configuration sets v8Flags already");

  // Appended after the first segment's words: the list of text pointers, then each text.
  const texts = flags.map((flag) => Buffer.from(`${flag}\0`, "utf8"));
  const listAt = sizes[0];
  const textWords = texts.map((t) => Math.ceil(t.length / 8));
  const added = Buffer.alloc(8 * (texts.length + textWords.reduce((a, b) => a + b, 0)));
  const listPointer = (from, to, sizeCode, count) =>
    (BigInt(count) << 35n) | (BigInt(sizeCode) << 32n) | ((BigInt(to - from - 1) & 0x3fffffffn) << 2n) | 1n;
  let at = listAt + texts.length;
  texts.forEach((text, i) => {
    added.writeBigUInt64LE(listPointer(listAt + i, at, 2, text.length), 8 * i);
    text.copy(added, 8 * (at - listAt));
    at += textWords[i];
  });
  const patched = Buffer.concat([first, added]);
  patched.writeBigUInt64LE(listPointer(slot, listAt, 6, texts.length), 8 * slot);

  const header = Buffer.alloc(8 * headerWords);
  header.writeUInt32LE(segments - 1, 0);
  sizes.forEach((size, i) => header.writeUInt32LE(i === 0 ? size + added.length / 8 : size, 4 + 4 * i));
  return Buffer.concat([header, patched, rest]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = withV8Flags(readFileSync(0), process.argv.slice(2));
  writeSync(1, out);
}

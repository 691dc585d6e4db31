// The runtime's one reader of WebAssembly binary structure: the section
// list, LEB128 integers and the encoder splitData needs. mlc.mjs (the mlc
// custom section, the passive data segments) and threads.mjs (the memory
// import) both walk module bytes; every read is bounds-checked here, so a
// truncated or hostile module fails with an error instead of reading past
// its end or looping.

/** A cursor over module bytes that refuses to read past `end`. */
export class ByteReader {
  /**
   * @param {Uint8Array} bytes
   * @param {number} [pos]
   * @param {number} [end]
   */
  constructor(bytes, pos = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
  }

  /** One byte. */
  byte() {
    if (this.pos >= this.end) throw new Error("truncated WebAssembly module");
    return this.bytes[this.pos++];
  }

  /** An unsigned LEB128 integer of at most 32 bits. */
  u32() {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return v;
      mul *= 128;
    }
    throw new Error("malformed WebAssembly module: LEB128 integer longer than 5 bytes");
  }

  /**
   * Skips n bytes.
   * @param {number} n
   */
  skip(n) {
    if (n > this.end - this.pos) throw new Error("truncated WebAssembly module");
    this.pos += n;
  }
}

/**
 * The sections of a module, in order: id, where the section starts (its id
 * byte), where its body starts and where it ends.
 * @param {Uint8Array} bytes
 * @returns {Generator<{id: number, start: number, body: number, end: number}>}
 */
export function* sections(bytes) {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new Error("not a WebAssembly module");
  }
  const r = new ByteReader(bytes, 8);
  while (r.pos < bytes.length) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    const body = r.pos;
    r.skip(size);
    yield { id, start, body, end: r.pos };
  }
}

/**
 * The name of a custom section (id 0) and where its payload starts.
 * @param {Uint8Array} bytes
 * @param {{body: number, end: number}} section
 */
export function customName(bytes, section) {
  const r = new ByteReader(bytes, section.body, section.end);
  const len = r.u32();
  const at = r.pos;
  r.skip(len);
  return { name: bytes.subarray(at, at + len), payload: r.pos };
}

/**
 * The unsigned LEB128 encoding of v.
 * @param {number} v
 */
export function uleb(v) {
  const out = [];
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return Uint8Array.from(out);
}

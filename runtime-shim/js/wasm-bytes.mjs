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
  yield* sectionsAt((pos, n) => bytes.subarray(pos, pos + n), bytes.length);
}

/**
 * sections() over a module read piecewise (a file), without holding it:
 * read(pos, n) returns the n bytes at pos, fewer past the end.
 * @param {(pos: number, n: number) => Uint8Array} read
 * @param {number} size the module's length
 * @returns {Generator<{id: number, start: number, body: number, end: number}>}
 */
export function* sectionsAt(read, size) {
  const magic = read(0, 4);
  if (size < 8 || magic[0] !== 0 || magic[1] !== 0x61 || magic[2] !== 0x73 || magic[3] !== 0x6d) {
    throw new Error("not a WebAssembly module");
  }
  let pos = 8;
  while (pos < size) {
    const r = new ByteReader(read(pos, 6)); // the id and a LEB128 size
    const id = r.byte();
    const length = r.u32();
    const body = pos + r.pos;
    if (length > size - body) throw new Error("truncated WebAssembly module");
    yield { id, start: pos, body, end: body + length };
    pos = body + length;
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

/**
 * A section as pieces of bytes: its id, its body's size and the body's
 * pieces (for concatBytes).
 * @param {number} id
 * @param {Uint8Array[]} body
 * @returns {Uint8Array[]}
 */
export function sectionPieces(id, body) {
  return [Uint8Array.of(id), uleb(body.reduce((n, b) => n + b.length, 0)), ...body];
}

/**
 * The pieces' bytes one after another, in one new array.
 * @param {Uint8Array[]} pieces
 */
export function concatBytes(pieces) {
  const out = new Uint8Array(pieces.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of pieces) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

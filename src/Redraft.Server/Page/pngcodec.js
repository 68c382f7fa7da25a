// @ts-check
// Exact PNG pixels in the page. A canvas stores premultiplied colour, so a layer read back through it, or a patch
// written through it, loses colour where alpha is low: a stroke would change pixels it never touched. Painting
// therefore decodes the layer's PNG and encodes the patch here, on straight RGBA bytes, with the browser's own
// zlib streams (DecompressionStream / CompressionStream).

/** @typedef {{width: number, height: number, data: Uint8ClampedArray}} Pixels straight RGBA, row by row */

/** @param {Uint8Array<ArrayBuffer>} bytes @param {"deflate"} format @param {boolean} compress @returns {Promise<Uint8Array<ArrayBuffer>>} */
async function zlib(bytes, format, compress) {
  const stream = new Blob([bytes]).stream().pipeThrough(compress ? new CompressionStream(format) : new DecompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** @param {number} a @param {number} b @param {number} c */
function paeth(a, b, c) {
  const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes an 8-bit, non-interlaced PNG (grey, grey+alpha, RGB or RGBA) to straight RGBA.
 * @param {ArrayBuffer} buffer @returns {Promise<Pixels>}
 */
export async function decodePng(buffer) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  if (view.getUint32(0) !== 0x89504e47) throw new Error("not a PNG file");
  let width = 0, height = 0, colourType = 0;
  /** @type {Uint8Array[]} */
  const idat = [];
  for (let at = 8; at + 8 <= bytes.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      const depth = data[8];
      colourType = data[9];
      if (depth !== 8 || data[12] !== 0 || ![0, 2, 4, 6].includes(colourType)) throw new Error(`PNG format not handled (depth ${depth}, colour type ${colourType}, interlace ${data[12]})`);
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
    at += 12 + length;
  }
  const joined = new Uint8Array(idat.reduce((n, d) => n + d.length, 0));
  idat.reduce((at, d) => (joined.set(d, at), at + d.length), 0);
  const raw = await zlib(joined, "deflate", false);
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colourType] ?? 4;
  const stride = width * channels;
  const rows = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = rows.subarray(y * stride, (y + 1) * stride);
    const above = y > 0 ? rows.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const left = i >= channels ? out[i - channels] : 0, up = above[i], corner = i >= channels ? above[i - channels] : 0;
      const predicted = filter === 1 ? left : filter === 2 ? up : filter === 3 ? (left + up) >> 1 : filter === 4 ? paeth(left, up, corner) : 0;
      out[i] = (line[i] + predicted) & 255;
    }
  }
  const data = new Uint8ClampedArray(width * height * 4);
  for (let p = 0, q = 0; p < width * height; p++, q += channels) {
    const grey = channels <= 2;
    data[p * 4] = rows[q];
    data[p * 4 + 1] = grey ? rows[q] : rows[q + 1];
    data[p * 4 + 2] = grey ? rows[q] : rows[q + 2];
    data[p * 4 + 3] = channels === 4 ? rows[q + 3] : channels === 2 ? rows[q + 1] : 255;
  }
  return { width, height, data };
}

/** @type {Uint32Array|null} */
let crcTable = null;

/** @param {Uint8Array} bytes */
function crc32(bytes) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** @param {string} type @param {Uint8Array<ArrayBuffer>} data @returns {Uint8Array<ArrayBuffer>} */
function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encodes straight RGBA (8-bit, no filter) as a PNG: the bytes given are the bytes stored.
 * @param {Pixels} pixels @returns {Promise<Blob>}
 */
export async function encodePng(pixels) {
  const { width, height, data } = pixels;
  const raw = new Uint8Array(height * (width * 4 + 1));
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 6, 0, 0, 0], 8);
  const signature = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
  return new Blob([signature, chunk("IHDR", header), chunk("IDAT", await zlib(raw, "deflate", true)), chunk("IEND", new Uint8Array())],
    { type: "image/png" });
}

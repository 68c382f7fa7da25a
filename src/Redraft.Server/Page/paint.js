// @ts-check
// Painting on a layer: a dab brush (size, colour, opacity, hardness, pen pressure), the eraser, the fill bucket, the
// eyedropper and "clear layer". A stroke is drawn live on an overlay; when the pen lifts it becomes ONE document
// operation: the brush and the fill as the studio's paint (the changed rectangle of the layer, blended here on exact
// straight-alpha pixels), the eraser and clear as its erase (a mask, so undo restores the pixels).

import { decodePng, encodePng } from "./pngcodec.js";

/** @typedef {import("./api.js").Layer} Layer */
/** @typedef {import("./pngcodec.js").Pixels} Pixels */
/** @typedef {{x: number, y: number, size: number}} Dab a dab in document pixels (size = diameter) */

/**
 * @typedef {object} BrushSettings
 * @property {number} size diameter in document pixels
 * @property {number} opacity 0–1, applied once per stroke (overlapping dabs do not build up)
 * @property {number} hardness 0 (soft edge) to 1 (hard edge)
 * @property {string} colour "#rrggbb"
 * @property {string} secondary the other colour (X swaps)
 * @property {boolean} pressure pen pressure changes the size
 * @property {number} smoothing 0 (the stroke follows the pointer exactly) to 0.9 (a steadier, trailing line)
 * @property {string[]} recent recently used colours, newest first
 */

/** Presets as painters start from them. */
export const PRESETS = /** @type {const} */ ({
  pencil: { size: 3, opacity: 1, hardness: 0.95 },
  ink: { size: 8, opacity: 1, hardness: 1 },
  marker: { size: 24, opacity: 0.8, hardness: 0.7 },
  airbrush: { size: 80, opacity: 0.35, hardness: 0 },
  blocker: { size: 48, opacity: 1, hardness: 0.85 },
});

const STORAGE_KEY = "redraft.brush";

/** @returns {BrushSettings} */
export function loadBrush() {
  /** @type {BrushSettings} */
  const defaults = { size: 12, opacity: 1, hardness: 0.8, colour: "#202020", secondary: "#ffffff", pressure: true, smoothing: 0, recent: [] };
  try {
    return { ...defaults, ...JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}") };
  } catch {
    return defaults;
  }
}

/** @param {BrushSettings} brush */
export function saveBrush(brush) {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(brush));
}

/** @param {string} hex @returns {[number, number, number]} */
export function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** @param {number} r @param {number} g @param {number} b */
export function hex(r, g, b) {
  return "#" + [r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("");
}

/** @type {Map<string, HTMLCanvasElement>} */
const dabCache = new Map();

/**
 * A round dab: full coverage inside hardness × radius, falling to none at the radius.
 * @param {number} diameter @param {number} hardness @param {string} colour @returns {HTMLCanvasElement}
 */
function dabImage(diameter, hardness, colour) {
  const size = Math.max(1, Math.ceil(diameter));
  const key = `${size}|${hardness.toFixed(2)}|${colour}`;
  let dab = dabCache.get(key);
  if (dab) return dab;
  dab = document.createElement("canvas");
  dab.width = dab.height = size + 2;
  const context = /** @type {CanvasRenderingContext2D} */ (dab.getContext("2d"));
  const r = diameter / 2, c = (size + 2) / 2;
  const gradient = context.createRadialGradient(c, c, Math.min(r * hardness, r - 0.5 > 0 ? r - 0.5 : 0), c, c, r);
  gradient.addColorStop(0, colour);
  gradient.addColorStop(1, colour + "00");
  context.fillStyle = gradient;
  context.beginPath();
  context.arc(c, c, r, 0, Math.PI * 2);
  context.fill();
  if (dabCache.size > 64) dabCache.delete(/** @type {string} */ (dabCache.keys().next().value));
  dabCache.set(key, dab);
  return dab;
}

/**
 * Stamps a dab centred at (x, y) in <context>'s pixels.
 * @param {CanvasRenderingContext2D} context @param {number} x @param {number} y @param {number} diameter
 * @param {number} hardness @param {string} colour
 */
export function stamp(context, x, y, diameter, hardness, colour) {
  const dab = dabImage(diameter, hardness, colour);
  context.drawImage(dab, x - dab.width / 2, y - dab.height / 2);
}

/**
 * The dabs along a pointer path, one every 15 % of the size (at least one pixel apart), so a fast stroke has no gaps.
 * @param {Dab} from @param {Dab} to @param {number} carry distance already travelled since the last dab
 * @returns {{dabs: Dab[], carry: number}}
 */
export function dabsBetween(from, to, carry) {
  const dx = to.x - from.x, dy = to.y - from.y, distance = Math.hypot(dx, dy);
  /** @type {Dab[]} */
  const dabs = [];
  let travelled = carry;
  let t = 0;
  while (true) {
    const size = from.size + (to.size - from.size) * t;
    const spacing = Math.max(1, 0.15 * size);
    const next = spacing - travelled;
    if (distance === 0 || t * distance + next > distance) break;
    t = (t * distance + next) / distance;
    dabs.push({ x: from.x + dx * t, y: from.y + dy * t, size: from.size + (to.size - from.size) * t });
    travelled = 0;
  }
  return { dabs, carry: travelled + (distance - t * distance) };
}

/**
 * The pointer positions an event stands for: the browser's coalesced moves (a fast pen sends more than one per frame),
 * or the event itself (a synthetic event has none). @param {PointerEvent} event @returns {PointerEvent[]}
 */
export function coalesced(event) {
  const list = event.getCoalescedEvents?.();
  return list && list.length ? list : [event];
}

/** Bounding box of dabs, in whole document pixels. @param {Dab[]} dabs */
export function bounds(dabs) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const d of dabs) {
    const r = d.size / 2 + 1;
    x0 = Math.min(x0, d.x - r); y0 = Math.min(y0, d.y - r); x1 = Math.max(x1, d.x + r); y1 = Math.max(y1, d.y + r);
  }
  return { x: Math.floor(x0), y: Math.floor(y0), width: Math.ceil(x1) - Math.floor(x0), height: Math.ceil(y1) - Math.floor(y0) };
}

/** Decoded layer images by hash (a few: the layers being painted). @type {Map<string, Promise<Pixels>>} */
const layerPixels = new Map();

/** The exact straight-alpha pixels of a layer's image. @param {Layer} layer @returns {Promise<Pixels>} */
export function pixelsOf(layer) {
  let pixels = layerPixels.get(layer.image);
  if (!pixels) {
    pixels = fetch(layer.url).then((r) => r.arrayBuffer()).then(decodePng);
    layerPixels.set(layer.image, pixels);
    if (layerPixels.size > 8) layerPixels.delete(/** @type {string} */ (layerPixels.keys().next().value));
  }
  return pixels;
}

/**
 * The coverage (0–255) of a stroke's dabs over a rectangle of the layer's own pixels: the dabs moved into the
 * layer's space (its position and scale) and stamped in white; alpha is stored exactly by a canvas.
 * @param {Dab[]} dabs @param {Layer} layer @param {{x: number, y: number, width: number, height: number}} rect
 * layer pixels @param {number} hardness @returns {Uint8ClampedArray} one byte per pixel
 */
export function coverage(dabs, layer, rect, hardness) {
  const canvas = document.createElement("canvas");
  canvas.width = rect.width;
  canvas.height = rect.height;
  const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d", { willReadFrequently: true }));
  for (const d of dabs) {
    stamp(context, (d.x - layer.x) / layer.scale - rect.x, (d.y - layer.y) / layer.scale - rect.y, d.size / layer.scale, hardness, "#ffffff");
  }
  const rgba = context.getImageData(0, 0, rect.width, rect.height).data;
  const alpha = new Uint8ClampedArray(rect.width * rect.height);
  for (let i = 0; i < alpha.length; i++) alpha[i] = rgba[i * 4 + 3];
  return alpha;
}

/** The rectangle of a stroke's dabs in the layer's pixels, clipped to the layer; null when it misses the layer. @param {Dab[]} dabs @param {Layer} layer */
export function layerRect(dabs, layer) {
  const b = bounds(dabs);
  const x0 = Math.max(0, Math.floor((b.x - layer.x) / layer.scale)), y0 = Math.max(0, Math.floor((b.y - layer.y) / layer.scale));
  const x1 = Math.min(layer.width, Math.ceil((b.x + b.width - layer.x) / layer.scale));
  const y1 = Math.min(layer.height, Math.ceil((b.y + b.height - layer.y) / layer.scale));
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}

/**
 * Paints <colour> at <opacity> through <cover> over a rectangle of the layer's pixels ("over", straight alpha, one
 * rounding): the patch the studio's paint operation writes. Pixels the stroke did not cover keep their bytes.
 * @param {Pixels} layer @param {{x: number, y: number, width: number, height: number}} rect
 * @param {Uint8ClampedArray} cover @param {string} colour @param {number} opacity @returns {Pixels}
 */
export function blendOver(layer, rect, cover, colour, opacity) {
  const [r, g, b] = rgb(colour);
  const data = new Uint8ClampedArray(rect.width * rect.height * 4);
  for (let y = 0; y < rect.height; y++) {
    for (let x = 0; x < rect.width; x++) {
      const i = (y * rect.width + x) * 4, j = ((rect.y + y) * layer.width + rect.x + x) * 4;
      const a = (cover[y * rect.width + x] / 255) * opacity;
      const dr = layer.data[j], dg = layer.data[j + 1], db = layer.data[j + 2], da = layer.data[j + 3] / 255;
      if (a === 0) {
        data[i] = dr; data[i + 1] = dg; data[i + 2] = db; data[i + 3] = layer.data[j + 3];
        continue;
      }
      const out = a + da * (1 - a);
      data[i] = Math.round((r * a + dr * da * (1 - a)) / out);
      data[i + 1] = Math.round((g * a + dg * da * (1 - a)) / out);
      data[i + 2] = Math.round((b * a + db * da * (1 - a)) / out);
      data[i + 3] = Math.round(out * 255);
    }
  }
  return { width: rect.width, height: rect.height, data };
}

/**
 * An erase mask over the whole layer (its own pixels; white = erase fully), from coverage over a rectangle.
 * @param {Layer} layer @param {{x: number, y: number, width: number, height: number}} rect
 * @param {Uint8ClampedArray} cover @param {number} opacity @returns {Pixels}
 */
export function eraseMask(layer, rect, cover, opacity) {
  const data = new Uint8ClampedArray(layer.width * layer.height * 4);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  for (let y = 0; y < rect.height; y++) {
    for (let x = 0; x < rect.width; x++) {
      const v = Math.round(cover[y * rect.width + x] * opacity);
      const j = ((rect.y + y) * layer.width + rect.x + x) * 4;
      data[j] = data[j + 1] = data[j + 2] = v;
    }
  }
  return { width: layer.width, height: layer.height, data };
}

/**
 * The pixels a fill bucket reaches from (x, y) in the layer: contiguous, each channel (alpha included) within
 * <tolerance> of the start pixel. @param {Pixels} layer @param {number} x @param {number} y @param {number} tolerance
 * @returns {{rect: {x: number, y: number, width: number, height: number}, cover: Uint8ClampedArray}|null}
 */
export function floodFill(layer, x, y, tolerance = 32) {
  const { width, height, data } = layer;
  if (x < 0 || y < 0 || x >= width || y >= height) return null;
  const start = (y * width + x) * 4;
  const seed = [data[start], data[start + 1], data[start + 2], data[start + 3]];
  const reached = new Uint8Array(width * height);
  const stack = [y * width + x];
  let x0 = x, y0 = y, x1 = x, y1 = y;
  while (stack.length) {
    const p = /** @type {number} */ (stack.pop());
    if (reached[p]) continue;
    const i = p * 4;
    if (Math.abs(data[i] - seed[0]) > tolerance || Math.abs(data[i + 1] - seed[1]) > tolerance
      || Math.abs(data[i + 2] - seed[2]) > tolerance || Math.abs(data[i + 3] - seed[3]) > tolerance) continue;
    reached[p] = 1;
    const px = p % width, py = (p - px) / width;
    x0 = Math.min(x0, px); x1 = Math.max(x1, px); y0 = Math.min(y0, py); y1 = Math.max(y1, py);
    if (px > 0) stack.push(p - 1);
    if (px < width - 1) stack.push(p + 1);
    if (py > 0) stack.push(p - width);
    if (py < height - 1) stack.push(p + width);
  }
  const rect = { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
  const cover = new Uint8ClampedArray(rect.width * rect.height);
  for (let yy = 0; yy < rect.height; yy++)
    for (let xx = 0; xx < rect.width; xx++) cover[yy * rect.width + xx] = reached[(y0 + yy) * width + x0 + xx] ? 255 : 0;
  return { rect, cover };
}

export { encodePng };

// @ts-check
// The painting tools on the canvas (brush B, eraser E, fill F, eyedropper I) and their options bar: colour with the
// recent colours and a second colour (X swaps), size ([ and ]), opacity, hardness, pen pressure, presets, clear layer.
// The pixel work is in paint.js; this module turns pointer gestures into document operations.

import * as api from "./api.js";
import {
  PRESETS, loadBrush, saveBrush, hex, stamp, dabsBetween, layerRect, coverage, blendOver, eraseMask, floodFill,
  pixelsOf, encodePng, coalesced,
} from "./paint.js";

/** @typedef {import("./api.js").Layer} Layer */
/** @typedef {import("./api.js").DocumentView} DocumentView */
/** @typedef {import("./stage.js").Stage} Stage */
/** @typedef {import("./paint.js").Dab} Dab */

/**
 * @typedef {object} PainterHost
 * @property {() => string|null} documentName
 * @property {() => Layer|null} target the layer strokes go to (the selected one, else the top drawn one)
 * @property {(request: () => Promise<DocumentView>) => Promise<DocumentView|undefined>} edit runs an edit and shows its answer
 * @property {() => Promise<Layer|null>} newLayer adds an empty layer on top and returns it
 * @property {(text: string, error?: boolean) => void} status
 */

/** @param {string} id @returns {any} */
const $ = (id) => document.getElementById(id);

const MAX_SIZE = 1000;
const RECENT = 10;

export class Painter {
  /** @param {Stage} stage @param {PainterHost} host */
  constructor(stage, host) {
    this.stage = stage;
    this.host = host;
    this.brush = loadBrush();
    this.bindBar();
    this.showBar();
  }

  /** The gestures the stage runs for each painting tool. @returns {Record<string, import("./stage.js").ToolGesture>} */
  gestures() {
    return {
      brush: (event, at) => this.stroke(event, at, false),
      eraser: (event, at) => this.stroke(event, at, true),
      fill: (_event, at) => { this.fill(at); return null; },
      eyedropper: (_event, at) => { this.pick(at); return null; },
    };
  }

  /** @param {string} tool the tool now in hand */
  toolChanged(tool) {
    const painting = tool === "brush" || tool === "eraser";
    this.stage.cursorSize = painting ? this.brush.size : 0;
    $("brush-bar").hidden = !["brush", "eraser", "fill", "eyedropper"].includes(tool);
  }

  // ------------------------------------------------------------------ the options bar

  bindBar() {
    const b = this.brush;
    const update = () => {
      saveBrush(b);
      this.showBar();
    };
    $("brush-colour").addEventListener("input", () => { b.colour = $("brush-colour").value; update(); });
    $("brush-colour").addEventListener("change", () => this.remember(b.colour));
    $("brush-swap").addEventListener("click", () => this.swap());
    $("brush-size").addEventListener("input", () => { b.size = Number($("brush-size").value); update(); });
    $("brush-opacity").addEventListener("input", () => { b.opacity = Number($("brush-opacity").value); update(); });
    $("brush-hardness").addEventListener("input", () => { b.hardness = Number($("brush-hardness").value); update(); });
    $("brush-pressure").addEventListener("change", () => { b.pressure = $("brush-pressure").checked; update(); });
    $("brush-smoothing").addEventListener("input", () => { b.smoothing = Number($("brush-smoothing").value); update(); });
    $("brush-preset").addEventListener("change", () => {
      const preset = PRESETS[/** @type {keyof typeof PRESETS} */ ($("brush-preset").value)];
      if (preset) Object.assign(b, preset);
      $("brush-preset").value = "";
      update();
    });
    $("clear-layer").addEventListener("click", () => this.clear());
  }

  showBar() {
    const b = this.brush;
    $("brush-colour").value = b.colour;
    $("brush-secondary").style.background = b.secondary;
    $("brush-size").value = String(b.size);
    $("brush-size-value").value = String(b.size);
    $("brush-opacity").value = String(b.opacity);
    $("brush-hardness").value = String(b.hardness);
    $("brush-pressure").checked = b.pressure;
    $("brush-smoothing").value = String(b.smoothing);
    if (this.stage.cursorSize) this.stage.cursorSize = b.size;
    $("recent-colours").replaceChildren(...b.recent.map((colour) => {
      const swatch = document.createElement("button");
      swatch.type = "button";
      swatch.className = "swatch";
      swatch.style.background = colour;
      swatch.title = colour;
      swatch.dataset.colour = colour;
      swatch.addEventListener("click", () => { b.colour = colour; saveBrush(b); this.showBar(); });
      return swatch;
    }));
  }

  /** @param {string} colour */
  remember(colour) {
    const b = this.brush;
    b.recent = [colour, ...b.recent.filter((c) => c !== colour)].slice(0, RECENT);
    saveBrush(b);
    this.showBar();
  }

  swap() {
    const b = this.brush;
    [b.colour, b.secondary] = [b.secondary, b.colour];
    saveBrush(b);
    this.showBar();
  }

  /** [ and ]: about 15 % smaller or larger, at least one pixel. @param {number} direction */
  resize(direction) {
    const b = this.brush;
    const step = Math.max(1, Math.round(b.size * 0.15));
    b.size = Math.min(MAX_SIZE, Math.max(1, b.size + direction * step));
    saveBrush(b);
    this.showBar();
  }

  // ------------------------------------------------------------------ gestures

  /** @param {PointerEvent} event */
  sizeAt(event) {
    // A mouse reports 0.5 while a button is down; only a pen's pressure means something.
    const pressure = this.brush.pressure && event.pointerType === "pen" ? Math.max(0.05, event.pressure) : 1;
    return this.brush.size * pressure;
  }

  /**
   * A brush or eraser stroke on the target layer: dabs drawn live, then one paint (or erase) operation.
   * @param {PointerEvent} event @param {{x: number, y: number}} at @param {boolean} erase
   * @returns {import("./stage.js").Gesture|null}
   */
  stroke(event, at, erase) {
    const layer = this.host.target();
    const name = this.host.documentName();
    if (!name) return null;
    if (!layer && erase) {
      this.host.status("Nothing to erase: select a layer first.", true);
      return null;
    }
    const b = { ...this.brush };
    const context = this.stage.beginStroke();
    this.stage.stroke.style.opacity = String(erase ? 0.5 : b.opacity);
    const colour = erase ? "#ff4040" : b.colour;
    /** @type {Dab[]} */
    const dabs = [];
    let last = { x: at.x, y: at.y, size: this.sizeAt(event) };
    let carry = 0;
    dabs.push(last);
    stamp(context, last.x, last.y, last.size, b.hardness, colour);
    return {
      move: (e) => {
        for (const c of coalesced(e)) {
          const raw = this.stage.toDocument(c.clientX, c.clientY);
          // Smoothing: the stroke moves only part of the way to the pointer each time, which steadies a shaky hand.
          const follow = 1 - Math.min(0.9, Math.max(0, b.smoothing));
          const p = { x: last.x + (raw.x - last.x) * follow, y: last.y + (raw.y - last.y) * follow, size: this.sizeAt(c) };
          const step = dabsBetween(last, p, carry);
          carry = step.carry;
          for (const d of step.dabs) stamp(context, d.x, d.y, d.size, b.hardness, colour);
          dabs.push(...step.dabs);
          last = p;
        }
      },
      end: async (_e, cancelled) => {
        try {
          if (cancelled) return;
          if (!erase) this.remember(b.colour);
          await this.commitStroke(name, layer, dabs, b, erase);
        } catch (error) {
          this.host.status(`The stroke was not saved: ${/** @type {Error} */ (error).message}`, true);
        } finally {
          this.stage.endStroke();
        }
      },
    };
  }

  /**
   * @param {string} name @param {Layer|null} target @param {Dab[]} dabs
   * @param {import("./paint.js").BrushSettings} b @param {boolean} erase
   */
  async commitStroke(name, target, dabs, b, erase) {
    // A first stroke on a document without layers paints on a new transparent layer.
    let layer = target ?? await this.host.newLayer();
    for (let attempt = 0; layer && attempt < 2; attempt++) {
      const rect = layerRect(dabs, layer);
      if (!rect) {
        this.host.status("The stroke is outside the layer's picture: nothing changed.", true);
        return;
      }
      const cover = coverage(dabs, layer, rect, b.hardness);
      const painted = /** @type {Layer} */ (layer);
      if (erase) {
        const mask = await encodePng(eraseMask(painted, rect, cover, b.opacity));
        await this.host.edit(() => api.eraseLayer(name, painted.id, mask));
        return;
      }
      const patch = await encodePng(blendOver(await pixelsOf(painted), rect, cover, b.colour, b.opacity));
      try {
        await this.host.edit(() => api.paintLayer(name, painted.id, patch, rect.x, rect.y, painted.image));
        return;
      } catch (error) {
        // Another edit changed the layer since it was read: read it again and paint the stroke over that.
        if (/** @type {api.ApiError} */ (error).status !== 409 || attempt > 0) throw error;
        const fresh = await api.getDocument(name);
        layer = fresh.layers.find((l) => l.id === painted.id) ?? null;
      }
    }
  }

  /** The fill bucket at a document point, on the target layer. @param {{x: number, y: number}} at */
  async fill(at) {
    const name = this.host.documentName();
    const layer = this.host.target();
    if (!name || !layer) return this.host.status("Select a layer to fill.", true);
    const pixels = await pixelsOf(layer);
    const filled = floodFill(pixels, Math.floor((at.x - layer.x) / layer.scale), Math.floor((at.y - layer.y) / layer.scale));
    if (!filled) return this.host.status("Click inside the layer's picture to fill.", true);
    const b = this.brush;
    this.remember(b.colour);
    const patch = await encodePng(blendOver(pixels, filled.rect, filled.cover, b.colour, b.opacity));
    await this.host.edit(() => api.paintLayer(name, layer.id, patch, filled.rect.x, filled.rect.y, layer.image));
  }

  /** The eyedropper: the colour the canvas shows at a document point. @param {{x: number, y: number}} at */
  pick(at) {
    const x = Math.floor(at.x), y = Math.floor(at.y);
    if (x < 0 || y < 0 || x >= this.stage.width || y >= this.stage.height) return;
    const [r, g, b] = this.stage.compositePixels(x, y, 1, 1);
    this.brush.colour = hex(r, g, b);
    this.remember(this.brush.colour);
  }

  /** Clear layer: erase all of it (an erase operation: undo brings the pixels back). */
  async clear() {
    const name = this.host.documentName();
    const layer = this.host.target();
    if (!name || !layer) return this.host.status("Select a layer to clear.", true);
    const all = { x: 0, y: 0, width: layer.width, height: layer.height };
    const mask = await encodePng(eraseMask(layer, all, new Uint8ClampedArray(layer.width * layer.height).fill(255), 1));
    await this.host.edit(() => api.eraseLayer(name, layer.id, mask));
  }
}

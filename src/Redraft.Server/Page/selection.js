// @ts-check
// The selection: what a masked generation regenerates (white = regenerate, the studio's one mask convention). Made
// with the rectangle (M) and lasso (L) tools and the mask brush (Q; Alt paints it away), cleared (Ctrl+D), inverted
// (Ctrl+Shift+I) and feathered (blur) here, and sent as a canvas-sized PNG with the bounding box as the region, so the
// selection is regenerated at the model's working size.

import { stamp, dabsBetween, coalesced } from "./paint.js";

/** @typedef {import("./api.js").Rect} Rect */
/** @typedef {import("./stage.js").Gesture} Gesture */
/** @typedef {import("./stage.js").Stage} Stage */

/** @param {HTMLCanvasElement} canvas @returns {CanvasRenderingContext2D} */
const context2d = (canvas) => /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d", { willReadFrequently: true }));

export class Selection {
  /** @param {Stage} stage @param {() => {size: number, hardness: number}} brush @param {() => void} changed */
  constructor(stage, brush, changed) {
    this.stage = stage;
    this.brush = brush;
    this.changed = changed;
    /** Coverage in the alpha channel (tinted for display by CSS). */
    this.canvas = /** @type {HTMLCanvasElement} */ (document.createElement("canvas"));
    this.canvas.id = "selection";
    this.canvas.hidden = true;
    stage.world.append(this.canvas);
    /** Whether anything is selected (kept, so a check costs nothing). */
    this.empty = true;
  }

  /** Fits the selection to a canvas of this size (a new size clears it: the old one would mean another place). @param {number} width @param {number} height */
  fit(width, height) {
    if (this.canvas.width === width && this.canvas.height === height) return;
    this.canvas.width = width;
    this.canvas.height = height;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.clear();
  }

  clear() {
    context2d(this.canvas).clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.update(true);
  }

  /** @param {boolean} [empty] known emptiness (else measured) */
  update(empty) {
    this.empty = empty ?? this.bounds() === null;
    this.canvas.hidden = this.empty;
    document.body.dataset.selection = this.empty ? "" : "yes";
    this.changed();
  }

  invert() {
    const c = context2d(this.canvas);
    const image = c.getImageData(0, 0, this.canvas.width, this.canvas.height);
    for (let i = 0; i < image.data.length; i += 4) {
      image.data[i] = image.data[i + 1] = image.data[i + 2] = 255;
      image.data[i + 3] = 255 - image.data[i + 3];
    }
    c.putImageData(image, 0, 0);
    this.update();
  }

  /** Feathers the edge by a Gaussian blur of <radius> pixels. @param {number} radius */
  blur(radius) {
    if (this.empty || radius <= 0) return;
    const copy = document.createElement("canvas");
    copy.width = this.canvas.width;
    copy.height = this.canvas.height;
    context2d(copy).drawImage(this.canvas, 0, 0);
    const c = context2d(this.canvas);
    c.clearRect(0, 0, this.canvas.width, this.canvas.height);
    c.filter = `blur(${radius}px)`;
    c.drawImage(copy, 0, 0);
    c.filter = "none";
    this.update();
  }

  /**
   * Selects the strips a canvas resize added, reaching <overlap> pixels into the old picture so the new area is
   * generated to fit it. @param {{left: number, top: number, right: number, bottom: number}} grow @param {number} overlap
   */
  border(grow, overlap) {
    const c = context2d(this.canvas);
    const { width, height } = this.canvas;
    c.clearRect(0, 0, width, height);
    c.fillStyle = "#fff";
    if (grow.left > 0) c.fillRect(0, 0, grow.left + overlap, height);
    if (grow.top > 0) c.fillRect(0, 0, width, grow.top + overlap);
    if (grow.right > 0) c.fillRect(width - grow.right - overlap, 0, grow.right + overlap, height);
    if (grow.bottom > 0) c.fillRect(0, height - grow.bottom - overlap, width, grow.bottom + overlap);
    this.update();
  }

  /** The smallest rectangle holding every selected pixel, or null. @returns {Rect|null} */
  bounds() {
    const { width, height } = this.canvas;
    if (!width || !height) return null;
    const data = context2d(this.canvas).getImageData(0, 0, width, height).data;
    let x0 = width, y0 = height, x1 = -1, y1 = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (data[(y * width + x) * 4 + 3] === 0) continue;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
    return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
  }

  /** The mask as a PNG data URL: canvas-sized, opaque, white = regenerate. */
  toDataUrl() {
    const out = document.createElement("canvas");
    out.width = this.canvas.width;
    out.height = this.canvas.height;
    const c = context2d(out);
    c.fillStyle = "#000";
    c.fillRect(0, 0, out.width, out.height);
    c.drawImage(this.whiteMask(), 0, 0);
    return out.toDataURL("image/png");
  }

  /** The selection as white with its coverage as alpha. */
  whiteMask() {
    const white = document.createElement("canvas");
    white.width = this.canvas.width;
    white.height = this.canvas.height;
    const c = context2d(white);
    c.drawImage(this.canvas, 0, 0);
    c.globalCompositeOperation = "source-in";
    c.fillStyle = "#fff";
    c.fillRect(0, 0, white.width, white.height);
    return white;
  }

  // ------------------------------------------------------------------ gestures

  /** Rectangle: replaces the selection (Shift adds to it). @param {PointerEvent} event @param {{x: number, y: number}} at @returns {Gesture} */
  rectangle(event, at) {
    const add = event.shiftKey;
    const before = add ? this.snapshot() : null;
    /** @param {{x: number, y: number}} p */
    const draw = (p) => {
      const c = context2d(this.canvas);
      c.clearRect(0, 0, this.canvas.width, this.canvas.height);
      if (before) c.putImageData(before, 0, 0);
      c.fillStyle = "#fff";
      const x = Math.round(Math.min(at.x, p.x)), y = Math.round(Math.min(at.y, p.y));
      c.fillRect(x, y, Math.round(Math.max(at.x, p.x)) - x, Math.round(Math.max(at.y, p.y)) - y);
      this.canvas.hidden = false;
    };
    return {
      move: (e) => draw(this.stage.toDocument(e.clientX, e.clientY)),
      end: (e, cancelled) => {
        if (!cancelled) draw(this.stage.toDocument(e.clientX, e.clientY));
        this.update();
      },
    };
  }

  /** Lasso: the area inside the path drawn (Shift adds). @param {PointerEvent} event @param {{x: number, y: number}} at @returns {Gesture} */
  lasso(event, at) {
    const add = event.shiftKey;
    const points = [at];
    const outline = this.stage.beginStroke();
    outline.lineWidth = 1 / this.stage.zoom;
    outline.strokeStyle = "#ffd24c";
    return {
      move: (e) => {
        const p = this.stage.toDocument(e.clientX, e.clientY);
        const last = points[points.length - 1];
        outline.beginPath();
        outline.moveTo(last.x, last.y);
        outline.lineTo(p.x, p.y);
        outline.stroke();
        points.push(p);
      },
      end: (_e, cancelled) => {
        this.stage.endStroke();
        if (cancelled || points.length < 3) return;
        const c = context2d(this.canvas);
        if (!add) c.clearRect(0, 0, this.canvas.width, this.canvas.height);
        c.fillStyle = "#fff";
        c.beginPath();
        c.moveTo(points[0].x, points[0].y);
        for (const p of points.slice(1)) c.lineTo(p.x, p.y);
        c.closePath();
        c.fill();
        this.update();
      },
    };
  }

  /** The mask brush: paints the selection with the brush's size and hardness; Alt paints it away. @param {PointerEvent} event @param {{x: number, y: number}} at @returns {Gesture} */
  paint(event, at) {
    const { size, hardness } = this.brush();
    const c = context2d(this.canvas);
    c.globalCompositeOperation = event.altKey ? "destination-out" : "source-over";
    this.canvas.hidden = false;
    let last = { x: at.x, y: at.y, size };
    let carry = 0;
    stamp(c, at.x, at.y, size, hardness, "#ffffff");
    return {
      move: (e) => {
        for (const m of coalesced(e)) {
          const p = { ...this.stage.toDocument(m.clientX, m.clientY), size };
          const step = dabsBetween(last, p, carry);
          carry = step.carry;
          for (const d of step.dabs) stamp(c, d.x, d.y, d.size, hardness, "#ffffff");
          last = p;
        }
      },
      end: () => {
        c.globalCompositeOperation = "source-over";
        this.update();
      },
    };
  }

  snapshot() {
    return context2d(this.canvas).getImageData(0, 0, this.canvas.width, this.canvas.height);
  }
}

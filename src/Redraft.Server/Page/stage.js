// @ts-check
// The canvas view: the composite the server rendered (exact: the page shows the studio's own pixels), zoom and pan,
// and the overlays of the moment — the layer being dragged, a candidate being previewed, a generation's live preview,
// the generation box. Everything inside the world element is in document pixels; one CSS transform zooms and pans.

/** @typedef {import("./api.js").Layer} Layer */
/** @typedef {import("./api.js").Rect} Rect */

const MIN_ZOOM = 1 / 16;
const MAX_ZOOM = 32;
/** The smallest generation box side, in document pixels (the engine works in multiples of 8). */
const MIN_BOX = 16;

/**
 * @typedef {object} StageHandlers
 * @property {(layer: string, x: number, y: number, scale?: number) => Promise<void>} moveLayer commits a layer's new position (and scale)
 * @property {(layer: string|null) => void} selectLayer the move tool picked a layer
 * @property {(box: Rect) => void} boxChanged the user placed or resized the generation box
 * @property {(files: File[], x: number, y: number) => void} dropFiles image files dropped at (x, y) in document pixels
 * @property {Record<string, ToolGesture>} tools the gestures of the other tools (brush, eraser, …), by tool name
 * @property {(grow: {left: number, top: number, right: number, bottom: number}) => Promise<void>} resizeCanvas
 *   an edge was dragged: pixels added on each side (outpainting starts here)
 */

/**
 * A tool's answer to a press on the canvas: what to do with each move and the release (null: nothing to drag).
 * @typedef {(event: PointerEvent, at: {x: number, y: number}) => Gesture|null} ToolGesture
 * @typedef {{move: (e: PointerEvent) => void, end: (e: PointerEvent, cancelled: boolean) => void}} Gesture
 */

/** @param {string} tag @param {string} id @returns {any} */
function child(tag, id) {
  const element = document.createElement(tag);
  element.id = id;
  return element;
}

/** @param {HTMLElement} element @param {number} x @param {number} y @param {number} w @param {number} h */
function place(element, x, y, w, h) {
  element.style.left = `${x}px`;
  element.style.top = `${y}px`;
  element.style.width = `${w}px`;
  element.style.height = `${h}px`;
}

/** @param {HTMLImageElement} image @param {string} url @returns {Promise<void>} */
function load(image, url) {
  return new Promise((resolve, reject) => {
    image.onload = () => resolve();
    image.onerror = () => reject(new Error(`cannot load ${url}`));
    image.src = url;
  });
}

export class Stage {
  /** @param {HTMLElement} viewport @param {StageHandlers} handlers */
  constructor(viewport, handlers) {
    this.viewport = viewport;
    this.handlers = handlers;
    this.width = 0;
    this.height = 0;
    this.zoom = 1;
    this.panX = 0;
    this.panY = 0;
    /** True until the user zooms or pans: the canvas then follows the window's size. */
    this.fitted = true;
    /** Fingers on the viewport (touch pointers), by pointer id: two of them pinch. @type {Map<number, {x: number, y: number}>} */
    this.touches = new Map();
    /** The pinch under way: where it started, and the document point that stays between the fingers. @type {{distance: number, zoom: number, at: {x: number, y: number}}|null} */
    this.pinch = null;
    /** Ends the pointer gesture under way as cancelled (a second finger turns a stroke into a pinch). @type {(() => void)|null} */
    this.cancelDrag = null;
    /** @type {string} move, box, or one of handlers.tools */
    this.tool = "move";
    /** The brush outline's diameter in document pixels (0: no outline). */
    this.cursorSize = 0;
    /** @type {Layer[]} */
    this.layers = [];
    /** @type {string|null} */
    this.selected = null;
    /** @type {Rect|null} */
    this.box = null;
    this.boxVisible = false;
    this.spaceHeld = false;
    /** Counts cleared previews, so a late preview of a finished job is dropped. */
    this.previewToken = 0;
    /** The number of the last preview drawn. */
    this.lastPreview = 0;
    /** The URL of the composite shown (its state's picture). */
    this.compositeUrl = "";

    this.world = child("div", "world");
    this.composite = /** @type {HTMLImageElement} */ (child("img", "composite"));
    this.composite.alt = "the document's composite";
    this.composite.draggable = false;
    this.under = /** @type {HTMLImageElement} */ (child("img", "under"));
    this.dragged = /** @type {HTMLImageElement} */ (child("img", "dragged"));
    this.candidate = /** @type {HTMLImageElement} */ (child("img", "candidate"));
    this.preview = /** @type {HTMLCanvasElement} */ (child("canvas", "preview"));
    /** A stroke being drawn, in document pixels (shown until its commit comes back). */
    this.stroke = /** @type {HTMLCanvasElement} */ (child("canvas", "stroke"));
    this.cursor = /** @type {HTMLDivElement} */ (child("div", "brush-cursor"));
    /** The canvas's edges: drag one outward to grow the canvas (snapped to 8 pixels, as the engine works). */
    this.edges = ["left", "top", "right", "bottom"].map((side) => {
      const edge = document.createElement("span");
      edge.className = `edge ${side}`;
      edge.dataset.edge = side;
      edge.dataset.testid = `edge-${side}`;
      edge.title = "Drag outward to grow the canvas, then generate to fill the new area";
      return edge;
    });
    this.grow = /** @type {HTMLDivElement} */ (child("div", "grow"));
    /** The selected layer's frame with corner handles (Move tool): a corner drag scales the layer. */
    this.frame = /** @type {HTMLDivElement} */ (child("div", "frame"));
    this.frame.dataset.testid = "layer-frame";
    for (const corner of ["nw", "ne", "se", "sw"]) {
      const grip = document.createElement("span");
      grip.className = `corner ${corner}`;
      grip.dataset.corner = corner;
      this.frame.append(grip);
    }
    this.boxElement = /** @type {HTMLDivElement} */ (child("div", "box"));
    this.boxElement.dataset.testid = "generation-box";
    for (const handle of ["nw", "n", "ne", "e", "se", "s", "sw", "w"]) {
      const grip = document.createElement("span");
      grip.className = `handle ${handle}`;
      grip.dataset.handle = handle;
      this.boxElement.append(grip);
    }
    for (const overlay of [this.under, this.dragged, this.candidate, this.preview, this.boxElement, this.stroke, this.cursor, this.grow, this.frame]) overlay.hidden = true;
    for (const image of [this.under, this.dragged, this.candidate]) image.draggable = false;
    this.world.append(this.composite, this.under, this.dragged, this.candidate, this.stroke, this.preview, this.boxElement, this.cursor,
      this.grow, this.frame, ...this.edges);
    viewport.append(this.world);
    this.listen();
    new ResizeObserver(() => { if (this.fitted) this.fit(); }).observe(viewport);
  }

  /** Forgets the document shown (another one is opening): no picture, layers, box or overlays. */
  reset() {
    this.width = 0;
    this.height = 0;
    this.layers = [];
    this.selected = null;
    this.box = null;
    this.boxVisible = false;
    this.compositeUrl = "";
    this.composite.removeAttribute("src");
    this.boxElement.hidden = true;
    this.showCandidate(null);
    this.clearPreview();
  }

  /**
   * Shows a document's composite; resolves once the picture is decoded and on screen.
   * @param {number} width @param {number} height @param {string} url
   */
  async show(width, height, url) {
    const resized = width !== this.width || height !== this.height;
    this.width = width;
    this.height = height;
    if (url !== this.compositeUrl) {
      this.compositeUrl = url;
      const next = new Image();
      try {
        await load(next, url);
      } catch (error) {
        // Not shown: the next call for this state must load it again, not believe it is on screen.
        if (this.compositeUrl === url) this.compositeUrl = "";
        throw error;
      }
      // A later call may have asked for another picture meanwhile: only the latest is shown.
      if (this.compositeUrl !== url) return;
      this.composite.src = next.src;
      await this.composite.decode().catch(() => {});
    }
    place(this.composite, 0, 0, width, height);
    this.world.style.setProperty("--width", `${width}px`);
    this.world.style.setProperty("--height", `${height}px`);
    if (resized) this.fit();
    if (this.box) this.setBox(this.box);
  }

  /** Zooms so the whole canvas fits the window, centred. */
  fit() {
    const bounds = this.viewport.getBoundingClientRect();
    if (!this.width || !bounds.width) return;
    const margin = 24;
    const zoom = Math.min((bounds.width - 2 * margin) / this.width, (bounds.height - 2 * margin) / this.height);
    this.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom));
    this.panX = (bounds.width - this.width * this.zoom) / 2;
    this.panY = (bounds.height - this.height * this.zoom) / 2;
    this.fitted = true;
    this.apply();
  }

  /** Actual pixels: one document pixel per screen pixel, centred. */
  actualSize() {
    const bounds = this.viewport.getBoundingClientRect();
    this.zoom = 1;
    this.panX = Math.round((bounds.width - this.width) / 2);
    this.panY = Math.round((bounds.height - this.height) / 2);
    this.fitted = false;
    this.apply();
  }

  apply() {
    this.world.style.transform = `translate(${this.panX}px, ${this.panY}px) scale(${this.zoom})`;
    this.world.style.setProperty("--zoom", String(this.zoom));
    // Above 200 % the pixels are shown as squares, as painters expect when they zoom in.
    this.world.classList.toggle("pixelated", this.zoom > 2);
  }

  /** @param {number} clientX @param {number} clientY @returns {{x: number, y: number}} document pixels */
  toDocument(clientX, clientY) {
    const bounds = this.viewport.getBoundingClientRect();
    return { x: (clientX - bounds.left - this.panX) / this.zoom, y: (clientY - bounds.top - this.panY) / this.zoom };
  }

  /** @param {number} factor @param {number} clientX @param {number} clientY */
  zoomAt(factor, clientX, clientY) {
    const before = this.toDocument(clientX, clientY);
    this.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.zoom * factor));
    const bounds = this.viewport.getBoundingClientRect();
    this.panX = clientX - bounds.left - before.x * this.zoom;
    this.panY = clientY - bounds.top - before.y * this.zoom;
    this.fitted = false;
    this.apply();
  }

  // ------------------------------------------------------------------ overlays

  /** Shows a candidate layer over the composite (candidates are opaque and on top: exactly what picking it gives). */
  showCandidate(/** @type {Layer|null} */ layer) {
    if (!layer) {
      this.candidate.hidden = true;
      this.candidate.removeAttribute("src");
      return;
    }
    place(this.candidate, layer.x, layer.y, layer.width * layer.scale, layer.height * layer.scale);
    this.candidate.src = layer.url;
    this.candidate.hidden = false;
  }

  /** Hides the candidate overlay while held (compare with before), without forgetting it. */
  compare(/** @type {boolean} */ before) {
    this.candidate.style.visibility = before ? "hidden" : "";
  }

  /**
   * Draws a live preview over the area the generation covers; previews load concurrently, so one older than the
   * last drawn (<n>) is dropped.
   * @param {string} url @param {Rect} area @param {number} [n] @returns {Promise<void>}
   */
  async drawPreview(url, area, n = 0) {
    const token = this.previewToken;
    const image = new Image();
    await load(image, url);
    // A preview that arrives after its job ended (or after a newer job began, or after a newer preview) is not drawn.
    if (token !== this.previewToken || n < this.lastPreview) return;
    this.lastPreview = n;
    const canvas = this.preview;
    if (canvas.width !== image.naturalWidth || canvas.height !== image.naturalHeight) {
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
    }
    canvas.getContext("2d")?.drawImage(image, 0, 0);
    place(canvas, area.x, area.y, area.width, area.height);
    canvas.hidden = false;
    window.__redraft.previewsDrawn = (window.__redraft.previewsDrawn ?? 0) + 1;
  }

  clearPreview() {
    this.previewToken++;
    this.lastPreview = 0;
    this.preview.hidden = true;
  }

  // ------------------------------------------------------------------ generation box

  /** @param {Rect} box */
  setBox(box) {
    const x = Math.max(0, Math.min(Math.round(box.x), this.width - MIN_BOX));
    const y = Math.max(0, Math.min(Math.round(box.y), this.height - MIN_BOX));
    const width = Math.max(MIN_BOX, Math.min(Math.round(box.width), this.width - x));
    const height = Math.max(MIN_BOX, Math.min(Math.round(box.height), this.height - y));
    this.box = { x, y, width, height };
    place(this.boxElement, x, y, width, height);
    this.boxElement.dataset.box = `${x},${y},${width},${height}`;
  }

  /** @param {boolean} visible */
  showBox(visible) {
    this.boxVisible = visible;
    if (visible && !this.box) {
      // A first box: the middle half of the canvas.
      this.setBox({ x: this.width / 4, y: this.height / 4, width: this.width / 2, height: this.height / 2 });
      if (this.box) this.handlers.boxChanged(this.box);
    }
    this.boxElement.hidden = !visible;
  }

  // ------------------------------------------------------------------ input

  /** @param {number} x @param {number} y @returns {Layer|null} the topmost drawn layer at (x, y) */
  layerAt(x, y) {
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i];
      if (!l.drawn || l.role === "candidate") continue;
      if (x >= l.x && y >= l.y && x < l.x + l.width * l.scale && y < l.y + l.height * l.scale) return l;
    }
    return null;
  }

  listen() {
    const viewport = this.viewport;
    viewport.addEventListener("wheel", (event) => {
      event.preventDefault();
      // A trackpad pinch arrives as a wheel event with ctrlKey; both zoom around the pointer.
      this.zoomAt(Math.exp(-event.deltaY * (event.ctrlKey ? 0.01 : 0.0015)), event.clientX, event.clientY);
    }, { passive: false });

    viewport.addEventListener("pointerdown", (event) => {
      if (!this.width) return;
      if (event.pointerType === "touch") {
        this.touches.set(event.pointerId, { x: event.clientX, y: event.clientY });
        if (this.touches.size === 2) return this.startPinch(event);
        if (this.touches.size > 2) return;
      }
      const panning = event.button === 1 || (event.button === 0 && this.spaceHeld);
      if (panning) return this.drag(event, this.panGesture(event));
      if (event.button !== 0) return;
      const handle = /** @type {HTMLElement} */ (event.target).dataset?.handle;
      const at = this.toDocument(event.clientX, event.clientY);
      const edge = /** @type {HTMLElement} */ (event.target).dataset?.edge;
      if (edge) return this.drag(event, this.edgeGesture(edge, at));
      const corner = /** @type {HTMLElement} */ (event.target).dataset?.corner;
      const framed = this.layers.find((l) => l.id === this.selected);
      if (corner && framed) return this.drag(event, this.scaleGesture(framed, corner));
      if (this.tool === "box" && this.boxVisible) return this.drag(event, this.boxGesture(at, handle));
      const tool = this.handlers.tools[this.tool];
      if (tool) {
        const gesture = tool(event, at);
        if (gesture) this.drag(event, gesture);
        return;
      }
      if (this.tool === "move") {
        const layer = this.layerAt(at.x, at.y);
        this.handlers.selectLayer(layer?.id ?? null);
        if (layer) this.drag(event, this.moveGesture(layer, at));
      }
    });

    viewport.addEventListener("pointermove", (event) => {
      if (event.pointerType === "touch" && this.touches.has(event.pointerId)) {
        this.touches.set(event.pointerId, { x: event.clientX, y: event.clientY });
        if (this.pinch) return this.movePinch();
      }
      this.moveCursor(event);
    });
    /** @param {PointerEvent} event */
    const lift = (event) => {
      if (event.pointerType !== "touch") return;
      if (this.pinch && this.touches.has(event.pointerId)) {
        // The last move may arrive only with the lift (moves are coalesced per frame): the pinch ends where the finger did.
        this.touches.set(event.pointerId, { x: event.clientX, y: event.clientY });
        this.movePinch();
      }
      this.touches.delete(event.pointerId);
      if (this.touches.size < 2) this.pinch = null;
    };
    viewport.addEventListener("pointerup", lift);
    viewport.addEventListener("pointercancel", lift);
    viewport.addEventListener("pointerleave", () => { this.cursor.hidden = true; });

    viewport.addEventListener("dragover", (event) => {
      if (event.dataTransfer?.types.includes("Files")) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
      }
    });
    viewport.addEventListener("drop", (event) => {
      const files = [...(event.dataTransfer?.files ?? [])].filter((f) => f.type.startsWith("image/"));
      if (!files.length) return;
      event.preventDefault();
      const at = this.toDocument(event.clientX, event.clientY);
      this.handlers.dropFiles(files, at.x, at.y);
    });
  }

  /** The two fingers' distance and midpoint, in client pixels. */
  fingers() {
    const [a, b] = [...this.touches.values()];
    return { distance: Math.max(1, Math.hypot(b.x - a.x, b.y - a.y)), x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  }

  /**
   * A second finger came down: whatever the first one started (a stroke, a move) is cancelled, as in painting apps,
   * and the two fingers zoom and pan together from here.
   * @param {PointerEvent} event
   */
  startPinch(event) {
    event.preventDefault();
    this.cancelDrag?.();
    const { distance, x, y } = this.fingers();
    this.pinch = { distance, zoom: this.zoom, at: this.toDocument(x, y) };
  }

  /** The fingers moved: zoom by their spread, and keep the document point they started on between them. */
  movePinch() {
    const pinch = /** @type {{distance: number, zoom: number, at: {x: number, y: number}}} */ (this.pinch);
    const { distance, x, y } = this.fingers();
    this.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, pinch.zoom * distance / pinch.distance));
    const bounds = this.viewport.getBoundingClientRect();
    this.panX = x - bounds.left - pinch.at.x * this.zoom;
    this.panY = y - bounds.top - pinch.at.y * this.zoom;
    this.fitted = false;
    this.apply();
  }

  /** The brush outline follows the pointer (for painting tools). @param {PointerEvent} event */
  moveCursor(event) {
    if (!this.cursorSize || !this.width) {
      this.cursor.hidden = true;
      return;
    }
    const at = this.toDocument(event.clientX, event.clientY);
    const size = this.cursorSize;
    place(this.cursor, at.x - size / 2, at.y - size / 2, size, size);
    this.cursor.hidden = false;
  }

  /** A document-sized canvas for a stroke, cleared. @returns {CanvasRenderingContext2D} */
  beginStroke() {
    const canvas = this.stroke;
    if (canvas.width !== this.width || canvas.height !== this.height) {
      canvas.width = this.width;
      canvas.height = this.height;
    } else {
      /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d")).clearRect(0, 0, canvas.width, canvas.height);
    }
    place(canvas, 0, 0, this.width, this.height);
    canvas.hidden = false;
    return /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  }

  endStroke() {
    this.stroke.hidden = true;
  }

  /**
   * Runs a pointer gesture until the button is released: <gesture> gets each move and the release.
   * @param {PointerEvent} event
   * @param {{move: (e: PointerEvent) => void, end: (e: PointerEvent, cancelled: boolean) => void}} gesture
   */
  drag(event, gesture) {
    event.preventDefault();
    const viewport = this.viewport;
    viewport.setPointerCapture(event.pointerId);
    /** @param {PointerEvent} e */
    const move = (e) => { if (e.pointerId === event.pointerId) gesture.move(e); };
    /** @param {PointerEvent} e */
    /** @param {PointerEvent} e @param {boolean} cancelled */
    const finish = (e, cancelled) => {
      viewport.removeEventListener("pointermove", move);
      viewport.removeEventListener("pointerup", end);
      viewport.removeEventListener("pointercancel", end);
      this.cancelDrag = null;
      gesture.end(e, cancelled);
    };
    /** @param {PointerEvent} e */
    const end = (e) => {
      if (e.pointerId === event.pointerId) finish(e, e.type === "pointercancel");
    };
    this.cancelDrag = () => finish(event, true);
    viewport.addEventListener("pointermove", move);
    viewport.addEventListener("pointerup", end);
    viewport.addEventListener("pointercancel", end);
  }

  /** @param {PointerEvent} start */
  panGesture(start) {
    const from = { x: start.clientX - this.panX, y: start.clientY - this.panY };
    this.viewport.classList.add("panning");
    return {
      move: (/** @type {PointerEvent} */ e) => {
        this.panX = e.clientX - from.x;
        this.panY = e.clientY - from.y;
        this.fitted = false;
        this.apply();
      },
      end: () => this.viewport.classList.remove("panning"),
    };
  }

  /** @param {{x: number, y: number}} at @param {string|undefined} handle */
  boxGesture(at, handle) {
    const box = this.box ?? { x: at.x, y: at.y, width: MIN_BOX, height: MIN_BOX };
    const inside = at.x >= box.x && at.y >= box.y && at.x < box.x + box.width && at.y < box.y + box.height;
    const start = { ...box };
    /** @param {{x: number, y: number}} p */
    const update = (p) => {
      const dx = p.x - at.x, dy = p.y - at.y;
      if (handle) {
        let { x, y, width, height } = start;
        if (handle.includes("w")) { x = Math.max(0, Math.min(start.x + dx, start.x + start.width - MIN_BOX)); width = start.x + start.width - x; }
        if (handle.includes("e")) width = start.width + dx;
        if (handle.includes("n")) { y = Math.max(0, Math.min(start.y + dy, start.y + start.height - MIN_BOX)); height = start.y + start.height - y; }
        if (handle.includes("s")) height = start.height + dy;
        this.setBox({ x, y, width, height });
      } else if (inside) {
        // Moved: the size stays; the box stops at the canvas's edges.
        const width = Math.min(start.width, this.width), height = Math.min(start.height, this.height);
        this.setBox({ x: Math.max(0, Math.min(start.x + dx, this.width - width)), y: Math.max(0, Math.min(start.y + dy, this.height - height)), width, height });
      } else {
        // A new box from the press point to the pointer.
        this.setBox({ x: Math.min(at.x, p.x), y: Math.min(at.y, p.y), width: Math.abs(dx), height: Math.abs(dy) });
      }
    };
    return {
      move: (/** @type {PointerEvent} */ e) => update(this.toDocument(e.clientX, e.clientY)),
      end: (/** @type {PointerEvent} */ e) => {
        update(this.toDocument(e.clientX, e.clientY));
        if (this.box) this.handlers.boxChanged(this.box);
      },
    };
  }

  /**
   * Dragging an edge outward: the new canvas outlined while dragging, then the growth (multiples of 8) committed.
   * @param {string} side @param {{x: number, y: number}} at
   */
  edgeGesture(side, at) {
    let amount = 0;
    const show = () => {
      const left = side === "left" ? amount : 0, top = side === "top" ? amount : 0;
      const right = side === "right" ? amount : 0, bottom = side === "bottom" ? amount : 0;
      place(this.grow, -left, -top, this.width + left + right, this.height + top + bottom);
      this.grow.hidden = amount === 0;
      this.grow.dataset.grow = `${left},${top},${right},${bottom}`;
      return { left, top, right, bottom };
    };
    return {
      move: (/** @type {PointerEvent} */ e) => {
        const p = this.toDocument(e.clientX, e.clientY);
        const outward = side === "left" ? at.x - p.x : side === "right" ? p.x - at.x : side === "top" ? at.y - p.y : p.y - at.y;
        amount = Math.max(0, Math.round(outward / 8) * 8);
        show();
      },
      end: async (/** @type {PointerEvent} */ _e, /** @type {boolean} */ cancelled) => {
        const grow = show();
        try {
          if (!cancelled && amount > 0) await this.handlers.resizeCanvas(grow);
        } finally {
          this.grow.hidden = true;
        }
      },
    };
  }

  /** Shows the selected layer's frame (with the Move tool), or hides it. */
  showFrame() {
    const layer = this.tool === "move" ? this.layers.find((l) => l.id === this.selected && l.role !== "candidate") : null;
    this.frame.hidden = !layer;
    if (layer) place(this.frame, layer.x, layer.y, layer.width * layer.scale, layer.height * layer.scale);
  }

  /**
   * A corner dragged: the layer scales about the opposite corner, keeping its shape; one move step on release.
   * @param {Layer} layer @param {string} corner
   */
  scaleGesture(layer, corner) {
    const w = layer.width, h = layer.height;
    const right = layer.x + w * layer.scale, bottom = layer.y + h * layer.scale;
    // The fixed corner: the one opposite the handle.
    const fixedX = corner.includes("w") ? right : layer.x, fixedY = corner.includes("n") ? bottom : layer.y;
    let scale = layer.scale, x = layer.x, y = layer.y;
    this.dragged.src = layer.url;
    this.dragged.style.opacity = String(layer.opacity);
    return {
      move: (/** @type {PointerEvent} */ e) => {
        const p = this.toDocument(e.clientX, e.clientY);
        scale = Math.max(1 / Math.max(w, h), Math.max(Math.abs(p.x - fixedX) / w, Math.abs(p.y - fixedY) / h));
        scale = Math.round(scale * 1000) / 1000;
        x = Math.round(corner.includes("w") ? fixedX - w * scale : fixedX);
        y = Math.round(corner.includes("n") ? fixedY - h * scale : fixedY);
        place(this.dragged, x, y, w * scale, h * scale);
        place(this.frame, x, y, w * scale, h * scale);
        this.dragged.hidden = false;
      },
      end: async (/** @type {PointerEvent} */ _e, /** @type {boolean} */ cancelled) => {
        try {
          if (!cancelled && scale !== layer.scale) await this.handlers.moveLayer(layer.id, x, y, scale);
        } finally {
          this.dragged.hidden = true;
          this.showFrame();
        }
      },
    };
  }

  /** @param {Layer} layer @param {{x: number, y: number}} at */
  moveGesture(layer, at) {
    const width = layer.width * layer.scale, height = layer.height * layer.scale;
    let x = layer.x, y = layer.y, moved = false;
    // Under the moving layer: the composite without it (rendered by the server), once it has arrived.
    const under = `${this.compositeUrl}${this.compositeUrl.includes("?") ? "&" : "?"}hide=${encodeURIComponent(layer.id)}`;
    load(this.under, under).then(() => {
      if (!this.dragged.hidden) {
        place(this.under, 0, 0, this.width, this.height);
        this.under.hidden = false;
      }
    }).catch(() => {});
    this.dragged.src = layer.url;
    this.dragged.style.opacity = String(layer.opacity);
    place(this.dragged, x, y, width, height);
    this.dragged.hidden = false;
    this.viewport.classList.add("moving");
    return {
      move: (/** @type {PointerEvent} */ e) => {
        const p = this.toDocument(e.clientX, e.clientY);
        x = Math.round(layer.x + p.x - at.x);
        y = Math.round(layer.y + p.y - at.y);
        moved ||= x !== layer.x || y !== layer.y;
        place(this.dragged, x, y, width, height);
      },
      end: async (/** @type {PointerEvent} */ _e, /** @type {boolean} */ cancelled) => {
        this.viewport.classList.remove("moving");
        try {
          if (moved && !cancelled) await this.handlers.moveLayer(layer.id, x, y);
        } finally {
          this.dragged.hidden = true;
          this.under.hidden = true;
        }
      },
    };
  }

  /**
   * The displayed composite's pixels (RGBA, straight alpha) in a rectangle of document pixels: what the page shows,
   * read back for tests and for the eyedropper.
   * @param {number} x @param {number} y @param {number} w @param {number} h @returns {Uint8ClampedArray}
   */
  compositePixels(x, y, w, h) {
    const canvas = document.createElement("canvas");
    canvas.width = this.composite.naturalWidth;
    canvas.height = this.composite.naturalHeight;
    const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d", { willReadFrequently: true }));
    context.drawImage(this.composite, 0, 0);
    return context.getImageData(x, y, w, h).data;
  }
}

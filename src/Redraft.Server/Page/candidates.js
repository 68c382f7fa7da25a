// @ts-check
// The candidate strip: the variations a generation left as hidden candidate layers. Hover one, or step with the arrow
// keys, to see it in place; Accept (Enter) picks it, Discard drops them all; hold C to compare with the picture before.

/** @typedef {import("./api.js").Layer} Layer */

/**
 * @typedef {object} CandidateActions
 * @property {(layer: Layer|null) => void} preview shows a candidate in place (null: none)
 * @property {(layer: Layer) => Promise<void>} accept
 * @property {() => Promise<void>} discard
 */

export class CandidateStrip {
  /** @param {HTMLElement} strip @param {CandidateActions} actions */
  constructor(strip, actions) {
    this.strip = strip;
    this.actions = actions;
    /** @type {Layer[]} */
    this.candidates = [];
    /** The ids of the candidates last rendered (a set with none of them is a new generation's). @type {string[]} */
    this.known = [];
    /** The candidate shown in place (index into candidates), or -1. */
    this.current = -1;
    this.list = /** @type {HTMLElement} */ (strip.querySelector(".items"));
    /** @type {HTMLButtonElement} */ (strip.querySelector("[data-action=accept]")).addEventListener("click", () => this.accept());
    /** @type {HTMLButtonElement} */ (strip.querySelector("[data-action=discard]")).addEventListener("click", () => this.actions.discard());
  }

  /** Forgets the candidates of the document shown before. */
  reset() {
    this.candidates = [];
    this.known = [];
    this.current = -1;
    this.list.replaceChildren();
    this.strip.hidden = true;
  }

  /** @param {Layer[]} layers the document's layers (bottom first) */
  render(layers) {
    const candidates = layers.filter((l) => l.role === "candidate" && l.hidden);
    const previous = this.candidates[this.current]?.id;
    const same = candidates.length === this.candidates.length && candidates.every((c, i) => c.id === this.candidates[i].id);
    this.candidates = candidates;
    this.strip.hidden = candidates.length === 0;
    this.list.replaceChildren(...candidates.map((layer, i) => {
      const item = document.createElement("button");
      item.type = "button";
      item.className = "candidate";
      item.dataset.layer = layer.id;
      item.dataset.testid = `candidate-${i}`;
      item.title = `${layer.name} — click to accept`;
      const thumb = document.createElement("img");
      thumb.src = layer.url;
      thumb.alt = layer.name;
      thumb.draggable = false;
      const label = document.createElement("span");
      label.textContent = layer.generation ? `seed ${layer.generation.seed}` : layer.name;
      item.append(thumb, label);
      item.addEventListener("mouseenter", () => this.show(i));
      item.addEventListener("click", () => { this.show(i); this.accept(); });
      return item;
    }));
    // A new generation's candidates show the first one at once (as Krita and InvokeAI do); the same set keeps its
    // choice; what is left after a pick waits unshown (the picked one is now in the picture).
    const known = new Set(this.known);
    this.known = candidates.map((c) => c.id);
    const fresh = candidates.length > 0 && candidates.every((c) => !known.has(c.id));
    const keep = same && previous ? candidates.findIndex((c) => c.id === previous) : -1;
    this.show(keep >= 0 ? keep : fresh ? 0 : -1);
  }

  /** @param {number} index */
  show(index) {
    this.current = index;
    for (const [i, item] of [...this.list.children].entries()) item.classList.toggle("current", i === index);
    this.strip.dataset.current = index >= 0 ? this.candidates[index].id : "";
    this.actions.preview(index >= 0 ? this.candidates[index] : null);
  }

  /** @param {number} delta */
  step(delta) {
    if (!this.candidates.length) return false;
    const n = this.candidates.length;
    this.show(this.current < 0 ? (delta > 0 ? 0 : n - 1) : (this.current + delta + n) % n);
    return true;
  }

  get active() {
    return this.candidates.length > 0;
  }

  async accept() {
    const layer = this.candidates[this.current];
    if (layer) await this.actions.accept(layer);
  }
}

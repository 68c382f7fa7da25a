// @ts-check
// Live mode: with a turbo-class model (SD-Turbo, or a model with LCM-LoRA) each change of the picture — a stroke, a
// moved layer — is followed, after a short pause (debounce), by a 1–4-step image-to-image of the composite (or the
// generation box, or the selection) at the chosen strength, shown beside the canvas or over it. A newer change
// supersedes the running live job (the server cancels it: at most one live job per document, the latest wins);
// "Apply" turns the result shown into a candidate layer, a normal history step that reruns identically.

import * as api from "./api.js";
import { follow } from "./jobs.js";

/** @typedef {import("./api.js").Rect} Rect */
/** @typedef {import("./api.js").DocumentView} DocumentView */

/**
 * @typedef {object} LiveHost
 * @property {() => string|null} documentName
 * @property {() => Record<string, any>|null} body the generate body of the panel's settings and scope (null: cannot run)
 * @property {(request: () => Promise<DocumentView>) => Promise<DocumentView|undefined>} edit
 * @property {(text: string, error?: boolean) => void} status
 */

/** @param {string} id @returns {any} */
const $ = (id) => document.getElementById(id);

const STORAGE_KEY = "redraft.live";

export class LiveMode {
  /** @param {import("./stage.js").Stage} stage @param {LiveHost} host */
  constructor(stage, host) {
    this.stage = stage;
    this.host = host;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.timer = undefined;
    /** The live job running now, if any. @type {string|null} */
    this.running = null;
    /** The last result: its job (to apply it) and where it belongs. @type {{job: string, url: string, area: Rect}|null} */
    this.result = null;
    this.overlay = /** @type {HTMLImageElement} */ (document.createElement("img"));
    this.overlay.id = "live-overlay";
    this.overlay.hidden = true;
    this.overlay.draggable = false;
    stage.world.append(this.overlay);
    this.restore();
    for (const id of ["live-enabled", "live-steps", "live-strength", "live-debounce", "live-over"]) {
      $(id).addEventListener("change", () => this.save());
    }
    $("live-enabled").addEventListener("change", () => {
      this.showPanel();
      if (this.enabled) this.schedule();
    });
    $("live-over").addEventListener("change", () => this.place());
    $("live-apply").addEventListener("click", () => this.apply());
    this.showPanel();
  }

  get enabled() {
    return /** @type {HTMLInputElement} */ ($("live-enabled")).checked;
  }

  restore() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}");
      if (saved.steps) $("live-steps").value = saved.steps;
      if (saved.strength) $("live-strength").value = saved.strength;
      if (saved.debounce) $("live-debounce").value = saved.debounce;
      $("live-over").checked = !!saved.over;
    } catch {
      // Nothing remembered yet.
    }
  }

  save() {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({
      steps: $("live-steps").value, strength: $("live-strength").value, debounce: $("live-debounce").value, over: $("live-over").checked,
    }));
  }

  showPanel() {
    $("live-panel").hidden = !this.enabled;
    if (!this.enabled) {
      clearTimeout(this.timer);
      this.overlay.hidden = true;
    }
  }

  /** Another document opens: nothing of this one's live results stays. */
  reset() {
    clearTimeout(this.timer);
    this.result = null;
    this.running = null;
    this.overlay.hidden = true;
    $("live-result").removeAttribute("src");
    $("live-apply").disabled = true;
    $("live-status").textContent = "";
  }

  /** The picture changed: run again once the changes pause. */
  schedule() {
    if (!this.enabled) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), Math.max(0, Number($("live-debounce").value) || 0));
  }

  async run() {
    const name = this.host.documentName();
    const body = this.host.body();
    if (!name || !body) return;
    // The field counts the sampling steps that run; image-to-image runs int(steps × strength) of them (A1111's rule).
    const run = Math.min(4, Math.max(1, Math.trunc(Number($("live-steps").value) || 1)));
    body.strength = Math.min(1, Math.max(0.05, Number($("live-strength").value) || 0.5));
    body.steps = Math.ceil(run / body.strength);
    delete body.variations;
    $("live-status").textContent = "generating…";
    $("live-panel").dataset.state = "running";
    let accepted;
    try {
      accepted = await api.submitLive(name, body);
    } catch (error) {
      $("live-status").textContent = /** @type {Error} */ (error).message;
      $("live-panel").dataset.state = "error";
      return;
    }
    const job = /** @type {string} */ (accepted.job_id);
    this.running = job;
    const end = await follow(job, (event) => {
      if (event.type === "progress" && this.running === job) $("live-status").textContent = `step ${event.step}/${event.total}`;
    });
    if (this.running === job) this.running = null;
    if (end.type === "result" && end.result_url) {
      this.result = { job, url: end.result_url, area: end.area ?? accepted.area };
      const image = /** @type {HTMLImageElement} */ ($("live-result"));
      image.src = end.result_url;
      await image.decode().catch(() => {});
      $("live-apply").disabled = false;
      $("live-status").textContent = `seed ${end.seeds?.[0] ?? "?"}`;
      $("live-panel").dataset.state = "done";
      $("live-panel").dataset.job = job;
      this.place();
    } else if (end.type === "cancelled") {
      // Superseded by a newer change: its job reports on its own.
    } else {
      $("live-status").textContent = `failed: ${end.detail ?? ""}`;
      $("live-panel").dataset.state = "error";
    }
  }

  /** Shows the result over the canvas where it belongs, when asked. */
  place() {
    const r = this.result;
    const over = /** @type {HTMLInputElement} */ ($("live-over")).checked;
    this.overlay.hidden = !(r && over && this.enabled);
    if (!r || !over) return;
    this.overlay.src = r.url;
    Object.assign(this.overlay.style, { left: `${r.area.x}px`, top: `${r.area.y}px`, width: `${r.area.width}px`, height: `${r.area.height}px` });
  }

  /** The result shown becomes a candidate layer (a generate step of its own). */
  async apply() {
    const name = this.host.documentName();
    const r = this.result;
    if (!name || !r) return;
    const view = await this.host.edit(() => api.applyLive(name, r.job));
    if (view) this.host.status("The live result is a candidate now: accept it in the strip (Enter).");
  }
}

// @ts-check
// The generate panel: prompt, negative prompt, strength (with what it means in words), steps, sampler, schedule, CFG,
// seed (random / fixed / the last result's), variations and variation strength, model (with the catalogue's models to
// download, models.js), and the scope (whole canvas or the generation box). Every value is remembered in localStorage, so a reload keeps the settings and the last prompt.

import * as api from "./api.js";
import { settingsOf } from "./pnginfo.js";
import { ModelDownloads } from "./models.js";

const STORAGE_KEY = "redraft.generate";

/** The panel's fields: element id → request field, and how a value is read back. */
const FIELDS = /** @type {const} */ ([
  ["prompt", "text"], ["negative", "text"], ["strength", "number"], ["steps", "number"], ["sampler", "text"],
  ["scheduler", "text"], ["cfg", "number"], ["seed", "number"], ["seed-mode", "text"], ["variations", "number"],
  ["variation-strength", "number"], ["model", "text"], ["scope", "text"], ["harmonize-strength", "number"],
]);

/**
 * What a strength means for the picture, in words (img2img: how much of the input's noise-free picture is kept).
 * @param {number} strength @returns {string}
 */
export function strengthWords(strength) {
  if (strength <= 0.05) return "nothing changes";
  if (strength < 0.25) return "touch-up: the picture stays, seams and noise smooth out";
  if (strength < 0.45) return "light: shapes and colours stay, surfaces are redrawn";
  if (strength < 0.65) return "moderate: the composition stays, details are redrawn";
  if (strength < 0.85) return "strong: the rough layout and colours guide a new picture";
  if (strength < 1) return "very strong: only a hint of the input remains";
  return "all new: the input is ignored";
}

/** @param {string} id @returns {HTMLInputElement} */
const field = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id));

/** @param {HTMLSelectElement} select @param {string[]} values @param {string} [keep] */
function fill(select, values, keep) {
  const current = keep ?? select.value;
  select.replaceChildren(...values.map((v) => new Option(v, v)));
  if (values.includes(current)) select.value = current;
}

export class GeneratePanel {
  constructor() {
    /** The first seed of the last finished generation ("reuse last"). @type {number|null} */
    this.lastSeed = localStorage.getItem(STORAGE_KEY + ".last-seed") === null ? null : Number(localStorage.getItem(STORAGE_KEY + ".last-seed"));
    this.restore();
    for (const [id] of FIELDS) field(id).addEventListener("input", () => this.save());
    field("strength").addEventListener("input", () => this.describeStrength());
    field("seed-mode").addEventListener("change", () => this.describeSeed());
    field("scope").addEventListener("change", () => this.onScope?.(this.scope));
    this.describeStrength();
    this.describeSeed();
    this.acceptSettingsDrops(field("prompt"));
    /** @type {((scope: string) => void)|undefined} */
    this.onScope = undefined;
    this.downloads = new ModelDownloads(/** @type {HTMLDetailsElement} */ (document.getElementById("model-downloads")),
      (path) => this.modelInstalled(path));
  }

  /** Fills the sampler, schedule and model lists from the server, keeping remembered choices. */
  async loadLists() {
    const [samplers, schedulers, models, options] = await Promise.all([
      api.getSamplers(), api.getSchedulers(), api.getModels(), api.getOptions()]);
    const saved = this.saved();
    fill(/** @type {any} */ (field("sampler")), samplers.map((s) => s.name), saved.sampler || "Euler a");
    fill(/** @type {any} */ (field("scheduler")), schedulers.map((s) => s.name), saved.scheduler || "automatic");
    const titles = models.map((m) => m.title);
    fill(/** @type {any} */ (field("model")), titles, saved.model || options.sd_model_checkpoint);
    if (!titles.includes(field("model").value) && options.sd_model_checkpoint) field("model").value = options.sd_model_checkpoint;
    await this.downloads.load(models.length === 0);
  }

  /** A download has put a checkpoint at <path>: the list is read again and that model selected. @param {string} path */
  async modelInstalled(path) {
    const models = await api.getModels();
    const model = models.find((m) => m.filename === path);
    fill(/** @type {any} */ (field("model")), models.map((m) => m.title), model?.title);
    this.save();
    /** @type {HTMLElement} */ (document.getElementById("generate-status")).textContent =
      model ? `${model.model_name} is installed and selected.` : `Downloaded to ${path}, but the server does not list it as a checkpoint.`;
  }

  /** @returns {Record<string, string>} */
  saved() {
    try {
      return JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}");
    } catch {
      return {};
    }
  }

  save() {
    /** @type {Record<string, string>} */
    const values = {};
    for (const [id] of FIELDS) values[id] = field(id).value;
    localStorage.setItem(STORAGE_KEY, JSON.stringify(values));
  }

  restore() {
    const saved = this.saved();
    for (const [id] of FIELDS) {
      // Lists are filled later (loadLists keeps the saved choice); a select takes a value only among its options.
      if (saved[id] !== undefined && field(id).tagName !== "SELECT") field(id).value = saved[id];
      else if (saved[id] !== undefined && [...(/** @type {any} */ (field(id))).options].some((o) => o.value === saved[id])) field(id).value = saved[id];
    }
  }

  describeStrength() {
    const strength = Number(field("strength").value);
    field("strength-value").value = strength.toFixed(2);
    /** @type {HTMLElement} */ (document.getElementById("strength-words")).textContent = strengthWords(strength);
  }

  describeSeed() {
    const mode = field("seed-mode").value;
    field("seed").disabled = mode !== "fixed";
  }

  /** @returns {"canvas"|"box"|"selection"} */
  get scope() {
    const scope = field("scope").value;
    return scope === "box" || scope === "selection" ? scope : "canvas";
  }

  /** @param {number[]} seeds the seeds of a finished generation */
  remember(seeds) {
    if (seeds.length) this.lastSeed = seeds[0];
    // Kept across reloads, with the other settings: "reuse last" means the same seed after a reload.
    if (this.lastSeed !== null) localStorage.setItem(STORAGE_KEY + ".last-seed", String(this.lastSeed));
    field("last-seed").textContent = this.lastSeed === null ? "" : `last: ${this.lastSeed}`;
  }

  /** The seed to send: -1 draws a new one on the server. */
  seed() {
    const mode = field("seed-mode").value;
    if (mode === "fixed") return Math.trunc(Number(field("seed").value));
    if (mode === "last" && this.lastSeed !== null) return this.lastSeed;
    return -1;
  }

  /**
   * The request body of a generate (or harmonize) from the panel.
   * @param {"generate"|"harmonize"} kind @param {import("./api.js").Rect|null} region
   * @returns {Record<string, any>}
   */
  body(kind, region) {
    const variationStrength = Number(field("variation-strength").value);
    /** @type {Record<string, any>} */
    const body = {
      prompt: field("prompt").value,
      negative_prompt: field("negative").value,
      steps: Math.trunc(Number(field("steps").value)),
      sampler_name: field("sampler").value,
      scheduler: field("scheduler").value,
      cfg_scale: Number(field("cfg").value),
      seed: this.seed(),
      model: field("model").value || undefined,
      preview_every: 1,
    };
    if (kind === "harmonize") {
      body.strength = Number(field("harmonize-strength").value);
      return body;
    }
    body.strength = Number(field("strength").value);
    body.variations = Math.trunc(Number(field("variations").value));
    if (variationStrength > 0) {
      body.subseed = -1;
      body.subseed_strength = variationStrength;
    }
    if (region) body.region = region;
    return body;
  }

  /**
   * Takes settings (from a dropped PNG or a history step) into the panel; the seed becomes fixed.
   * @param {import("./pnginfo.js").Settings} settings
   */
  use(settings) {
    /** @type {[string, any][]} */
    const pairs = [["prompt", settings.prompt], ["negative", settings.negative_prompt], ["steps", settings.steps],
      ["sampler", settings.sampler_name], ["scheduler", settings.scheduler], ["cfg", settings.cfg_scale],
      ["seed", settings.seed], ["strength", settings.strength], ["variation-strength", settings.subseed_strength]];
    for (const [id, value] of pairs) {
      if (value === undefined || value === null) continue;
      const element = field(id);
      if (element.tagName === "SELECT" && ![...(/** @type {any} */ (element)).options].some((o) => o.value === String(value))) continue;
      element.value = String(value);
    }
    if (settings.seed !== undefined && settings.seed >= 0) field("seed-mode").value = "fixed";
    this.describeStrength();
    this.describeSeed();
    this.save();
  }

  /** A PNG dropped on the prompt box loads the settings it carries (A1111's or Redraft's). @param {HTMLElement} target */
  acceptSettingsDrops(target) {
    target.addEventListener("dragover", (event) => {
      if (event.dataTransfer?.types.includes("Files")) event.preventDefault();
    });
    target.addEventListener("drop", async (event) => {
      const file = event.dataTransfer?.files[0];
      if (!file) return;
      event.preventDefault();
      event.stopPropagation();
      const status = /** @type {HTMLElement} */ (document.getElementById("generate-status"));
      try {
        const settings = await settingsOf(file);
        if (!settings) throw new Error(`${file.name} carries no generation settings`);
        this.use(settings);
        status.textContent = `Settings loaded from ${file.name}.`;
      } catch (error) {
        status.textContent = `Cannot load settings: ${/** @type {Error} */ (error).message}`;
      }
    });
  }
}

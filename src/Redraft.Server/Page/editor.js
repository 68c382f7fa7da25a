// @ts-check
// The editor of one document: what the page shows of it (the composite, layers, candidates, history), the edits it
// sends, and the jobs it follows. The views are the page's (made once, in app.js); each opened document gets a new
// editor that takes them over, so nothing of the previous document keeps acting.

import * as api from "./api.js";
import { follow, watchDocument } from "./jobs.js";
import { $, status, attempt, setProgress } from "./status.js";
import { open } from "./start.js";

/** @typedef {import("./api.js").DocumentView} DocumentView */
/** @typedef {import("./api.js").HistoryStep} HistoryStep */
/** @typedef {import("./api.js").Rect} Rect */

/**
 * @typedef {object} EditorViews
 * @property {import("./stage.js").Stage} stage
 * @property {import("./layers.js").LayersPanel} layers
 * @property {import("./candidates.js").CandidateStrip} candidates
 * @property {import("./history.js").HistoryPanel} history
 * @property {import("./generate.js").GeneratePanel} panel
 * @property {import("./painter.js").Painter} painter
 * @property {import("./selection.js").Selection} selection
 * @property {import("./live.js").LiveMode} live
 */

/** What the composite depends on: the canvas and the drawn layers (candidates waiting in the strip are not drawn). @param {DocumentView} view */
function pictureKey(view) {
  return JSON.stringify([view.width, view.height, view.layers.filter((l) => l.drawn).map((l) => [l.id, l.image, l.x, l.y, l.scale, l.opacity, l.mask])]);
}

export class Editor {
  /** @param {string} name @param {EditorViews} views the page's views, which this editor takes over */
  constructor(name, views) {
    this.name = name;
    this.url = api.docUrl(name);
    /** @type {DocumentView|null} */
    this.view = null;
    /** @type {HistoryStep[]} */
    this.steps = [];
    /** The past state shown instead of the head (history click), or null. @type {number|null} */
    this.viewing = null;
    /** @type {string|null} */
    this.selected = null;
    /** The job this page follows. @type {{id: string, area: Rect}|null} */
    this.job = null;
    this.closed = false;
    /** Refreshes run one at a time; a change that arrives meanwhile asks for one more. */
    this.refreshing = Promise.resolve();
    /** Every read or edit takes a ticket; an answer older than the last one shown is dropped (H2 of the review). */
    this.tickets = 0;
    this.shownTicket = 0;
    /** The seed of live runs when the panel's seed is random (one per document view). @type {number|undefined} */
    this.liveSeed = undefined;
    /** The layer ids before the last answer shown (to find the layer an edit made). @type {Set<string>} */
    this.previousLayers = new Set();
    /** True while a generate is being sent (before its job id is known): a second one is not sent. */
    this.submitting = false;
    /** Esc pressed while submitting: the job is cancelled as soon as its id is known. */
    this.cancelWhenKnown = false;

    // The views are made once for the page (their elements and listeners stay); an editor takes them over.
    this.stage = views.stage;
    this.layers = views.layers;
    this.candidates = views.candidates;
    this.history = views.history;
    this.panel = views.panel;
    this.painter = views.painter;
    this.selection = views.selection;
    this.live = views.live;
    this.stage.reset();
    this.candidates.reset();
    this.live.reset();
    this.history.reset(this.url);
    this.stopWatching = watchDocument(this.url, (state) => {
      if (this.view && state !== this.view.state) this.refresh();
    });
  }

  /** Where the generation box is remembered: by the document's id, so a rename keeps it. */
  get boxKey() {
    return `redraft.box.${this.view?.document_id ?? this.name}`;
  }

  close() {
    this.closed = true;
    this.stopWatching();
    this.stage.showCandidate(null);
    this.stage.clearPreview();
  }

  async load() {
    await this.refresh();
    const saved = localStorage.getItem(this.boxKey);
    if (saved) this.stage.setBox(JSON.parse(saved));
    this.setTool(this.panel.scope === "box" ? "box" : "move");
    this.stage.fit();
    const last = [...this.steps].reverse().find((s) => s.kind === "generate" && s.seed !== null);
    if (last && this.panel.lastSeed === null) this.panel.remember([/** @type {number} */ (last.seed)]);
    await this.reattach();
  }

  /**
   * Picks up this document's generate or harmonize that is still queued or running (a reload, or a return from another
   * document, must not lose sight of it: the job runs on in the server either way).
   */
  async reattach() {
    const jobs = await api.getJobs().catch(() => null);
    if (!jobs || this.closed || this.job) return;
    const mine = [jobs.running, ...jobs.queued].find((j) => j && j.document === this.name && /^doc-(generate|harmonize)$/.test(j.kind));
    if (!mine) return;
    const area = JSON.parse(sessionStorage.getItem(`redraft.area.${mine.job}`) || "null");
    await this.followJob(mine.job, area, mine.kind === "doc-harmonize" ? "harmonize" : "generate");
  }

  /** Reads the document and its history again and shows them (one refresh at a time). */
  refresh() {
    this.refreshing = this.refreshing.then(async () => {
      if (this.closed) return;
      const ticket = ++this.tickets;
      const [view, steps] = await Promise.all([api.getDocument(this.name), api.getHistory(this.name)]);
      if (ticket < this.shownTicket) return;
      this.shownTicket = ticket;
      this.steps = steps;
      await this.show(view);
    }).catch((error) => status(error.message, true));
    return this.refreshing;
  }

  /** @param {DocumentView} view */
  async show(view) {
    if (this.closed) return;
    // The picture changed (not only candidates added): live mode runs again once the changes pause.
    if (this.view && pictureKey(view) !== pictureKey(this.view)) this.live.schedule();
    this.view = view;
    if (this.viewing !== null && this.viewing !== view.state) {
      // Viewing a past state: the head moved on underneath; the banner stays until the user goes back.
    } else {
      this.viewing = null;
      delete document.body.dataset.viewing;
      $("viewing").hidden = true;
    }
    if (this.selected && !view.layers.some((l) => l.id === this.selected)) this.selected = null;
    // The layers shown until now (the stage still has them): a layer not among them was made by this answer's edit.
    this.previousLayers = new Set(this.stage.layers.map((l) => l.id));
    this.stage.layers = view.layers;
    this.selection.fit(view.width, view.height);
    this.layers.render(view.layers, this.selected);
    this.candidates.render(view.layers);
    this.stage.selected = this.selected;
    this.stage.showFrame();
    $("export").href = `${view.composite_url}?state=${view.state}`;
    $("export").download = `${view.name}.png`;
    this.history.render(this.steps, view.state, this.viewing);
    $("doc-name").textContent = view.name;
    $("doc-size").textContent = `${view.width}×${view.height}`;
    document.title = `${view.name} — Redraft`;
    const last = this.steps.at(-1);
    $("undo").disabled = view.can_undo === false || (view.can_undo === undefined && !last);
    $("redo").disabled = view.can_redo === false;
    if (this.viewing === null) {
      await this.stage.show(view.width, view.height, `${view.composite_url}?state=${view.state}`);
      // Set once the picture of this state is on screen: tests wait for it before reading pixels.
      if (this.view === view) document.body.dataset.state = String(view.state);
    }
  }

  /**
   * Runs one edit through the API and shows the document it answers (every edit answers the document as it is).
   * @param {() => Promise<DocumentView>} request
   */
  async edit(request) {
    try {
      if (this.viewing !== null) await this.backToNow();
      const ticket = ++this.tickets;
      const view = await request();
      const steps = await api.getHistory(this.name);
      if (ticket >= this.shownTicket && !this.closed) {
        this.shownTicket = ticket;
        this.steps = steps;
        await this.show(view);
      }
      return view;
    } catch (error) {
      status(/** @type {Error} */ (error).message, true);
      return undefined;
    }
  }

  /** One change of a layer (one history step). @param {string} id @param {Record<string, any>} change */
  changeLayer(id, change) {
    return this.edit(() => api.patchLayer(this.name, id, change));
  }

  /** @param {string} id */
  removeLayer(id) {
    return this.edit(() => api.deleteLayer(this.name, id));
  }

  /** Accepts a candidate. @param {string} id */
  pick(id) {
    return this.edit(() => api.pick(this.name, id));
  }

  discard() {
    return this.edit(() => api.discardCandidates(this.name));
  }

  /** @param {string|null} id */
  select(id) {
    this.selected = id;
    this.stage.selected = id;
    this.layers.select(id);
    this.stage.showFrame();
  }

  /**
   * An action of the layers toolbar on the selected layer (or the one painting would use).
   * @param {string} action add, paste, duplicate, flip-h, flip-v, merge-down, download
   */
  async layerAction(action) {
    if (action === "add") return void this.newLayer();
    if (action === "paste") return void this.pasteFromClipboard();
    const layer = this.target();
    if (!layer) return status("Select a layer first.", true);
    switch (action) {
      case "duplicate":
      case "merge-down": {
        const view = await this.edit(() => api.layerAction(this.name, layer.id, /** @type {"duplicate"|"merge-down"} */ (action)));
        const made = view?.entry?.kind === action ? view.layers.find((l) => !this.known(l.id)) ?? null : null;
        if (made) this.select(made.id);
        break;
      }
      case "flip-h":
      case "flip-v":
        await this.edit(() => api.flipLayer(this.name, layer.id, action === "flip-h"));
        break;
      case "download": {
        const link = document.createElement("a");
        link.href = layer.url;
        link.download = `${this.name} ${layer.name}.png`;
        link.click();
        break;
      }
    }
  }

  /** Whether a layer id was in the document before the last edit. @param {string} id */
  known(id) {
    return this.previousLayers.has(id);
  }

  /** Pastes an image from the clipboard (the async clipboard API; Ctrl+V also arrives as a paste event). */
  async pasteFromClipboard() {
    try {
      for (const item of await navigator.clipboard.read()) {
        const type = item.types.find((t) => t.startsWith("image/"));
        if (!type) continue;
        const blob = await item.getType(type);
        return await this.pasteImage(new File([blob], "pasted.png", { type }));
      }
      status("The clipboard holds no image.", true);
    } catch (error) {
      status(`Cannot read the clipboard: ${/** @type {Error} */ (error).message}. Press Ctrl+V on the canvas instead.`, true);
    }
  }

  /** A pasted image becomes a layer centred on the canvas. @param {File} file */
  pasteImage(file) {
    const view = /** @type {DocumentView} */ (this.view);
    return this.dropLayers([file], view.width / 2, view.height / 2);
  }

  /**
   * The layer painting tools act on: the selected one, else the top drawn one (never a candidate waiting in the strip).
   * @returns {import("./api.js").Layer|null}
   */
  target() {
    const layers = this.view?.layers ?? [];
    const selected = layers.find((l) => l.id === this.selected && l.role !== "candidate");
    return selected ?? [...layers].reverse().find((l) => l.drawn && l.role !== "candidate") ?? null;
  }

  /** Adds a transparent layer on top and selects it. */
  async newLayer() {
    const view = await this.edit(() => api.addEmptyLayer(this.name, "paint"));
    const added = view?.layers.at(-1) ?? null;
    if (added) this.select(added.id);
    return added;
  }

  /**
   * Grows the canvas (one resize step) and selects the new strips with a little of the old picture, so the next
   * generate fills them and blends into what was there (outpainting).
   * @param {{left: number, top: number, right: number, bottom: number}} grow
   */
  async outpaint(grow) {
    const view = await this.edit(() => api.resizeCanvas(this.name, grow));
    if (!view) return;
    this.selection.fit(view.width, view.height);
    this.selection.border(grow, 16);
    $("scope").value = "selection";
    this.panel.save();
    status(`The canvas grew to ${view.width}×${view.height}: Generate (or Regenerate selection) fills the new area.`);
  }

  /** @param {string} tool move, box, brush, eraser, fill, eyedropper, select, lasso, mask */
  setTool(tool) {
    this.stage.tool = tool;
    for (const button of document.querySelectorAll("[data-tool]")) {
      button.classList.toggle("active", /** @type {HTMLElement} */ (button).dataset.tool === tool);
    }
    document.body.dataset.tool = tool;
    this.painter.toolChanged(tool);
    this.stage.showFrame();
    if (tool === "mask") this.stage.cursorSize = this.painter.brush.size;
    this.selection.update(this.selection.empty);
    if (tool === "box" && this.panel.scope !== "box") {
      $("scope").value = "box";
      this.panel.save();
    }
    this.stage.showBox(this.panel.scope === "box");
  }

  /** @param {File[]} files @param {number} x @param {number} y */
  async dropLayers(files, x, y) {
    for (const file of files) {
      // Centred on the drop point, as an image dropped on a canvas lands in painting programs.
      const bitmap = await createImageBitmap(file).catch(() => null);
      if (!bitmap) {
        status(`${file.name}: not an image this browser can read.`, true);
        continue;
      }
      const left = Math.round(x - bitmap.width / 2), top = Math.round(y - bitmap.height / 2);
      bitmap.close();
      await this.edit(() => api.addLayer(this.name, file, file.name, left, top));
      const added = this.view?.entry?.kind === "add-layer" ? this.view.layers.at(-1) : null;
      if (added) this.select(added.id);
    }
  }

  // ------------------------------------------------------------------ history

  /** @param {number} state */
  async viewState(state) {
    if (!this.view) return;
    if (state === this.view.state) return this.backToNow();
    const past = await attempt(() => api.getDocument(this.name, state));
    if (!past) return;
    this.viewing = state;
    this.stage.showCandidate(null);
    // The head is no longer what is on screen; show() sets data-state again when it is.
    delete document.body.dataset.state;
    await this.stage.show(past.width, past.height, past.composite_url);
    const step = this.steps.find((s) => s.state_after === state);
    $("viewing-text").textContent = `Viewing the document after step ${step?.id ?? "?"} (${step?.kind ?? "state " + state}).`;
    $("viewing").hidden = false;
    this.history.render(this.steps, this.view.state, state);
    document.body.dataset.viewing = String(state);
  }

  async backToNow() {
    this.viewing = null;
    delete document.body.dataset.viewing;
    $("viewing").hidden = true;
    if (this.view) await this.show(this.view);
  }

  /** @param {"undo"|"redo"} which */
  undoRedo(which) {
    return this.edit(() => api.undoRedo(this.name, which));
  }

  /** Runs a step again and reports identical or differs in its history row (kept by step: rows are re-rendered). @param {HistoryStep} step */
  async rerun(step) {
    const report = (/** @type {string} */ result, /** @type {string} */ text) => this.history.report(step.id, result, text);
    report("running", "running…");
    const accepted = await attempt(() => api.rerun(this.name, step.id));
    if (!accepted?.job_id) return report("", "");
    const end = await follow(accepted.job_id, (event) => {
      if (event.type === "progress") report("running", `running… step ${event.step}/${event.total}`);
    });
    if (end.type === "result") report(end.identical ? "identical" : "differs", end.identical ? "identical ✓" : "differs ✗");
    else report(end.type, end.type === "cancelled" ? "cancelled" : `failed: ${end.detail ?? ""}`);
  }

  /** @param {HistoryStep} step */
  async copyParameters(step) {
    const text = await attempt(() => api.getInfotext(this.name, step.id));
    if (text === undefined) return;
    try {
      await navigator.clipboard.writeText(text);
      status(`Parameters of step ${step.id} copied.`);
    } catch {
      // No clipboard permission (an insecure origin, a denied prompt): show the text to copy by hand.
      status(text);
    }
  }

  // ------------------------------------------------------------------ generation

  /** The region of a generate: the box, the selection's bounds, or the whole canvas (null). @returns {Rect|null} */
  region() {
    if (this.panel.scope === "selection") return this.selection.bounds();
    return this.panel.scope === "box" && this.stage.box ? { ...this.stage.box } : null;
  }

  /** The body of a live run: the panel's settings over the current scope, or null when the scope cannot run. */
  liveBody() {
    const region = this.region();
    const body = this.panel.body("generate", region);
    if (this.panel.scope === "selection") {
      if (this.selection.empty) return null;
      body.mask = this.selection.toDataUrl();
    }
    // A live picture follows the strokes, not a new seed each time: a random seed is drawn once per document view.
    if (body.seed === -1) body.seed = this.liveSeed ??= Math.floor(Math.random() * 2 ** 31);
    return body;
  }

  /** @param {"generate"|"harmonize"} kind */
  async run(kind) {
    if (!this.view || this.job || this.submitting) return;
    this.submitting = true;
    this.cancelWhenKnown = false;
    try {
      if (this.viewing !== null) await this.backToNow();
      const region = kind === "generate" ? this.region() : null;
      const body = this.panel.body(kind, region);
      if (kind === "generate" && this.panel.scope === "selection") {
        if (this.selection.empty) {
          status("Nothing is selected: select an area (M, L) or paint a mask (Q) first.", true);
          return;
        }
        // The selection is the mask (white = regenerate) and its bounds the region, run at the model's working size.
        body.mask = this.selection.toDataUrl();
      }
      setProgress("submitting", "Sending…", 0);
      const accepted = await attempt(() => api.submitStep(this.name, kind, body));
      if (!accepted || !accepted.job_id) {
        setProgress("idle", "", 0);
        if (accepted) await this.refresh();
        return;
      }
      const view = this.view;
      const area = accepted.area ?? region ?? { x: 0, y: 0, width: view.width, height: view.height };
      // Kept for this tab's session: a reload during the job draws its previews in the same place.
      sessionStorage.setItem(`redraft.area.${accepted.job_id}`, JSON.stringify(area));
      this.submitting = false;
      await this.followJob(accepted.job_id, area, kind);
    } finally {
      this.submitting = false;
    }
  }

  /**
   * Follows a job of this document to its end: progress, previews in place, then the document read again.
   * @param {string} id @param {Rect|null} area @param {"generate"|"harmonize"} kind
   */
  async followJob(id, area, kind) {
    const view = /** @type {DocumentView} */ (this.view);
    this.job = { id, area: area ?? { x: 0, y: 0, width: view.width, height: view.height } };
    document.body.dataset.job = id;
    this.stage.showCandidate(null);
    setProgress("queued", "Queued…", 0);
    if (this.cancelWhenKnown) this.cancel();
    const end = await follow(id, (event) => this.onJobEvent(event));
    sessionStorage.removeItem(`redraft.area.${id}`);
    // The page may show another document by now: that one's progress and picture are not this job's to change.
    if (this.closed) return;
    this.job = null;
    delete document.body.dataset.job;
    this.stage.clearPreview();
    if (end.type === "result") {
      this.panel.remember(end.seeds ?? []);
      setProgress("done", `Done: ${kind === "generate" ? `${end.seeds?.length ?? 1} candidate(s)` : "harmonized"}.`, 1);
      status(kind === "generate" ? "Pick a candidate: hover or ← →, Enter accepts, hold C to compare." : "Harmonized: the new base layer is on top; undo goes back.");
    } else if (end.type === "cancelled") {
      setProgress("cancelled", "Cancelled: nothing was recorded.", 0);
    } else {
      setProgress("error", `Failed: ${end.detail || end.error || "unknown error"}`, 0);
    }
    await this.refresh();
  }

  /** @param {import("./jobs.js").JobEvent} event */
  onJobEvent(event) {
    if (this.closed) return;
    switch (event.type) {
      case "snapshot":
      case "queued":
        if (event.status === "queued" || event.type === "queued") {
          const position = event.position ?? 0;
          setProgress("queued", position > 0 ? `Waiting: ${position} job(s) ahead.` : "Starting…", 0);
        } else if (event.status === "running") {
          setProgress("running", event.total ? `Step ${event.step}/${event.total}` : "Running…", event.total ? event.step / event.total : 0);
        }
        break;
      case "started":
        setProgress("running", "Starting…", 0);
        break;
      case "phase":
        if (event.phase === "commit") setProgress("running", "Saving to the document…", 1);
        break;
      case "progress": {
        const eta = typeof event.eta_s === "number" ? ` · ETA ${Math.max(0, Math.round(event.eta_s))} s` : "";
        const fraction = event.total ? event.step / event.total : event.fraction ?? 0;
        setProgress("running", `Step ${event.step}/${event.total}${eta}`, fraction);
        break;
      }
      case "preview":
        if (this.job) this.stage.drawPreview(event.url, this.job.area, event.n).catch(() => {});
        break;
    }
  }

  cancel() {
    if (this.submitting && !this.job) {
      this.cancelWhenKnown = true;
      setProgress("cancelling", "Cancelling…", 0);
      return true;
    }
    if (!this.job) return false;
    const id = this.job.id;
    setProgress("cancelling", "Cancelling…", 0);
    attempt(() => api.cancelJob(id));
    return true;
  }

  // ------------------------------------------------------------------ rename

  /** Renames the document in place: the title becomes a text field; Enter keeps, Esc cancels. */
  rename() {
    const title = $("doc-name");
    const input = document.createElement("input");
    input.type = "text";
    input.id = "doc-rename";
    input.value = this.name;
    input.maxLength = 100;
    title.hidden = true;
    title.after(input);
    input.focus();
    input.select();
    let done = false;
    const finish = async (/** @type {boolean} */ keep) => {
      if (done) return;
      done = true;
      input.remove();
      title.hidden = false;
      const name = input.value.trim();
      if (!keep || !name || name === this.name) return;
      const view = await attempt(() => api.renameDocument(this.name, name));
      if (view) open(view.name);
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") finish(true);
      if (event.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true));
  }
}

// @ts-check
// The server's HTTP API as the canvas uses it: the documents API (/api/v1/documents), jobs and their event streams,
// the A1111 lists (models, samplers, schedulers) and the model catalogue's downloads. Every edit carries an operation id
// made when the user acted, so a retried request is recorded once.

/**
 * @typedef {{step: number, seed: number}} LayerGeneration
 * @typedef {{id: string, index: number, name: string, role: "user"|"candidate"|"generated", visible: boolean,
 *   hidden: boolean, drawn: boolean, x: number, y: number, scale: number, opacity: number, image: string,
 *   mask: string|null, generation: LayerGeneration|null, width: number, height: number, url: string}} Layer
 * @typedef {{id: number, time: string, kind: string, prompt: string|null, seed: number|null, strength: number|null,
 *   sampler: string|null, model_hash: string|null, duration_s: number, parameters: Record<string, any>,
 *   inputs: string[], outputs: string[], state_before: number|null, state_after: number}} HistoryStep
 * @typedef {{name: string, document_id: string, width: number, height: number, state: number, layers: Layer[],
 *   composite_url: string, entry: HistoryStep|null, can_undo?: boolean, can_redo?: boolean}} DocumentView
 * @typedef {{name: string, document_id: string, width: number, height: number, state: number, modified: string,
 *   url: string}} DocumentSummary
 * @typedef {{x: number, y: number, width: number, height: number}} Rect
 * @typedef {{job_id: string|null, events_url: string|null, entry_id: number|null, replayed: boolean, area?: Rect}} JobAccepted
 */

/** An answer that was not 2xx: the server's one-line error. */
export class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** A new operation id: one per user action, sent again if the same action is retried. */
export function operationId() {
  return crypto.randomUUID();
}

/**
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<any>}
 */
async function call(path, init) {
  const response = await fetch(path, init);
  const type = response.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const detail = typeof body === "object" && body ? body.detail : null;
    // FastAPI's validation answers carry a list: [{loc: ["body", "steps"], msg}, …].
    const message = Array.isArray(detail)
      ? detail.map((p) => `${(p.loc ?? []).slice(1).join(".")}: ${p.msg}`).join("; ")
      : typeof body === "object" && body ? (detail || body.error || body.errors) : body;
    throw new ApiError(response.status, String(message || `HTTP ${response.status}`));
  }
  return body;
}

/** @param {string} path @param {any} [body] @param {string} [method] */
function send(path, body, method = "POST") {
  return call(path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
}

/** @param {string} name */
export function docUrl(name) {
  return "/api/v1/documents/" + encodeURIComponent(name);
}

/** @returns {Promise<DocumentSummary[]>} */
export async function listDocuments() {
  return (await call("/api/v1/documents")).documents;
}

/**
 * A new document: a blank canvas of the given size, or from a sketch (its size unless one is given).
 * @param {string} name @param {{width?: number, height?: number, image?: Blob, fileName?: string}} what
 * @returns {Promise<DocumentView>}
 */
export function createDocument(name, what) {
  if (what.image) {
    const form = new FormData();
    form.set("name", name);
    form.set("image", what.image, what.fileName || "sketch.png");
    if (what.width && what.height) {
      form.set("width", String(what.width));
      form.set("height", String(what.height));
    }
    return call("/api/v1/documents", { method: "POST", body: form });
  }
  return send("/api/v1/documents", { name, width: what.width, height: what.height });
}

/** @param {string} name @param {number|null} [state] @returns {Promise<DocumentView>} */
export function getDocument(name, state) {
  return call(docUrl(name) + (state ? `?state=${state}` : ""));
}

/** @param {string} name @param {string} newName @returns {Promise<DocumentView>} */
export function renameDocument(name, newName) {
  return send(docUrl(name), { name: newName, operation_id: operationId() }, "PATCH");
}

/** @param {string} name @returns {Promise<HistoryStep[]>} */
export async function getHistory(name) {
  return (await call(docUrl(name) + "/history")).steps;
}

/** @param {string} name @param {number} step @returns {Promise<string>} */
export function getInfotext(name, step) {
  return call(`${docUrl(name)}/history/${step}/infotext`);
}

/**
 * One change of a layer (one history step): visible, opacity, name, a move (x, y, scale) or index.
 * @param {string} name @param {string} layer @param {Record<string, any>} change @returns {Promise<DocumentView>}
 */
export function patchLayer(name, layer, change) {
  return send(`${docUrl(name)}/layers/${encodeURIComponent(layer)}`, { ...change, operation_id: operationId() }, "PATCH");
}

/** @param {string} name @param {string} layer @returns {Promise<DocumentView>} */
export function deleteLayer(name, layer) {
  return call(`${docUrl(name)}/layers/${encodeURIComponent(layer)}?operation_id=${operationId()}`, { method: "DELETE" });
}

/**
 * An image as a new layer, its top-left corner at (x, y) on the canvas.
 * @param {string} name @param {Blob} image @param {string} fileName @param {number} x @param {number} y
 * @returns {Promise<DocumentView>}
 */
export function addLayer(name, image, fileName, x, y) {
  const form = new FormData();
  form.set("image", image, fileName);
  form.set("x", String(Math.round(x)));
  form.set("y", String(Math.round(y)));
  form.set("operation_id", operationId());
  return call(`${docUrl(name)}/layers`, { method: "POST", body: form });
}

/** @param {string} name @param {string} layer @returns {Promise<DocumentView>} */
export function pick(name, layer) {
  return send(`${docUrl(name)}/candidates/${encodeURIComponent(layer)}/pick`, { operation_id: operationId() });
}

/** @param {string} name @returns {Promise<DocumentView>} */
export function discardCandidates(name) {
  return send(`${docUrl(name)}/candidates/discard`, { operation_id: operationId() });
}

/**
 * Grows (or, negative, crops) the canvas by pixels on each side; the layers keep their place in the picture.
 * @param {string} name @param {{left: number, top: number, right: number, bottom: number}} grow
 * @returns {Promise<DocumentView>}
 */
export function resizeCanvas(name, grow) {
  return send(`${docUrl(name)}/resize`, { ...grow, operation_id: operationId() });
}

/** @param {string} name @param {"undo"|"redo"} which @returns {Promise<DocumentView>} */
export function undoRedo(name, which) {
  return send(`${docUrl(name)}/${which}`, { operation_id: operationId() });
}

/**
 * Generate (candidates) or harmonize (a new base layer) as a job on the server's queue.
 * @param {string} name @param {"generate"|"harmonize"} kind @param {Record<string, any>} body
 * @returns {Promise<JobAccepted>}
 */
export function submitStep(name, kind, body) {
  return send(`${docUrl(name)}/${kind}`, { ...body, operation_id: operationId() });
}

/** @param {string} name @param {number} step @returns {Promise<JobAccepted>} */
export function rerun(name, step) {
  return send(`${docUrl(name)}/history/${step}/rerun`, {});
}

/** @param {string} job */
export function cancelJob(job) {
  return call(`/api/v1/jobs/${encodeURIComponent(job)}`, { method: "DELETE" });
}

/** @returns {Promise<{running: any, queued: any[]}>} */
export function getJobs() {
  return call("/api/v1/jobs");
}

/** The installed checkpoints (A1111's list). @returns {Promise<{title: string, model_name: string, filename: string}[]>} */
export function getModels() {
  return call("/sdapi/v1/sd-models");
}

/**
 * @typedef {{name: string, title: string, role: "checkpoint"|"vae"|"lora"|"taesd"|"tokenizer", family: string,
 *   size: number|null, default: boolean, installed: boolean, installed_path: string|null, installed_size: number|null,
 *   source: string|null, licence: string|null, licence_url: string|null, licence_to_accept: boolean}} CatalogueModel
 * @typedef {{id: string, name: string, state: "queued"|"running"|"done"|"failed"|"cancelled", file: string|null,
 *   bytes: number, total: number|null, bytes_per_second: number, error: string|null, path: string|null,
 *   started_at: string|null, finished_at: string|null}} ModelDownload
 * @typedef {{id: string, status_url: string, state: string}} ModelDownloadAccepted
 */

/** The model catalogue, with what is installed. @returns {Promise<CatalogueModel[]>} */
export function getCatalogue() {
  return call("/api/v1/models");
}

/**
 * Starts downloading a catalogue model on the server's download queue (asking again while it runs answers the same
 * download). acceptLicence is true only once the user has accepted a licence that asks for it.
 * @param {string} name @param {boolean} acceptLicence @returns {Promise<ModelDownloadAccepted>}
 */
export function downloadModel(name, acceptLicence) {
  return send("/api/v1/models", { name, accept_licence: acceptLicence });
}

/** A download's progress. @param {string} id @returns {Promise<ModelDownload>} */
export function getDownload(id) {
  return call(`/api/v1/models/downloads/${encodeURIComponent(id)}`);
}

/** Cancels a download; its .part file stays for the next download to resume. @param {string} id @returns {Promise<ModelDownload>} */
export function cancelDownload(id) {
  return call(`/api/v1/models/downloads/${encodeURIComponent(id)}`, { method: "DELETE" });
}

/** @returns {Promise<{name: string}[]>} */
export function getSamplers() {
  return call("/sdapi/v1/samplers");
}

/** @returns {Promise<{name: string, label: string}[]>} */
export function getSchedulers() {
  return call("/sdapi/v1/schedulers");
}

/** @returns {Promise<Record<string, any>>} */
export function getOptions() {
  return call("/sdapi/v1/options");
}

/**
 * A painted patch of a layer (its own pixels, straight RGBA PNG) at (x, y); 409 when the layer's image is no longer
 * <baseImage> (someone else changed it meanwhile).
 * @param {string} name @param {string} layer @param {Blob} patch @param {number} x @param {number} y
 * @param {string} baseImage @returns {Promise<DocumentView>}
 */
export function paintLayer(name, layer, patch, x, y, baseImage) {
  const form = new FormData();
  form.set("patch", patch, "patch.png");
  form.set("x", String(x));
  form.set("y", String(y));
  form.set("base_image", baseImage);
  form.set("operation_id", operationId());
  return call(`${docUrl(name)}/layers/${encodeURIComponent(layer)}/paint`, { method: "POST", body: form });
}

/**
 * Erases through a mask (white = erase) in the layer's own pixels.
 * @param {string} name @param {string} layer @param {Blob} mask @returns {Promise<DocumentView>}
 */
export function eraseLayer(name, layer, mask) {
  const form = new FormData();
  form.set("mask", mask, "mask.png");
  form.set("space", "layer");
  form.set("operation_id", operationId());
  return call(`${docUrl(name)}/layers/${encodeURIComponent(layer)}/erase`, { method: "POST", body: form });
}

/** A transparent, canvas-sized layer on top. @param {string} name @param {string} layerName @returns {Promise<DocumentView>} */
export function addEmptyLayer(name, layerName) {
  return send(`${docUrl(name)}/layers`, { empty: true, name: layerName, operation_id: operationId() });
}

/** @param {string} name @param {string} layer @param {boolean} horizontal @returns {Promise<DocumentView>} */
export function flipLayer(name, layer, horizontal) {
  return send(`${docUrl(name)}/layers/${encodeURIComponent(layer)}/flip`, { horizontal, operation_id: operationId() });
}

/** @param {string} name @param {string} layer @param {"duplicate"|"merge-down"} action @returns {Promise<DocumentView>} */
export function layerAction(name, layer, action) {
  return send(`${docUrl(name)}/layers/${encodeURIComponent(layer)}/${action}`, { operation_id: operationId() });
}

/**
 * A live-mode run (1–4 steps, nothing recorded); a newer one for the same document supersedes it.
 * @param {string} name @param {Record<string, any>} body @returns {Promise<JobAccepted>}
 */
export function submitLive(name, body) {
  return send(`${docUrl(name)}/live`, body);
}

/** The kept result of a live job as a candidate layer. @param {string} name @param {string} job @returns {Promise<DocumentView>} */
export function applyLive(name, job) {
  return send(`${docUrl(name)}/live/${encodeURIComponent(job)}/apply`, { operation_id: operationId() });
}

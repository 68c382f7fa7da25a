// @ts-check
// The start screen: a new document from a size preset or a dropped sketch, and the recent documents.

import * as api from "./api.js";
import { $, status, attempt } from "./status.js";

/** A document name from a file name: the characters the server accepts, a date when nothing is left. @param {string} text */
export function documentName(text) {
  const base = text.replace(/\.[^.]*$/, "").replace(/[^\p{L}\p{N} _.-]+/gu, "-").replace(/^[. ]+|[. ]+$/g, "").slice(0, 60);
  return base || `sketch ${new Date().toISOString().slice(0, 16).replace("T", " ").replace(":", "-")}`;
}

/** A name not yet taken: "name", "name 2", "name 3"… @param {string} name */
async function unusedName(name) {
  const taken = new Set((await api.listDocuments()).map((d) => d.name));
  let candidate = name;
  for (let i = 2; taken.has(candidate); i++) candidate = `${name} ${i}`;
  return candidate;
}

// ---------------------------------------------------------------------------------------------- start screen

export async function showStart() {
  $("editor").hidden = true;
  $("doc-bar").hidden = true;
  $("start").hidden = false;
  document.title = "Redraft";
  document.body.dataset.view = "start";
  delete document.body.dataset.state;
  $("new-name").value = documentName("");
  const list = $("recent");
  /** @type {import("./api.js").DocumentSummary[]} */
  const documents = await attempt(() => api.listDocuments()) ?? [];
  list.replaceChildren(...documents.map((d) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `#/doc/${encodeURIComponent(d.name)}`;
    link.dataset.testid = `recent-${d.name}`;
    const thumb = document.createElement("img");
    thumb.src = `${d.url}/thumbnail.png?size=160`;
    thumb.alt = "";
    thumb.loading = "lazy";
    const label = document.createElement("span");
    label.textContent = `${d.name} · ${d.width}×${d.height}`;
    link.append(thumb, label);
    item.append(link);
    return item;
  }));
  $("recent-empty").hidden = documents.length > 0;
}

/** @param {string} name */
export function open(name) {
  location.hash = `#/doc/${encodeURIComponent(name)}`;
}

/** @param {File} file */
async function newFromSketch(file) {
  const name = await unusedName(documentName(file.name));
  const view = await attempt(() => api.createDocument(name, { image: file, fileName: file.name }));
  if (view) open(view.name);
}

export function setUpStart() {
  $("size-preset").addEventListener("change", () => {
    const [w, h] = String($("size-preset").value).split("x");
    if (w) {
      $("new-width").value = w;
      $("new-height").value = h;
    }
  });
  $("new-form").addEventListener("submit", async (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    const name = String($("new-name").value).trim();
    const view = await attempt(() => api.createDocument(name, { width: Number($("new-width").value), height: Number($("new-height").value) }));
    if (view) open(view.name);
  });
  $("new-file").addEventListener("change", () => {
    const file = $("new-file").files?.[0];
    if (file) newFromSketch(file);
  });
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (/** @type {DragEvent} */ event) => {
    if (event.dataTransfer?.types.includes("Files")) {
      event.preventDefault();
      zone.classList.add("over");
    }
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (/** @type {DragEvent} */ event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = [...(event.dataTransfer?.files ?? [])].find((f) => f.type.startsWith("image/"));
    if (file) newFromSketch(file);
    else status("Drop an image file (PNG, JPEG or WebP) to start from it.", true);
  });
}

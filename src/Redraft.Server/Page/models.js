// @ts-check
// The model picker's other half: the catalogue's checkpoints that are not installed, each with a "Download (size)"
// button. A licence that asks for acceptance is shown with a box to tick, and the download starts only once it is
// ticked. While the server downloads (its own queue, beside generations) the row shows bytes, total and speed, read
// every half second, and a Cancel button (the server keeps the .part file, so Resume goes on from there); a finished
// model is offered in the model list at once and selected, a failure shows the server's one line.

import * as api from "./api.js";

/** How often a running download is asked about. */
const POLL_MS = 500;

/** Bytes as people read them (decimal units, as download sizes are announced): 940 kB, 2.1 MB, 4.3 GB. @param {number} bytes */
export function sizeWords(bytes) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit > 0 && value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @template {keyof HTMLElementTagNameMap} K @param {K} tag @param {Record<string, string>} [attributes] @param {string} [text] */
function element(tag, attributes = {}, text = "") {
  const made = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  if (text) made.textContent = text;
  return made;
}

export class ModelDownloads {
  /**
   * @param {HTMLDetailsElement} box the "not installed" list under the model select
   * @param {(path: string) => Promise<void>} installed called with the model's file once it is in place
   */
  constructor(box, installed) {
    this.box = box;
    this.list = /** @type {HTMLUListElement} */ (box.querySelector("ul"));
    this.installed = installed;
    /** Catalogue names being downloaded from this page: their rows stay as they are when the list is read again. */
    this.active = new Set();
  }

  /** Reads the catalogue and lists its checkpoints that are not installed. @param {boolean} noneInstalled open the list */
  async load(noneInstalled) {
    const missing = (await api.getCatalogue()).filter((m) => m.role === "checkpoint" && !m.installed);
    const kept = [...this.list.children].filter((row) => this.active.has(/** @type {HTMLElement} */ (row).dataset.model));
    this.list.replaceChildren(...missing.map((m) => kept.find((row) => /** @type {HTMLElement} */ (row).dataset.model === m.name) ?? this.row(m)));
    this.count();
    // A machine with nothing to generate with shows at once what it can get.
    if (noneInstalled && missing.length) this.box.open = true;
  }

  count() {
    const rows = this.list.children.length;
    this.box.hidden = rows === 0;
    /** @type {HTMLElement} */ (this.box.querySelector("summary")).textContent = `Not installed (${rows})`;
  }

  /** @param {import("./api.js").CatalogueModel} model */
  row(model) {
    const row = element("li", { "data-model": model.name, "data-testid": `download-${model.name}` });
    row.append(element("strong", {}, model.name), " ", element("span", { class: "title" }, model.title));
    const button = element("button", { type: "button", class: "download" }, model.size ? `Download (${sizeWords(model.size)})` : "Download");
    const tools = element("div", { class: "row" });
    /** @type {HTMLInputElement|null} */
    let accept = null;
    if (model.licence) {
      const link = element("a", { href: model.licence_url ?? "#", target: "_blank", rel: "noopener" }, model.licence);
      const licence = element("label", { class: "licence" });
      if (model.licence_to_accept) {
        accept = element("input", { type: "checkbox", class: "accept" });
        licence.append(accept, " I accept the ", link);
        button.disabled = true;
        const box = accept;
        box.addEventListener("change", () => { button.disabled = !box.checked; });
      } else {
        licence.append("Licence: ", link);
      }
      row.append(licence);
    }
    const progress = element("progress", { max: "1", value: "0" });
    progress.hidden = true;
    const state = element("small", { class: "download-status", role: "status" });
    const cancel = element("button", { type: "button", class: "cancel" }, "Cancel");
    cancel.hidden = true;
    tools.append(button, progress, cancel);
    row.append(tools, state);
    button.addEventListener("click", () => this.download(model, row, accept?.checked === true));
    return row;
  }

  /**
   * Starts the download and follows it to its end.
   * @param {import("./api.js").CatalogueModel} model @param {HTMLElement} row @param {boolean} acceptLicence
   */
  async download(model, row, acceptLicence) {
    const button = /** @type {HTMLButtonElement} */ (row.querySelector("button.download"));
    const progress = /** @type {HTMLProgressElement} */ (row.querySelector("progress"));
    const state = /** @type {HTMLElement} */ (row.querySelector(".download-status"));
    const cancel = /** @type {HTMLButtonElement} */ (row.querySelector("button.cancel"));
    button.hidden = true;
    progress.hidden = false;
    progress.removeAttribute("value");   // indeterminate until the first bytes
    state.classList.remove("error");
    state.textContent = "Starting…";
    row.dataset.state = "queued";
    this.active.add(model.name);
    try {
      const accepted = await api.downloadModel(model.name, acceptLicence);
      cancel.hidden = false;
      cancel.disabled = false;
      // The loop below sees the download end cancelled, with the server's words.
      cancel.onclick = () => {
        cancel.disabled = true;
        api.cancelDownload(accepted.id).catch((error) => { state.textContent = error.message; });
      };
      /** @type {import("./api.js").ModelDownload} */
      let view;
      for (;;) {
        view = await api.getDownload(accepted.id);
        this.show(view, row);
        if (view.state !== "queued" && view.state !== "running") break;
        await sleep(POLL_MS);
      }
      if (view.state !== "done" || !view.path) throw new Error(view.error || `the download ended ${view.state}`);
      this.active.delete(model.name);
      row.remove();
      this.count();
      await this.installed(view.path);
    } catch (error) {
      this.active.delete(model.name);
      row.dataset.state = row.dataset.state === "cancelled" ? "cancelled" : "failed";
      state.textContent = /** @type {Error} */ (error).message;
      state.classList.toggle("error", row.dataset.state === "failed");
      progress.hidden = true;
      cancel.hidden = true;
      button.hidden = false;
      button.textContent = row.dataset.state === "cancelled" ? "Resume" : "Retry";
    }
  }

  /** @param {import("./api.js").ModelDownload} view @param {HTMLElement} row */
  show(view, row) {
    const progress = /** @type {HTMLProgressElement} */ (row.querySelector("progress"));
    const state = /** @type {HTMLElement} */ (row.querySelector(".download-status"));
    row.dataset.state = view.state;
    if (view.state === "queued") {
      state.textContent = "Waiting for another download…";
      return;
    }
    if (view.total) {
      progress.max = view.total;
      progress.value = view.bytes;
    }
    const amount = view.total ? `${sizeWords(view.bytes)} of ${sizeWords(view.total)}` : sizeWords(view.bytes);
    state.textContent = view.bytes_per_second > 0 ? `${amount} · ${sizeWords(view.bytes_per_second)}/s` : amount;
  }
}

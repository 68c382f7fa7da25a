// @ts-check
// The layers panel: top layer first, each with its thumbnail, name (double-click to rename), visibility, opacity and
// delete; drag a row to reorder. Candidates are not listed here: they wait in the candidate strip until picked.
// Every change is one history step through the documents API.

/** @typedef {import("./api.js").Layer} Layer */

/**
 * @typedef {object} LayerActions
 * @property {(id: string) => void} select
 * @property {(id: string, change: Record<string, any>) => Promise<void>} change one of visible, opacity, name, index
 * @property {(id: string) => Promise<void>} remove
 */

export class LayersPanel {
  /** @param {HTMLElement} list @param {LayerActions} actions */
  constructor(list, actions) {
    this.list = list;
    this.actions = actions;
    /** @type {string|null} */
    this.dragging = null;
  }

  /** @param {Layer[]} layers bottom first, as the document lists them @param {string|null} selected */
  render(layers, selected) {
    // A rename being typed is not thrown away by a refresh: the list waits for it (its end edits and re-renders).
    if (this.list.querySelector(".rename")) return;
    const rows = layers.filter((l) => l.role !== "candidate").reverse().map((layer) => this.row(layer, layer.id === selected));
    this.list.replaceChildren(...rows);
    if (!rows.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "No layers yet: drop an image on the canvas, or generate.";
      this.list.append(empty);
    }
  }

  /** Marks the selected layer's row (the rows stay: a double-click on a name must reach the same element). @param {string|null} id */
  select(id) {
    for (const row of this.list.querySelectorAll(".layer")) {
      row.classList.toggle("selected", /** @type {HTMLElement} */ (row).dataset.layer === id);
    }
  }

  /** @param {Layer} layer @param {boolean} selected @returns {HTMLLIElement} */
  row(layer, selected) {
    const row = document.createElement("li");
    row.className = "layer" + (selected ? " selected" : "") + (layer.hidden ? " studio-hidden" : "");
    row.dataset.layer = layer.id;
    row.dataset.testid = `layer-${layer.id}`;
    row.draggable = true;
    row.title = layer.hidden ? "Hidden by a harmonize (its picture is in the harmonized layer)" : `${layer.role} layer ${layer.id}`;

    const thumb = document.createElement("img");
    thumb.className = "thumb";
    thumb.src = layer.url;
    thumb.alt = "";
    thumb.draggable = false;

    const visible = document.createElement("input");
    visible.type = "checkbox";
    visible.checked = layer.visible;
    visible.title = "Visible";
    visible.dataset.testid = "layer-visible";
    visible.addEventListener("change", () => this.actions.change(layer.id, { visible: visible.checked }));

    const name = document.createElement("span");
    name.className = "name";
    name.textContent = layer.name;
    name.title = "Double-click to rename";
    name.addEventListener("dblclick", () => this.rename(layer, name));

    const opacity = document.createElement("input");
    opacity.type = "range";
    opacity.min = "0";
    opacity.max = "1";
    opacity.step = "0.01";
    opacity.value = String(layer.opacity);
    opacity.title = "Opacity";
    opacity.dataset.testid = "layer-opacity";
    // One history step when the slider is let go, not one per pixel of travel.
    opacity.addEventListener("change", () => this.actions.change(layer.id, { opacity: Number(opacity.value) }));

    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "icon";
    remove.textContent = "✕";
    remove.title = "Delete layer (kept in the history: undo brings it back)";
    remove.dataset.testid = "layer-delete";
    remove.addEventListener("click", () => this.actions.remove(layer.id));

    row.append(visible, thumb, name, opacity, remove);
    row.addEventListener("click", (event) => {
      if (event.target === row || event.target === thumb || event.target === name) this.actions.select(layer.id);
    });
    row.addEventListener("dragstart", (event) => {
      this.dragging = layer.id;
      event.dataTransfer?.setData("text/plain", layer.id);
    });
    row.addEventListener("dragover", (event) => {
      if (this.dragging && this.dragging !== layer.id) event.preventDefault();
    });
    row.addEventListener("drop", (event) => {
      event.preventDefault();
      const moving = this.dragging;
      this.dragging = null;
      // Dropped on a row: the dragged layer takes that row's place in the stack (index 0 = bottom).
      if (moving && moving !== layer.id) this.actions.change(moving, { index: layer.index });
    });
    row.addEventListener("dragend", () => { this.dragging = null; });
    return row;
  }

  /** @param {Layer} layer @param {HTMLElement} name */
  rename(layer, name) {
    const input = document.createElement("input");
    input.type = "text";
    input.value = layer.name;
    input.className = "rename";
    name.replaceWith(input);
    input.focus();
    input.select();
    let done = false;
    const finish = (/** @type {boolean} */ keep) => {
      if (done) return;
      done = true;
      input.replaceWith(name);
      const value = input.value.trim();
      if (keep && value && value !== layer.name) this.actions.change(layer.id, { name: value });
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") finish(true);
      if (event.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true));
  }
}

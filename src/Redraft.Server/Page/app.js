// @ts-check
// The canvas page: the start screen (start.js) and the editor of one document (editor.js), wired to the page's views,
// its shortcuts and its routes (#/ and #/doc/NAME). The document lives on the server, in the same folders
// `redraft doc` opens; the page shows the composites the server renders, so what it shows is what `doc render` writes.

import * as api from "./api.js";
import { Stage } from "./stage.js";
import { LayersPanel } from "./layers.js";
import { CandidateStrip } from "./candidates.js";
import { HistoryPanel } from "./history.js";
import { GeneratePanel } from "./generate.js";
import { install, shortcut, key, isTyping } from "./hotkeys.js";
import { fromParameters } from "./pnginfo.js";
import { Painter } from "./painter.js";
import { Selection } from "./selection.js";
import { LiveMode } from "./live.js";
import { $, status, setProgress } from "./status.js";
import { showStart, setUpStart } from "./start.js";
import { Editor } from "./editor.js";

/** The page's record for tests and bug reports: events of the jobs it followed, and the pixels it shows. */
window.__redraft = {
  events: [],
  /** @param {number} x @param {number} y @param {number} w @param {number} h */
  compositePixels: (x, y, w, h) => {
    const data = editor?.stage.compositePixels(x, y, w, h);
    if (!data) return "";
    // In slices: a spread of a whole canvas's bytes would overflow the call stack.
    let binary = "";
    for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
    return btoa(binary);
  },
};

// ---------------------------------------------------------------------------------------------- wiring

/** @type {Editor|null} */
let editor = null;
const panel = new GeneratePanel();

// The editor's views, one each for the page; their actions go to the editor open now.
const stage = new Stage($("viewport"), {
  moveLayer: async (layer, x, y, scale) => { await editor?.changeLayer(layer, scale === undefined ? { x, y } : { x, y, scale }); },
  selectLayer: (layer) => editor?.select(layer),
  boxChanged: (box) => { if (editor) localStorage.setItem(editor.boxKey, JSON.stringify(box)); },
  dropFiles: (files, x, y) => { editor?.dropLayers(files, x, y); },
  tools: {},
  resizeCanvas: async (grow) => { await editor?.outpaint(grow); },
});
const painter = new Painter(stage, {
  documentName: () => editor?.name ?? null,
  target: () => editor?.target() ?? null,
  edit: async (request) => editor?.edit(request),
  newLayer: async () => (await editor?.newLayer()) ?? null,
  status,
});
const selection = new Selection(stage, () => painter.brush, () => {
  const tool = document.body.dataset.tool ?? "";
  $("selection-bar").hidden = selection.empty && !["select", "lasso", "mask"].includes(tool);
  $("scope").querySelector("option[value=selection]").disabled = selection.empty;
});
/** @type {Record<string, import("./stage.js").ToolGesture>} */
const selectionTools = {
  select: (event, at) => selection.rectangle(event, at),
  lasso: (event, at) => selection.lasso(event, at),
  mask: (event, at) => selection.paint(event, at),
};
stage.handlers.tools = { ...painter.gestures(), ...selectionTools };
const live = new LiveMode(stage, {
  documentName: () => editor?.name ?? null,
  body: () => editor?.liveBody() ?? null,
  edit: async (request) => editor?.edit(request),
  status,
});
const layersPanel = new LayersPanel($("layers"), {
  select: (id) => editor?.select(id),
  change: async (id, change) => { await editor?.changeLayer(id, change); },
  remove: async (id) => { await editor?.removeLayer(id); },
});
const candidateStrip = new CandidateStrip($("candidates"), {
  preview: (layer) => stage.showCandidate(layer),
  accept: async (layer) => { await editor?.pick(layer.id); },
  discard: async () => { await editor?.discard(); },
});
const historyPanel = new HistoryPanel($("history"), "", {
  view: (step) => { editor?.viewState(step.state_after); },
  rerun: async (step) => { await editor?.rerun(step); },
  copy: async (step) => { await editor?.copyParameters(step); },
  use: (step) => {
    panel.use(fromParameters(step.parameters));
    status(`Settings of step ${step.id} loaded.`);
  },
});

/** The document a hash names (#/doc/NAME), or null for the start screen (also for a hash that does not decode). */
function documentInHash() {
  const match = location.hash.match(/^#\/doc\/(.+)$/);
  try {
    return match ? decodeURIComponent(match[1]) : null;
  } catch {
    return null;
  }
}

async function route() {
  const name = documentInHash();
  if (name === null) {
    editor?.close();
    editor = null;
    return showStart();
  }
  if (editor?.name === name) return;
  editor?.close();
  $("start").hidden = true;
  $("editor").hidden = false;
  $("doc-bar").hidden = false;
  document.body.dataset.view = "editor";
  delete document.body.dataset.state;
  setProgress("idle", "", 0);
  editor = new Editor(name, { stage, layers: layersPanel, candidates: candidateStrip, history: historyPanel, panel, painter, selection, live });
  await editor.load();
}

async function showQueue() {
  try {
    if (document.visibilityState === "visible") {
      const jobs = await api.getJobs();
      const waiting = jobs.queued.length;
      $("queue").textContent = jobs.running ? `Busy${waiting ? ` · ${waiting} waiting` : ""}` : waiting ? `${waiting} waiting` : "Idle";
    }
  } catch {
    $("queue").textContent = "Server unreachable";
  } finally {
    setTimeout(showQueue, 2000);
  }
}

function setUpEditor() {
  $("undo").addEventListener("click", () => editor?.undoRedo("undo"));
  $("redo").addEventListener("click", () => editor?.undoRedo("redo"));
  $("fit").addEventListener("click", () => editor?.stage.fit());
  $("actual").addEventListener("click", () => editor?.stage.actualSize());
  $("doc-name").addEventListener("click", () => editor?.rename());
  $("back-to-now").addEventListener("click", () => editor?.backToNow());
  $("cancel").addEventListener("click", () => editor?.cancel());
  for (const button of document.querySelectorAll("[data-tool]")) {
    button.addEventListener("click", () => editor?.setTool(/** @type {any} */ (button).dataset.tool));
  }
  // Enter in a number field must not start a generation: the form never submits; the button and Ctrl+Enter do.
  $("generate-panel").addEventListener("submit", (/** @type {SubmitEvent} */ event) => event.preventDefault());
  $("run-generate").addEventListener("click", () => editor?.run("generate"));
  // A file dropped anywhere else must not make the browser leave the page to show it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  $("run-harmonize").addEventListener("click", () => editor?.run("harmonize"));
  $("selection-clear").addEventListener("click", () => selection.clear());
  for (const button of document.querySelectorAll("[data-layer-action]")) {
    button.addEventListener("click", () => editor?.layerAction(/** @type {HTMLElement} */ (button).dataset.layerAction ?? ""));
  }
  // Ctrl+V with an image on the clipboard (a screenshot, a copied picture): a new layer. Text pastes into fields as usual.
  window.addEventListener("paste", (event) => {
    if (!editor || isTyping(event.target)) return;
    const file = [...(event.clipboardData?.files ?? [])].find((f) => f.type.startsWith("image/"));
    if (!file) return;
    event.preventDefault();
    editor.pasteImage(file);
  });
  $("selection-invert").addEventListener("click", () => selection.invert());
  $("selection-blur").addEventListener("click", () => selection.blur(Number($("selection-feather").value)));
  $("selection-generate").addEventListener("click", () => {
    $("scope").value = "selection";
    panel.save();
    editor?.run("generate");
  });
  panel.onScope = (scope) => editor?.setTool(scope === "box" ? "box" : stage.tool === "box" ? "move" : stage.tool);

  const candidates = () => editor?.candidates;
  install([
    shortcut("Ctrl+Enter", "Generate", key.ctrl("Enter"), () => { editor?.run("generate"); }, { inText: true }),
    shortcut("Ctrl+Z", "Undo", key.ctrl("z"), () => { editor?.undoRedo("undo"); }),
    shortcut("Ctrl+Shift+Z", "Redo", key.ctrlShift("z"), () => { editor?.undoRedo("redo"); }),
    shortcut("Ctrl+Y", "Redo", key.ctrl("y"), () => { editor?.undoRedo("redo"); }),
    shortcut("Esc", "Cancel the running generation; leave a past state", key.plain("Escape"), () => {
      if (editor?.cancel()) return true;
      if (editor && editor.viewing !== null) return void editor.backToNow();
      return false;
    }),
    shortcut("← →", "Previous / next candidate", (e) => key.plain("ArrowLeft")(e) || key.plain("ArrowRight")(e),
      (e) => candidates()?.step(e.key === "ArrowLeft" ? -1 : 1) ?? false),
    shortcut("Enter", "Accept the candidate shown", key.plain("Enter"), () => {
      const strip = candidates();
      if (!strip?.active || strip.current < 0) return false;
      strip.accept();
    }),
    shortcut("C (hold)", "Compare with the picture before", key.plain("c"), () => { editor?.stage.compare(true); },
      { release: () => editor?.stage.compare(false) }),
    shortcut("V", "Move layer tool", key.plain("v"), () => { editor?.setTool("move"); }),
    shortcut("B", "Brush", key.plain("b"), () => { editor?.setTool("brush"); }),
    shortcut("E", "Eraser", key.plain("e"), () => { editor?.setTool("eraser"); }),
    shortcut("F", "Fill", key.plain("f"), () => { editor?.setTool("fill"); }),
    shortcut("I", "Eyedropper", key.plain("i"), () => { editor?.setTool("eyedropper"); }),
    shortcut("[", "Smaller brush", key.plain("["), () => { painter.resize(-1); }),
    shortcut("]", "Larger brush", key.plain("]"), () => { painter.resize(1); }),
    shortcut("X", "Swap colours", key.plain("x"), () => { painter.swap(); }),
    shortcut("M", "Rectangle selection", key.plain("m"), () => { editor?.setTool("select"); }),
    shortcut("L", "Lasso selection", key.plain("l"), () => { editor?.setTool("lasso"); }),
    shortcut("Q", "Mask brush (Alt paints it away)", key.plain("q"), () => { editor?.setTool("mask"); }),
    shortcut("Ctrl+D", "Deselect", key.ctrl("d"), () => { selection.clear(); }),
    shortcut("Ctrl+Shift+I", "Invert the selection", key.ctrlShift("i"), () => { selection.invert(); }),
    shortcut("G", "Generation box tool", key.plain("g"), () => { editor?.setTool("box"); }),
    shortcut("Space (hold)", "Pan", key.plain(" "), () => {
      if (!editor) return false;
      editor.stage.spaceHeld = true;
      $("viewport").classList.add("pan-ready");
    }, { release: () => {
      if (editor) editor.stage.spaceHeld = false;
      $("viewport").classList.remove("pan-ready");
    } }),
    shortcut("0", "Fit the canvas to the window", key.plain("0"), () => { editor?.stage.fit(); }),
    shortcut("1", "Actual pixels", key.plain("1"), () => { editor?.stage.actualSize(); }),
  ]);
}

setUpStart();
setUpEditor();
window.addEventListener("hashchange", () => { route(); });
panel.loadLists().catch((error) => status(`Cannot read the server's lists: ${error.message}`, true));
route();
showQueue();

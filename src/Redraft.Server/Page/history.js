// @ts-check
// The history panel: every step of the document, newest first, with a thumbnail of the state it made, its operation
// and parameters. Click a step to view that state (read-only); generation steps offer rerun (says identical or
// differs), copy parameters (the A1111 infotext) and use these settings.

/** @typedef {import("./api.js").HistoryStep} HistoryStep */

/**
 * @typedef {object} HistoryActions
 * @property {(step: HistoryStep) => void} view
 * @property {(step: HistoryStep) => Promise<void>} rerun
 * @property {(step: HistoryStep) => Promise<void>} copy
 * @property {(step: HistoryStep) => void} use
 */

const GENERATIONS = new Set(["generate", "harmonize"]);

/** @param {HTMLElement} element @param {string} result @param {string} text */
function show(element, result, text) {
  element.textContent = text;
  if (result) element.dataset.result = result;
  else delete element.dataset.result;
}

/** @param {HistoryStep} step @returns {string} */
function describe(step) {
  const p = step.parameters || {};
  switch (step.kind) {
    case "generate":
    case "harmonize": {
      const parts = [`strength ${step.strength}`, `seed ${step.seed}`, `${p.steps} steps`, step.sampler ?? ""];
      if ((p.variations ?? 1) > 1) parts.push(`${p.variations} variations`);
      if (p.mask) parts.push("masked");
      else if (p.region && p.region !== `0,0,${p.width},${p.height}`) parts.push(`region ${p.region}`);
      return parts.filter(Boolean).join(" · ");
    }
    default:
      return "";
  }
}

export class HistoryPanel {
  /** @param {HTMLElement} list @param {string} documentUrl @param {HistoryActions} actions */
  constructor(list, documentUrl, actions) {
    this.list = list;
    this.documentUrl = documentUrl;
    this.actions = actions;
    /** Rerun results by step id: rows are rebuilt on every render, the results stay. @type {Map<number, {result: string, text: string}>} */
    this.reports = new Map();
  }

  /** Another document opens: its URL, no results. @param {string} documentUrl */
  reset(documentUrl) {
    this.documentUrl = documentUrl;
    this.reports.clear();
    this.list.replaceChildren();
  }

  /** A rerun's state for a step, shown in its row now and after any re-render. @param {number} step @param {string} result @param {string} text */
  report(step, result, text) {
    this.reports.set(step, { result, text });
    const element = /** @type {HTMLElement|null} */ (this.list.querySelector(`[data-step="${step}"] .rerun-report`));
    if (element) show(element, result, text);
  }

  /**
   * @param {HistoryStep[]} steps oldest first @param {number} head the document's current state
   * @param {number|null} viewing the state shown instead of the head, if any
   */
  render(steps, head, viewing) {
    this.list.replaceChildren(...[...steps].reverse().map((step) => this.row(step, head, viewing)));
  }

  /** @param {HistoryStep} step @param {number} head @param {number|null} viewing */
  row(step, head, viewing) {
    const row = document.createElement("li");
    row.className = "step" + (step.state_after === head ? " head" : "") + (viewing === step.state_after ? " viewing" : "");
    row.dataset.step = String(step.id);
    row.dataset.kind = step.kind;
    row.dataset.testid = `step-${step.id}`;

    const thumb = document.createElement("img");
    thumb.className = "thumb";
    thumb.loading = "lazy";
    thumb.alt = "";
    thumb.src = `${this.documentUrl}/thumbnail.png?state=${step.state_after}&size=64`;

    const text = document.createElement("div");
    text.className = "text";
    const title = document.createElement("strong");
    title.textContent = `${step.id}. ${step.kind}`;
    const prompt = document.createElement("span");
    prompt.className = "prompt";
    prompt.textContent = step.prompt ?? "";
    const detail = document.createElement("small");
    detail.textContent = describe(step);
    text.append(title, prompt, detail);
    row.append(thumb, text);
    row.title = new Date(step.time).toLocaleString();
    row.addEventListener("click", (event) => {
      if (!(/** @type {HTMLElement} */ (event.target).closest("button"))) this.actions.view(step);
    });

    if (GENERATIONS.has(step.kind)) {
      const tools = document.createElement("div");
      tools.className = "tools";
      const report = document.createElement("output");
      report.className = "rerun-report";
      report.dataset.testid = "rerun-report";
      const known = this.reports.get(step.id);
      if (known) show(report, known.result, known.text);
      /** @type {[string, string, () => void][]} */
      const buttons = [
        ["rerun", "Run this step again with its recorded settings and say whether the pictures are identical", () => this.actions.rerun(step)],
        ["copy parameters", "Copy the A1111 infotext of this step", () => this.actions.copy(step)],
        ["use these settings", "Load this step's settings into the generate panel", () => this.actions.use(step)],
      ];
      for (const [label, hint, act] of buttons) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = label;
        button.title = hint;
        button.dataset.action = label.split(" ")[0];
        button.addEventListener("click", act);
        tools.append(button);
      }
      tools.append(report);
      text.append(tools);
    }
    return row;
  }
}

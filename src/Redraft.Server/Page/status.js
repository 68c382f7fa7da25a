// @ts-check
// The page's chrome shared by its parts: the status line at the bottom and the progress bar of the job the page follows.

/** @param {string} id @returns {any} */
export const $ = (id) => document.getElementById(id);

/** Shows a one-line message (an error in red). @param {string} text @param {boolean} [error] */
export function status(text, error = false) {
  const line = $("status");
  line.textContent = text;
  line.classList.toggle("error", error);
}

/** Runs an action, showing its error instead of throwing. @param {() => Promise<any>} action */
export async function attempt(action) {
  try {
    return await action();
  } catch (error) {
    status(/** @type {Error} */ (error).message, true);
    return undefined;
  }
}

/**
 * @param {string} state idle, submitting, queued, running, cancelling, done, cancelled, error
 * @param {string} text @param {number} fraction
 */
export function setProgress(state, text, fraction) {
  const box = $("progress");
  box.dataset.jobStatus = state;
  box.hidden = state === "idle";
  $("progress-text").textContent = text;
  $("progress-bar").style.width = `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
  const busy = ["submitting", "queued", "running", "cancelling"].includes(state);
  $("cancel").hidden = !busy;
  $("run-generate").disabled = busy;
  $("run-harmonize").disabled = busy;
}

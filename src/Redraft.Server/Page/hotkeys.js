// @ts-check
// Keyboard shortcuts, as painters expect them. None fires while the user types in a text field (there the keys are
// text, and Ctrl+Z undoes typing), except Ctrl+Enter, which generates from the prompt box as in AUTOMATIC1111.

/**
 * @typedef {object} Shortcut
 * @property {string} keys how it is shown in tooltips and the help, e.g. "Ctrl+Shift+Z"
 * @property {string} what
 * @property {(event: KeyboardEvent) => boolean} matches
 * @property {(event: KeyboardEvent) => void|boolean} run returns false when it did not apply (the key then does its default)
 * @property {boolean} [inText] also while typing in a text field
 * @property {(event: KeyboardEvent) => void} [release] called when the key is let go (hold-to-act shortcuts)
 */

/** @param {EventTarget|null} target */
export function isTyping(target) {
  const element = /** @type {HTMLElement|null} */ (target);
  if (!element || !element.tagName) return false;
  if (element.isContentEditable) return true;
  if (element.tagName === "TEXTAREA" || element.tagName === "SELECT") return true;
  if (element.tagName !== "INPUT") return false;
  const type = /** @type {HTMLInputElement} */ (element).type;
  return !["checkbox", "radio", "range", "button", "submit", "color", "file"].includes(type);
}

/** @param {KeyboardEvent} e */
const ctrl = (e) => e.ctrlKey || e.metaKey;

/**
 * @param {string} keys @param {string} what @param {(e: KeyboardEvent) => boolean} matches
 * @param {(e: KeyboardEvent) => void|boolean} run @param {Partial<Shortcut>} [more] @returns {Shortcut}
 */
export function shortcut(keys, what, matches, run, more = {}) {
  return { keys, what, matches, run, ...more };
}

/** Matchers for the common shapes of a shortcut. */
export const key = {
  /** @param {string} k */ plain: (k) => (/** @type {KeyboardEvent} */ e) => !ctrl(e) && !e.altKey && e.key.toLowerCase() === k.toLowerCase(),
  /** @param {string} k */ ctrl: (k) => (/** @type {KeyboardEvent} */ e) => ctrl(e) && !e.shiftKey && !e.altKey && e.key.toLowerCase() === k.toLowerCase(),
  /** @param {string} k */ ctrlShift: (k) => (/** @type {KeyboardEvent} */ e) => ctrl(e) && e.shiftKey && !e.altKey && e.key.toLowerCase() === k.toLowerCase(),
};

/** Installs <shortcuts> on the window. @param {Shortcut[]} shortcuts */
export function install(shortcuts) {
  /** @type {Map<string, Shortcut>} held keys whose release matters */
  const held = new Map();
  window.addEventListener("keydown", (event) => {
    const typing = isTyping(event.target);
    // Enter, Space and the arrows belong to a focused control (press a button, tick a box, move a slider).
    const control = ["Enter", " ", "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(event.key)
      && !!(/** @type {HTMLElement|null} */ (event.target))?.closest?.("button, a[href], input, select, textarea, [contenteditable=true]");
    for (const s of shortcuts) {
      if (!s.matches(event) || ((typing || control) && !s.inText)) continue;
      if (event.repeat && s.release) {
        event.preventDefault();
        return;
      }
      if (s.run(event) === false) continue;
      event.preventDefault();
      if (s.release) held.set(event.code, s);
      return;
    }
  });
  window.addEventListener("keyup", (event) => {
    const s = held.get(event.code);
    if (!s) return;
    held.delete(event.code);
    s.release?.(event);
  });
  // A window that loses focus never sees the key go up: let go of everything held.
  window.addEventListener("blur", () => {
    for (const [code, s] of held) {
      held.delete(code);
      s.release?.(new KeyboardEvent("keyup", { code }));
    }
  });
}

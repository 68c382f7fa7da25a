// @ts-check
// Reads the generation settings a PNG carries: AUTOMATIC1111's "parameters" text chunk (also written by Redraft's
// generate and by most A1111-compatible tools), or Redraft's "redraft" chunk of a rendered composite (JSON with the
// recorded parameters of the generations it shows). Used when a PNG is dropped on the prompt box.

/**
 * The text chunks of a PNG (tEXt, and uncompressed iTXt), keyword → text.
 * @param {ArrayBuffer} buffer @returns {Record<string, string>}
 */
export function textChunks(buffer) {
  const bytes = new Uint8Array(buffer);
  const signature = [137, 80, 78, 71, 13, 10, 26, 10];
  if (bytes.length < 8 || signature.some((b, i) => bytes[i] !== b)) throw new Error("not a PNG file");
  const view = new DataView(buffer);
  const latin1 = new TextDecoder("latin1"), utf8 = new TextDecoder("utf-8");
  /** @type {Record<string, string>} */
  const chunks = {};
  for (let at = 8; at + 12 <= bytes.length;) {
    const length = view.getUint32(at);
    const type = latin1.decode(bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, Math.min(at + 8 + length, bytes.length));
    if (type === "tEXt" || type === "iTXt") {
      const zero = data.indexOf(0);
      if (zero > 0) {
        const keyword = latin1.decode(data.subarray(0, zero));
        if (type === "tEXt") chunks[keyword] = latin1.decode(data.subarray(zero + 1));
        else if (data[zero + 1] === 0) {
          // iTXt, not compressed: keyword, 0, flag, method, language tag, 0, translated keyword, 0, UTF-8 text.
          let rest = zero + 3;
          rest = data.indexOf(0, rest) + 1;
          rest = data.indexOf(0, rest) + 1;
          if (rest > 0) chunks[keyword] = utf8.decode(data.subarray(rest));
        }
      }
    }
    if (type === "IEND") break;
    at += 12 + length;
  }
  return chunks;
}

/**
 * @typedef {{prompt?: string, negative_prompt?: string, steps?: number, sampler_name?: string, scheduler?: string,
 *   cfg_scale?: number, seed?: number, strength?: number, subseed_strength?: number}} Settings
 */

/**
 * An A1111 infotext: the prompt, an optional "Negative prompt: …" part, and a last line of "Key: value" pairs.
 * @param {string} text @returns {Settings}
 */
export function parseInfotext(text) {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  let last = lines.length - 1;
  while (last > 0 && !lines[last].trim()) last--;
  const hasPairs = /(^|, )Steps: \d+/.test(lines[last]);
  const pairs = hasPairs ? lines[last] : "";
  const body = (hasPairs ? lines.slice(0, last) : lines).join("\n");
  const negativeAt = body.search(/(^|\n)Negative prompt: /);
  /** @type {Settings} */
  const settings = {};
  if (negativeAt >= 0) {
    settings.prompt = body.slice(0, negativeAt).trim();
    settings.negative_prompt = body.slice(negativeAt).replace(/^\n?Negative prompt: /, "").trim();
  } else {
    settings.prompt = body.trim();
  }
  /** @type {Record<string, string>} */
  const values = {};
  // Values may be quoted (and then hold commas): "Key: "a, b"" — A1111 quotes with JSON rules.
  for (const match of pairs.matchAll(/\s*([^:,]+):\s*("(?:\\.|[^"\\])*"|[^,]*)(?:,|$)/g)) {
    const value = match[2].trim();
    values[match[1].trim()] = value.startsWith("\"") ? JSON.parse(value) : value;
  }
  const number = (/** @type {string} */ key) => (key in values && Number.isFinite(Number(values[key])) ? Number(values[key]) : undefined);
  settings.steps = number("Steps");
  settings.cfg_scale = number("CFG scale");
  settings.seed = number("Seed");
  settings.strength = number("Denoising strength");
  settings.subseed_strength = number("Variation seed strength");
  if (values["Sampler"]) settings.sampler_name = values["Sampler"];
  if (values["Schedule type"]) settings.scheduler = values["Schedule type"];
  return settings;
}

/**
 * Redraft's recorded parameters (a history step's, or a "redraft" chunk's last generation) as panel settings.
 * @param {Record<string, any>} p @returns {Settings}
 */
export function fromParameters(p) {
  return {
    prompt: p.prompt ?? undefined,
    negative_prompt: p.negative ?? undefined,
    steps: p.steps ?? undefined,
    cfg_scale: p.cfg ?? undefined,
    sampler_name: p.sampler ?? undefined,
    scheduler: p.schedule ?? undefined,
    seed: p.seed ?? undefined,
    strength: p.strength ?? undefined,
    subseed_strength: p.subseed_strength ?? undefined,
  };
}

/**
 * The settings a PNG file carries, or null when it carries none.
 * @param {Blob} file @returns {Promise<Settings|null>}
 */
export async function settingsOf(file) {
  const chunks = textChunks(await file.arrayBuffer());
  if (chunks.parameters) return parseInfotext(chunks.parameters);
  if (chunks.redraft) {
    const generations = JSON.parse(chunks.redraft).generations ?? [];
    if (generations.length) return fromParameters(generations[generations.length - 1].parameters ?? {});
  }
  return null;
}

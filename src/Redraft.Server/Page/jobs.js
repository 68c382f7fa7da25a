// @ts-check
// Follows a job through its Server-Sent Events (/api/v1/jobs/{id}/events): queued (position), started, phase,
// progress (step, total, ETA), preview (a PNG every k steps), and one terminal event: result, error or cancelled.
// Every event is also kept in window.__redraft.events, the page's record that tests and bug reports read.

/** The event names a job stream sends. */
const EVENT_TYPES = ["snapshot", "queued", "started", "phase", "progress", "preview", "result", "error", "cancelled"];

/** The most events kept in the page's record (oldest dropped). */
const RECORD_LIMIT = 2000;

/**
 * @typedef {{type: string, job: string, time: number} & Record<string, any>} JobEvent
 * @typedef {(event: JobEvent) => void} JobListener
 */

/** @param {JobEvent} event */
export function record(event) {
  const log = window.__redraft.events;
  log.push(event);
  if (log.length > RECORD_LIMIT) log.splice(0, log.length - RECORD_LIMIT);
}

/**
 * Streams the events of job <jobId> to <listener> until a terminal event; resolves with that event. If the stream
 * breaks before one (a server restart), the job's status is read once and reported as the terminal event.
 * @param {string} jobId @param {JobListener} listener @returns {Promise<JobEvent>}
 */
export function follow(jobId, listener) {
  return new Promise((resolve) => {
    const source = new EventSource(`/api/v1/jobs/${encodeURIComponent(jobId)}/events`);
    let ended = false;
    let failures = 0;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    let quiet;
    // The server sends a ping after 15 s without events: 40 s of silence means it is gone.
    const arm = () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => giveUp(), 40_000);
    };
    source.addEventListener("ping", arm);
    arm();
    /** @param {JobEvent} event */
    const deliver = (event) => {
      if (ended) return;
      arm();
      failures = 0;
      record(event);
      listener(event);
      if (event.type === "result" || event.type === "error" || event.type === "cancelled") {
        ended = true;
        clearTimeout(quiet);
        source.close();
        resolve(event);
      }
    };
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message) => {
        const data = JSON.parse(/** @type {MessageEvent} */ (message).data || "{}");
        deliver({ ...data, type, job: jobId, time: performance.now() });
      });
    }
    const giveUp = async () => {
      if (ended) return;
      source.close();
      // The stream is gone (the job is unknown, or the server went away): its status says how it ended.
      try {
        const response = await fetch(`/api/v1/jobs/${encodeURIComponent(jobId)}`);
        const job = response.ok ? await response.json() : null;
        const status = job?.status;
        deliver({ type: status === "completed" ? "result" : status === "cancelled" ? "cancelled" : "error",
          job: jobId, time: performance.now(), detail: job ? "" : "the job is no longer known to the server" });
      } catch {
        deliver({ type: "error", job: jobId, time: performance.now(), detail: "the server cannot be reached" });
      }
    };
    source.onerror = () => {
      // The browser reconnects by itself; a stream closed for good, or three failed reconnections, end the wait.
      if (ended) return;
      if (source.readyState === EventSource.CLOSED || ++failures >= 3) giveUp();
    };
  });
}

/**
 * A document's change stream (/api/v1/documents/{doc}/events): calls <onChange> with each new head state, whoever
 * committed it (this page, another tab, the CLI). Returns a function that stops listening.
 * @param {string} url @param {(state: number) => void} onChange @returns {() => void}
 */
export function watchDocument(url, onChange) {
  const source = new EventSource(url + "/events");
  for (const type of ["snapshot", "changed"]) {
    source.addEventListener(type, (message) => {
      const data = JSON.parse(/** @type {MessageEvent} */ (message).data || "{}");
      if (typeof data.state === "number") onChange(data.state);
    });
  }
  return () => source.close();
}

// The seed of the canvas: the server's model and queue, and one txt2img request. Plain script, no build step.
"use strict";

const byId = (id) => document.getElementById(id);

async function getJson(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function describeJob(job) {
  return `${job.status}: "${job.prompt}" step ${job.step}/${job.steps}`;
}

async function showModel() {
  const options = await getJson("/sdapi/v1/options");
  byId("model").textContent = options.sd_model_checkpoint || "none";
}

async function showQueue() {
  try {
    const jobs = await getJson("/api/v1/jobs");
    byId("running").textContent = jobs.running ? describeJob(jobs.running) : "Idle";
    byId("queued").replaceChildren(...jobs.queued.map((job) => {
      const item = document.createElement("li");
      item.textContent = describeJob(job);
      return item;
    }));
  } finally {
    // Chained rather than setInterval, so a slow answer never stacks requests.
    setTimeout(showQueue, 1000);
  }
}

async function generate() {
  const button = byId("generate");
  button.disabled = true;
  byId("error").textContent = "";
  try {
    const response = await fetch("/sdapi/v1/txt2img", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        prompt: byId("prompt").value,
        steps: Number(byId("steps").value),
        width: Number(byId("width").value),
        height: Number(byId("height").value),
        seed: Number(byId("seed").value),
      }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.detail || answer.error || `HTTP ${response.status}`);
    const image = document.createElement("img");
    image.alt = "generated image";
    image.src = "data:image/png;base64," + answer.images[0];
    byId("result").replaceChildren(image);
  } catch (error) {
    byId("error").textContent = String(error.message || error);
  } finally {
    button.disabled = false;
  }
}

byId("generate").addEventListener("click", generate);
showModel().catch((error) => { byId("model").textContent = `unavailable (${error.message})`; });
showQueue();

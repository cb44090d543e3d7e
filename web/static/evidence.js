// The evidence form, enhanced: the file goes up through the resumable upload API in 2 MiB
// chunks, with a progress bar, retries after a network error (resuming where the server
// stopped) and a Cancel button; then the page reloads to show the new item.
// Progressive enhancement only: without this file the form posts the classic way.
"use strict";
(() => {
  const form = document.getElementById("evidence-form");
  if (!form || !window.fetch || !window.AbortController || !window.FormData) return;

  const CHUNK = 2 * 1024 * 1024;
  const MAX_RETRIES = 8; // waits of 1, 2, 4 … 30 seconds: about three minutes in all
  const byId = (id) => document.getElementById(id);
  const fileInput = byId("evidence-file");
  const box = byId("evidence-progress");
  const bar = byId("evidence-progress-bar");
  const percent = byId("evidence-percent");
  const status = byId("evidence-status");
  const cancel = byId("evidence-cancel");
  const submit = form.querySelector('button[type="submit"]');

  // The texts, in the page's language: {key: text}, error messages keyed by error code.
  const texts = {};
  for (const li of form.querySelectorAll("#evidence-texts [data-key]")) texts[li.dataset.key] = li.textContent;
  const text = (key, vars = {}) =>
    (texts[key] || texts.failed || key).replace(/\{(\w+)\}/g, (_, name) => vars[name] ?? "");
  const asPercent = new Intl.NumberFormat(document.documentElement.lang || undefined, { style: "percent" });
  const say = (key, vars, isError = false) => {
    status.textContent = text(key, vars);
    status.classList.toggle("field-error", isError);
  };

  class UploadError extends Error {
    constructor(code, details = {}) {
      super(code);
      this.code = code;
      this.details = details;
    }
  }
  class Transient extends Error {} // a server hiccup (5xx, 429, busy): wait and resume

  const errorOf = async (resp) => {
    let error = {};
    try {
      error = (await resp.json()).error || {};
    } catch {
      // not JSON: only the status is known
    }
    return new UploadError(error.code || "failed", error.details || {});
  };
  const sleep = (ms, signal) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          reject(new DOMException("cancelled", "AbortError"));
        },
        { once: true },
      );
    });

  let upload = null; // the upload under way: {url, controller, cancelled}

  const call = (url, method, options = {}) =>
    fetch(url, {
      method,
      credentials: "same-origin",
      cache: "no-store",
      ...options,
      headers: { "X-CSRF-Token": form.dataset.csrfToken, ...(options.headers || {}) },
    });

  let announced = -1;
  const progress = (done, total) => {
    const share = total > 0 ? Math.min(1, done / total) : 1;
    const shown = Math.floor(share * 100) / 100;
    bar.value = Math.round(shown * 100);
    percent.textContent = asPercent.format(shown);
    const step = Math.floor(share * 10); // tell screen readers every 10%, not every chunk
    if (step !== announced) {
      announced = step;
      say("progress", { percent: asPercent.format(shown) });
    }
  };

  const begin = async (file, fields, signal) => {
    const resp = await call(form.dataset.begin, "POST", {
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...fields, name: file.name, size: file.size }),
      signal,
    });
    if (resp.status !== 201) throw await errorOf(resp);
    return (await resp.json()).url;
  };

  // Where the server stands; a network error or a Transient means: wait and ask again.
  const serverOffset = async (up) => {
    const resp = await call(up.url, "HEAD", { signal: up.controller.signal });
    const offset = Number(resp.headers.get("Upload-Offset"));
    if (resp.ok && Number.isSafeInteger(offset)) return offset;
    if (resp.status >= 500 || resp.status === 429) throw new Transient();
    throw new UploadError(resp.status === 404 ? "upload_not_found" : "failed");
  };

  const sendAll = async (file, up) => {
    const signal = up.controller.signal;
    let offset = 0; // null: unknown, ask the server
    let failures = 0;
    while (offset === null || offset < file.size) {
      try {
        if (offset === null) {
          offset = await serverOffset(up);
          progress(offset, file.size);
          continue;
        }
        const resp = await call(up.url, "PATCH", {
          headers: { "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" },
          body: file.slice(offset, offset + CHUNK),
          signal,
        });
        if (resp.status === 204) {
          const next = Number(resp.headers.get("Upload-Offset"));
          offset = Number.isSafeInteger(next) ? next : null;
          failures = 0;
          if (offset !== null) progress(offset, file.size);
          continue;
        }
        if (resp.status >= 500 || resp.status === 429) throw new Transient();
        const error = await errorOf(resp);
        if (error.code === "upload_busy") throw new Transient();
        if (error.code === "upload_offset_mismatch" && Number.isSafeInteger(error.details.offset)) {
          if (++failures > MAX_RETRIES) throw new UploadError("offline");
          offset = error.details.offset; // the server's offset: resume from it
          continue;
        }
        throw error;
      } catch (e) {
        if (signal.aborted || e instanceof UploadError) throw e;
        // a network error or a Transient: wait longer each time, then resume where the server is
        if (++failures > MAX_RETRIES) throw new UploadError("offline");
        const seconds = Math.min(30, 2 ** (failures - 1));
        say("retrying", { seconds });
        await sleep(seconds * 1000, signal);
        offset = null;
      }
    }
  };

  const finish = async (up) => {
    const resp = await call(`${up.url}/finish`, "POST", { signal: up.controller.signal });
    if (resp.status !== 201) throw await errorOf(resp);
  };

  const showNewItem = () => {
    const page = form.dataset.done;
    if (window.location.pathname === page && !window.location.search) {
      window.location.hash = "evidence";
      window.location.reload();
    } else {
      window.location.assign(`${page}#evidence`); // not a reload: the page may answer a POST
    }
  };

  const busy = (on) => {
    box.hidden = !on;
    cancel.hidden = !on;
    submit.disabled = on;
    fileInput.disabled = on;
    if (on) {
      announced = -1;
      bar.value = 0;
      percent.textContent = "";
    }
  };

  form.addEventListener("submit", async (event) => {
    const file = fileInput.files && fileInput.files[0];
    if (upload) {
      event.preventDefault(); // one upload at a time
      return;
    }
    if (!file || file.size === 0) return; // the classic post explains what is wrong
    event.preventDefault();
    const data = new FormData(form);
    const fields = {
      kind: data.get("kind") || "document",
      visibility: data.get("visibility") || "all_parties",
      description: data.get("description") || "",
    };
    const up = { url: null, controller: new AbortController(), cancelled: false };
    upload = up;
    busy(true);
    say("starting");
    try {
      up.url = await begin(file, fields, up.controller.signal);
      progress(0, file.size);
      await sendAll(file, up);
      say("finishing");
      await finish(up);
      say("done");
      showNewItem();
      return; // leave the form busy while the page reloads
    } catch (e) {
      if (up.url) call(up.url, "DELETE").catch(() => {}); // leave nothing half-done (a finished one is gone already)
      if (up.cancelled) say("cancelled");
      else if (e instanceof UploadError) say(e.code, {}, true);
      else say("failed", {}, true);
    }
    upload = null;
    busy(false);
  });

  cancel.addEventListener("click", () => {
    if (!upload) return;
    upload.cancelled = true;
    upload.controller.abort();
  });
})();

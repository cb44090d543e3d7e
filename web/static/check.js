// The readiness check: browser support, camera preview, microphone level, connection speed.
// Texts come from data-text-* attributes (already in the page's language). No inline script.
"use strict";
(() => {
  const root = document.getElementById("readiness");
  if (!root) return;
  const text = (key, values) => {
    let s = root.dataset["text" + key.split("_").map((w) => w[0].toUpperCase() + w.slice(1)).join("")] || "";
    for (const [name, value] of Object.entries(values || {})) s = s.replace(`%(${name})s`, String(value));
    return s;
  };
  const results = {};
  const show = (id, ok, message) => {
    const el = document.getElementById(id);
    el.textContent = (ok ? "✔ " : "✘ ") + message;
    el.classList.toggle("ok", ok);
    el.classList.toggle("fail", !ok);
    results[id] = ok;
    const all = ["result-browser", "result-camera", "result-mic", "result-network"];
    if (all.every((k) => k in results)) {
      const summary = document.getElementById("result-summary");
      const good = all.every((k) => results[k]);
      summary.textContent = good ? text("all_ok") : text("some_fail");
      summary.classList.toggle("ok", good);
      summary.classList.toggle("fail", !good);
    }
  };

  // 1. the browser
  const supported = "RTCPeerConnection" in window && !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  show("result-browser", supported, supported ? text("browser_ok") : text("browser_fail"));

  // 2. camera and microphone
  let heard = false;
  const meter = document.getElementById("mic-level");
  const listen = (stream) => {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    const context = new Context();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Uint8Array(analyser.fftSize);
    const tick = () => {
      analyser.getByteTimeDomainData(samples);
      let peak = 0;
      for (const v of samples) peak = Math.max(peak, Math.abs(v - 128) / 128);
      meter.value = peak;
      if (peak > 0.05 && !heard) {
        heard = true;
        show("result-mic", true, text("mic_ok"));
      }
      requestAnimationFrame(tick);
    };
    tick();
  };
  document.getElementById("start-media").addEventListener("click", async () => {
    document.getElementById("result-camera").textContent = text("checking");
    if (!supported) {
      show("result-camera", false, text("camera_fail"));
      show("result-mic", false, text("mic_fail"));
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      const video = document.getElementById("preview");
      video.srcObject = stream;
      video.hidden = false;
      show("result-camera", stream.getVideoTracks().length > 0, stream.getVideoTracks().length > 0 ? text("camera_ok") : text("camera_fail"));
      if (stream.getAudioTracks().length > 0) {
        document.getElementById("result-mic").textContent = text("mic_quiet");
        listen(stream);
      } else {
        show("result-mic", false, text("mic_fail"));
      }
    } catch (error) {
      show("result-camera", false, text("camera_fail"));
      show("result-mic", false, text("mic_fail"));
    }
  });

  // 3. the connection: a few round trips to /healthz
  const POOR_MS = 400;
  document.getElementById("start-network").addEventListener("click", async () => {
    document.getElementById("result-network").textContent = text("checking");
    const times = [];
    try {
      for (let i = 0; i < 5; i += 1) {
        const started = performance.now();
        const resp = await fetch(root.dataset.health + "?t=" + Date.now(), { cache: "no-store", credentials: "same-origin" });
        await resp.text();
        if (!resp.ok) throw new Error(String(resp.status));
        times.push(performance.now() - started);
      }
    } catch (error) {
      show("result-network", false, text("net_fail"));
      return;
    }
    times.sort((a, b) => a - b);
    const median = Math.round(times[Math.floor(times.length / 2)]);
    show("result-network", median < POOR_MS, median < POOR_MS ? text("net_good", { ms: median }) : text("net_poor", { ms: median }));
  });
})();

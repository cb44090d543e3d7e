// The hearing room: one WebSocket to the hearing's room and one RTCPeerConnection to the
// server's media relay (browsers never connect to each other). The offer has a fixed layout the
// relay relies on: transceiver 0 = our microphone, 1 = our camera (both sendrecv), then `slots`
// pairs (audio, video) we receive; the room's state says which participant each slot shows.
// When the socket or the media drop, it reconnects by itself with a fresh join ticket; the
// server restores mute, caucus and admission. Every text comes from the page (#hearing-texts).
"use strict";
(() => {
  const root = document.getElementById("hearing");
  if (!root) return;
  const byId = (id) => document.getElementById(id);
  const readJson = (id) => {
    const node = byId(id);
    return node ? JSON.parse(node.textContent) : {};
  };
  const cfg = readJson("hearing-config");
  const T = readJson("hearing-texts");
  const text = (key, vars = {}) =>
    (T[key] || T.error_generic || key).replace(/\{(\w+)\}/g, (_, name) => vars[name] ?? "");

  const PROTOCOL = 1;
  const GATHER_TIMEOUT_MS = 2000;
  const CONNECT_TIMEOUT_MS = 15000; // media not up this long after the offer: start again
  const DISCONNECTED_GRACE_MS = 4000; // ICE "disconnected" often recovers by itself
  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
  const FINAL_CLOSES = { 4401: "refused", 4403: "removed", 4409: "replaced", 4410: "ended" };

  const el = {
    before: byId("before"),
    join: byId("join-button"),
    joinStatus: byId("join-status"),
    room: byId("room"),
    layout: byId("room-layout"),
    lobby: byId("lobby-screen"),
    recording: byId("recording-indicator"),
    caucusNotice: byId("caucus-notice"),
    caucusInfo: byId("caucus-info"),
    reconnecting: byId("reconnecting"),
    message: byId("room-message"),
    deviceMessage: byId("device-message"),
    tiles: byId("tiles"),
    selfVideo: byId("self-video"),
    selfName: byId("self-name"),
    selfState: byId("self-state"),
    mic: byId("mic-toggle"),
    cam: byId("cam-toggle"),
    leave: byId("leave-button"),
    quality: byId("quality"),
    people: byId("people"),
    lobbyList: byId("lobby-list"),
    lobbyWrap: byId("lobby-wrap"),
    chatLog: byId("chat-log"),
    chatForm: byId("chat-form"),
    chatInput: byId("chat-input"),
    chatMasked: byId("chat-masked"),
    recordingToggle: byId("recording-toggle"),
    caucusConsumer: byId("caucus-consumer"),
    caucusInsurer: byId("caucus-insurer"),
    caucusEnd: byId("caucus-end"),
    endHearing: byId("end-hearing"),
    endDialog: byId("end-dialog"),
    endConfirm: byId("end-confirm"),
    endCancel: byId("end-cancel"),
    minutesPanel: byId("minutes-panel"),
    minutes: byId("minutes"),
    minutesSave: byId("minutes-save"),
    minutesStatus: byId("minutes-status"),
    ended: byId("ended"),
    endedMessage: byId("ended-message"),
  };

  const h = {
    state: null, // the last `state` message
    you: null, // from `welcome`
    slots: 5,
    iceServers: [],
    ws: null,
    pc: null,
    local: null, // our camera and microphone (a MediaStream, or null when refused)
    micOn: false,
    camOn: false,
    slotStreams: [], // slot index -> MediaStream of that slot's two received tracks
    receiverSlots: new Map(), // received track id -> {slot, kind}
    midSlots: new Map(), // transceiver mid -> {slot, kind}
    generation: 0, // each connection attempt; late events of earlier ones are ignored
    attempt: 0,
    retryTimer: null,
    mediaTimer: null,
    final: null, // why the page left the hearing for good
    lastError: null,
    lastNotice: null,
    pending: new Map(), // chat client_id -> text, until the server stores it
    chatIds: new Set(),
    tiles: new Map(), // user id -> tile element
    timings: {}, // milliseconds from the join click
    t0: 0,
    lossBase: null,
  };

  const mark = (name) => {
    if (h.timings[name] === undefined) h.timings[name] = Math.round(performance.now() - h.t0);
  };
  const show = (node, visible) => {
    if (node) node.hidden = !visible;
  };
  const say = (node, message) => {
    if (!node) return;
    node.textContent = message || "";
    node.hidden = !message;
  };
  let messageTimer = null;
  const flash = (message) => {
    say(el.message, message);
    clearTimeout(messageTimer);
    messageTimer = setTimeout(() => say(el.message, ""), 8000);
  };

  // --- getting in -----------------------------------------------------------------------

  if (!window.RTCPeerConnection || !window.WebSocket) {
    if (el.join) el.join.disabled = true;
    say(el.joinStatus, text("error_no_webrtc"));
    return;
  }

  el.join?.addEventListener("click", async () => {
    el.join.disabled = true;
    h.t0 = performance.now();
    await openDevices();
    show(el.before, false);
    show(el.room, true);
    connect();
  });

  async function openDevices() {
    const media = navigator.mediaDevices;
    const attempts = [
      { audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } },
      { audio: true, video: false },
      { audio: false, video: { width: { ideal: 640 }, height: { ideal: 480 } } },
    ];
    for (const constraints of attempts) {
      if (!media || !media.getUserMedia) break;
      try {
        h.local = await media.getUserMedia(constraints);
        break;
      } catch (err) {
        h.local = null;
      }
    }
    const hasAudio = Boolean(h.local && h.local.getAudioTracks().length);
    const hasVideo = Boolean(h.local && h.local.getVideoTracks().length);
    h.micOn = hasAudio;
    h.camOn = hasVideo;
    if (!hasAudio && !hasVideo) say(el.deviceMessage, text("no_devices"));
    else if (!hasVideo) say(el.deviceMessage, text("no_camera"));
    else if (!hasAudio) say(el.deviceMessage, text("no_microphone"));
    if (el.mic) el.mic.disabled = !hasAudio;
    if (el.cam) el.cam.disabled = !hasVideo;
    if (hasVideo && el.selfVideo) {
      el.selfVideo.srcObject = h.local;
      el.selfVideo.play().catch(() => {});
    }
    updateDeviceButtons();
  }

  async function fetchTicket() {
    let resp;
    try {
      resp = await fetch(cfg.join_url, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "X-CSRF-Token": cfg.csrf_token, Accept: "application/json" },
      });
    } catch (err) {
      return { transient: true };
    }
    if (resp.ok) return { ticket: await resp.json() };
    let code = "error_generic";
    try {
      code = (await resp.json()).error.code;
    } catch (err) {
      // not JSON
    }
    const transient = resp.status >= 500 || resp.status === 429;
    return { transient, code };
  }

  async function connect() {
    clearTimeout(h.retryTimer);
    if (h.final) return;
    const generation = ++h.generation;
    const got = await fetchTicket();
    if (generation !== h.generation || h.final) return;
    if (!got.ticket) {
      if (got.transient) return scheduleReconnect();
      return finish("refused", got.code);
    }
    const ticket = got.ticket;
    h.iceServers = Array.isArray(ticket.ice_servers) ? ticket.ice_servers : [];
    const url = new URL(ticket.socket, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url.href);
    h.ws = ws;
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ type: "join", v: PROTOCOL, token: ticket.token, consent_recording: true }));
    });
    ws.addEventListener("message", (event) => {
      if (ws !== h.ws) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      handle(message);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== h.ws) return;
      socketClosed(event.code);
    });
  }

  function send(message) {
    if (h.ws && h.ws.readyState === WebSocket.OPEN) {
      h.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  function socketClosed(code) {
    h.ws = null;
    closeMedia();
    const final = FINAL_CLOSES[code];
    if (final === "removed") return finish(h.lastNotice === "denied" ? "denied" : "removed");
    if (final === "refused") return finish("refused", h.lastError);
    if (final) return finish(final);
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (h.final) return;
    closeMedia();
    if (h.ws) {
      const old = h.ws;
      h.ws = null;
      old.close();
    }
    show(el.reconnecting, true);
    say(el.reconnecting, text("reconnecting"));
    const base = BACKOFF_MS[Math.min(h.attempt, BACKOFF_MS.length - 1)];
    h.attempt += 1;
    clearTimeout(h.retryTimer);
    h.retryTimer = setTimeout(connect, base * (0.75 + Math.random() * 0.5));
  }

  window.addEventListener("online", () => {
    if (!h.final && h.retryTimer && !h.ws) connect();
  });
  window.addEventListener("pagehide", () => {
    if (send({ type: "leave" })) h.final = "left";
  });

  // --- messages from the room -------------------------------------------------------------

  function handle(m) {
    switch (m.type) {
      case "welcome":
        mark("welcome");
        h.you = m.you;
        h.slots = Number.isInteger(m.slots) && m.slots > 0 ? m.slots : 5;
        if (Array.isArray(m.ice_servers)) h.iceServers = m.ice_servers;
        if (h.attempt > 0) flash(text("reconnected"));
        h.attempt = 0;
        show(el.reconnecting, false);
        h.lastError = null;
        if (!m.lobby) admittedNow();
        break;
      case "state":
        h.state = m;
        render();
        break;
      case "answer":
        answered(m.sdp);
        break;
      case "chat":
        addChat(m);
        break;
      case "chat_ack":
        h.pending.delete(m.client_id);
        if (m.masked) say(el.chatMasked, text("chat_masked"));
        break;
      case "notice":
        notice(m.code, m.params || {});
        break;
      case "error":
        h.lastError = m.code;
        if (m.code !== "rate_limited" || !el.message.textContent) {
          flash(T[`error_${m.code}`] ? text(`error_${m.code}`) : m.message || text("error_generic"));
        }
        break;
      default:
        break;
    }
  }

  function notice(code) {
    h.lastNotice = code;
    // a caucus that starts is shown by its banner for as long as it lasts (render), not twice
    if (code === "caucus_ended" || code === "muted_by_mediator" || code === "admitted") flash(text(code));
    else if (["removed", "denied", "replaced", "hearing_ended"].includes(code)) h.lastNotice = code;
  }

  function me() {
    const people = (h.state && h.state.participants) || [];
    return h.you ? people.find((p) => p.user_id === h.you.user_id) : undefined;
  }

  function admittedNow() {
    loadChat();
    if (!h.pc) startMedia();
    // what this participant switched off itself, in case the room forgot (a new node)
    if (h.local && (!h.micOn || !h.camOn)) send({ type: "devices", audio: h.micOn, video: h.camOn });
    for (const [clientId, body] of h.pending) send({ type: "chat", client_id: clientId, text: body });
  }

  // --- media -------------------------------------------------------------------------------

  function preferCodecs(transceiver, kind) {
    if (!transceiver.setCodecPreferences || !window.RTCRtpReceiver?.getCapabilities) return;
    const caps = RTCRtpReceiver.getCapabilities(kind);
    if (!caps) return;
    const wanted = kind === "video" ? "video/vp8" : "audio/opus";
    const first = caps.codecs.filter((c) => c.mimeType.toLowerCase() === wanted);
    const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== wanted);
    if (!first.length) return;
    try {
      transceiver.setCodecPreferences([...first, ...rest]);
    } catch (err) {
      // an older browser: the server picks among what we offer
    }
  }

  async function startMedia() {
    closeMedia();
    if (!h.ws) return;
    mark("media");
    const pc = new RTCPeerConnection({ iceServers: h.iceServers, bundlePolicy: "max-bundle" });
    h.pc = pc;
    const stream = h.local ? [h.local] : [];
    const audio = h.local ? h.local.getAudioTracks()[0] : null;
    const video = h.local ? h.local.getVideoTracks()[0] : null;
    if (audio) audio.enabled = h.micOn;
    if (video) video.enabled = h.camOn;
    const own = [
      pc.addTransceiver(audio || "audio", { direction: "sendrecv", streams: stream }),
      pc.addTransceiver(video || "video", { direction: "sendrecv", streams: stream }),
    ];
    preferCodecs(own[0], "audio");
    preferCodecs(own[1], "video");
    const received = [];
    h.slotStreams = [];
    h.receiverSlots = new Map();
    h.midSlots = new Map();
    for (let slot = 0; slot < h.slots; slot += 1) {
      const a = pc.addTransceiver("audio", { direction: "recvonly" });
      const v = pc.addTransceiver("video", { direction: "recvonly" });
      preferCodecs(a, "audio");
      preferCodecs(v, "video");
      received.push([slot, a, v]);
      h.slotStreams.push(new MediaStream([a.receiver.track, v.receiver.track]));
      h.receiverSlots.set(a.receiver.track.id, { slot, kind: "audio" });
      h.receiverSlots.set(v.receiver.track.id, { slot, kind: "video" });
    }
    pc.addEventListener("connectionstatechange", () => mediaState(pc));
    // The offer carries the candidates gathered before it is sent (aiortc does not trickle);
    // every candidate also follows as an "ice" message, and so does the end of them. The
    // relay (aiortc with max-bundle) reads a bundled offer's candidates from its last m-line,
    // where a browser puts none: without these messages it would have no candidate at all.
    let offerSent = false;
    const early = [];
    pc.addEventListener("icecandidate", (event) => {
      if (pc !== h.pc) return;
      const message = { type: "ice", candidate: event.candidate ? event.candidate.toJSON() : null };
      if (offerSent) send(message);
      else early.push(message);
    });
    try {
      await pc.setLocalDescription(await pc.createOffer());
      for (const [slot, a, v] of received) {
        if (a.mid !== null) h.midSlots.set(a.mid, { slot, kind: "audio" });
        if (v.mid !== null) h.midSlots.set(v.mid, { slot, kind: "video" });
      }
      await gathered(pc);
    } catch (err) {
      if (pc === h.pc) scheduleReconnect();
      return;
    }
    if (pc !== h.pc) return;
    offerSent = true;
    mark("offer");
    send({ type: "offer", sdp: pc.localDescription.sdp });
    for (const message of early.splice(0)) send(message);
    clearTimeout(h.mediaTimer);
    h.mediaTimer = setTimeout(() => {
      if (pc === h.pc && pc.connectionState !== "connected") mediaFailed(pc);
    }, CONNECT_TIMEOUT_MS);
    render();
  }

  function gathered(pc) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        pc.removeEventListener("icegatheringstatechange", check);
        clearTimeout(timer);
        resolve();
      };
      const check = () => {
        if (pc.iceGatheringState === "complete") done();
      };
      const timer = setTimeout(done, GATHER_TIMEOUT_MS);
      pc.addEventListener("icegatheringstatechange", check);
    });
  }

  async function answered(sdp) {
    const pc = h.pc;
    if (!pc || pc.signalingState !== "have-local-offer") return;
    mark("answer");
    try {
      await pc.setRemoteDescription({ type: "answer", sdp });
    } catch (err) {
      if (pc === h.pc) mediaFailed(pc);
    }
  }

  function mediaState(pc) {
    if (pc !== h.pc) return;
    const state = pc.connectionState;
    if (state === "connected") {
      mark("connected");
      clearTimeout(h.mediaTimer);
      show(el.reconnecting, false);
      h.attempt = 0;
    } else if (state === "failed") {
      mediaFailed(pc);
    } else if (state === "disconnected") {
      setTimeout(() => {
        if (pc === h.pc && pc.connectionState === "disconnected") mediaFailed(pc);
      }, DISCONNECTED_GRACE_MS);
    }
  }

  function mediaFailed(pc) {
    if (pc !== h.pc || h.final) return;
    // a new offer on the same socket if it is still up (the relay replaces the old
    // connection), otherwise everything again
    closeMedia();
    show(el.reconnecting, true);
    say(el.reconnecting, text("reconnecting"));
    if (h.ws && h.ws.readyState === WebSocket.OPEN && h.attempt < 3) {
      h.attempt += 1;
      setTimeout(() => {
        if (!h.pc && h.ws) startMedia();
      }, BACKOFF_MS[h.attempt]);
    } else {
      scheduleReconnect();
    }
  }

  function closeMedia() {
    clearTimeout(h.mediaTimer);
    if (h.pc) {
      const pc = h.pc;
      h.pc = null;
      pc.close();
    }
    h.lossBase = null;
  }

  // --- what the room looks like --------------------------------------------------------------

  const roleLabel = (p) => text(`role_${p.side}`);

  function render() {
    const state = h.state;
    if (!state) return;
    if (state.ended) return finish("ended");
    const self = me();
    const waiting = Boolean(self && self.lobby);
    show(el.lobby, waiting);
    show(el.layout, !waiting);
    if (self && !self.lobby && !h.pc && h.ws) admittedNow();
    show(el.recording, Boolean(state.recording));
    show(el.caucusNotice, Boolean(state.excluded));
    say(el.caucusInfo, state.caucus && !state.excluded ? text(`caucus_started_${state.caucus}`) : "");
    if (self) {
      const shouldBeOn = !self.muted && Boolean(h.local && h.local.getAudioTracks().length);
      if (shouldBeOn !== h.micOn) setMic(shouldBeOn, false);
    }
    renderTiles(state, self);
    renderPeople(state, self);
    renderControls(state);
  }

  function renderTiles(state, self) {
    if (el.selfName && self) el.selfName.textContent = text("you", { name: self.name });
    if (el.selfState) el.selfState.textContent = [h.micOn ? "" : text("muted"), h.camOn ? "" : text("camera_off")].filter(Boolean).join(" · ");
    const shown = (state.participants || []).filter(
      (p) => p.present && !p.lobby && (!self || p.user_id !== self.user_id),
    );
    const keep = new Set(shown.map((p) => p.user_id));
    for (const [uid, tile] of h.tiles) {
      if (!keep.has(uid)) {
        const video = tile.querySelector("video");
        video.srcObject = null;
        tile.remove();
        h.tiles.delete(uid);
      }
    }
    const slots = state.slots || {};
    for (const p of shown) {
      let tile = h.tiles.get(p.user_id);
      if (!tile) {
        tile = makeTile(p);
        h.tiles.set(p.user_id, tile);
        el.tiles.append(tile);
      }
      const slot = slots[String(p.user_id)];
      const video = tile.querySelector("video");
      const stream = slot === undefined ? null : h.slotStreams[slot] || null;
      if (video.srcObject !== stream) {
        video.srcObject = stream;
        if (stream) video.play().catch(() => {});
      }
      tile.dataset.slot = slot === undefined ? "" : String(slot);
      let reason = "";
      if (slot === undefined) {
        const apart = state.caucus && (state.excluded || (p.side !== "mediator" && p.side !== state.caucus));
        reason = apart ? text("paused") : text("connecting_media");
      } else if (!p.video) {
        reason = text("camera_off");
      }
      const placeholder = tile.querySelector(".placeholder");
      placeholder.textContent = reason;
      placeholder.hidden = !reason;
      tile.classList.toggle("no-video", Boolean(reason));
      tile.querySelector(".tile-name").textContent = p.name;
      tile.querySelector(".tile-role").textContent = roleLabel(p);
      const flags = tile.querySelector(".tile-flags");
      flags.textContent = [p.muted || !p.audio ? text("muted") : "", p.video ? "" : text("camera_off")].filter(Boolean).join(" · ");
    }
  }

  function makeTile(p) {
    const tile = document.createElement("figure");
    tile.className = "tile";
    tile.dataset.userId = String(p.user_id);
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    const placeholder = document.createElement("p");
    placeholder.className = "placeholder";
    const caption = document.createElement("figcaption");
    const name = document.createElement("strong");
    name.className = "tile-name";
    const role = document.createElement("span");
    role.className = "tile-role";
    const flags = document.createElement("span");
    flags.className = "tile-flags";
    caption.append(name, " ", role, " ", flags);
    tile.append(video, placeholder, caption);
    return tile;
  }

  function button(label, action, userId, extraClass) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.dataset.action = action;
    b.dataset.userId = String(userId);
    b.className = `small-button${extraClass ? ` ${extraClass}` : ""}`;
    return b;
  }

  function renderPeople(state, self) {
    const people = state.participants || [];
    const moderates = Boolean(cfg.moderates);
    const inRoom = people.filter((p) => !p.lobby);
    const waiting = people.filter((p) => p.lobby && (!self || p.user_id !== self.user_id));
    el.people.replaceChildren(
      ...inRoom.map((p) => {
        const li = document.createElement("li");
        li.dataset.userId = String(p.user_id);
        const name = document.createElement("span");
        name.className = "person-name";
        name.textContent = self && p.user_id === self.user_id ? text("you", { name: p.name }) : p.name;
        const detail = document.createElement("span");
        detail.className = "person-detail";
        const bits = [roleLabel(p), p.present ? text("present") : text("away")];
        if (p.muted || !p.audio) bits.push(text("muted"));
        if (!p.video) bits.push(text("camera_off"));
        detail.textContent = bits.join(" · ");
        li.append(name, detail);
        li.classList.toggle("away", !p.present);
        if (moderates && self && p.user_id !== self.user_id && p.present) {
          const actions = document.createElement("span");
          actions.className = "person-actions";
          if (!p.muted) actions.append(button(text("mute"), "mute", p.user_id));
          actions.append(button(text("remove"), "remove", p.user_id, "danger"));
          li.append(actions);
        }
        return li;
      }),
    );
    if (el.lobbyList) {
      el.lobbyList.replaceChildren(
        ...waiting.map((p) => {
          const li = document.createElement("li");
          li.dataset.userId = String(p.user_id);
          const name = document.createElement("span");
          name.className = "person-name";
          name.textContent = `${p.name} · ${roleLabel(p)}`;
          const actions = document.createElement("span");
          actions.className = "person-actions";
          actions.append(button(text("admit"), "admit", p.user_id), button(text("deny"), "deny", p.user_id, "secondary"));
          li.append(name, actions);
          return li;
        }),
      );
      show(el.lobbyWrap, waiting.length > 0);
    }
  }

  function renderControls(state) {
    if (!cfg.moderates) return;
    if (el.recordingToggle) {
      el.recordingToggle.setAttribute("aria-pressed", String(Boolean(state.recording)));
      el.recordingToggle.textContent = el.recordingToggle.dataset[state.recording ? "stop" : "start"];
    }
    for (const [button, side] of [[el.caucusConsumer, "consumer"], [el.caucusInsurer, "insurer"]]) {
      if (button) button.setAttribute("aria-pressed", String(state.caucus === side));
    }
    show(el.caucusEnd, Boolean(state.caucus));
  }

  // --- the participant's own controls ------------------------------------------------------------

  function updateDeviceButtons() {
    if (el.mic) {
      el.mic.textContent = text(h.micOn ? "mic_on" : "mic_off");
      el.mic.setAttribute("aria-pressed", String(!h.micOn));
      el.mic.classList.toggle("off", !h.micOn);
    }
    if (el.cam) {
      el.cam.textContent = text(h.camOn ? "cam_on" : "cam_off");
      el.cam.setAttribute("aria-pressed", String(!h.camOn));
      el.cam.classList.toggle("off", !h.camOn);
    }
  }

  function setMic(on, tell) {
    h.micOn = on;
    const track = h.local && h.local.getAudioTracks()[0];
    if (track) track.enabled = on;
    if (tell && h.you) {
      send({ type: "mute", user_id: h.you.user_id, muted: !on });
      send({ type: "devices", audio: on, video: h.camOn });
    }
    updateDeviceButtons();
  }

  el.mic?.addEventListener("click", () => setMic(!h.micOn, true));
  el.cam?.addEventListener("click", () => {
    h.camOn = !h.camOn;
    const track = h.local && h.local.getVideoTracks()[0];
    if (track) track.enabled = h.camOn;
    send({ type: "devices", audio: h.micOn, video: h.camOn });
    updateDeviceButtons();
    if (h.state) renderTiles(h.state, me());
  });
  el.leave?.addEventListener("click", () => {
    send({ type: "leave" });
    finish("left");
  });

  // --- the mediator's controls -------------------------------------------------------------------

  const onAction = (event) => {
    const b = event.target.closest("button[data-action]");
    if (!b) return;
    const userId = Number(b.dataset.userId);
    const action = b.dataset.action;
    if (action === "remove") {
      const person = ((h.state && h.state.participants) || []).find((p) => p.user_id === userId);
      if (!window.confirm(text("remove_confirm", { name: person ? person.name : "" }))) return;
    }
    if (action === "mute") send({ type: "mute", user_id: userId, muted: true });
    else send({ type: action, user_id: userId });
  };
  el.people?.addEventListener("click", onAction);
  el.lobbyList?.addEventListener("click", onAction);
  el.recordingToggle?.addEventListener("click", () =>
    send({ type: "recording", on: !(h.state && h.state.recording) }),
  );
  el.caucusConsumer?.addEventListener("click", () => send({ type: "caucus", side: "consumer" }));
  el.caucusInsurer?.addEventListener("click", () => send({ type: "caucus", side: "insurer" }));
  el.caucusEnd?.addEventListener("click", () => send({ type: "caucus", side: null }));
  el.endHearing?.addEventListener("click", () => {
    if (el.endDialog && el.endDialog.showModal) el.endDialog.showModal();
    else if (window.confirm(el.endHearing.dataset.confirm || "")) send({ type: "end" });
  });
  el.endCancel?.addEventListener("click", () => el.endDialog.close());
  el.endConfirm?.addEventListener("click", () => {
    el.endDialog.close();
    send({ type: "end" });
  });

  // --- chat ----------------------------------------------------------------------------------

  // times as the rest of the page shows them: in the service's time zone
  const clock = (() => {
    const options = { hour: "2-digit", minute: "2-digit" };
    try {
      return new Intl.DateTimeFormat(document.documentElement.lang || undefined, { ...options, timeZone: cfg.time_zone });
    } catch (err) {
      return new Intl.DateTimeFormat(document.documentElement.lang || undefined, options);
    }
  })();

  function addChat(m) {
    if (!m || h.chatIds.has(m.id)) return;
    h.chatIds.add(m.id);
    const li = document.createElement("li");
    li.dataset.sequence = String(m.sequence);
    if (h.you && m.sender.user_id === h.you.user_id) li.classList.add("mine");
    const head = document.createElement("p");
    head.className = "chat-head";
    const who = document.createElement("strong");
    who.textContent = m.sender.name;
    const when = document.createElement("time");
    when.dateTime = m.at;
    when.textContent = clock.format(new Date(m.at));
    head.append(who, " ", when);
    if (m.audience !== "all") {
      const badge = document.createElement("span");
      badge.className = "badge private";
      badge.textContent = text("chat_private");
      head.append(" ", badge);
    }
    const body = document.createElement("p");
    body.className = "chat-text";
    body.textContent = m.text;
    li.append(head, body);
    const later = Array.from(el.chatLog.children).find((c) => Number(c.dataset.sequence) > m.sequence);
    el.chatLog.insertBefore(li, later || null);
    el.chatLog.scrollTop = el.chatLog.scrollHeight;
  }

  async function loadChat() {
    try {
      const resp = await fetch(cfg.chat_url, { credentials: "same-origin", cache: "no-store" });
      if (!resp.ok) return;
      for (const m of (await resp.json()).messages || []) addChat(m);
    } catch (err) {
      // the live messages still arrive
    }
  }

  el.chatForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = el.chatInput.value.trim();
    if (!body) return;
    const clientId = window.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    h.pending.set(clientId, body);
    say(el.chatMasked, "");
    if (!send({ type: "chat", client_id: clientId, text: body })) flash(text("chat_failed"));
    el.chatInput.value = "";
    el.chatInput.focus();
  });
  el.chatInput?.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      el.chatForm.requestSubmit();
    }
  });

  // --- the minutes (笔录), the mediator's -------------------------------------------------------

  let minutesDirty = false;
  let minutesTimer = null;
  async function loadMinutes() {
    if (!el.minutes) return;
    try {
      const resp = await fetch(cfg.minutes_url, { credentials: "same-origin", cache: "no-store" });
      if (resp.ok && !minutesDirty) el.minutes.value = (await resp.json()).text || "";
    } catch (err) {
      // the mediator can still write; saving says whether it worked
    }
  }
  async function saveMinutes() {
    clearTimeout(minutesTimer);
    const body = el.minutes.value;
    try {
      const resp = await fetch(cfg.minutes_url, {
        method: "PUT",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": cfg.csrf_token, "Content-Type": "application/json" },
        body: JSON.stringify({ text: body }),
      });
      if (!resp.ok) throw new Error(String(resp.status));
      const saved = await resp.json();
      if (el.minutes.value === body) minutesDirty = false;
      say(el.minutesStatus, text("minutes_saved", { time: clock.format(new Date(saved.updated_at)) }));
      el.minutesStatus.dataset.saved = saved.updated_at;
    } catch (err) {
      say(el.minutesStatus, text("minutes_failed"));
    }
  }
  el.minutes?.addEventListener("input", () => {
    minutesDirty = true;
    delete el.minutesStatus.dataset.saved;
    say(el.minutesStatus, text("minutes_unsaved"));
    clearTimeout(minutesTimer);
    minutesTimer = setTimeout(saveMinutes, 10000); // saved by itself after a pause in typing
  });
  el.minutesSave?.addEventListener("click", saveMinutes);
  loadMinutes();

  // --- leaving for good ------------------------------------------------------------------------

  function finish(reason, code) {
    if (h.final && h.final !== "left") return;
    h.final = reason;
    clearTimeout(h.retryTimer);
    closeMedia();
    if (h.ws) {
      const ws = h.ws;
      h.ws = null;
      ws.close();
    }
    if (h.local) for (const track of h.local.getTracks()) track.stop();
    for (const tile of h.tiles.values()) tile.querySelector("video").srcObject = null;
    if (el.endDialog && el.endDialog.open) el.endDialog.close();
    show(el.room, false);
    show(el.before, false);
    show(el.ended, true);
    let message = text(reason === "refused" ? "error_generic" : reason);
    if (reason === "refused" && code && T[`error_${code}`]) message = text(`error_${code}`);
    say(el.endedMessage, message);
    root.dataset.final = reason;
    el.ended.querySelector("h2")?.focus();
    if (minutesDirty) saveMinutes();
  }

  // --- connection quality and statistics ---------------------------------------------------------

  async function stats() {
    const out = { inbound: [], outbound: [], rtt: null, connection: h.pc ? h.pc.connectionState : "closed" };
    const pc = h.pc;
    if (!pc) return out;
    const publishers = {};
    for (const [uid, slot] of Object.entries((h.state && h.state.slots) || {})) publishers[slot] = Number(uid);
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === "inbound-rtp") {
        const where = h.receiverSlots.get(s.trackIdentifier) || h.midSlots.get(s.mid) || null;
        const slot = where ? where.slot : null;
        out.inbound.push({
          slot,
          kind: s.kind,
          publisher: slot === null || publishers[slot] === undefined ? null : publishers[slot],
          framesDecoded: s.framesDecoded || 0,
          packetsReceived: s.packetsReceived || 0,
          bytesReceived: s.bytesReceived || 0,
          packetsLost: s.packetsLost || 0,
        });
      } else if (s.type === "outbound-rtp") {
        out.outbound.push({
          kind: s.kind,
          packetsSent: s.packetsSent || 0,
          bytesSent: s.bytesSent || 0,
          framesEncoded: s.framesEncoded || 0,
        });
      } else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
        if (typeof s.currentRoundTripTime === "number") out.rtt = s.currentRoundTripTime;
      }
    });
    return out;
  }

  function showQuality(s) {
    if (!el.quality) return;
    const lost = s.inbound.reduce((n, i) => n + i.packetsLost, 0);
    const got = s.inbound.reduce((n, i) => n + i.packetsReceived, 0);
    const base = h.lossBase || { lost, got };
    h.lossBase = { lost, got };
    const dLost = Math.max(0, lost - base.lost);
    const dGot = Math.max(0, got - base.got);
    const loss = dLost + dGot > 0 ? (100 * dLost) / (dLost + dGot) : 0;
    if (s.rtt === null) {
      el.quality.dataset.level = "unknown";
      el.quality.textContent = text("quality_unknown");
      return;
    }
    const rtt = Math.round(s.rtt * 1000);
    const level = rtt < 300 && loss < 2 ? "good" : rtt < 700 && loss < 8 ? "fair" : "poor";
    el.quality.dataset.level = level;
    el.quality.textContent = `${text(`quality_${level}`)} (${text("quality_detail", { rtt, loss: loss.toFixed(1) })})`;
  }

  async function tick() {
    if (h.pc && h.pc.connectionState === "connected") {
      try {
        const s = await stats();
        if (s.inbound.some((i) => i.kind === "video" && i.framesDecoded > 0)) mark("firstFrame");
        showQuality(s);
      } catch (err) {
        // a closed connection between two ticks
      }
    }
    setTimeout(tick, h.timings.firstFrame === undefined ? 200 : 2000);
  }
  tick();

  window.odrHearing = {
    get state() {
      return h.state;
    },
    get you() {
      return h.you;
    },
    get final() {
      return h.final;
    },
    timings: h.timings,
    stats,
    // every statistic of the peer connection, for diagnosis
    report: async () => (h.pc ? Array.from((await h.pc.getStats()).values()) : []),
    // what a dropped network does to this page (tests): socket and media gone, no goodbye
    drop: () => {
      if (h.pc) h.pc.close();
      if (h.ws) h.ws.close();
    },
  };
})();

// The recordings player: one <video> per participant on one common timeline. Each segment
// starts at its offset from the first segment's start; play, pause and seek drive every video;
// a participant's next segment is loaded when the timeline reaches it. The timeline is a clock
// of its own (not any one video's), so a participant with nothing recorded at a moment simply
// shows nothing then.
"use strict";
(() => {
  const box = document.getElementById("player");
  const dataNode = document.getElementById("player-data");
  if (!box || !dataNode) return;
  const data = JSON.parse(dataNode.textContent);
  const textsNode = document.getElementById("player-texts");
  const T = textsNode ? JSON.parse(textsNode.textContent) : {};
  const toggle = document.getElementById("player-toggle");
  const seek = document.getElementById("player-seek");
  const timeLabel = document.getElementById("player-time");
  const DRIFT = 0.35; // seconds a video may be off the timeline before it is moved
  // Each participant's recorder starts a moment after the first one: a segment beginning
  // this soon after the timeline's position is shown already (its first frame), so that a
  // tile with a recording never says there is none, at the start or between two segments.
  const LEAD = 1.5;
  const length = Number(data.length) || 0;

  const tracks = data.tracks.map((track) => {
    const tile = box.querySelector(`.tile[data-user-id="${track.user_id}"]`);
    const video = tile.querySelector("video");
    const placeholder = tile.querySelector(".placeholder");
    const t = { ...track, tile, video, placeholder, current: null, ready: false };
    video.addEventListener("loadedmetadata", () => {
      t.ready = true;
      align(t, true);
    });
    video.addEventListener("error", () => {
      placeholder.textContent = T.cannot_play || "";
      placeholder.hidden = false;
    });
    return t;
  });

  let position = 0; // seconds on the timeline
  let playing = false;
  let startedAt = 0; // performance.now() when `position` was last set while playing

  const now = () => (playing ? Math.min(length, position + (performance.now() - startedAt) / 1000) : position);
  const clock = (seconds) => {
    const s = Math.max(0, Math.floor(seconds));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  };

  function segmentAt(t, at) {
    return t.segments.find((s) => at >= s.offset - LEAD && at < s.offset + Math.max(s.duration, 0.05)) || null;
  }

  // What a tile says when nothing of its participant is recorded at `at`: when their
  // recording begins, if it is still to come, else that there is none at this moment.
  function absence(t, at) {
    const next = t.segments.find((s) => s.offset > at);
    if (next && T.starts_at) return T.starts_at.replace("{time}", clock(next.offset));
    return T.no_recording || "";
  }

  function align(t, force) {
    const at = now();
    const segment = segmentAt(t, at);
    if (!segment) {
      if (t.current) {
        t.video.pause();
        t.video.removeAttribute("src");
        t.video.load();
        t.current = null;
        t.ready = false;
      }
      t.placeholder.textContent = absence(t, at);
      t.placeholder.hidden = false;
      t.tile.classList.add("no-video");
      return;
    }
    t.tile.classList.remove("no-video");
    t.placeholder.hidden = true;
    if (t.current !== segment) {
      t.current = segment;
      t.ready = false;
      t.video.src = segment.url;
      return; // aligned again once its metadata is in
    }
    if (!t.ready) return;
    const want = Math.max(0, at - segment.offset); // before its start: its first frame
    if (force || Math.abs(t.video.currentTime - want) > DRIFT) {
      try {
        t.video.currentTime = want;
      } catch (err) {
        // not seekable yet
      }
    }
    if (playing && t.video.paused) t.video.play().catch(() => {});
    if (!playing && !t.video.paused) t.video.pause();
  }

  function alignAll(force) {
    for (const t of tracks) align(t, force);
    const at = now();
    seek.value = String(at);
    timeLabel.textContent = `${clock(at)} / ${clock(length)}`;
  }

  function setPlaying(on) {
    position = now();
    playing = on;
    startedAt = performance.now();
    toggle.textContent = on ? T.pause : T.play;
    toggle.setAttribute("aria-pressed", String(on));
    alignAll(true);
  }

  toggle.addEventListener("click", () => {
    if (!playing && now() >= length) position = 0;
    setPlaying(!playing);
  });
  seek.addEventListener("input", () => {
    position = Number(seek.value);
    startedAt = performance.now();
    alignAll(true);
  });

  setInterval(() => {
    if (!playing) return;
    if (now() >= length) {
      setPlaying(false);
      return;
    }
    alignAll(false);
  }, 250);
  alignAll(true);

  window.odrPlayer = {
    get position() {
      return now();
    },
    get playing() {
      return playing;
    },
    tracks: () => tracks.map((t) => ({ user_id: t.user_id, segment: t.current ? t.current.id : null, time: t.video.currentTime, readyState: t.video.readyState, paused: t.video.paused, says: t.placeholder.hidden ? "" : t.placeholder.textContent })),
  };
})();

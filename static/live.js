// Live updates for the vote arena and the story page: Server-Sent Events from
// /api/live (the browser resumes with Last-Event-ID after a drop), or polling
// every 12 s when EventSource is missing or keeps failing.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const clip = document.querySelector("article.clip[data-clip-id]");
  const story = document.querySelector("section.story[data-live]");
  if (!clip && !story) return;
  const clipId = clip ? Number(clip.dataset.clipId) : null;
  const count = document.querySelector("[data-vote-count]");
  const top = document.querySelector("[data-live-top]");
  const note = document.querySelector("[data-live-note]");

  const setCount = (clips) => {
    for (const entry of clips || []) {
      if (count && entry.id === clipId) count.textContent = String(entry.voteCount);
    }
  };
  const showTop = (clips) => {
    if (!top) return;
    top.replaceChildren(...(clips || []).map((entry) => {
      const item = document.createElement("li");
      item.textContent = `${entry.title} · @${entry.creator} · ${entry.voteCount} votes`;
      return item;
    }));
    const box = top.closest("[data-live-top-box]") || top;
    box.hidden = !clips || clips.length === 0;
  };
  const tell = (text) => {
    if (!note) return;
    note.textContent = text;
    note.hidden = false;
  };
  const onSlot = (data) => {
    // The story page shows every slot: a fresh page is the simplest correct view.
    if (story || data.change === "opened" || data.change === "season") return window.location.reload();
    if (data.change === "locked") tell(`Slot ${data.position} is locked. Reload for the next round.`);
  };
  const onClip = (data) => {
    if (data.change === "approved") tell(`New clip to vote on: “${data.title}” by @${data.creator}`);
  };

  let slotKey = null;
  let polling = null;
  const poll = async () => {
    try {
      if (clipId !== null) {
        const response = await fetch(`/api/clips/${clipId}`);
        if (response.ok) setCount([await response.json()]);
      }
      if (story) {
        const response = await fetch("/api/story");
        if (!response.ok) return;
        const key = ((await response.json()).slots || []).map((slot) => slot.status).join();
        if (slotKey !== null && key !== slotKey) window.location.reload();
        slotKey = key;
      }
    } catch (_) {
      // Offline for now; the next tick tries again.
    }
  };
  const startPolling = () => {
    if (polling) return;
    polling = setInterval(poll, 12000);
    poll();
  };

  if (!window.EventSource) return startPolling();
  const source = new EventSource("/api/live");
  let failures = 0;
  source.addEventListener("open", () => { failures = 0; });
  source.addEventListener("error", () => {
    // The browser reconnects by itself; poll instead if it gave up or keeps failing.
    failures += 1;
    if (source.readyState === EventSource.CLOSED || failures >= 3) {
      source.close();
      startPolling();
    }
  });
  const on = (name, handler) => source.addEventListener(name, (event) => {
    try { handler(JSON.parse(event.data)); } catch (_) { /* a malformed event is skipped */ }
  });
  on("snapshot", (data) => { setCount(data.clips); showTop(data.top); });
  on("counts", (data) => setCount(data.clips));
  on("top", (data) => showTop(data.clips));
  on("slot", onSlot);
  on("clip", onClip);
});

// Live updates for the vote arena and the story page: Server-Sent Events from
// /api/live (the browser resumes with Last-Event-ID after a drop), with
// polling every 12 s while the stream is down or EventSource is missing. A
// stream the browser gave up on (a restart, a proxy error) is reopened with
// backoff, and polling stops once it is back.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // The arena's clip changes as the voter moves on (app.js keeps
  // data-clip-id current), so it is read at each update.
  const arena = document.querySelector("[data-arena]");
  const story = document.querySelector("section.story[data-live]");
  if (!arena && !story) return;
  const currentClip = () => (arena ? Number(arena.dataset.clipId) : null);
  const count = document.querySelector("[data-vote-count]");
  const top = document.querySelector("[data-live-top]");
  const note = document.querySelector("[data-live-note]");

  const setCount = (clips) => {
    for (const entry of clips || []) {
      if (count && entry.id === currentClip()) {
        count.textContent = String(entry.voteCount);
        const noun = document.querySelector("[data-vote-noun]");
        if (noun) noun.textContent = entry.voteCount === 1 ? "vote" : "votes";
      }
    }
  };
  const showTop = (clips) => {
    if (!top) return;
    top.replaceChildren(...(clips || []).map((entry) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `/clip/${entry.id}`;
      link.textContent = entry.title;
      const votes = entry.voteCount === 1 ? "1 vote" : `${entry.voteCount} votes`;
      item.append(link, ` · @${entry.creator} · ${votes}`);
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
    // The story page shows every slot: a fresh page is the simplest correct
    // view. Spread over a few seconds, so every open page does not reload at
    // the same instant.
    if (story || data.change === "opened" || data.change === "season") {
      return setTimeout(() => window.location.reload(), Math.random() * 8000);
    }
    if (data.change === "locked") tell(`Scene ${data.position} is locked. Reload for the next round.`);
  };
  const onClip = (data) => {
    if (data.change === "approved") tell(`New clip to vote on: “${data.title}” by @${data.creator}`);
  };

  let slotKey = null;
  let polling = null;
  const poll = async () => {
    try {
      if (arena) {
        const response = await fetch(`/api/clips/${currentClip()}`);
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

  const stopPolling = () => {
    clearInterval(polling);
    polling = null;
  };

  if (!window.EventSource) return startPolling();
  const handlers = [];
  let source = null;
  let failures = 0;
  const connect = () => {
    source = new EventSource("/api/live");
    source.addEventListener("open", () => {
      failures = 0;
      stopPolling();
    });
    source.addEventListener("error", () => {
      // The browser retries by itself; poll meanwhile once it keeps failing,
      // and reopen a stream it gave up on, waiting longer each time (≤ 60 s).
      failures += 1;
      if (failures >= 3) startPolling();
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        const wait = Math.min(60000, 1000 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random());
        setTimeout(connect, wait);
      }
    });
    for (const [name, listener] of handlers) source.addEventListener(name, listener);
  };
  const on = (name, handler) => handlers.push([name, (event) => {
    try { handler(JSON.parse(event.data)); } catch (_) { /* a malformed event is skipped */ }
  }]);
  on("snapshot", (data) => { setCount(data.clips); showTop(data.top); });
  on("counts", (data) => setCount(data.clips));
  on("top", (data) => showTop(data.clips));
  on("slot", onSlot);
  on("clip", onClip);
  connect();
});

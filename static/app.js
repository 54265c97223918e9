// Vote controls (arena and clip page) without a page reload: vote, super,
// mega and undo through the JSON API, the count updated at once (and put
// right if the server says no), then the arena moves on to the fair feed's
// next clip. Without this script the same form posts to /vote or
// /vote/undo and the server answers 303 back to the page.
"use strict";

const SPECIAL_WEIGHT = { super: 3, mega: 10 };

const plural = (count, one, many) => (count === 1 ? `1 ${one}` : `${count} ${many}`);

async function sendJson(method, url, payload) {
  const response = await fetch(url, {
    method,
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(payload),
  });
  let body = {};
  try { body = await response.json(); } catch (_) {}
  return { response, body };
}

// Keeps the receipt of a vote cast here, so that once its slot locks the
// story page can check it is in the published tally (static/tally.js).
function keepReceipt(receipt) {
  if (!receipt) return;
  try {
    const receipts = JSON.parse(localStorage.getItem("aimoviez.receipts") || "[]");
    receipts.push(receipt);
    localStorage.setItem("aimoviez.receipts", JSON.stringify(receipts.slice(-1000)));
  } catch (_) {
    // Storage off or full: the vote counts all the same, only unchecked here.
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-vote-form]");
  if (!form) return;
  const arena = document.querySelector("[data-arena]");
  const status = document.getElementById("vote-status");
  const count = document.querySelector("[data-vote-count]");
  const noun = document.querySelector("[data-vote-noun]");
  const budget = document.getElementById("budget");
  const undo = form.querySelector("[data-undo]");
  const buttons = Array.from(form.querySelectorAll("[data-vote-type]"));
  const locked = form.dataset.locked || "";
  const specialsOn = form.hasAttribute("data-specials");
  // What this voter holds; filled from the page (personal controls) or the
  // feed (neutral controls a shared cache may have served).
  const me = { remaining: null, voted: new Set(), known: form.hasAttribute("data-personal") };
  let busy = false;

  const clipId = () => Number(form.dataset.clipId);
  const setNote = (button, text) => { button.querySelector("[data-note]").textContent = text; };
  const say = (text) => { if (status) status.textContent = text; };
  const setCount = (value) => {
    if (count) count.textContent = String(value);
    if (noun) noun.textContent = value === 1 ? "vote" : "votes";
  };

  // Mirrors src/http/pages/vote_controls.rs.
  const render = () => {
    if (locked || !me.remaining) return;
    const left = me.remaining;
    const voted = me.voted.has(clipId());
    for (const button of buttons) {
      const kind = button.dataset.voteType;
      let note;
      let enabled = false;
      if (kind === "standard") {
        button.classList.toggle("voted", voted);
        button.querySelector("b").textContent = voted ? "Voted" : "Vote";
        if (voted) note = "✓ counted";
        else if (left.standard === 0) note = "none left today";
        else { note = `${left.standard} left today`; enabled = true; }
      } else if (!specialsOn) {
        note = "switched off";
      } else if (left[kind] > 0) {
        note = "1 this slot";
        enabled = true;
      } else if (left.standard < SPECIAL_WEIGHT[kind]) {
        note = `needs ${SPECIAL_WEIGHT[kind]} votes`;
      } else {
        note = "used this slot";
      }
      button.disabled = busy || !enabled;
      setNote(button, note);
    }
    if (undo) {
      undo.disabled = busy || !voted;
      setNote(undo, voted ? "take back" : "no vote yet");
    }
    if (budget) {
      const specials = specialsOn
        ? ` · super ${left.super > 0 ? "ready" : "spent"} · mega ${left.mega > 0 ? "ready" : "spent"}`
        : "";
      budget.textContent = `${plural(left.standard, "vote", "votes")} left today${specials}`;
    }
  };

  const readPage = () => {
    const note = (kind) => form.querySelector(`[data-vote-type=${kind}] [data-note]`).textContent;
    const standard = parseInt(note("standard"), 10);
    const special = (kind) => (note(kind) === "1 this slot" ? 1 : 0);
    me.remaining = { standard: Number.isNaN(standard) ? 0 : standard, super: special("super"), mega: special("mega") };
    if (form.querySelector("[data-vote-type=standard]").classList.contains("voted")) me.voted.add(clipId());
    if (Number.isNaN(standard) && me.voted.has(clipId())) me.remaining = null;
  };

  const learn = async () => {
    const response = await fetch("/api/vote?limit=1&countViews=false", { credentials: "same-origin" });
    if (!response.ok) return null;
    const body = await response.json();
    me.remaining = body.remainingVotes;
    me.voted = new Set(body.votedClipIds);
    me.known = true;
    render();
    return body;
  };

  const submit = async (button) => {
    const kind = button.dataset.voteType || "standard";
    const taking = button.hasAttribute("data-undo");
    const id = clipId();
    const before = Number(count ? count.textContent : 0);
    busy = true;
    render();
    buttons.concat(undo ? [undo] : []).forEach((b) => { b.disabled = true; });
    setCount(Math.max(0, before + (taking ? -1 : 1)));
    say(taking ? "Taking your vote back…" : "Counting your vote…");
    try {
      let { response, body } = taking
        ? await sendJson("DELETE", "/api/vote", { clipId: id })
        : await sendJson("POST", "/api/vote", { clipId: id, voteType: kind });
      if (!taking && body.error && body.error.code === "captcha_required" && window.aimoviezCaptcha) {
        say("Checking you are not a bot…");
        await window.aimoviezCaptcha.solve();
        ({ response, body } = await sendJson("POST", "/api/vote", { clipId: id, voteType: kind }));
      }
      busy = false;
      if (!response.ok) {
        setCount(before);
        say(body.error ? body.error.message : "Your vote could not be counted.");
        if (body.error && body.error.code === "already_voted") me.voted.add(id);
        if (!me.known) await learn(); else render();
        return;
      }
      setCount(body.voteCount);
      if (!taking) keepReceipt(body.receipt);
      me.remaining = body.remainingVotes;
      if (taking) me.voted.delete(id); else me.voted.add(id);
      me.known = true;
      render();
      const what = { standard: "Your vote", super: "Your super vote (×3)", mega: "Your mega vote (×10)" }[kind];
      if (taking || !arena) {
        say(taking ? "Your vote was taken back." : `${what} counted.`);
        return;
      }
      // Like the no-JavaScript arena: move on, and offer to take back the
      // vote just cast on the clip left behind.
      const left = document.getElementById("clip-title").textContent;
      say(`${what} counted.`);
      setTimeout(async () => {
        const moved = await arenaFeed.next();
        offerUndo(id, `${what} for “${left}” counted.${moved ? "" : " You have seen every clip in this scene."}`);
      }, 700);
    } catch (_) {
      busy = false;
      setCount(before);
      say("Network error, please try again.");
      render();
    }
  };

  const offerUndo = (id, text) => {
    if (!status) return;
    const button = document.createElement("button");
    button.type = "button";
    button.id = "undo-last";
    button.className = "link-button";
    button.textContent = "Undo";
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const { response, body } = await sendJson("DELETE", "/api/vote", { clipId: id });
        if (!response.ok) {
          say(body.error ? body.error.message : "Your vote could not be taken back.");
          return;
        }
        me.remaining = body.remainingVotes;
        me.voted.delete(id);
        if (id === clipId()) setCount(body.voteCount);
        render();
        say("Your vote was taken back.");
      } catch (_) {
        button.disabled = false;
        say("Network error, please try again.");
      }
    });
    status.replaceChildren(`${text} `, button);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = event.submitter;
    if (button && !busy) submit(button);
  });

  const learnFrom = (feed) => {
    me.remaining = feed.remainingVotes;
    me.voted = new Set(feed.votedClipIds);
    me.known = true;
  };
  const arenaFeed = arena ? arenaPlayer(arena, form, setCount, render, learnFrom) : null;
  if (me.known) readPage();
  if (!locked && !me.remaining) learn().catch(() => {});
  render();
});

// The arena moving through the fair feed without reloads: the next clip
// comes from GET /api/vote (fetched ahead without counting views), is
// counted as viewed when it is shown (POST /api/vote/view), and its video
// is preloaded. Swipe, ↑/↓, j/k and the Next/Previous links move.
function arenaPlayer(arena, form, setCount, rerender, learnFrom) {
  const video = document.getElementById("clip-video");
  const title = document.getElementById("clip-title");
  const creator = document.getElementById("clip-creator");
  const genre = document.getElementById("clip-genre");
  const clipLink = document.getElementById("clip-link");
  const comments = document.getElementById("comment-count");
  const commentNoun = document.querySelector("[data-comment-noun]");
  const nextLink = document.getElementById("next-clip");
  const prevLink = document.getElementById("previous-clip");
  const status = document.getElementById("vote-status");
  const seen = [Number(arena.dataset.clipId)];
  const known = new Map();
  let queue = [];
  let preloader = null;

  known.set(seen[0], {
    id: seen[0],
    title: title.textContent,
    creator: { username: creator.textContent.replace(/^@/, "") },
    genre: genre.textContent,
    videoUrl: video.getAttribute("src"),
    posterUrl: video.getAttribute("poster"),
    voteCount: Number(document.querySelector("[data-vote-count]").textContent),
    commentCount: Number(comments.textContent),
  });

  const preload = () => {
    if (!queue.length) return;
    preloader = preloader || document.createElement("video");
    preloader.preload = "auto";
    preloader.muted = true;
    if (preloader.getAttribute("src") !== queue[0].videoUrl) preloader.src = queue[0].videoUrl;
  };

  const fetchAhead = async () => {
    const exclude = seen.slice(-200).join(",");
    const response = await fetch(`/api/vote?limit=3&countViews=false&excludeIds=${exclude}`, { credentials: "same-origin" });
    if (!response.ok) return;
    const body = await response.json();
    learnFrom(body);
    queue = body.clips.filter((clip) => !seen.includes(clip.id));
    queue.forEach((clip) => known.set(clip.id, clip));
    preload();
  };

  const show = (clip, push) => {
    arena.dataset.clipId = String(clip.id);
    form.dataset.clipId = String(clip.id);
    form.querySelector("input[name=clip_id]").value = String(clip.id);
    video.src = clip.videoUrl;
    video.poster = clip.posterUrl;
    video.setAttribute("aria-label", `Clip: ${clip.title}`);
    title.textContent = clip.title;
    creator.textContent = `@${clip.creator.username}`;
    creator.href = `/u/${encodeURIComponent(clip.creator.username)}`;
    genre.textContent = clip.genre;
    setCount(clip.voteCount);
    comments.textContent = String(clip.commentCount || 0);
    if (commentNoun) commentNoun.textContent = clip.commentCount === 1 ? "comment" : "comments";
    clipLink.href = `/clip/${clip.id}#comments`;
    if (prevLink) prevLink.href = `/?clip=${clip.id}`;
    if (push) history.pushState({ clip: clip.id }, "", `/?clip=${clip.id}`);
    if (status) status.textContent = "";
    rerender();
    sendJson("POST", "/api/vote/view", { clipId: clip.id }).catch(() => {});
  };

  const next = async () => {
    if (!queue.length) await fetchAhead().catch(() => {});
    const clip = queue.shift();
    if (!clip) {
      if (status) status.textContent = "You have seen every clip in this scene. Come back for the next one.";
      return false;
    }
    seen.push(clip.id);
    show(clip, true);
    fetchAhead().catch(() => {});
    return true;
  };

  const previous = () => {
    if (history.state && history.state.clip && !history.state.first) history.back();
    else if (prevLink) window.location.href = prevLink.href;
  };

  window.addEventListener("popstate", (event) => {
    const id = event.state && event.state.clip ? event.state.clip : seen[0];
    const clip = known.get(id);
    if (clip) show(clip, false);
  });
  history.replaceState({ clip: seen[0], first: true }, "");

  if (nextLink) nextLink.addEventListener("click", (event) => { event.preventDefault(); next(); });
  if (prevLink) prevLink.addEventListener("click", (event) => { event.preventDefault(); previous(); });
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select, [contenteditable]") || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowDown" || event.key === "j") { event.preventDefault(); next(); }
    if (event.key === "ArrowUp" || event.key === "k") { event.preventDefault(); previous(); }
  });
  let touch = null;
  video.parentElement.addEventListener("touchstart", (event) => {
    const t = event.changedTouches[0];
    touch = { x: t.clientX, y: t.clientY };
  }, { passive: true });
  video.parentElement.addEventListener("touchend", (event) => {
    if (!touch) return;
    const t = event.changedTouches[0];
    const dx = t.clientX - touch.x;
    const dy = t.clientY - touch.y;
    touch = null;
    if (Math.abs(dy) < 60 || Math.abs(dy) < Math.abs(dx)) return;
    if (dy < 0) next(); else previous();
  }, { passive: true });
  fetchAhead().catch(() => {});
  return { next };
}

// Admin console: a destructive action (finish a season, advance or reset a
// slot, ban, void) asks first. Without JavaScript the checkbox or typed
// title on the riskiest forms is the confirmation.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
}, true);

// Upload page: preview the chosen clip, show upload progress, and say on
// the page (not in an alert) why an upload was refused.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("upload-file");
  const preview = document.getElementById("upload-preview");
  const progress = document.getElementById("upload-progress");
  const problem = document.getElementById("upload-error");
  const submit = document.getElementById("upload-submit");
  const say = (message) => {
    problem.textContent = message;
    problem.hidden = !message;
  };
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    if (preview.src) URL.revokeObjectURL(preview.src);
    if (!file) {
      preview.removeAttribute("src");
      preview.hidden = true;
      return;
    }
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    say("");
    const request = new XMLHttpRequest();
    request.open("POST", "/api/upload");
    progress.value = 0;
    progress.hidden = false;
    submit.disabled = true;
    const finish = (message) => {
      progress.hidden = true;
      submit.disabled = false;
      say(message);
      problem.scrollIntoView({ block: "nearest" });
    };
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100);
    });
    request.addEventListener("load", () => {
      if (request.status === 201) {
        window.location.href = "/profile?uploaded=1";
        return;
      }
      let message = "Upload failed.";
      try { message = JSON.parse(request.responseText).error.message; } catch (_) {}
      finish(message);
    });
    request.addEventListener("error", () => finish("Network error, please try again."));
    // The JSON API is guarded by the cross-site check; its form has no token field.
    const data = new FormData(form);
    data.delete("csrf");
    request.send(data);
  });
});

// Film player: play the scenes in order as one film, preloading the next two.
document.addEventListener("DOMContentLoaded", () => {
  const player = document.getElementById("film-player");
  const links = Array.from(document.querySelectorAll("#playlist a[data-video]"));
  if (!player || links.length === 0) return;
  const line = document.getElementById("scene-line");
  let current = Number(document.getElementById("film").dataset.current) || 0;
  const preloaded = new Map();
  const preload = (index) => {
    if (index >= links.length || preloaded.has(index)) return;
    const video = document.createElement("video");
    video.preload = "auto";
    video.muted = true;
    video.src = links[index].dataset.video;
    preloaded.set(index, video);
  };
  const show = (index, autoplay) => {
    if (index < 0 || index >= links.length) return;
    current = index;
    player.src = links[index].dataset.video;
    player.poster = links[index].dataset.poster;
    if (line) line.textContent = links[index].dataset.label;
    links.forEach((link, i) => link.parentElement.classList.toggle("playing", i === index));
    history.replaceState(null, "", `?scene=${index}`);
    preload(index + 1);
    preload(index + 2);
    if (autoplay) player.play().catch(() => {});
  };
  links.forEach((link, index) => link.addEventListener("click", (event) => { event.preventDefault(); show(index, true); }));
  const next = document.getElementById("film-next");
  const prev = document.getElementById("film-prev");
  if (next) next.addEventListener("click", (event) => { event.preventDefault(); show(current + 1, true); });
  if (prev) prev.addEventListener("click", (event) => { event.preventDefault(); show(current - 1, true); });
  player.addEventListener("ended", () => show(current + 1, true));
  preload(current + 1);
  preload(current + 2);
});

// Progressive enhancement for the vote arena: vote without a page reload.
// Without this script the same form posts to /vote and the page reloads.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-vote-form]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      castVote(form);
    });
  }
});

async function postVote(clipId) {
  const response = await fetch("/api/vote", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({ clipId }),
  });
  return { response, body: await response.json() };
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

async function castVote(form) {
  const button = form.querySelector("button");
  const status = document.getElementById("vote-status");
  const count = document.querySelector("[data-vote-count]");
  const clipId = Number(form.querySelector("input[name=clip_id]").value);
  button.disabled = true;
  try {
    let { response, body } = await postVote(clipId);
    if (body.error && body.error.code === "captcha_required" && window.aimoviezCaptcha) {
      // The server asks for proof of work: solve it here, then vote again.
      status.textContent = "Checking you are not a bot…";
      await window.aimoviezCaptcha.solve();
      ({ response, body } = await postVote(clipId));
    }
    if (response.ok) {
      keepReceipt(body.receipt);
      count.textContent = String(body.voteCount);
      button.textContent = "Voted ✓";
      status.textContent = `Vote counted · ${body.remainingVotes.standard} left today`;
      return;
    }
    status.textContent = body.error ? body.error.message : "Your vote could not be counted.";
    if (body.error && body.error.code === "already_voted") {
      button.textContent = "Voted ✓";
    } else {
      button.disabled = false;
    }
  } catch (error) {
    status.textContent = "Network error, please try again.";
    button.disabled = false;
  }
}

// Upload page: preview the chosen clip and show upload progress.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("upload-file");
  const preview = document.getElementById("upload-preview");
  const progress = document.getElementById("upload-progress");
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    if (!file) return;
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", "/api/upload");
    progress.hidden = false;
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
      alert(message);
      progress.hidden = true;
    });
    request.addEventListener("error", () => { alert("Network error, please try again."); progress.hidden = true; });
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

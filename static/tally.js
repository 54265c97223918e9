// The voter's receipts (issue #15): static/app.js keeps the receipt of every
// vote cast from this browser (localStorage, "aimoviez.receipts"); once a
// slot locks, the story page checks each of them against the slot's
// published root, here in the browser: it fetches the vote's RFC 6962
// inclusion proof, hashes the line with SubtleCrypto and walks the audit path
// up to the root shown on the page. Nothing is taken on trust from the proof
// but the path: the line must name the vote and the root must be the one
// published with the slot.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-tally-receipts]");
  const slots = Array.from(document.querySelectorAll("[data-tally-root]"));
  if (!box || slots.length === 0) return;
  let receipts;
  try {
    receipts = JSON.parse(localStorage.getItem("aimoviez.receipts") || "[]");
  } catch (_) {
    return;
  }
  if (!Array.isArray(receipts) || receipts.length === 0) return;
  if (!window.crypto || !window.crypto.subtle) {
    show(box, ["Your browser cannot check your votes here (no SubtleCrypto); use the verify links."]);
    return;
  }
  checkAll(box, slots, receipts);
});

function show(box, lines) {
  box.replaceChildren(...lines.map((text) => {
    const item = document.createElement("p");
    item.textContent = text;
    return item;
  }));
  box.hidden = lines.length === 0;
}

async function checkAll(box, slots, receipts) {
  const lines = [];
  for (const slot of slots) {
    const season = Number(slot.dataset.tallySeason);
    const position = Number(slot.dataset.tallyPosition);
    const root = slot.dataset.tallyRoot;
    const mine = receipts.filter((r) => r && r.season === season && r.position === position);
    if (mine.length === 0) continue;
    const missing = [];
    let unchecked = 0;
    for (const receipt of mine) {
      try {
        if (!(await included(receipt, root))) missing.push(receipt.voteId);
      } catch (_) {
        unchecked += 1;
      }
    }
    const found = mine.length - missing.length - unchecked;
    if (missing.length === 0 && unchecked === 0) {
      lines.push(`Your ${votes(found)} in slot ${position} ${found === 1 ? "is" : "are"} in the published tally ✓`);
    } else {
      if (found > 0) lines.push(`${votes(found)} of yours in slot ${position} ${found === 1 ? "is" : "are"} in the published tally ✓`);
      if (missing.length > 0) {
        const ids = missing.map((id) => `#${id}`).join(", ");
        lines.push(`Missing from the published tally of slot ${position}: your ${missing.length === 1 ? "vote" : "votes"} ${ids} ✗`);
      }
      if (unchecked > 0) lines.push(`${votes(unchecked)} in slot ${position} could not be checked right now; reload to try again.`);
    }
  }
  show(box, lines);
}

function votes(n) {
  return n === 1 ? "1 vote" : `${n} votes`;
}

// Whether the receipt's vote is under `root`: false when the server has no
// such vote in the tally or its proof does not lead to the root; throws when
// the check could not be made (network, server error).
async function included(receipt, root) {
  const response = await fetch(`/api/tally/${receipt.season}/${receipt.position}/proof/${receipt.voteId}`);
  if (response.status === 404) return false;
  if (!response.ok) throw new Error(`proof: HTTP ${response.status}`);
  const proof = await response.json();
  let line;
  try {
    line = JSON.parse(proof.line);
  } catch (_) {
    return false;
  }
  if (line.voteId !== receipt.voteId || proof.root !== root) return false;
  const bytes = new TextEncoder().encode(proof.line);
  const leaf = await sha256(concat([new Uint8Array([0]), bytes]));
  return (await rootFromPath(leaf, proof.index, proof.treeSize, proof.auditPath)) === root;
}

// RFC 9162 §2.1.3.2 (the RFC 6962 audit path, verified).
async function rootFromPath(leaf, index, treeSize, path) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize) || index < 0 || index >= treeSize) return null;
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const hex of path) {
    const p = fromHex(hex);
    if (sn === 0 || p === null) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await node(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await node(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? toHex(r) : null;
}

async function node(left, right) {
  return sha256(concat([new Uint8Array([1]), left, right]));
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function fromHex(hex) {
  if (typeof hex !== "string" || !/^[0-9a-f]{64}$/.test(hex)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// aimoviez built-in proof-of-work captcha (no third party, no dependencies).
//
// Usage (from another script file; CSP forbids inline script):
//   aimoviezCaptcha.solve().then(function (r) { /* r.passUntil */ });
//
// Protocol (must match src/captcha.rs exactly):
//   GET  /api/captcha/challenge -> {"token", "difficultyBits", "expiresAt"}
//   find the smallest n >= 0 such that
//     SHA-256(token ASCII bytes || ":" || n as decimal ASCII)
//   has at least difficultyBits leading zero bits, counted from the most
//   significant bit of byte 0 (= the top bit of the first big-endian word);
//   POST /api/captcha/verify {"token": token, "solution": n} -> {"passUntil"}
//
// Dev check (not run automatically): in the browser console run
//   aimoviezCaptcha.selfCheck()   // must return true
// which compares this file's SHA-256 with known digests. The vectors are
// also asserted in Rust (captcha::tests::hash_convention_matches_the_browser_script):
//   SHA-256("abc")
//     = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
//   SHA-256("AAECAwQFBgcICQoLDA0ODwAAAYvM6FwAEgABAgMEBQYHCAkKCwwNDg8:12345")
//     = fdcf90491bd60baff83854c9625e35571c1b5903bcf7e66965517f3fcd4b8e66
//   first 12-bit solution for that token = 5269 (Rust solve() agrees)
(function () {
  'use strict';

  // ---- SHA-256 (FIPS 180-4), synchronous, ASCII/byte input ----
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var W = new Uint32Array(64);
  var M = new Uint32Array(32); // message scratch, reused (grown when needed)

  // SHA-256 of an ASCII string (every char code must be < 256); returns the
  // eight big-endian state words.
  function sha256Words(str) {
    var len = str.length;
    var blocks = ((len + 8) >>> 6) + 1; // room for 0x80 and the 64-bit length
    if (M.length < blocks * 16) M = new Uint32Array(blocks * 16);
    var m = M, end = blocks * 16, i;
    m.fill(0, 0, end);
    for (i = 0; i < len; i++) m[i >>> 2] |= (str.charCodeAt(i) & 0xff) << (24 - (i & 3) * 8);
    m[len >>> 2] |= 0x80 << (24 - (len & 3) * 8);
    m[end - 1] = len * 8; // bit length (inputs here are far below 2^32 bits)
    var h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a;
    var h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
    for (var off = 0; off < end; off += 16) {
      var t;
      for (t = 0; t < 16; t++) W[t] = m[off + t];
      for (t = 16; t < 64; t++) {
        var x = W[t - 15], y = W[t - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
      }
      var a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
      for (t = 0; t < 64; t++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t] + W[t]) | 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
    }
    return [h0 >>> 0, h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0, h5 >>> 0, h6 >>> 0, h7 >>> 0];
  }

  function sha256Hex(str) {
    return sha256Words(str).map(function (w) { return ('0000000' + w.toString(16)).slice(-8); }).join('');
  }
  // ---- end SHA-256 ----

  // Leading zero bits of the digest, from the most significant bit of byte 0.
  // SHA-256 words are big-endian, so the top bit of word 0 is the top bit of byte 0.
  function leadingZeroBits(words) {
    var bits = 0;
    for (var i = 0; i < words.length; i++) {
      if (words[i] !== 0) return bits + Math.clz32(words[i]);
      bits += 32;
    }
    return bits;
  }

  function yieldToEventLoop() {
    return new Promise(function (resolve) { setTimeout(resolve, 0); });
  }

  // Finds the smallest solution, yielding to the event loop every 5,000
  // attempts so the page stays responsive. onProgress(attempts) is optional.
  async function findSolution(token, difficultyBits, onProgress) {
    var prefix = token + ':';
    for (var n = 0; n <= Number.MAX_SAFE_INTEGER; n++) {
      if (leadingZeroBits(sha256Words(prefix + n)) >= difficultyBits) return n;
      if (n % 5000 === 4999) {
        if (onProgress) onProgress(n + 1);
        await yieldToEventLoop();
      }
    }
    throw new Error('captcha: no solution found');
  }

  async function jsonOrThrow(response) {
    var body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      var err = body && body.error ? body.error : {};
      var error = new Error(err.message || ('captcha request failed: HTTP ' + response.status));
      error.code = err.code || 'http_' + response.status;
      error.status = response.status;
      throw error;
    }
    if (body === null) throw new Error('captcha: invalid JSON response');
    return body;
  }

  // Fetches a challenge, solves it and redeems it. Resolves with the verify
  // response ({"passUntil": ...}); rejects on any failure.
  async function solve(options) {
    var onProgress = options && options.onProgress;
    var challenge = await jsonOrThrow(await fetch('/api/captcha/challenge', {
      method: 'GET',
      credentials: 'same-origin',
      headers: { 'Accept': 'application/json' }
    }));
    if (typeof challenge.token !== 'string' || typeof challenge.difficultyBits !== 'number') {
      throw new Error('captcha: malformed challenge');
    }
    var solution = await findSolution(challenge.token, challenge.difficultyBits, onProgress);
    return jsonOrThrow(await fetch('/api/captcha/verify', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify({ token: challenge.token, solution: solution })
    }));
  }

  // Dev check, see the header comment. Not run automatically.
  function selfCheck() {
    return sha256Hex('abc') === 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' &&
      sha256Hex('') === 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' &&
      sha256Hex('AAECAwQFBgcICQoLDA0ODwAAAYvM6FwAEgABAgMEBQYHCAkKCwwNDg8:12345') ===
        'fdcf90491bd60baff83854c9625e35571c1b5903bcf7e66965517f3fcd4b8e66';
  }

  window.aimoviezCaptcha = {
    solve: solve,
    findSolution: findSolution,
    sha256Hex: sha256Hex,
    selfCheck: selfCheck
  };
})();

// Kumo's pre-started runtime (the linux sandbox driver's snapshots): Node.js
// starts and loads bootstrap.js and the core modules handlers use before
// the function is known, says so by writing one byte to stdin (a socket),
// then waits for the function's environment and working directory on it
// (JSON, then EOF). Nothing of the function
// runs before wait returns; the environment is then exactly a fresh
// start's. Math.random is seeded per V8 isolate when the process starts,
// and every snapshot is its own process, so it is the sandbox's own.
'use strict';

const fs = require('fs');

exports.wait = function wait() {
  for (const m of ['https', 'url', 'crypto', 'zlib', 'stream', 'events', 'querystring', 'os']) {
    try { require(m); } catch (e) { /* not in this build */ }
  }
  try { fs.writeSync(0, '\n'); } catch (e) { /* ready: stdin is the init's socket */ }
  const chunks = [];
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN' || e.code === 'EINTR') continue;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  if (chunks.length === 0) process.exit(1); // the sandbox is being recycled
  const spec = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  for (const k of Object.keys(process.env)) delete process.env[k];
  for (const kv of spec.env) {
    const i = kv.indexOf('=');
    const k = kv.slice(0, i);
    if (!(k in process.env)) process.env[k] = kv.slice(i + 1); // the first wins, as getenv has it
  }
  process.chdir(spec.dir || '/var/task');
};

// Kumo's pre-started runtime (the linux sandbox driver's snapshots): Node.js
// starts and loads bootstrap.js, the core modules handlers use and its ES
// module loader before the function is known, says so by writing one byte
// to stdin (a socket), then waits for the function's environment and
// working directory on it (JSON, then EOF). Nothing of the function runs
// before wait returns; the environment is then exactly a fresh
// start's. Math.random is seeded per V8 isolate when the process starts,
// and every snapshot is its own process, so it is the sandbox's own.
'use strict';

const fs = require('fs');

exports.wait = async function wait() {
  for (const m of ['https', 'url', 'crypto', 'zlib', 'stream', 'events', 'querystring', 'os']) {
    try { require(m); } catch (e) { /* not in this build */ }
  }
  // Node.js's ES module loader starts on first use (a handler in an .mjs
  // file or a "type": "module" package): load it with a module of Kumo's
  // own that has no side effects (the resolution hooks' file; imported
  // here, they are not installed).
  try {
    await import(require('url').pathToFileURL(require('path').join(__dirname, 'kumo-resolve.mjs')).href);
  } catch (e) { /* the function's import pays for it */ }
  await warm();
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

// warm makes a GET and a POST over loopback to a throwaway server, with a
// throwaway agent, so that the runtime's first /next and response do not
// pay for loading and compiling Node.js's HTTP client and parser. The
// server is closed before the function is known; a failure only leaves
// the runtime cold.
function warm() {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => { if (!done) { done = true; resolve(); } };
    setTimeout(finish, 2000).unref();
    let srv;
    try {
      const http = require('http');
      srv = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end('{}')); });
      srv.on('error', finish);
      srv.listen(0, '127.0.0.1', () => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const stop = () => {
          agent.destroy();
          if (srv.closeAllConnections) srv.closeAllConnections();
          srv.close(finish);
        };
        const one = (method, body, then) => {
          const headers = body ? { 'Content-Type': 'application/json', 'Content-Length': body.length } : {};
          const req = http.request({ host: '127.0.0.1', port: srv.address().port, method, path: '/2018-06-01/runtime/invocation/next', agent, headers }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => { Buffer.concat(chunks); then(); });
            res.on('error', stop);
          });
          req.on('error', stop);
          req.end(body);
        };
        one('GET', null, () => one('POST', Buffer.from('{}'), stop));
      });
    } catch (e) {
      finish();
    }
  });
}

// Kumo's Node.js runtime: the Lambda Runtime API loop for Node.js handlers
// (CommonJS and ES modules, async and callback style). Standard library only.
'use strict';

const http = require('http');
const path = require('path');
const fs = require('fs');
const util = require('util');

const BASE = '/2018-06-01/runtime/';
const [apiHost, apiPort] = (() => {
  const a = process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001';
  const i = a.lastIndexOf(':');
  return [a.slice(0, i).replace(/^\[|\]$/g, ''), Number(a.slice(i + 1))];
})();
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

let currentRequestId; // undefined outside an invocation, as Lambda prints it

// Error codes of a Runtime API that refused or dropped the connection.
const API_GONE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

// --- Runtime API client -----------------------------------------------------

function request(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: apiHost, port: apiPort, method, path: BASE + p, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function post(p, body, errorType) {
  const buf = Buffer.from(body, 'utf8');
  const headers = { 'Content-Type': 'application/json', 'Content-Length': buf.length };
  if (errorType) headers['Lambda-Runtime-Function-Error-Type'] = errorType;
  return request('POST', p, buf, headers).then((r) => {
    if (r.status >= 300 && r.status !== 413) {
      rawWrite(`Runtime API answered ${r.status} to POST ${p}: ${r.body.toString()}`);
    }
  });
}

// --- Logs -----------------------------------------------------------------

function rawWrite(line) {
  // One call, one log line: embedded newlines become carriage returns.
  const b = line.replace(/\n/g, '\r') + '\n';
  try {
    fs.writeSync(1, b);
  } catch (e) {
    if (e.code !== 'EAGAIN') throw e;
    process.stdout.write(b); // stdout was made non-blocking: queue it
  }
}

function patchConsole() {
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE', fatal: 'FATAL' };
  for (const [name, level] of Object.entries(levels)) {
    const write = (...args) => {
      let msg = util.format(...args);
      if (name === 'trace') {
        const st = new Error().stack.split('\n').slice(2).join('\n');
        msg = 'Trace: ' + msg + '\n' + st;
      }
      rawWrite(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${msg}`);
    };
    console[name] = write;
  }
}

// --- Errors -----------------------------------------------------------------

class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

function isError(e) {
  return util.types.isNativeError(e) || (e && typeof e === 'object' && typeof e.name === 'string' && typeof e.message === 'string' && typeof e.stack === 'string');
}

function toResponse(e) {
  try {
    if (isError(e)) {
      return { errorType: e.name, errorMessage: e.message, trace: String(e.stack).split('\n') };
    }
    return { errorType: typeof e, errorMessage: String(e), trace: [] };
  } catch (_) {
    return { errorType: 'handled', errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack' };
  }
}

function logError(prefix, e) {
  const r = toResponse(e);
  const logged = { errorType: r.errorType, errorMessage: r.errorMessage, stack: r.trace };
  rawWrite(`${new Date().toISOString()}\t${currentRequestId}\tERROR\t${prefix} \t${JSON.stringify(logged)}`);
}

// --- Loading the handler ------------------------------------------------------

function fileExists(p) {
  try {
    return fs.statSync(p).isFile();
  } catch (_) {
    return false;
  }
}

function hasTypeModule(file) {
  let dir = path.dirname(file);
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fileExists(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module';
      } catch (_) {
        return false;
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return false;
    dir = up;
  }
}

// realpath is fs.realpathSync, or undefined where nothing is.
function realpath(p) {
  try {
    return fs.realpathSync(p);
  } catch (_) {
    return undefined;
  }
}

// esmDirs are NODE_PATH's node_modules directories (layers', then the AWS
// SDK's at /var/runtime/node_modules), for the resolution hooks of
// kumo-resolve.mjs, or none when Node.js's own resolution already finds
// them as Lambda does: no layer has any, and the SDK's is reached from the
// task root (the linux sandbox links /var/node_modules to it).
function esmDirs(root) {
  const url = require('url');
  const reached = new Set();
  for (let dir = realpath(root) || root; ; dir = path.dirname(dir)) {
    const r = realpath(path.join(dir, 'node_modules'));
    if (r) reached.add(r);
    if (path.dirname(dir) === dir) break;
  }
  const dirs = [];
  let needed = false;
  for (const d of (process.env.NODE_PATH || '').split(':')) {
    const r = path.basename(d) === 'node_modules' && realpath(d);
    if (!r) continue;
    needed = needed || !reached.has(r);
    dirs.push({ url: url.pathToFileURL(r).href + '/', parent: url.pathToFileURL(path.join(path.dirname(r), 'kumo-resolve.js')).href });
  }
  return needed ? dirs : [];
}

let esmHooked = false;

// hookESM installs the resolution hooks before the first ES module is
// imported, when they are needed: in the loading thread where Node.js can
// (module.registerHooks), else in a loader thread (module.register), which
// costs tens of milliseconds. CommonJS handlers never pay for it.
function hookESM() {
  if (esmHooked) return;
  esmHooked = true;
  const dirs = esmDirs(process.env.LAMBDA_TASK_ROOT || '/var/task');
  if (dirs.length === 0) return;
  const mod = require('module');
  if (typeof mod.registerHooks !== 'function') {
    if (typeof mod.register === 'function') {
      mod.register(require('url').pathToFileURL(path.join(__dirname, 'kumo-resolve.mjs')).href, { data: { dirs } });
    }
    return;
  }
  // As kumo-resolve.mjs's resolve, synchronously.
  const bare = (s) => !s.startsWith('.') && !s.startsWith('/') && !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s);
  const dirOf = (u) => (u ? dirs.findIndex((d) => u.startsWith(d.url)) : -1);
  mod.registerHooks({
    resolve(specifier, context, next) {
      if (!bare(specifier)) return next(specifier, context);
      let res;
      let err;
      try {
        res = next(specifier, context);
      } catch (e) {
        if (!e || e.code !== 'ERR_MODULE_NOT_FOUND') throw e;
        err = e;
      }
      let upto = dirs.length;
      if (res) {
        upto = dirOf(res.url);
        if (upto <= 0 || dirOf(context.parentURL) >= 0) return res;
      }
      for (let i = 0; i < upto; i++) {
        try {
          return next(specifier, { ...context, parentURL: dirs[i].parent });
        } catch (_) {
          // not there
        }
      }
      if (res) return res;
      throw err;
    },
  });
}

async function importFile(file) {
  hookESM();
  return import(require('url').pathToFileURL(file).href);
}

async function loadModule(root, moduleRoot, mod) {
  const base = path.resolve(root, moduleRoot, mod);
  if (fileExists(base)) return require(base);
  const esm = hasTypeModule(base);
  if (!esm && fileExists(base + '.js')) return require(base + '.js');
  if (esm && fileExists(base + '.js')) return importFile(base + '.js');
  if (fileExists(base + '.mjs')) return importFile(base + '.mjs');
  if (fileExists(base + '.cjs')) return require(base + '.cjs');
  // As Lambda does: a package of /var/task/node_modules or NODE_PATH.
  const resolved = require.resolve(mod, { paths: [root, path.resolve(root, moduleRoot)] });
  try {
    return require(resolved);
  } catch (e) {
    if (e && e.code === 'ERR_REQUIRE_ESM') return importFile(resolved);
    throw e;
  }
}

async function loadHandler(root, fullHandler) {
  const m = /^([^.]*)\.(.*)$/.exec(path.basename(fullHandler));
  if (!m) throw new RuntimeError('Runtime.MalformedHandlerName', `Bad handler ${fullHandler}`);
  const moduleRoot = fullHandler.slice(0, fullHandler.indexOf(m[0]));
  const [, mod, handlerPath] = m;
  if (fullHandler.includes('..')) {
    throw new RuntimeError('Runtime.MalformedHandlerName', "'../' not allowed in handler name. Use 'path/to/handler' instead.");
  }
  let loaded;
  try {
    loaded = await loadModule(root, moduleRoot, mod);
  } catch (e) {
    if (e instanceof SyntaxError) throw new RuntimeError('Runtime.UserCodeSyntaxError', String(e), e);
    if (e && e.code === 'MODULE_NOT_FOUND') throw new RuntimeError('Runtime.ImportModuleError', String(e));
    throw e;
  }
  let h = loaded;
  for (const part of handlerPath.split('.')) {
    h = h == null ? undefined : h[part];
  }
  if (h === undefined) {
    throw new RuntimeError('Runtime.HandlerNotFound', `${fullHandler} is undefined or not exported`);
  }
  if (typeof h !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${fullHandler} is not a function`);
  }
  return h;
}

// --- Context ----------------------------------------------------------------

function parseJSON(s) {
  if (!s) return undefined;
  try {
    return JSON.parse(s);
  } catch (_) {
    return undefined;
  }
}

function makeContext(h) {
  const deadline = Number(h['lambda-runtime-deadline-ms'] || 0);
  const ctx = {
    callbackWaitsForEmptyEventLoop: true,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseJSON(h['lambda-runtime-client-context']),
    identity: parseJSON(h['lambda-runtime-cognito-identity']),
    invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
    awsRequestId: h['lambda-runtime-aws-request-id'],
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
  return ctx;
}

// --- Response streaming -------------------------------------------------------

// awslambda.streamifyResponse marks a handler (event, responseStream,
// context) whose response is streamed: it is posted to /response with
// Lambda-Runtime-Function-Response-Mode: streaming as the handler writes,
// chunked, and an error after the stream began ends it with the
// Lambda-Runtime-Function-Error-Type and -Body (base64 error JSON)
// trailers. awslambda.HttpResponseStream.from makes the stream begin with
// a function URL's HTTP response metadata and eight NUL bytes.

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HIGH_WATER_MARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const TRAILER_ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type';
const TRAILER_ERROR_BODY = 'Lambda-Runtime-Function-Error-Body';
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';

class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(HTTP_INTEGRATION);
    const metadata = JSON.stringify(prelude);
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(new Uint8Array(8));
    };
    return underlyingStream;
  }
}

function installAwslambda() {
  const g = globalThis.awslambda || (globalThis.awslambda = {});
  g.streamifyResponse = (handler, options) => {
    handler[STREAMING] = 'response';
    if (options && Number.isInteger(options.highWaterMark)) handler[HIGH_WATER_MARK] = options.highWaterMark;
    return handler;
  };
  g.HttpResponseStream = HttpResponseStream;
}

function isStreaming(handler) {
  return handler[STREAMING] === 'response';
}

// responseStream opens the streamed POST of invocation id: a writable
// http.ClientRequest with setContentType (before the first write) and
// fail (trailers, then end). done settles with the API's answer once
// the stream ended.
function responseStream(id) {
  const req = http.request({
    host: apiHost, port: apiPort, method: 'POST', path: BASE + `invocation/${id}/response`, agent,
    headers: {
      'Lambda-Runtime-Function-Response-Mode': 'streaming',
      'Transfer-Encoding': 'chunked',
      'Content-Type': 'application/octet-stream',
      Trailer: `${TRAILER_ERROR_TYPE}, ${TRAILER_ERROR_BODY}`,
    },
  });
  const done = new Promise((resolve, reject) => {
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  done.catch(() => {}); // settled by the caller
  let written = false;
  const write = req.write.bind(req);
  const end = req.end.bind(req);
  const beforeFirst = () => {
    if (written) return;
    written = true;
    if (typeof req._onBeforeFirstWrite === 'function') req._onBeforeFirstWrite((c) => write(c));
  };
  req.setContentType = (ct) => {
    if (written) throw new Error('Cannot set content-type, too late.');
    req.setHeader('Content-Type', ct);
  };
  req.write = (chunk, encoding, cb) => {
    const data = typeof chunk === 'string' || chunk instanceof Uint8Array ? chunk : JSON.stringify(chunk);
    beforeFirst();
    return write(data, encoding, cb);
  };
  req.end = (chunk, encoding, cb) => {
    if (typeof chunk === 'function') return req.end(undefined, undefined, chunk);
    if (typeof encoding === 'function') return req.end(chunk, undefined, encoding);
    if (chunk != null && !req.writableEnded) req.write(chunk, encoding);
    beforeFirst();
    return end(cb);
  };
  req.fail = (err) => {
    if (req.writableEnded) return;
    const r = toResponse(err);
    beforeFirst();
    req.addTrailers({ [TRAILER_ERROR_TYPE]: r.errorType, [TRAILER_ERROR_BODY]: Buffer.from(JSON.stringify(r)).toString('base64') });
    end();
  };
  return { req, done };
}

// invokeStreaming runs one invocation of a streaming handler and
// resolves once the API answered its streamed response. The handler must
// return a promise; what it resolves to is ignored, the stream is the
// response, and the invocation ends when the handler ends the stream.
function invokeStreaming(handler, id, event, ctx) {
  const { req, done } = responseStream(id);
  const failed = (e) => {
    logError('Invoke Error', e);
    req.fail(e);
  };
  let ret;
  try {
    ret = handler(event, req, ctx);
  } catch (e) {
    failed(e);
  }
  if (ret && typeof ret.then === 'function') {
    ret.then((r) => {
      if (r !== undefined) console.warn('Streaming handlers ignore return values.');
    }, (e) => failed(e == null ? new Error(String(e)) : e));
  } else if (!req.writableEnded) {
    failed(new Error('Streaming does not support non-async handlers.'));
  }
  return done.then((r) => {
    if (r.status >= 300 && r.status !== 413) {
      rawWrite(`Runtime API answered ${r.status} to the streamed response: ${r.body.toString()}`);
    }
  }, (e) => {
    if (e && API_GONE.has(e.code)) process.exit(0);
    rawWrite(`Posting the streamed response failed: ${e}`);
    process.exit(1);
  });
}

// --- The loop ---------------------------------------------------------------

function encode(result) {
  const s = JSON.stringify(result === undefined ? null : result);
  return s === undefined ? 'null' : s;
}

// invoke runs one invocation and resolves once its result was posted.
// An async handler answers when its promise settles; a callback handler
// when it called back and, unless callbackWaitsForEmptyEventLoop was
// turned off, the event loop is empty; a handler that does neither
// answers null once the event loop is empty.
function invoke(handler, id, event, ctx) {
  return new Promise((resolve) => {
    let done = false;
    let called = false;
    let cbErr;
    let cbResult;
    const onEmpty = () => finish(called ? cbErr : null, called ? cbResult : undefined);
    const finish = (err, result) => {
      if (done) return;
      done = true;
      process.removeListener('beforeExit', onEmpty);
      let p;
      if (err != null) {
        logError('Invoke Error', err);
        const r = toResponse(err);
        p = post(`invocation/${id}/error`, JSON.stringify(r), r.errorType);
      } else {
        let body;
        try {
          body = encode(result);
        } catch (e) {
          const r = { errorType: 'Runtime.MarshalError', errorMessage: 'Unable to stringify response body', trace: [] };
          logError('Invoke Error', e);
          p = post(`invocation/${id}/error`, JSON.stringify(r), r.errorType);
        }
        if (!p) p = post(`invocation/${id}/response`, body);
      }
      p.then(resolve, (e) => {
        // The Runtime API went away (the platform retires the sandbox,
        // possibly right after it took this result): nothing to log.
        if (e && API_GONE.has(e.code)) process.exit(0);
        rawWrite(`Posting the result failed: ${e}`);
        process.exit(1);
      });
    };
    const callback = (err, result) => {
      if (done || called) return;
      called = true;
      cbErr = err;
      cbResult = result;
      if (!ctx.callbackWaitsForEmptyEventLoop) finish(err, result);
    };
    ctx.done = callback;
    ctx.succeed = (r) => callback(null, r);
    ctx.fail = (e) => callback(e == null ? '' : e);
    let ret;
    try {
      ret = handler(event, ctx, callback);
    } catch (e) {
      finish(e);
      return;
    }
    if (ret && typeof ret.then === 'function') {
      ret.then((r) => finish(null, r), (e) => finish(e == null ? new Error(String(e)) : e));
    } else if (!done) {
      process.on('beforeExit', onEmpty);
    }
  });
}

async function main() {
  patchConsole();
  installAwslambda();
  const root = process.env.LAMBDA_TASK_ROOT || '/var/task';
  let handler;
  try {
    handler = await loadHandler(root, process.env._HANDLER || '');
  } catch (e) {
    let err = e;
    if (!(e instanceof RuntimeError)) {
      err = e;
    }
    logError('Uncaught Exception', err);
    const r = toResponse(err);
    await post('init/error', JSON.stringify(r), r.errorType);
    process.exit(129);
  }
  process.on('uncaughtException', (e) => {
    logError('Uncaught Exception', e);
    const r = toResponse(e);
    const p = currentRequestId ? post(`invocation/${currentRequestId}/error`, JSON.stringify(r), r.errorType) : Promise.resolve();
    p.finally(() => process.exit(129));
  });
  process.on('unhandledRejection', (reason) => {
    const e = isError(reason) ? reason : new RuntimeError('Runtime.UnhandledPromiseRejection', String(reason));
    logError('Unhandled Promise Rejection', e);
    const r = toResponse(e);
    const p = currentRequestId ? post(`invocation/${currentRequestId}/error`, JSON.stringify(r), r.errorType) : Promise.resolve();
    p.finally(() => process.exit(128));
  });
  for (;;) {
    let r;
    try {
      r = await request('GET', 'invocation/next');
    } catch (e) {
      // The Runtime API refused or closed the connection: the platform
      // is retiring this sandbox. Nothing to tell the function's log.
      if (e && API_GONE.has(e.code)) process.exit(0);
      throw e;
    }
    if (r.status !== 200) {
      rawWrite(`Runtime API answered ${r.status} to /next: ${r.body.toString().slice(0, 200)}`);
      process.exit(1);
    }
    const h = r.headers;
    const id = h['lambda-runtime-aws-request-id'];
    currentRequestId = id;
    if (h['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
    else delete process.env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = r.body.length ? JSON.parse(r.body.toString('utf8')) : {};
    } catch (e) {
      event = r.body.toString('utf8');
    }
    if (isStreaming(handler)) await invokeStreaming(handler, id, event, makeContext(h));
    else await invoke(handler, id, event, makeContext(h));
  }
}

// Pre-started (kumo-snapshot.js): wait for the function first.
const ready = process.env._KUMO_SNAPSHOT === '1' ? require('./kumo-snapshot.js').wait() : Promise.resolve();
ready.then(main).catch((e) => {
  rawWrite(`Runtime failed: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});

// Module resolution hooks of Kumo's Node.js runtime (module.register): ES
// module imports resolve through NODE_PATH's node_modules directories, as
// in Lambda's nodejs18.x and later runtimes, whose own ES module resolution
// (unlike Node.js's) honours NODE_PATH. The same logic runs in the loading
// thread through module.registerHooks where Node.js has it (bootstrap.js).
// Standard library only.
//
// dirs are NODE_PATH's node_modules directories, in order: { url } of the
// directory (with a trailing slash) and { parent }, a module URL beside it
// from which Node.js's own resolution finds packages in it.
let dirs = [];

export function initialize(data) {
  dirs = (data && data.dirs) || [];
}

function isBare(s) {
  return !s.startsWith('.') && !s.startsWith('/') && !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s);
}

function dirOf(u) {
  return u ? dirs.findIndex((d) => u.startsWith(d.url)) : -1;
}

// resolve: a bare import Node.js resolves to a NODE_PATH directory from the
// function's own code is looked up in the directories before it first (a
// layer's package before the runtime's SDK); one it does not resolve at all
// is looked up in each directory in turn.
export async function resolve(specifier, context, next) {
  if (!isBare(specifier)) return next(specifier, context);
  let res;
  let err;
  try {
    res = await next(specifier, context);
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
      return await next(specifier, { ...context, parentURL: dirs[i].parent });
    } catch (_) {
      // not there
    }
  }
  if (res) return res;
  throw err;
}

// Module resolution hooks of Kumo's Node.js runtime (module.register):
// an ES module's bare import that Node.js does not find next to the
// importer is looked up in NODE_PATH's node_modules directories, as
// Lambda's nodejs18.x and later runtimes do (Node.js's own ES module
// resolution ignores NODE_PATH). Standard library only.
let parents = [];

export function initialize(data) {
  parents = (data && data.parents) || [];
}

function isBare(s) {
  return !s.startsWith('.') && !s.startsWith('/') && !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s);
}

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    if (!e || e.code !== 'ERR_MODULE_NOT_FOUND' || !isBare(specifier)) throw e;
    for (const parentURL of parents) {
      try {
        return await next(specifier, { ...context, parentURL });
      } catch (_) {
        // not there either
      }
    }
    throw e;
  }
}

exports.handler = async () => ({ kind: 'cjs', commonjs: typeof module === 'object' });

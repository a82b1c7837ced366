export const handler = async () => ({ kind: 'mjs', esm: typeof import.meta.url === 'string' });

import { sep } from 'node:path';

const ready = await Promise.resolve('top-level await'); // runs during init

export const handler = async (event, context) => ({ kind: 'esm', ready, sep, requestId: context.awsRequestId });

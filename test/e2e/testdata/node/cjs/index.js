let calls = 0; // survives warm invocations
console.log('init line');

exports.handler = async (event, context) => {
  calls++;
  return {
    event,
    calls,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    awsRequestId: context.awsRequestId,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    remainingMs: context.getRemainingTimeInMillis(),
    clientContext: context.clientContext || null,
    identity: context.identity || null,
    waits: context.callbackWaitsForEmptyEventLoop,
    executionEnv: process.env.AWS_EXECUTION_ENV,
    nodePath: process.env.NODE_PATH,
    node: process.versions.node,
    cwd: process.cwd(),
  };
};

exports.callback = (event, context, callback) => {
  setTimeout(() => callback(null, { via: 'callback', calls: ++calls }), 10);
};

// The response waits for the timer unless callbackWaitsForEmptyEventLoop
// is turned off.
exports.waits = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait !== false;
  setTimeout(() => {}, 300);
  callback(null, { waited: context.callbackWaitsForEmptyEventLoop });
};

exports.throws = async () => {
  throw new TypeError('bad type');
};

exports.rejects = () => Promise.reject(new Error('rejected'));

exports.cbError = (event, context, callback) => callback(new Error('callback failed'));

exports.logs = async () => {
  console.log('hello %s', 'world');
  console.error('an error');
  console.warn('a warning');
  console.info('info');
  console.log('multi\nline');
  return 'ok';
};

exports.notAFunction = 42;

// Neither a promise nor a callback: Lambda answers null once the event
// loop is empty.
exports.neither = (event, context, callback) => {
  setTimeout(() => console.log('timer done'), 20);
};

exports.sleep = (event) => new Promise((resolve) => setTimeout(() => resolve({ slept: true }), event.ms || 1000));

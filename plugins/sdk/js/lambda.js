// AWS Lambda handlers as Switchyard plugins, unchanged:
//
//   import { lambda } from './sdk/switchyard.js';
//   import { handler } from './handler.js';        // (event, context) => ..., as deployed
//   export const handle = lambda.sqs(handler);      // a consumer
//
// `lambda.sqs` hands the handler Lambda's SQS event ({"Records": [...]}) and a context. A normal
// return handles every message; {"batchItemFailures": [{"itemIdentifier": id}]} retries exactly
// those (Lambda's ReportBatchItemFailures; with the config report_batch_item_failures = false,
// as a function without it, the list is ignored); a throw fails the batch. `lambda.enrichment` does
// the same for a Pipes enrichment handler: the records in, the events out. console.log and its
// kin go to the host's log, tagged with the plugin. Handlers may be async.
import { log as hostLog } from 'switchyard:plugin/log@0.1.0';
import { getAll } from 'switchyard:plugin/config@0.1.0';

function setting(key, fallback) {
  return new Map(getAll()).get(key) ?? fallback;
}

// console.* into the host's log, as CloudWatch Logs would take a function's output.
function forwardConsole() {
  const line = (level) => (...args) => hostLog(level, args.map(show).join(' '), []);
  globalThis.console = {
    ...globalThis.console,
    log: line('info'),
    info: line('info'),
    debug: line('debug'),
    trace: line('trace'),
    warn: line('warn'),
    error: line('error'),
  };
}

function show(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

let requests = 0;

/** A Lambda context: the function's name and ARN from config (`function_name`), a request id. */
function context(timeoutMs) {
  const started = Date.now();
  const functionName = setting('function_name', 'switchyard-plugin');
  const region = setting('region', 'us-east-1');
  requests += 1;
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    memoryLimitInMB: setting('memory_mb', '128'),
    awsRequestId: `switchyard-${started.toString(16)}-${requests}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'switchyard',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
  };
}

// Calls a handler as Lambda does: (event, context), or (event, context, callback) for the old
// callback style. An async handler is awaited: componentize-js awaits a promise a plugin's
// export returns.
function invoke(handler, event, ctx) {
  if (handler.length < 3) return Promise.resolve().then(() => handler(event, ctx));
  return new Promise((resolve, reject) => {
    const returned = handler(event, ctx, (err, value) => (err ? reject(err) : resolve(value)));
    if (returned && typeof returned.then === 'function') returned.then(resolve, reject);
  });
}

/** A hex MD5 digest of a string's UTF-8 bytes, as SQS's `md5OfBody`. */
export function md5(text) {
  const bytes = new TextEncoder().encode(text);
  const length = bytes.length;
  const words = new Uint32Array((((length + 8) >>> 6) + 1) * 16);
  for (let i = 0; i < length; i++) words[i >> 2] |= bytes[i] << ((i % 4) * 8);
  words[length >> 2] |= 0x80 << ((length % 4) * 8);
  words[words.length - 2] = (length * 8) >>> 0;
  words[words.length - 1] = Math.floor(length / 0x20000000);
  const shifts = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
  const table = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);
  let [a0, b0, c0, d0] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  for (let block = 0; block < words.length; block += 16) {
    let [a, b, c, d] = [a0, b0, c0, d0];
    for (let i = 0; i < 64; i++) {
      const round = i >> 4;
      let f;
      let g;
      if (round === 0) [f, g] = [(b & c) | (~b & d), i];
      else if (round === 1) [f, g] = [(d & b) | (~d & c), (5 * i + 1) % 16];
      else if (round === 2) [f, g] = [b ^ c ^ d, (3 * i + 5) % 16];
      else [f, g] = [c ^ (b | ~d), (7 * i) % 16];
      const sum = (a + f + table[i] + words[block + g]) >>> 0;
      const s = shifts[round * 4 + (i % 4)];
      [a, d, c] = [d, c, b];
      b = (b + ((sum << s) | (sum >>> (32 - s)))) >>> 0;
    }
    [a0, b0, c0, d0] = [(a0 + a) >>> 0, (b0 + b) >>> 0, (c0 + c) >>> 0, (d0 + d) >>> 0];
  }
  return [a0, b0, c0, d0]
    .map((word) => [0, 8, 16, 24].map((shift) => ((word >>> shift) & 0xff).toString(16).padStart(2, '0')).join(''))
    .join('');
}

/** One message as a record of Lambda's SQS event. */
function sqsRecord(message, queueArn, region) {
  const attributes = Object.fromEntries(message.attributes);
  const sent = attributes.SentTimestamp ?? String(Date.now());
  return {
    messageId: message.id,
    receiptHandle: `switchyard:${message.id}:${message.receiveCount}`,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: sent,
      SenderId: attributes.SenderId ?? 'switchyard',
      ApproximateFirstReceiveTimestamp: sent,
      ...(attributes.MessageGroupId ? { MessageGroupId: attributes.MessageGroupId } : {}),
    },
    messageAttributes: {},
    md5OfBody: md5(message.body),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

function failure(err) {
  return { tag: 'failed', val: err instanceof Error ? `${err.name}: ${err.message}` : show(err) };
}

/**
 * An SQS-triggered Lambda handler as a consumer. The queue's ARN comes from the plugin's config
 * (`queue_arn`, or `queue` and `region`); export the result as `handle`.
 */
function sqs(handler) {
  forwardConsole();
  return async (messages) => {
    const region = setting('region', 'us-east-1');
    const queueArn = setting('queue_arn', `arn:aws:sqs:${region}:000000000000:${setting('queue', 'switchyard')}`);
    const event = { Records: messages.map((m) => sqsRecord(m, queueArn, region)) };
    let result;
    try {
      result = await invoke(handler, event, context(Number(setting('timeout_ms', '30000'))));
    } catch (err) {
      throw failure(err);
    }
    // Without ReportBatchItemFailures, Lambda ignores the list: the batch succeeded.
    const reported = setting('report_batch_item_failures', 'true') !== 'false';
    const failures = reported ? (result?.batchItemFailures ?? []) : [];
    const failed = new Set(failures.map((f) => f?.itemIdentifier));
    return messages.map((m) => (failed.has(m.id) ? { tag: 'retry' } : { tag: 'ok' }));
  };
}

/**
 * A Pipes enrichment handler as an enricher: it gets the batch's records (an array) and returns
 * the events to deliver (an array; a single value is one event). The nth event keeps the id of
 * the nth record. Export the result as `enrich`.
 */
function enrichment(handler) {
  forwardConsole();
  return async (events) => {
    let result;
    try {
      const records = events.map((e) => JSON.parse(e.payload));
      result = await invoke(handler, records, context(Number(setting('timeout_ms', '30000'))));
    } catch (err) {
      throw failure(err);
    }
    const out = Array.isArray(result) ? result : [result];
    return out.map((payload, i) => ({
      id: events[Math.min(i, events.length - 1)]?.id ?? `enriched-${i}`,
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    }));
  };
}

export const lambda = { sqs, enrichment };

// switchyard-plugin: write Switchyard filter, enricher and consumer plugins in JavaScript, and
// run AWS Lambda handlers unchanged. Import it by path (`./sdk/switchyard.js`) and build with
// componentize-js; the plugin's export is the function `filter`, `enricher` or `consumer` returns:
//
//   import { filter, config } from './sdk/switchyard.js';
//   export const keep = filter((record) => {
//     const total = record.newImage?.total ?? 0;
//     return total > config.number('threshold', 100);
//   });
//
// Records arrive as DynamoDB Streams records (`record.dynamodb.NewImage`, as Lambda hands them
// over) with their images also unmarshalled (`record.keys`, `record.newImage`, `record.oldImage`).
import { log as hostLog } from 'switchyard:plugin/log@0.1.0';
import { getAll } from 'switchyard:plugin/config@0.1.0';

/**
 * @typedef {{S: string} | {N: string} | {B: string} | {SS: string[]} | {NS: string[]} |
 *   {BS: string[]} | {M: Object<string, AttributeValue>} | {L: AttributeValue[]} |
 *   {NULL: true} | {BOOL: boolean}} AttributeValue
 * @typedef {Object<string, AttributeValue>} Image
 * @typedef {{eventID: string, eventName: 'INSERT' | 'MODIFY' | 'REMOVE', dynamodb: {Keys: Image,
 *   NewImage?: Image, OldImage?: Image, SequenceNumber: string}, keys: Object,
 *   newImage?: Object, oldImage?: Object}} StreamRecord
 * @typedef {{version: string, id: string, 'detail-type': string, source: string,
 *   time: string, region: string, resources: string[], detail: any}} Envelope
 * @typedef {{id: string, body: string, receiveCount: number,
 *   attributes: Object<string, string>, json: () => any}} Message
 */

// ---------------------------------------------------------------------------------------------
// Errors: throw these from a plugin. Anything else thrown counts as a failure that may pass later.

/** The input is not what the plugin accepts; the same input fails again, so it is not retried. */
export class InvalidInput extends Error {}

/** Something failed that may work later, such as a service the plugin calls. */
export class Failed extends Error {}

function asError(err) {
  if (err instanceof InvalidInput) return { tag: 'invalid', val: err.message };
  if (err && typeof err === 'object' && (err.tag === 'invalid' || err.tag === 'failed')) return err;
  return { tag: 'failed', val: err instanceof Error ? err.message : String(err) };
}

// ---------------------------------------------------------------------------------------------
// Logging and config.

function write(level, message, fields) {
  const pairs = [];
  for (const key in fields) {
    const value = fields[key];
    const text = typeof value === 'string' ? value
      : typeof value === 'number' || typeof value === 'boolean' ? String(value)
        : JSON.stringify(value) ?? String(value);
    pairs.push([key, text]);
  }
  hostLog(level, String(message), pairs);
}

/** Log lines into the host's log, with fields: `log.info('order handled', { orderId })`. */
export const log = {
  trace: (message, fields) => write('trace', message, fields),
  debug: (message, fields) => write('debug', message, fields),
  info: (message, fields) => write('info', message, fields),
  warn: (message, fields) => write('warn', message, fields),
  error: (message, fields) => write('error', message, fields),
};

let settings;
// The config's numbers, once read.
const numbers = new Map();

/** The plugin's `config` table from routes.toml, read once per instance. */
export const config = {
  /** Every key and its text. */
  all() {
    settings ??= new Map(getAll());
    return settings;
  },
  /** The text of `key`, or `fallback` when it is not set. */
  string(key, fallback) {
    return config.all().get(key) ?? fallback;
  },
  /** `key` as a number, or `fallback`; an InvalidInput naming the key when it is not one. */
  number(key, fallback) {
    const known = numbers.get(key);
    if (known !== undefined) return known;
    const text = config.all().get(key);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (text.trim() === '' || Number.isNaN(value)) {
      throw new InvalidInput(`config \`${key}\` = ${JSON.stringify(text)} is not a number`);
    }
    numbers.set(key, value);
    return value;
  },
  /** `key` as true or false, or `fallback`. */
  bool(key, fallback) {
    const text = config.all().get(key);
    if (text === undefined) return fallback;
    if (text === 'true' || text === 'false') return text === 'true';
    throw new InvalidInput(`config \`${key}\` = ${JSON.stringify(text)} is not true or false`);
  },
};

// ---------------------------------------------------------------------------------------------
// DynamoDB's attribute values, as AWS's util-dynamodb converts them.

/** A DynamoDB number kept as its text, for numbers a JavaScript number cannot hold exactly. */
export class NumberValue {
  constructor(text) {
    this.value = String(text);
  }
  toString() {
    return this.value;
  }
  valueOf() {
    return Number(this.value);
  }
  toJSON() {
    return Number(this.value);
  }
}

function number(text, wrap) {
  if (wrap) return new NumberValue(text);
  const value = Number(text);
  // Written as JavaScript writes it ("412.5"), or a decimal of up to 15 significant digits
  // ("412.50"): a double holds it exactly.
  if (String(value) === text) return value;
  if (text.length <= 16 && /^-?\d+(\.\d+)?$/.test(text)) return value;
  const exact = Number.isFinite(value) && decimal(text) === decimal(String(value));
  return exact ? value : new NumberValue(text);
}

// A decimal number's text in one form (digits, then the point's place), so that two texts of
// the same value compare equal: "412.50" and "4.125e2" are both "4125e3".
function decimal(text) {
  const [mantissa, exponent = '0'] = text.trim().toLowerCase().split('e');
  const negative = mantissa.startsWith('-');
  const [whole, fraction = ''] = mantissa.replace(/^[-+]/, '').split('.');
  let digits = whole + fraction;
  let point = whole.length + Number(exponent);
  const zeros = digits.length - digits.replace(/^0+/, '').length;
  digits = digits.slice(zeros).replace(/0+$/, '');
  point -= zeros;
  return digits === '' ? '0' : `${negative ? '-' : ''}${digits}e${point}`;
}

function fromBase64(text) {
  const bytes = atob(text);
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes.charCodeAt(i);
  return out;
}

function toBase64(bytes) {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

/** One attribute value as plain JavaScript. */
export function unmarshallValue(value, options) {
  const wrap = options?.wrapNumbers === true;
  let type;
  for (type in value) break;
  const inner = value[type];
  switch (type) {
    case 'S': return inner;
    case 'N': return number(inner, wrap);
    case 'B': return fromBase64(inner);
    case 'BOOL': return inner;
    case 'NULL': return null;
    case 'SS': return new Set(inner);
    case 'NS': return new Set(inner.map((n) => number(n, wrap)));
    case 'BS': return new Set(inner.map(fromBase64));
    case 'L': return inner.map((v) => unmarshallValue(v, options));
    case 'M': return unmarshall(inner, options);
    default: throw new InvalidInput(`not a DynamoDB attribute value: ${type}`);
  }
}

/**
 * An image (`{"total": {"N": "42.5"}}`) as a plain object (`{total: 42.5}`): numbers a
 * JavaScript number holds exactly become numbers, others a NumberValue (all of them with
 * `{wrapNumbers: true}`); sets become Sets; binary a Uint8Array.
 */
export function unmarshall(image, options) {
  const out = {};
  for (const name in image) out[name] = unmarshallValue(image[name], options);
  return out;
}

/** One plain value as an attribute value. */
export function marshallValue(value) {
  if (value === null || value === undefined) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number' || typeof value === 'bigint') return { N: String(value) };
  if (value instanceof NumberValue) return { N: value.value };
  if (typeof value === 'boolean') return { BOOL: value };
  if (value instanceof Uint8Array) return { B: toBase64(value) };
  if (value instanceof Set) {
    const items = [...value];
    if (items.every((v) => typeof v === 'string')) return { SS: items };
    if (items.every((v) => typeof v === 'number' || v instanceof NumberValue)) return { NS: items.map(String) };
    if (items.every((v) => v instanceof Uint8Array)) return { BS: items.map(toBase64) };
    throw new InvalidInput('a set holds strings, numbers or binary values, one kind only');
  }
  if (Array.isArray(value)) return { L: value.map(marshallValue) };
  if (typeof value === 'object') return { M: marshall(value) };
  throw new InvalidInput(`cannot marshall a ${typeof value}`);
}

/** A plain object as an image; the inverse of `unmarshall`. */
export function marshall(object) {
  const out = {};
  for (const [name, value] of Object.entries(object ?? {})) out[name] = marshallValue(value);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The worlds.

function parse(id, payload) {
  try {
    return JSON.parse(payload);
  } catch (err) {
    throw new InvalidInput(`payload is not JSON (event ${id}): ${err.message}`);
  }
}

// An image whose attributes are unmarshalled when read, one by one: a plugin pays only for
// what it reads. It reads like the plain object `unmarshall` makes (spread, entries, `in`). One
// handler serves every image; the proxy's target holds the image and what was read of it.
const own = (holder, key) => typeof key === 'string' && Object.hasOwn(holder.image, key);

function attribute(holder, key) {
  const read = (holder.read ??= Object.create(null));
  if (!(key in read)) read[key] = unmarshallValue(holder.image[key]);
  return read[key];
}

const imageHandler = {
  get: (holder, key) => (own(holder, key) ? attribute(holder, key) : undefined),
  has: (holder, key) => own(holder, key),
  ownKeys: (holder) => Reflect.ownKeys(holder.image),
  getOwnPropertyDescriptor: (holder, key) => (own(holder, key)
    ? { value: attribute(holder, key), enumerable: true, configurable: true, writable: false }
    : undefined),
};

function lazyImage(image) {
  if (!image || typeof image !== 'object') return undefined;
  return new Proxy({ image, read: undefined }, imageHandler);
}

// A stream record's images, made when first read and then kept as plain properties. The
// getters are shared by every record: `this` is the record.
function imageGetter(name, member) {
  return function () {
    const image = lazyImage(this.dynamodb[member]);
    Object.defineProperty(this, name, { value: image, enumerable: false, configurable: true });
    return image;
  };
}

const recordImages = {
  keys: { get: imageGetter('keys', 'Keys'), enumerable: false, configurable: true },
  newImage: { get: imageGetter('newImage', 'NewImage'), enumerable: false, configurable: true },
  oldImage: { get: imageGetter('oldImage', 'OldImage'), enumerable: false, configurable: true },
};

/** An event's payload; a stream record gains its images unmarshalled (keys, newImage, oldImage). */
function input(event) {
  const payload = parse(event.id, event.payload);
  const change = payload?.dynamodb;
  if (change && typeof change === 'object') Object.defineProperties(payload, recordImages);
  return payload;
}

const isPromise = (value) => value !== null && typeof value?.then === 'function';

// Runs `call` and hands its result to `done`; an async function's promise is awaited (the
// export then returns a promise, which componentize-js awaits). Errors become the plugin's.
function guard(call, done = (value) => value) {
  const fail = (err) => {
    throw asError(err);
  };
  let result;
  try {
    result = call();
  } catch (err) {
    fail(err);
  }
  if (isPromise(result)) return result.then(done).catch(fail);
  try {
    return done(result);
  } catch (err) {
    return fail(err);
  }
}

/**
 * A filter: `keep(record, {id})` returns (or resolves to) true to keep the event, false to
 * drop it. Export the result as `keep`.
 */
export function filter(keep) {
  return (event) => guard(() => keep(input(event), { id: event.id }), Boolean);
}

/**
 * An enricher: `enrich(records, ids)` returns (or resolves to) the events to deliver. The nth
 * event keeps the id of the nth input (an event delivered again keeps its id); events past the
 * inputs take the last one's. Export the result as `enrich`.
 */
export function enricher(enrich) {
  return (events) => guard(() => enrich(events.map(input), events.map((e) => e.id)), (out) => {
    if (!Array.isArray(out)) throw new InvalidInput('the enricher must return an array of events');
    return out.map((payload, i) => ({
      id: events[Math.min(i, events.length - 1)]?.id ?? `enriched-${i}`,
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    }));
  });
}

/** Outcomes a consumer returns for a message; returning nothing (or 'ok') handles it. */
export const ok = () => ({ tag: 'ok' });
export const retry = (seconds) => ({ tag: 'retry', val: seconds ?? undefined });
export const deadLetter = (reason) => ({ tag: 'dead-letter', val: String(reason) });

function message(m) {
  const attributes = Object.fromEntries(m.attributes);
  return {
    id: m.id,
    body: m.body,
    receiveCount: m.receiveCount,
    attributes,
    json() {
      try {
        return JSON.parse(m.body);
      } catch (err) {
        throw new InvalidInput(`message ${m.id} is not JSON: ${err.message}`);
      }
    },
  };
}

function outcome(result) {
  if (result === undefined || result === null || result === true || result === 'ok') return ok();
  if (typeof result === 'object' && ['ok', 'retry', 'dead-letter'].includes(result.tag)) return result;
  throw new InvalidInput(`not an outcome: ${JSON.stringify(result)}`);
}

/**
 * A consumer, a message at a time: `handle(message)` returns (or resolves to) an outcome;
 * nothing means ok. Throwing InvalidInput dead-letters that message; anything else thrown
 * retries it after its visibility timeout. Export the result as `handle`.
 */
export function consumer(handle) {
  const settle = (err) => {
    const error = asError(err);
    return error.tag === 'invalid' ? deadLetter(error.val) : retry();
  };
  return (messages) => {
    const outcomes = messages.map((m) => {
      try {
        const result = handle(message(m));
        return isPromise(result) ? result.then(outcome).catch(settle) : outcome(result);
      } catch (err) {
        return settle(err);
      }
    });
    return outcomes.some(isPromise) ? Promise.all(outcomes) : outcomes;
  };
}

/** A consumer a batch at a time: `handle(messages)` returns one outcome per message. */
consumer.batch = (handle) => (messages) => guard(() => handle(messages.map(message)), (outcomes) => {
  if (!Array.isArray(outcomes) || outcomes.length !== messages.length) {
    throw new InvalidInput(`the consumer must return ${messages.length} outcomes`);
  }
  return outcomes.map(outcome);
});

export { lambda } from './lambda.js';

// The JavaScript SDK in Node, with stand-ins for the host's imports (see register.mjs).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import { lines } from './host/log.mjs';
import { settings } from './host/config.mjs';
import {
  InvalidInput, NumberValue, consumer, deadLetter, enricher, filter, lambda, marshall, retry, unmarshall,
} from '../switchyard.js';
import { md5 } from '../lambda.js';

const record = (total) => ({
  id: 'e-1',
  payload: JSON.stringify({
    eventID: 'e-1',
    eventName: 'INSERT',
    dynamodb: {
      Keys: { orderId: { S: 'o-1' } },
      NewImage: { orderId: { S: 'o-1' }, total: { N: String(total) } },
      SequenceNumber: '1',
    },
  }),
});

const message = (id, body, receiveCount = 1, attributes = []) => ({ id, body, receiveCount, attributes });

test('unmarshall keeps every digit and marshall gives it back', () => {
  const image = {
    id: { S: 'o-1' },
    total: { N: '412.50' },
    big: { N: '12345678901234567890' },
    fine: { N: '0.1' },
    tags: { SS: ['a', 'b'] },
    blob: { B: 'AAEC' },
    lines: { L: [{ M: { qty: { N: '2' } } }] },
    gift: { BOOL: true },
    note: { NULL: true },
  };
  const plain = unmarshall(image);
  assert.equal(plain.total, 412.5);
  assert.equal(plain.fine, 0.1);
  assert.ok(plain.big instanceof NumberValue);
  assert.equal(String(plain.big), '12345678901234567890');
  assert.deepEqual(plain.tags, new Set(['a', 'b']));
  assert.deepEqual([...plain.blob], [0, 1, 2]);
  assert.deepEqual(plain.lines, [{ qty: 2 }]);
  assert.equal(plain.note, null);
  const back = marshall(plain);
  assert.deepEqual(back.big, { N: '12345678901234567890' });
  assert.deepEqual(back.tags, { SS: ['a', 'b'] });
  assert.deepEqual(back.blob, { B: 'AAEC' });
  assert.deepEqual(back.lines, image.lines);
  assert.deepEqual(unmarshall(image, { wrapNumbers: true }).total, new NumberValue('412.50'));
});

test('a filter reads the record, and its errors name their kind', async () => {
  const keep = filter((r) => {
    if (r.newImage.total < 0) throw new InvalidInput('a negative total');
    return r.newImage.total > 100;
  });
  assert.equal(keep(record(150)), true);
  assert.equal(keep(record(5)), false);
  assert.deepEqual(catching(() => keep(record(-1))), { tag: 'invalid', val: 'a negative total' });
  assert.equal(catching(() => keep({ id: 'x', payload: 'nope' })).tag, 'invalid');
  assert.deepEqual(catching(() => filter(() => { throw new Error('down'); })(record(1))), { tag: 'failed', val: 'down' });
  assert.equal(await filter(async (r) => r.keys.orderId === 'o-1')(record(1)), true);
  let seen;
  filter((r) => {
    seen = [r.newImage, r.newImage, r.keys];
    return true;
  })(record(7));
  assert.equal(seen[0], seen[1], 'an image is made once per record');
  assert.deepEqual({ ...seen[0] }, { orderId: 'o-1', total: 7 });
});

test('a consumer answers per message, sync or async', async () => {
  const handle = consumer((m) => {
    const body = m.json();
    if (body.fail === 'later') throw new Error('down');
    if (body.fail === 'wait') return retry(30);
    if (body.fail === 'give-up') return deadLetter('no');
    return undefined;
  });
  const outcomes = handle([
    message('m-1', '{}'), message('m-2', '{"fail":"later"}'), message('m-3', 'nope'),
    message('m-4', '{"fail":"wait"}'), message('m-5', '{"fail":"give-up"}'),
  ]);
  assert.deepEqual(outcomes.map((o) => o.tag), ['ok', 'retry', 'dead-letter', 'retry', 'dead-letter']);
  assert.equal(outcomes[3].val, 30);
  const later = await consumer(async (m) => (m.id === 'a' ? retry() : undefined))([message('a', '1'), message('b', '2')]);
  assert.deepEqual(later.map((o) => o.tag), ['retry', 'ok']);
  assert.equal(catching(() => consumer.batch(() => [])([message('a', '1')])).tag, 'invalid');
});

test('an enricher keeps each event id in its place', async () => {
  const enrich = enricher((records) => records.map((r) => ({ ...r, tier: 'gold' })));
  const out = enrich([record(1), { id: 'e-2', payload: '{"a":1}' }]);
  assert.deepEqual(out.map((e) => e.id), ['e-1', 'e-2']);
  assert.equal(JSON.parse(out[1].payload).tier, 'gold');
});

test('without ReportBatchItemFailures, a returned batchItemFailures is ignored, as Lambda ignores it', async () => {
  settings.set('report_batch_item_failures', 'false');
  try {
    const handle = lambda.sqs(() => ({ batchItemFailures: [{ itemIdentifier: 'm-2' }] }));
    const outcomes = await handle([message('m-1', 'a', 1, []), message('m-2', 'b', 1, [])]);
    assert.deepEqual(outcomes.map((o) => o.tag), ['ok', 'ok']);
  } finally {
    settings.delete('report_batch_item_failures');
  }
});

test("a lambda handler gets Lambda's SQS event, and its batchItemFailures are retried", async () => {
  let seen;
  const handle = lambda.sqs(async (event, context) => {
    seen = { event, name: context.functionName, remaining: context.getRemainingTimeInMillis() };
    console.log('got', event.Records.length);
    return { batchItemFailures: [{ itemIdentifier: 'm-2' }] };
  });
  const outcomes = await handle([
    message('m-1', '{"a":1}', 1, [['SentTimestamp', '1700000000000']]),
    message('m-2', 'x', 3, [['MessageGroupId', 'g']]),
  ]);
  assert.deepEqual(outcomes.map((o) => o.tag), ['ok', 'retry']);
  const [first, second] = seen.event.Records;
  assert.equal(first.messageId, 'm-1');
  assert.equal(first.md5OfBody, createHash('md5').update('{"a":1}').digest('hex'));
  assert.equal(first.eventSource, 'aws:sqs');
  assert.equal(first.eventSourceARN, 'arn:aws:sqs:eu-west-1:000000000000:orders');
  assert.equal(first.awsRegion, 'eu-west-1');
  assert.equal(first.attributes.SentTimestamp, '1700000000000');
  assert.equal(second.attributes.ApproximateReceiveCount, '3');
  assert.equal(second.attributes.MessageGroupId, 'g');
  assert.ok(seen.remaining > 0);
  assert.ok(lines.some(([level, text]) => level === 'info' && text === 'got 2'));
  await assert.rejects(lambda.sqs(() => { throw new TypeError('bad'); })([message('m-1', '{}')]), { tag: 'failed', val: 'TypeError: bad' });
});

test('md5 is MD5, for any text', () => {
  for (const text of ['', 'a', 'é and 日本', 'x'.repeat(1000)]) {
    assert.equal(md5(text), createHash('md5').update(text).digest('hex'));
  }
});

function catching(call) {
  try {
    call();
  } catch (err) {
    return err;
  }
  assert.fail('it did not throw');
}

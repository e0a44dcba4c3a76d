// A local stand-in for Azure Service Bus that the unmodified azservicebus SDK (v1.11.0) talks to
// through an emulator connection string (UseDevelopmentEmulator=true: plain AMQP, SASL ANONYMOUS,
// CBS put-token). What the SDK needs from a server, and why rhea: docs/reference/servicebus-local.md
// in ../shared.
//
// Usage: node server.mjs --entities entities.json [--port 0] [--http-port 0]
// Prints one line once both listeners are up:
//   LISTENING 127.0.0.1:<amqp port> http=127.0.0.1:<http port>
// GET /counters on the HTTP port answers {"<entity>": {accepted, deduplicated, delivered, completed,
// abandoned, lockExpired, deadLettered}} per queue, topic and subscription (subscriptions as
// "<topic>/Subscriptions/<name>"), so tests can assert "exactly one delivered"; GET /connections
// answers {"open": <open AMQP connections>}.
// GET /cbs answers {"putTokens": n}: CBS put-tokens answered since the start.
// Fault knobs: POST /detach?entity=<name> detaches every link attached to that queue, topic or
// subscription with amqp:link:detach-forced (as Service Bus does to an idle link; its receivers'
// locks stay held until they expire); POST /drop cuts every AMQP connection (connection loss).
//
// Everything is in memory: a restart forgets every message, as Microsoft's emulator does.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import rhea from 'rhea';
import { compileFilter } from './filter.mjs';

const { values: args } = parseArgs({
  options: {
    entities: { type: 'string' },
    port: { type: 'string', default: '0' },
    'http-port': { type: 'string', default: '0' },
  },
});
if (!args.entities) {
  console.error('--entities <file> is required');
  process.exit(2);
}

const types = rhea.types;
const DLQ = '/$deadletterqueue';

// Per-entity counters; every entity starts with all of them at zero so a reader can tell "none"
// from "no such entity".
function newCounters() {
  return { accepted: 0, deduplicated: 0, delivered: 0, completed: 0, abandoned: 0, lockExpired: 0, deadLettered: 0 };
}

// A queue of messages that receivers lock: a queue, a subscription, or a dead-letter queue.
class MessageQueue {
  constructor(name, { lockDurationSeconds = 60, maxDeliveryCount = 10 } = {}, dlq) {
    this.name = name;
    this.lockMs = lockDurationSeconds * 1000;
    this.maxDeliveryCount = maxDeliveryCount;
    this.dlq = dlq; // undefined for a dead-letter queue itself
    this.available = []; // records, in sequence order
    this.links = new Set(); // server sender links attached to this queue
    this.locks = new Map(); // lock token (hex) → held lock, for settlement over $management
    this.counters = newCounters();
  }

  enqueue(record) {
    this.available.push(record);
    this.available.sort((a, b) => a.seq - b.seq);
    this.pump();
  }

  // Hands available messages to receivers with credit.
  pump() {
    for (const link of this.links) {
      while (this.available.length && link.sendable()) {
        this.deliver(link, this.available.shift());
      }
    }
  }

  deliver(link, record) {
    const tag = randomBytes(16);
    const peekLock = link.local.attach.snd_settle_mode !== 1;
    const lockedUntil = new Date(Date.now() + this.lockMs);
    const out = Object.assign({}, record.message, {
      delivery_count: record.deliveryCount,
      message_annotations: Object.assign({}, record.message.message_annotations, {
        'x-opt-sequence-number': types.wrap_long(record.seq),
        'x-opt-enqueued-time': record.enqueuedTime,
        ...(peekLock ? { 'x-opt-locked-until': lockedUntil } : {}),
      }),
      ...(peekLock ? { delivery_annotations: { 'x-opt-lock-token': types.wrap_uuid(tag) } } : {}),
    });
    record.deliveryCount++;
    this.counters.delivered++;
    const delivery = link.send(out, tag);
    if (!peekLock) {
      this.counters.completed++; // ReceiveAndDelete: gone once sent
      return;
    }
    const lock = { record, link, token: tag.toString('hex'), timer: undefined, settled: false };
    lock.timer = setTimeout(() => this.release(lock, 'lockExpired'), this.lockMs);
    lock.timer.unref();
    delivery.lock = lock;
    link.locks.add(lock);
    this.locks.set(lock.token, lock);
  }

  // Ends a lock without giving the message back; false when it had ended already.
  unlock(lock) {
    if (lock.settled) return false;
    lock.settled = true;
    clearTimeout(lock.timer);
    lock.link.locks.delete(lock);
    this.locks.delete(lock.token);
    return true;
  }

  // Ends a lock: counter names why; the message goes back, or to the dead-letter queue when it
  // has used up its deliveries.
  release(lock, counter) {
    if (!this.unlock(lock)) return false;
    if (counter) this.counters[counter]++;
    if (counter && this.dlq && lock.record.deliveryCount >= this.maxDeliveryCount) {
      this.deadLetter(lock.record, 'MaxDeliveryCountExceeded', `Message could not be consumed after ${this.maxDeliveryCount} delivery attempts.`);
    } else {
      this.enqueue(lock.record);
    }
    return true;
  }

  complete(lock) {
    if (!this.unlock(lock)) return false;
    this.counters.completed++;
    return true;
  }

  // Dead-letters a locked message on the receiver's request (a rejected disposition, or
  // update-disposition suspended).
  reject(lock, reason, description) {
    if (!this.unlock(lock)) return false;
    if (this.dlq) this.deadLetter(lock.record, reason, description);
    return true;
  }

  deadLetter(record, reason, description) {
    this.counters.deadLettered++;
    const message = Object.assign({}, record.message, {
      application_properties: Object.assign({}, record.message.application_properties, {
        DeadLetterReason: String(reason ?? ''),
        DeadLetterErrorDescription: String(description ?? ''),
      }),
    });
    this.dlq.counters.accepted++;
    this.dlq.enqueue({ ...record, message, deliveryCount: 0 });
  }
}

// A queue or topic: what senders address. Duplicate detection is by MessageID over the window.
class Entity {
  constructor(name, spec, targets) {
    this.name = name;
    this.windowMs = spec.requiresDuplicateDetection ? spec.duplicateDetectionWindowSeconds * 1000 : 0;
    this.seen = new Map(); // message id → time it was accepted
    this.targets = targets; // [{queue, filter}]
    this.counters = newCounters();
    this.seq = 0;
  }

  accept(message) {
    const now = Date.now();
    const id = message.message_id === undefined ? undefined : String(message.message_id);
    if (this.windowMs && id !== undefined) {
      for (const [k, t] of this.seen) {
        if (now - t < this.windowMs) break; // insertion order is time order
        this.seen.delete(k);
      }
      if (this.seen.has(id)) {
        this.counters.deduplicated++;
        return;
      }
      this.seen.set(id, now);
    }
    this.counters.accepted++;
    const seq = ++this.seq;
    for (const { queue, filter } of this.targets) {
      if (queue !== this.queue) {
        if (!filter(message)) continue;
        queue.counters.accepted++;
      }
      queue.enqueue({ message, seq, enqueuedTime: new Date(now), deliveryCount: 0 });
    }
  }
}

// Builds the entities from the file: senders address entities (queues, topics), receivers address
// queues (queues, subscriptions, their dead-letter queues). Names are case-insensitive, as in
// Service Bus.
function loadEntities(path) {
  const spec = JSON.parse(readFileSync(path, 'utf8'));
  const entities = new Map();
  const queues = new Map();
  const counted = new Map(); // counter owner by display name
  const addQueue = (name, s) => {
    const dlq = new MessageQueue(name + '/$DeadLetterQueue');
    const q = new MessageQueue(name, s, dlq);
    queues.set(name.toLowerCase(), q);
    queues.set(name.toLowerCase() + DLQ, dlq);
    counted.set(q.name, q);
    counted.set(dlq.name, dlq);
    return q;
  };
  for (const s of spec.queues ?? []) {
    const q = addQueue(s.name, s);
    const e = new Entity(s.name, s, [{ queue: q }]);
    e.queue = q;
    e.counters = q.counters; // a queue is one entity: one set of counters
    entities.set(s.name.toLowerCase(), e);
  }
  for (const t of spec.topics ?? []) {
    const targets = (t.subscriptions ?? []).map((s) => ({
      queue: addQueue(`${t.name}/Subscriptions/${s.name}`, s),
      filter: compileFilter(s.sqlFilter ?? '1=1'),
    }));
    const e = new Entity(t.name, t, targets);
    entities.set(t.name.toLowerCase(), e);
    counted.set(t.name, e);
  }
  return { entities, queues, counted };
}

const { entities, queues, counted } = loadEntities(args.entities);

function addressOf(terminus) {
  return terminus && terminus.address !== undefined ? String(terminus.address) : '';
}

const MAX_MESSAGE_SIZE = 262144;
const BATCH_FORMAT = 0x80013700; // com.microsoft batched message format (azservicebus MessageBatch)

// Every transfer is settled explicitly below; rhea's default autoaccept would also accept a
// transfer that crossed our detach, which the client would then count as sent, and lose.
const container = rhea.create_container({ id: 'servicebus-standin', autoaccept: false });

// Open entity links (client senders to a queue or topic, client receivers of a queue or
// subscription) and open connections (from the peer's open until its close or the socket's end),
// for the fault knobs and GET /connections.
const entityLinks = new Set();
const connections = new Set();
container.on('connection_open', (context) => connections.add(context.connection));
container.on('connection_close', (context) => connections.delete(context.connection));
container.on('disconnected', (context) => connections.delete(context.connection));

// Every attach is answered with the client's own settle modes: go-amqp refuses any other.
function echoAttach(link) {
  // An absent mode stays absent (the default, mixed or first): rhea would write undefined
  // as a null the client reads as a mismatch.
  for (const mode of ['snd_settle_mode', 'rcv_settle_mode']) {
    if (link.remote.attach[mode] !== undefined) link.local.attach[mode] = link.remote.attach[mode];
  }
  // Only the addresses: rhea decodes an empty terminus as a list of nulls that it would write
  // back with too many fields.
  const address = (t) => (t?.address == null ? {} : { address: String(t.address) });
  link.set_source(address(link.remote.attach.source));
  link.set_target(address(link.remote.attach.target));
}

// Client senders: to $cbs, to <entity>/$management, or to an entity.
container.on('receiver_open', (context) => {
  const link = context.receiver;
  echoAttach(link);
  const target = addressOf(link.remote.attach.target).toLowerCase();
  if (target === '$cbs' || target.endsWith('/$management')) {
    link.rpc = true;
    // The queue or subscription whose locks update-disposition settles (undefined for a topic's
    // or an unknown entity's management node: none of its lock tokens is held).
    link.managed = queues.get(target.slice(0, -'/$management'.length));
    return;
  }
  const entity = entities.get(target);
  if (!entity) {
    link.close({ condition: 'amqp:not-found', description: `no entity ${target} in the stand-in's entities file` });
    return;
  }
  link.entity = entity;
  entityLinks.add(link);
  // As Service Bus Standard does (256 KB): the SDK sizes a MessageBatch by it and reads an
  // absent or 0 size (unlimited in AMQP) as a batch that holds nothing.
  link.local.attach.max_message_size = MAX_MESSAGE_SIZE;
});

// Client receivers: RPC reply links (their target is the request's reply-to), or a queue.
container.on('sender_open', (context) => {
  const link = context.sender;
  echoAttach(link);
  link.locks = new Set();
  const source = addressOf(link.remote.attach.source).toLowerCase();
  if (source === '$cbs' || source.endsWith('/$management')) {
    const replies = (context.connection.replyLinks ??= new Map());
    replies.set(addressOf(link.remote.attach.target), link);
    return;
  }
  const queue = queues.get(source);
  if (!queue) {
    link.close({ condition: 'amqp:not-found', description: `no queue or subscription ${source} in the stand-in's entities file` });
    return;
  }
  link.queue = queue;
  queue.links.add(link);
  entityLinks.add(link);
  (context.connection.queueLinks ??= new Set()).add(link);
});

container.on('message', (context) => {
  const link = context.receiver;
  const msg = context.message;
  // A transfer that crossed our detach on the wire is not taken: the client learns of the detach
  // and sends again on a new link, as it does with Service Bus.
  if (!link.state.local_open) return;
  if (link.rpc) {
    context.delivery.update(true, rhea.message.accepted().described());
    const reply = context.connection.replyLinks?.get(String(msg.reply_to));
    const put = msg.application_properties?.operation === 'put-token';
    if (put && reply) cbsPutTokens++;
    // The SDK wants an int32 status-code and the request's message-id as a string
    // correlation-id (azservicebus internal/rpc.go).
    const { status, description, condition, body } = put
      ? { status: 202, description: 'Accepted' }
      : manage(link.managed, msg);
    reply?.send({
      correlation_id: String(msg.message_id),
      application_properties: {
        'status-code': types.wrap_int(status),
        'status-description': description,
        ...(condition ? { 'error-condition': condition } : {}),
      },
      body: put ? undefined : types.wrap_map(body ?? {}),
    });
    return;
  }
  // A MessageBatch arrives as one transfer of the Service Bus batch format whose data sections
  // each hold one encoded message; each is its own message (own MessageID, duplicate detection).
  // rhea hands a transfer of a non-zero message format over undecoded.
  let messages = [msg];
  if (context.format === BATCH_FORMAT) {
    const body = rhea.message.decode(msg).body;
    messages = (body?.multiple ? body.content : [body?.content]).map((part) => rhea.message.decode(part));
  }
  // A batch with one bad message is refused whole, as Service Bus refuses it.
  const refusal = refuse(context.format === BATCH_FORMAT ? msg.length : rhea.message.encode(msg).length, messages);
  if (refusal) {
    context.delivery.update(true, rhea.message.rejected({ error: refusal }).described());
    return;
  }
  for (const m of messages) link.entity.accept(m);
  context.delivery.update(true, rhea.message.accepted().described());
});

// Service Bus refuses a MessageId over 128 characters ("Maximum size of a message ID: 128",
// https://learn.microsoft.com/azure/service-bus-messaging/service-bus-quotas, common limits);
// azservicebus does not check it, so a stand-in that took it would hide the fault. The
// condition is amqp:invalid-field (the AMQP error for a bad field; what the service itself
// sends is not documented).
const MAX_MESSAGE_ID = 128;

// Returns the AMQP error for a transfer of size bytes holding messages that Service Bus would
// refuse, or undefined. go-amqp checks the size itself against the max-message-size the entity
// link advertises, so the size check guards other clients.
function refuse(size, messages) {
  if (size > MAX_MESSAGE_SIZE) {
    return { condition: 'amqp:link:message-size-exceeded', description: `The message is ${size} bytes; the maximum is ${MAX_MESSAGE_SIZE}.` };
  }
  for (const m of messages) {
    const id = m.message_id;
    if (typeof id === 'string' && [...id].length > MAX_MESSAGE_ID) {
      return { condition: 'amqp:invalid-field', description: `The MessageId is ${[...id].length} characters; the maximum is ${MAX_MESSAGE_ID}.` };
    }
  }
  return undefined;
}

// Answers a request on <entity>/$management (queue: the entity's queue or subscription, if any)
// with {status, description, condition, body}. Only update-disposition is implemented; every
// other operation answers 501, so a caller never takes an ignored request for a done one.
function manage(queue, msg) {
  const operation = String(msg.application_properties?.operation ?? '');
  if (operation !== 'com.microsoft:update-disposition') {
    return { status: 501, condition: 'amqp:not-implemented', description: `The stand-in does not implement the management operation ${operation || '(none)'}.` };
  }
  return updateDisposition(queue, msg.body ?? {});
}

// Settles messages by lock token, as the SDK does over $management when the receive link is
// gone (azservicebus internal/mgmt.go SettleOnMgmtLink: lock-tokens, disposition-status,
// deadletter-reason, deadletter-description). A token whose lock is not held (expired, settled,
// or never given) answers 410 com.microsoft:message-lock-lost, which the SDK reports as
// CodeLockLost (internal/errors.go isLockLostError, internal/rpc_sb.go RPCResponseCodeLockLost);
// then nothing is settled. properties-to-modify is ignored, as on the receive link.
function updateDisposition(queue, body) {
  const status = body['disposition-status'];
  const tokens = body['lock-tokens'];
  if (status === 'defered') {
    return { status: 501, condition: 'amqp:not-implemented', description: 'The stand-in does not implement deferred messages.' };
  }
  if (!['completed', 'abandoned', 'suspended'].includes(status) || !Array.isArray(tokens) || !tokens.length) {
    return { status: 400, condition: 'amqp:invalid-field', description: 'update-disposition needs lock-tokens and a disposition-status of completed, abandoned, suspended or defered.' };
  }
  const locks = tokens.map((t) => (Buffer.isBuffer(t) ? queue?.locks.get(t.toString('hex')) : undefined));
  if (locks.some((lock) => !lock)) {
    return { status: 410, condition: 'com.microsoft:message-lock-lost', description: 'The lock supplied is invalid: it expired, or the message was already settled.' };
  }
  for (const lock of locks) {
    if (status === 'completed') queue.complete(lock);
    else if (status === 'abandoned') queue.release(lock, 'abandoned');
    else queue.reject(lock, body['deadletter-reason'], body['deadletter-description']);
  }
  return { status: 200, description: 'OK' };
}

// Settlements from client receivers; every one is settled back (rcv-settle-mode second). A
// settlement of a message whose lock has gone (expired, or already settled) is refused the way
// Service Bus refuses it, so the SDK reports ErrLockLost.
const lockLost = rhea.message.rejected({
  error: { condition: 'com.microsoft:message-lock-lost', description: 'The lock on the message has expired or was already released.' },
}).described();
function settle(context, apply) {
  const lock = context.delivery.lock;
  // A disposition that crossed our detach (dispositions travel on the session) is not taken:
  // the client has seen the detach and settles over $management instead.
  if (lock?.link.keepLocks) return;
  if (lock && !lock.settled) {
    apply(lock.link.queue, lock);
    context.delivery.update(true);
    return;
  }
  context.delivery.update(true, lock ? lockLost : undefined);
}
container.on('accepted', (context) => settle(context, (q, lock) => q.complete(lock)));
// modified (azservicebus's AbandonMessage) arrives here too: rhea's senders treat modified as
// released. Service Bus counts both as an abandon.
container.on('released', (context) => settle(context, (q, lock) => q.release(lock, 'abandoned')));
container.on('rejected', (context) =>
  settle(context, (q, lock) => {
    const info = context.delivery.remote_state?.error?.info ?? {};
    q.reject(lock, info.DeadLetterReason, info.DeadLetterErrorDescription);
  }),
);

container.on('sendable', (context) => context.sender.queue?.pump());
// A drain (the SDK's ReceiveMessages ending with credit left) gets what is there, then the rest
// of the credit back.
container.on('sender_draining', (context) => {
  context.sender.queue?.pump();
  context.sender.set_drained(true);
});

// A closed link or connection gives its locked messages back, as an expired lock would; a link
// the stand-in detached keeps them until they expire (see detachEntity).
function dropLink(link) {
  if (!link.locks) return;
  link.queue?.links.delete(link);
  if (link.keepLocks) return;
  for (const lock of [...link.locks]) lock.link.queue.release(lock, 'lockExpired');
}
container.on('sender_close', (context) => dropLink(context.sender));
container.on('session_close', (context) => {
  for (const link of Object.values(context.session.links ?? {})) dropLink(link);
});
container.on('disconnected', (context) => {
  for (const link of context.connection.queueLinks ?? []) dropLink(link);
});
container.on('error', (err) => console.error('stand-in error:', err?.message ?? err));

// put-tokens answered, every one of them (the SDK sends one per claim and again as tokens
// refresh), for GET /cbs.
let cbsPutTokens = 0;

// Detaches every open link of the named queue, topic or subscription (names are
// case-insensitive) with the error Service Bus gives an idle link; the SDK must recover on its
// next call. A detached receive link's locks stay held until they expire, as with Service Bus:
// the message is not redelivered early, and the SDK can still settle it by lock token over
// $management. Returns how many links were detached.
function detachEntity(name) {
  const key = name.toLowerCase();
  let n = 0;
  for (const link of [...entityLinks]) {
    if (!link.is_open()) {
      entityLinks.delete(link);
      continue;
    }
    const owner = (link.entity ?? link.queue).name.toLowerCase();
    if (owner !== key) continue;
    entityLinks.delete(link);
    link.keepLocks = true;
    dropLink(link);
    link.close({ condition: 'amqp:link:detach-forced', description: `The link was detached by the stand-in (POST /detach?entity=${name}).` });
    n++;
  }
  return n;
}

// Cuts every AMQP connection without a close frame, as a network failure or a service restart
// would. Returns how many connections were cut.
function dropConnections() {
  const n = connections.size;
  for (const connection of connections) connection.socket?.destroy();
  connections.clear();
  return n;
}

function counters() {
  return Object.fromEntries([...counted].map(([name, owner]) => [name, owner.counters]));
}

// GET /connections answers {"open": n}, so tests can tell that a client closed its connection.
function openConnections() {
  return { open: connections.size };
}

const httpServer = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/counters') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(counters()));
    return;
  }
  if (req.method === 'GET' && req.url === '/connections') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(openConnections()));
    return;
  }
  if (faultKnob(req, res)) return;
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('GET /counters, GET /connections, GET /cbs, POST /detach?entity=<name>, POST /drop\n');
});

// Answers GET /cbs, POST /detach and POST /drop; false for any other request.
function faultKnob(req, res) {
  const url = new URL(req.url, 'http://localhost');
  const json = (status, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'GET' && url.pathname === '/cbs') {
    json(200, { putTokens: cbsPutTokens });
  } else if (req.method === 'POST' && url.pathname === '/detach') {
    const entity = url.searchParams.get('entity');
    if (!entity) json(400, { error: 'POST /detach needs ?entity=<queue, topic or subscription>' });
    else if (!entities.has(entity.toLowerCase()) && !queues.has(entity.toLowerCase())) json(404, { error: `no entity ${entity}` });
    else json(200, { detached: detachEntity(entity) });
  } else if (req.method === 'POST' && url.pathname === '/drop') {
    json(200, { dropped: dropConnections() });
  } else {
    return false;
  }
  return true;
}

const amqpServer = container.listen({ host: '127.0.0.1', port: Number(args.port) });
const listening = (server) => new Promise((resolve, reject) => {
  server.once('listening', resolve);
  server.once('error', reject);
});
httpServer.listen(Number(args['http-port']), '127.0.0.1');
try {
  await Promise.all([listening(amqpServer), listening(httpServer)]);
} catch (err) {
  console.error(`cannot listen: ${err.message}`);
  process.exit(1);
}
console.log(`LISTENING 127.0.0.1:${amqpServer.address().port} http=127.0.0.1:${httpServer.address().port}`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}

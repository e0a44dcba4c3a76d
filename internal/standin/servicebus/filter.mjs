// Subscription SQL filters: the part of Service Bus's SQL filter grammar that infra/ uses and
// that a downstream subscription is likely to: application properties (bare, [bracketed] or
// user.-prefixed) and sys. properties compared with =, <>, !=, <, <=, >, >= to strings, numbers,
// TRUE/FALSE and NULL; IS [NOT] NULL; AND, OR, NOT and parentheses. Keywords are
// case-insensitive.
//
// Unknown (a missing property, or a comparison of different types) follows SQL's three-valued
// logic: the filter matches only when the whole expression is TRUE. compileFilter throws on
// anything outside the grammar, so the stand-in refuses an entities file it would misread.

// sys. property name (lower case) → field of a decoded rhea message.
const SYSTEM = {
  messageid: 'message_id',
  correlationid: 'correlation_id',
  contenttype: 'content_type',
  label: 'subject',
  subject: 'subject',
  to: 'to',
  replyto: 'reply_to',
  sessionid: 'group_id',
  replytosessionid: 'reply_to_group_id',
};

function tokenize(text) {
  const tokens = [];
  const re = /\s*(?:('(?:[^']|'')*')|(\d+(?:\.\d+)?)|(<>|!=|<=|>=|=|<|>|\(|\))|(\[[^\]]+\]|[A-Za-z_][\w.]*))/y;
  let pos = 0;
  while (pos < text.length) {
    if (/^\s*$/.test(text.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new Error(`SQL filter ${JSON.stringify(text)}: cannot read at ${pos}`);
    pos = re.lastIndex;
    if (m[1] !== undefined) tokens.push({ kind: 'lit', value: m[1].slice(1, -1).replaceAll("''", "'") });
    else if (m[2] !== undefined) tokens.push({ kind: 'lit', value: Number(m[2]) });
    else if (m[3] !== undefined) tokens.push({ kind: 'op', value: m[3] });
    else tokens.push({ kind: 'word', value: m[4] });
  }
  return tokens;
}

// compileFilter parses expression and returns message → boolean (true only when it matches).
export function compileFilter(expression) {
  const tokens = tokenize(expression);
  let i = 0;
  const fail = (what) => {
    throw new Error(`SQL filter ${JSON.stringify(expression)}: ${what} at token ${i}`);
  };
  const peekWord = (w) => tokens[i]?.kind === 'word' && tokens[i].value.toUpperCase() === w;
  const peekOp = (o) => tokens[i]?.kind === 'op' && tokens[i].value === o;

  // left (WORD right)*, folded with combine over three-valued results (null = unknown).
  const chain = (word, operand, combine) => () => {
    let left = operand();
    while (peekWord(word)) {
      i++;
      const l = left, r = operand();
      left = (m) => combine(l(m), r(m));
    }
    return left;
  };
  const and = chain('AND', () => not(), (a, b) => (a === false || b === false ? false : a === null || b === null ? null : true));
  const or = chain('OR', and, (a, b) => (a === true || b === true ? true : a === null || b === null ? null : false));
  const not = () => {
    if (peekWord('NOT')) {
      i++;
      const inner = not();
      return (m) => {
        const v = inner(m);
        return v === null ? null : !v;
      };
    }
    return comparison();
  };
  const comparison = () => {
    const left = operand();
    if (peekWord('IS')) {
      i++;
      const negate = peekWord('NOT') && ++i;
      if (!peekWord('NULL')) fail('expected NULL');
      i++;
      return (m) => (left(m) === null) !== Boolean(negate);
    }
    const op = tokens[i]?.kind === 'op' && ['=', '<>', '!=', '<', '<=', '>', '>='].includes(tokens[i].value) ? tokens[i++].value : undefined;
    if (!op) return (m) => { const v = left(m); return typeof v === 'boolean' ? v : null; };
    const right = operand();
    return (m) => compare(op, left(m), right(m));
  };
  const operand = () => {
    const t = tokens[i++];
    if (!t) fail('unexpected end');
    if (t.kind === 'lit') return () => t.value;
    if (t.kind === 'op' && t.value === '(') {
      const inner = or();
      if (!peekOp(')')) fail('expected )');
      i++;
      return inner;
    }
    if (t.kind !== 'word') fail(`unexpected ${t.value}`);
    const upper = t.value.toUpperCase();
    if (upper === 'TRUE' || upper === 'FALSE') return () => upper === 'TRUE';
    if (upper === 'NULL') return () => null;
    if (['AND', 'OR', 'NOT', 'IS'].includes(upper)) fail(`unexpected ${t.value}`);
    return property(t.value);
  };

  const matcher = or();
  if (i !== tokens.length) fail('unexpected text');
  return (message) => matcher(message) === true;
}

function property(name) {
  let key = name.startsWith('[') ? name.slice(1, -1) : name;
  const lower = key.toLowerCase();
  if (lower.startsWith('sys.')) {
    const field = SYSTEM[lower.slice(4)];
    if (!field) throw new Error(`SQL filter: unsupported system property ${name}`);
    return (m) => normalize(m[field]);
  }
  if (lower.startsWith('user.')) key = key.slice(5);
  return (m) => normalize(m.application_properties?.[key]);
}

function normalize(v) {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('hex');
  return v;
}

function compare(op, a, b) {
  if (a === null || b === null || typeof a !== typeof b) return null;
  switch (op) {
    case '=': return a === b;
    case '<>':
    case '!=': return a !== b;
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    default: return a >= b;
  }
}

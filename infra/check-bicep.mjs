#!/usr/bin/env node
// Offline Bicep syntax check: no Bicep compiler runs here (functions-custom-handler.md §13), so
// parse every file with tree-sitter-bicep and report ERROR and MISSING nodes as file:line:col.
// Syntax only: types, symbols, property names and API versions need `bicep build` or what-if.
//
//   node infra/check-bicep.mjs [--json] FILE|DIR...
//
// Directories are searched for *.bicep and *.bicepparam. Exit 0 when every file parses, 1 when
// one does not, 2 on a usage or I/O error. --json also prints, on stdout, a model of each file's
// declarations (params with their decorators' arguments, vars, resources, modules, outputs) for
// the policy tests in infra/*_test.go: objects and arrays become JSON, literals their values,
// anything else {"$expr": "<source>"} (plus "$parts" for interpolated strings and "$ternary" for
// c ? a : b).

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Language, Parser } from 'web-tree-sitter';

const require = createRequire(import.meta.url);

function usage(message) {
  process.stderr.write(`check-bicep: ${message}\nusage: node check-bicep.mjs [--json] FILE|DIR...\n`);
  process.exit(2);
}

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name !== 'node_modules' && !name.startsWith('.')) {
        const child = join(path, name);
        if (statSync(child).isDirectory() || /\.bicep(param)?$/.test(name)) collect(child, out);
      }
    }
  } else {
    out.push(path);
  }
}

// syntaxErrors walks only the subtrees that contain an error.
function syntaxErrors(node, out) {
  if (node.isMissing) {
    out.push({ ...position(node), message: `missing ${JSON.stringify(node.type)}` });
  } else if (node.isError) {
    const text = node.text.split('\n')[0].slice(0, 40);
    out.push({ ...position(node), message: `syntax error at ${JSON.stringify(text)}` });
  }
  for (const child of node.children) {
    if (child.hasError || child.isMissing) syntaxErrors(child, out);
  }
  return out;
}

function position(node) {
  return { line: node.startPosition.row + 1, column: node.startPosition.column + 1 };
}

const named = (node) => node.namedChildren.filter((c) => c.type !== 'comment' && c.type !== 'diagnostic_comment');

function stringValue(node) {
  const parts = [];
  let interpolated = false;
  for (const c of node.namedChildren) {
    if (c.type === 'string_content') parts.push(c.text);
    else if (c.type === 'escape_sequence') parts.push(unescape(c.text));
    else if (c.type === 'interpolation') {
      interpolated = true;
      parts.push({ $expr: named(c).map((e) => e.text).join('') });
    }
  }
  if (!interpolated) return parts.join('');
  return { $expr: node.text, $parts: parts };
}

function unescape(seq) {
  const map = { "\\'": "'", '\\\\': '\\', '\\n': '\n', '\\r': '\r', '\\t': '\t', '\\$': '$' };
  if (seq in map) return map[seq];
  const u = /^\\u\{([0-9a-fA-F]+)\}$/.exec(seq);
  return u ? String.fromCodePoint(parseInt(u[1], 16)) : seq;
}

// value turns an expression into JSON. Nested resources found in objects go to nested.
function value(node, nested) {
  switch (node.type) {
    case 'object': {
      const obj = {};
      for (const prop of named(node)) {
        if (prop.type !== 'object_property') continue;
        const [key, val] = named(prop);
        if (key.type === 'resource_declaration') {
          nested.push(key);
          continue;
        }
        obj[key.type === 'string' ? stringValue(key) : key.text] = val ? value(val, nested) : null;
      }
      return obj;
    }
    case 'array':
      return named(node).map((c) => value(c, nested));
    case 'string':
      return stringValue(node);
    case 'number':
      return Number(node.text);
    case 'boolean':
      return node.text === 'true';
    case 'null':
      return null;
    case 'ternary_expression':
      return {
        $expr: node.text,
        $ternary: ['condition', 'consequence', 'alternative'].map((f) => value(node.childForFieldName(f), nested)),
      };
    default:
      return { $expr: node.text };
  }
}

function decoratorNames(node) {
  return decorators(node).map((d) => d.name);
}

// decorators lists a declaration's decorators with their arguments as JSON (@maxValue(10080) is
// {name: 'maxValue', args: [10080]}), so the policy tests can read bounds.
function decorators(node) {
  const prev = node.previousNamedSibling;
  if (!prev || prev.type !== 'decorators') return [];
  return named(prev).map((d) => {
    const call = named(d)[0]; // @secure() is a call; a bare @name is not
    const args = call?.childForFieldName('arguments');
    return {
      name: call?.childForFieldName('function')?.text ?? call?.text,
      args: args ? named(args).map((a) => value(a, [])) : [],
    };
  });
}

function decoratorArgs(node) {
  return Object.fromEntries(decorators(node).map((d) => [d.name, d.args]));
}

// body reads the `= ...` part of a resource or module: an object, `if (c) {…}` or `[for x in y: {…}]`
// (loop is then the source of y).
function body(node, nested) {
  const out = { condition: null, loop: null, body: null };
  let b = named(node).at(-1);
  if (b.type === 'for_statement') {
    const parts = named(b);
    out.loop = parts.at(-2).text; // what it iterates over
    b = parts.at(-1);
  }
  if (b.type === 'if_statement') {
    const [cond, obj] = named(b);
    out.condition = cond.text;
    b = obj;
  }
  out.body = b.type === 'object' ? value(b, nested) : { $expr: b.text };
  return out;
}

function resource(node, parent, out) {
  const ids = named(node);
  const symbol = ids[0].text;
  let type = stringValue(ids[1]);
  if (parent) {
    // A nested resource names its type relative to the parent and inherits the API version.
    const [parentType, apiVersion] = parent.type.split('@');
    type = type.includes('@') ? `${parentType}/${type}` : `${parentType}/${type}@${apiVersion}`;
  }
  const existing = node.children.some((c) => c.type === 'existing');
  const nested = [];
  const res = { symbol, type, existing, parent: parent?.symbol ?? null, line: position(node).line, ...body(node, nested) };
  out.push(res);
  for (const n of nested) resource(n, res, out);
}

function model(path, root) {
  const m = { path, params: {}, vars: {}, resources: [], modules: [], outputs: [] };
  for (const decl of named(root)) {
    const ids = named(decl);
    switch (decl.type) {
      case 'parameter_declaration':
        m.params[ids[0].text] = {
          type: ids[1]?.text ?? null,
          default: ids.length > 2 ? value(ids[2], []) : null,
          hasDefault: ids.length > 2,
          decorators: decoratorNames(decl),
          decoratorArgs: decoratorArgs(decl),
        };
        break;
      case 'variable_declaration':
        m.vars[ids[0].text] = value(ids.at(-1), []);
        break;
      case 'resource_declaration':
        resource(decl, null, m.resources);
        break;
      case 'module_declaration':
        m.modules.push({ symbol: ids[0].text, path: stringValue(ids[1]), line: position(decl).line, ...body(decl, []) });
        break;
      case 'output_declaration':
        m.outputs.push({
          name: ids[0].text,
          type: ids[1].text,
          value: value(ids.at(-1), []),
          decorators: decoratorNames(decl),
          line: position(decl).line,
        });
        break;
    }
  }
  return m;
}

const args = process.argv.slice(2);
const json = args[0] === '--json';
const paths = json ? args.slice(1) : args;
if (paths.length === 0) usage('no files');

const files = [];
try {
  for (const p of paths) collect(p, files);
} catch (err) {
  usage(err.message);
}
if (files.length === 0) usage(`no .bicep files in ${paths.join(' ')}`);

await Parser.init();
const language = await Language.load(require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm'));
const parser = new Parser();
parser.setLanguage(language);

let failed = false;
const models = [];
for (const file of files) {
  let source;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    usage(err.message);
  }
  const tree = parser.parse(source);
  const errors = tree.rootNode.hasError ? syntaxErrors(tree.rootNode, []) : [];
  for (const e of errors) process.stderr.write(`${file}:${e.line}:${e.column}: ${e.message}\n`);
  failed ||= errors.length > 0;
  if (json) models.push({ ...model(file, tree.rootNode), errors });
  tree.delete();
}
if (json) process.stdout.write(JSON.stringify({ files: models }) + '\n');
// exitCode, not exit(): exit() would cut a large --json write to a pipe short.
process.exitCode = failed ? 1 : 0;

/**
 * A small schema language for the YAML config: each field validates `unknown` into a typed value,
 * collects every problem with its key path (so one run reports all of them), and carries a one-line
 * description from which the README's config reference is generated.
 */
export interface Issue {
  readonly path: string;
  readonly message: string;
}

export interface Field<T> {
  readonly kind: string;
  readonly doc: string;
  /** Default used when the key is absent; undefined = required (or optional, see `optional`). */
  readonly fallback?: () => T;
  readonly optional?: boolean;
  parse(value: unknown, path: string, issues: Issue[]): T | undefined;
  /** Nested fields for the reference table. */
  readonly children?: Readonly<Record<string, Field<unknown>>>;
  readonly element?: Field<unknown>;
}

type Shape = Record<string, Field<unknown>>;
export type Infer<F> = F extends Field<infer T> ? T : never;
type InferShape<S extends Shape> = { -readonly [K in keyof S]: Infer<S[K]> };

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return Array.isArray(v) ? 'a list' : 'a mapping';
  return String(v);
}

function base<T>(kind: string, doc: string, check: (v: unknown, path: string, issues: Issue[]) => T | undefined): Field<T> {
  return { kind, doc, parse: check };
}

export function str(doc: string, opts: { pattern?: RegExp; patternText?: string; minLength?: number } = {}): Field<string> {
  return base('string', doc, (v, path, issues) => {
    if (typeof v !== 'string') return void issues.push({ path, message: `got ${show(v)}, expected a string` });
    if (opts.minLength !== undefined && v.length < opts.minLength) return void issues.push({ path, message: `got ${show(v)}, expected at least ${opts.minLength} characters` });
    if (opts.pattern && !opts.pattern.test(v)) return void issues.push({ path, message: `got ${show(v)}, expected ${opts.patternText ?? opts.pattern.source}` });
    return v;
  });
}

export function int(doc: string, min: number, max: number): Field<number> {
  return base(`integer ${min}..${max}`, doc, (v, path, issues) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) return void issues.push({ path, message: `got ${show(v)}, expected an integer` });
    if (v < min || v > max) return void issues.push({ path, message: `got ${v}, expected ${min}..${max}` });
    return v;
  });
}

export function bool(doc: string): Field<boolean> {
  return base('boolean', doc, (v, path, issues) => {
    if (typeof v !== 'boolean') return void issues.push({ path, message: `got ${show(v)}, expected true or false` });
    return v;
  });
}

export function oneOf<const T extends string>(doc: string, values: readonly T[]): Field<T> {
  return base(values.join(' \\| '), doc, (v, path, issues) => {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      return void issues.push({ path, message: `got ${show(v)}, expected one of ${values.join(', ')}` });
    }
    return v as T;
  });
}

export function list<T>(doc: string, element: Field<T>, opts: { minLength?: number } = {}): Field<T[]> {
  return {
    kind: 'list',
    doc,
    element: element as Field<unknown>,
    parse(v, path, issues) {
      if (!Array.isArray(v)) return void issues.push({ path, message: `got ${show(v)}, expected a list` });
      if (opts.minLength !== undefined && v.length < opts.minLength) return void issues.push({ path, message: `expected at least ${opts.minLength} entries` });
      const out: T[] = [];
      v.forEach((item: unknown, i) => {
        const r = element.parse(item, `${path}[${i}]`, issues);
        if (r !== undefined) out.push(r);
      });
      return out;
    },
  };
}

export function record<T>(doc: string, element: Field<T>): Field<Record<string, T>> {
  return {
    kind: 'mapping',
    doc,
    element: element as Field<unknown>,
    parse(v, path, issues) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return void issues.push({ path, message: `got ${show(v)}, expected a mapping` });
      const out: Record<string, T> = {};
      for (const [k, item] of Object.entries(v)) {
        const r = element.parse(item, `${path}.${k}`, issues);
        if (r !== undefined) out[k] = r;
      }
      return out;
    },
  };
}

export function obj<S extends Shape>(doc: string, shape: S): Field<InferShape<S>> {
  return {
    kind: 'mapping',
    doc,
    children: shape,
    parse(v, path, issues) {
      const value = v === undefined || v === null ? {} : v;
      if (typeof value !== 'object' || Array.isArray(value)) return void issues.push({ path, message: `got ${show(v)}, expected a mapping` });
      const input = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      const before = issues.length;
      for (const key of Object.keys(input)) {
        if (!(key in shape)) {
          issues.push({ path: join(path, key), message: `unknown key (expected one of ${Object.keys(shape).join(', ')})` });
        }
      }
      for (const [key, field] of Object.entries(shape)) {
        const p = join(path, key);
        if (!(key in input) || input[key] === undefined) {
          if (field.fallback) out[key] = field.fallback();
          else if (!field.optional) issues.push({ path: p, message: `missing, expected ${field.kind}` });
          continue;
        }
        const r = field.parse(input[key], p, issues);
        if (r !== undefined) out[key] = r;
      }
      return issues.length === before ? (out as InferShape<S>) : (out as InferShape<S>);
    },
  };
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export function withDefault<T>(field: Field<T>, value: T | (() => T)): Field<T> {
  const fallback = typeof value === 'function' ? (value as () => T) : () => structuredClone(value);
  return { ...field, fallback, parse: field.parse.bind(field) };
}

export function optional<T>(field: Field<T>): Field<T | undefined> {
  return { ...field, optional: true, parse: field.parse.bind(field) };
}

/** Adds a cross-field check run after the field parsed. */
export function refine<T>(field: Field<T>, check: (value: T, path: string, issues: Issue[]) => void): Field<T> {
  return {
    ...field,
    parse(v, path, issues) {
      const before = issues.length;
      const r = field.parse(v, path, issues);
      if (r !== undefined && issues.length === before) check(r, path, issues);
      return r;
    },
  };
}

/** Rows for the README's config reference: key path, type, default, description. */
export function referenceRows(field: Field<unknown>, path = ''): { path: string; kind: string; fallback: string; doc: string }[] {
  const rows: { path: string; kind: string; fallback: string; doc: string }[] = [];
  const fb = field.fallback ? JSON.stringify(field.fallback()) : field.optional ? '(optional)' : '(required)';
  if (path !== '') rows.push({ path, kind: field.kind, fallback: fb.length > 60 ? '(see example)' : fb, doc: field.doc });
  if (field.children) for (const [k, f] of Object.entries(field.children)) rows.push(...referenceRows(f, join(path, k)));
  if (field.element && (field.element.children || field.element.element)) rows.push(...referenceRows(field.element, `${path}[]`).filter((r) => r.path !== `${path}[]`));
  return rows;
}

/** A section whose every key has a default: absent means all defaults. */
export function defaulted<T>(field: Field<T>): Field<T> {
  return withDefault(field, () => {
    const issues: Issue[] = [];
    const v = field.parse({}, '', issues);
    if (v === undefined || issues.length) throw new Error(`section "${field.doc}" has keys without defaults`);
    return v;
  });
}

/**
 * An `/invocations` request as MLflow's scoring server reads it (mlflow/pyfunc/scoring_server): its content type,
 * then a JSON object with exactly one of `dataframe_split`, `dataframe_records`, `instances`, `inputs` (other keys,
 * such as `params`, ignored), or a CSV table with a header row. The result says what the client sent: a table
 * (named or numbered columns), one unnamed tensor, or named tensors; the model's schema decides what becomes of it.
 */
import { parse as parseCsvText } from 'csv-parse/sync';
import { MlflowInputError, UnsupportedMediaTypeError } from '../errors.js';

export const INPUT_FIELDS = ['dataframe_split', 'dataframe_records', 'instances', 'inputs'] as const;

export type ScoringInput =
  /** Rows of a table; `columns` are its names, or undefined when the rows came unnamed. */
  | { kind: 'table'; columns?: string[]; rows: unknown[][] }
  /** One nested list: an unnamed tensor (or a table's rows, for a model that takes a table). */
  | { kind: 'tensor'; value: unknown[] }
  /** Values by name: a model's named inputs, or a table's columns. */
  | { kind: 'named'; values: Record<string, unknown> };

const MEDIA_TYPES = ['application/json', 'text/csv'];

/**
 * The content type's checks, in MLflow's order: only `charset=utf-8` as a parameter, then one of the media types
 * (compared as sent, as MLflow does). MLflow answers a request with no content type with a 500; here it is a 415.
 */
export function mediaTypeOf(header: string | undefined): 'application/json' | 'text/csv' {
  if (header === undefined || header.trim() === '')
    throw new UnsupportedMediaTypeError('the request has no Content-Type; send application/json or text/csv');
  const [type, ...params] = header.split(';').map((p) => p.trim());
  for (const param of params) {
    const [key, value = ''] = param.split('=').map((p) => p.trim());
    if (key.toLowerCase() === 'charset') {
      if (value.toLowerCase() !== 'utf-8')
        throw new UnsupportedMediaTypeError('The scoring server only supports UTF-8');
    } else if (key) {
      throw new UnsupportedMediaTypeError(`Unrecognized content type parameters: ${key}.`);
    }
  }
  if (!MEDIA_TYPES.includes(type)) {
    throw new UnsupportedMediaTypeError(
      `This predictor only supports the following content types: Types: ${JSON.stringify(MEDIA_TYPES)}. Got '${header}'.`,
    );
  }
  return type as 'application/json' | 'text/csv';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pythonType(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (value === null) return 'NoneType';
  return (
    { string: 'str', number: Number.isInteger(value) ? 'int' : 'float', boolean: 'bool', object: 'dict' }[
      typeof value as string
    ] ?? typeof value
  );
}

/** pandas.DataFrame(records): columns in the order they first appear; a missing value is null. */
function tableFromRecords(records: unknown[]): ScoringInput {
  if (records.every(Array.isArray)) {
    // Lists instead of records: pandas numbers the columns.
    const width = Math.max(0, ...records.map((r) => (r as unknown[]).length));
    return {
      kind: 'table',
      columns: Array.from({ length: width }, (_, i) => String(i)),
      rows: records.map((r) => Array.from({ length: width }, (_, i) => (r as unknown[])[i] ?? null)),
    };
  }
  const columns: string[] = [];
  for (const record of records) {
    if (!isObject(record))
      throw MlflowInputError.badRequest(
        `Invalid input. Dataframe records format must be a list of records. Got ${pythonType(record)} in the list.`,
      );
    for (const key of Object.keys(record)) if (!columns.includes(key)) columns.push(key);
  }
  return {
    kind: 'table',
    columns,
    rows: records.map((r) => columns.map((c) => (r as Record<string, unknown>)[c] ?? null)),
  };
}

function fromSplit(split: unknown): ScoringInput {
  if (!isObject(split))
    throw MlflowInputError.badRequest(
      `Invalid input. Dataframe split format must be a dictionary. Got ${pythonType(split)}.`,
    );
  if (!('data' in split))
    throw MlflowInputError.badRequest(
      `Invalid input. Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields. Got {${Object.keys(
        split,
      )
        .map((k) => `'${k}'`)
        .join(', ')}}.`,
    );
  const data = split.data;
  if (!Array.isArray(data))
    throw MlflowInputError.badRequest(
      "Invalid input. Provided dataframe_split field is not a valid dataframe representation in 'split' format. Error: 'data must be a list'",
    );
  const rows = data.map((r): unknown[] => (Array.isArray(r) ? r : [r]));
  const columns = Array.isArray(split.columns) ? split.columns.map(String) : undefined;
  const width = columns?.length ?? Math.max(0, ...rows.map((r) => r.length));
  if (rows.some((r) => r.length !== width)) {
    const bad = rows.find((r) => r.length !== width)!;
    throw MlflowInputError.badRequest(
      `Invalid input. Provided dataframe_split field is not a valid dataframe representation in 'split' format. Error: '${width} columns passed, passed data had ${bad.length} columns'`,
    );
  }
  return { kind: 'table', columns: columns ?? Array.from({ length: width }, (_, i) => String(i)), rows };
}

/** `instances` (TF serving's row format): a list of rows, or of records (then turned into named columns). */
function fromInstances(instances: unknown): ScoringInput {
  if (Array.isArray(instances) && instances.length > 0 && instances.every(isObject)) {
    const values: Record<string, unknown[]> = {};
    for (const record of instances) {
      for (const [k, v] of Object.entries(record)) (values[k] ??= []).push(v);
    }
    return { kind: 'named', values };
  }
  if (isObject(instances)) return { kind: 'named', values: instances };
  if (!Array.isArray(instances))
    throw MlflowInputError.badRequest(`Invalid input. The input must be a list. Got ${pythonType(instances)}.`);
  return { kind: 'tensor', value: instances };
}

/** `inputs` (TF serving's columnar format): a list (one unnamed tensor) or an object of named ones. */
function fromInputs(inputs: unknown): ScoringInput {
  if (isObject(inputs)) return { kind: 'named', values: inputs };
  if (!Array.isArray(inputs)) return { kind: 'tensor', value: [inputs] };
  return { kind: 'tensor', value: inputs };
}

const CSV_ERROR =
  'Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method.';

/**
 * A CSV table as pandas.read_csv reads it: the first row names the columns (an unnamed first one, a saved index, is
 * `Unnamed: 0`), an empty field is a missing value, a row longer than the header is refused.
 */
function parseCsv(text: string): ScoringInput {
  let records: string[][];
  try {
    records = parseCsvText(text, { relax_column_count: true, skip_empty_lines: true });
  } catch (err) {
    throw MlflowInputError.badRequest(`${CSV_ERROR} Error: '${(err as Error).message}'`);
  }
  const [header, ...data] = records;
  if (!header) throw MlflowInputError.badRequest(`${CSV_ERROR} Error: 'No columns to parse from file'`);
  const columns = header.map((h, i) => (h === '' ? `Unnamed: ${i}` : h));
  const rows = data.map((r) => {
    if (r.length > columns.length)
      throw MlflowInputError.badRequest(`${CSV_ERROR} Error: 'Expected ${columns.length} fields, saw ${r.length}'`);
    return columns.map((_, i) => (r[i] === undefined || r[i] === '' ? null : r[i]));
  });
  return { kind: 'table', columns, rows };
}

/** The body's text: UTF-8, with a byte-order mark ignored (Python's json.loads takes one). */
function bodyText(body: Buffer): string {
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  try {
    return text.decode(body);
  } catch (err) {
    throw MlflowInputError.badRequest(
      `Invalid input. Ensure that input is a valid JSON formatted string. Error: '${(err as Error).message}'`,
    );
  }
}

const NONFINITE = '\u0000bento-nonfinite:';

/** JSON as Python's json.loads reads it: NaN, Infinity and -Infinity are numbers there (bare tokens outside strings). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (!/NaN|Infinity/.test(text)) throw err;
    // Strings are matched first, so only the bare tokens become (marked) strings, and the reviver turns them back.
    const swapped = text.replace(
      /("(?:[^"\\]|\\.)*")|(-?Infinity|NaN)/g,
      (m, str: string | undefined) => str ?? JSON.stringify(NONFINITE + m),
    );
    return JSON.parse(swapped, (_k, v: unknown) =>
      typeof v === 'string' && v.startsWith(NONFINITE) ? Number(v.slice(NONFINITE.length)) : v,
    );
  }
}

/** Parses an /invocations body after its content type is checked. */
export function parseScoringRequest(body: Buffer, mediaType: 'application/json' | 'text/csv'): ScoringInput {
  const text = bodyText(body);
  if (mediaType === 'text/csv') return parseCsv(text);
  let json: unknown;
  try {
    json = parseJson(text);
  } catch (err) {
    throw MlflowInputError.badRequest(
      `Invalid input. Ensure that input is a valid JSON formatted string. Error: '${(err as Error).message}'`,
    );
  }
  if (!isObject(json)) {
    const got = Array.isArray(json) ? 'Received a list.' : `Received unexpected input type '${pythonType(json)}'.`;
    throw MlflowInputError.badRequest(
      `Invalid input. The input must be a JSON dictionary with exactly one of the input fields {${INPUT_FIELDS.map((f) => `'${f}'`).join(', ')}}. ${got}`,
    );
  }
  const given = INPUT_FIELDS.filter((f) => f in json);
  if (given.length !== 1) {
    throw MlflowInputError.badRequest(
      `The input must be a JSON dictionary with exactly one of the input fields {${INPUT_FIELDS.map((f) => `'${f}'`).join(', ')}}. Received dictionary with input fields: [${given.map((f) => `'${f}'`).join(', ')}].`,
    );
  }
  const value = json[given[0]];
  switch (given[0]) {
    case 'dataframe_split':
      return fromSplit(value);
    case 'dataframe_records':
      if (!Array.isArray(value))
        throw MlflowInputError.badRequest(
          `Invalid input. Dataframe records format must be a list of records. Got ${isObject(value) ? 'dictionary' : pythonType(value)}.`,
        );
      return tableFromRecords(value);
    case 'instances':
      return fromInstances(value);
    default:
      return fromInputs(value);
  }
}

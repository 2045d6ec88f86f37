// `verifyJwt` and `KeySet` (builds with verification). wasm does every check of the token and
// the keys (`__verifyBegin`, `KeySet#__begin`); this module reads the options, with the
// driver's readers and messages, and asks WebCrypto for the one signature check, chained in
// one Promise (no Rust future in between). The options cross into wasm as one JSON text that
// the core's strict reader takes apart, so no JS option reader is linked into wasm.
import { __verifyBegin, __verifyError, KeySet as Keys } from './tokenwarden.js';
import { invalid, opt, optionsObject } from './driver.js';
import { signatureVerdict } from './verdict.js';

const OPTIONS = ['algorithms', 'issuer', 'audience', 'subject', 'typ', 'clockTolerance', 'requiredClaims',
  'currentDate', 'maxTokenAge', 'allowSymmetricKeys', 'maxTokenLength', 'requireExp'];

/** A string or an array of strings, as a list. */
function strings(o, key) {
  const v = o[key];
  if (v === undefined) return [];
  if (typeof v === 'string') return [v];
  const list = Array.isArray(v) ? Array.from(v) : null;
  if (!list || list.some((x) => typeof x !== 'string')) {
    throw invalid(`option "${key}" must be a string or an array of strings`);
  }
  return list;
}

/** A number option as given, its range checked by the core: anything but a number is null. */
function num(o, key) {
  const v = o[key];
  return v === undefined || typeof v === 'number' ? v : null;
}

/** The verification options, their names and types checked, as the JSON text the wasm side
 * reads (and checks the ranges of). */
function verifyOptions(options) {
  const o = optionsObject(options, OPTIONS, 'verifyJwt options') ?? {};
  const explicit = o.algorithms !== undefined;
  const c = {
    a: explicit ? strings(o, 'algorithms') : undefined,
    i: strings(o, 'issuer'),
    u: strings(o, 'audience'),
    s: opt(o, 'subject', 'string'),
    t: opt(o, 'typ', 'string'),
    l: num(o, 'clockTolerance'),
    r: strings(o, 'requiredClaims'),
    m: num(o, 'maxTokenAge'),
    x: num(o, 'maxTokenLength'),
    e: opt(o, 'requireExp', 'boolean'),
    y: opt(o, 'allowSymmetricKeys', 'boolean'),
  };
  if (c.y && !explicit) {
    // HS* are never in the default list; a caller who allows secrets must say which.
    throw invalid('allowSymmetricKeys requires an explicit "algorithms" list');
  }
  let now = Date.now();
  const current = o.currentDate;
  if (current !== undefined) {
    now = current instanceof Date ? current.getTime() : typeof current === 'number' ? current : NaN;
    if (!Number.isFinite(now)) throw invalid('option "currentDate" must be a valid Date');
  }
  // In ms: the core takes whole seconds of it.
  c.n = now;
  return JSON.stringify(c);
}

async function settle(begin) {
  const [key, params, signature, message, result, failed] = begin();
  if (key) {
    const verdict = await signatureVerdict(key, params, signature, message);
    if (verdict !== true) throw __verifyError(verdict === null);
  }
  if (failed) throw result;
  return JSON.parse(result);
}

/** An imported, reusable set of verification keys (like jose's `createLocalJWKSet`). */
export class KeySet extends Keys {
  constructor(keys, options) {
    const o = optionsObject(options, ['allowSymmetricKeys'], 'KeySet options');
    super(keys, (o && opt(o, 'allowSymmetricKeys', 'boolean')) === true);
  }

  verify(token, options) {
    return settle(() => this.__begin(token, verifyOptions(options)));
  }
}

export function verifyJwt(token, keys, options) {
  return settle(() => keys instanceof Keys
    ? keys.__begin(token, verifyOptions(options)) : __verifyBegin(token, keys, verifyOptions(options)));
}

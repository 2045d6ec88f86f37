// `verifyJwt` and `KeySet` (builds with verification). wasm does every check of the token and
// the keys (`__verifyBegin`, `KeySet#__begin`); this module reads the options, with the
// driver's readers and messages, and asks WebCrypto for the one signature check, chained in
// one Promise (no Rust future in between). The options cross into wasm as one JSON text that
// the core's strict reader takes apart, so no JS option reader is linked into wasm.
import { __verifyBegin, __verifyError, KeySet as Keys } from './tokenwarden.js';
import { invalid, number, opt, optionsObject } from './driver.js';
import { signatureVerdict } from './verdict.js';

const OPTIONS = ['algorithms', 'issuer', 'audience', 'subject', 'typ', 'clockTolerance', 'requiredClaims',
  'currentDate', 'maxTokenAge', 'allowSymmetricKeys', 'maxTokenLength', 'requireExp'];
const TEN_YEARS = 316_224_000; // the core's bound of a duration (MAX_DURATION_SECS)

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

/** The verification options, checked, as the JSON text the wasm side reads. */
function verifyOptions(options) {
  const o = optionsObject(options, OPTIONS, 'verifyJwt options') ?? {};
  const explicit = o.algorithms !== undefined;
  const c = {
    a: explicit ? strings(o, 'algorithms') : undefined,
    i: strings(o, 'issuer'),
    u: strings(o, 'audience'),
    s: opt(o, 'subject', 'string'),
    t: opt(o, 'typ', 'string'),
    l: number(o, 'clockTolerance', 0, TEN_YEARS),
    r: strings(o, 'requiredClaims'),
    m: number(o, 'maxTokenAge', 0, TEN_YEARS),
    x: number(o, 'maxTokenLength', 1, 1024 * 1024),
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
  // Whole seconds; beyond ±9e15 as far out as the core's refusal of dates past 9999 needs.
  c.n = Math.min(Math.max(Math.floor(now / 1000), -9e15), 9e15);
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

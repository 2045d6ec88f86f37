// WebCrypto's one signature check, shared by verify.js (`verifyJwt`, `KeySet#verify`; the
// tokenwarden/verify entry) and oauth.js (the ID token; tokenwarden/oauth, whose wasm exports no
// `KeySet`): its own module so that the OAuth entry imports it without verify.js.

/** The CryptoKey (or WebCrypto's refusal) each import Promise of wasm resolved to. */
const importedKeys = new WeakMap();

/**
 * WebCrypto's verdict on a signature that wasm prepared (the key being imported, the algorithm's
 * parameters, the signature and the signed bytes): `null` when WebCrypto refused the key, else
 * whether the signature verifies. The one signature check of `verifyJwt`, `KeySet#verify` and
 * the OAuth profile's ID token (oauth.js).
 */
export async function signatureVerdict(key, params, signature, message) {
  let cryptoKey = key;
  if (key instanceof Promise) {
    // wasm hands over its import's Promise until it has seen the CryptoKey itself (never, on
    // this path): the key it resolved to is kept here, so that later verifications with the
    // same KeySet skip a turn of the event loop.
    cryptoKey = importedKeys.get(key);
    if (cryptoKey === undefined) {
      cryptoKey = await key;
      importedKeys.set(key, cryptoKey);
    }
  }
  if (typeof cryptoKey !== 'object') return null;
  return crypto.subtle.verify(params, cryptoKey, signature, message).catch(() => false);
}

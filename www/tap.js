// A network tap for the demo: wraps window.fetch so the page can show what actually goes over
// the wire (each attempt of a tm.fetch call, every refresh call and its status). It records
// whether an Authorization header is present, never its value.
//
// This works because this module is imported before the token manager is created: a manager
// keeps the `fetch` that was global at its construction, so a wrapper installed later sees
// nothing. A script that runs earlier can do the same as this tap; that is part of the
// security model (see the README).

const nativeFetch = globalThis.fetch.bind(globalThis);
const listeners = new Set();
let sequence = 0;

/** `fetch` without the tap (for the demo's own calls to the test hooks). */
export const untappedFetch = nativeFetch;

/** Calls `listener(phase, entry)` with phase "start" or "end" for every tapped request. */
export function onWire(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function emit(phase, entry) {
  for (const listener of listeners) {
    try {
      listener(phase, entry);
    } catch (error) {
      console.error('network tap listener failed', error);
    }
  }
}

function describe(input, init) {
  const request = input instanceof Request ? input : null;
  const url = new URL(request ? request.url : String(input), document.baseURI);
  const headers = new Headers(init?.headers ?? request?.headers ?? undefined);
  return {
    id: ++sequence,
    method: String(init?.method ?? request?.method ?? 'GET').toUpperCase(),
    path: url.origin === location.origin ? url.pathname : url.href,
    bearer: /^bearer\s/i.test(headers.get('authorization') ?? ''),
    callId: headers.get('x-demo-call'),
    start: Date.now(),
    end: null,
    status: null,
    error: null,
  };
}

globalThis.fetch = function tappedFetch(input, init) {
  let entry;
  try {
    entry = describe(input, init);
  } catch {
    return nativeFetch(input, init);
  }
  emit('start', entry);
  return nativeFetch(input, init).then(
    (response) => {
      entry.end = Date.now();
      entry.status = response.status;
      emit('end', entry);
      return response;
    },
    (error) => {
      entry.end = Date.now();
      entry.error = error?.name ?? 'Error';
      emit('end', entry);
      throw error;
    },
  );
};

// Answers /bench/null/* from the worker, without network, for the fetch preparation benchmark.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => {
  if (new URL(event.request.url).pathname.startsWith('/bench/null/')) {
    event.respondWith(new Response('{"ok":true}', {
      headers: { 'content-type': 'application/json', 'x-bench-sw': '1' },
    }));
  }
});

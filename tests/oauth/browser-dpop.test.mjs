// The OAuth browser suite once more with DPoP (RFC 9449) on: see tests/oauth/browser.test.mjs.
// Run: make test-oauth.
process.env.TW_OAUTH_DPOP = '1';
await import('./browser.test.mjs');

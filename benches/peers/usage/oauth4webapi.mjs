// oauth4webapi (code + PKCE + refresh + DPoP functions)
import * as oauth from 'oauth4webapi';

const issuer = new URL('https://auth.example.com');
const client = { client_id: 'spa' };
const clientAuth = oauth.None();
const redirectUri = `${location.origin}/callback`;
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer));
const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
let tokens = null;

export async function login() {
  const verifier = oauth.generateRandomCodeVerifier();
  sessionStorage.setItem('pkce', verifier);
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', client.client_id);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', 'openid profile offline_access');
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  location.assign(url.href);
}

export async function handleRedirect() {
  const params = oauth.validateAuthResponse(as, client, new URL(location.href));
  const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params,
    redirectUri, sessionStorage.getItem('pkce'), { DPoP });
  tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
}

export async function refresh() {
  const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, { DPoP });
  tokens = await oauth.processRefreshTokenResponse(as, client, response);
}

export async function callApi() {
  const response = await oauth.protectedResourceRequest(tokens.access_token, 'GET',
    new URL('https://api.example.com/me'), new Headers(), null, { DPoP });
  return response.json();
}

export async function logout() {
  await oauth.revocationRequest(as, client, clientAuth, tokens.refresh_token);
  const url = new URL(as.end_session_endpoint);
  url.searchParams.set('id_token_hint', tokens.id_token);
  location.assign(url.href);
}

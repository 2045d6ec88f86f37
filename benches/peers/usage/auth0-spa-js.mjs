// @auth0/auth0-spa-js
import { createAuth0Client } from '@auth0/auth0-spa-js';

const auth0 = await createAuth0Client({
  domain: 'auth.example.com',
  clientId: 'spa',
  authorizationParams: { redirect_uri: location.origin, audience: 'https://api.example.com' },
  useRefreshTokens: true,
});
const query = new URLSearchParams(location.search);
if (query.has('code') && query.has('state')) await auth0.handleRedirectCallback();

export const login = () => auth0.loginWithRedirect();
export const logout = () => auth0.logout({ logoutParams: { returnTo: location.origin } });

export async function callApi() {
  const token = await auth0.getTokenSilently();
  const response = await fetch('https://api.example.com/me', {
    headers: { Authorization: `Bearer ${token}` },
  });
  return response.json();
}

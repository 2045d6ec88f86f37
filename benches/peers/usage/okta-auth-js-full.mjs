// @okta/okta-auth-js (full entry)
import { OktaAuth } from '@okta/okta-auth-js';

const auth = new OktaAuth({
  issuer: 'https://auth.example.com/oauth2/default',
  clientId: 'spa',
  redirectUri: `${location.origin}/callback`,
  pkce: true,
});
await auth.start();
if (auth.isLoginRedirect()) await auth.handleLoginRedirect();

export const login = () => auth.signInWithRedirect();
export const logout = () => auth.signOut();

export async function callApi() {
  const response = await fetch('https://api.example.com/me', {
    headers: { Authorization: `Bearer ${auth.getAccessToken()}` },
  });
  return response.json();
}

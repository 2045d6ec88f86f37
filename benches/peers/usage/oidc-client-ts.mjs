// oidc-client-ts (with DPoP)
import { UserManager, IndexedDbDPoPStore } from 'oidc-client-ts';

const manager = new UserManager({
  authority: 'https://auth.example.com',
  client_id: 'spa',
  redirect_uri: `${location.origin}/callback`,
  post_logout_redirect_uri: location.origin,
  scope: 'openid profile offline_access',
  automaticSilentRenew: true,
  dpop: { bind_authorization_code: true, store: new IndexedDbDPoPStore() },
});

if (new URLSearchParams(location.search).has('code')) await manager.signinRedirectCallback();

export const login = () => manager.signinRedirect();
export const logout = () => manager.signoutRedirect();

export async function callApi() {
  const user = await manager.getUser();
  const url = 'https://api.example.com/me';
  const proof = await manager.dpopProof(url, user, 'GET');
  const response = await fetch(url, {
    headers: { Authorization: `DPoP ${user.access_token}`, DPoP: proof },
  });
  return response.json();
}

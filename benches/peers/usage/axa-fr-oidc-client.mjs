// @axa-fr/oidc-client
import { OidcClient } from '@axa-fr/oidc-client';

const oidc = OidcClient.getOrCreate(() => fetch)({
  authority: 'https://auth.example.com',
  client_id: 'spa',
  redirect_uri: `${location.origin}/callback`,
  silent_redirect_uri: `${location.origin}/silent-callback`,
  scope: 'openid profile offline_access',
  refresh_time_before_tokens_expiration_in_second: 40,
});

if (location.pathname === '/callback') await oidc.loginCallbackAsync();
else await oidc.tryKeepExistingSessionAsync();

export const login = () => oidc.loginAsync('/');
export const logout = () => oidc.logoutAsync(location.origin);

export async function callApi() {
  const response = await oidc.fetchWithTokens(fetch)('https://api.example.com/me');
  return response.json();
}

// keycloak-js
import Keycloak from 'keycloak-js';

const keycloak = new Keycloak({ url: 'https://auth.example.com', realm: 'app', clientId: 'spa' });
// init() handles the redirect (code + PKCE) and schedules nothing by itself.
await keycloak.init({ onLoad: 'check-sso', pkceMethod: 'S256', checkLoginIframe: false });

export const login = () => keycloak.login();
export const logout = () => keycloak.logout({ redirectUri: location.origin });

export async function callApi() {
  await keycloak.updateToken(30);
  const response = await fetch('https://api.example.com/me', {
    headers: { Authorization: `Bearer ${keycloak.token}` },
  });
  return response.json();
}

// @azure/msal-browser
import { PublicClientApplication } from '@azure/msal-browser';

const scopes = ['api://example/read'];
const msal = await PublicClientApplication.createPublicClientApplication({
  auth: { clientId: 'spa', authority: 'https://login.example.com/tenant', redirectUri: location.origin },
});
const result = await msal.handleRedirectPromise();
const account = () => result?.account ?? msal.getAllAccounts()[0];

export const login = () => msal.loginRedirect({ scopes });
export const logout = () => msal.logoutRedirect({ account: account() });

export async function callApi() {
  const { accessToken } = await msal.acquireTokenSilent({ scopes, account: account() });
  const response = await fetch('https://api.example.com/me', {
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  return response.json();
}

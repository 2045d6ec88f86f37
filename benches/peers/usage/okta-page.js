// The page of both okta-auth-js rows (its full and its `core` entry differ only in the import).
export async function page(OktaAuth) {
  const auth = new OktaAuth({
    issuer: 'https://auth.example.com/oauth2/default',
    clientId: 'spa',
    redirectUri: `${location.origin}/callback`,
    pkce: true,
  });
  await auth.start();
  if (auth.isLoginRedirect()) await auth.handleLoginRedirect();
  return {
    login: () => auth.signInWithRedirect(),
    logout: () => auth.signOut(),
    async callApi() {
      const response = await fetch('https://api.example.com/me', {
        headers: { Authorization: `Bearer ${auth.getAccessToken()}` },
      });
      return response.json();
    },
  };
}

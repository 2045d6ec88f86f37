// @okta/okta-auth-js (full entry)
import { OktaAuth } from '@okta/okta-auth-js';
import { page } from './okta-page.js';

export const { login, logout, callApi } = await page(OktaAuth);

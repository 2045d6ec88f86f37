// @okta/okta-auth-js (`core` entry)
import { OktaAuth } from '@okta/okta-auth-js/core';
import { page } from './okta-page.js';

export const { login, logout, callApi } = await page(OktaAuth);

//! [`TokenManager::fetch`] and the other calls that send requests with the token.

use super::*;

impl TokenManager {
    /// Sends `request` with `fetch`, with `Authorization: Bearer` attached when its URL's origin
    /// is allowed. Takes a [`web_sys::Request`] or anything converting into one, such as
    /// `gloo_net::http::Request` (gloo-net 0.7 implements `From<Request> for web_sys::Request`;
    /// turn the response back with `gloo_net::http::Response::from`). The request is not
    /// mutated: it is cloned before the header is set, so its body stays unread.
    ///
    /// Rules (as the JS `fetch`): the origin and `redirect` mode are read from the request as
    /// built; redirects are followed as it asks in a browser, where the Fetch standard drops
    /// `Authorization` on a cross-origin redirect, and not at all with
    /// [`Config::manual_redirects`] (the default elsewhere); a `401` with
    /// `WWW-Authenticate: Bearer error="invalid_token"` leads to one refresh and one retry
    /// (not for a stream body); requests made during a refresh wait for it; after logout the
    /// call fails fast with `ERR_LOGGED_OUT`. A native failure is `ERR_FETCH` with
    /// [`Error::cause`].
    pub fn fetch(
        &self,
        request: impl Into<web_sys::Request>,
    ) -> impl std::future::Future<Output = Result<web_sys::Response, Error>> {
        let request: web_sys::Request = request.into();
        self.fetch_any(request.into(), JsValue::UNDEFINED)
    }

    /// [`fetch`](Self::fetch) in either custody (in worker custody the worker sends it; an
    /// abort of the request's signal reaches the worker's `fetch`).
    fn fetch_any(
        &self,
        input: JsValue,
        init: JsValue,
    ) -> impl std::future::Future<Output = Result<web_sys::Response, Error>> {
        // The worker's side reads the body of the request it is handed: a clone leaves the
        // caller's unread, as in page custody.
        let worker = self.remote.as_ref().map(|remote| {
            let handed = match input.dyn_ref().map(web_sys::Request::clone) {
                Some(Ok(copy)) => copy.into(),
                _ => input.clone(),
            };
            remote.call("fetch", handed, init.clone())
        });
        let page = fetch::fetch(self.shared.clone(), input, init);
        async move {
            match worker {
                Some(call) => call
                    .await?
                    .dyn_into()
                    .map_err(|_| Error::new("ERR_FETCH", "the worker answered without a Response")),
                None => page.await,
            }
        }
    }

    /// A `GET` of `url` (relative URLs resolve against the document base) through
    /// [`fetch`](Self::fetch).
    pub fn fetch_url(
        &self,
        url: &str,
    ) -> impl std::future::Future<Output = Result<web_sys::Response, Error>> {
        self.fetch_any(JsValue::from_str(url), JsValue::UNDEFINED)
    }

    /// [`fetch`](Self::fetch) with the JS signature: `input` is a string, `URL` or `Request`;
    /// `init` a `RequestInit` object or `undefined`.
    pub fn fetch_js(
        &self,
        input: JsValue,
        init: JsValue,
    ) -> impl std::future::Future<Output = Result<web_sys::Response, Error>> {
        self.fetch_any(input, init)
    }

    /// For the package's JS `fetch` wrapper: what a request to the canonical absolute URL `url`
    /// may carry right now: `null` (send it untouched), an `Authorization` value, or `undefined`
    /// (take [`fetch_js`](Self::fetch_js)).
    pub fn header_for(&self, url: &str) -> JsValue {
        fetch::header_for(&self.shared, url)
    }

    /// For the package's JS `fetch` wrapper: a request sent with `header` (from
    /// [`header_for`](Self::header_for)) got the 401 `response`; refreshes and retries once
    /// when the 401 is about that token, as [`fetch_js`](Self::fetch_js) does.
    pub fn after_unauthorized(
        &self,
        response: web_sys::Response,
        header: js_sys::JsString,
        input: JsValue,
        init: JsValue,
    ) -> impl std::future::Future<Output = Result<web_sys::Response, Error>> {
        fetch::after_unauthorized(self.shared.clone(), response, header, input, init)
    }

    /// The `fetch` captured at construction, with the global scope it must be called on.
    pub fn captured_fetch(&self) -> js_sys::Function {
        self.shared.borrow().fetch.function()
    }

    /// The current access token as a JS string, after the same gate as `fetch` (for a
    /// WebSocket or a third-party SDK). The JS class exposes it only with `exposeToken: true`.
    pub fn access_token_js(&self) -> impl std::future::Future<Output = Result<JsValue, Error>> {
        let shared = self.shared.clone();
        let in_worker = self.remote.is_some();
        async move {
            if in_worker {
                return Err(Error::new(
                    "ERR_TOKEN_NOT_EXPOSED",
                    "worker custody never hands the access token to the page",
                ));
            }
            match gate(&shared, |_, token, _| JsValue::from_str(token.expose())).await? {
                Gate::Go(token, _) => Ok(token),
                Gate::Anonymous => Err(Error::new("ERR_NOT_AUTHENTICATED", "there is no session")),
            }
        }
    }
}

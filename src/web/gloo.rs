//! [`TokenManager::send`]: the fetch wrapper in gloo-net's own types (cargo feature `gloo`), for
//! Yew and Leptos apps that already build their requests with gloo-net.

use super::{Error, TokenManager};

impl TokenManager {
    /// Sends a gloo-net request through [`fetch`](Self::fetch): the same allowlist, the same
    /// wait for a refresh in flight, and the same single retry after a `401 invalid_token`. The
    /// answer is gloo-net's [`Response`](gloo_net::http::Response), so `.json().await` and
    /// `.ok()` work as with [`Request::send`](gloo_net::http::Request::send).
    ///
    /// ```no_run
    /// # async fn demo(tm: &tokenwarden::web::TokenManager) -> Result<(), Box<dyn std::error::Error>> {
    /// use gloo_net::http::Request;
    /// #[derive(serde::Serialize)]
    /// struct NewItem<'a> { name: &'a str }
    /// let response = tm.send(Request::post("/api/items").json(&NewItem { name: "figs" })?).await?;
    /// assert!(response.ok());
    /// # Ok(()) }
    /// ```
    pub fn send(
        &self,
        request: gloo_net::http::Request,
    ) -> impl std::future::Future<Output = Result<gloo_net::http::Response, Error>> {
        let response = self.fetch(web_sys::Request::from(request));
        async move { response.await.map(gloo_net::http::Response::from) }
    }
}

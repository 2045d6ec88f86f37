//! The little URL handling the OAuth profile needs, without a URL crate: checking that an
//! endpoint is safe to talk to, splitting off the query, and appending form-encoded parameters.
//!
//! A full URL parser (the `url` crate with IDNA tables) would cost more package size than the
//! rest of the profile; the browser shell has `URL` when it needs normalisation. These checks
//! only ever refuse: an unusual but valid URL is refused, never misread as another one.

use crate::prelude::*;

use crate::core::oauth::error::OAuthError;

/// Checks that `url` is `https://host...`, or `http://` on a loopback host (`127.0.0.0/8`,
/// `[::1]`, `localhost`), with no user info, no fragment, and no whitespace or control
/// characters. `member` names the URL in the error.
pub fn check_endpoint(url: &str, member: &'static str) -> Result<(), OAuthError> {
    let insecure = OAuthError::InsecureEndpoint { member };
    if url.is_empty() || url.bytes().any(|b| b <= b' ' || b == 0x7f) || url.contains('#') {
        return Err(insecure);
    }
    let (secure, rest) = if let Some(rest) = strip_prefix_ignore_case(url, "https://") {
        (true, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(url, "http://") {
        (false, rest)
    } else {
        return Err(insecure);
    };
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    if authority.contains('@') || authority.contains('\\') {
        return Err(insecure);
    }
    let host = host_of(authority).ok_or(insecure.clone())?;
    if secure || is_loopback(host) {
        Ok(())
    } else {
        Err(insecure)
    }
}

/// Checks an issuer identifier: an endpoint URL that also has no query (RFC 8414 §2).
pub fn check_issuer(issuer: &str) -> Result<(), OAuthError> {
    check_endpoint(issuer, "issuer")?;
    if issuer.contains('?') {
        return Err(OAuthError::InsecureEndpoint { member: "issuer" });
    }
    Ok(())
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The host of an authority (`host`, `host:port`, `[v6]:port`), or `None` if it is malformed.
fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        (&authority[..=end], &authority[end + 1..])
    } else {
        match authority.split_once(':') {
            Some((host, _)) => (host, &authority[host.len()..]),
            None => (authority, ""),
        }
    };
    let port_ok = port.is_empty()
        || (port.len() > 1
            && port.len() <= 6
            && port.starts_with(':')
            && port[1..].bytes().all(|b| b.is_ascii_digit()));
    (!host.is_empty() && port_ok).then_some(host)
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host == "[::1]" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
}

/// The URL without its query and fragment.
pub fn without_query(url: &str) -> &str {
    &url[..url.find(['?', '#']).unwrap_or(url.len())]
}

/// The query of `url` (after `?`, before `#`), if it has one.
pub fn query_of(url: &str) -> Option<&str> {
    let end = url.find('#').unwrap_or(url.len());
    let start = url[..end].find('?')?;
    Some(&url[start + 1..end])
}

/// The fragment of `url` (after `#`), if it has one.
pub fn fragment_of(url: &str) -> Option<&str> {
    url.find('#').map(|start| &url[start + 1..])
}

/// `base` with `pairs` appended to its query, form-encoded (RFC 6749 Appendix B). An endpoint
/// may already carry a query (RFC 6749 §3.1); it is kept.
pub fn with_query<'a>(base: &str, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut url = String::from(base);
    let encoded = form_encode(pairs);
    if encoded.is_empty() {
        return url;
    }
    match url.find('?') {
        None => url.push('?'),
        Some(_) if url.ends_with('?') || url.ends_with('&') => {}
        Some(_) => url.push('&'),
    }
    url.push_str(&encoded);
    url
}

/// Encodes `pairs` as `application/x-www-form-urlencoded`.
pub fn form_encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn endpoints_are_https_or_loopback_http() {
        for good in [
            "https://idp.example",
            "https://idp.example/oauth2/token",
            "HTTPS://idp.example:8443/t?x=1",
            "http://127.0.0.1:8080/token",
            "http://127.3.4.5/token",
            "http://localhost:3000",
            "http://[::1]:9000/token",
        ] {
            assert_eq!(check_endpoint(good, "token_endpoint"), Ok(()), "{good}");
        }
        for bad in [
            "",
            "http://idp.example/token",
            "http://127.0.0.1.evil.example/token",
            "http://localhost.evil.example/",
            "http://evil.example@127.0.0.1/",
            "https://user:pw@idp.example/",
            "https://idp.example/token#frag",
            "https://idp.example/ token",
            "ftp://idp.example/",
            "//idp.example/token",
            "https://",
            "https://idp.example:/",
            "https://idp.example:99999999/",
            "http://[::2]/",
            "http://127.0.0.1:80x/",
            "https://idp.example\\@evil/",
        ] {
            assert_eq!(
                check_endpoint(bad, "token_endpoint"),
                Err(OAuthError::InsecureEndpoint {
                    member: "token_endpoint"
                }),
                "{bad:?}"
            );
        }
        assert!(check_issuer("https://idp.example/tenant").is_ok());
        assert!(check_issuer("https://idp.example/?tenant=1").is_err());
    }

    #[test]
    fn queries_are_split_and_appended() {
        let url = "https://app.example/cb?code=a&state=b#frag";
        assert_eq!(without_query(url), "https://app.example/cb");
        assert_eq!(query_of(url), Some("code=a&state=b"));
        assert_eq!(fragment_of(url), Some("frag"));
        assert_eq!(query_of("https://app.example/#a?b"), None);
        assert_eq!(
            with_query("https://idp.example/auth", [("a", "x y"), ("b", "&=")]),
            "https://idp.example/auth?a=x+y&b=%26%3D"
        );
        assert_eq!(
            with_query("https://idp.example/auth?tenant=1", [("a", "1")]),
            "https://idp.example/auth?tenant=1&a=1"
        );
    }
}

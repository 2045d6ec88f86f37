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
    // Byte by byte: no substring searcher, no integer parser, no allocation.
    let insecure = Err(OAuthError::InsecureEndpoint { member });
    let b = url.as_bytes();
    if b.is_empty() || b.iter().any(|&c| c <= b' ' || c == 0x7f || c == b'#') {
        return insecure;
    }
    let scheme = |s: &[u8]| b.get(..s.len()).is_some_and(|h| h.eq_ignore_ascii_case(s));
    let (secure, rest) = if scheme(b"https://") {
        (true, &b[8..])
    } else if scheme(b"http://") {
        (false, &b[7..])
    } else {
        return insecure;
    };
    let end = rest.iter().position(|&c| c == b'/' || c == b'?');
    let authority = &rest[..end.unwrap_or(rest.len())];
    if authority.iter().any(|&c| c == b'@' || c == b'\\') {
        return insecure;
    }
    // `host`, `host:port` or `[v6]:port`.
    let split = match authority.first() {
        Some(b'[') => authority.iter().position(|&c| c == b']').map(|at| at + 1),
        _ => Some(
            authority
                .iter()
                .position(|&c| c == b':')
                .unwrap_or(authority.len()),
        ),
    };
    let Some((host, port)) = split.map(|at| authority.split_at(at)) else {
        return insecure;
    };
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => {
            (1..=5).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    if !host.is_empty() && port_ok && (secure || is_loopback(host)) {
        Ok(())
    } else {
        insecure
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

/// `localhost`, `[::1]` or `127.x.y.z` (decimal octets).
fn is_loopback(host: &[u8]) -> bool {
    let octet = |o: &[u8]| {
        (1..=3).contains(&o.len())
            && o.iter().all(u8::is_ascii_digit)
            && (o.len() < 3 || o <= &b"255"[..])
    };
    let mut parts = host.split(|&c| c == b'.');
    host.eq_ignore_ascii_case(b"localhost")
        || host == b"[::1]"
        || (parts.next() == Some(b"127") && parts.clone().count() == 3 && parts.all(octet))
}

/// Whether `host` (as the browser's URL parser serialises it) is a loopback host: the one rule
/// for where plain http may go, for the provider's endpoints here and for the origins that get
/// the token (the Rust shell's `web::origin`). Only in builds with the Rust shell (`std`): the
/// npm entries call the private rule, and a public copy there changes their code layout.
#[cfg(feature = "std")]
pub fn loopback_host(host: &str) -> bool {
    is_loopback(host.as_bytes())
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

    #[cfg(feature = "std")]
    #[test]
    fn loopback_hosts_as_the_url_parser_serialises_them() {
        for host in [
            "localhost",
            "LocalHost",
            "[::1]",
            "127.0.0.1",
            "127.1.2.3",
            "127.255.255.255",
        ] {
            assert!(loopback_host(host), "{host}");
        }
        // Not loopback: other names and addresses, look-alikes, and labels that only an integer
        // parser would read as octets (the URL parser keeps "+1" and "01" in a domain name).
        for host in [
            "",
            "example.com",
            "localhost.example.com",
            "127.0.0.1.example.com",
            "127.0.0",
            "127.0.0.256",
            "127.0.0.+1",
            "127.0.0.0001",
            "128.0.0.1",
            "[::2]",
            "::1",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }

    #[test]
    fn endpoints_are_https_or_loopback_http() {
        for good in [
            "https://idp.example",
            "https://idp.example/oauth2/token",
            "HTTPS://idp.example:8443/t?x=1",
            "http://127.0.0.1:8080/token",
            "http://127.3.4.5/token",
            "http://127.255.0.1/",
            "http://LOCALHOST/",
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
            "http://127.0.0.256/",
            "http://127.0.0/",
            "http://127..0.1/",
            "http://128.0.0.1/",
            "http://[::1/",
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

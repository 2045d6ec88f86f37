//! Which request URLs may carry the bearer token: exact origin match after URL parsing, https or
//! loopback http only. Parsing is the browser's own `URL`, so it agrees with what `fetch` sends.

use web_sys::Url;

use super::Error;

/// Parses `url` (relative URLs against `base`) with the browser's URL parser.
pub(crate) fn parse(url: &str, base: Option<&str>) -> Option<Url> {
    match base {
        Some(base) => Url::new_with_base(url, base).ok(),
        None => Url::new(url).ok(),
    }
}

/// Whether a token may travel to `url`'s origin at all: https, or http to a loopback host.
pub(crate) fn secure_enough(url: &Url) -> bool {
    match url.protocol().as_str() {
        "https:" => true,
        // The hostname as the URL parser serialises it (IPv4 forms such as `0x7f.1` canonicalised).
        "http:" => crate::core::oauth::loopback_host(&url.hostname()),
        _ => false,
    }
}

/// Normalises a configured origin (`HTTPS://API.example.com:443` → `https://api.example.com`).
/// Refuses anything that is not a bare origin, and plain http except to loopback hosts.
pub(crate) fn normalize_origin(origin: &str) -> Result<String, Error> {
    let invalid = |why: &str| {
        Error::new(
            "ERR_INVALID_OPTIONS",
            format!(
                "allowedOrigins entry {} {why}",
                crate::core::error::Quoted(origin)
            ),
        )
    };
    let url = parse(origin, None).ok_or_else(|| invalid("is not an absolute URL"))?;
    if !url.username().is_empty() || !url.password().is_empty() {
        return Err(invalid("must not contain credentials"));
    }
    if !matches!(url.pathname().as_str(), "" | "/")
        || !url.search().is_empty()
        || !url.hash().is_empty()
    {
        return Err(invalid(
            "must be an origin (scheme://host[:port]) without a path",
        ));
    }
    if !secure_enough(&url) {
        return Err(invalid(
            "must be https (plain http is allowed only for loopback hosts)",
        ));
    }
    Ok(url.origin())
}

/// Whether a request to `url` (relative URLs resolved against `base`) may carry the token:
/// its exact origin is one of `allowed` (normalised with [`normalize_origin`]) and it is https or
/// loopback http. Look-alikes (`https://api.example.com.evil.com`, `https://api.example.com@evil.com`,
/// `//evil.com`, an `http:` downgrade, another port) are refused; case and default-port variants
/// of an allowed origin are accepted.
pub fn origin_allowed(url: &str, base: Option<&str>, allowed: &[String]) -> bool {
    parse(url, base).is_some_and(|url| url_allowed(&url, allowed))
}

pub(crate) fn url_allowed(url: &Url, allowed: &[String]) -> bool {
    secure_enough(url) && allowed.contains(&url.origin())
}

/// [`url_allowed`] for a URL already in canonical form (`URL#href`), without parsing it again:
/// its origin is the text before the path's first `/`. `allowed` must hold only origins that
/// are [`secure_enough`] (the manager keeps no other).
pub(crate) fn canonical_url_allowed(href: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|origin| {
        href.strip_prefix(origin.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Whether two absolute URLs have the same origin.
pub(crate) fn same_origin(a: &str, b: &str) -> bool {
    match (parse(a, None), parse(b, None)) {
        (Some(a), Some(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

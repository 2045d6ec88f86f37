//! Keeps the README's Rust quick starts honest: each example's `snippet.rs` must appear verbatim
//! in README.md, or the example (and so `make test`) fails to build.

const README: &[u8] = include_bytes!("../../README.md");

/// Whether README.md contains `snippet` byte for byte (evaluated at compile time).
pub const fn contains(snippet: &str) -> bool {
    let needle = snippet.as_bytes();
    if needle.len() > README.len() {
        return false;
    }
    let mut start = 0;
    while start + needle.len() <= README.len() {
        let mut i = 0;
        while i < needle.len() && README[start + i] == needle[i] {
            i += 1;
        }
        if i == needle.len() {
            return true;
        }
        start += 1;
    }
    false
}

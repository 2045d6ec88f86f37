//! Property: mutating any part of a valid token never panics and is never accepted.
//! 10,000 cases per property by default (`PROPTEST_CASES` overrides).
// Signing needs host-only dev-dependencies (jwt-compact's signers, proptest, rand).
#![cfg(not(target_arch = "wasm32"))]

mod support;

use proptest::prelude::*;
use support::*;
use tokenwarden::{core::b64, Algorithm, JwkSet, Verifier};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

struct Fixture {
    tokens: Vec<String>,
    keys: JwkSet,
    verifier: Verifier,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let payload = claims().to_string();
        let tokens = vec![
            sign("es", r#"{"alg":"ES256","kid":"es"}"#, &payload),
            sign("ed", r#"{"alg":"EdDSA","kid":"ed"}"#, &payload),
            sign("rsa", r#"{"alg":"RS256","kid":"rsa"}"#, &payload),
        ];
        let verifier = Verifier::builder()
            .algorithms([Algorithm::Es256, Algorithm::EdDsa, Algorithm::Rs256])
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .build();
        let keys = jwks(&["es", "ed", "rsa"]);
        for token in &tokens {
            verifier
                .verify(token, &keys, NOW)
                .expect("fixture tokens are valid");
        }
        Fixture {
            tokens,
            keys,
            verifier,
        }
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the character at a position with one from a hostile alphabet.
    Replace(usize, char),
    Insert(usize, char),
    Delete(usize),
    Truncate(usize),
    /// Flip bits in the decoded bytes of one segment and re-encode canonically, so the
    /// change reaches JSON parsing and signature verification rather than base64.
    FlipDecoded {
        segment: usize,
        index: usize,
        mask: u8,
    },
}

fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::char::range('A', 'Z'),
        proptest::char::range('a', 'z'),
        proptest::char::range('0', '9'),
        Just('-'),
        Just('_'),
        Just('.'),
        Just('='),
        Just('+'),
        Just('/'),
        Just(' '),
        Just('\n'),
        Just('\u{0}'),
        Just('é'),
        Just('\u{feff}'),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), hostile_char()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        (any::<usize>(), hostile_char()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        (0..3usize, any::<usize>(), 1..=255u8).prop_map(|(segment, index, mask)| {
            Mutation::FlipDecoded {
                segment,
                index,
                mask,
            }
        }),
    ]
}

fn apply(token: &str, mutation: &Mutation) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    match *mutation {
        Mutation::Replace(i, c) => {
            let i = i % chars.len();
            chars[i] = c;
        }
        Mutation::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
        Mutation::Delete(i) => {
            chars.remove(i % chars.len());
        }
        Mutation::Truncate(i) => chars.truncate(i % chars.len()),
        Mutation::FlipDecoded {
            segment,
            index,
            mask,
        } => {
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            // After a first mutation the segment may be gone or undecodable: then this
            // mutation does nothing.
            let Some(Ok(mut bytes)) = parts.get(segment).map(|p| b64::decode(p, "segment")) else {
                return token.to_owned();
            };
            if bytes.is_empty() {
                return token.to_owned();
            }
            let i = index % bytes.len();
            bytes[i] ^= mask;
            parts[segment] = b64::encode(&bytes);
            return parts.join(".");
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_tokens_are_never_accepted(which in 0..3usize, first in mutation(), second in proptest::option::of(mutation())) {
        let fixture = fixture();
        let original = &fixture.tokens[which];
        let mut mutated = apply(original, &first);
        if let Some(second) = &second {
            if !mutated.is_empty() {
                mutated = apply(&mutated, second);
            }
        }
        let result = fixture.verifier.verify(&mutated, &fixture.keys, NOW);
        if &mutated == original {
            prop_assert!(result.is_ok());
        } else {
            prop_assert!(result.is_err(), "accepted a mutated token: {:?}", mutated);
        }
    }

    #[test]
    fn arbitrary_input_never_panics(input in ".{0,300}") {
        let fixture = fixture();
        prop_assert!(fixture.verifier.verify(&input, &fixture.keys, NOW).is_err());
        let _ = tokenwarden::decode_unverified(&input);
    }
}

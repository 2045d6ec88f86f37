//! The OAuth core from the command line, for the interop test against a real provider
//! (tests/oauth/flow.test.mjs): one command as the first argument, its input as JSON on stdin,
//! `{"ok": ...}` or `{"error": {"code", "message"}}` as JSON on stdout. The test does the HTTP;
//! every request body and every check comes from `tokenwarden::core::oauth`.
//!
//! ```text
//! echo '{"issuer":"https://idp.example"}' | cargo run --example oauth_cli -- discovery
//! ```
//!
//! Commands and their input members:
//! - `discovery` {issuer}: the metadata URLs to try, in order.
//! - `authorize` {issuer, metadata, client_id, redirect_uri, scope?, resource?, prompt?,
//!   random_hex (96 bytes), now_ms}: the authorization URL and the record to store.
//! - `callback` {issuer, metadata, stored, url, now_ms}: the token request for the code, the
//!   nonce to expect; on refusal, whether the login is still pending.
//! - `token_response` {issuer, metadata, jwks, client_id, nonce?, subject?, status, body,
//!   now_secs}: the parsed response; the ID token verified (signature with the JWKS, then the
//!   OpenID claim checks).
//! - `refresh` {issuer, metadata, client_id, refresh_token, scope?}: the refresh request.
//! - `revoke` {issuer, metadata, client_id, token, hint}: the RFC 7009 request.
//! - `revocation_response` {status, body}.
//! - `verify_access_token` {issuer, jwks, token, audience, now_secs}: an API's check of a JWT
//!   access token (RFC 9068: `typ` `at+jwt`).
//! - `end_session` {issuer, metadata, client_id, id_token?, post_logout_redirect_uri?, state?}.

// The CLI verifies synchronously: natively, or in wasm with the `portable` primitive (the npm
// build verifies through WebCrypto, asynchronously).
#[cfg(all(
    feature = "verify",
    any(not(target_arch = "wasm32"), feature = "portable")
))]
fn main() {
    use std::io::Read as _;

    let command = std::env::args().nth(1).unwrap_or_default();
    let mut input = String::new();
    let output = match std::io::stdin().read_to_string(&mut input) {
        Ok(_) => match serde_json::from_str(&input) {
            Ok(input) => cli::run(&command, &input),
            Err(_) => cli::failure("ERR_CLI_INPUT", "stdin is not JSON".into()),
        },
        Err(_) => cli::failure("ERR_CLI_INPUT", "cannot read stdin".into()),
    };
    println!("{output}");
}

#[cfg(not(all(
    feature = "verify",
    any(not(target_arch = "wasm32"), feature = "portable")
)))]
fn main() {
    println!(
        r#"{{"error":{{"code":"ERR_CLI_FEATURE","message":"build with a signature feature"}}}}"#
    );
}

#[cfg(all(
    feature = "verify",
    any(not(target_arch = "wasm32"), feature = "portable")
))]
mod cli {
    use serde_json::{json, Value};
    use tokenwarden::core::oauth::{
        authorization_request, discovery_urls, end_session_url, id_token_algorithms,
        parse_revocation_response, parse_token_response, refresh_request, revocation_request,
        ClientConfig, IdTokenCheck, IdTokenClaims, LoginOptions, LoginRandomness, OAuthError,
        ProviderMetadata, TokenType, TokenTypeHint, Transaction,
    };
    use tokenwarden::core::secret::Secret;
    use tokenwarden::{Algorithm, JwkSet, KeyOptions, Verifier};

    pub fn failure(code: &str, message: String) -> Value {
        json!({ "error": { "code": code, "message": message } })
    }

    fn oauth_failure(err: &OAuthError) -> Value {
        failure(err.code(), err.to_string())
    }

    fn text<'a>(input: &'a Value, member: &str) -> Result<&'a str, Value> {
        input[member]
            .as_str()
            .ok_or_else(|| failure("ERR_CLI_INPUT", format!("{member} must be a string")))
    }

    fn optional<'a>(input: &'a Value, member: &str) -> Option<&'a str> {
        input[member].as_str()
    }

    fn number(input: &Value, member: &str) -> Result<u64, Value> {
        input[member]
            .as_u64()
            .ok_or_else(|| failure("ERR_CLI_INPUT", format!("{member} must be a number")))
    }

    fn metadata(input: &Value) -> Result<ProviderMetadata, Value> {
        ProviderMetadata::parse(text(input, "metadata")?, text(input, "issuer")?)
            .map_err(|e| oauth_failure(&e))
    }

    pub fn run(command: &str, input: &Value) -> Value {
        let result = match command {
            "discovery" => discovery(input),
            "authorize" => authorize(input),
            "callback" => callback(input),
            "token_response" => token_response(input),
            "refresh" => refresh(input),
            "revoke" => revoke(input),
            "revocation_response" => revocation_response(input),
            "verify_access_token" => verify_access_token(input),
            "end_session" => end_session(input),
            other => Err(failure(
                "ERR_CLI_COMMAND",
                format!("unknown command {other:?}"),
            )),
        };
        match result {
            Ok(ok) => json!({ "ok": ok }),
            Err(err) => err,
        }
    }

    fn discovery(input: &Value) -> Result<Value, Value> {
        let urls = discovery_urls(text(input, "issuer")?).map_err(|e| oauth_failure(&e))?;
        Ok(json!(urls))
    }

    fn authorize(input: &Value) -> Result<Value, Value> {
        let metadata = metadata(input)?;
        let mut config = ClientConfig::new(
            text(input, "issuer")?,
            text(input, "client_id")?,
            text(input, "redirect_uri")?,
        );
        if let Some(scope) = optional(input, "scope") {
            config.scope = scope.into();
        }
        config.resource = optional(input, "resource")
            .map(String::from)
            .into_iter()
            .collect();
        let options = LoginOptions {
            prompt: optional(input, "prompt").map(String::from),
            ..LoginOptions::default()
        };
        let hex = text(input, "random_hex")?;
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        let bytes: [u8; 96] = bytes
            .try_into()
            .map_err(|_| failure("ERR_CLI_INPUT", "random_hex must be 96 bytes".into()))?;
        let random = LoginRandomness::from_bytes(&bytes);
        let request = authorization_request(
            &metadata,
            &config,
            &options,
            &random,
            number(input, "now_ms")?,
        )
        .map_err(|e| oauth_failure(&e))?;
        Ok(json!({
            "url": request.url,
            "stored": request.transaction.to_storage().expose(),
        }))
    }

    fn callback(input: &Value) -> Result<Value, Value> {
        let metadata = metadata(input)?;
        let now_ms = number(input, "now_ms")?;
        let transaction = Transaction::from_storage(optional(input, "stored"), now_ms)
            .map_err(|e| oauth_failure(&e))?;
        match transaction.complete(text(input, "url")?, &metadata, now_ms) {
            Ok(exchange) => {
                let request = exchange.token_request(&metadata);
                Ok(json!({
                    "token_request": { "url": request.url, "body": request.body.expose() },
                    "nonce": exchange.nonce,
                    "expects_id_token": exchange.expects_id_token(),
                }))
            }
            Err(refused) => Err(json!({ "error": {
                "code": refused.error.code(),
                "message": refused.error.to_string(),
                "pending": refused.transaction.as_ref().map(|t| t.to_storage().expose().to_owned()),
            }})),
        }
    }

    fn keys(input: &Value) -> Result<JwkSet, Value> {
        JwkSet::from_json(text(input, "jwks")?, &KeyOptions::default())
            .map_err(|e| failure(e.code(), e.to_string()))
    }

    fn token_response(input: &Value) -> Result<Value, Value> {
        let metadata = metadata(input)?;
        let status = number(input, "status")? as u16;
        let response = parse_token_response(status, text(input, "body")?).map_err(|e| {
            let mut out = oauth_failure(&e);
            out["error"]["ends_session"] = json!(e.ends_session());
            out
        })?;
        let now_secs = number(input, "now_secs")? as i64;
        let mut id_token = Value::Null;
        if let Some(token) = &response.id_token {
            let verifier = Verifier::builder()
                .algorithms(id_token_algorithms(&metadata))
                .build();
            let verified = verifier
                .verify(token.expose(), &keys(input)?, now_secs)
                .map_err(|e| failure(e.code(), e.to_string()))?;
            // A login passes the transaction's nonce; a refresh passes the session's subject.
            let check = IdTokenCheck {
                issuer: metadata.issuer.clone(),
                client_id: text(input, "client_id")?.to_owned(),
                nonce: optional(input, "nonce").map(String::from),
                max_age: None,
                original: None,
                leeway_secs: 60,
                max_iat_age_secs: 600,
            };
            let claims = IdTokenClaims::from_claims(&verified.claims);
            // The session's subject only (its other claims are taken as the token's own).
            let check = IdTokenCheck {
                original: optional(input, "subject").map(|sub| IdTokenClaims {
                    sub: Some(sub.to_owned()),
                    ..claims.clone()
                }),
                ..check
            };
            check
                .validate_refresh(&claims, now_secs)
                .map_err(|e| oauth_failure(&e))?;
            id_token = json!({ "sub": claims.sub, "alg": verified.header.alg });
        } else if optional(input, "nonce").is_some() {
            return Err(oauth_failure(&OAuthError::IdTokenMissing));
        }
        Ok(json!({
            "access_token": response.access_token.expose(),
            "token_type": match response.token_type { TokenType::Bearer => "Bearer", TokenType::DPoP => "DPoP" },
            "expires_in": response.expires_in,
            "refresh_token": response.refresh_token.as_ref().map(Secret::expose),
            "scope": response.scope,
            "id_token": id_token,
        }))
    }

    fn refresh(input: &Value) -> Result<Value, Value> {
        let metadata = metadata(input)?;
        let token = Secret::from(text(input, "refresh_token")?);
        let request = refresh_request(
            &metadata,
            text(input, "client_id")?,
            &token,
            optional(input, "scope"),
        );
        Ok(json!({ "url": request.url, "body": request.body.expose() }))
    }

    fn revoke(input: &Value) -> Result<Value, Value> {
        let metadata = metadata(input)?;
        let hint = match text(input, "hint")? {
            "access_token" => TokenTypeHint::AccessToken,
            _ => TokenTypeHint::RefreshToken,
        };
        let token = Secret::from(text(input, "token")?);
        let request = revocation_request(&metadata, text(input, "client_id")?, &token, hint)
            .map_err(|e| oauth_failure(&e))?;
        Ok(json!({ "url": request.url, "body": request.body.expose() }))
    }

    fn revocation_response(input: &Value) -> Result<Value, Value> {
        parse_revocation_response(number(input, "status")? as u16, text(input, "body")?)
            .map_err(|e| oauth_failure(&e))?;
        Ok(json!(true))
    }

    fn verify_access_token(input: &Value) -> Result<Value, Value> {
        let verifier = Verifier::builder()
            .algorithms([Algorithm::Es256])
            .issuer(text(input, "issuer")?)
            .audience(text(input, "audience")?)
            .typ("at+jwt")
            .build();
        let verified = verifier
            .verify(
                text(input, "token")?,
                &keys(input)?,
                number(input, "now_secs")? as i64,
            )
            .map_err(|e| failure(e.code(), e.to_string()))?;
        Ok(json!({ "header": verified.header, "claims": verified.claims }))
    }

    fn end_session(input: &Value) -> Result<Value, Value> {
        let metadata = metadata(input)?;
        let hint = optional(input, "id_token").map(Secret::from);
        let url = end_session_url(
            &metadata,
            text(input, "client_id")?,
            hint.as_ref(),
            optional(input, "post_logout_redirect_uri"),
            optional(input, "state"),
        )
        .map_err(|e| oauth_failure(&e))?;
        Ok(json!(url))
    }
}

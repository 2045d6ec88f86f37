//! The cross-tab messages as a Rust enum, and their strict codec.
//!
//! On the wire (a `BroadcastChannel`) a message is a flat object of typed fields, named by
//! [`Key::name`]. The shell reads each key of [`Key::ALL`] into a [`Value`] and calls
//! [`Envelope::decode`]; to send, it calls [`Envelope::encode`] (or [`TokenShare::encode`]) and
//! sets each `(key, value)` it is given on a fresh object. Decoding validates every field:
//! version, kind, integers that are finite, whole and in range (no NaN, no negative epoch),
//! string sizes, and no field that does not belong to the kind. Anything else is a
//! [`CodecError`] with a stable code, never a panic.

use core::fmt;

use crate::core::decode::DEFAULT_MAX_TOKEN_LEN;
use crate::core::secret::Secret;
use crate::core::session::Generation;

/// Protocol version carried by every message (field `v`).
pub const VERSION: u64 = 1;

/// The largest integer a JS number holds exactly (2^53 - 1): every numeric field fits in it.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A tab's random id, in `1..=MAX_SAFE_INTEGER` (so that it survives a trip through a JS
/// number). Ties between channel-fallback claims go to the lower id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TabId(u64);

/// The random id of a login: kept across refreshes and adoptions, new for every login or
/// `setTokens`. A logout names the epoch it ends; tokens of an ended epoch are never adopted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Epoch(u64);

macro_rules! random_id {
    ($name:ident) => {
        impl $name {
            /// The id `value`, if it is in `1..=MAX_SAFE_INTEGER`.
            pub fn new(value: u64) -> Option<Self> {
                (1..=MAX_SAFE_INTEGER)
                    .contains(&value)
                    .then_some(Self(value))
            }

            /// Maps any random word onto the valid range.
            pub fn from_random(word: u64) -> Self {
                Self(word % MAX_SAFE_INTEGER + 1)
            }

            /// The numeric value (exact as a JS number).
            pub fn get(self) -> u64 {
                self.0
            }
        }
    };
}
random_id!(TabId);
random_id!(Epoch);

/// A field of a message on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// `v`: the protocol version, [`VERSION`].
    Version,
    /// `t`: the kind, `"token"`, `"ask"`, `"logout"`, `"claim"` or `"release"`.
    Kind,
    /// `from`: the sender's [`TabId`].
    From,
    /// `at`: when the sender received the token (ms since the Unix epoch, local clock).
    At,
    /// `epoch`: the session's [`Epoch`].
    Epoch,
    /// `expiresIn`: the token response's `expires_in` in seconds (`1..=i32::MAX`), optional.
    ExpiresIn,
    /// `serverDateMs`: the token response's `Date` header in Unix ms, optional.
    ServerDateMs,
    /// `after`: an ask wants a token received after this time (ms).
    After,
    /// `until`: a fallback refresh claim lapses at this time (ms).
    Until,
    /// `accessToken`: the access token (1 to 8 KiB).
    AccessToken,
    /// `refreshToken`: the refresh token (memory mode only; 1 to 8 KiB), optional.
    RefreshToken,
}

impl Key {
    /// Every key, in the order a decoder reads them.
    pub const ALL: [Key; 11] = [
        Key::Version,
        Key::Kind,
        Key::From,
        Key::At,
        Key::Epoch,
        Key::ExpiresIn,
        Key::ServerDateMs,
        Key::After,
        Key::Until,
        Key::AccessToken,
        Key::RefreshToken,
    ];

    /// The property name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Key::Version => "v",
            Key::Kind => "t",
            Key::From => "from",
            Key::At => "at",
            Key::Epoch => "epoch",
            Key::ExpiresIn => "expiresIn",
            Key::ServerDateMs => "serverDateMs",
            Key::After => "after",
            Key::Until => "until",
            Key::AccessToken => "accessToken",
            Key::RefreshToken => "refreshToken",
        }
    }

    /// The longest string this key accepts, in UTF-16 code units or bytes (0: not a string).
    /// A shell should check a JS string's `length` against it before copying the string into
    /// wasm memory, and pass [`Value::Other`] when it is longer.
    pub fn max_text_len(self) -> usize {
        match self {
            Key::Kind => 8,
            Key::AccessToken | Key::RefreshToken => DEFAULT_MAX_TOKEN_LEN,
            _ => 0,
        }
    }
}

/// A field as the shell read it from a received object.
#[derive(Debug)]
pub enum Value {
    /// The property is missing, `undefined` or `null`.
    Absent,
    /// A JS number (any value, NaN and infinities included: the decoder checks).
    Number(f64),
    /// A string, taken straight into a [`Secret`] (tokens are wiped if the message is refused).
    Text(Secret),
    /// Anything else: another type, or a string longer than [`Key::max_text_len`].
    Other,
}

/// A field to set on an outgoing object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Out<'a> {
    /// A JS number (always a whole number below 2^53).
    Number(f64),
    /// A JS string. For tokens this is where the secret leaves custody: build the JS string
    /// and drop nothing else.
    Text(&'a str),
}

/// A received message and its sender.
#[derive(Debug)]
pub struct Envelope {
    /// The sender's id (messages from our own id are ignored).
    pub from: TabId,
    /// The message.
    pub message: Message,
}

/// The cross-tab messages (protocol version 1).
#[derive(Debug)]
#[non_exhaustive]
pub enum Message {
    /// `t: "token"`: the sender's current token, after a refresh, a login, or as an answer.
    Token(TokenMessage),
    /// `t: "ask"`: "who has a token received after `after`?" (0 from a new tab).
    Ask {
        /// Receipt time (ms) the answer must be newer than.
        after: u64,
    },
    /// `t: "logout"`: the session `epoch` is over in every tab.
    Logout {
        /// The epoch that ended.
        epoch: Epoch,
    },
    /// `t: "claim"`: channel fallback without Web Locks: the sender claims the refresh.
    Claim {
        /// When the claim lapses on its own (ms).
        until: u64,
    },
    /// `t: "release"`: the sender's claim is withdrawn.
    Release,
}

/// A token shared by a sibling.
#[derive(Debug)]
pub struct TokenMessage {
    /// When the sender received it (local-clock ms; the same machine, so the same clock).
    pub at: u64,
    /// Its session.
    pub epoch: Epoch,
    /// `expires_in` (seconds) of the response that carried it.
    pub expires_in: Option<u32>,
    /// `Date` of that response, Unix ms.
    pub server_date_ms: Option<u64>,
    /// The access token.
    pub access_token: Secret,
    /// The refresh token (memory mode).
    pub refresh_token: Option<Secret>,
}

/// What the coordinator wants shared, without the secrets: see
/// [`Action::PostToken`](super::Action::PostToken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenShare {
    /// Sender (this tab).
    pub from: TabId,
    /// The session token this describes: share only if it is still the session's current one.
    pub generation: Generation,
    /// Receipt time of the token.
    pub at: u64,
    /// Its session.
    pub epoch: Epoch,
    /// `expires_in` of its response, when it was in range.
    pub expires_in: Option<u32>,
    /// `Date` of its response.
    pub server_date_ms: Option<u64>,
}

impl TokenShare {
    /// Writes the `token` message with these fields and the session's secrets (the refresh
    /// token in memory mode only).
    pub fn encode(
        &self,
        access_token: &Secret,
        refresh_token: Option<&Secret>,
        mut write: impl FnMut(Key, Out<'_>),
    ) {
        header(self.from, "token", &mut write);
        write_token(
            self.at,
            self.epoch,
            self.expires_in,
            self.server_date_ms,
            access_token,
            refresh_token,
            &mut write,
        );
    }
}

/// Why a received object is not a valid message. Each has a stable [`CodecError::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// `v` is missing or not [`VERSION`].
    Version,
    /// `t` is missing or not a known kind.
    Kind,
    /// A field the kind needs is missing.
    Missing(Key),
    /// A field has the wrong type, is out of range, not finite, not whole, or too long.
    Invalid(Key),
    /// A field that does not belong to this kind is present.
    Unexpected(Key),
}

impl CodecError {
    /// `ERR_TAB_VERSION`, `ERR_TAB_KIND`, `ERR_TAB_MISSING`, `ERR_TAB_INVALID` or
    /// `ERR_TAB_UNEXPECTED`.
    pub fn code(self) -> &'static str {
        match self {
            CodecError::Version => "ERR_TAB_VERSION",
            CodecError::Kind => "ERR_TAB_KIND",
            CodecError::Missing(_) => "ERR_TAB_MISSING",
            CodecError::Invalid(_) => "ERR_TAB_INVALID",
            CodecError::Unexpected(_) => "ERR_TAB_UNEXPECTED",
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Version => f.write_str("unsupported cross-tab message version"),
            CodecError::Kind => f.write_str("unknown cross-tab message kind"),
            CodecError::Missing(key) => write!(f, "cross-tab message lacks `{}`", key.name()),
            CodecError::Invalid(key) => {
                write!(f, "cross-tab message has an invalid `{}`", key.name())
            }
            CodecError::Unexpected(key) => {
                write!(f, "cross-tab message has an unexpected `{}`", key.name())
            }
        }
    }
}

impl core::error::Error for CodecError {}

fn header(from: TabId, kind: &'static str, write: &mut impl FnMut(Key, Out<'_>)) {
    write(Key::Version, Out::Number(VERSION as f64));
    write(Key::Kind, Out::Text(kind));
    write(Key::From, Out::Number(from.0 as f64));
}

fn write_token(
    at: u64,
    epoch: Epoch,
    expires_in: Option<u32>,
    server_date_ms: Option<u64>,
    access_token: &Secret,
    refresh_token: Option<&Secret>,
    write: &mut impl FnMut(Key, Out<'_>),
) {
    write(Key::At, Out::Number(at.min(MAX_SAFE_INTEGER) as f64));
    write(Key::Epoch, Out::Number(epoch.0 as f64));
    if let Some(secs) = expires_in.filter(|s| valid_expires_in(u64::from(*s))) {
        write(Key::ExpiresIn, Out::Number(f64::from(secs)));
    }
    if let Some(date) = server_date_ms.filter(|d| *d <= MAX_SAFE_INTEGER) {
        write(Key::ServerDateMs, Out::Number(date as f64));
    }
    write(Key::AccessToken, Out::Text(access_token.expose()));
    if let Some(refresh) = refresh_token {
        write(Key::RefreshToken, Out::Text(refresh.expose()));
    }
}

fn valid_expires_in(secs: u64) -> bool {
    (1..=i32::MAX as u64).contains(&secs)
}

impl Envelope {
    /// Writes this message field by field.
    pub fn encode(&self, mut write: impl FnMut(Key, Out<'_>)) {
        let kind = match &self.message {
            Message::Token(_) => "token",
            Message::Ask { .. } => "ask",
            Message::Logout { .. } => "logout",
            Message::Claim { .. } => "claim",
            Message::Release => "release",
        };
        header(self.from, kind, &mut write);
        match &self.message {
            Message::Token(token) => write_token(
                token.at,
                token.epoch,
                token.expires_in,
                token.server_date_ms,
                &token.access_token,
                token.refresh_token.as_ref(),
                &mut write,
            ),
            Message::Ask { after } => write(Key::After, Out::Number(*after as f64)),
            Message::Logout { epoch } => write(Key::Epoch, Out::Number(epoch.0 as f64)),
            Message::Claim { until } => write(Key::Until, Out::Number(*until as f64)),
            Message::Release => {}
        }
    }

    /// Reads and validates a message; `read` returns each field as found on the object.
    pub fn decode(mut read: impl FnMut(Key) -> Value) -> Result<Envelope, CodecError> {
        let mut fields: [Value; 11] = Key::ALL.map(&mut read);
        let mut take = |key: Key| -> Value {
            let index = Key::ALL.iter().position(|k| *k == key).unwrap_or(0);
            core::mem::replace(&mut fields[index], Value::Absent)
        };
        match integer(Key::Version, take(Key::Version), 0, u64::MAX) {
            Ok(Some(VERSION)) => {}
            _ => return Err(CodecError::Version),
        }
        let kind = match take(Key::Kind) {
            Value::Text(text) => text,
            _ => return Err(CodecError::Kind),
        };
        let from = required(Key::From, take(Key::From), 1, MAX_SAFE_INTEGER).map(TabId)?;
        let message = match kind.expose() {
            "token" => {
                let at = required(Key::At, take(Key::At), 0, MAX_SAFE_INTEGER)?;
                let epoch = required(Key::Epoch, take(Key::Epoch), 1, MAX_SAFE_INTEGER)?;
                let expires_in = integer(Key::ExpiresIn, take(Key::ExpiresIn), 1, i32::MAX as u64)?;
                let server_date_ms = integer(
                    Key::ServerDateMs,
                    take(Key::ServerDateMs),
                    0,
                    MAX_SAFE_INTEGER,
                )?;
                let access_token = text(Key::AccessToken, take(Key::AccessToken))?
                    .ok_or(CodecError::Missing(Key::AccessToken))?;
                let refresh_token = text(Key::RefreshToken, take(Key::RefreshToken))?;
                Message::Token(TokenMessage {
                    at,
                    epoch: Epoch(epoch),
                    expires_in: expires_in.map(|s| s as u32),
                    server_date_ms,
                    access_token,
                    refresh_token,
                })
            }
            "ask" => Message::Ask {
                after: required(Key::After, take(Key::After), 0, MAX_SAFE_INTEGER)?,
            },
            "logout" => Message::Logout {
                epoch: Epoch(required(Key::Epoch, take(Key::Epoch), 1, MAX_SAFE_INTEGER)?),
            },
            "claim" => Message::Claim {
                until: required(Key::Until, take(Key::Until), 0, MAX_SAFE_INTEGER)?,
            },
            "release" => Message::Release,
            _ => return Err(CodecError::Kind),
        };
        // Whatever is left over does not belong to this kind.
        for key in Key::ALL {
            if !matches!(take(key), Value::Absent) {
                return Err(CodecError::Unexpected(key));
            }
        }
        Ok(Envelope { from, message })
    }
}

/// An optional whole number in `min..=max`.
fn integer(key: Key, value: Value, min: u64, max: u64) -> Result<Option<u64>, CodecError> {
    match value {
        Value::Absent => Ok(None),
        Value::Number(n)
            if n.is_finite()
                && n % 1.0 == 0.0
                && n >= min as f64
                && n <= max.min(MAX_SAFE_INTEGER) as f64 =>
        {
            Ok(Some(n as u64))
        }
        _ => Err(CodecError::Invalid(key)),
    }
}

fn required(key: Key, value: Value, min: u64, max: u64) -> Result<u64, CodecError> {
    integer(key, value, min, max)?.ok_or(CodecError::Missing(key))
}

/// An optional non-empty string within [`Key::max_text_len`].
fn text(key: Key, value: Value) -> Result<Option<Secret>, CodecError> {
    match value {
        Value::Absent => Ok(None),
        Value::Text(text) if !text.is_empty() && text.len() <= key.max_text_len() => Ok(Some(text)),
        _ => Err(CodecError::Invalid(key)),
    }
}

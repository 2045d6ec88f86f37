//! Many tabs, one session: the cross-tab [`Coordinator`], a sans-IO machine that sits next to
//! each tab's [`Session`](crate::core::session::Session) the way quinn-proto's `Endpoint` sits
//! next to its `Connection`s. It decides who refreshes (a lock with a timeout and a steal, or
//! claims over the channel without Web Locks), which sibling token to adopt, how to recover
//! from `invalid_grant`, how a new tab takes over the session and how logout reaches every tab.
//! The shell only moves messages, lock grants, HTTP results and time between the machines.
//!
//! # Rules (the browser shell's cross-tab behaviour, with what the simulation changed)
//!
//! - **Single-flight across tabs.** A wanted refresh first takes the refresh lock. It is released
//!   [`TabPolicy::release_delay_ms`] after the result (so the new token's message is ahead of the
//!   grant in the next holder's queue), and in any case [`TabPolicy::lock_hold_ms`] after the
//!   refresh started. A request still waiting after [`TabPolicy::lock_acquire_ms`] is replaced by
//!   a steal (its holder exceeded its own bound: frozen or broken). Without Web Locks, tabs claim
//!   the refresh over the channel: a claim lapses on its own; the earlier claim wins, ties go to
//!   the lower [`TabId`].
//! - *Changed:* a grant that came after a wait (a sibling held the lock) starts the refresh only
//!   [`TabPolicy::contended_settle_ms`] later: the previous holder's token message may be slower
//!   than the release delay, and arriving meanwhile it cancels this refresh. (With this wait at
//!   0 and the old 60 ms claim settle, the simulation counts 3,011 redundant refreshes instead
//!   of 2,143, 839 instead of 302 on a lossless channel, and sees reuse in 31 of 1,000 runs.)
//! - *Changed:* a refresh call in flight is never abandoned: when the session cancels it (a
//!   sibling's token arrived, logout), the lock stays until its result and the shell must not
//!   abort the fetch. Aborting loses the response's rotated cookie, and the next refresh is then
//!   reuse, which revokes the family (the simulation: 176 of 1,000 runs).
//! - *Changed:* a refreshed token is dated by when its call started. A tab frozen while its
//!   response was in flight handles it on waking, and dated by that time its token looked newer
//!   than a sibling's genuinely fresher one, which the sibling then adopted.
//! - *Changed (channel fallback):* the earlier claim wins whatever order claims arrive in; a tab
//!   holding the earlier claim repeats it when it hears a later one (a tab opened after the first
//!   claim never saw it); a release no longer cuts a posted claim's settle time short; and the
//!   settle time is 500 ms instead of 60 (slower messages let two claimants refresh at once).
//!   Claims exclude each other only on a channel that delivers them, within the settle time.
//! - *Changed:* a lock wait whose deadline is found passed by more than
//!   [`TabPolicy::overdue_ms`] was overtaken by a frozen tab, not by a stuck holder: it waits
//!   again instead of stealing (the simulation without token sharing, seed 67: the steal took the
//!   lock from a refresh in flight and the server saw the rotated cookie again).
//! - *Changed:* with [`TabPolicy::share_tokens`] off, a tab that starts a refresh under Web
//!   Locks posts a claim (no token), and a waiter's steal deadline then counts from that claim:
//!   no sibling token will cancel the waiter's own refresh, so stealing from a refresh in
//!   flight would present the cookie it is rotating (the simulation: reuse in 5 of 1,000 runs
//!   before, 3 after, two of them without Web Locks).
//! - *Changed (forged claims):* a claim no longer postpones refreshes without bound. With Web
//!   Locks the lock is the authority: claims are ignored when tokens are shared (no tab posts
//!   one then), and without shared tokens a claim moves a waiting request's steal deadline at
//!   most once per request. Without Web Locks, a refresh that claims have kept waiting for
//!   [`TabPolicy::lock_acquire_ms`] ignores them and runs unguarded, as a steal would. (Before,
//!   a same-origin script posting a claim every 4 s kept every tab from refreshing.)
//! - **Sharing.** After a refresh or login the tab posts its token with its receipt time, the
//!   response's `expires_in` and `Date`, and the session [`Epoch`]. A sibling adopts a token that
//!   is newer than its own, not expired on arrival, of an epoch not ended here, and for the same
//!   `iss`/`sub` as the session it holds (read from the token itself, not from the message).
//!   Adopting cancels the tab's own pending refresh. With [`TabPolicy::share_tokens`] off
//!   (the package's worker custody) no token is posted or adopted and each tab refreshes for
//!   itself under the lock; logout still reaches every tab.
//! - **Hand-over.** `start()` in a tab with no session asks the siblings and waits
//!   [`TabPolicy::handover_ms`] for an answer (not at all when it knows it is alone).
//! - **Recovery.** A refresh answered with `invalid_grant` is held back while the siblings are
//!   asked for a newer token ([`TabPolicy::recovery_ms`]); the session ends only if none comes.
//! - **Logout** names the epoch it ends; a tab ends its session only for its own epoch, and never
//!   adopts a token of an ended epoch again.
//! - **Answers** to asks are rate-limited: the same token is posted at most once per
//!   [`TabPolicy::answer_interval_ms`], however many asks arrive.
//!
//! # What a same-origin script can do through the channel
//!
//! The channel reaches every same-origin context of the browser profile, and there is no secret
//! all tabs share before they hold the session, so messages cannot be authenticated. Through the
//! channel, such a script can: read every token posted (after each refresh and login); obtain the
//! current token by asking as a new tab would (at most once per `answer_interval_ms`); make a tab
//! install a token for the **same** `iss`/`sub` as its session (or any token in a tab with no
//! session), which the API server will reject if it is forged; and end a session whose epoch it
//! has read from a token message. It cannot make a tab adopt a token for another user, an expired
//! token, or a token of an ended epoch; cannot stall logouts or refreshes with malformed numbers
//! (NaN, negative, fractional, beyond 2^53: refused by the codec); and cannot make a tab post its
//! token more than once per interval. Turn `crossTab` off if same-origin contexts must not share.
//!
//! # API note for the shell
//!
//! Create one [`Coordinator`] per manager with [`Coordinator::new`] (a random [`TabId`], a
//! random seed for epochs, and whether Web Locks exist). Then, besides the session's own loop:
//!
//! | when | call |
//! |---|---|
//! | a channel message arrives | [`Envelope::decode`], then [`Coordinator::handle_message`] (drop the message on a decode error) |
//! | the session emits `StartRefresh { generation }` | [`Coordinator::handle_refresh_wanted`] instead of calling the endpoint |
//! | the session emits `CancelRefresh { generation }` | [`Coordinator::handle_refresh_cancelled`]; do **not** abort a call started by [`Action::StartRefresh`] (see there) |
//! | the refresh call answered 2xx with a token | `Session::handle_refresh_ok`, then [`Coordinator::handle_installed`], then [`Coordinator::handle_refresh_result`] with [`RefreshOutcome::Succeeded`] |
//! | the refresh call failed | [`Coordinator::handle_refresh_result`] only; the failure comes back as [`Action::ReportRefreshFailure`] |
//! | the session installed a token (login, `setTokens`, refresh, sibling) | [`Coordinator::handle_installed`] |
//! | the session ended (any reason) | [`Coordinator::handle_session_ended`] |
//! | `start()` with no session | [`Coordinator::handle_start`], then wait for [`Action::HandOverFinished`] |
//! | a Web Lock request is granted / stolen from us / threw | [`Coordinator::handle_lock_granted`] / [`Coordinator::handle_lock_lost`] / [`Coordinator::handle_lock_unavailable`] |
//! | the timer for [`Coordinator::poll_timeout`] fires | [`Coordinator::handle_timeout`] |
//!
//! After every call drain [`Coordinator::poll_action`] and perform each [`Action`] as its docs
//! say, then re-arm one timer for [`Coordinator::poll_timeout`]. Actions that feed the session
//! ([`Action::InstallSiblingToken`], [`Action::ReportRefreshFailure`], [`Action::EndSession`])
//! make it emit actions of its own: drain both machines until both are quiet.
//!
//! The session needs no new input for this; [`Action::InstallSiblingToken`] uses
//! `Session::handle_sibling_tokens` and [`Action::EndSession`] uses `Session::logout_with`.
//! Two things the session should change, found by the simulation:
//!
//! - Pass the time the refresh call **started** as the receipt time of its grant
//!   (`handle_refresh_ok(generation, grant, started_at)`, then `handle_timeout(now)`), and the
//!   same to [`Coordinator::handle_installed`]: `expires_in` counted from the wake-up of a tab
//!   frozen during the call makes an expired token look valid (the simulation's shell does this).
//!   A separate `received_at` argument on `handle_refresh_ok` would say it better.
//! - Memory mode: a refresh the session cancelled may still succeed at the server, and then its
//!   refresh token is the only valid one. `handle_refresh_ok` ignores it (not the current
//!   generation), so the next refresh presents a rotated token. The session should install a
//!   late success as newer tokens (as `handle_sibling_tokens` does). Cookie mode is not affected:
//!   the cookie jar keeps the rotated cookie. The simulation covers cookie mode only.
//!
//! # The simulation (`sim.rs`)
//!
//! 1,000 seeds of 2 to 8 tabs for ten token lifetimes each, over a channel that delays (with
//! spikes to 500 ms), duplicates, reorders and, in half the runs, drops 2-20% of messages; a lock
//! manager whose holder closes mid-refresh; sleeping tabs; tabs opening; logouts. Asserted: the
//! server never sees a refresh token presented again, except one whose rotation was lost with a
//! tab closed mid-refresh (no client rule can see that request; a server reuse grace window
//! absorbs it, and the count is checked against the crashes); every live, awake tab attaches
//! only tokens the server accepts and never waits more than 40 s for one; after a logout, every
//! live tab has ended its session within 2 s of being awake (a lossy channel: within a token
//! lifetime plus 30 s); no deadlock (the lock is never left with a closed tab), no livelock (time
//! advances, steps are bounded); redundant refreshes (less than half a lifetime after the last)
//! are at most the crashes, sleeps, lost token messages and opened tabs of the run.

mod codec;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

use crate::prelude::*;

use alloc::collections::VecDeque;

use crate::core::claims::Claims;
use crate::core::decode::decode_unverified;
use crate::core::session::{Generation, RefreshFailure, TokenGrant};

pub use self::codec::{
    CodecError, Envelope, Epoch, Key, Message, Out, TabId, TokenMessage, TokenShare, Value,
    MAX_SAFE_INTEGER, VERSION,
};

/// Every timing constant of the cross-tab rules, in ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabPolicy {
    /// How long `start()` waits for a sibling to hand over its session (default 300).
    pub handover_ms: u64,
    /// How long an `invalid_grant` is held back while siblings are asked (default 300).
    pub recovery_ms: u64,
    /// The lock is released this long after the refresh result (default 50).
    pub release_delay_ms: u64,
    /// After a grant, the refresh starts this much later, so that a token message queued behind
    /// the grant is handled first (default 0: the next turn of the event loop).
    pub grant_settle_ms: u64,
    /// A grant that came more than this after the request was contended (default 5).
    pub contention_ms: u64,
    /// After a contended grant (or claim), the refresh starts this much later, so that the
    /// previous holder's token message, slower than the release delay, still cancels it
    /// (default 500).
    pub contended_settle_ms: u64,
    /// The lock is released at the latest this long after the refresh started (default the
    /// request timeout + 2 000).
    pub lock_hold_ms: u64,
    /// A lock request still waiting after this long becomes a steal (default the request
    /// timeout + 5 000).
    pub lock_acquire_ms: u64,
    /// Channel fallback: how long a claim waits for competing claims (default 500; claims are
    /// safe only while channel delays stay below it).
    pub claim_settle_ms: u64,
    /// Channel fallback: a sibling's claim is believed for at most this long (default 60 000).
    pub claim_max_ms: u64,
    /// The same token is posted in answer to asks at most once per this interval (default 1 000).
    pub answer_interval_ms: u64,
    /// How many ended epochs are remembered (default 16).
    pub ended_kept: usize,
    /// A lock wait whose deadline is found passed by more than this was overtaken by a frozen
    /// tab (its timer fired that late), not by a stuck holder: it waits again instead of
    /// stealing or refreshing unguarded (default 1 000).
    pub overdue_ms: u64,
    /// Whether tokens travel on the channel (default true). With `false` (worker custody: the
    /// channel is readable by every same-origin page script) no token is posted or adopted,
    /// `start()` hands nothing over, `invalid_grant` is not held back for a sibling's answer, a
    /// contended grant does not wait for the previous holder's token, and a sibling's logout
    /// ends the session whatever its epoch (epochs travel with tokens, so each tab has its own).
    /// The lock still serializes refreshes, so rotation never sees reuse; each tab refreshes
    /// for itself, with the refresh cookie the browser shares.
    pub share_tokens: bool,
}

impl TabPolicy {
    /// The defaults for auth calls that time out after `request_timeout_ms`.
    pub fn for_request_timeout(request_timeout_ms: u64) -> Self {
        Self {
            handover_ms: 300,
            recovery_ms: 300,
            release_delay_ms: 50,
            grant_settle_ms: 0,
            contention_ms: 5,
            contended_settle_ms: 500,
            lock_hold_ms: request_timeout_ms.saturating_add(2_000),
            lock_acquire_ms: request_timeout_ms.saturating_add(5_000),
            claim_settle_ms: 500,
            claim_max_ms: 60_000,
            answer_interval_ms: 1_000,
            ended_kept: 16,
            overdue_ms: 1_000,
            share_tokens: true,
        }
    }
}

impl Default for TabPolicy {
    /// For the default request timeout of 10 s.
    fn default() -> Self {
        Self::for_request_timeout(10_000)
    }
}

/// Whose session a token belongs to: its `iss` and `sub` claims (both `None` for an opaque
/// token). Tokens are only adopted for the identity of the session a tab holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// `iss`.
    pub iss: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
}

impl Identity {
    /// The identity in these (unverified) claims; `None` is an opaque token.
    pub fn of(claims: Option<&Claims>) -> Self {
        Self {
            iss: claims.and_then(|c| c.iss.clone()),
            sub: claims.and_then(|c| c.sub.clone()),
        }
    }
}

/// How the session got the token reported with [`Coordinator::handle_installed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallOrigin {
    /// `login()` or `setTokens()`: a new session (a new [`Epoch`]), shared with the siblings.
    Login,
    /// Our own refresh: the same epoch, shared with the siblings.
    Refresh,
    /// The [`Action::InstallSiblingToken`] just performed (not shared again).
    Sibling,
}

/// A token the session has just installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledToken {
    /// Its generation (`Session::generation()` after the install).
    pub generation: Generation,
    /// Where it came from.
    pub origin: InstallOrigin,
    /// When it was received (local-clock ms).
    pub received_at: u64,
    /// The response's `expires_in`.
    pub expires_in: Option<i64>,
    /// The response's `Date`, in Unix ms.
    pub server_date_ms: Option<u64>,
    /// Its `iss`/`sub` ([`Identity::of`] its decoded claims).
    pub identity: Identity,
}

/// A lock request, named so that a late grant of an abandoned request is told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LockTicket(u64);

impl LockTicket {
    /// The number, for a shell that hands tickets to JS (the npm package's engine).
    #[cfg_attr(not(all(target_arch = "wasm32", feature = "engine")), allow(dead_code))]
    pub(crate) fn raw(self) -> u64 {
        self.0
    }

    /// The ticket named by [`LockTicket::raw`]; an unknown one is ignored.
    #[cfg_attr(not(all(target_arch = "wasm32", feature = "engine")), allow(dead_code))]
    pub(crate) fn from_raw(raw: u64) -> Self {
        Self(raw)
    }
}

/// How the refresh call ended, for [`Coordinator::handle_refresh_result`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// A token came back and was handed to `Session::handle_refresh_ok`.
    Succeeded,
    /// The call failed (it was not reported to the session).
    Failed(RefreshFailure),
}

/// A sibling's token to install, see [`Action::InstallSiblingToken`].
#[derive(Debug)]
pub struct Adoption {
    /// The tokens, `exp` and `iat` decoded, `expires_in` and `Date` as the sibling got them.
    pub grant: TokenGrant,
    /// When the sibling received it (local clock; never later than now).
    pub received_at: u64,
    /// Its decoded (unverified) claims, for the shell's `claims` getter.
    pub claims: Option<Claims>,
}

/// What the shell must do next; see [`Coordinator::poll_action`]. Each variant says what the
/// caller must do and what to report afterwards.
#[derive(Debug)]
#[non_exhaustive]
pub enum Action {
    /// Post this message on the channel: [`Envelope::encode`] onto a fresh object, then
    /// `postMessage` it. Nothing to report.
    Post(Envelope),
    /// Share the session's current token: if `Session::generation()` is still
    /// `share.generation` and the session is `Authenticated` (a usable token and no refresh in
    /// flight), [`TokenShare::encode`] it with the access token (and in memory mode the refresh
    /// token; skip the post if there is none) and post it. Otherwise drop the action.
    PostToken(TokenShare),
    /// Request the refresh lock (Web Locks, exclusive; with `{steal: true}` when `steal`), keep
    /// `ticket` with the request, and report [`Coordinator::handle_lock_granted`] when the
    /// callback runs (hold the lock until [`Action::ReleaseLock`] names this ticket),
    /// [`Coordinator::handle_lock_lost`] if it is stolen later, or
    /// [`Coordinator::handle_lock_unavailable`] if the request throws.
    RequestLock {
        /// Names this request in later actions and reports.
        ticket: LockTicket,
        /// Take the lock from its holder.
        steal: bool,
    },
    /// Abort the pending request `ticket` (its `AbortSignal`). A grant that races the abort is
    /// still reported; the coordinator then releases it.
    CancelLockRequest {
        /// The request to abort.
        ticket: LockTicket,
    },
    /// Release the lock held under `ticket` (settle the callback's promise).
    ReleaseLock {
        /// The lock to release.
        ticket: LockTicket,
    },
    /// Call the refresh endpoint now for the session's refresh `generation` (the lock is held).
    /// Report the outcome with [`Coordinator::handle_refresh_result`] (a success also goes to
    /// `Session::handle_refresh_ok` first, which ignores it if the refresh was cancelled).
    /// Never abort this call when the session cancels the refresh (only on the request
    /// timeout): once it reached the server the refresh token is rotated, and an aborted fetch
    /// drops the response's `Set-Cookie`, so the next refresh would present the old cookie and
    /// the server would revoke the whole family as reuse. The coordinator keeps the lock until
    /// the result.
    StartRefresh {
        /// The session's refresh generation.
        generation: Generation,
    },
    /// Report this failure to the session now: `Session::handle_refresh_err(generation,
    /// failure, now)` (ignored there if the refresh was superseded).
    ReportRefreshFailure {
        /// The refresh that failed.
        generation: Generation,
        /// How.
        failure: RefreshFailure,
    },
    /// Install a sibling's token: `Session::handle_sibling_tokens(grant, received_at, now)`,
    /// keep `claims` for the new generation, wake waiting requests, then report
    /// [`Coordinator::handle_installed`] with [`InstallOrigin::Sibling`].
    InstallSiblingToken(Adoption),
    /// A sibling ended this session: `Session::logout_with(LogoutReason::OtherTab)` (drop the
    /// returned credentials: the sibling already revoked them), wake waiting requests.
    EndSession,
    /// The hand-over started by [`Coordinator::handle_start`] is over: `adopted` tells whether a
    /// sibling's session was installed. If not, restore the session the usual way (a cookie
    /// refresh).
    HandOverFinished {
        /// A sibling's token was installed.
        adopted: bool,
    },
}

/// The session's current token as the coordinator knows it.
#[derive(Debug, Clone)]
struct Current {
    generation: Option<Generation>,
    at: u64,
    expires_in: Option<u32>,
    server_date_ms: Option<u64>,
    epoch: Epoch,
    identity: Identity,
}

/// The refresh lock, from this tab's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    /// Not held, not requested.
    Free,
    /// Web Locks request outstanding; at `give_up_at` it becomes a steal (or, for a steal, the
    /// refresh goes unguarded).
    Requested {
        ticket: LockTicket,
        steal: bool,
        give_up_at: u64,
        /// A sibling's claim already moved `give_up_at` (it may, once per request).
        extended: bool,
    },
    /// Channel fallback: our claim (if `posted`) is waiting for competitors until `check_at`.
    Claiming { posted: bool, check_at: u64 },
    /// Held (or, `ticket: None`, claimed over the channel / unguarded); released at `release_at`
    /// when set.
    Held {
        ticket: Option<LockTicket>,
        claimed: bool,
        release_at: Option<u64>,
    },
}

/// The session's outstanding refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Idle,
    /// Waiting for the lock.
    Wanted {
        generation: Generation,
    },
    /// Lock held; the refresh starts at `start_at`.
    Settling {
        generation: Generation,
        start_at: u64,
    },
    /// The HTTP call runs; the lock is released at `hold_until` at the latest. A `cancelled`
    /// call is still awaited with the lock held: it may have rotated the refresh token.
    Running {
        generation: Generation,
        hold_until: u64,
        cancelled: bool,
    },
    /// `invalid_grant` held back until `until` while the siblings are asked.
    Recovering {
        generation: Generation,
        until: u64,
    },
}

impl Flow {
    fn generation(self) -> Option<Generation> {
        match self {
            Flow::Idle => None,
            Flow::Wanted { generation }
            | Flow::Settling { generation, .. }
            | Flow::Running { generation, .. }
            | Flow::Recovering { generation, .. } => Some(generation),
        }
    }
}

/// Why a sibling's token was not adopted (for tests and diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Its epoch was ended here.
    EndedEpoch,
    /// Not newer than ours.
    NotNewer,
    /// Expired on arrival.
    Expired,
    /// Another `iss`/`sub` than our session's.
    OtherIdentity,
    /// Memory mode and no refresh token.
    NoRefreshToken,
    /// Tokens are not shared ([`TabPolicy::share_tokens`] is off).
    NotShared,
}

/// One SplitMix64 step over `state`.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The cross-tab coordinator of one tab. See the [module docs](self) for the rules and the
/// calling contract; like `Session` it never reads a clock, does no I/O, and takes randomness
/// from the seed given to [`Coordinator::new`].
#[derive(Debug)]
pub struct Coordinator {
    policy: TabPolicy,
    id: TabId,
    web_locks: bool,
    memory_mode: bool,
    rng: u64,
    current: Option<Current>,
    /// Filled when an adoption was handed to the shell, until it reports the install.
    adopting: Option<Current>,
    ended: VecDeque<Epoch>,
    /// Channel fallback: live claims of siblings (id, `until` as sent, lapses at).
    claims: Vec<(TabId, u64, u64)>,
    /// Channel fallback: the `until` of our posted claim.
    my_claim: Option<u64>,
    /// When the outstanding refresh was wanted, and whether a sibling competed for the lock.
    wanted_at: u64,
    contended: bool,
    /// A refresh wanted while a cancelled one still runs: it starts after that one's result.
    queued: Option<Generation>,
    /// When the last refresh call started: its token is never dated later than that.
    refresh_started_at: u64,
    lock: Lock,
    flow: Flow,
    next_ticket: u64,
    handover_until: Option<u64>,
    /// Receipt time of the token last posted in answer to an ask, and when.
    last_answer: Option<(u64, u64)>,
    actions: VecDeque<Action>,
    /// Last refusal, for tests.
    last_refusal: Option<Refusal>,
}

impl Coordinator {
    /// A coordinator for the tab `id`. `seed` feeds the epochs of new logins (use a random
    /// value); `web_locks`: `navigator.locks` exists (otherwise claims go over the channel);
    /// `memory_mode`: refresh tokens live in memory (shared tokens must carry one).
    pub fn new(
        policy: TabPolicy,
        id: TabId,
        seed: u64,
        web_locks: bool,
        memory_mode: bool,
    ) -> Self {
        Self {
            policy,
            id,
            web_locks,
            memory_mode,
            rng: seed,
            current: None,
            adopting: None,
            ended: VecDeque::new(),
            claims: Vec::new(),
            my_claim: None,
            wanted_at: 0,
            contended: false,
            queued: None,
            refresh_started_at: 0,
            lock: Lock::Free,
            flow: Flow::Idle,
            next_ticket: 0,
            handover_until: None,
            last_answer: None,
            actions: VecDeque::new(),
            last_refusal: None,
        }
    }

    /// This tab's id.
    pub fn id(&self) -> TabId {
        self.id
    }

    /// The policy in use.
    pub fn policy(&self) -> &TabPolicy {
        &self.policy
    }

    /// The epoch of the session this tab holds, if any.
    pub fn epoch(&self) -> Option<Epoch> {
        self.current.as_ref().map(|c| c.epoch)
    }

    /// Why the last sibling token was refused, if it was.
    pub fn last_refusal(&self) -> Option<Refusal> {
        self.last_refusal
    }

    /// The next thing the shell must do, or `None`. Drain it after every input.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When to call [`Coordinator::handle_timeout`] next (local-clock ms), if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        let lock = match self.lock {
            Lock::Requested { give_up_at, .. } => Some(give_up_at),
            Lock::Claiming { check_at, .. } => Some(check_at),
            Lock::Held { release_at, .. } => release_at,
            Lock::Free => None,
        };
        let flow = match self.flow {
            Flow::Settling { start_at, .. } => Some(start_at),
            Flow::Running { hold_until, .. }
                if matches!(
                    self.lock,
                    Lock::Held {
                        release_at: None,
                        ..
                    }
                ) =>
            {
                Some(hold_until)
            }
            Flow::Recovering { until, .. } => Some(until),
            _ => None,
        };
        [lock, flow, self.handover_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// A message from a sibling (already decoded and validated by [`Envelope::decode`]).
    pub fn handle_message(&mut self, from: TabId, message: Message, now: u64) {
        if from == self.id {
            return;
        }
        match message {
            Message::Token(token) => {
                let result = self.consider(token, now);
                self.last_refusal = result.err();
            }
            Message::Ask { after } => self.answer(after, now),
            Message::Logout { epoch } => self.remote_logout(epoch),
            Message::Claim { .. } if self.web_locks => {
                // With Web Locks the lock is the authority. Without shared tokens a claim says
                // "a sibling started a refresh": a steal from it waits the full acquire bound
                // from now, not from this tab's request; but only once per request, so that a
                // script posting claims cannot postpone the steal for ever. With shared tokens
                // no tab posts claims under Web Locks: they are ignored.
                if let Lock::Requested {
                    give_up_at,
                    extended: extended @ false,
                    ..
                } = &mut self.lock
                {
                    if !self.policy.share_tokens {
                        *give_up_at =
                            (*give_up_at).max(now.saturating_add(self.policy.lock_acquire_ms));
                        *extended = true;
                    }
                }
            }
            Message::Claim { until } => {
                let lapses = until.min(now.saturating_add(self.policy.claim_max_ms));
                self.claims.retain(|(id, _, _)| *id != from);
                self.claims.push((from, until, lapses));
                self.contended = true;
                // A tab that opened after our claim never saw it: tell it again if ours is the
                // earlier one (only the earlier claimant answers, so this cannot loop).
                let ours = matches!(
                    self.lock,
                    Lock::Claiming { posted: true, .. } | Lock::Held { claimed: true, .. }
                );
                if let Some(mine) = self.my_claim.filter(|_| ours) {
                    if (mine, self.id) < (until, from) {
                        self.post(Message::Claim { until: mine });
                    }
                }
            }
            Message::Release => {
                self.claims.retain(|(id, _, _)| *id != from);
                // Waiting for siblings' claims to go: look again now. (A posted claim still
                // waits out its settle time for competitors.)
                if let Lock::Claiming {
                    posted: false,
                    check_at,
                } = &mut self.lock
                {
                    *check_at = (*check_at).min(now);
                }
            }
        }
        self.settle(now);
    }

    /// The session wants a refresh (its `Action::StartRefresh { generation }`): the coordinator
    /// takes the lock first and answers with [`Action::StartRefresh`] when it may run.
    pub fn handle_refresh_wanted(&mut self, generation: Generation, now: u64) {
        if self.flow.generation().is_some() {
            // The session has one refresh outstanding at a time: a new one supersedes.
            self.abandon_flow(now);
        }
        if let Flow::Running {
            cancelled: true, ..
        } = self.flow
        {
            // The superseded call may rotate the refresh token: start after its result.
            self.queued = Some(generation);
            self.settle(now);
            return;
        }
        self.flow = Flow::Wanted { generation };
        self.wanted_at = now;
        self.contended = false;
        match self.lock {
            Lock::Held { .. } => self.granted(now),
            Lock::Requested { .. } | Lock::Claiming { .. } => {}
            Lock::Free if self.web_locks => self.request_lock(false, now),
            Lock::Free => {
                self.lock = Lock::Claiming {
                    posted: false,
                    check_at: now,
                }
            }
        }
        self.settle(now);
    }

    /// The session cancelled its refresh `generation` (its `Action::CancelRefresh`).
    pub fn handle_refresh_cancelled(&mut self, generation: Generation, now: u64) {
        if self.queued == Some(generation) {
            self.queued = None;
        }
        if self.flow.generation() == Some(generation) {
            self.abandon_flow(now);
        }
        self.settle(now);
    }

    /// The refresh call for `generation` ended.
    pub fn handle_refresh_result(
        &mut self,
        generation: Generation,
        outcome: RefreshOutcome,
        now: u64,
    ) {
        let ours =
            self.flow.generation() == Some(generation) && matches!(self.flow, Flow::Running { .. });
        let wanted = ours
            && matches!(
                self.flow,
                Flow::Running {
                    cancelled: false,
                    ..
                }
            );
        match outcome {
            RefreshOutcome::Failed(RefreshFailure::InvalidGrant)
                if wanted && self.policy.share_tokens =>
            {
                // A sibling may already have rotated the refresh token: ask before giving up.
                let after = self.current.as_ref().map_or(0, |c| c.at);
                self.post(Message::Ask { after });
                self.flow = Flow::Recovering {
                    generation,
                    until: now.saturating_add(self.policy.recovery_ms),
                };
            }
            RefreshOutcome::Failed(failure) => {
                self.actions.push_back(Action::ReportRefreshFailure {
                    generation,
                    failure,
                });
                if ours {
                    self.finish_flow(now);
                }
            }
            RefreshOutcome::Succeeded => {
                if ours {
                    self.finish_flow(now);
                }
            }
        }
        self.settle(now);
    }

    /// The session installed a token.
    pub fn handle_installed(&mut self, token: InstalledToken, now: u64) {
        let expires_in = token
            .expires_in
            .and_then(|s| u32::try_from(s).ok())
            .filter(|s| (1..=i32::MAX as u32).contains(s));
        let fresh = |epoch| Current {
            generation: Some(token.generation),
            at: token.received_at.min(now),
            expires_in,
            server_date_ms: token.server_date_ms,
            epoch,
            identity: token.identity.clone(),
        };
        let (current, share) = match token.origin {
            InstallOrigin::Login => (fresh(self.new_epoch()), true),
            InstallOrigin::Refresh => {
                let epoch = match &self.current {
                    Some(c) => c.epoch,
                    None => self.new_epoch(),
                };
                let mut current = fresh(epoch);
                if matches!(self.flow, Flow::Running { .. }) {
                    // A response handled late (the tab was frozen while it was in flight) must
                    // not look fresher than a sibling's token: date it by the call's start.
                    current.at = current.at.min(self.refresh_started_at);
                }
                (current, true)
            }
            InstallOrigin::Sibling => match self.adopting.take() {
                Some(adopted) => (
                    Current {
                        generation: Some(token.generation),
                        ..adopted
                    },
                    false,
                ),
                None => {
                    let epoch = match &self.current {
                        Some(c) => c.epoch,
                        None => self.new_epoch(),
                    };
                    (fresh(epoch), false)
                }
            },
        };
        self.current = Some(current);
        if share {
            self.share();
        }
        if self.handover_until.take().is_some() {
            self.actions
                .push_back(Action::HandOverFinished { adopted: true });
        }
        self.settle(now);
    }

    /// The session ended (logout, `invalid_grant`, or the [`Action::EndSession`] just
    /// performed). If this tab still knew the session, its epoch ends in every tab.
    pub fn handle_session_ended(&mut self, now: u64) {
        if let Some(current) = self.current.take() {
            self.end_epoch(current.epoch);
            self.post(Message::Logout {
                epoch: current.epoch,
            });
        }
        self.adopting = None;
        if self.flow.generation().is_some() {
            self.abandon_flow(now);
        }
        self.settle(now);
    }

    /// `start()` in a tab with no session: ask the siblings for theirs. `siblings` is how many
    /// other managers share the channel, if known (Web Locks presence); with `Some(0)` nobody is
    /// asked. Answered with [`Action::HandOverFinished`].
    pub fn handle_start(&mut self, siblings: Option<usize>, now: u64) {
        if self.current.is_some() || siblings == Some(0) || !self.policy.share_tokens {
            self.actions
                .push_back(Action::HandOverFinished { adopted: false });
        } else if self.handover_until.is_none() {
            self.post(Message::Ask { after: 0 });
            self.handover_until = Some(now.saturating_add(self.policy.handover_ms));
        }
        self.settle(now);
    }

    /// The lock request `ticket` was granted.
    pub fn handle_lock_granted(&mut self, ticket: LockTicket, now: u64) {
        match self.lock {
            Lock::Requested { ticket: t, .. } if t == ticket => {
                self.lock = Lock::Held {
                    ticket: Some(ticket),
                    claimed: false,
                    release_at: None,
                };
                if matches!(self.flow, Flow::Wanted { .. }) {
                    if now.saturating_sub(self.wanted_at) > self.policy.contention_ms {
                        self.contended = true;
                    }
                    self.granted(now);
                } else {
                    self.release_now();
                }
            }
            // A grant for a request we gave up: release it at once.
            _ => self.actions.push_back(Action::ReleaseLock { ticket }),
        }
        self.settle(now);
    }

    /// The lock held under `ticket` was stolen by a sibling (or the request was aborted).
    pub fn handle_lock_lost(&mut self, ticket: LockTicket, now: u64) {
        let ours = match self.lock {
            Lock::Held {
                ticket: Some(t), ..
            }
            | Lock::Requested { ticket: t, .. } => t == ticket,
            _ => false,
        };
        if ours {
            self.lock = Lock::Free;
            if let Flow::Settling { generation, .. } = self.flow {
                // Not started yet: queue again.
                self.flow = Flow::Wanted { generation };
                self.request_lock(false, now);
            } else if let Flow::Wanted { .. } = self.flow {
                self.request_lock(false, now);
            }
        }
        self.settle(now);
    }

    /// The lock request `ticket` threw (e.g. a sandboxed document): refresh unguarded.
    pub fn handle_lock_unavailable(&mut self, ticket: LockTicket, now: u64) {
        if matches!(self.lock, Lock::Requested { ticket: t, .. } if t == ticket) {
            self.lock = Lock::Held {
                ticket: None,
                claimed: false,
                release_at: None,
            };
            if matches!(self.flow, Flow::Wanted { .. }) {
                self.granted(now);
            }
        }
        self.settle(now);
    }

    /// The timer for [`Coordinator::poll_timeout`] fired (extra or early calls do nothing).
    pub fn handle_timeout(&mut self, now: u64) {
        self.settle(now);
    }

    // --- internals ---------------------------------------------------------------------------

    fn new_epoch(&mut self) -> Epoch {
        // Epochs need spread, not secrecy: they travel in the clear.
        Epoch::from_random(splitmix64(&mut self.rng))
    }

    fn post(&mut self, message: Message) {
        self.actions.push_back(Action::Post(Envelope {
            from: self.id,
            message,
        }));
    }

    fn share(&mut self) {
        if !self.policy.share_tokens {
            return;
        }
        let Some(current) = &self.current else { return };
        let Some(generation) = current.generation else {
            return;
        };
        self.actions.push_back(Action::PostToken(TokenShare {
            from: self.id,
            generation,
            at: current.at,
            epoch: current.epoch,
            expires_in: current.expires_in,
            server_date_ms: current.server_date_ms,
        }));
    }

    fn end_epoch(&mut self, epoch: Epoch) {
        if !self.ended.contains(&epoch) {
            self.ended.push_back(epoch);
            while self.ended.len() > self.policy.ended_kept {
                self.ended.pop_front();
            }
        }
    }

    fn request_lock(&mut self, steal: bool, now: u64) {
        self.next_ticket += 1;
        let ticket = LockTicket(self.next_ticket);
        self.lock = Lock::Requested {
            ticket,
            steal,
            give_up_at: now.saturating_add(self.policy.lock_acquire_ms),
            extended: false,
        };
        self.actions
            .push_back(Action::RequestLock { ticket, steal });
    }

    /// The lock is ours and a refresh is wanted: start it after the settle delay.
    fn granted(&mut self, now: u64) {
        if let Flow::Wanted { generation } = self.flow {
            if let Lock::Held { release_at, .. } = &mut self.lock {
                *release_at = None;
            }
            let settle = if self.contended && self.policy.share_tokens {
                self.policy.contended_settle_ms
            } else {
                self.policy.grant_settle_ms
            };
            self.flow = Flow::Settling {
                generation,
                start_at: now.saturating_add(settle),
            };
        }
    }

    fn schedule_release(&mut self, now: u64) {
        if let Lock::Held { release_at, .. } = &mut self.lock {
            if release_at.is_none() {
                *release_at = Some(now.saturating_add(self.policy.release_delay_ms));
            }
        }
    }

    fn release_now(&mut self) {
        match core::mem::replace(&mut self.lock, Lock::Free) {
            Lock::Held {
                ticket: Some(ticket),
                ..
            } => self.actions.push_back(Action::ReleaseLock { ticket }),
            Lock::Held { claimed: true, .. } => self.post(Message::Release),
            Lock::Requested { ticket, .. } => {
                self.actions.push_back(Action::CancelLockRequest { ticket });
            }
            Lock::Claiming { posted: true, .. } => self.post(Message::Release),
            _ => {}
        }
    }

    /// The refresh ended (result in, or the hold bound passed): release after the delay.
    fn finish_flow(&mut self, now: u64) {
        self.flow = Flow::Idle;
        match self.queued.take() {
            Some(generation) => {
                // Keep the lock for the refresh that waited for this one.
                self.flow = Flow::Wanted { generation };
                self.wanted_at = now;
                self.contended = true;
                match self.lock {
                    Lock::Held { .. } => self.granted(now),
                    _ if self.web_locks => self.request_lock(false, now),
                    _ => {
                        self.lock = Lock::Claiming {
                            posted: false,
                            check_at: now,
                        }
                    }
                }
            }
            None => self.schedule_release(now),
        }
    }

    /// The refresh is no longer wanted.
    fn abandon_flow(&mut self, now: u64) {
        match core::mem::replace(&mut self.flow, Flow::Idle) {
            Flow::Wanted { .. } => self.release_now(),
            Flow::Settling { .. } => self.release_now(),
            Flow::Running {
                generation,
                hold_until,
                ..
            } => {
                // Never abandon a call in flight: it may rotate the refresh token (a new cookie),
                // so the lock stays until its result.
                self.flow = Flow::Running {
                    generation,
                    hold_until,
                    cancelled: true,
                };
            }
            Flow::Recovering { .. } => self.schedule_release(now),
            Flow::Idle => {}
        }
    }

    /// Decides on a sibling's token.
    fn consider(&mut self, token: TokenMessage, now: u64) -> Result<(), Refusal> {
        if !self.policy.share_tokens {
            return Err(Refusal::NotShared);
        }
        let at = token.at.min(now);
        if self.ended.contains(&token.epoch) {
            return Err(Refusal::EndedEpoch);
        }
        if let Some(secs) = token.expires_in {
            if at.saturating_add(u64::from(secs) * 1_000) <= now {
                return Err(Refusal::Expired);
            }
        }
        let ours = self.adopting.as_ref().or(self.current.as_ref());
        if ours.is_some_and(|ours| ours.at >= at) {
            return Err(Refusal::NotNewer);
        }
        let refresh_token = match (self.memory_mode, token.refresh_token) {
            (true, None) => return Err(Refusal::NoRefreshToken),
            (true, Some(refresh)) => Some(refresh),
            // Cookie mode: a refresh token has no use here; it is dropped (and wiped).
            (false, _) => None,
        };
        let claims = decode_unverified(token.access_token.expose())
            .ok()
            .map(|t| t.claims);
        let identity = Identity::of(claims.as_ref());
        if ours.is_some_and(|ours| ours.identity != identity) {
            return Err(Refusal::OtherIdentity);
        }
        let mut grant = TokenGrant::new(token.access_token);
        grant.refresh_token = refresh_token;
        grant.expires_in = token.expires_in.map(i64::from);
        grant.exp = claims.as_ref().and_then(|c| c.exp);
        grant.iat = claims.as_ref().and_then(|c| c.iat);
        grant.server_date_ms = token.server_date_ms;
        self.adopting = Some(Current {
            generation: None,
            at,
            expires_in: token.expires_in,
            server_date_ms: token.server_date_ms,
            epoch: token.epoch,
            identity,
        });
        // The session cancels its own refresh when it installs this; the lock goes with it.
        if self.flow.generation().is_some() {
            self.abandon_flow(now);
        }
        self.actions
            .push_back(Action::InstallSiblingToken(Adoption {
                grant,
                received_at: at,
                claims,
            }));
        Ok(())
    }

    fn answer(&mut self, after: u64, now: u64) {
        let Some(current) = &self.current else { return };
        if current.generation.is_none() || current.at <= after {
            return;
        }
        if matches!(self.flow, Flow::Settling { .. } | Flow::Running { .. }) {
            // Our token is about to be replaced; the new one will be shared anyway.
            return;
        }
        let at = current.at;
        if let Some((answered_at, when)) = self.last_answer {
            if answered_at == at && now < when.saturating_add(self.policy.answer_interval_ms) {
                return;
            }
        }
        self.last_answer = Some((at, now));
        self.share();
    }

    fn remote_logout(&mut self, epoch: Epoch) {
        self.end_epoch(epoch);
        if self.adopting.as_ref().is_some_and(|a| a.epoch == epoch) {
            self.adopting = None;
        }
        let ours = |c: &Current| c.epoch == epoch || !self.policy.share_tokens;
        if self.current.as_ref().is_some_and(ours) {
            self.current = None;
            self.actions.push_back(Action::EndSession);
        }
    }

    /// Brings timers up to date with `now`: runs every step due, including those a step made
    /// due (e.g. with `grant_settle_ms = 0`).
    fn settle(&mut self, now: u64) {
        for _ in 0..8 {
            self.settle_once(now);
            if self.poll_timeout().is_none_or(|t| t > now) {
                return;
            }
        }
    }

    fn settle_once(&mut self, now: u64) {
        // Channel fallback: drop lapsed claims.
        self.claims.retain(|(_, _, lapses)| *lapses > now);
        if let Some(until) = self.handover_until {
            if until <= now {
                self.handover_until = None;
                self.actions
                    .push_back(Action::HandOverFinished { adopted: false });
            }
        }
        match self.flow {
            Flow::Settling {
                generation,
                start_at,
            } if start_at <= now => {
                self.flow = Flow::Running {
                    generation,
                    hold_until: now.saturating_add(self.policy.lock_hold_ms),
                    cancelled: false,
                };
                self.refresh_started_at = now;
                self.actions.push_back(Action::StartRefresh { generation });
                if !self.policy.share_tokens && self.web_locks {
                    // No token will follow to cancel the waiters' refreshes: tell them a
                    // refresh is running, so their steal deadline counts from now (a waiter
                    // whose own deadline ran out while an earlier holder was frozen would
                    // otherwise steal from this refresh in flight and present its cookie).
                    let until = now.saturating_add(self.policy.lock_hold_ms);
                    self.post(Message::Claim { until });
                }
            }
            Flow::Running { hold_until, .. }
                if hold_until <= now
                    && matches!(
                        self.lock,
                        Lock::Held {
                            release_at: None,
                            ..
                        }
                    ) =>
            {
                // The holder exceeded its own bound: let the siblings go on.
                self.schedule_release(now);
            }
            Flow::Recovering { generation, until } if until <= now => {
                self.actions.push_back(Action::ReportRefreshFailure {
                    generation,
                    failure: RefreshFailure::InvalidGrant,
                });
                self.finish_flow(now);
            }
            _ => {}
        }
        match self.lock {
            Lock::Requested {
                ticket,
                steal,
                give_up_at,
                extended,
            } if give_up_at <= now && now - give_up_at > self.policy.overdue_ms => {
                // This tab was frozen past the deadline: the holder may be fine (stealing from
                // it, or refreshing unguarded, would present a cookie it is rotating). Wait again.
                self.lock = Lock::Requested {
                    ticket,
                    steal,
                    give_up_at: now.saturating_add(self.policy.lock_acquire_ms),
                    extended,
                };
            }
            Lock::Requested {
                steal, give_up_at, ..
            } if give_up_at <= now => {
                self.release_now();
                if !steal {
                    self.request_lock(true, now);
                } else {
                    // Even a steal did not answer: refresh unguarded rather than never.
                    self.lock = Lock::Held {
                        ticket: None,
                        claimed: false,
                        release_at: None,
                    };
                    self.granted(now);
                }
            }
            Lock::Claiming { posted, check_at } if check_at <= now => self.claim_step(posted, now),
            Lock::Held {
                release_at: Some(at),
                ..
            } if at <= now => {
                self.release_now();
                if matches!(self.flow, Flow::Wanted { .. }) {
                    // A new refresh was wanted meanwhile.
                    self.lock = Lock::Free;
                    if self.web_locks {
                        self.request_lock(false, now);
                    } else {
                        self.lock = Lock::Claiming {
                            posted: false,
                            check_at: now,
                        };
                    }
                }
            }
            _ => {}
        }
    }

    /// Channel fallback: one step of the claim loop.
    fn claim_step(&mut self, posted: bool, now: u64) {
        if !matches!(self.flow, Flow::Wanted { .. }) {
            if posted {
                self.post(Message::Release);
            }
            self.lock = Lock::Free;
            return;
        }
        let settle = self.policy.claim_settle_ms.max(1);
        if !self.claims.is_empty() {
            self.contended = true;
        }
        if !self.claims.is_empty()
            && now.saturating_sub(self.wanted_at) >= self.policy.lock_acquire_ms
        {
            // Claims have kept this refresh waiting as long as a lock request waits before it
            // steals: no sibling's refresh takes that long, so they are not a sibling's (a
            // script posting claims) or their tab is stuck. Go on unguarded, as a steal would.
            self.claims.clear();
            self.lock = Lock::Held {
                ticket: None,
                claimed: posted,
                release_at: None,
            };
            self.granted(now);
            return;
        }
        if !posted {
            if self.claims.is_empty() {
                let until = now.saturating_add(self.policy.lock_hold_ms);
                self.my_claim = Some(until);
                self.post(Message::Claim { until });
                self.lock = Lock::Claiming {
                    posted: true,
                    check_at: now.saturating_add(settle),
                };
            } else {
                self.lock = Lock::Claiming {
                    posted: false,
                    check_at: now.saturating_add(settle),
                };
            }
            return;
        }
        // The earlier claim wins (claims carry their sender's time, on the same clock), whatever
        // order they arrived in; simultaneous ones go to the lower id.
        let mine = (self.my_claim.unwrap_or(0), self.id);
        if self
            .claims
            .iter()
            .any(|(id, until, _)| (*until, *id) < mine)
        {
            self.post(Message::Release);
            self.lock = Lock::Claiming {
                posted: false,
                check_at: now.saturating_add(settle),
            };
            return;
        }
        self.lock = Lock::Held {
            ticket: None,
            claimed: true,
            release_at: None,
        };
        self.granted(now);
    }
}

//! Unit tests of the coordinator and its codec: each security finding of the cross-tab review
//! (forged tokens, `{t:'ask'}` abuse, `epoch: NaN`) is shown impossible here.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::collections::HashMap;

use super::*;
use crate::core::b64;
use crate::core::secret::Secret;
use crate::core::session::{RefreshPolicy, Session};

/// A JWT (unsigned: only its claims matter here) for `sub` at `iss`.
pub(super) fn jwt(iss: &str, sub: &str, serial: u64) -> String {
    let header = b64::encode(br#"{"alg":"ES256","typ":"JWT"}"#);
    let payload = format!(r#"{{"iss":"{iss}","sub":"{sub}","jti":"j{serial}","iat":1700000000}}"#);
    format!("{header}.{}.c2ln", b64::encode(payload.as_bytes()))
}

/// Fresh generations, drawn from a real session (their constructor is private).
fn generations(n: usize) -> Vec<Generation> {
    let mut session = Session::new(RefreshPolicy::default(), 1);
    (0..n)
        .map(|_| {
            session.handle_tokens(TokenGrant::new(Secret::from("x")), 0);
            session.generation().expect("installed")
        })
        .collect()
}

fn tab(id: u64) -> TabId {
    TabId::new(id).expect("valid id")
}

/// The fields an encoder writes, as a JS object would hold them.
fn encode(envelope: &Envelope) -> HashMap<&'static str, Value> {
    let mut object = HashMap::new();
    envelope.encode(|key, out| {
        object.insert(
            key.name(),
            match out {
                Out::Number(n) => Value::Number(n),
                Out::Text(t) => Value::Text(Secret::from(t)),
            },
        );
    });
    object
}

fn decode(mut object: HashMap<&'static str, Value>) -> Result<Envelope, CodecError> {
    Envelope::decode(|key| object.remove(key.name()).unwrap_or(Value::Absent))
}

fn token_message(at: u64, epoch: u64, access: &str) -> Message {
    Message::Token(TokenMessage {
        at,
        epoch: Epoch::new(epoch).expect("valid epoch"),
        expires_in: Some(300),
        server_date_ms: None,
        access_token: Secret::from(access),
        refresh_token: None,
    })
}

/// A coordinator with `policy` that has just installed a login of `sub` at `at` (actions not
/// drained).
fn installed(
    policy: TabPolicy,
    memory_mode: bool,
    sub: &str,
    at: u64,
) -> (Coordinator, Generation) {
    let mut coordinator = Coordinator::new(policy, tab(1), 7, true, memory_mode);
    let generation = generations(1)[0];
    coordinator.handle_installed(
        InstalledToken {
            generation,
            origin: InstallOrigin::Login,
            received_at: at,
            expires_in: Some(300),
            server_date_ms: None,
            identity: Identity {
                iss: Some("https://issuer".into()),
                sub: Some(sub.into()),
            },
        },
        at,
    );
    (coordinator, generation)
}

/// A coordinator holding a session of `sub` received at `at`, actions drained.
fn holding(sub: &str, at: u64) -> (Coordinator, Generation) {
    let (mut coordinator, generation) = installed(TabPolicy::default(), false, sub, at);
    while coordinator.poll_action().is_some() {}
    (coordinator, generation)
}

fn drain(coordinator: &mut Coordinator) -> Vec<Action> {
    std::iter::from_fn(|| coordinator.poll_action()).collect()
}

#[test]
fn every_message_round_trips_through_the_codec() {
    let messages = vec![
        token_message(1_700_000_000_000, 42, "access"),
        Message::Ask { after: 5 },
        Message::Logout {
            epoch: Epoch::new(9).expect("valid"),
        },
        Message::Claim { until: 77 },
        Message::Release,
    ];
    for message in messages {
        let printed = format!("{message:?}");
        let envelope = Envelope {
            from: tab(3),
            message,
        };
        let decoded = decode(encode(&envelope)).expect("round trip");
        assert_eq!(decoded.from, tab(3));
        assert_eq!(format!("{:?}", decoded.message), printed);
    }
}

#[test]
fn nan_negative_fractional_and_huge_numbers_are_refused() {
    for bad in [f64::NAN, f64::INFINITY, -1.0, 0.5, 9.1e15, 0.0] {
        let mut object = encode(&Envelope {
            from: tab(3),
            message: Message::Logout {
                epoch: Epoch::new(9).expect("valid"),
            },
        });
        object.insert("epoch", Value::Number(bad));
        assert_eq!(
            decode(object).unwrap_err(),
            CodecError::Invalid(Key::Epoch),
            "{bad}"
        );
    }
    for (key, bad) in [("from", f64::NAN), ("after", -3.0), ("v", 2.0)] {
        let mut object = encode(&Envelope {
            from: tab(3),
            message: Message::Ask { after: 1 },
        });
        object.insert(key, Value::Number(bad));
        let error = decode(object).unwrap_err();
        assert!(error.code().starts_with("ERR_TAB_"), "{error}");
    }
}

#[test]
fn missing_unexpected_and_oversized_fields_are_refused() {
    let logout = || {
        encode(&Envelope {
            from: tab(3),
            message: Message::Logout {
                epoch: Epoch::new(9).expect("valid"),
            },
        })
    };
    // A logout must name its epoch (an epoch-less logout used to wipe every tab).
    let mut object = logout();
    object.remove("epoch");
    assert_eq!(decode(object).unwrap_err(), CodecError::Missing(Key::Epoch));
    // A field of another kind.
    let mut object = logout();
    object.insert("accessToken", Value::Text(Secret::from("x")));
    assert_eq!(
        decode(object).unwrap_err(),
        CodecError::Unexpected(Key::AccessToken)
    );
    // A string where a number belongs, and the other way round.
    let mut object = logout();
    object.insert("epoch", Value::Text(Secret::from("9")));
    assert_eq!(decode(object).unwrap_err(), CodecError::Invalid(Key::Epoch));
    let mut object = logout();
    object.insert("t", Value::Number(1.0));
    assert_eq!(decode(object).unwrap_err(), CodecError::Kind);
    // Tokens: empty or beyond 8 KiB.
    for access in [String::new(), "a".repeat(8 * 1024 + 1)] {
        let object = encode(&Envelope {
            from: tab(3),
            message: token_message(1, 2, "placeholder"),
        });
        let mut object = object;
        object.insert("accessToken", Value::Text(Secret::new(access)));
        assert_eq!(
            decode(object).unwrap_err(),
            CodecError::Invalid(Key::AccessToken)
        );
    }
    assert_eq!(decode(HashMap::new()).unwrap_err(), CodecError::Version);
}

#[test]
fn a_token_for_another_user_is_never_adopted() {
    let (mut coordinator, _) = holding("alice", 1_000);
    let forged = jwt("https://issuer", "mallory", 1);
    coordinator.handle_message(tab(2), token_message(2_000, 5, &forged), 3_000);
    assert_eq!(coordinator.last_refusal(), Some(Refusal::OtherIdentity));
    assert!(drain(&mut coordinator).is_empty());
    // Another issuer, same subject; and an opaque token: refused too.
    let other_issuer = jwt("https://evil", "alice", 2);
    coordinator.handle_message(tab(2), token_message(2_000, 5, &other_issuer), 3_000);
    assert_eq!(coordinator.last_refusal(), Some(Refusal::OtherIdentity));
    coordinator.handle_message(tab(2), token_message(2_000, 5, "opaque"), 3_000);
    assert_eq!(coordinator.last_refusal(), Some(Refusal::OtherIdentity));
    assert!(drain(&mut coordinator).is_empty());
    // The same user's newer token is adopted.
    let same = jwt("https://issuer", "alice", 3);
    coordinator.handle_message(tab(2), token_message(2_000, 5, &same), 3_000);
    let actions = drain(&mut coordinator);
    assert!(
        matches!(&actions[..], [Action::InstallSiblingToken(a)] if a.received_at == 2_000),
        "{actions:?}"
    );
}

#[test]
fn stale_expired_and_ended_tokens_are_refused() {
    let (mut coordinator, _) = holding("alice", 10_000);
    let token = jwt("https://issuer", "alice", 1);
    coordinator.handle_message(tab(2), token_message(10_000, 5, &token), 11_000);
    assert_eq!(coordinator.last_refusal(), Some(Refusal::NotNewer));
    // Received 301 s ago with expires_in 300.
    coordinator.handle_message(tab(2), token_message(20_000, 5, &token), 321_000);
    assert_eq!(coordinator.last_refusal(), Some(Refusal::Expired));
    coordinator.handle_message(
        tab(2),
        Message::Logout {
            epoch: Epoch::new(5).expect("valid"),
        },
        12_000,
    );
    coordinator.handle_message(tab(2), token_message(20_000, 5, &token), 21_000);
    assert_eq!(coordinator.last_refusal(), Some(Refusal::EndedEpoch));
    assert!(drain(&mut coordinator).is_empty());
}

#[test]
fn a_receipt_time_in_the_future_counts_as_now() {
    let (mut coordinator, _) = holding("alice", 1_000);
    let token = jwt("https://issuer", "alice", 1);
    coordinator.handle_message(tab(2), token_message(MAX_SAFE_INTEGER, 5, &token), 2_000);
    let actions = drain(&mut coordinator);
    assert!(
        matches!(&actions[..], [Action::InstallSiblingToken(a)] if a.received_at == 2_000),
        "{actions:?}"
    );
}

#[test]
fn logout_ends_only_the_named_epoch() {
    let (mut coordinator, _) = holding("alice", 1_000);
    let ours = coordinator.epoch().expect("a session");
    let other = Epoch::from_random(ours.get());
    coordinator.handle_message(tab(2), Message::Logout { epoch: other }, 2_000);
    assert!(drain(&mut coordinator).is_empty());
    assert_eq!(coordinator.epoch(), Some(ours));
    coordinator.handle_message(tab(2), Message::Logout { epoch: ours }, 2_000);
    assert!(matches!(&drain(&mut coordinator)[..], [Action::EndSession]));
    assert_eq!(coordinator.epoch(), None);
}

#[test]
fn a_flood_of_asks_posts_the_token_once_per_interval() {
    let (mut coordinator, generation) = holding("alice", 1_000);
    let mut posts = 0;
    for i in 0..1_000 {
        coordinator.handle_message(tab(2 + i), Message::Ask { after: 0 }, 2_000 + i / 10);
        for action in drain(&mut coordinator) {
            match action {
                Action::PostToken(share) => {
                    assert_eq!(share.generation, generation);
                    posts += 1;
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(posts, 1);
    // An ask that our token does not satisfy is not answered at all.
    coordinator.handle_message(tab(2), Message::Ask { after: 1_000 }, 9_000);
    assert!(drain(&mut coordinator).is_empty());
    coordinator.handle_message(tab(2), Message::Ask { after: 0 }, 9_000);
    assert!(matches!(
        &drain(&mut coordinator)[..],
        [Action::PostToken(_)]
    ));
}

#[test]
fn our_own_echo_is_ignored() {
    let (mut coordinator, _) = holding("alice", 1_000);
    let ours = coordinator.epoch().expect("a session");
    coordinator.handle_message(tab(1), Message::Logout { epoch: ours }, 2_000);
    assert!(drain(&mut coordinator).is_empty());
}

#[test]
fn a_refresh_waits_for_the_lock_and_releases_it_after_the_result() {
    let (mut coordinator, _) = holding("alice", 1_000);
    let generation = generations(1)[0];
    coordinator.handle_refresh_wanted(generation, 2_000);
    let Some(Action::RequestLock {
        ticket,
        steal: false,
    }) = coordinator.poll_action()
    else {
        panic!("no lock request")
    };
    assert_eq!(coordinator.poll_timeout(), Some(2_000 + 15_000));
    coordinator.handle_lock_granted(ticket, 2_003);
    assert!(matches!(
        &drain(&mut coordinator)[..],
        [Action::StartRefresh { generation: g }] if *g == generation
    ));
    coordinator.handle_refresh_result(generation, RefreshOutcome::Succeeded, 2_300);
    assert!(drain(&mut coordinator).is_empty());
    assert_eq!(coordinator.poll_timeout(), Some(2_350));
    coordinator.handle_timeout(2_350);
    assert!(matches!(
        &drain(&mut coordinator)[..],
        [Action::ReleaseLock { ticket: t }] if *t == ticket
    ));
    assert_eq!(coordinator.poll_timeout(), None);
}

#[test]
fn a_lock_that_never_comes_is_stolen_then_skipped() {
    let (mut coordinator, _) = holding("alice", 1_000);
    let generation = generations(1)[0];
    coordinator.handle_refresh_wanted(generation, 0);
    let Some(Action::RequestLock { ticket: first, .. }) = coordinator.poll_action() else {
        panic!()
    };
    coordinator.handle_timeout(15_000);
    let actions = drain(&mut coordinator);
    assert!(
        matches!(&actions[..], [
            Action::CancelLockRequest { ticket },
            Action::RequestLock { steal: true, .. },
        ] if *ticket == first),
        "{actions:?}"
    );
    // A late grant of the abandoned request is released at once.
    coordinator.handle_lock_granted(first, 15_001);
    assert!(
        matches!(&drain(&mut coordinator)[..], [Action::ReleaseLock { ticket }] if *ticket == first)
    );
    // Even the steal hangs: refresh unguarded rather than never.
    coordinator.handle_timeout(30_000);
    let actions = drain(&mut coordinator);
    assert!(
        matches!(
            &actions[..],
            [
                Action::CancelLockRequest { .. },
                Action::StartRefresh { .. }
            ]
        ),
        "{actions:?}"
    );
}

#[test]
fn adopting_a_sibling_token_cancels_the_pending_refresh() {
    let (mut coordinator, _) = holding("alice", 1_000);
    let generation = generations(1)[0];
    coordinator.handle_refresh_wanted(generation, 2_000);
    let Some(Action::RequestLock { ticket, .. }) = coordinator.poll_action() else {
        panic!()
    };
    let token = jwt("https://issuer", "alice", 1);
    coordinator.handle_message(tab(2), token_message(2_500, 5, &token), 2_600);
    let actions = drain(&mut coordinator);
    assert!(
        matches!(&actions[..], [
            Action::CancelLockRequest { ticket: t },
            Action::InstallSiblingToken(_),
        ] if *t == ticket),
        "{actions:?}"
    );
}

#[test]
fn invalid_grant_is_held_back_while_siblings_are_asked() {
    let (mut coordinator, _) = holding("alice", 1_000);
    let actions = refused_with_invalid_grant(&mut coordinator, 2_000);
    assert!(
        matches!(
            &actions[..],
            [Action::Post(Envelope {
                message: Message::Ask { after: 1_000 },
                ..
            })]
        ),
        "{actions:?}"
    );
    coordinator.handle_timeout(2_399);
    assert!(drain(&mut coordinator).is_empty());
    coordinator.handle_timeout(2_400);
    assert_invalid_grant_reported(&drain(&mut coordinator));
}

#[test]
fn hand_over_skips_asking_when_alone_and_ends_on_adoption_or_timeout() {
    let mut alone = Coordinator::new(TabPolicy::default(), tab(1), 7, true, false);
    alone.handle_start(Some(0), 0);
    assert!(matches!(
        &drain(&mut alone)[..],
        [Action::HandOverFinished { adopted: false }]
    ));
    let mut new_tab = Coordinator::new(TabPolicy::default(), tab(1), 7, true, false);
    new_tab.handle_start(None, 0);
    assert!(matches!(
        &drain(&mut new_tab)[..],
        [Action::Post(Envelope {
            message: Message::Ask { after: 0 },
            ..
        })]
    ));
    assert_eq!(new_tab.poll_timeout(), Some(300));
    new_tab.handle_timeout(300);
    assert!(matches!(
        &drain(&mut new_tab)[..],
        [Action::HandOverFinished { adopted: false }]
    ));
}

/// A refresh wanted at `now`, granted at once and answered `invalid_grant` 100 ms later: the
/// coordinator's actions after that answer.
fn refused_with_invalid_grant(coordinator: &mut Coordinator, now: u64) -> Vec<Action> {
    let generation = generations(1)[0];
    refresh_granted_after(coordinator, generation, now, 0);
    drain(coordinator);
    coordinator.handle_refresh_result(
        generation,
        RefreshOutcome::Failed(RefreshFailure::InvalidGrant),
        now + 100,
    );
    drain(coordinator)
}

/// The actions are exactly the session's `invalid_grant` report (the session then ends).
fn assert_invalid_grant_reported(actions: &[Action]) {
    assert!(
        matches!(
            actions,
            [Action::ReportRefreshFailure {
                failure: RefreshFailure::InvalidGrant,
                ..
            }]
        ),
        "{actions:?}"
    );
}

/// Wants a refresh and takes the lock after `wait_ms`; returns the ticket (actions drained).
fn refresh_granted_after(
    coordinator: &mut Coordinator,
    generation: Generation,
    now: u64,
    wait_ms: u64,
) -> LockTicket {
    coordinator.handle_refresh_wanted(generation, now);
    let Some(Action::RequestLock { ticket, .. }) = coordinator.poll_action() else {
        panic!("no lock request")
    };
    coordinator.handle_lock_granted(ticket, now + wait_ms);
    ticket
}

#[test]
fn a_contended_grant_waits_for_the_previous_holders_token() {
    let (mut coordinator, _) = holding("alice", 1_000);
    let generation = generations(1)[0];
    let ticket = refresh_granted_after(&mut coordinator, generation, 2_000, 300);
    // Not yet: the previous holder's token message may still be on its way.
    assert!(drain(&mut coordinator).is_empty());
    assert_eq!(coordinator.poll_timeout(), Some(2_300 + 500));
    let token = jwt("https://issuer", "alice", 1);
    coordinator.handle_message(tab(2), token_message(2_250, 5, &token), 2_400);
    let actions = drain(&mut coordinator);
    assert!(
        matches!(&actions[..], [
            Action::ReleaseLock { ticket: t },
            Action::InstallSiblingToken(_),
        ] if *t == ticket),
        "{actions:?}"
    );
    // An uncontended grant starts at once.
    let generation = generations(1)[0];
    refresh_granted_after(&mut coordinator, generation, 3_000, 1);
    assert!(matches!(
        &drain(&mut coordinator)[..],
        [Action::StartRefresh { .. }]
    ));
}

#[test]
fn a_cancelled_refresh_in_flight_keeps_the_lock_until_its_result() {
    let (mut coordinator, _) = holding("alice", 1_000);
    let [first, second] = generations(2)[..] else {
        panic!()
    };
    let ticket = refresh_granted_after(&mut coordinator, first, 2_000, 0);
    assert!(matches!(
        &drain(&mut coordinator)[..],
        [Action::StartRefresh { .. }]
    ));
    // The session cancels it (a sibling's token, say) and soon wants another refresh.
    coordinator.handle_refresh_cancelled(first, 2_100);
    coordinator.handle_refresh_wanted(second, 2_200);
    coordinator.handle_timeout(5_000);
    assert!(
        drain(&mut coordinator).is_empty(),
        "the call may still rotate the cookie"
    );
    // Its result comes: the queued refresh goes next, under the same lock, after the wait.
    coordinator.handle_refresh_result(first, RefreshOutcome::Succeeded, 5_100);
    assert!(drain(&mut coordinator).is_empty());
    coordinator.handle_timeout(5_600);
    assert!(matches!(
        &drain(&mut coordinator)[..],
        [Action::StartRefresh { generation }] if *generation == second
    ));
    coordinator.handle_refresh_result(second, RefreshOutcome::Succeeded, 5_700);
    coordinator.handle_timeout(5_750);
    assert!(matches!(
        &drain(&mut coordinator)[..],
        [Action::ReleaseLock { ticket: t }] if *t == ticket
    ));
}

#[test]
fn a_refreshed_token_is_dated_by_the_start_of_its_call() {
    let (mut coordinator, _) = holding("alice", 1_000);
    let generation = generations(2)[1];
    refresh_granted_after(&mut coordinator, generation, 2_000, 0);
    drain(&mut coordinator);
    // The tab was frozen while the response was in flight: handled a minute later.
    let installed = generations(3)[2];
    coordinator.handle_installed(
        InstalledToken {
            generation: installed,
            origin: InstallOrigin::Refresh,
            received_at: 62_000,
            expires_in: Some(300),
            server_date_ms: None,
            identity: Identity {
                iss: Some("https://issuer".into()),
                sub: Some("alice".into()),
            },
        },
        62_000,
    );
    let actions = drain(&mut coordinator);
    assert!(
        matches!(&actions[..], [Action::PostToken(share)] if share.at == 2_000),
        "{actions:?}"
    );
}

#[test]
fn without_web_locks_the_earlier_claim_wins_whatever_the_arrival_order() {
    let policy = TabPolicy::default();
    let mut low = Coordinator::new(policy.clone(), tab(1), 7, false, false);
    let mut high = Coordinator::new(policy, tab(9), 7, false, false);
    let generation = generations(1)[0];
    // `high` claimed first; `low` opened later and never saw that claim.
    high.handle_refresh_wanted(generation, 1_000);
    let Some(Action::Post(Envelope {
        message: Message::Claim { until: high_until },
        ..
    })) = high.poll_action()
    else {
        panic!()
    };
    low.handle_refresh_wanted(generation, 1_200);
    let Some(Action::Post(Envelope {
        message: Message::Claim { until: low_until },
        ..
    })) = low.poll_action()
    else {
        panic!()
    };
    // `high` hears the later claim and repeats its own; `low` hears that and backs off,
    // although its id is lower.
    high.handle_message(tab(1), Message::Claim { until: low_until }, 1_210);
    let repeated = drain(&mut high);
    assert!(
        matches!(&repeated[..], [Action::Post(Envelope { message: Message::Claim { until }, .. })] if *until == high_until),
        "{repeated:?}"
    );
    low.handle_message(tab(9), Message::Claim { until: high_until }, 1_220);
    low.handle_timeout(1_700);
    assert!(matches!(
        &drain(&mut low)[..],
        [Action::Post(Envelope {
            message: Message::Release,
            ..
        })]
    ));
    // `high` keeps its claim through the settle time and refreshes (after the contended wait).
    high.handle_timeout(1_500);
    high.handle_timeout(2_000);
    assert!(matches!(
        &drain(&mut high)[..],
        [Action::StartRefresh { .. }]
    ));
}

/// A coordinator with `share_tokens` off (worker custody, memory mode) that has just
/// installed a login of `sub` (actions not drained).
fn holding_unshared(sub: &str, at: u64) -> Coordinator {
    let policy = TabPolicy {
        share_tokens: false,
        ..TabPolicy::default()
    };
    installed(policy, true, sub, at).0
}

/// Worker custody: the channel is readable by any page script of the origin, so no token is
/// ever posted on it or taken from it; refreshes stay serialized by the lock and logout still
/// reaches every tab.
#[test]
fn without_token_sharing_no_token_crosses_the_channel_and_logout_still_does() {
    let mut coordinator = holding_unshared("alice", 1_000);
    // A login posts nothing (in page custody it posts the token).
    assert!(drain(&mut coordinator).is_empty());
    // Asks are not answered.
    coordinator.handle_message(tab(2), Message::Ask { after: 0 }, 2_000);
    assert!(drain(&mut coordinator).is_empty());
    // A sibling's (or a page script's) token is not adopted, even for the same user.
    let token = jwt("https://issuer", "alice", 1);
    coordinator.handle_message(tab(2), token_message(1_500, 5, &token), 2_000);
    assert_eq!(coordinator.last_refusal(), Some(Refusal::NotShared));
    assert!(drain(&mut coordinator).is_empty());
    // A refresh still takes the lock; a contended grant starts at once (no token to wait for),
    // says on the channel that a refresh runs (no token: a claim that holds waiters' steals
    // back) and its result posts nothing.
    let generation = generations(1)[0];
    let ticket = refresh_granted_after(&mut coordinator, generation, 3_000, 300);
    assert!(matches!(
        &drain(&mut coordinator)[..],
        [
            Action::StartRefresh { generation: g },
            Action::Post(Envelope { message: Message::Claim { .. }, .. })
        ] if *g == generation
    ));
    coordinator.handle_refresh_result(generation, RefreshOutcome::Succeeded, 3_400);
    coordinator.handle_installed(
        InstalledToken {
            generation,
            origin: InstallOrigin::Refresh,
            received_at: 3_400,
            expires_in: Some(300),
            server_date_ms: None,
            identity: Identity::default(),
        },
        3_400,
    );
    coordinator.handle_timeout(3_450);
    assert!(matches!(
        &drain(&mut coordinator)[..],
        [Action::ReleaseLock { ticket: t }] if *t == ticket
    ));
    // invalid_grant ends the session at once: no sibling can answer with a token.
    assert_invalid_grant_reported(&refused_with_invalid_grant(&mut coordinator, 5_000));
    // A sibling's logout ends this session although each tab has its own epoch, and ending
    // ours posts a logout (no token) for the others.
    let mut coordinator = holding_unshared("alice", 6_000);
    drain(&mut coordinator);
    let ours = coordinator.epoch().expect("a session");
    coordinator.handle_message(
        tab(2),
        Message::Logout {
            epoch: Epoch::from_random(ours.get()),
        },
        6_000,
    );
    assert!(matches!(&drain(&mut coordinator)[..], [Action::EndSession]));
    let mut other = holding_unshared("alice", 7_000);
    other.handle_session_ended(7_100);
    assert!(matches!(
        &drain(&mut other)[..],
        [Action::Post(Envelope {
            message: Message::Logout { .. },
            ..
        })]
    ));
    // start() hands nothing over: it does not ask, and the cookie refresh follows at once.
    let policy = TabPolicy {
        share_tokens: false,
        ..TabPolicy::default()
    };
    let mut new_tab = Coordinator::new(policy, tab(3), 7, true, false);
    new_tab.handle_start(None, 0);
    assert!(matches!(
        &drain(&mut new_tab)[..],
        [Action::HandOverFinished { adopted: false }]
    ));
}

/// A tab frozen past its lock deadline (its timer fires late) does not conclude that the holder
/// is stuck: stealing then, or refreshing unguarded, took the lock from a refresh in flight (the
/// simulation's seed 67 without token sharing: the server saw a rotated cookie again).
#[test]
fn a_lock_wait_overtaken_by_a_frozen_tab_waits_again() {
    let (mut coordinator, _) = holding("alice", 1_000);
    let generation = generations(1)[0];
    coordinator.handle_refresh_wanted(generation, 0);
    let Some(Action::RequestLock { ticket, .. }) = coordinator.poll_action() else {
        panic!()
    };
    // Woken 60 s after asking, 45 s past the 15 s deadline: wait 15 s more, no steal.
    coordinator.handle_timeout(60_000);
    assert!(drain(&mut coordinator).is_empty());
    assert_eq!(coordinator.poll_timeout(), Some(75_000));
    // The grant that was queued meanwhile starts the refresh (after the contended settle).
    coordinator.handle_lock_granted(ticket, 60_001);
    assert!(drain(&mut coordinator).is_empty());
    coordinator.handle_timeout(60_501);
    assert!(matches!(
        &drain(&mut coordinator)[..],
        [Action::StartRefresh { .. }]
    ));
    // On time (within overdue_ms of the deadline), the wait still turns into a steal.
    let (mut punctual, _) = holding("alice", 1_000);
    punctual.handle_refresh_wanted(generations(1)[0], 0);
    drain(&mut punctual);
    punctual.handle_timeout(15_900);
    assert!(matches!(
        &drain(&mut punctual)[..],
        [
            Action::CancelLockRequest { .. },
            Action::RequestLock { steal: true, .. }
        ]
    ));
}

/// Without token sharing no sibling token cancels a waiter's refresh, so a waiter must not steal
/// the lock from a refresh in flight: a sibling that starts a refresh says so (a claim, no
/// token), and a waiter's steal deadline then counts from that moment, not from its own
/// request (the simulation without sharing: a frozen holder made two waiters' deadlines run
/// out; the first stole and refreshed, the second stole from that refresh and presented the
/// cookie it was rotating).
#[test]
fn without_token_sharing_a_sibling_refresh_in_flight_holds_a_steal_back() {
    let mut waiter = holding_unshared("alice", 1_000);
    drain(&mut waiter);
    waiter.handle_refresh_wanted(generations(1)[0], 2_000);
    assert!(matches!(
        &drain(&mut waiter)[..],
        [Action::RequestLock { steal: false, .. }]
    ));
    let deadline = waiter.poll_timeout().expect("a steal deadline");
    // A sibling starts its refresh just before this tab's deadline.
    waiter.handle_message(
        tab(2),
        Message::Claim {
            until: deadline + 1_000,
        },
        deadline - 100,
    );
    assert!(drain(&mut waiter).is_empty());
    let extended = waiter.poll_timeout().expect("a steal deadline");
    assert_eq!(
        extended,
        deadline - 100 + TabPolicy::default().lock_acquire_ms
    );
    // At the old deadline nothing happens; at the new one the wait becomes a steal.
    waiter.handle_timeout(deadline + 10);
    assert!(drain(&mut waiter).is_empty());
    waiter.handle_timeout(extended);
    assert!(matches!(
        &drain(&mut waiter)[..],
        [
            Action::CancelLockRequest { .. },
            Action::RequestLock { steal: true, .. }
        ]
    ));
}

//! Session scenarios on simulated time (see `sim.rs`), plus direct checks of the contract.

use super::sim::{Outcome, Server, Sim, TokenStyle, START};
use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const SECOND: u64 = 1_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

fn five_minute_sim(style: TokenStyle) -> Sim {
    let mut sim = Sim::new(RefreshPolicy::default(), Server::new(300, style));
    sim.login();
    sim
}

/// Refreshes expected in `duration` for a token of `lifetime` ms under the default policy:
/// one per (lifetime - mean jittered lead + round trip).
fn expected_refreshes(duration: u64, lifetime: u64, rtt: u64) -> f64 {
    let policy = RefreshPolicy::default();
    let lead = policy.lead_ms(lifetime) as f64 * (1.0 - policy.lead_jitter_fraction / 2.0);
    duration as f64 / (lifetime as f64 - lead + rtt as f64)
}

fn assert_all_ok(sim: &Sim) {
    for (i, request) in sim.requests.iter().enumerate() {
        let pending = request.outcome.is_none() && request.issued_at + SECOND >= sim.now;
        assert!(
            request.outcome == Some(Outcome::Ok) || pending,
            "request {i} issued at {}: {:?}",
            request.issued_at - START,
            request.outcome
        );
    }
}

fn take_grant(value: &str, expires_in: Option<i64>) -> TokenGrant {
    let mut grant = TokenGrant::new(Secret::from(value));
    grant.expires_in = expires_in;
    grant
}

fn drain(session: &mut Session) -> Vec<Action> {
    std::iter::from_fn(|| session.poll_action()).collect()
}

fn started_refresh(actions: &[Action]) -> Option<Generation> {
    actions.iter().find_map(|action| match action {
        Action::StartRefresh { generation } => Some(*generation),
        _ => None,
    })
}

// ---------------------------------------------------------------- scenarios

#[test]
fn a_day_of_five_minute_tokens() {
    let mut sim = five_minute_sim(TokenStyle::ExpiresIn);
    sim.run_with_requests(DAY, 7 * SECOND);
    let refreshes = sim.refresh_starts.len();
    let expected = expected_refreshes(DAY, 5 * MINUTE, 2 * sim.latency_ms);
    assert!(
        (refreshes as f64 - expected).abs() <= 1.0,
        "{refreshes} refreshes, expected {expected:.1}"
    );
    assert_eq!(refreshes, 355);
    assert_eq!(sim.server.refreshes, refreshes);
    assert_eq!(sim.expired_tokens_sent, 0);
    assert_eq!(
        sim.count_events(|e| matches!(e, Event::Expired | Event::LoggedOut { .. })),
        0
    );
    assert_all_ok(&sim);
    assert_eq!(sim.requests.len(), (DAY / (7 * SECOND)) as usize);
}

fn skewed_day(style: TokenStyle, client_offset_ms: i64) -> Sim {
    let mut sim = Sim::new(RefreshPolicy::default(), Server::new(300, style));
    sim.client_offset_ms = client_offset_ms;
    sim.login();
    sim.run_with_requests(DAY, 10 * SECOND);
    sim
}

#[test]
fn client_clock_ten_minutes_off_changes_nothing() {
    for style in [
        TokenStyle::ExpiresIn,
        TokenStyle::ExpWithDate,
        TokenStyle::ExpWithIat,
    ] {
        let reference = skewed_day(style, 0).refresh_starts.len();
        for skew in [-10 * MINUTE as i64, 10 * MINUTE as i64] {
            let sim = skewed_day(style, skew);
            let refreshes = sim.refresh_starts.len();
            assert!(
                refreshes.abs_diff(reference) <= 1,
                "{style:?} skew {skew}: {refreshes} vs {reference}"
            );
            assert_eq!(sim.expired_tokens_sent, 0, "{style:?} skew {skew}");
            assert_all_ok(&sim);
            // Measured offset = server - client: -skew, less up to 1 s resolution and latency.
            let offset = sim.session.clock_offset_ms().unwrap();
            assert!(
                (-skew - 1_100..=-skew).contains(&offset),
                "{style:?}: offset {offset}"
            );
            let expected_source = match style {
                TokenStyle::ExpiresIn => ExpirySource::ExpiresIn,
                _ => ExpirySource::ExpClaim,
            };
            assert_eq!(sim.session.expiry_source(), Some(expected_source));
        }
    }
}

#[test]
fn a_lifetime_shorter_than_the_lead_is_paced_by_the_minimum_interval() {
    let policy = RefreshPolicy {
        min_lead_ms: 60 * SECOND,
        ..RefreshPolicy::default()
    };
    let min_interval = policy.min_refresh_interval_ms;
    let mut sim = Sim::new(policy, Server::new(30, TokenStyle::ExpiresIn));
    sim.login();
    sim.run_with_requests(10 * MINUTE, SECOND);
    let gaps: Vec<u64> = sim.refresh_starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|gap| *gap >= min_interval), "{gaps:?}");
    assert!(sim.refresh_starts[0] - START >= min_interval);
    // One refresh per min interval + round trip.
    assert_eq!(
        sim.refresh_starts.len(),
        (10 * MINUTE / (min_interval + 100)) as usize
    );
    assert_eq!(sim.expired_tokens_sent, 0);
    assert_all_ok(&sim);
}

#[test]
fn two_hours_asleep_then_one_refresh_on_wake() {
    let mut sim = five_minute_sim(TokenStyle::ExpiresIn);
    sim.run_with_requests(10 * MINUTE, 5 * SECOND);
    assert_eq!(sim.session.state(), SessionState::Authenticated);
    let before = sim.refresh_starts.len();
    sim.sleep_then_wake(2 * HOUR);
    let woke_at = sim.now;
    // The overdue timer fires too, and a request arrives at once: still one refresh.
    sim.session.handle_timeout(sim.client_now());
    let first = sim.request();
    assert!(
        sim.requests[first].sent_with.is_empty(),
        "waits for the refresh"
    );
    sim.run_with_requests(MINUTE, SECOND);
    assert_eq!(sim.refreshes_between(woke_at, woke_at + MINUTE), 1);
    assert_eq!(sim.refresh_starts.len(), before + 1);
    assert_eq!(sim.refresh_starts[before], woke_at);
    assert_eq!(sim.count_events(|e| *e == Event::Expired), 1);
    assert_eq!(sim.requests[first].outcome, Some(Outcome::Ok));
    assert_eq!(
        sim.requests[first].sent_with,
        [sim.session.generation().unwrap()]
    );
    sim.run_with_requests(HOUR, 5 * SECOND);
    assert_eq!(sim.refreshes_between(woke_at + MINUTE, sim.now), 15);
    assert_eq!(sim.expired_tokens_sent, 0);
    assert_all_ok(&sim);
}

#[test]
fn a_hundred_requests_during_a_refresh_wait_for_it() {
    let mut sim = five_minute_sim(TokenStyle::ExpiresIn);
    sim.run_until_refresh_starts();
    let refreshing_at = sim.now;
    let ids: Vec<usize> = (0..100).map(|_| sim.request()).collect();
    assert!(ids.iter().all(|id| sim.requests[*id].sent_with.is_empty()));
    assert_eq!(sim.session.state(), SessionState::Refreshing);
    sim.run_until(refreshing_at + SECOND);
    let new_generation = sim.session.generation().unwrap();
    for id in ids {
        assert_eq!(sim.requests[id].outcome, Some(Outcome::Ok));
        assert_eq!(sim.requests[id].sent_with, [new_generation]);
    }
    assert_eq!(sim.refresh_starts.len(), 1);
}

#[test]
fn a_hundred_concurrent_401s_make_one_refresh_and_one_retry_each() {
    let mut sim = five_minute_sim(TokenStyle::ExpiresIn);
    sim.run_until(START + 30 * SECOND);
    let old = sim.session.generation().unwrap();
    sim.server.revoke_all();
    let ids: Vec<usize> = (0..100).map(|_| sim.request()).collect();
    sim.run_until(sim.now + SECOND);
    assert_eq!(sim.refresh_starts.len(), 1);
    let new = sim.session.generation().unwrap();
    for id in &ids {
        assert_eq!(sim.requests[*id].sent_with, [old, new]);
        assert_eq!(sim.requests[*id].outcome, Some(Outcome::Ok));
    }
    assert_eq!(sim.count_events(|e| *e == Event::Expired), 1);
}

#[test]
fn a_second_401_is_returned_not_retried() {
    let mut sim = five_minute_sim(TokenStyle::ExpiresIn);
    sim.run_until(START + 30 * SECOND);
    sim.server.reject_all = true;
    let ids: Vec<usize> = (0..100).map(|_| sim.request()).collect();
    sim.run_until(sim.now + 10 * SECOND);
    assert_eq!(sim.refresh_starts.len(), 1);
    for id in &ids {
        assert_eq!(sim.requests[*id].sent_with.len(), 2);
        assert_eq!(sim.requests[*id].outcome, Some(Outcome::Unauthorized));
    }
    // The retried 401s did not mark the new token: no further refresh before its schedule.
    assert_eq!(sim.session.state(), SessionState::Authenticated);
}

#[test]
fn a_401_for_a_replaced_token_retries_at_once() {
    let mut session = Session::new(RefreshPolicy::default(), 1);
    session.handle_tokens(take_grant("a", Some(300)), START);
    let old = session.generation().unwrap();
    session.request_refresh(START + SECOND);
    let refresh = started_refresh(&drain(&mut session)).unwrap();
    session.handle_refresh_ok(refresh, take_grant("b", Some(300)), START + 2 * SECOND);
    drain(&mut session);
    assert_eq!(
        session.handle_unauthorized(old, false, START + 3 * SECOND),
        UnauthorizedDecision::RetryNow
    );
    assert_eq!(
        session.handle_unauthorized(old, true, START + 3 * SECOND),
        UnauthorizedDecision::GiveUp
    );
    assert!(
        drain(&mut session).is_empty(),
        "no refresh, no state change"
    );
}

#[test]
fn three_503s_back_off_then_the_schedule_resumes() {
    let mut sim = five_minute_sim(TokenStyle::ExpiresIn);
    let unavailable = RefreshFailure::Server {
        status: 503,
        retry_after_ms: None,
    };
    sim.server.script.extend([unavailable; 3]);
    sim.run_with_requests(HOUR, 5 * SECOND);
    let starts = &sim.refresh_starts;
    let rtt = 2 * sim.latency_ms;
    let waits: Vec<u64> = starts
        .windows(2)
        .take(4)
        .map(|w| w[1] - w[0] - rtt)
        .collect();
    assert!(waits[0] > 800 && waits[0] <= 1_000, "{waits:?}");
    assert!(waits[1] > 1_600 && waits[1] <= 2_000, "{waits:?}");
    assert!(waits[2] > 3_200 && waits[2] <= 4_000, "{waits:?}");
    assert!(
        waits[3] > 4 * MINUTE,
        "normal schedule after recovery: {waits:?}"
    );
    let failed: Vec<bool> = sim
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::RefreshFailed {
                token_expires_first,
                ..
            } => Some(*token_expires_first),
            _ => None,
        })
        .collect();
    assert_eq!(failed, [false, false, false]);
    // The token was kept while valid: nothing waited, nothing expired.
    assert_eq!(sim.count_events(|e| *e == Event::Expired), 0);
    assert_eq!(sim.expired_tokens_sent, 0);
    assert_all_ok(&sim);
    // 3 failures, the recovering refresh at ~250 s, then one per ~243 s until the hour is up.
    assert_eq!(starts.len(), 3 + 1 + 13);
}

#[test]
fn retry_after_is_honoured() {
    let mut sim = five_minute_sim(TokenStyle::ExpiresIn);
    sim.server.script.push_back(RefreshFailure::Server {
        status: 503,
        retry_after_ms: Some(7 * SECOND),
    });
    sim.server
        .script
        .push_back(RefreshFailure::TooManyRequests {
            retry_after_ms: Some(9 * SECOND),
        });
    sim.run_until(START + 10 * MINUTE);
    let starts = &sim.refresh_starts;
    let rtt = 2 * sim.latency_ms;
    assert_eq!(starts[1] - starts[0] - rtt, 7 * SECOND);
    assert_eq!(starts[2] - starts[1] - rtt, 9 * SECOND);
    assert_eq!(sim.session.state(), SessionState::Authenticated);
}

fn failing_until_expiry(expired_requests: ExpiredRequests) -> Sim {
    let policy = RefreshPolicy {
        expired_requests,
        ..RefreshPolicy::default()
    };
    let mut sim = Sim::new(policy, Server::new(300, TokenStyle::ExpiresIn));
    sim.server.script.extend([RefreshFailure::Network; 10]);
    sim.login();
    sim.run_with_requests(15 * MINUTE, 5 * SECOND);
    sim
}

fn expired_window(sim: &Sim) -> (u64, u64) {
    let expired_at = sim
        .events
        .iter()
        .find(|(_, e)| *e == Event::Expired)
        .unwrap()
        .0;
    let recovered_at = sim
        .events
        .iter()
        .find(|(_, e)| {
            matches!(
                e,
                Event::Installed {
                    origin: TokenOrigin::Refresh,
                    ..
                }
            )
        })
        .unwrap()
        .0;
    (expired_at, recovered_at)
}

#[test]
fn failing_until_expiry_then_waiting_requests_recover() {
    let sim = failing_until_expiry(ExpiredRequests::Wait);
    let (expired_at, recovered_at) = expired_window(&sim);
    assert_eq!(expired_at - START, 300 * SECOND);
    assert!(recovered_at > expired_at + MINUTE);
    assert_eq!(
        sim.count_events(|e| *e == Event::Changed(SessionState::Expired)),
        1
    );
    assert!(
        sim.count_events(|e| matches!(
            e,
            Event::RefreshFailed {
                token_expires_first: true,
                ..
            }
        )) >= 3
    );
    assert_eq!(sim.server.refreshes, sim.refresh_starts.len() - 10);
    let waited: Vec<_> = sim
        .requests
        .iter()
        .filter(|r| (expired_at..recovered_at).contains(&r.issued_at))
        .collect();
    assert!(waited.len() > 10);
    assert!(waited
        .iter()
        .all(|r| r.outcome == Some(Outcome::Ok) && r.sent_with.len() == 1));
    assert_eq!(sim.expired_tokens_sent, 0);
    assert_all_ok(&sim);
    assert_eq!(sim.session.state(), SessionState::Authenticated);
}

#[test]
fn failing_until_expiry_fails_requests_fast_when_configured() {
    let sim = failing_until_expiry(ExpiredRequests::Fail);
    let (expired_at, recovered_at) = expired_window(&sim);
    for request in sim.requests.iter().filter(|r| r.issued_at < sim.now) {
        let expected = if (expired_at..recovered_at).contains(&request.issued_at) {
            Outcome::Failed(RequestFailure::Expired)
        } else {
            Outcome::Ok
        };
        assert_eq!(
            request.outcome,
            Some(expected),
            "issued at {}",
            request.issued_at - START
        );
    }
    assert_eq!(sim.expired_tokens_sent, 0);
    assert_eq!(sim.session.state(), SessionState::Authenticated);
}

#[test]
fn invalid_grant_ends_the_session() {
    let mut sim = five_minute_sim(TokenStyle::ExpiresIn);
    sim.server.script.push_back(RefreshFailure::InvalidGrant);
    sim.run_with_requests(HOUR, 30 * SECOND);
    assert_eq!(sim.refresh_starts.len(), 1);
    let ended_at = sim
        .events
        .iter()
        .find(|(_, e)| matches!(e, Event::LoggedOut { .. }))
        .unwrap();
    assert_eq!(
        ended_at.1,
        Event::LoggedOut {
            reason: LogoutReason::InvalidGrant
        }
    );
    assert_eq!(sim.session.state(), SessionState::Anonymous);
    assert!(sim.session.refresh_token().is_none());
    assert!(sim.session.generation().is_none());
    assert_eq!(sim.session.poll_timeout(), None);
    let later = sim.requests.iter().filter(|r| r.issued_at > ended_at.0);
    assert!(later.clone().count() > 100);
    for request in later {
        assert_eq!(
            request.outcome,
            Some(Outcome::Failed(RequestFailure::LoggedOut(
                LogoutReason::InvalidGrant
            )))
        );
    }
    sim.drive_bounded(1);
}

#[test]
fn logout_wins_over_a_refresh_in_flight() {
    let mut sim = five_minute_sim(TokenStyle::ExpiresIn);
    sim.run_until_refresh_starts();
    let credentials = sim.session.logout();
    assert_eq!(
        credentials.access_token.as_ref().map(Secret::expose),
        Some("at-1")
    );
    assert_eq!(
        credentials.refresh_token.as_ref().map(Secret::expose),
        Some("rt-1")
    );
    drop(credentials);
    let logged_out_at = sim.now;
    sim.drive_bounded(10); // the late success is delivered, and ignored
    assert_eq!(sim.server.refreshes, 1);
    assert_eq!(sim.cancels, 1);
    assert_eq!(sim.session.state(), SessionState::Anonymous);
    assert!(sim.session.refresh_token().is_none());
    assert_eq!(
        sim.count_events(|e| matches!(
            e,
            Event::Installed {
                origin: TokenOrigin::Refresh,
                ..
            }
        )),
        0
    );
    assert!(sim
        .events
        .iter()
        .all(|(t, e)| *t <= logged_out_at || !matches!(e, Event::Changed(_))));
    let id = sim.request();
    assert_eq!(
        sim.requests[id].outcome,
        Some(Outcome::Failed(RequestFailure::LoggedOut(
            LogoutReason::UserLogout
        )))
    );
    assert_eq!(sim.next_deadline(), None);
}

#[test]
fn refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let mut sim = five_minute_sim(TokenStyle::ExpiresIn);
    sim.server.rotate_refresh_tokens = false;
    sim.run_with_requests(HOUR, 10 * SECOND);
    assert_eq!(sim.refresh_starts.len(), 14);
    assert_eq!(
        sim.session.refresh_token().map(Secret::expose),
        Some("rt-1")
    );
    assert_eq!(
        sim.count_events(|e| matches!(e, Event::LoggedOut { .. })),
        0
    );
    assert_all_ok(&sim);
}

// ---------------------------------------------------------------- contract details

#[test]
fn extra_timeouts_are_no_ops() {
    let mut session = Session::new(RefreshPolicy::default(), 3);
    session.handle_tokens(take_grant("a", Some(300)), START);
    let actions = drain(&mut session);
    let generation = session.generation().unwrap();
    assert_eq!(
        actions,
        [
            Action::Emit(Event::Installed {
                generation,
                origin: TokenOrigin::SetTokens
            }),
            Action::Emit(Event::Changed(SessionState::Authenticated))
        ]
    );
    let deadline = session.poll_timeout().unwrap();
    assert!((START + 240 * SECOND..=START + 246 * SECOND).contains(&deadline));
    for now in [START, START + SECOND, deadline - 1, deadline - 1] {
        session.handle_timeout(now);
        assert!(drain(&mut session).is_empty());
        assert_eq!(session.poll_timeout(), Some(deadline));
    }
    session.handle_timeout(deadline);
    let actions = drain(&mut session);
    assert!(started_refresh(&actions).is_some());
    assert_eq!(actions.len(), 2);
    session.handle_timeout(deadline);
    session.handle_timeout(deadline + 1);
    assert!(drain(&mut session).is_empty());
    assert_eq!(session.poll_timeout(), Some(START + 300 * SECOND));
}

#[test]
fn results_of_superseded_refreshes_are_ignored() {
    let mut session = Session::new(RefreshPolicy::default(), 3);
    session.handle_tokens(take_grant("a", Some(300)), START);
    session.request_refresh(START + SECOND);
    let stale = started_refresh(&drain(&mut session)).unwrap();
    session.handle_tokens(take_grant("b", Some(300)), START + 2 * SECOND);
    let actions = drain(&mut session);
    assert!(actions.contains(&Action::CancelRefresh { generation: stale }));
    let current = session.generation();
    session.handle_refresh_ok(stale, take_grant("late", Some(300)), START + 3 * SECOND);
    session.handle_refresh_err(stale, RefreshFailure::InvalidGrant, START + 3 * SECOND);
    assert!(drain(&mut session).is_empty());
    assert_eq!(session.generation(), current);
    let RequestDecision::Attach { token, .. } = session.before_request(START + 4 * SECOND) else {
        panic!("token expected");
    };
    assert_eq!(token.expose(), "b");
}

#[test]
fn a_token_without_usable_expiry_is_refreshed_only_on_401() {
    let mut session = Session::new(RefreshPolicy::default(), 3);
    let mut grant = take_grant("a", Some(-5));
    grant.exp = Some(i64::MAX);
    session.handle_tokens(grant, START);
    drain(&mut session);
    assert_eq!(session.expiry_source(), None);
    assert_eq!(session.expires_at(), None);
    assert_eq!(session.poll_timeout(), None);
    let generation = session.generation().unwrap();
    assert!(matches!(
        session.before_request(u64::MAX),
        RequestDecision::Attach { .. }
    ));
    let now = START + HOUR;
    assert_eq!(
        session.handle_unauthorized(generation, false, now),
        UnauthorizedDecision::RetryAfterRefresh
    );
    let actions = drain(&mut session);
    assert!(started_refresh(&actions).is_some());
    assert!(actions.contains(&Action::Emit(Event::Expired)));
    assert_eq!(session.state(), SessionState::Expired);
    assert_eq!(session.before_request(now), RequestDecision::Wait);
}

#[test]
fn a_401_on_a_fresh_token_waits_for_the_minimum_interval() {
    let mut session = Session::new(RefreshPolicy::default(), 3);
    session.handle_tokens(take_grant("a", Some(300)), START);
    drain(&mut session);
    let generation = session.generation().unwrap();
    let decision = session.handle_unauthorized(generation, false, START + SECOND);
    assert_eq!(decision, UnauthorizedDecision::RetryAfterRefresh);
    assert!(started_refresh(&drain(&mut session)).is_none());
    assert_eq!(session.poll_timeout(), Some(START + 10 * SECOND));
    session.handle_timeout(START + 10 * SECOND);
    assert!(started_refresh(&drain(&mut session)).is_some());
}

#[test]
fn an_expired_token_from_set_tokens_refreshes_at_once() {
    let mut session = Session::new(RefreshPolicy::default(), 3);
    let mut grant = take_grant("old", None);
    grant.exp = Some((START / 1_000) as i64 - 60);
    session.handle_tokens(grant, START);
    let actions = drain(&mut session);
    assert!(matches!(
        actions[0],
        Action::Emit(Event::Installed {
            origin: TokenOrigin::SetTokens,
            ..
        })
    ));
    assert_eq!(actions[1], Action::Emit(Event::Expired));
    let refresh = started_refresh(&actions).unwrap();
    assert_eq!(
        actions.last(),
        Some(&Action::Emit(Event::Changed(SessionState::Expired)))
    );
    // A refresh that also returns an expired token is not refreshed again at once.
    let mut grant = take_grant("also-old", None);
    grant.exp = Some((START / 1_000) as i64 - 60);
    session.handle_refresh_ok(refresh, grant, START + 100);
    assert!(started_refresh(&drain(&mut session)).is_none());
    assert_eq!(session.poll_timeout(), Some(START + 100 + 10 * SECOND));
}

#[test]
fn restoring_a_session_from_nothing() {
    let mut session = Session::new(RefreshPolicy::default(), 3);
    assert_eq!(
        session.before_request(START),
        RequestDecision::Fail(RequestFailure::Anonymous)
    );
    session.request_refresh(START);
    let actions = drain(&mut session);
    let refresh = started_refresh(&actions).unwrap();
    assert_eq!(session.state(), SessionState::Refreshing);
    assert_eq!(session.before_request(START + 10), RequestDecision::Wait);
    session.handle_refresh_err(refresh, RefreshFailure::Timeout, START + 50);
    assert_eq!(session.before_request(START + 60), RequestDecision::Wait);
    let retry_at = session.poll_timeout().unwrap();
    session.handle_timeout(retry_at);
    let refresh = started_refresh(&drain(&mut session)).unwrap();
    let mut grant = take_grant("restored", Some(300));
    grant.refresh_token = Some(Secret::from("rt"));
    session.handle_refresh_ok(refresh, grant, retry_at + 50);
    assert_eq!(session.state(), SessionState::Authenticated);
    assert_eq!(session.refresh_token().map(Secret::expose), Some("rt"));
}

#[test]
fn logout_without_a_session_is_silent_and_states_have_names() {
    let mut session = Session::new(RefreshPolicy::default(), 3);
    let credentials = session.logout();
    assert!(credentials.access_token.is_none() && credentials.refresh_token.is_none());
    assert!(drain(&mut session).is_empty());
    let names = [
        SessionState::Anonymous,
        SessionState::Authenticated,
        SessionState::Refreshing,
        SessionState::Expired,
    ]
    .map(SessionState::as_str);
    assert_eq!(
        names,
        ["anonymous", "authenticated", "refreshing", "expired"]
    );
    assert_eq!(LogoutReason::InvalidGrant.as_str(), "invalid_grant");
    assert_eq!(LogoutReason::OtherTab.as_str(), "otherTab");
}

#[test]
fn debug_output_never_shows_a_token() {
    let mut session = Session::new(RefreshPolicy::default(), 3);
    let mut grant = take_grant("eyJ-access", Some(300));
    grant.refresh_token = Some(Secret::from("eyJ-refresh"));
    let printed_grant = format!("{grant:?}");
    session.handle_tokens(grant, START);
    let decision = format!("{:?}", session.before_request(START));
    let printed = format!("{session:?} {printed_grant} {decision}");
    assert!(!printed.contains("eyJ"), "{printed}");
}

#[test]
fn extreme_times_never_panic() {
    for now in [0, 1, START, u64::MAX - 1, u64::MAX] {
        let mut session = Session::new(RefreshPolicy::default(), now);
        let mut grant = take_grant("a", Some(i64::MAX));
        grant.exp = Some(i64::MIN);
        grant.iat = Some(i64::MAX);
        grant.server_date_ms = Some(u64::MAX);
        session.handle_tokens(grant, now);
        session.handle_timeout(now);
        let _ = session.before_request(now);
        let generation = session.generation().unwrap();
        session.handle_unauthorized(generation, false, now);
        session.request_refresh(now);
        if let Some(refresh) = started_refresh(&drain(&mut session)) {
            let failure = RefreshFailure::TooManyRequests {
                retry_after_ms: Some(u64::MAX),
            };
            session.handle_refresh_err(refresh, failure, now);
        }
        let _ = session.poll_timeout();
        drain(&mut session);
    }
}

#[test]
fn logout_with_a_reason_reports_it_and_fails_requests_with_it() {
    let mut session = Session::new(RefreshPolicy::default(), 3);
    let mut grant = take_grant("eyJ-shared", Some(300));
    grant.refresh_token = Some(Secret::from("eyJ-refresh"));
    session.handle_tokens(grant, START);
    drain(&mut session);
    let credentials = session.logout_with(LogoutReason::OtherTab);
    assert_eq!(
        credentials.access_token.as_ref().map(Secret::expose),
        Some("eyJ-shared")
    );
    assert!(session.refresh_token().is_none());
    let events: Vec<Event> = drain(&mut session)
        .into_iter()
        .filter_map(|action| match action {
            Action::Emit(event) => Some(event),
            _ => None,
        })
        .collect();
    assert!(events.contains(&Event::LoggedOut {
        reason: LogoutReason::OtherTab
    }));
    assert_eq!(session.state(), SessionState::Anonymous);
    assert!(matches!(
        session.before_request(START + 1),
        RequestDecision::Fail(RequestFailure::LoggedOut(LogoutReason::OtherTab))
    ));
}

#[test]
fn sibling_tokens_keep_the_siblings_schedule_and_supersede_a_refresh_in_flight() {
    let policy = RefreshPolicy {
        lead_jitter_fraction: 0.0,
        ..RefreshPolicy::default()
    };
    let mut session = Session::new(policy.clone(), 3);
    let mut grant = take_grant("eyJ-first", Some(300));
    grant.refresh_token = Some(Secret::from("eyJ-refresh-1"));
    session.handle_tokens(grant, START);
    drain(&mut session);
    // Our own refresh starts...
    session.request_refresh(START + 1_000);
    let ours = started_refresh(&drain(&mut session)).expect("a refresh starts");
    // ...and a sibling's rotated token, received 2 s earlier, arrives first.
    let received_at = START + 10_000;
    let now = received_at + 2_000;
    session.handle_sibling_tokens(take_grant("eyJ-sibling", Some(300)), received_at, now);
    let actions = drain(&mut session);
    assert!(actions.contains(&Action::CancelRefresh { generation: ours }));
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::Emit(Event::Installed {
            origin: TokenOrigin::Sibling,
            ..
        })
    )));
    assert_eq!(session.expires_at(), Some(received_at + 300_000));
    // The memory-mode refresh token is kept when the sibling sent none.
    assert_eq!(
        session.refresh_token().map(Secret::expose),
        Some("eyJ-refresh-1")
    );
    // The late result of our superseded refresh is ignored.
    session.handle_refresh_ok(ours, take_grant("eyJ-late", Some(300)), now + 100);
    match session.before_request(now + 200) {
        RequestDecision::Attach { token, .. } => assert_eq!(token.expose(), "eyJ-sibling"),
        other => panic!("expected the sibling's token, got {other:?}"),
    }
    // The next refresh is scheduled from the sibling's receipt time: lead 20% of 300 s = 60 s.
    assert_eq!(session.poll_timeout(), Some(received_at + 240_000));
}

/// Every install says where the token came from, so the shell never compares generations.
#[test]
fn every_install_emits_installed_with_its_origin() {
    let mut session = Session::new(RefreshPolicy::default(), 3);
    let installed = |actions: &[Action]| -> Vec<(Generation, TokenOrigin)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Emit(Event::Installed { generation, origin }) => {
                    Some((*generation, *origin))
                }
                _ => None,
            })
            .collect()
    };
    session.handle_login(take_grant("a", Some(300)), START);
    let actions = drain(&mut session);
    assert_eq!(
        installed(&actions),
        [(session.generation().unwrap(), TokenOrigin::Login)]
    );
    session.request_refresh(START + 1_000);
    let refresh = started_refresh(&drain(&mut session)).unwrap();
    session.handle_refresh_ok(refresh, take_grant("b", Some(300)), START + 1_100);
    assert_eq!(
        installed(&drain(&mut session)),
        [(session.generation().unwrap(), TokenOrigin::Refresh)]
    );
    // A late duplicate of the same result installs nothing.
    session.handle_refresh_ok(refresh, take_grant("c", Some(300)), START + 1_200);
    assert!(installed(&drain(&mut session)).is_empty());
    session.handle_sibling_tokens(take_grant("d", Some(300)), START + 1_300, START + 1_400);
    assert_eq!(
        installed(&drain(&mut session)),
        [(session.generation().unwrap(), TokenOrigin::Sibling)]
    );
    session.handle_tokens(take_grant("e", Some(300)), START + 2_000);
    assert_eq!(
        installed(&drain(&mut session)),
        [(session.generation().unwrap(), TokenOrigin::SetTokens)]
    );
}

/// `expires_in: 0`, accepted by the one validation (`grant::expires_in`), is a token with no
/// usable expiry from the response: the `exp` claim decides, on simulated time.
#[test]
fn expires_in_zero_falls_back_to_exp() {
    let mut session = Session::new(RefreshPolicy::default(), 3);
    let mut grant = take_grant("a", Some(grant::expires_in(0.0).unwrap()));
    grant.exp = Some((START / 1_000) as i64 + 300);
    session.handle_tokens(grant, START);
    drain(&mut session);
    assert_eq!(session.expiry_source(), Some(ExpirySource::ExpClaim));
    let expires_at = session.expires_at().unwrap();
    assert!(
        expires_at.abs_diff(START + 300_000) <= 1_000,
        "{expires_at}"
    );
    assert_eq!(session.state(), SessionState::Authenticated);
}

/// The refresh phase is one value: a backoff survives the attempt it schedules (its failure
/// count grows), and a success ends it.
#[test]
fn backoff_counts_failures_across_attempts_and_a_success_resets_it() {
    let policy = RefreshPolicy {
        backoff_initial_ms: 100,
        backoff_jitter_fraction: 0.0,
        ..RefreshPolicy::default()
    };
    let mut session = Session::new(policy, 3);
    session.handle_login(take_grant("a", Some(300)), START);
    drain(&mut session);
    let mut now = START + 1_000;
    session.request_refresh(now);
    let mut delays = Vec::new();
    for _ in 0..3 {
        let refresh = started_refresh(&drain(&mut session)).unwrap();
        session.handle_refresh_err(refresh, RefreshFailure::Network, now);
        drain(&mut session);
        let next = session.poll_timeout().unwrap();
        delays.push(next - now);
        now = next;
        session.handle_timeout(now);
    }
    assert!(delays[0] < delays[1] && delays[1] < delays[2], "{delays:?}");
    let refresh = started_refresh(&drain(&mut session)).unwrap();
    session.handle_refresh_ok(refresh, take_grant("b", Some(300)), now);
    drain(&mut session);
    session.request_refresh(now + 1);
    let refresh = started_refresh(&drain(&mut session)).unwrap();
    session.handle_refresh_err(refresh, RefreshFailure::Network, now + 1);
    drain(&mut session);
    assert_eq!(session.poll_timeout().unwrap() - (now + 1), delays[0]);
}

/// The refresh answers as [`grant::refresh_answer`] classifies them, on simulated time: a
/// `400 invalid_request` and, with DPoP on, a `Bearer` token response are transient (retried
/// after 1 s, then 2 s, the token kept); `400 invalid_grant` then ends the session.
#[test]
fn classified_refresh_answers_retry_or_end_the_session() {
    let mut sim = five_minute_sim(TokenStyle::ExpiresIn);
    let failure = |status, error, token_type, dpop| {
        grant::refresh_answer(status, error, token_type, dpop, None).unwrap_err()
    };
    sim.server.script.extend([
        failure(400, Some("invalid_request"), None, false),
        failure(200, None, Some("Bearer"), true),
        failure(400, Some("invalid_grant"), None, false),
    ]);
    sim.run_with_requests(HOUR, 30 * SECOND);
    let starts = &sim.refresh_starts;
    assert_eq!(starts.len(), 3);
    let rtt = 2 * sim.latency_ms;
    let waits: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0] - rtt).collect();
    assert!(waits[0] > 800 && waits[0] <= 1_000, "{waits:?}");
    assert!(waits[1] > 1_600 && waits[1] <= 2_000, "{waits:?}");
    assert_eq!(
        sim.count_events(|e| matches!(e, Event::RefreshFailed { .. })),
        2
    );
    assert_eq!(
        sim.count_events(|e| *e
            == Event::LoggedOut {
                reason: LogoutReason::InvalidGrant
            }),
        1
    );
    assert_eq!(sim.session.state(), SessionState::Anonymous);
}

/// What a sibling tab may be handed: the current, usable token with no refresh in flight, and in
/// memory mode only with its refresh token.
#[test]
fn shareable_tokens() {
    let now = START;
    let mut cookie = Session::new(RefreshPolicy::default(), 7);
    assert!(cookie
        .shareable(Generation::from_raw(1), false, now)
        .is_none());
    cookie.handle_login(take_grant("access-1", Some(300)), now);
    let generation = cookie.generation().unwrap();
    drain(&mut cookie);
    let (access, refresh) = cookie.shareable(generation, false, now).unwrap();
    assert_eq!((access.expose(), refresh.is_none()), ("access-1", true));
    // Not an older token's generation.
    let older = Generation::from_raw(generation.raw().wrapping_sub(1));
    assert!(cookie.shareable(older, false, now).is_none());
    // Not while a refresh is in flight.
    cookie.request_refresh(now);
    assert!(started_refresh(&drain(&mut cookie)).is_some());
    assert!(cookie.shareable(generation, false, now).is_none());

    // Memory mode: never without the refresh token (a sibling could not refresh).
    let mut memory = Session::new(RefreshPolicy::default(), 7);
    memory.handle_login(take_grant("access-2", Some(300)), now);
    let generation = memory.generation().unwrap();
    assert!(memory.shareable(generation, true, now).is_none());
    let mut grant = take_grant("access-3", Some(300));
    grant.refresh_token = Some(Secret::from("refresh-3"));
    memory.handle_login(grant, now);
    let generation = memory.generation().unwrap();
    let (access, refresh) = memory.shareable(generation, true, now).unwrap();
    assert_eq!(
        (access.expose(), refresh.map(Secret::expose)),
        ("access-3", Some("refresh-3"))
    );
    // An expired token is not handed over.
    assert!(memory
        .shareable(generation, true, now + 301 * SECOND)
        .is_none());
}

#[test]
fn refresh_failures_are_named_once_and_read_back() {
    let every = [
        (RefreshFailure::Network, "network", None),
        (RefreshFailure::Timeout, "timeout", None),
        (
            RefreshFailure::Server {
                status: 503,
                retry_after_ms: None,
            },
            "server_error",
            Some(503),
        ),
        (
            RefreshFailure::TooManyRequests {
                retry_after_ms: None,
            },
            "too_many_requests",
            Some(429),
        ),
        (RefreshFailure::InvalidGrant, "invalid_grant", None),
        (RefreshFailure::Malformed, "malformed", None),
    ];
    for (failure, name, status) in every {
        assert_eq!(failure.reason(), (name, status));
        assert_eq!(RefreshFailure::from_reason(name, status), failure);
    }
    // What an event cannot carry is not invented: no Retry-After, a 500 for a lost status, and
    // an unknown word is a network failure (transient, never the end of the session).
    let with_delay = RefreshFailure::Server {
        status: 502,
        retry_after_ms: Some(3_000),
    };
    let (name, status) = with_delay.reason();
    assert_eq!(
        RefreshFailure::from_reason(name, status),
        RefreshFailure::Server {
            status: 502,
            retry_after_ms: None
        }
    );
    assert_eq!(
        RefreshFailure::from_reason("server_error", None),
        RefreshFailure::Server {
            status: 500,
            retry_after_ms: None
        }
    );
    assert_eq!(
        RefreshFailure::from_reason("Invalid_Grant", None),
        RefreshFailure::Network
    );
}

//! Every transition and every refusal of the session rules.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

const T0: Millis = 1_700_000_000_000;

fn timeouts() -> Timeouts {
    Timeouts {
        join: 600_000,
        inactivity: 600_000,
        agent_grace: 60_000,
        customer_grace: 60_000,
        control_answer: 30_000,
    }
}

fn setup() -> (Registry, SessionId, String) {
    let mut reg = Registry::default();
    let mut rng = StdRng::seed_from_u64(1);
    let created = reg.create(&mut rng, None, Page::default(), timeouts(), T0);
    (reg, created.id, created.token)
}

fn active() -> (Registry, SessionId) {
    let (mut reg, id, _) = setup();
    reg.join(id, "alice", T0 + 1_000).unwrap();
    (reg, id)
}

fn state(reg: &Registry, id: SessionId) -> Option<State> {
    reg.get(id).map(|s| s.state)
}

#[test]
fn created_session_is_idle_in_pointer_mode_with_a_secret_token() {
    let (reg, id, token) = setup();
    let s = reg.get(id).unwrap();
    assert_eq!((s.state, s.mode), (State::Idle, Mode::Pointer));
    assert_eq!(token.len(), 64);
    assert!(token_matches(s, &token));
    assert!(!token_matches(s, &"0".repeat(64)));
    assert!(
        !s.token_hash.contains(&token),
        "the token itself is never kept"
    );
}

#[test]
fn ids_are_unique_among_live_sessions() {
    let mut reg = Registry::default();
    let mut rng = StdRng::seed_from_u64(3);
    for _ in 0..20_000 {
        reg.create(&mut rng, None, Page::default(), timeouts(), T0);
    }
    assert_eq!(reg.len(), 20_000);
}

#[test]
fn first_agent_activates_the_session() {
    let (mut reg, id, _) = setup();
    let effects = reg.join(id, "alice", T0 + 5).unwrap();
    assert_eq!(
        effects,
        vec![Effect::Activated {
            agent: "alice".into()
        }]
    );
    let s = reg.get(id).unwrap();
    assert_eq!(
        (s.state, s.mode, s.activated_at),
        (State::Active, Mode::Pointer, Some(T0 + 5))
    );
    assert_eq!(reg.session_of_agent("alice"), Some(id));
}

#[test]
fn second_agent_is_refused() {
    let (mut reg, id) = active();
    assert_eq!(
        reg.join(id, "bob", T0 + 2_000),
        Err(Refusal::SessionHasAgent)
    );
}

#[test]
fn agent_in_a_session_cannot_join_another() {
    let (mut reg, _first) = active();
    let mut rng = StdRng::seed_from_u64(9);
    let other = reg
        .create(&mut rng, None, Page::default(), timeouts(), T0)
        .id;
    assert_eq!(
        reg.join(other, "alice", T0 + 2_000),
        Err(Refusal::AgentInOtherSession)
    );
    assert_eq!(state(&reg, other), Some(State::Idle));
}

#[test]
fn agent_is_free_again_once_the_session_ends() {
    let (mut reg, first) = active();
    reg.apply(first, Event::Exit(Role::Agent), T0 + 2_000)
        .unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let other = reg
        .create(&mut rng, None, Page::default(), timeouts(), T0)
        .id;
    assert!(reg.join(other, "alice", T0 + 3_000).is_ok());
}

#[test]
fn the_same_agent_reconnecting_gets_a_fresh_snapshot() {
    let (mut reg, id) = active();
    let (_, effects) = reg.apply(id, Event::AgentDisconnected, T0 + 2_000).unwrap();
    assert_eq!(
        effects,
        vec![Effect::Presence {
            role: Role::Agent,
            connected: false
        }]
    );
    let effects = reg.join(id, "alice", T0 + 3_000).unwrap();
    assert_eq!(
        effects,
        vec![
            Effect::AgentReconnected,
            Effect::Presence {
                role: Role::Agent,
                connected: true
            }
        ]
    );
    assert_eq!(reg.get(id).unwrap().agent_gone_since, None);
}

#[test]
fn an_old_agent_connection_closing_after_a_new_one_opened_changes_nothing() {
    let (mut reg, id) = active();
    reg.join(id, "alice", T0 + 2_000).unwrap();
    let (_, effects) = reg.apply(id, Event::AgentDisconnected, T0 + 3_000).unwrap();
    assert!(effects.is_empty());
    assert!(reg.get(id).unwrap().agent_connected());
    let (_, effects) = reg.apply(id, Event::AgentDisconnected, T0 + 4_000).unwrap();
    assert_eq!(
        effects,
        vec![Effect::Presence {
            role: Role::Agent,
            connected: false
        }]
    );
}

#[test]
fn either_side_exits_with_its_reason() {
    for (role, reason) in [
        (Role::Customer, EndReason::CustomerExit),
        (Role::Agent, EndReason::AgentExit),
    ] {
        let (mut reg, id) = active();
        let (after, effects) = reg.apply(id, Event::Exit(role), T0 + 2_000).unwrap();
        assert_eq!(effects, vec![Effect::Ended(reason)]);
        assert_eq!(after.ended, Some((T0 + 2_000, reason)));
        assert_eq!(state(&reg, id), None, "ended sessions leave the registry");
    }
}

#[test]
fn customer_may_exit_an_idle_session_but_no_agent_is_in_it() {
    let (mut reg, id, _) = setup();
    assert_eq!(
        reg.apply(id, Event::Exit(Role::Agent), T0).unwrap_err(),
        Refusal::NotActive
    );
    let (_, effects) = reg.apply(id, Event::Exit(Role::Customer), T0).unwrap();
    assert_eq!(effects, vec![Effect::Ended(EndReason::CustomerExit)]);
}

#[test]
fn ended_is_final_and_the_id_is_unknown_to_joiners() {
    let (mut reg, id) = active();
    reg.apply(id, Event::Exit(Role::Customer), T0 + 2_000)
        .unwrap();
    assert_eq!(
        reg.join(id, "alice", T0 + 3_000),
        Err(Refusal::NoSuchSession)
    );
    assert_eq!(reg.join(id, "bob", T0 + 3_000), Err(Refusal::NoSuchSession));
    assert_eq!(
        reg.apply(id, Event::CustomerConnected, T0 + 3_000)
            .unwrap_err(),
        Refusal::NoSuchSession
    );
}

#[test]
fn a_session_ended_on_its_own_refuses_every_event() {
    let (reg, id) = active();
    let mut s = reg.get(id).unwrap().clone();
    s.handle(Event::InteractionEnded, T0).unwrap();
    for event in [
        Event::Activity,
        Event::RequestControl,
        Event::Tick,
        Event::Exit(Role::Customer),
    ] {
        assert_eq!(s.handle(event, T0), Err(Refusal::NoSuchSession));
    }
    assert_eq!(s.join("alice", T0), Err(Refusal::NoSuchSession));
}

#[test]
fn interaction_end_ends_every_bound_session_and_only_those() {
    let mut reg = Registry::default();
    let mut rng = StdRng::seed_from_u64(5);
    let chat = Interaction {
        id: "chat-42".into(),
        channel: "chat".into(),
    };
    let a = reg
        .create(
            &mut rng,
            Some(chat.clone()),
            Page::default(),
            timeouts(),
            T0,
        )
        .id;
    let b = reg
        .create(&mut rng, Some(chat), Page::default(), timeouts(), T0)
        .id;
    let c = reg
        .create(&mut rng, None, Page::default(), timeouts(), T0)
        .id;
    let mut bound = reg.bound_to("chat-42");
    bound.sort();
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(bound, expected);
    for id in bound {
        let (_, effects) = reg.apply(id, Event::InteractionEnded, T0 + 1).unwrap();
        assert_eq!(effects, vec![Effect::Ended(EndReason::InteractionEnded)]);
    }
    assert_eq!(state(&reg, c), Some(State::Idle));
}

#[test]
fn api_end_and_shutdown_record_their_reasons() {
    for (event, reason) in [
        (Event::EndedByApi, EndReason::EndedByApi),
        (Event::Shutdown, EndReason::ServerShutdown),
    ] {
        let (mut reg, id) = active();
        let (_, effects) = reg.apply(id, event, T0 + 1).unwrap();
        assert_eq!(effects, vec![Effect::Ended(reason)]);
    }
}

#[test]
fn idle_session_never_joined_times_out() {
    let (mut reg, id, _) = setup();
    assert!(reg.tick(T0 + 599_999).is_empty());
    let fired = reg.tick(T0 + 600_000);
    assert_eq!(fired[0].1, vec![Effect::Ended(EndReason::JoinTimeout)]);
    assert_eq!(state(&reg, id), None);
}

#[test]
fn active_session_without_activity_times_out_and_activity_defers_it() {
    let (mut reg, id) = active();
    reg.apply(id, Event::Activity, T0 + 300_000).unwrap();
    assert!(reg.tick(T0 + 600_000).is_empty());
    let fired = reg.tick(T0 + 900_000);
    assert_eq!(fired[0].1, vec![Effect::Ended(EndReason::Inactivity)]);
}

#[test]
fn agent_gone_past_grace_ends_the_session() {
    let (mut reg, id) = active();
    reg.apply(id, Event::AgentDisconnected, T0 + 10_000)
        .unwrap();
    assert!(reg.tick(T0 + 69_999).is_empty());
    assert_eq!(
        reg.tick(T0 + 70_000)[0].1,
        vec![Effect::Ended(EndReason::AgentGone)]
    );
    assert_eq!(reg.session_of_agent("alice"), None);
}

#[test]
fn customer_gone_past_grace_ends_the_session_idle_or_active() {
    for joined in [false, true] {
        let (mut reg, id, _) = setup();
        if joined {
            reg.join(id, "alice", T0).unwrap();
        }
        let (_, effects) = reg
            .apply(id, Event::CustomerDisconnected, T0 + 10_000)
            .unwrap();
        let told = vec![Effect::Presence {
            role: Role::Customer,
            connected: false,
        }];
        assert_eq!(effects, if joined { told } else { vec![] });
        assert!(reg.tick(T0 + 69_999).is_empty());
        assert_eq!(
            reg.tick(T0 + 70_000)[0].1,
            vec![Effect::Ended(EndReason::CustomerGone)]
        );
    }
}

#[test]
fn customer_reconnecting_within_grace_keeps_the_session() {
    let (mut reg, id) = active();
    reg.apply(id, Event::CustomerDisconnected, T0 + 10_000)
        .unwrap();
    let (_, effects) = reg
        .apply(id, Event::CustomerConnected, T0 + 40_000)
        .unwrap();
    assert_eq!(
        effects,
        vec![Effect::Presence {
            role: Role::Customer,
            connected: true
        }]
    );
    assert!(reg.tick(T0 + 200_000).is_empty());
    assert_eq!(state(&reg, id), Some(State::Active));
}

#[test]
fn a_second_tab_closing_does_not_start_the_grace_period() {
    let (mut reg, id) = active();
    reg.apply(id, Event::CustomerConnected, T0 + 1).unwrap();
    reg.apply(id, Event::CustomerDisconnected, T0 + 2).unwrap();
    assert_eq!(reg.get(id).unwrap().customer_gone_since, None);
    assert!(reg.tick(T0 + 500_000).is_empty());
}

#[test]
fn write_mode_needs_a_request_and_the_customers_yes() {
    let (mut reg, id) = active();
    assert_eq!(
        reg.apply(id, Event::GrantControl, T0).unwrap_err(),
        Refusal::NoControlPending
    );
    assert_eq!(
        reg.apply(id, Event::RevokeControl, T0).unwrap_err(),
        Refusal::NotWriteMode
    );
    let (_, e) = reg.apply(id, Event::RequestControl, T0 + 1).unwrap();
    assert_eq!(e, vec![Effect::Control(ControlOutcome::Requested)]);
    assert_eq!(
        reg.apply(id, Event::RequestControl, T0 + 2).unwrap_err(),
        Refusal::ControlAlreadyPending
    );
    let (s, e) = reg.apply(id, Event::GrantControl, T0 + 3).unwrap();
    assert_eq!(
        e,
        vec![Effect::ModeChanged {
            mode: Mode::Write,
            outcome: ControlOutcome::Allowed
        }]
    );
    assert_eq!(s.mode, Mode::Write);
    assert_eq!(
        reg.apply(id, Event::RequestControl, T0 + 4).unwrap_err(),
        Refusal::AlreadyWriteMode
    );
    let (s, e) = reg.apply(id, Event::RevokeControl, T0 + 5).unwrap();
    assert_eq!(
        e,
        vec![Effect::ModeChanged {
            mode: Mode::Pointer,
            outcome: ControlOutcome::Revoked
        }]
    );
    assert_eq!(s.mode, Mode::Pointer);
}

#[test]
fn denied_request_leaves_pointer_mode() {
    let (mut reg, id) = active();
    reg.apply(id, Event::RequestControl, T0).unwrap();
    let (s, e) = reg.apply(id, Event::DenyControl, T0 + 1).unwrap();
    assert_eq!(e, vec![Effect::Control(ControlOutcome::Denied)]);
    assert_eq!((s.mode, s.control_pending_since), (Mode::Pointer, None));
}

#[test]
fn unanswered_request_is_a_deny_after_thirty_seconds() {
    let (mut reg, id) = active();
    reg.apply(id, Event::RequestControl, T0 + 1_000).unwrap();
    assert!(reg.tick(T0 + 30_999).is_empty());
    let fired = reg.tick(T0 + 31_000);
    assert_eq!(fired[0].1, vec![Effect::Control(ControlOutcome::TimedOut)]);
    let s = reg.get(id).unwrap();
    assert_eq!((s.mode, s.control_pending_since), (Mode::Pointer, None));
    assert_eq!(
        reg.apply(id, Event::GrantControl, T0 + 32_000).unwrap_err(),
        Refusal::NoControlPending
    );
}

#[test]
fn control_needs_an_active_session() {
    let (mut reg, id, _) = setup();
    assert_eq!(
        reg.apply(id, Event::RequestControl, T0).unwrap_err(),
        Refusal::NotActive
    );
}

#[test]
fn page_changes_are_recorded_once() {
    let (mut reg, id) = active();
    let page = Page {
        url: "https://shop.example/cart".into(),
        title: "Cart".into(),
    };
    let (_, e) = reg.apply(id, Event::Page(page.clone()), T0 + 1).unwrap();
    assert_eq!(e, vec![Effect::PageVisited(page.clone())]);
    let (_, e) = reg.apply(id, Event::Page(page), T0 + 2).unwrap();
    assert!(e.is_empty());
}

#[test]
fn next_deadline_is_the_earliest_timer() {
    let (mut reg, id) = active();
    reg.apply(id, Event::RequestControl, T0 + 1_000).unwrap();
    assert_eq!(reg.get(id).unwrap().next_deadline(), Some(T0 + 31_000));
    reg.apply(id, Event::AgentDisconnected, T0 + 2_000).unwrap();
    assert_eq!(reg.get(id).unwrap().next_deadline(), Some(T0 + 31_000));
    let (mut reg, id, _) = setup();
    assert_eq!(reg.get(id).unwrap().next_deadline(), Some(T0 + 600_000));
    reg.apply(id, Event::CustomerDisconnected, T0 + 5).unwrap();
    assert_eq!(reg.get(id).unwrap().next_deadline(), Some(T0 + 60_005));
}

#[test]
fn end_reasons_round_trip_through_their_names() {
    for r in EndReason::ALL {
        assert_eq!(EndReason::parse(r.as_str()), Some(r));
    }
    assert_eq!(EndReason::parse("nonsense"), None);
}

#[test]
fn a_page_changing_its_address_in_a_loop_records_a_bounded_history() {
    let (mut reg, id) = active();
    let visit = |reg: &mut Registry, n: u32, at: Millis| {
        let page = Page {
            url: format!("https://shop.example/p{n}"),
            title: String::new(),
        };
        let (s, e) = reg.apply(id, Event::Page(page.clone()), at).unwrap();
        assert_eq!(s.page, page, "the page is followed, recorded or not");
        e.len()
    };
    let recorded: usize = (0..100)
        .map(|n| visit(&mut reg, n, T0 + 2_000 + u64::from(n)))
        .sum();
    assert_eq!(recorded, PAGES_PER_MINUTE as usize);
    assert_eq!(
        visit(&mut reg, 1000, T0 + 62_000),
        1,
        "the next minute records again"
    );
}

#[test]
fn a_session_has_a_bounded_number_of_tabs() {
    let (mut reg, id, _) = setup();
    for _ in 1..MAX_TABS {
        reg.apply(id, Event::CustomerConnected, T0).unwrap();
    }
    assert_eq!(
        reg.apply(id, Event::CustomerConnected, T0).unwrap_err(),
        Refusal::TooManyTabs
    );
    reg.apply(id, Event::CustomerDisconnected, T0).unwrap();
    assert!(
        reg.apply(id, Event::CustomerConnected, T0).is_ok(),
        "a closed tab makes room"
    );
}

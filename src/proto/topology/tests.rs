//! Unit tests of the topology engine: exact outboxes, one input at a time.

use std::time::Duration;

use rand::SeedableRng;

use super::engine::PERIODIC_JITTER_FRACTION;
use super::*;
use crate::proto::{EngineRng, Time, jitter};

const SEED: u64 = 7;

fn node(n: u8) -> NodeId {
    NodeId([n; 32])
}

fn me() -> NodeId {
    node(0)
}

fn ms(ms: u64) -> Time {
    Time::from_millis(ms)
}

/// Small-room defaults without swaps, so rebalances are predictable.
fn no_swaps() -> Config {
    Config {
        swap_probability: 0.0,
        ..Config::small_room()
    }
}

fn drain(topology: &mut Topology) -> Vec<Output> {
    std::iter::from_fn(|| topology.poll_output()).collect()
}

/// An engine with `config`, started at time zero, outbox drained.
fn started(config: Config) -> Topology {
    let mut topology = Topology::new(me(), config, EngineRng::seed_from_u64(SEED));
    topology.handle(Time::ZERO, Input::Start);
    drain(&mut topology);
    topology
}

fn step(topology: &mut Topology, now: Time, input: Input) -> Vec<Output> {
    topology.handle(now, input);
    drain(topology)
}

/// Links `peers` (inbound), each reporting no degree, outbox drained.
fn link(topology: &mut Topology, now: Time, peers: &[u8]) {
    for &p in peers {
        topology.handle(
            now,
            Input::LinkUp {
                peer: node(p),
                outbound: false,
            },
        );
    }
    drain(topology);
}

fn alive(topology: &mut Topology, now: Time, peers: &[u8]) {
    for &p in peers {
        topology.handle(now, Input::MemberAlive(node(p)));
    }
    drain(topology);
}

/// The two outputs of a dial.
fn dial(peer: u8, attempt: u64) -> [Output; 2] {
    [
        Output::Dial(node(peer)),
        Output::SetTimer {
            after: Config::small_room().dial_timeout,
            timer: Timer::DialTimeout {
                peer: node(peer),
                attempt,
            },
        },
    ]
}

fn dials(list: &[(u8, u64)]) -> Vec<Output> {
    list.iter().flat_map(|&(p, a)| dial(p, a)).collect()
}

fn dialled(out: &[Output]) -> Vec<NodeId> {
    out.iter()
        .filter_map(|o| match o {
            Output::Dial(p) => Some(*p),
            _ => None,
        })
        .collect()
}

/// Fires `timer` (a periodic one) and returns the outbox without its re-arm,
/// after checking the re-arm is last and within the jitter.
fn fire(topology: &mut Topology, now: Time, timer: Timer) -> Vec<Output> {
    let interval = match timer {
        Timer::Rebalance => Config::small_room().rebalance_interval,
        Timer::Reconnect => Config::small_room().reconnect_interval,
        Timer::DialTimeout { .. } => panic!("not a periodic timer"),
    };
    let mut out = step(topology, now, Input::Timer(timer));
    match out.pop() {
        Some(Output::SetTimer { after, timer: t }) if t == timer => {
            assert!(after >= interval && after <= interval.mul_f64(1.0 + PERIODIC_JITTER_FRACTION));
        }
        other => panic!("expected the {timer:?} re-arm last, got {other:?}"),
    }
    out
}

fn send_degree(peer: u8, degree: u16) -> Output {
    Output::Send {
        to: node(peer),
        msg: Message::Degree(degree),
    }
}

// ---- start and timers ------------------------------------------------------

#[test]
fn start_arms_exactly_the_rebalance_and_reconnect_timers() {
    let config = Config::small_room();
    let mut topology = Topology::new(me(), config.clone(), EngineRng::seed_from_u64(SEED));
    let out = step(&mut topology, Time::ZERO, Input::Start);

    let mut rng = EngineRng::seed_from_u64(SEED);
    let rebalance = jitter(
        &mut rng,
        config.rebalance_interval,
        PERIODIC_JITTER_FRACTION,
    );
    let reconnect = jitter(
        &mut rng,
        config.reconnect_interval,
        PERIODIC_JITTER_FRACTION,
    );
    assert_eq!(
        out,
        vec![
            Output::SetTimer {
                after: rebalance,
                timer: Timer::Rebalance
            },
            Output::SetTimer {
                after: reconnect,
                timer: Timer::Reconnect
            },
        ]
    );
}

#[test]
fn a_second_start_does_nothing() {
    let mut topology = started(Config::small_room());
    assert_eq!(step(&mut topology, ms(10), Input::Start), vec![]);
}

#[test]
fn a_duplicate_rebalance_timer_does_nothing() {
    let mut topology = started(no_swaps());
    alive(&mut topology, ms(0), &[1, 2, 3]);
    assert_eq!(
        fire(&mut topology, ms(2000), Timer::Rebalance),
        dials(&[(1, 1), (2, 2), (3, 3)])
    );
    for p in [1, 2, 3] {
        step(&mut topology, ms(2000), Input::DialFailed(node(p)));
    }
    assert_eq!(
        step(&mut topology, ms(2000), Input::Timer(Timer::Rebalance)),
        vec![]
    );
}

#[test]
fn a_timer_before_start_does_nothing() {
    let mut topology = Topology::new(me(), no_swaps(), EngineRng::seed_from_u64(SEED));
    alive(&mut topology, ms(0), &[1, 2, 3]);
    assert_eq!(
        step(&mut topology, ms(5000), Input::Timer(Timer::Rebalance)),
        vec![]
    );
    assert_eq!(
        step(&mut topology, ms(5000), Input::Timer(Timer::Reconnect)),
        vec![]
    );
}

// ---- dialling --------------------------------------------------------------

#[test]
fn rebalance_below_min_dials_exactly_the_missing_candidates() {
    let mut topology = started(no_swaps());
    alive(&mut topology, ms(0), &[1, 2, 3]);
    assert_eq!(
        fire(&mut topology, ms(2000), Timer::Rebalance),
        dials(&[(1, 1), (2, 2), (3, 3)])
    );
    assert_eq!(topology.pending_dials(), 3);
    assert_eq!(topology.degree(), 0);
}

#[test]
fn rebalance_counts_links_and_pending_dials_towards_min() {
    let mut topology = started(no_swaps());
    link(&mut topology, ms(0), &[1]);
    alive(&mut topology, ms(0), &[2]);
    step(
        &mut topology,
        ms(0),
        Input::Command(Command::Connect(node(2))),
    );
    alive(&mut topology, ms(0), &[3, 4, 5, 6]);

    let out = fire(&mut topology, ms(2000), Timer::Rebalance);
    let picked = dialled(&out);
    assert_eq!(picked.len(), 1);
    assert!([3, 4, 5, 6].map(node).contains(&picked[0]));
    assert_eq!(out, dials(&[(picked[0].0[0], 2)]));
    assert_eq!(topology.degree() + topology.pending_dials(), 3);
}

#[test]
fn rebalance_never_dials_self_linked_or_pending_peers() {
    let mut topology = started(no_swaps());
    alive(&mut topology, ms(0), &[0, 1, 2]);
    link(&mut topology, ms(0), &[1]);
    step(
        &mut topology,
        ms(0),
        Input::Command(Command::Connect(node(2))),
    );
    assert_eq!(fire(&mut topology, ms(2000), Timer::Rebalance), vec![]);
}

#[test]
fn a_dial_timeout_after_the_link_came_up_does_nothing() {
    let mut topology = started(no_swaps());
    assert_eq!(
        step(
            &mut topology,
            ms(0),
            Input::Command(Command::Connect(node(1)))
        ),
        dials(&[(1, 1)])
    );
    link(&mut topology, ms(100), &[1]);
    let late = Input::Timer(Timer::DialTimeout {
        peer: node(1),
        attempt: 1,
    });
    assert_eq!(step(&mut topology, ms(3000), late), vec![]);
    assert!(topology.is_linked(&node(1)));
}

#[test]
fn a_dial_timeout_for_an_older_attempt_does_nothing() {
    let mut topology = started(no_swaps());
    step(
        &mut topology,
        ms(0),
        Input::Command(Command::Connect(node(1))),
    );
    step(&mut topology, ms(100), Input::DialFailed(node(1)));
    assert_eq!(
        step(
            &mut topology,
            ms(200),
            Input::Command(Command::Connect(node(1)))
        ),
        dials(&[(1, 2)])
    );
    let old = Input::Timer(Timer::DialTimeout {
        peer: node(1),
        attempt: 1,
    });
    assert_eq!(step(&mut topology, ms(3000), old), vec![]);
    assert_eq!(topology.pending_dials(), 1);

    let current = Input::Timer(Timer::DialTimeout {
        peer: node(1),
        attempt: 2,
    });
    assert_eq!(step(&mut topology, ms(3200), current), vec![]);
    assert_eq!(topology.pending_dials(), 0);
}

#[test]
fn a_dial_timeout_counts_as_a_failure_and_a_late_answer_is_ignored() {
    let mut topology = started(no_swaps());
    alive(&mut topology, ms(0), &[1, 2, 3, 4]);
    let out = fire(&mut topology, ms(2000), Timer::Rebalance);
    let picked = dialled(&out);
    let spare = [1, 2, 3, 4]
        .into_iter()
        .find(|&p| !picked.contains(&node(p)))
        .expect("one of four candidates is left");
    let timeout = Input::Timer(Timer::DialTimeout {
        peer: picked[0],
        attempt: 1,
    });
    assert_eq!(step(&mut topology, ms(5000), timeout), dials(&[(spare, 4)]));
    assert_eq!(
        step(&mut topology, ms(5100), Input::DialFailed(picked[0])),
        vec![]
    );
    assert_eq!(topology.pending_dials(), 3);
}

#[test]
fn a_failed_dial_backs_off_doubling_then_the_peer_is_eligible_again() {
    let config = Config {
        backoff_base: Duration::from_secs(5),
        backoff_max: Duration::from_secs(12),
        ..no_swaps()
    };
    let mut topology = started(config);
    alive(&mut topology, ms(0), &[1]);
    assert_eq!(
        fire(&mut topology, ms(2000), Timer::Rebalance),
        dials(&[(1, 1)])
    );

    // First failure at 2.1 s: not dialled before 7.1 s.
    assert_eq!(
        step(&mut topology, ms(2100), Input::DialFailed(node(1))),
        vec![]
    );
    assert_eq!(fire(&mut topology, ms(4000), Timer::Rebalance), vec![]);
    assert_eq!(fire(&mut topology, ms(7000), Timer::Rebalance), vec![]);
    assert_eq!(
        fire(&mut topology, ms(9000), Timer::Rebalance),
        dials(&[(1, 2)])
    );

    // Second failure at 9.1 s: 10 s, not before 19.1 s.
    step(&mut topology, ms(9100), Input::DialFailed(node(1)));
    assert_eq!(fire(&mut topology, ms(19000), Timer::Rebalance), vec![]);
    assert_eq!(
        fire(&mut topology, ms(21000), Timer::Rebalance),
        dials(&[(1, 3)])
    );

    // Third failure at 21.1 s: 20 s capped at 12 s, so eligible at 33.1 s.
    step(&mut topology, ms(21100), Input::DialFailed(node(1)));
    assert_eq!(fire(&mut topology, ms(33000), Timer::Rebalance), vec![]);
    assert_eq!(
        fire(&mut topology, ms(35000), Timer::Rebalance),
        dials(&[(1, 4)])
    );
}

#[test]
fn a_failed_dial_below_min_dials_another_candidate_at_once() {
    let mut topology = started(no_swaps());
    alive(&mut topology, ms(0), &[1, 2, 3, 4]);
    let picked = dialled(&fire(&mut topology, ms(2000), Timer::Rebalance));
    assert_eq!(picked.len(), 3);
    let spare = [1, 2, 3, 4]
        .into_iter()
        .find(|&p| !picked.contains(&node(p)))
        .expect("one of four candidates is left");
    assert_eq!(
        step(&mut topology, ms(2100), Input::DialFailed(picked[0])),
        dials(&[(spare, 4)])
    );
    // No candidate left: the next failure dials nothing.
    assert_eq!(
        step(&mut topology, ms(2200), Input::DialFailed(picked[1])),
        vec![]
    );
}

#[test]
fn a_dial_failure_for_no_dial_does_nothing() {
    let mut topology = started(no_swaps());
    alive(&mut topology, ms(0), &[1]);
    assert_eq!(
        step(&mut topology, ms(100), Input::DialFailed(node(1))),
        vec![]
    );
    assert_eq!(
        fire(&mut topology, ms(2000), Timer::Rebalance),
        dials(&[(1, 1)])
    );
}

#[test]
fn connect_dials_at_once_despite_backoff_but_not_a_linked_or_pending_peer() {
    let mut topology = started(no_swaps());
    step(
        &mut topology,
        ms(0),
        Input::Command(Command::Connect(node(1))),
    );
    step(&mut topology, ms(100), Input::DialFailed(node(1)));
    assert_eq!(
        step(
            &mut topology,
            ms(200),
            Input::Command(Command::Connect(node(1)))
        ),
        dials(&[(1, 2)])
    );
    assert_eq!(
        step(
            &mut topology,
            ms(300),
            Input::Command(Command::Connect(node(1)))
        ),
        vec![]
    );
    link(&mut topology, ms(400), &[1]);
    assert_eq!(
        step(
            &mut topology,
            ms(500),
            Input::Command(Command::Connect(node(1)))
        ),
        vec![]
    );
    assert_eq!(
        step(
            &mut topology,
            ms(500),
            Input::Command(Command::Connect(me()))
        ),
        vec![]
    );
}

#[test]
fn a_connected_peer_stays_a_candidate() {
    let mut topology = started(no_swaps());
    step(
        &mut topology,
        ms(0),
        Input::Command(Command::Connect(node(1))),
    );
    step(&mut topology, ms(100), Input::DialFailed(node(1)));
    // Backoff 1 s from 0.1 s; the rebalance at 2 s dials it again.
    assert_eq!(
        fire(&mut topology, ms(2000), Timer::Rebalance),
        dials(&[(1, 2)])
    );
}

#[test]
fn a_suspect_member_keeps_its_link_but_is_not_dialled() {
    let mut topology = started(no_swaps());
    link(&mut topology, ms(0), &[1]);
    alive(&mut topology, ms(0), &[2]);
    assert_eq!(
        step(&mut topology, ms(100), Input::MemberSuspect(node(1))),
        vec![]
    );
    assert_eq!(
        step(&mut topology, ms(100), Input::MemberSuspect(node(2))),
        vec![]
    );
    assert_eq!(fire(&mut topology, ms(2000), Timer::Rebalance), vec![]);
    assert!(topology.is_linked(&node(1)));

    alive(&mut topology, ms(2500), &[2]);
    assert_eq!(
        fire(&mut topology, ms(4000), Timer::Rebalance),
        dials(&[(2, 1)])
    );
}

// ---- links -----------------------------------------------------------------

#[test]
fn link_up_emits_neighbor_up_and_tells_the_peer_our_degree() {
    let mut topology = started(no_swaps());
    link(&mut topology, ms(0), &[1]);
    let up = Input::LinkUp {
        peer: node(2),
        outbound: true,
    };
    assert_eq!(
        step(&mut topology, ms(100), up),
        vec![Output::Event(Event::NeighborUp(node(2))), send_degree(2, 2)]
    );
    assert_eq!(topology.neighbors(), vec![node(1), node(2)]);
    assert_eq!(topology.degree(), 2);
    assert!(topology.is_linked(&node(2)));
}

#[test]
fn a_duplicate_link_up_is_ignored() {
    let mut topology = started(no_swaps());
    link(&mut topology, ms(0), &[1]);
    let again = Input::LinkUp {
        peer: node(1),
        outbound: true,
    };
    assert_eq!(step(&mut topology, ms(100), again), vec![]);
    assert_eq!(topology.degree(), 1);
}

#[test]
fn a_link_up_from_self_is_ignored() {
    let mut topology = started(no_swaps());
    let selfie = Input::LinkUp {
        peer: me(),
        outbound: false,
    };
    assert_eq!(step(&mut topology, ms(0), selfie), vec![]);
    assert_eq!(topology.degree(), 0);
}

#[test]
fn a_link_up_beyond_hard_max_is_disconnected_without_neighbor_up() {
    let mut topology = started(no_swaps());
    link(&mut topology, ms(0), &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(topology.degree(), 8);
    let ninth = Input::LinkUp {
        peer: node(9),
        outbound: false,
    };
    assert_eq!(
        step(&mut topology, ms(100), ninth),
        vec![Output::Disconnect(node(9))]
    );
    assert_eq!(topology.degree(), 8);
    assert!(!topology.is_linked(&node(9)));
    assert_eq!(
        step(&mut topology, ms(200), Input::LinkDown(node(9))),
        vec![]
    );
}

#[test]
fn an_answered_dial_beyond_hard_max_is_disconnected_too() {
    let mut topology = started(no_swaps());
    step(
        &mut topology,
        ms(0),
        Input::Command(Command::Connect(node(9))),
    );
    link(&mut topology, ms(0), &[1, 2, 3, 4, 5, 6, 7, 8]);
    let answer = Input::LinkUp {
        peer: node(9),
        outbound: true,
    };
    assert_eq!(
        step(&mut topology, ms(100), answer),
        vec![Output::Disconnect(node(9))]
    );
    assert_eq!(topology.pending_dials(), 0);
}

#[test]
fn link_down_emits_neighbor_down_and_dials_a_replacement() {
    let mut topology = started(no_swaps());
    alive(&mut topology, ms(0), &[1, 2, 3, 4]);
    link(&mut topology, ms(0), &[1, 2, 3]);
    assert_eq!(
        step(&mut topology, ms(100), Input::LinkDown(node(1))),
        [
            vec![Output::Event(Event::NeighborDown(node(1)))],
            dials(&[(4, 1)])
        ]
        .concat()
    );
    assert_eq!(topology.neighbors(), vec![node(2), node(3)]);
}

#[test]
fn a_peer_whose_link_closed_is_not_dialled_straight_back() {
    let mut topology = started(no_swaps());
    alive(&mut topology, ms(0), &[1, 2, 3]);
    link(&mut topology, ms(0), &[1, 2, 3]);
    assert_eq!(
        step(&mut topology, ms(100), Input::LinkDown(node(1))),
        vec![Output::Event(Event::NeighborDown(node(1)))]
    );
    // Cooled down for backoff_base (1 s) from 0.1 s. Peer 3 was told 3.
    assert_eq!(
        fire(&mut topology, ms(2000), Timer::Rebalance),
        [dials(&[(1, 1)]), vec![send_degree(3, 2)]].concat()
    );
}

#[test]
fn link_down_of_a_pending_dial_counts_as_a_failure() {
    let mut topology = started(Config {
        backoff_base: Duration::from_secs(5),
        ..no_swaps()
    });
    alive(&mut topology, ms(0), &[1]);
    step(
        &mut topology,
        ms(0),
        Input::Command(Command::Connect(node(1))),
    );
    assert_eq!(
        step(&mut topology, ms(100), Input::LinkDown(node(1))),
        vec![]
    );
    assert_eq!(topology.pending_dials(), 0);
    // In backoff until 5.1 s.
    assert_eq!(fire(&mut topology, ms(2000), Timer::Rebalance), vec![]);
    assert_eq!(
        fire(&mut topology, ms(6000), Timer::Rebalance),
        dials(&[(1, 2)])
    );
}

#[test]
fn a_link_up_from_an_unknown_peer_makes_it_a_candidate() {
    let mut topology = started(no_swaps());
    link(&mut topology, ms(0), &[5]);
    step(&mut topology, ms(100), Input::LinkDown(node(5)));
    assert_eq!(
        fire(&mut topology, ms(2000), Timer::Rebalance),
        dials(&[(5, 1)])
    );
}

#[test]
fn a_degree_message_from_a_stranger_is_ignored() {
    let mut topology = started(no_swaps());
    let msg = Input::Message {
        from: node(1),
        msg: Message::Degree(9),
    };
    assert_eq!(step(&mut topology, ms(0), msg), vec![]);
    assert_eq!(topology.degree(), 0);
}

// ---- rebalance: shedding, swaps, degree announcements ----------------------

/// Links `peers` in order, each reporting `degree`, outbox drained.
fn link_reporting(topology: &mut Topology, now: Time, peers: &[(u8, u16, bool)]) {
    for &(p, degree, outbound) in peers {
        topology.handle(
            now,
            Input::LinkUp {
                peer: node(p),
                outbound,
            },
        );
        topology.handle(
            now,
            Input::Message {
                from: node(p),
                msg: Message::Degree(degree),
            },
        );
    }
    drain(topology);
}

#[test]
fn above_max_the_peer_with_the_highest_reported_degree_is_shed() {
    let mut topology = started(no_swaps());
    link_reporting(
        &mut topology,
        ms(0),
        &[
            (1, 3, false),
            (2, 4, false),
            (3, 7, false),
            (4, 5, false),
            (5, 3, false),
            (6, 4, false),
        ],
    );
    // Each peer was told the degree at its link-up (1..=6); 5 already knows 5.
    assert_eq!(
        fire(&mut topology, ms(2000), Timer::Rebalance),
        vec![
            Output::Disconnect(node(3)),
            Output::Event(Event::NeighborDown(node(3))),
            send_degree(1, 5),
            send_degree(2, 5),
            send_degree(4, 5),
            send_degree(6, 5),
        ]
    );
    assert_eq!(topology.degree(), 5);
    assert_eq!(
        step(&mut topology, ms(2100), Input::LinkDown(node(3))),
        vec![]
    );
    // Nothing changed: the next rebalance says nothing.
    assert_eq!(fire(&mut topology, ms(4000), Timer::Rebalance), vec![]);
}

#[test]
fn shedding_prefers_inbound_links_among_equal_degrees() {
    let mut topology = started(no_swaps());
    link_reporting(
        &mut topology,
        ms(0),
        &[
            (1, 6, true),
            (2, 6, false),
            (3, 6, true),
            (4, 3, false),
            (5, 3, false),
            (6, 3, false),
            (7, 3, false),
        ],
    );
    let out = fire(&mut topology, ms(2000), Timer::Rebalance);
    assert_eq!(out[0], Output::Disconnect(node(2)));
    assert_eq!(out[1], Output::Event(Event::NeighborDown(node(2))));
    let second = match &out[2] {
        Output::Disconnect(p) => *p,
        other => panic!("expected a second Disconnect, got {other:?}"),
    };
    assert!(second == node(1) || second == node(3));
    assert_eq!(out[3], Output::Event(Event::NeighborDown(second)));
    assert_eq!(topology.degree(), 5);
}

#[test]
fn shedding_spares_peers_at_min_while_others_are_above_it() {
    let mut topology = started(no_swaps());
    // Peer 9 has not reported a degree yet: it counts as the lowest.
    link_reporting(
        &mut topology,
        ms(0),
        &[
            (1, 3, false),
            (2, 3, false),
            (3, 3, false),
            (4, 3, false),
            (5, 4, true),
        ],
    );
    link(&mut topology, ms(0), &[9]);
    let out = fire(&mut topology, ms(2000), Timer::Rebalance);
    assert_eq!(
        out[..2],
        [
            Output::Disconnect(node(5)),
            Output::Event(Event::NeighborDown(node(5)))
        ]
    );
}

#[test]
fn at_min_a_rebalance_swaps_in_one_random_candidate() {
    let config = Config {
        swap_probability: 1.0,
        ..Config::small_room()
    };
    let mut topology = started(config);
    alive(&mut topology, ms(0), &[1, 2, 3, 4]);
    link(&mut topology, ms(0), &[1, 2, 3]);
    // Peers 1 and 2 were told 1 and 2 at their link-ups; now they hear 3.
    assert_eq!(
        fire(&mut topology, ms(2000), Timer::Rebalance),
        [dials(&[(4, 1)]), vec![send_degree(1, 3), send_degree(2, 3)]].concat()
    );
}

#[test]
fn with_a_spare_link_a_rebalance_does_not_swap() {
    let config = Config {
        swap_probability: 1.0,
        ..Config::small_room()
    };
    let mut topology = started(config);
    alive(&mut topology, ms(0), &[1, 2, 3, 4, 5]);
    link(&mut topology, ms(0), &[1, 2, 3, 4]);
    assert_eq!(
        fire(&mut topology, ms(2000), Timer::Rebalance),
        vec![send_degree(1, 4), send_degree(2, 4), send_degree(3, 4)]
    );
}

// ---- membership ------------------------------------------------------------

#[test]
fn member_dead_disconnects_and_becomes_a_reconnect_candidate() {
    let mut topology = started(no_swaps());
    alive(&mut topology, ms(0), &[1, 2, 3, 4]);
    link(&mut topology, ms(0), &[1, 2, 3, 4]);
    assert_eq!(
        step(&mut topology, ms(100), Input::MemberDead(node(2))),
        vec![
            Output::Disconnect(node(2)),
            Output::Event(Event::NeighborDown(node(2)))
        ]
    );
    assert!(!topology.is_linked(&node(2)));
    assert_eq!(
        step(&mut topology, ms(200), Input::LinkDown(node(2))),
        vec![]
    );
    // Not an ordinary candidate (the rebalance only announces the degree)...
    assert_eq!(
        fire(&mut topology, ms(2000), Timer::Rebalance),
        vec![send_degree(1, 3), send_degree(4, 3)]
    );
    // ...but the reconnect timer dials it.
    assert_eq!(
        fire(&mut topology, ms(3000), Timer::Reconnect),
        dials(&[(2, 1)])
    );
    // It answers: an ordinary link.
    let answer = Input::LinkUp {
        peer: node(2),
        outbound: true,
    };
    assert_eq!(
        step(&mut topology, ms(3100), answer),
        vec![Output::Event(Event::NeighborUp(node(2))), send_degree(2, 4)]
    );
    // From now on it is an ordinary candidate, not a reconnect one.
    step(&mut topology, ms(3200), Input::LinkDown(node(2)));
    assert_eq!(fire(&mut topology, ms(6000), Timer::Reconnect), vec![]);
    // Below min, it is the replacement dial (peer 1 is cooling down).
    assert_eq!(
        step(&mut topology, ms(6100), Input::LinkDown(node(1))),
        [
            vec![Output::Event(Event::NeighborDown(node(1)))],
            dials(&[(2, 2)])
        ]
        .concat()
    );
}

#[test]
fn member_dead_below_min_dials_a_replacement() {
    let mut topology = started(no_swaps());
    alive(&mut topology, ms(0), &[1, 2, 3, 4]);
    link(&mut topology, ms(0), &[1, 2, 3]);
    assert_eq!(
        step(&mut topology, ms(100), Input::MemberDead(node(2))),
        [
            vec![
                Output::Disconnect(node(2)),
                Output::Event(Event::NeighborDown(node(2)))
            ],
            dials(&[(4, 1)])
        ]
        .concat()
    );
}

#[test]
fn dead_members_are_forgotten_after_the_reconnect_window() {
    let config = Config {
        reconnect_window: Duration::from_secs(5),
        ..no_swaps()
    };
    let mut topology = started(config);
    step(&mut topology, ms(0), Input::MemberDead(node(1)));
    step(&mut topology, ms(0), Input::MemberDead(node(2)));
    // Isolated: both at once.
    let first = dialled(&fire(&mut topology, ms(3000), Timer::Reconnect));
    assert_eq!(first.len(), 2);
    for peer in first {
        step(&mut topology, ms(3100), Input::DialFailed(peer));
    }
    // 6 s after death: both are past the window.
    assert_eq!(fire(&mut topology, ms(6000), Timer::Reconnect), vec![]);
    // Later news of death starts a new window.
    step(&mut topology, ms(7000), Input::MemberDead(node(1)));
    assert_eq!(
        fire(&mut topology, ms(9000), Timer::Reconnect),
        dials(&[(1, 3)])
    );
}

#[test]
fn member_gone_disconnects_and_is_never_dialled_again() {
    let mut topology = started(no_swaps());
    alive(&mut topology, ms(0), &[1, 2, 3, 4]);
    link(&mut topology, ms(0), &[1, 2, 3, 4]);
    assert_eq!(
        step(&mut topology, ms(100), Input::MemberGone(node(1))),
        vec![
            Output::Disconnect(node(1)),
            Output::Event(Event::NeighborDown(node(1)))
        ]
    );
    assert_eq!(
        step(&mut topology, ms(200), Input::LinkDown(node(1))),
        vec![]
    );
    step(&mut topology, ms(300), Input::LinkDown(node(2)));
    // Below min: peer 2 (cooled down) is dialled, never the gone peer 1.
    assert_eq!(
        fire(&mut topology, ms(2000), Timer::Rebalance),
        [dials(&[(2, 1)]), vec![send_degree(3, 2), send_degree(4, 2)]].concat()
    );
    assert_eq!(fire(&mut topology, ms(3000), Timer::Reconnect), vec![]);
    assert_eq!(fire(&mut topology, ms(4000), Timer::Rebalance), vec![]);
}

#[test]
fn membership_news_about_self_is_ignored() {
    let mut topology = started(no_swaps());
    for input in [
        Input::MemberAlive(me()),
        Input::MemberDead(me()),
        Input::MemberSuspect(me()),
        Input::MemberGone(me()),
    ] {
        assert_eq!(step(&mut topology, ms(0), input), vec![]);
    }
    assert_eq!(fire(&mut topology, ms(3000), Timer::Reconnect), vec![]);
    assert_eq!(fire(&mut topology, ms(3000), Timer::Rebalance), vec![]);
}

// ---- shutdown and small rooms ----------------------------------------------

#[test]
fn disconnect_all_closes_every_link_and_later_timers_do_nothing() {
    let mut topology = started(no_swaps());
    alive(&mut topology, ms(0), &[1, 2, 3, 4]);
    link(&mut topology, ms(0), &[1, 2]);
    step(
        &mut topology,
        ms(0),
        Input::Command(Command::Connect(node(3))),
    );
    assert_eq!(
        step(
            &mut topology,
            ms(100),
            Input::Command(Command::DisconnectAll)
        ),
        vec![
            Output::Disconnect(node(1)),
            Output::Event(Event::NeighborDown(node(1))),
            Output::Disconnect(node(2)),
            Output::Event(Event::NeighborDown(node(2))),
        ]
    );
    assert_eq!(topology.degree(), 0);
    assert_eq!(topology.pending_dials(), 0);
    let later = [
        Input::LinkDown(node(1)),
        Input::LinkDown(node(2)),
        Input::Timer(Timer::Rebalance),
        Input::Timer(Timer::Reconnect),
        Input::Timer(Timer::DialTimeout {
            peer: node(3),
            attempt: 1,
        }),
        Input::DialFailed(node(3)),
        Input::MemberDead(node(4)),
        Input::Command(Command::Connect(node(4))),
    ];
    for input in later {
        assert_eq!(step(&mut topology, ms(10_000), input), vec![]);
    }
    let inbound = Input::LinkUp {
        peer: node(4),
        outbound: false,
    };
    assert_eq!(
        step(&mut topology, ms(10_000), inbound),
        vec![Output::Disconnect(node(4))]
    );
}

#[test]
fn a_two_node_room_sits_below_min_without_dialling() {
    let mut topology = started(Config {
        swap_probability: 1.0,
        ..Config::small_room()
    });
    alive(&mut topology, ms(0), &[1]);
    link(&mut topology, ms(0), &[1]);
    let mut now = 0;
    for _ in 0..10 {
        now += 2500;
        assert_eq!(fire(&mut topology, ms(now), Timer::Rebalance), vec![]);
        assert_eq!(fire(&mut topology, ms(now), Timer::Reconnect), vec![]);
    }
    assert_eq!(topology.degree(), 1);
    assert_eq!(topology.pending_dials(), 0);
}

// ---- config ----------------------------------------------------------------

#[test]
fn the_presets_are_valid_and_default_is_the_small_room() {
    assert_eq!(Config::small_room().validate(), Ok(()));
    assert_eq!(Config::large_room().validate(), Ok(()));
    assert_eq!(Config::default(), Config::small_room());
}

#[test]
fn validate_refuses_inconsistent_bounds() {
    let base = Config::small_room;
    let bad = [
        Config {
            degree_min: 0,
            ..base()
        },
        Config {
            degree_min: 6,
            ..base()
        },
        Config {
            degree_max: 9,
            ..base()
        },
        Config {
            swap_probability: 1.5,
            ..base()
        },
        Config {
            swap_probability: f64::NAN,
            ..base()
        },
        Config {
            rebalance_interval: Duration::ZERO,
            ..base()
        },
        Config {
            backoff_base: Duration::from_secs(60),
            ..base()
        },
        Config {
            degree_hard_max: 70_000,
            degree_max: 70_000,
            ..base()
        },
    ];
    for config in bad {
        assert!(config.validate().is_err(), "{config:?} passed validate");
    }
    let equal = Config {
        degree_min: 4,
        degree_max: 4,
        degree_hard_max: 4,
        ..base()
    };
    assert_eq!(equal.validate(), Ok(()));
}

#[test]
fn an_isolated_node_dials_degree_min_dead_members_at_once_and_a_linked_one_dials_one() {
    let mut topology = started(no_swaps());
    for n in 1..=6 {
        step(&mut topology, ms(0), Input::MemberDead(node(n)));
    }
    let isolated = dialled(&fire(&mut topology, ms(3000), Timer::Reconnect));
    assert_eq!(isolated.len(), no_swaps().degree_min);
    let distinct: std::collections::BTreeSet<_> = isolated.iter().collect();
    assert_eq!(distinct.len(), isolated.len(), "each picked once");
    // One of them answers; the others fail.
    step(
        &mut topology,
        ms(3100),
        Input::LinkUp {
            peer: isolated[0],
            outbound: true,
        },
    );
    for peer in &isolated[1..] {
        step(&mut topology, ms(3100), Input::DialFailed(*peer));
    }
    let linked = dialled(&fire(&mut topology, ms(6000), Timer::Reconnect));
    assert_eq!(linked.len(), 1, "a node with a link tries one per interval");
}

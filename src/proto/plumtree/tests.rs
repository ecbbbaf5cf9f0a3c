//! Plumtree unit tests (exact outboxes) and a small many-node harness.

use std::time::Duration;

use super::*;
use crate::proto::Time;

mod harness;

const ME: NodeId = NodeId([0xee; 32]);

fn node(n: u8) -> NodeId {
    NodeId([n; 32])
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at(n: u64) -> Time {
    Time::from_millis(n)
}

fn drain(pt: &mut Plumtree) -> Vec<Output> {
    std::iter::from_fn(|| pt.poll_output()).collect()
}

fn send(to: NodeId, msg: Message) -> Output {
    Output::Send { to, msg }
}

fn gossip(author: NodeId, seq: u64, round: u16, payload: &[u8]) -> Gossip {
    Gossip {
        id: MessageId::for_broadcast(&author, seq, payload),
        author,
        seq,
        round,
        payload: payload.to_vec(),
    }
}

fn from(peer: NodeId, msg: Message) -> Input {
    Input::Message { from: peer, msg }
}

fn graft_timer(id: MessageId, attempt: u32) -> Input {
    Input::Timer(Timer::Graft { id, attempt })
}

/// An engine with `eager` and `lazy` neighbours and an empty outbox.
fn engine_with(config: Config, eager: &[NodeId], lazy: &[NodeId]) -> Plumtree {
    let mut pt = Plumtree::new(ME, config, 0);
    for p in eager.iter().chain(lazy) {
        pt.handle(at(0), Input::NeighborUp(*p));
    }
    for p in lazy {
        pt.handle(at(0), from(*p, Message::Prune));
    }
    assert_eq!(drain(&mut pt), vec![]);
    assert_eq!(pt.eager_peers(), eager.to_vec());
    assert_eq!(pt.lazy_peers(), lazy.to_vec());
    pt
}

fn engine(eager: &[NodeId], lazy: &[NodeId]) -> Plumtree {
    engine_with(Config::small_room(), eager, lazy)
}

fn delivered(g: &Gossip, round: u16, peer: NodeId) -> Output {
    Output::Event(Event::Delivered {
        id: g.id,
        author: g.author,
        seq: g.seq,
        payload: g.payload.clone(),
        round,
        from: peer,
    })
}

fn dispatch_timer() -> Output {
    Output::SetTimer {
        after: Config::small_room().ihave_interval,
        timer: Timer::DispatchIHave,
    }
}

fn reannounce_timer() -> Output {
    Output::SetTimer {
        after: ms(500),
        timer: Timer::Reannounce,
    }
}

/// The paper's rules: announce to lazy peers only, once.
fn papers_rules() -> Config {
    Config {
        announce_to_eager: false,
        reannounce_interval: None,
        ..Config::small_room()
    }
}

// ---- broadcast -------------------------------------------------------------

#[test]
fn broadcast_pushes_to_eager_peers_and_announces_to_every_peer_on_dispatch() {
    let (a, b, c) = (node(1), node(2), node(3));
    let mut pt = engine(&[a, b], &[c]);
    pt.handle(at(0), Input::Command(Command::Broadcast(b"hi".to_vec())));
    let g = gossip(ME, 0, 0, b"hi");
    assert_eq!(
        drain(&mut pt),
        vec![
            Output::Event(Event::Sent { id: g.id, seq: 0 }),
            send(a, Message::Gossip(g.clone())),
            send(b, Message::Gossip(g.clone())),
            dispatch_timer(),
            reannounce_timer(),
        ]
    );
    assert!(pt.has_seen(&g.id));
    assert_eq!(pt.cache_len(), 1);

    // Eager peers are announced to as well (`announce_to_eager`), so that a
    // lost push is repaired.
    pt.handle(at(5), Input::Timer(Timer::DispatchIHave));
    let ihave = Message::IHave(vec![IHave { id: g.id, round: 0 }]);
    assert_eq!(
        drain(&mut pt),
        vec![
            send(a, ihave.clone()),
            send(b, ihave.clone()),
            send(c, ihave)
        ]
    );
}

#[test]
fn with_the_papers_rules_only_lazy_peers_are_announced_to() {
    let (a, b, c) = (node(1), node(2), node(3));
    let mut pt = engine_with(papers_rules(), &[a, b], &[c]);
    pt.handle(at(0), Input::Command(Command::Broadcast(b"hi".to_vec())));
    let g = gossip(ME, 0, 0, b"hi");
    assert_eq!(
        drain(&mut pt),
        vec![
            Output::Event(Event::Sent { id: g.id, seq: 0 }),
            send(a, Message::Gossip(g.clone())),
            send(b, Message::Gossip(g.clone())),
            dispatch_timer(),
        ]
    );
    pt.handle(at(5), Input::Timer(Timer::DispatchIHave));
    assert_eq!(
        drain(&mut pt),
        vec![send(c, Message::IHave(vec![IHave { id: g.id, round: 0 }]))]
    );
    // With only eager peers there is nothing to announce.
    let mut pt = engine_with(papers_rules(), &[a], &[]);
    pt.handle(at(0), Input::Command(Command::Broadcast(b"hi".to_vec())));
    assert_eq!(
        drain(&mut pt),
        vec![
            Output::Event(Event::Sent { id: g.id, seq: 0 }),
            send(a, Message::Gossip(g)),
        ]
    );
}

#[test]
fn broadcast_numbers_messages_from_seq_start() {
    let a = node(1);
    let mut pt = Plumtree::new(ME, Config::default(), 42);
    pt.handle(at(0), Input::NeighborUp(a));
    pt.handle(at(0), Input::Command(Command::Broadcast(b"x".to_vec())));
    let g = gossip(ME, 42, 0, b"x");
    assert_eq!(
        drain(&mut pt),
        vec![
            Output::Event(Event::Sent { id: g.id, seq: 42 }),
            send(a, Message::Gossip(g)),
            dispatch_timer(),
            reannounce_timer(),
        ]
    );
    assert_eq!(pt.next_seq(), 43);
}

#[test]
fn oversized_broadcast_is_dropped_with_no_output() {
    let a = node(1);
    let mut pt = engine(&[a], &[]);
    let max = pt.config().payload_bytes_max;
    pt.handle(at(0), Input::Command(Command::Broadcast(vec![0; max + 1])));
    assert_eq!(drain(&mut pt), vec![]);
    assert_eq!(pt.next_seq(), 0);
    assert_eq!(pt.cache_len(), 0);
    assert_eq!(pt.stats().broadcasts_rejected, 1);

    // Exactly the limit is fine.
    pt.handle(at(0), Input::Command(Command::Broadcast(vec![0; max])));
    assert_eq!(drain(&mut pt).len(), 4);
}

#[test]
fn the_same_payload_broadcast_twice_gets_two_ids_and_both_are_delivered() {
    let receiver = node(1);
    let mut sender = engine(&[receiver], &[]);
    let mut rx = Plumtree::new(receiver, Config::default(), 0);
    rx.handle(at(0), Input::NeighborUp(ME));
    sender.handle(at(0), Input::Command(Command::Broadcast(b"same".to_vec())));
    sender.handle(at(1), Input::Command(Command::Broadcast(b"same".to_vec())));
    let mut ids = Vec::new();
    for out in drain(&mut sender) {
        if let Output::Send { to, msg } = out {
            assert_eq!(to, receiver);
            rx.handle(at(2), from(ME, msg));
        }
    }
    for out in drain(&mut rx) {
        if let Output::Event(Event::Delivered { id, payload, .. }) = out {
            assert_eq!(payload, b"same");
            ids.push(id);
        }
    }
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
}

// ---- gossip ----------------------------------------------------------------

#[test]
fn first_gossip_is_delivered_and_forwarded_and_a_second_copy_is_pruned() {
    let (a, b, c, author) = (node(1), node(2), node(3), node(9));
    let mut pt = engine(&[a, b], &[c]);
    let g = gossip(author, 7, 2, b"news");
    pt.handle(at(0), from(a, Message::Gossip(g.clone())));
    let forwarded = Gossip {
        round: 3,
        ..g.clone()
    };
    assert_eq!(
        drain(&mut pt),
        vec![
            delivered(&g, 3, a),
            send(b, Message::Gossip(forwarded.clone())),
            dispatch_timer(),
            reannounce_timer(),
        ]
    );
    // Announced to every neighbour, the one it came from included (with
    // `reannounce_interval`, that tells it we hold the message).
    pt.handle(at(5), Input::Timer(Timer::DispatchIHave));
    let ihave = Message::IHave(vec![IHave { id: g.id, round: 3 }]);
    assert_eq!(
        drain(&mut pt),
        vec![
            send(a, ihave.clone()),
            send(b, ihave.clone()),
            send(c, ihave)
        ]
    );

    // b forwards its copy too: redundant, so b is pruned.
    pt.handle(
        at(6),
        from(b, Message::Gossip(gossip(author, 7, 4, b"news"))),
    );
    assert_eq!(drain(&mut pt), vec![send(b, Message::Prune)]);
    assert_eq!(pt.eager_peers(), vec![a]);
    assert_eq!(pt.lazy_peers(), vec![b, c]);
    assert_eq!(pt.stats().delivered, 1);
    assert_eq!(pt.stats().duplicates, 1);
}

#[test]
fn gossip_from_a_lazy_peer_makes_it_eager() {
    let (a, c) = (node(1), node(3));
    let mut pt = engine(&[a], &[c]);
    let g = gossip(node(9), 0, 0, b"m");
    pt.handle(at(0), from(c, Message::Gossip(g.clone())));
    assert_eq!(
        drain(&mut pt),
        vec![
            delivered(&g, 1, c),
            send(a, Message::Gossip(Gossip { round: 1, ..g })),
            dispatch_timer(),
            reannounce_timer(),
        ]
    );
    assert_eq!(pt.eager_peers(), vec![a, c]);
    assert_eq!(pt.lazy_peers(), vec![]);
}

#[test]
fn own_message_coming_back_is_pruned_and_not_delivered() {
    let a = node(1);
    let mut pt = engine(&[a], &[]);
    pt.handle(at(0), Input::Command(Command::Broadcast(b"mine".to_vec())));
    drain(&mut pt);
    pt.handle(at(1), from(a, Message::Gossip(gossip(ME, 0, 1, b"mine"))));
    assert_eq!(drain(&mut pt), vec![send(a, Message::Prune)]);
}

#[test]
fn gossip_with_a_forged_id_is_dropped() {
    let (a, c) = (node(1), node(3));
    let mut pt = engine(&[a], &[c]);
    let mut forged = gossip(node(9), 0, 0, b"real");
    forged.payload = b"fake".to_vec();
    pt.handle(at(0), from(c, Message::Gossip(forged.clone())));
    let mut wrong_author = gossip(node(9), 0, 0, b"real");
    wrong_author.author = node(8);
    pt.handle(at(0), from(c, Message::Gossip(wrong_author)));
    let mut wrong_seq = gossip(node(9), 0, 0, b"real");
    wrong_seq.seq = 1;
    pt.handle(at(0), from(c, Message::Gossip(wrong_seq)));

    assert_eq!(drain(&mut pt), vec![]);
    assert!(!pt.has_seen(&forged.id));
    assert_eq!(pt.cache_len(), 0);
    assert_eq!(pt.lazy_peers(), vec![c]);
    assert_eq!(pt.stats().invalid_dropped, 3);

    // The genuine message is still accepted afterwards.
    pt.handle(
        at(1),
        from(c, Message::Gossip(gossip(node(9), 0, 0, b"real"))),
    );
    assert_eq!(pt.stats().delivered, 1);
}

#[test]
fn oversized_gossip_is_dropped() {
    let a = node(1);
    let config = Config {
        payload_bytes_max: 8,
        ..Config::small_room()
    };
    let mut pt = engine_with(config, &[a], &[]);
    let big = gossip(node(9), 0, 0, &[1; 9]);
    pt.handle(at(0), from(a, Message::Gossip(big.clone())));
    assert_eq!(drain(&mut pt), vec![]);
    assert!(!pt.has_seen(&big.id));
    assert_eq!(pt.stats().invalid_dropped, 1);
}

#[test]
fn messages_from_a_non_neighbour_only_count_for_their_content() {
    let (a, stranger) = (node(1), node(66));
    let mut pt = engine(&[a], &[]);
    let g = gossip(node(9), 0, 0, b"m");
    pt.handle(at(0), from(stranger, Message::Gossip(g.clone())));
    assert_eq!(
        drain(&mut pt),
        vec![
            delivered(&g, 1, stranger),
            send(
                a,
                Message::Gossip(Gossip {
                    round: 1,
                    ..g.clone()
                })
            ),
            dispatch_timer(),
            reannounce_timer(),
        ]
    );
    // A duplicate from it is not answered, and nothing else it says counts.
    pt.handle(at(1), from(stranger, Message::Gossip(g.clone())));
    let other = gossip(node(9), 1, 0, b"n");
    pt.handle(
        at(1),
        from(
            stranger,
            Message::IHave(vec![IHave {
                id: other.id,
                round: 0,
            }]),
        ),
    );
    pt.handle(
        at(1),
        from(
            stranger,
            Message::Graft {
                id: Some(g.id),
                round: 0,
            },
        ),
    );
    pt.handle(at(1), from(stranger, Message::Prune));
    assert_eq!(drain(&mut pt), vec![]);
    assert_eq!(pt.missing_len(), 0);
    assert_eq!(pt.eager_peers(), vec![a]);
    assert_eq!(pt.lazy_peers(), vec![]);
}

// ---- ihave and graft timers -----------------------------------------------

#[test]
fn ihave_for_an_unseen_message_arms_a_graft_timer_that_grafts_the_announcers_in_turn() {
    let (a, c, d) = (node(1), node(3), node(4));
    let mut pt = engine(&[a], &[c, d]);
    let g = gossip(node(9), 0, 0, b"m");
    pt.handle(
        at(0),
        from(c, Message::IHave(vec![IHave { id: g.id, round: 1 }])),
    );
    assert_eq!(
        drain(&mut pt),
        vec![Output::SetTimer {
            after: ms(80),
            timer: Timer::Graft {
                id: g.id,
                attempt: 0
            },
        }]
    );
    assert_eq!(pt.missing_len(), 1);
    // A second announcer is recorded, without a second timer; a repeat
    // announcement changes nothing.
    pt.handle(
        at(10),
        from(d, Message::IHave(vec![IHave { id: g.id, round: 2 }])),
    );
    pt.handle(
        at(11),
        from(c, Message::IHave(vec![IHave { id: g.id, round: 1 }])),
    );
    assert_eq!(drain(&mut pt), vec![]);

    pt.handle(at(80), graft_timer(g.id, 0));
    assert_eq!(
        drain(&mut pt),
        vec![
            send(
                c,
                Message::Graft {
                    id: Some(g.id),
                    round: 1
                }
            ),
            Output::SetTimer {
                after: ms(40),
                timer: Timer::Graft {
                    id: g.id,
                    attempt: 1
                },
            },
        ]
    );
    assert_eq!(pt.eager_peers(), vec![a, c]);

    pt.handle(at(120), graft_timer(g.id, 1));
    assert_eq!(
        drain(&mut pt),
        vec![
            send(
                d,
                Message::Graft {
                    id: Some(g.id),
                    round: 2
                }
            ),
            Output::SetTimer {
                after: ms(40),
                timer: Timer::Graft {
                    id: g.id,
                    attempt: 2
                },
            },
        ]
    );
    assert_eq!(pt.eager_peers(), vec![a, c, d]);
}

#[test]
fn late_graft_timer_is_ignored() {
    let (a, c) = (node(1), node(3));
    let mut pt = engine(&[a], &[c]);
    let g = gossip(node(9), 0, 0, b"m");
    pt.handle(
        at(0),
        from(c, Message::IHave(vec![IHave { id: g.id, round: 0 }])),
    );
    pt.handle(at(80), graft_timer(g.id, 0));
    drain(&mut pt);
    // The grafted message arrives; the pending timer then does nothing.
    pt.handle(at(90), from(c, Message::Gossip(g.clone())));
    assert_eq!(
        drain(&mut pt),
        vec![
            delivered(&g, 1, c),
            send(
                a,
                Message::Gossip(Gossip {
                    round: 1,
                    ..g.clone()
                })
            ),
            dispatch_timer(),
            reannounce_timer(),
        ]
    );
    assert_eq!(pt.missing_len(), 0);
    pt.handle(at(120), graft_timer(g.id, 1));
    assert_eq!(drain(&mut pt), vec![]);
}

#[test]
fn a_graft_timer_that_fires_twice_grafts_once() {
    let (a, c) = (node(1), node(3));
    let mut pt = engine(&[a], &[c]);
    let id = gossip(node(9), 0, 0, b"m").id;
    pt.handle(at(0), from(c, Message::IHave(vec![IHave { id, round: 0 }])));
    drain(&mut pt);
    pt.handle(at(80), graft_timer(id, 0));
    assert_eq!(drain(&mut pt).len(), 2);
    pt.handle(at(81), graft_timer(id, 0));
    assert_eq!(drain(&mut pt), vec![]);
    // And the next attempt is not honoured before it is due.
    pt.handle(at(100), graft_timer(id, 1));
    assert_eq!(drain(&mut pt), vec![]);
    pt.handle(at(120), graft_timer(id, 1));
    assert_eq!(drain(&mut pt).len(), 2);
}

#[test]
fn grafting_gives_up_after_graft_rounds_max_passes_over_the_announcers() {
    let (a, c, d) = (node(1), node(3), node(4));
    let config = Config {
        graft_rounds_max: 2,
        ..Config::small_room()
    };
    let mut pt = engine_with(config, &[a], &[c, d]);
    let id = gossip(node(9), 0, 0, b"m").id;
    pt.handle(at(0), from(c, Message::IHave(vec![IHave { id, round: 0 }])));
    pt.handle(at(0), from(d, Message::IHave(vec![IHave { id, round: 0 }])));
    drain(&mut pt);
    let mut grafted = Vec::new();
    let mut now = 80;
    for attempt in 0..4 {
        pt.handle(at(now), graft_timer(id, attempt));
        for out in drain(&mut pt) {
            if let Output::Send { to, .. } = out {
                grafted.push(to);
            }
        }
        now += 40;
    }
    assert_eq!(grafted, vec![c, d, c, d]);
    pt.handle(at(now), graft_timer(id, 4));
    assert_eq!(drain(&mut pt), vec![]);
    assert_eq!(pt.missing_len(), 0);
    assert_eq!(pt.stats().grafts_given_up, 1);

    // A fresh announcement starts over.
    pt.handle(
        at(now + 1),
        from(c, Message::IHave(vec![IHave { id, round: 0 }])),
    );
    assert_eq!(
        drain(&mut pt),
        vec![Output::SetTimer {
            after: ms(80),
            timer: Timer::Graft { id, attempt: 0 },
        }]
    );
}

#[test]
fn ihave_for_a_seen_message_is_not_recorded() {
    let (a, c) = (node(1), node(3));
    let mut pt = engine(&[a], &[c]);
    let g = gossip(node(9), 0, 0, b"m");
    pt.handle(at(0), from(a, Message::Gossip(g.clone())));
    drain(&mut pt);
    pt.handle(
        at(1),
        from(c, Message::IHave(vec![IHave { id: g.id, round: 0 }])),
    );
    assert_eq!(drain(&mut pt), vec![]);
    assert_eq!(pt.missing_len(), 0);
}

// ---- graft and prune from peers -------------------------------------------

#[test]
fn graft_for_a_cached_message_sends_it_back_and_makes_the_sender_eager() {
    let (a, c) = (node(1), node(3));
    let mut pt = engine(&[a], &[c]);
    let g = gossip(node(9), 0, 0, b"m");
    pt.handle(at(0), from(a, Message::Gossip(g.clone())));
    drain(&mut pt);
    pt.handle(
        at(1),
        from(
            c,
            Message::Graft {
                id: Some(g.id),
                round: 0,
            },
        ),
    );
    assert_eq!(
        drain(&mut pt),
        vec![send(c, Message::Gossip(Gossip { round: 1, ..g }))]
    );
    assert_eq!(pt.eager_peers(), vec![a, c]);
}

#[test]
fn graft_for_an_unknown_message_or_without_id_only_makes_the_sender_eager() {
    let (a, c, d) = (node(1), node(3), node(4));
    let mut pt = engine(&[a], &[c, d]);
    let unknown = gossip(node(9), 0, 0, b"m").id;
    pt.handle(
        at(0),
        from(
            c,
            Message::Graft {
                id: Some(unknown),
                round: 0,
            },
        ),
    );
    pt.handle(at(0), from(d, Message::Graft { id: None, round: 0 }));
    assert_eq!(drain(&mut pt), vec![]);
    assert_eq!(pt.eager_peers(), vec![a, c, d]);
}

#[test]
fn prune_makes_the_peer_lazy() {
    let (a, b) = (node(1), node(2));
    let mut pt = engine(&[a, b], &[]);
    pt.handle(at(0), from(a, Message::Prune));
    assert_eq!(drain(&mut pt), vec![]);
    assert_eq!(pt.eager_peers(), vec![b]);
    assert_eq!(pt.lazy_peers(), vec![a]);
}

// ---- neighbours ------------------------------------------------------------

#[test]
fn neighbor_up_adds_an_eager_peer_once() {
    let a = node(1);
    let mut pt = engine(&[], &[a]);
    // Already a neighbour: a repeated NeighborUp changes nothing.
    pt.handle(at(0), Input::NeighborUp(a));
    pt.handle(at(0), Input::NeighborUp(ME));
    assert_eq!(pt.eager_peers(), vec![]);
    assert_eq!(pt.lazy_peers(), vec![a]);
}

#[test]
fn neighbor_down_removes_the_peer_from_every_table() {
    let (a, c, d) = (node(1), node(3), node(4));
    let mut pt = engine(&[a], &[c, d]);
    pt.handle(at(0), Input::Command(Command::Broadcast(b"out".to_vec())));
    let missing = gossip(node(9), 0, 0, b"in").id;
    pt.handle(
        at(0),
        from(
            c,
            Message::IHave(vec![IHave {
                id: missing,
                round: 0,
            }]),
        ),
    );
    pt.handle(
        at(0),
        from(
            d,
            Message::IHave(vec![IHave {
                id: missing,
                round: 3,
            }]),
        ),
    );
    drain(&mut pt);
    pt.handle(at(1), Input::NeighborDown(c));
    assert_eq!(pt.eager_peers(), vec![a]);
    assert_eq!(pt.lazy_peers(), vec![d]);

    // Its queued announcement is gone.
    pt.handle(at(5), Input::Timer(Timer::DispatchIHave));
    let own = gossip(ME, 0, 0, b"out").id;
    let ihave = Message::IHave(vec![IHave { id: own, round: 0 }]);
    assert_eq!(drain(&mut pt), vec![send(a, ihave.clone()), send(d, ihave)]);
    // The graft skips it.
    pt.handle(at(80), graft_timer(missing, 0));
    assert_eq!(
        drain(&mut pt),
        vec![
            send(
                d,
                Message::Graft {
                    id: Some(missing),
                    round: 3
                }
            ),
            Output::SetTimer {
                after: ms(40),
                timer: Timer::Graft {
                    id: missing,
                    attempt: 1
                },
            },
        ]
    );
    // With the last announcer gone the entry is dropped and its timer is
    // stale.
    pt.handle(at(90), Input::NeighborDown(d));
    assert_eq!(pt.missing_len(), 0);
    pt.handle(at(120), graft_timer(missing, 1));
    assert_eq!(drain(&mut pt), vec![]);
}

// ---- ihave batching --------------------------------------------------------

#[test]
fn dispatch_ihave_with_an_empty_queue_does_nothing() {
    let c = node(3);
    let mut pt = engine(&[], &[c]);
    pt.handle(at(0), Input::Timer(Timer::DispatchIHave));
    assert_eq!(drain(&mut pt), vec![]);
}

#[test]
fn ihaves_are_batched_per_peer_and_split_at_ihave_batch_max() {
    let (c, d) = (node(3), node(4));
    let config = Config {
        ihave_batch_max: 2,
        ..Config::small_room()
    };
    let mut pt = engine_with(config, &[], &[c, d]);
    let mut ids = Vec::new();
    for (i, payload) in [b"1", b"2", b"3"].iter().enumerate() {
        pt.handle(
            at(i as u64),
            Input::Command(Command::Broadcast(payload.to_vec())),
        );
        ids.push(gossip(ME, i as u64, 0, *payload).id);
    }
    let timers = drain(&mut pt)
        .into_iter()
        .filter(|o| {
            matches!(
                o,
                Output::SetTimer {
                    timer: Timer::DispatchIHave,
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        timers, 1,
        "only the first queued announcement arms the timer"
    );
    // Fired before it is due (a stale timer): nothing.
    pt.handle(at(4), Input::Timer(Timer::DispatchIHave));
    assert_eq!(drain(&mut pt), vec![]);
    pt.handle(at(5), Input::Timer(Timer::DispatchIHave));
    let ihave = |i: usize| IHave {
        id: ids[i],
        round: 0,
    };
    assert_eq!(
        drain(&mut pt),
        vec![
            send(c, Message::IHave(vec![ihave(0), ihave(1)])),
            send(c, Message::IHave(vec![ihave(2)])),
            send(d, Message::IHave(vec![ihave(0), ihave(1)])),
            send(d, Message::IHave(vec![ihave(2)])),
        ]
    );
    // Fired again: the queue is empty.
    pt.handle(at(6), Input::Timer(Timer::DispatchIHave));
    assert_eq!(drain(&mut pt), vec![]);
}

// ---- re-announcement -------------------------------------------------------

/// Hands every `Send` in `out` addressed to `to` to `to`'s engine as coming
/// from `sender`, except those `lose` picks; returns how many were handed.
fn carry(
    out: Vec<Output>,
    sender: NodeId,
    to: NodeId,
    rx: &mut Plumtree,
    now: Time,
    lose: impl Fn(&Message) -> bool,
) -> usize {
    let mut carried = 0;
    for o in out {
        if let Output::Send { to: dest, msg } = o
            && dest == to
            && !lose(&msg)
        {
            rx.handle(now, from(sender, msg));
            carried += 1;
        }
    }
    carried
}

#[test]
fn a_broadcast_whose_push_and_announcement_are_lost_is_repaired_by_the_reannouncement() {
    let r = node(1);
    let mut sender = engine(&[r], &[]);
    let mut rx = Plumtree::new(r, Config::small_room(), 0);
    rx.handle(at(0), Input::NeighborUp(ME));
    sender.handle(at(0), Input::Command(Command::Broadcast(b"hi".to_vec())));
    let g = gossip(ME, 0, 0, b"hi");
    let out = drain(&mut sender);
    assert_eq!(
        out,
        vec![
            Output::Event(Event::Sent { id: g.id, seq: 0 }),
            send(r, Message::Gossip(g.clone())),
            dispatch_timer(),
            reannounce_timer(),
        ]
    );
    // The push is lost, and so is the announcement.
    assert_eq!(carry(out, ME, r, &mut rx, at(1), |_| true), 0);
    sender.handle(at(5), Input::Timer(Timer::DispatchIHave));
    let ihave = Message::IHave(vec![IHave { id: g.id, round: 0 }]);
    assert_eq!(drain(&mut sender), vec![send(r, ihave.clone())]);

    // r never said it holds the message: 500 ms on, it is announced again,
    // and the next round is set for 1 s later.
    sender.handle(at(500), Input::Timer(Timer::Reannounce));
    assert_eq!(
        drain(&mut sender),
        vec![
            dispatch_timer(),
            Output::SetTimer {
                after: ms(1000),
                timer: Timer::Reannounce,
            },
        ]
    );
    sender.handle(at(505), Input::Timer(Timer::DispatchIHave));
    let out = drain(&mut sender);
    assert_eq!(out, vec![send(r, ihave)]);
    assert_eq!(sender.stats().reannounced, 1);

    // This one arrives: r grafts, gets the message, and announces it back.
    assert_eq!(carry(out, ME, r, &mut rx, at(506), |_| false), 1);
    assert_eq!(
        drain(&mut rx),
        vec![Output::SetTimer {
            after: ms(80),
            timer: Timer::Graft {
                id: g.id,
                attempt: 0
            },
        }]
    );
    rx.handle(at(586), graft_timer(g.id, 0));
    let graft = Message::Graft {
        id: Some(g.id),
        round: 0,
    };
    let out = drain(&mut rx);
    assert_eq!(out[0], send(ME, graft));
    carry(out, r, ME, &mut sender, at(587), |_| false);
    let out = drain(&mut sender);
    assert_eq!(out, vec![send(r, Message::Gossip(g.clone()))]);
    carry(out, ME, r, &mut rx, at(588), |_| false);
    let out = drain(&mut rx);
    assert_eq!(out, vec![delivered(&g, 1, ME), dispatch_timer()]);
    rx.handle(at(593), Input::Timer(Timer::DispatchIHave));
    let out = drain(&mut rx);
    assert_eq!(
        out,
        vec![send(ME, Message::IHave(vec![IHave { id: g.id, round: 1 }]))]
    );
    carry(out, r, ME, &mut sender, at(594), |_| false);
    assert_eq!(drain(&mut sender), vec![]);

    // Acknowledged: the next round does nothing.
    sender.handle(at(1500), Input::Timer(Timer::Reannounce));
    assert_eq!(drain(&mut sender), vec![]);
    assert_eq!(sender.stats().reannounced, 1);
}

#[test]
fn reannouncement_rounds_double_and_end_before_the_cache_drops_the_message() {
    let c = node(3);
    let mut pt = engine(&[], &[c]);
    pt.handle(at(0), Input::Command(Command::Broadcast(b"m".to_vec())));
    drain(&mut pt);
    let mut rounds = Vec::new();
    let mut due = 500;
    loop {
        // Early: nothing.
        pt.handle(at(due - 1), Input::Timer(Timer::Reannounce));
        assert_eq!(drain(&mut pt), vec![]);
        pt.handle(at(due), Input::Timer(Timer::Reannounce));
        rounds.push(due);
        let next = drain(&mut pt).into_iter().find_map(|o| match o {
            Output::SetTimer {
                after,
                timer: Timer::Reannounce,
            } => Some(after),
            _ => None,
        });
        // Repeated: nothing.
        pt.handle(at(due), Input::Timer(Timer::Reannounce));
        assert_eq!(drain(&mut pt), vec![]);
        match next {
            Some(after) => due += after.as_millis() as u64,
            None => break,
        }
    }
    assert_eq!(rounds, vec![500, 1500, 3500, 7500, 15_500]);
    assert_eq!(pt.stats().reannounced, 5);
}

#[test]
fn a_neighbour_that_shows_it_holds_the_message_or_goes_down_is_not_reannounced_to() {
    let (a, c, d) = (node(1), node(3), node(4));
    let mut pt = engine(&[a], &[c, d]);
    pt.handle(at(0), Input::Command(Command::Broadcast(b"m".to_vec())));
    let g = gossip(ME, 0, 0, b"m");
    drain(&mut pt);
    // a's copy comes back (a duplicate), c announces it, d goes down.
    pt.handle(
        at(10),
        from(
            a,
            Message::Gossip(Gossip {
                round: 1,
                ..g.clone()
            }),
        ),
    );
    pt.handle(
        at(10),
        from(c, Message::IHave(vec![IHave { id: g.id, round: 1 }])),
    );
    pt.handle(at(10), Input::NeighborDown(d));
    drain(&mut pt);
    pt.handle(at(500), Input::Timer(Timer::Reannounce));
    assert_eq!(drain(&mut pt), vec![]);
    assert_eq!(pt.stats().reannounced, 0);
}

#[test]
fn a_repeated_announcement_of_a_held_message_is_answered_with_ours() {
    let (a, c) = (node(1), node(3));
    let mut pt = engine(&[a], &[c]);
    let g = gossip(node(9), 0, 0, b"m");
    pt.handle(at(0), from(a, Message::Gossip(g.clone())));
    pt.handle(at(5), Input::Timer(Timer::DispatchIHave));
    drain(&mut pt);
    let theirs = Message::IHave(vec![IHave { id: g.id, round: 1 }]);
    // The first announcement from c tells us it holds the message.
    pt.handle(at(10), from(c, theirs.clone()));
    assert_eq!(drain(&mut pt), vec![]);
    // A second one means ours to c was lost: c hears it again.
    pt.handle(at(500), from(c, theirs));
    assert_eq!(drain(&mut pt), vec![dispatch_timer()]);
    pt.handle(at(505), Input::Timer(Timer::DispatchIHave));
    assert_eq!(
        drain(&mut pt),
        vec![send(c, Message::IHave(vec![IHave { id: g.id, round: 1 }]))]
    );
    assert_eq!(pt.stats().reannouncements_answered, 1);
    // Once per neighbour: were c's next one our answer crossing its own
    // repeat, answering it too could ping-pong for ever.
    pt.handle(
        at(1500),
        from(c, Message::IHave(vec![IHave { id: g.id, round: 1 }])),
    );
    assert_eq!(drain(&mut pt), vec![]);
    assert_eq!(pt.stats().reannouncements_answered, 1);
}

#[test]
fn with_the_papers_rules_nothing_is_reannounced() {
    let c = node(3);
    let mut pt = engine_with(papers_rules(), &[], &[c]);
    pt.handle(at(0), Input::Command(Command::Broadcast(b"m".to_vec())));
    let g = gossip(ME, 0, 0, b"m");
    assert_eq!(
        drain(&mut pt),
        vec![
            Output::Event(Event::Sent { id: g.id, seq: 0 }),
            dispatch_timer()
        ]
    );
    pt.handle(at(500), Input::Timer(Timer::Reannounce));
    assert_eq!(drain(&mut pt), vec![]);
}

// ---- tree optimisation -----------------------------------------------------

/// Rewire when a lazy path is 4 hops shorter.
fn threshold_4() -> Config {
    Config {
        optimization_threshold: 4,
        ..Config::small_room()
    }
}

#[test]
fn a_lazy_path_shorter_by_the_threshold_rewires_the_tree() {
    let (a, c) = (node(1), node(3));
    let mut pt = engine_with(threshold_4(), &[a], &[c]);
    let g = gossip(node(9), 0, 5, b"m");
    pt.handle(
        at(0),
        from(c, Message::IHave(vec![IHave { id: g.id, round: 1 }])),
    );
    drain(&mut pt);
    // Via a it took 5 + 1 hops, via c it would take 1 + 1: 4 shorter.
    pt.handle(at(10), from(a, Message::Gossip(g.clone())));
    assert_eq!(
        drain(&mut pt),
        vec![
            delivered(&g, 6, a),
            dispatch_timer(),
            send(c, Message::Graft { id: None, round: 1 }),
            send(a, Message::Prune),
        ]
    );
    assert_eq!(pt.eager_peers(), vec![c]);
    assert_eq!(pt.lazy_peers(), vec![a]);
    assert_eq!(pt.stats().optimizations, 1);
}

#[test]
fn a_lazy_path_shorter_by_less_than_the_threshold_leaves_the_tree_alone() {
    let (a, c) = (node(1), node(3));
    let mut pt = engine_with(threshold_4(), &[a], &[c]);
    let g = gossip(node(9), 0, 4, b"m");
    pt.handle(
        at(0),
        from(c, Message::IHave(vec![IHave { id: g.id, round: 1 }])),
    );
    drain(&mut pt);
    pt.handle(at(10), from(a, Message::Gossip(g.clone())));
    assert_eq!(drain(&mut pt), vec![delivered(&g, 5, a), dispatch_timer()]);
    assert_eq!(pt.eager_peers(), vec![a]);
    assert_eq!(pt.lazy_peers(), vec![c]);
}

#[test]
fn an_announcement_on_a_much_shorter_path_after_delivery_rewires_the_tree() {
    let (a, c, d) = (node(1), node(3), node(4));
    let mut pt = engine_with(threshold_4(), &[a], &[c, d]);
    let g = gossip(node(9), 0, 6, b"m");
    pt.handle(at(0), from(a, Message::Gossip(g.clone())));
    drain(&mut pt);
    pt.handle(
        at(1),
        from(c, Message::IHave(vec![IHave { id: g.id, round: 2 }])),
    );
    assert_eq!(
        drain(&mut pt),
        vec![
            send(c, Message::Graft { id: None, round: 2 }),
            send(a, Message::Prune),
        ]
    );
    assert_eq!(pt.eager_peers(), vec![c]);
    assert_eq!(pt.lazy_peers(), vec![a, d]);
    // c is now the parent at round 3: d's equally short path changes nothing.
    pt.handle(
        at(2),
        from(d, Message::IHave(vec![IHave { id: g.id, round: 2 }])),
    );
    assert_eq!(drain(&mut pt), vec![]);
}

// ---- cache and seen expiry -------------------------------------------------

#[test]
fn start_arms_the_sweep_once_and_a_repeated_sweep_rearms_once() {
    let mut pt = engine(&[], &[]);
    let sweep = Output::SetTimer {
        after: ms(1000),
        timer: Timer::Sweep,
    };
    pt.handle(at(0), Input::Start);
    pt.handle(at(0), Input::Start);
    assert_eq!(drain(&mut pt), vec![sweep.clone()]);
    pt.handle(at(1000), Input::Timer(Timer::Sweep));
    pt.handle(at(1000), Input::Timer(Timer::Sweep));
    assert_eq!(drain(&mut pt), vec![sweep]);
}

/// Fires the sweep every second from `from_ms` to `to_ms` inclusive, as a
/// driver would.
fn sweep_every_second(pt: &mut Plumtree, from_ms: u64, to_ms: u64) {
    for t in (from_ms..=to_ms).step_by(1_000) {
        pt.handle(at(t), Input::Timer(Timer::Sweep));
    }
    drain(pt);
}

#[test]
fn sweep_expires_payloads_after_cache_ttl_and_ids_after_seen_ttl() {
    let (a, c) = (node(1), node(3));
    let mut pt = engine(&[a], &[c]);
    pt.handle(at(0), Input::Start);
    let g = gossip(node(9), 0, 0, b"m");
    pt.handle(at(0), from(a, Message::Gossip(g.clone())));
    drain(&mut pt);
    sweep_every_second(&mut pt, 1_000, 29_000);
    assert_eq!(pt.cache_len(), 1);
    sweep_every_second(&mut pt, 30_000, 30_000);
    assert_eq!(pt.cache_len(), 0);
    assert!(pt.has_seen(&g.id));
    // Expired payloads no longer answer grafts.
    pt.handle(
        at(30_001),
        from(
            c,
            Message::Graft {
                id: Some(g.id),
                round: 0,
            },
        ),
    );
    assert_eq!(drain(&mut pt), vec![]);
    sweep_every_second(&mut pt, 31_000, 89_000);
    assert!(pt.has_seen(&g.id));
    sweep_every_second(&mut pt, 90_000, 90_000);
    assert!(!pt.has_seen(&g.id));
}

#[test]
fn seen_ttl_bounds_duplicate_suppression() {
    let a = node(1);
    let mut pt = engine(&[a], &[]);
    pt.handle(at(0), Input::Start);
    let g = gossip(node(9), 0, 0, b"m");
    pt.handle(at(0), from(a, Message::Gossip(g.clone())));
    drain(&mut pt);
    sweep_every_second(&mut pt, 1_000, 89_000);
    // Within seen_ttl (and long after cache_ttl): still a duplicate.
    pt.handle(at(89_500), from(a, Message::Gossip(g.clone())));
    assert_eq!(drain(&mut pt), vec![send(a, Message::Prune)]);
    assert_eq!(pt.stats().delivered, 1);
    // Once swept past seen_ttl the id is forgotten: the window is seen_ttl.
    sweep_every_second(&mut pt, 90_000, 90_000);
    assert!(!pt.has_seen(&g.id));
}

#[test]
fn missing_entries_expire_after_cache_ttl() {
    let c = node(3);
    let mut pt = engine(&[], &[c]);
    pt.handle(at(0), Input::Start);
    let id = gossip(node(9), 0, 0, b"m").id;
    pt.handle(at(0), from(c, Message::IHave(vec![IHave { id, round: 0 }])));
    drain(&mut pt);
    // The driver lost the graft timer; the sweep still clears the entry.
    pt.handle(at(29_000), Input::Timer(Timer::Sweep));
    assert_eq!(pt.missing_len(), 1);
    pt.handle(at(30_000), Input::Timer(Timer::Sweep));
    assert_eq!(pt.missing_len(), 0);
}

#[test]
fn cache_keeps_at_most_cache_entries_max_dropping_the_oldest() {
    let config = Config {
        cache_entries_max: 2,
        ..Config::small_room()
    };
    let c = node(3);
    let mut pt = engine_with(config, &[], &[c]);
    for i in 0..3u8 {
        pt.handle(at(0), Input::Command(Command::Broadcast(vec![i])));
    }
    drain(&mut pt);
    assert_eq!(pt.cache_len(), 2);
    let oldest = gossip(ME, 0, 0, &[0]).id;
    let newest = gossip(ME, 2, 0, &[2]).id;
    pt.handle(
        at(1),
        from(
            c,
            Message::Graft {
                id: Some(oldest),
                round: 0,
            },
        ),
    );
    assert_eq!(drain(&mut pt), vec![]);
    pt.handle(
        at(1),
        from(
            c,
            Message::Graft {
                id: Some(newest),
                round: 0,
            },
        ),
    );
    assert_eq!(
        drain(&mut pt),
        vec![send(c, Message::Gossip(gossip(ME, 2, 0, &[2])))]
    );
}

// ---- config ----------------------------------------------------------------

#[test]
fn presets_are_valid_and_default_is_small_room() {
    assert_eq!(Config::default(), Config::small_room());
    assert_eq!(Config::small_room().validate(), Ok(()));
    assert_eq!(Config::large_room().validate(), Ok(()));
}

#[test]
fn validate_names_the_broken_field() {
    let base = Config::small_room();
    let cases = [
        (
            Config {
                graft_timeout_1: Duration::ZERO,
                ..base.clone()
            },
            "graft_timeout_1",
        ),
        (
            Config {
                seen_ttl: ms(1),
                ..base.clone()
            },
            "seen_ttl",
        ),
        (
            Config {
                ihave_batch_max: 100_000,
                ..base.clone()
            },
            "ihave_batch_max",
        ),
        (
            Config {
                payload_bytes_max: 60 * 1024,
                ..base.clone()
            },
            "payload_bytes_max",
        ),
        (
            Config {
                optimization_threshold: 0,
                ..base.clone()
            },
            "optimization_threshold",
        ),
        (
            Config {
                graft_rounds_max: 0,
                ..base.clone()
            },
            "graft_rounds_max",
        ),
        (
            Config {
                cache_entries_max: 0,
                ..base.clone()
            },
            "cache_entries_max",
        ),
        (
            Config {
                reannounce_interval: Some(Duration::ZERO),
                ..base.clone()
            },
            "reannounce_interval",
        ),
    ];
    for (config, field) in cases {
        let err = config.validate().expect_err(field);
        assert_eq!(err.field, format!("plumtree.{field}"), "{err}");
    }
}

#[test]
fn frame_overheads_match_the_codec_and_the_largest_messages_fit_a_frame() {
    use crate::codec::encoded_len;
    use crate::proto::wire::{FRAME_BYTES_MAX, Wire};
    for cfg in [Config::small_room(), Config::large_room()] {
        let g = Gossip {
            payload: vec![0; cfg.payload_bytes_max],
            ..gossip(ME, 0, 0, b"")
        };
        let len = encoded_len(&Wire::Plumtree(Message::Gossip(g)));
        assert_eq!(
            len,
            config::GOSSIP_FRAME_OVERHEAD_BYTES + cfg.payload_bytes_max
        );
        assert!(len <= FRAME_BYTES_MAX);
        let list = vec![
            IHave {
                id: MessageId([0; 32]),
                round: 0
            };
            cfg.ihave_batch_max
        ];
        let len = encoded_len(&Wire::Plumtree(Message::IHave(list)));
        assert_eq!(
            len,
            config::IHAVE_FRAME_OVERHEAD_BYTES + cfg.ihave_batch_max * config::IHAVE_ENTRY_BYTES
        );
        assert!(len <= FRAME_BYTES_MAX);
    }
}

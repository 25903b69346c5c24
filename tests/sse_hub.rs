//! Hub tests: replay, the missed event, gapless subscribe under concurrent
//! publishing, laggard policy, subscription lifetime.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use realtime_events::sse::{
    Event, EventStreamParser, Hub, HubConfig, Item, ParsedEvent, Subscription,
};

fn hub(replay_capacity: usize, subscriber_queue: usize) -> Hub {
    Hub::new(
        HubConfig::default()
            .with_replay_capacity(replay_capacity)
            .with_subscriber_queue(subscriber_queue),
    )
}

fn publish_n(hub: &Hub, n: u64) {
    for i in 0..n {
        hub.publish(Event::new(format!("event {i}"))).unwrap();
    }
}

/// Everything ready right now, parsed as a client would.
fn drain(sub: &mut Subscription) -> Vec<ParsedEvent> {
    let mut parser = EventStreamParser::new();
    let mut items = Vec::new();
    while let Some(chunk) = sub.try_next() {
        parser.feed(&chunk, &mut items).unwrap();
    }
    items
        .into_iter()
        .map(|i| match i {
            Item::Event(e) => e,
            other => panic!("unexpected item {other:?}"),
        })
        .collect()
}

fn ids(events: &[ParsedEvent]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e.last_event_id.parse().unwrap())
        .collect()
}

/// Fails the test instead of hanging it.
async fn next_within(sub: &mut Subscription) -> Option<Bytes> {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("subscription stalled")
}

#[test]
fn ids_are_consecutive_from_one() {
    let hub = hub(8, 8);
    assert_eq!(hub.last_id(), 0);
    assert_eq!(hub.publish(Event::new("a")), Ok(1));
    assert_eq!(hub.publish(Event::new("b").id("ignored")), Ok(2));
    assert_eq!(hub.last_id(), 2);
    let mut sub = hub.subscribe(Some("0"));
    assert_eq!(ids(&drain(&mut sub)), [1, 2]);
}

#[test]
fn replay_after_last_id_then_live() {
    let hub = hub(16, 16);
    publish_n(&hub, 5);
    let mut sub = hub.subscribe(Some("2"));
    hub.publish(Event::new("live")).unwrap();
    let events = drain(&mut sub);
    assert_eq!(ids(&events), [3, 4, 5, 6]);
    assert_eq!(events[3].data, "live");
}

#[test]
fn no_last_id_means_live_only() {
    let hub = hub(16, 16);
    publish_n(&hub, 3);
    let mut sub = hub.subscribe(None);
    assert!(drain(&mut sub).is_empty());
    publish_n(&hub, 1);
    assert_eq!(ids(&drain(&mut sub)), [4]);
}

#[test]
fn a_first_visit_gets_a_position_to_resume_from() {
    let hub = hub(16, 16);
    publish_n(&hub, 3);
    let mut sub = hub.subscribe(None);
    // No event fires, but the client now holds id 3...
    let mut parser = EventStreamParser::new();
    let mut items = Vec::new();
    parser.feed(&sub.try_next().unwrap(), &mut items).unwrap();
    assert!(items.is_empty());
    assert_eq!(parser.last_event_id(), "3");
    // ...so if it drops now, it resumes exactly after what it had not seen.
    publish_n(&hub, 2);
    drop(sub);
    let mut resumed = hub.subscribe(Some(parser.last_event_id()));
    assert_eq!(ids(&drain(&mut resumed)), [4, 5]);
}

#[test]
fn unparsable_last_id_means_no_history() {
    let hub = hub(16, 16);
    publish_n(&hub, 3);
    for bad in ["", "abc", "-1", " 1", "1.0", "99999999999999999999999"] {
        let mut sub = hub.subscribe(Some(bad));
        assert!(drain(&mut sub).is_empty(), "{bad:?}");
    }
}

#[test]
fn the_latest_id_is_up_to_date() {
    let hub = hub(16, 16);
    publish_n(&hub, 3);
    let mut sub = hub.subscribe(Some("3"));
    assert!(drain(&mut sub).is_empty());
}

/// After a restart ids begin again at 1: an id this hub never issued
/// belongs to an earlier run, so the client gets all of this run.
#[test]
fn an_id_from_before_a_restart_replays_this_run() {
    let restarted = hub(16, 16);
    publish_n(&restarted, 3);
    for id in ["4", "1000", &u64::MAX.to_string()] {
        let mut sub = restarted.subscribe(Some(id));
        assert_eq!(ids(&drain(&mut sub)), vec![1, 2, 3], "{id}");
    }
    // With part of this run already out of the buffer, it is told so.
    let small = hub(2, 16);
    publish_n(&small, 5);
    let mut sub = small.subscribe(Some("900"));
    let events = drain(&mut sub);
    assert_eq!(events[0].event_type, "missed");
    assert_eq!(ids(&events[1..]), vec![4, 5]);
}

#[test]
fn history_lost_yields_a_missed_event_then_the_buffer() {
    let hub = hub(3, 16);
    publish_n(&hub, 10);
    let mut sub = hub.subscribe(Some("2"));
    let events = drain(&mut sub);
    assert_eq!(events.len(), 4);
    assert_eq!(events[0].event_type, "missed");
    assert_eq!(events[0].data, r#"{"first":3,"last":7}"#);
    // The missed event carries the last id it reports, so a client that
    // drops right after it resumes at 8 without being told again.
    assert_eq!(events[0].last_event_id, "7");
    assert_eq!(ids(&drain(&mut hub.subscribe(Some("7")))), [8, 9, 10]);
    assert_eq!(ids(&events[1..]), [8, 9, 10]);
}

#[test]
fn history_lost_from_the_start() {
    let hub = hub(2, 16);
    publish_n(&hub, 5);
    let events = drain(&mut hub.subscribe(Some("0")));
    assert_eq!(events[0].data, r#"{"first":1,"last":3}"#);
    assert_eq!(ids(&events[1..]), [4, 5]);
}

#[test]
fn without_replay_everything_after_last_id_is_missed() {
    let hub = hub(0, 16);
    publish_n(&hub, 5);
    let events = drain(&mut hub.subscribe(Some("2")));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "missed");
    assert_eq!(events[0].data, r#"{"first":3,"last":5}"#);
}

#[test]
fn every_subscriber_shares_the_same_encoded_bytes() {
    let hub = hub(4, 4);
    let mut a = hub.subscribe(Some("0"));
    let mut b = hub.subscribe(Some("0"));
    publish_n(&hub, 1);
    let (x, y) = (a.try_next().unwrap(), b.try_next().unwrap());
    assert_eq!(x, y);
    assert_eq!(x.as_ptr(), y.as_ptr(), "encoded once, shared");
    let replayed = hub.subscribe(Some("0")).try_next().unwrap();
    assert_eq!(replayed.as_ptr(), x.as_ptr());
}

#[test]
fn gapless_and_no_duplicates_while_publishing_concurrently() {
    const TOTAL: u64 = 3000;
    let hub = hub(TOTAL as usize, TOTAL as usize + 8);
    let done = Arc::new(AtomicBool::new(false));
    let publisher = {
        let hub = hub.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            for i in 1..=TOTAL {
                assert_eq!(hub.publish(Event::new("x")).unwrap(), i);
                if i % 16 == 0 {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    // Subscribe over and over while the publisher runs, half of the time
    // resuming from an id that is a little behind.
    let mut subs = Vec::new();
    let mut k = 0u64;
    while (!done.load(Ordering::SeqCst) && subs.len() < 64) || subs.len() < 4 {
        let seen = hub.last_id();
        let from = k.is_multiple_of(2).then(|| seen.saturating_sub(k % 50));
        let sub = hub.subscribe(from.map(|f| f.to_string()).as_deref());
        subs.push((seen, from, sub));
        k += 1;
        std::thread::sleep(Duration::from_micros(100));
    }
    publisher.join().unwrap();
    let during = subs
        .iter()
        .filter(|(seen, _, _)| *seen > 0 && *seen < TOTAL)
        .count();
    eprintln!("{} subscriptions, {during} taken mid-publish", subs.len());

    for (seen, from, mut sub) in subs {
        let got = ids(&drain(&mut sub));
        let first = match from {
            Some(f) => f + 1,
            // Live only: starts somewhere after what we saw before
            // subscribing (ids can advance between the two calls).
            None => got.first().copied().unwrap_or(TOTAL + 1),
        };
        assert!(first > seen || from.is_some(), "live-only got old events");
        let expected: Vec<u64> = (first..=TOTAL).collect();
        assert_eq!(got, expected, "from {from:?}, seen {seen}");
    }
}

#[tokio::test]
async fn slow_subscriber_is_disconnected_and_does_not_block_others() {
    let hub = hub(100, 4);
    let mut slow = hub.subscribe(None);
    let mut fast = hub.subscribe(None);
    assert_eq!(hub.subscriber_count(), 2);

    let mut fast_got = Vec::new();
    for i in 1..=10u64 {
        // publish is synchronous and never waits, whatever `slow` does.
        assert_eq!(hub.publish(Event::new(i.to_string())).unwrap(), i);
        fast_got.extend(ids(&drain(&mut fast)));
    }
    assert_eq!(fast_got, (1..=10).collect::<Vec<_>>());
    // The 5th publish found slow's queue (4) full.
    assert_eq!(hub.subscriber_count(), 1);
    assert_eq!(hub.laggards_disconnected(), 1);

    // The laggard still gets what was queued, then its stream ends.
    let mut parser = EventStreamParser::new();
    let mut items = Vec::new();
    while let Some(chunk) = next_within(&mut slow).await {
        parser.feed(&chunk, &mut items).unwrap();
    }
    assert_eq!(items.len(), 4);
    assert_eq!(parser.last_event_id(), "4");

    // Reconnecting with Last-Event-ID resumes exactly where it stopped.
    let mut again = hub.subscribe(Some(parser.last_event_id()));
    assert_eq!(ids(&drain(&mut again)), (5..=10).collect::<Vec<_>>());
    assert_eq!(hub.subscriber_count(), 2);
}

#[tokio::test]
async fn live_events_wake_a_waiting_subscriber() {
    let hub = hub(4, 4);
    let mut sub = hub.subscribe(Some("0"));
    let reader = tokio::spawn(async move { next_within(&mut sub).await });
    tokio::task::yield_now().await;
    hub.publish(Event::new("hi")).unwrap();
    let chunk = reader.await.unwrap().unwrap();
    assert_eq!(&chunk[..], b"id: 1\ndata: hi\n\n");
}

#[test]
fn dropping_a_subscription_frees_its_slot() {
    let hub = hub(4, 4);
    let a = hub.subscribe(None);
    let b = hub.subscribe(Some("0"));
    let c = hub.subscribe(None);
    assert_eq!(hub.subscriber_count(), 3);
    drop(b);
    assert_eq!(hub.subscriber_count(), 2);
    publish_n(&hub, 2);
    drop(a);
    drop(c);
    assert_eq!(hub.subscriber_count(), 0);
    publish_n(&hub, 1);
    assert_eq!(hub.laggards_disconnected(), 0);
}

#[tokio::test]
async fn dropping_the_hub_ends_every_stream() {
    let hub = hub(4, 4);
    let mut sub = hub.subscribe(None);
    publish_n(&hub, 1);
    drop(hub);
    // The position marker, then the event, then the end.
    assert_eq!(&next_within(&mut sub).await.unwrap()[..], b"id: 0\n\n");
    assert!(next_within(&mut sub).await.is_some());
    assert!(next_within(&mut sub).await.is_none());
}

mod replay_log {
    use proptest::prelude::*;
    use realtime_events::sse::{Event, ReplayLog, Resume};

    proptest! {
        /// Against a model: ids are 1, 2, 3...; the ring holds the last
        /// `capacity` of them; asking after any id gives exactly the later
        /// events, or says explicitly that some are gone or that the id was
        /// never issued.
        #[test]
        fn resume_matches_the_model(capacity in 0usize..12, pushes in 0u64..60, asked in 0u64..70) {
            let mut log = ReplayLog::new(capacity);
            let mut wire = Vec::new();
            for n in 1..=pushes {
                let (id, bytes) = log.push(Event::new(format!("e{n}"))).unwrap();
                prop_assert_eq!(id, n);
                prop_assert!(log.len() <= capacity);
                wire.push(bytes);
            }
            prop_assert_eq!(log.last_id(), pushes);
            let held = (pushes.saturating_sub(capacity as u64) + 1)..=pushes;
            prop_assert_eq!(log.len() as u64, held.clone().count() as u64);
            let expect_bytes = |ids: &[u64]| -> Vec<_> {
                ids.iter().map(|&id| wire[(id - 1) as usize].clone()).collect()
            };
            match log.after(asked) {
                Resume::Unknown => prop_assert!(asked > pushes),
                Resume::Complete(replay) => {
                    prop_assert!(asked <= pushes);
                    prop_assert!(asked + 1 >= *held.start());
                    let (ids, bytes): (Vec<u64>, Vec<_>) =
                        replay.map(|(id, b)| (id, b.clone())).unzip();
                    let want: Vec<u64> = (asked + 1..=pushes).collect();
                    prop_assert_eq!(&bytes, &expect_bytes(&want));
                    prop_assert_eq!(ids, want);
                }
                Resume::TooOld { missed, then } => {
                    prop_assert!(asked <= pushes);
                    prop_assert_eq!(missed, asked + 1..=*held.start() - 1);
                    let ids: Vec<u64> = then.map(|(id, _)| id).collect();
                    prop_assert_eq!(ids, held.clone().collect::<Vec<_>>());
                }
            }
        }
    }
}

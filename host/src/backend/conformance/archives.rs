//! Bus archives. Where the host keeps them ([`Capabilities::keeps_archives`]), what a delivery
//! archives is kept per bus, in delivery order, and read back by time range and position, as
//! `switchyard replay` reads it. Where the bus service keeps its own (EventBridge), the backend
//! refuses to archive or to read an archive, rather than drop or invent one.
//!
//! [`Capabilities::keeps_archives`]: crate::backend::Capabilities::keeps_archives

use crate::backend::{Archived, Delivery, Storage, StoreError};
use crate::config::{ArchiveConfig, BusConfig, BusId};

const ORDERS: BusId = BusId(0);
const AUDIT: BusId = BusId(1);

/// The buses every conformance test's store is opened with: `orders` and `audit`, each with an
/// archive kept for ever.
pub fn buses() -> Vec<BusConfig> {
    let bus = |name: &str| BusConfig {
        name: name.to_string(),
        archive: Some(ArchiveConfig {
            pattern: None,
            retention: None,
        }),
        rules: Vec::new(),
    };
    vec![bus("orders"), bus("audit")]
}

fn archiving(events: &[(BusId, &str)]) -> Delivery {
    Delivery {
        archived: events
            .iter()
            .map(|(bus, event)| (*bus, event.to_string()))
            .collect(),
        ..Delivery::default()
    }
}

fn events(archived: &[Archived]) -> Vec<&str> {
    archived.iter().map(|a| a.event.as_str()).collect()
}

fn now_ms() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| d.as_millis() as i64)
}

pub async fn a_bus_archive_keeps_delivered_events_in_order(store: &dyn Storage) {
    let first = archiving(&[(ORDERS, "e1"), (AUDIT, "a1"), (ORDERS, "e2")]);
    if !store.capabilities().keeps_archives {
        assert!(
            matches!(store.deliver(first).await, Err(StoreError::Refused(_))),
            "a backend that keeps no archives refuses to archive instead of dropping the events"
        );
        assert!(
            matches!(
                store.archived(ORDERS, 0, i64::MAX, 0, 10).await,
                Err(StoreError::Refused(_))
            ),
            "a backend that keeps no archives has none to read"
        );
        return;
    }

    let before = now_ms();
    store.deliver(first).await.unwrap();
    store.deliver(archiving(&[(ORDERS, "e3")])).await.unwrap();
    let after = now_ms();

    let all = store.archived(ORDERS, 0, i64::MAX, 0, 10).await.unwrap();
    assert_eq!(events(&all), ["e1", "e2", "e3"], "in delivery order");
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));
    assert!(
        all.iter()
            .all(|a| (before..=after).contains(&a.archived_ms)),
        "stamped when archived: {all:?}"
    );
    let audit = store.archived(AUDIT, 0, i64::MAX, 0, 10).await.unwrap();
    assert_eq!(events(&audit), ["a1"], "each bus keeps its own archive");

    // Paged by position, as a replay reads it.
    let page = store.archived(ORDERS, 0, i64::MAX, 0, 2).await.unwrap();
    assert_eq!(events(&page), ["e1", "e2"]);
    let rest = store
        .archived(ORDERS, 0, i64::MAX, page[1].position, 2)
        .await
        .unwrap();
    assert_eq!(events(&rest), ["e3"]);

    // Only what was archived within the time range.
    let earlier = store.archived(ORDERS, 0, before - 1, 0, 10).await.unwrap();
    assert!(earlier.is_empty(), "{earlier:?}");
    let later = store
        .archived(ORDERS, after + 1, i64::MAX, 0, 10)
        .await
        .unwrap();
    assert!(later.is_empty(), "{later:?}");
}

//! Shard leases, as every backend must keep them. Where replicas share streams
//! ([`Capabilities::shared_leases`]), a lease is one replica's until it expires or is released,
//! and only its holder may checkpoint; where one host owns the store, it holds every lease.

use std::time::Duration;

use crate::backend::{Checkpoint, Delivery, Position, ShardId, Storage, StoreError};
use crate::record::SequenceNumber;

/// `one` and `two` are two replicas on the same store (for a backend without shared leases,
/// the one host twice).
pub async fn a_shard_lease_is_held_by_one_holder_until_it_expires_or_is_released(
    one: &dyn Storage,
    two: &dyn Storage,
) {
    let shared = one.capabilities().shared_leases;
    let shard = ShardId("shard-1".into());
    // Long enough that a loaded machine's slow calls finish while the lease still holds.
    let short = Duration::from_secs(2);
    assert!(one.lease("p", &shard, short).await.unwrap());
    assert_eq!(
        two.lease("p", &shard, short).await.unwrap(),
        !shared,
        "held by one replica; the one host holds every lease"
    );
    assert!(
        one.lease("p", &shard, short).await.unwrap(),
        "renewed by its holder"
    );
    assert!(
        one.lease("other", &shard, short).await.unwrap(),
        "leases are per pipe"
    );

    let checkpoint = |sequence: u64| Delivery {
        checkpoint: Some(Checkpoint {
            pipe: "p".into(),
            shard: shard.clone(),
            sequence: SequenceNumber::from_u64(sequence),
        }),
        ..Delivery::default()
    };
    one.deliver(checkpoint(1)).await.unwrap();
    if !shared {
        two.release("p", &shard).await.unwrap();
        assert!(one.lease("p", &shard, short).await.unwrap());
        return;
    }
    assert!(matches!(
        two.deliver(checkpoint(2)).await,
        Err(StoreError::LeaseLost(_))
    ));

    // The holder dies: after its lease runs out, the other takes the shard and resumes from
    // the checkpoint.
    tokio::time::sleep(short + Duration::from_millis(300)).await;
    assert!(
        two.lease("p", &shard, short).await.unwrap(),
        "taken after expiry"
    );
    assert_eq!(
        two.checkpoint("p", &shard).await.unwrap(),
        Some(Position::After(SequenceNumber::from_u64(1)))
    );
    assert!(
        matches!(
            one.deliver(checkpoint(3)).await,
            Err(StoreError::LeaseLost(_))
        ),
        "the old holder can no longer checkpoint"
    );
    two.deliver(checkpoint(4)).await.unwrap();

    // Released: the other may take it at once.
    two.release("p", &shard).await.unwrap();
    assert!(
        one.lease("p", &shard, Duration::from_secs(60))
            .await
            .unwrap()
    );

    assert!(!one.finished("p", &shard).await.unwrap());
    one.finish("p", &shard).await.unwrap();
    assert!(two.finished("p", &shard).await.unwrap());
}

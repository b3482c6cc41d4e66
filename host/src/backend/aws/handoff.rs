//! The pipe's hand-off on AWS: a delivery puts its messages on SQS and its events on
//! EventBridge first, then writes the checkpoint in the shard's lease item while this replica
//! still holds the lease: at least once, never lost.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::leases::{KEY, conditional, lease_key};
use super::{AwsStore, unavailable};
use crate::backend::{Delivery, Handoff, Position, ShardId, StoreError};

#[async_trait]
impl Handoff for AwsStore {
    async fn finish(&self, pipe: &str, shard: &ShardId) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.leases)
            .key(KEY, lease_key(pipe, shard))
            .update_expression("SET finished = :yes")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn finished(&self, pipe: &str, shard: &ShardId) -> Result<bool, StoreError> {
        let item = self.lease_item(pipe, shard).await?;
        Ok(matches!(
            item.get("finished"),
            Some(AttributeValue::Bool(true))
        ))
    }

    async fn checkpoint(
        &self,
        pipe: &str,
        shard: &ShardId,
    ) -> Result<Option<Position>, StoreError> {
        let item = self.lease_item(pipe, shard).await?;
        Ok(item
            .get("sequence")
            .and_then(|v| v.as_s().ok())
            .map(|s| Position::stored(s.clone())))
    }

    /// Written only where no checkpoint is, whoever holds the lease: the first start wins.
    async fn start(
        &self,
        pipe: &str,
        shard: &ShardId,
        at: Position,
    ) -> Result<Position, StoreError> {
        let written = self
            .client
            .update_item()
            .table_name(&self.leases)
            .key(KEY, lease_key(pipe, shard))
            .update_expression("SET #s = :s")
            .condition_expression("attribute_not_exists(#s)")
            .expression_attribute_names("#s", "sequence")
            .expression_attribute_values(":s", AttributeValue::S(at.as_stored().to_string()))
            .send()
            .await;
        match written {
            Ok(_) => Ok(at),
            Err(err) if conditional(&err) => self.checkpoint(pipe, shard).await?.ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "pipe `{pipe}`: shard `{}` has a checkpoint that cannot be read back",
                    shard.0
                ))
            }),
            Err(err) => Err(unavailable(err)),
        }
    }

    /// Messages, then events, then the checkpoint, conditioned on this replica's lease (or on
    /// no lease at all, for a pipe that runs alone). EventBridge keeps its own archives: a
    /// delivery that asks the host to archive is refused before anything is sent.
    async fn deliver(&self, delivery: Delivery) -> Result<(), StoreError> {
        if !delivery.archived.is_empty() {
            return Err(StoreError::Refused(
                "on AWS, EventBridge archives a bus's events; the host keeps no archive".into(),
            ));
        }
        self.send_messages(delivery.messages).await?;
        self.put_events(delivery.events).await?;
        let Some(checkpoint) = delivery.checkpoint else {
            return Ok(());
        };
        let written = self
            .client
            .update_item()
            .table_name(&self.leases)
            .key(KEY, lease_key(&checkpoint.pipe, &checkpoint.shard))
            .update_expression("SET #s = :s")
            .condition_expression("attribute_not_exists(#o) OR #o = :me")
            .expression_attribute_names("#s", "sequence")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":s", AttributeValue::S(checkpoint.sequence.0.clone()))
            .expression_attribute_values(":me", AttributeValue::S(self.owner.clone()))
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(err) if conditional(&err) => Err(StoreError::LeaseLost(format!(
                "pipe `{}`: another replica holds shard `{}`; its checkpoint is theirs now",
                checkpoint.pipe, checkpoint.shard.0
            ))),
            Err(err) => Err(unavailable(err)),
        }
    }
}

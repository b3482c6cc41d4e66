//! Shard leases in a DynamoDB table, as the Kinesis Client Library keeps them: one item per
//! pipe and shard, with the replica that holds it (`owner`) and when its lease runs out
//! (`expires`, ms). The same item keeps the shard's checkpoint (see `handoff`). Every change
//! is a conditional write, so two replicas never both believe they hold a shard.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{AwsStore, unavailable};
use crate::backend::{Leases, ShardId, StoreError};

/// The table's key attribute.
pub(super) const KEY: &str = "lease";

pub(super) fn lease_key(pipe: &str, shard: &ShardId) -> AttributeValue {
    AttributeValue::S(format!("{pipe}/{}", shard.0))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub(super) fn conditional<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    err: &aws_sdk_dynamodb::error::SdkError<E>,
) -> bool {
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

impl AwsStore {
    pub(super) async fn lease_item(
        &self,
        pipe: &str,
        shard: &ShardId,
    ) -> Result<std::collections::HashMap<String, AttributeValue>, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.leases)
            .key(KEY, lease_key(pipe, shard))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(got.item.unwrap_or_default())
    }
}

#[async_trait]
impl Leases for AwsStore {
    async fn lease(
        &self,
        pipe: &str,
        shard: &ShardId,
        duration: Duration,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let taken = self
            .client
            .update_item()
            .table_name(&self.leases)
            .key(KEY, lease_key(pipe, shard))
            .update_expression("SET #o = :me, #e = :until")
            .condition_expression("attribute_not_exists(#o) OR #o = :me OR #e < :now")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_names("#e", "expires")
            .expression_attribute_values(":me", AttributeValue::S(self.owner.clone()))
            .expression_attribute_values(
                ":until",
                AttributeValue::N((now + duration.as_millis() as i64).to_string()),
            )
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match taken {
            Ok(_) => Ok(true),
            Err(err) if conditional(&err) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn release(&self, pipe: &str, shard: &ShardId) -> Result<(), StoreError> {
        let released = self
            .client
            .update_item()
            .table_name(&self.leases)
            .key(KEY, lease_key(pipe, shard))
            .update_expression("SET #e = :zero")
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_names("#e", "expires")
            .expression_attribute_values(":me", AttributeValue::S(self.owner.clone()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await;
        match released {
            Ok(_) => Ok(()),
            // Someone else holds it already: nothing to give up.
            Err(err) if conditional(&err) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }
}

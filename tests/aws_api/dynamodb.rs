//! The DynamoDB API through boto3 and the AWS CLI: every write goes through the outbox, as an
//! HTTP API write does.

use std::process::Command;

use crate::common::{Host, moto};

const ROUTES: &str = r#"
[tables.orders]
key = "id"
sort_key = { name = "at", type = "N" }
stream_view_type = "NEW_AND_OLD_IMAGES"

[tables.customers]
key = "customerId"
"#;

/// Runs a boto3 script against the host; `ddb` is its DynamoDB client. The script asserts;
/// its stdout comes back.
fn boto3(host: &Host, script: &str) -> String {
    let prelude = format!(
        "import boto3, json\nfrom botocore.exceptions import ClientError\nddb = boto3.client('dynamodb', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n",
        host.url
    );
    let output = Command::new(moto::python())
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "boto3 script failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        host.logs()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn boto3_writes_and_reads_items_and_every_write_has_its_change_record() {
    let host = Host::start(ROUTES);
    boto3(
        &host,
        r#"
tables = ddb.list_tables()['TableNames']
assert tables == ['customers', 'orders'], tables
table = ddb.describe_table(TableName='orders')['Table']
assert table['KeySchema'] == [{'AttributeName': 'id', 'KeyType': 'HASH'}, {'AttributeName': 'at', 'KeyType': 'RANGE'}], table
assert table['StreamSpecification']['StreamViewType'] == 'NEW_AND_OLD_IMAGES'

ddb.put_item(TableName='orders', Item={'id': {'S': 'o-1'}, 'at': {'N': '1'}, 'Status': {'S': 'NEW'}, 'total': {'N': '12.5'}, 'tags': {'L': [{'S': 'a'}]}})
ddb.put_item(TableName='orders', Item={'id': {'S': 'o-1'}, 'at': {'N': '2'}, 'Status': {'S': 'NEW'}, 'total': {'N': '3'}})
ddb.put_item(TableName='orders', Item={'id': {'S': 'o-2'}, 'at': {'N': '1'}, 'Status': {'S': 'PAID'}, 'total': {'N': '7'}})

item = ddb.get_item(TableName='orders', Key={'id': {'S': 'o-1'}, 'at': {'N': '1'}})['Item']
assert item['total'] == {'N': '12.5'} and item['tags'] == {'L': [{'S': 'a'}]}, item
assert 'Item' not in ddb.get_item(TableName='orders', Key={'id': {'S': 'o-9'}, 'at': {'N': '1'}})
projected = ddb.get_item(TableName='orders', Key={'id': {'S': 'o-1'}, 'at': {'N': '1'}}, ProjectionExpression='#s', ExpressionAttributeNames={'#s': 'Status'})['Item']
assert projected == {'Status': {'S': 'NEW'}}, projected

# A condition that fails is DynamoDB's ConditionalCheckFailedException.
try:
    ddb.put_item(TableName='orders', Item={'id': {'S': 'o-1'}, 'at': {'N': '1'}}, ConditionExpression='attribute_not_exists(id)')
    raise AssertionError('the condition should fail')
except ClientError as e:
    assert e.response['Error']['Code'] == 'ConditionalCheckFailedException', e.response

updated = ddb.update_item(TableName='orders', Key={'id': {'S': 'o-1'}, 'at': {'N': '1'}},
    UpdateExpression='SET #s = :s, total = total + :d', ConditionExpression='#s = :old',
    ExpressionAttributeNames={'#s': 'Status'}, ExpressionAttributeValues={':s': {'S': 'PAID'}, ':d': {'N': '0.5'}, ':old': {'S': 'NEW'}},
    ReturnValues='UPDATED_NEW')['Attributes']
assert updated == {'Status': {'S': 'PAID'}, 'total': {'N': '13'}}, updated

# Query: one partition in sort-key order, newest first, page by page; a filter; a count.
page = ddb.query(TableName='orders', KeyConditionExpression='id = :id', ExpressionAttributeValues={':id': {'S': 'o-1'}}, ScanIndexForward=False, Limit=1)
assert [i['at']['N'] for i in page['Items']] == ['2'] and page['LastEvaluatedKey'] == {'id': {'S': 'o-1'}, 'at': {'N': '2'}}, page
rest = ddb.query(TableName='orders', KeyConditionExpression='id = :id', ExpressionAttributeValues={':id': {'S': 'o-1'}}, ScanIndexForward=False, ExclusiveStartKey=page['LastEvaluatedKey'])
assert [i['at']['N'] for i in rest['Items']] == ['1'] and 'LastEvaluatedKey' not in rest, rest
forward = ddb.query(TableName='orders', KeyConditionExpression='id = :id', ExpressionAttributeValues={':id': {'S': 'o-1'}}, Limit=1)
assert [i['at']['N'] for i in forward['Items']] == ['1'] and forward['LastEvaluatedKey'] == {'id': {'S': 'o-1'}, 'at': {'N': '1'}}, forward
onward = ddb.query(TableName='orders', KeyConditionExpression='id = :id', ExpressionAttributeValues={':id': {'S': 'o-1'}}, ExclusiveStartKey=forward['LastEvaluatedKey'])
assert [i['at']['N'] for i in onward['Items']] == ['2'] and 'LastEvaluatedKey' not in onward, onward
ranged = ddb.query(TableName='orders', KeyConditionExpression='id = :id AND #a BETWEEN :lo AND :hi', FilterExpression='total > :t',
    ExpressionAttributeNames={'#a': 'at'}, ExpressionAttributeValues={':id': {'S': 'o-1'}, ':lo': {'N': '0'}, ':hi': {'N': '5'}, ':t': {'N': '5'}})
assert ranged['Count'] == 1 and ranged['ScannedCount'] == 2, ranged
try:
    ddb.query(TableName='orders', KeyConditionExpression='#a = :a', ExpressionAttributeNames={'#a': 'at'}, ExpressionAttributeValues={':a': {'N': '1'}})
    raise AssertionError('a query needs the partition key')
except ClientError as e:
    assert e.response['Error']['Code'] == 'ValidationException', e.response

# Scan, with paging; the paginator follows LastEvaluatedKey.
seen = [i['id']['S'] for p in ddb.get_paginator('scan').paginate(TableName='orders', PaginationConfig={'PageSize': 2}) for i in p['Items']]
assert sorted(seen) == ['o-1', 'o-1', 'o-2'], seen

# Batches.
ddb.batch_write_item(RequestItems={'customers': [{'PutRequest': {'Item': {'customerId': {'S': 'c-%d' % n}}}} for n in range(3)]})
got = ddb.batch_get_item(RequestItems={'customers': {'Keys': [{'customerId': {'S': 'c-1'}}, {'customerId': {'S': 'c-9'}}]}})
assert got['Responses']['customers'] == [{'customerId': {'S': 'c-1'}}], got
ddb.batch_write_item(RequestItems={'customers': [{'DeleteRequest': {'Key': {'customerId': {'S': 'c-2'}}}}]})
assert ddb.scan(TableName='customers', Select='COUNT')['Count'] == 2
gets = ddb.transact_get_items(TransactItems=[{'Get': {'TableName': 'customers', 'Key': {'customerId': {'S': 'c-0'}}}}])['Responses']
assert gets == [{'Item': {'customerId': {'S': 'c-0'}}}], gets

old = ddb.delete_item(TableName='orders', Key={'id': {'S': 'o-2'}, 'at': {'N': '1'}}, ReturnValues='ALL_OLD')['Attributes']
assert old['Status'] == {'S': 'PAID'}, old

# What routes.toml does not declare is an error that says so.
try:
    ddb.put_item(TableName='nowhere', Item={'id': {'S': 'x'}})
    raise AssertionError('an undeclared table')
except ClientError as e:
    assert e.response['Error']['Code'] == 'ResourceNotFoundException', e.response
ddb.create_table(TableName='customers', KeySchema=[{'AttributeName': 'customerId', 'KeyType': 'HASH'}],
    AttributeDefinitions=[{'AttributeName': 'customerId', 'AttributeType': 'S'}], BillingMode='PAY_PER_REQUEST')
"#,
    );
    // Every write through the DynamoDB API appended its change record, in order.
    let records = host.records("orders").await;
    let events: Vec<&str> = records
        .iter()
        .map(|r| r["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["INSERT", "INSERT", "INSERT", "MODIFY", "REMOVE"]);
    assert_eq!(
        records[3]["dynamodb"]["Keys"],
        serde_json::json!({"id": {"S": "o-1"}, "at": {"N": "1"}})
    );
    assert_eq!(host.records("customers").await.len(), 4);
}

#[tokio::test]
async fn items_keep_their_dynamodb_types_exactly_through_both_apis_and_the_stream() {
    let host = Host::start(ROUTES);
    // boto3's resource API, as users write it: Python sets, Decimals, Binary.
    boto3(
        &host,
        r#"
from decimal import Decimal
from boto3.dynamodb.types import Binary
table = boto3.resource('dynamodb', endpoint_url=ddb.meta.endpoint_url, region_name='us-east-1',
    aws_access_key_id='test', aws_secret_access_key='test').Table('orders')
big = Decimal('12345678901234567890123456789012345678')
tiny = Decimal('1E-130')
table.put_item(Item={'id': 'o-1', 'at': 1, 'tags': {'a', 'b'}, 'sizes': {Decimal('1.5'), 2},
    'blob': Binary(b'\x00\x01\xff'), 'blobs': {Binary(b'x'), Binary(b'y')}, 'big': big, 'tiny': tiny,
    'empty': '', 'nested': {'deep': [{'set': {'z'}}]}})
got = table.get_item(Key={'id': 'o-1', 'at': 1})['Item']
assert got['tags'] == {'a', 'b'} and got['sizes'] == {Decimal('1.5'), Decimal('2')}, got
assert got['blob'] == Binary(b'\x00\x01\xff') and got['blobs'] == {Binary(b'x'), Binary(b'y')}, got
assert got['big'] == big and got['tiny'] == tiny and got['empty'] == '', got
assert got['nested']['deep'][0]['set'] == {'z'}, got
table.update_item(Key={'id': 'o-1', 'at': 1}, UpdateExpression='ADD tags :t, big :one DELETE sizes :s',
    ExpressionAttributeValues={':t': {'c'}, ':one': Decimal('-1'), ':s': {Decimal('1.50')}})
got = table.get_item(Key={'id': 'o-1', 'at': 1})['Item']
assert got['tags'] == {'a', 'b', 'c'} and got['sizes'] == {Decimal('2')}, got
assert got['big'] == Decimal('12345678901234567890123456789012345677'), got
try:
    ddb.put_item(TableName='orders', Item={'id': {'S': 'o-2'}, 'at': {'N': '1'}, 'n': {'N': '1' * 39}})
    raise AssertionError('39 digits')
except ClientError as e:
    assert e.response['Error']['Code'] == 'ValidationException', e.response
"#,
    );
    // The HTTP API shows the same item as plain JSON, every digit kept.
    let text = host.get_text("/orders/o-1/1").await;
    assert!(
        text.contains(r#""big":12345678901234567890123456789012345677"#),
        "{text}"
    );
    let item: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(item["blob"], "AAH/");
    assert_eq!(item["tags"].as_array().map(Vec::len), Some(3));
    // A merge patch over HTTP leaves what it does not name as it was: the sets stay sets.
    let patched = Host::client()
        .patch(format!("{}/orders/o-1/1", host.url))
        .header("content-type", "application/json")
        .header("if-match", "*")
        .body(r#"{"note": "gift", "empty": null}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200, "{}", patched.text().await.unwrap());
    boto3(
        &host,
        r#"
item = ddb.get_item(TableName='orders', Key={'id': {'S': 'o-1'}, 'at': {'N': '1'}})['Item']
assert sorted(item['tags']['SS']) == ['a', 'b', 'c'] and item['blob'] == {'B': b'\x00\x01\xff'}, item
assert item['note'] == {'S': 'gift'} and 'empty' not in item, item
"#,
    );
    // The change records carry the typed images, as DynamoDB Streams does.
    let records = host.records("orders").await;
    let image = &records[0]["dynamodb"]["NewImage"];
    assert_eq!(image["blob"], serde_json::json!({"B": "AAH/"}));
    assert_eq!(
        image["big"],
        serde_json::json!({"N": "12345678901234567890123456789012345678"})
    );
    assert_eq!(image["tiny"]["N"].as_str().map(str::len), Some(132));
    assert!(image["tags"]["SS"].is_array(), "{image}");
    assert_eq!(
        records.last().unwrap()["dynamodb"]["NewImage"]["tags"]["SS"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

#[tokio::test]
async fn the_aws_cli_puts_and_gets_an_item() {
    let host = Host::start(ROUTES);
    let aws = |args: &[&str]| {
        let output = Command::new(moto::aws_cli())
            .args(args)
            .args([
                "--endpoint-url",
                &host.url,
                "--region",
                "us-east-1",
                "--output",
                "json",
            ])
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    aws(&[
        "dynamodb",
        "put-item",
        "--table-name",
        "customers",
        "--item",
        r#"{"customerId": {"S": "c-1"}, "tier": {"S": "gold"}}"#,
    ]);
    let got = aws(&[
        "dynamodb",
        "get-item",
        "--table-name",
        "customers",
        "--key",
        r#"{"customerId": {"S": "c-1"}}"#,
    ]);
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(got["Item"]["tier"], serde_json::json!({"S": "gold"}));
}

#[tokio::test]
async fn a_transaction_commits_all_its_writes_or_none_with_a_reason_for_each() {
    let host = Host::start(ROUTES);
    boto3(
        &host,
        r#"
ddb.put_item(TableName='customers', Item={'customerId': {'S': 'c-1'}, 'credit': {'N': '10'}})
order = {'Put': {'TableName': 'orders', 'Item': {'id': {'S': 'o-1'}, 'at': {'N': '1'}, 'total': {'N': '30'}}}}
debit = {'Update': {'TableName': 'customers', 'Key': {'customerId': {'S': 'c-1'}},
    'UpdateExpression': 'SET credit = credit - :t', 'ConditionExpression': 'credit >= :t',
    'ExpressionAttributeValues': {':t': {'N': '30'}}}}
try:
    ddb.transact_write_items(TransactItems=[order, debit])
    raise AssertionError('the credit is short')
except ClientError as e:
    assert e.response['Error']['Code'] == 'TransactionCanceledException', e.response
    reasons = [r['Code'] for r in e.response['CancellationReasons']]
    assert reasons == ['None', 'ConditionalCheckFailed'], e.response
assert 'Item' not in ddb.get_item(TableName='orders', Key={'id': {'S': 'o-1'}, 'at': {'N': '1'}}), 'nothing was written'

debit['Update']['ExpressionAttributeValues'] = {':t': {'N': '10'}}
order['Put']['Item']['total'] = {'N': '10'}
check = {'ConditionCheck': {'TableName': 'customers', 'Key': {'customerId': {'S': 'c-1'}}, 'ConditionExpression': 'attribute_exists(customerId)'}}
ddb.transact_write_items(TransactItems=[order, debit])
assert ddb.get_item(TableName='customers', Key={'customerId': {'S': 'c-1'}})['Item']['credit'] == {'N': '0'}
assert ddb.get_item(TableName='orders', Key={'id': {'S': 'o-1'}, 'at': {'N': '1'}})['Item']['total'] == {'N': '10'}
try:
    ddb.transact_write_items(TransactItems=[check, {'Delete': {'TableName': 'customers', 'Key': {'customerId': {'S': 'c-1'}}}}])
    raise AssertionError('two operations on one item')
except ClientError as e:
    assert e.response['Error']['Code'] == 'ValidationException', e.response
"#,
    );
    // Only the committed transaction left records: one per write, none for the cancelled one.
    assert_eq!(host.records("orders").await.len(), 1);
    assert_eq!(host.records("customers").await.len(), 2);
}

/// With access keys in routes.toml, requests must be signed with one (SigV4, as boto3 signs);
/// a wrong secret or an unknown key is refused with AWS's errors.
#[tokio::test]
async fn with_access_keys_in_routes_toml_only_requests_signed_with_one_are_served() {
    let routes = format!(
        "[host]\naws_access_keys = {{ LOCALKEY = \"SWITCHYARD_TEST_AWS_SECRET\" }}\n{ROUTES}"
    );
    let host = Host::start_env(&routes, &[], &[("SWITCHYARD_TEST_AWS_SECRET", "s3cret")]);
    let script = format!(
        r#"
import boto3
from botocore.exceptions import ClientError
def client(service, key, secret):
    return boto3.client(service, endpoint_url='{url}', region_name='us-east-1', aws_access_key_id=key, aws_secret_access_key=secret)
assert client('dynamodb', 'LOCALKEY', 's3cret').list_tables()['TableNames'] == ['customers', 'orders']
client('dynamodb', 'LOCALKEY', 's3cret').put_item(TableName='customers', Item={{'customerId': {{'S': 'c-1'}}, 'note': {{'S': 'a body to sign'}}}})
for key, secret, code in [('LOCALKEY', 'wrong', 'InvalidSignatureException'), ('OTHER', 's3cret', 'UnrecognizedClientException')]:
    try:
        client('dynamodb', key, secret).list_tables()
        raise AssertionError('served without a valid signature')
    except ClientError as e:
        assert e.response['Error']['Code'] == code, e.response
"#,
        url = host.url
    );
    let output = Command::new(moto::python())
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        host.logs()
    );
    assert_eq!(host.records("customers").await.len(), 1);
}

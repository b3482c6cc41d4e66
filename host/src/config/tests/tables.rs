//! Tables: their paths and their keys.

use super::{compile_text, problems};
use crate::config::{Generated, KeyAttribute, KeySchema, KeyType};

#[test]
fn table_paths_are_unique_and_leave_the_host_paths_alone() {
    assert_eq!(
        problems(
            "[tables.a]\nkey = \"id\"\npath = \"/admin/x\"\n[tables.b]\nkey = \"id\"\npath = \"/admin/x\"\n[tables.c]\nkey = \"version\"\n"
        ),
        [
            "routes.toml:3:8: tables.a.path: path `/admin/x` is reserved by the host (`/admin`, `/healthz`, `/readyz`, `/metrics`)",
            "routes.toml:6:8: tables.b.path: path `/admin/x` is reserved by the host (`/admin`, `/healthz`, `/readyz`, `/metrics`)",
            "routes.toml:6:8: tables.b.path: path `/admin/x` is already served by table `a`",
            "routes.toml:8:7: tables.c.key: `version` cannot be a key attribute: it must be non-empty and not one of `version`, `updatedAt`",
        ]
    );
}

#[test]
fn a_sort_key_and_key_types_are_declared_as_dynamodb_declares_them() {
    let config = compile_text(
        "[tables.orders]\nkey = \"id\"\nsort_key = \"createdAt\"\n\n[tables.readings]\nkey = { name = \"sensor\", type = \"N\" }\nsort_key = { name = \"at\", type = \"S\", generated = \"uuid\" }\n",
    )
    .unwrap_or_else(|p| panic!("{}", p.join("\n")));
    let attribute = |name: &str, kind, generated| KeyAttribute {
        name: name.into(),
        kind,
        generated,
    };
    assert_eq!(
        config.tables[0].key,
        KeySchema {
            partition: attribute("id", KeyType::S, Some(Generated::Uuid)),
            sort: Some(attribute(
                "createdAt",
                KeyType::S,
                Some(Generated::Timestamp)
            )),
        }
    );
    assert_eq!(
        config.tables[1].key,
        KeySchema {
            partition: attribute("sensor", KeyType::N, None),
            sort: Some(attribute("at", KeyType::S, Some(Generated::Uuid))),
        }
    );
}

#[test]
fn a_bad_key_declaration_is_reported_at_its_key() {
    assert_eq!(
        problems(
            "[tables.a]\nkey = { name = \"id\", type = \"B\" }\nsort_key = \"id\"\n[tables.b]\nkey = \"id\"\nsort_key = { name = \"n\", type = \"N\", generated = \"timestamp\" }\n[tables.c]\nkey = \"id\"\nsort_key = { name = \"n\", typ = \"N\" }\n"
        ),
        [
            "routes.toml:2:7: tables.a.key.type: unknown key type `B` (binary keys are not supported); expected `S` or `N`",
            "routes.toml:3:12: tables.a.sort_key: `id` is the partition key already",
            "routes.toml:6:12: tables.b.sort_key.generated: a generated key is text: its `type` must be `S`",
            "routes.toml:9:26: tables.c: unknown field `typ`, expected one of `name`, `type`, `generated`",
        ]
    );
}

#[test]
fn an_integration_template_outside_the_subset_is_refused_at_its_line() {
    let text = "[tables.orders]\nkey = \"id\"\n\n[[tables.orders.integrations]]\nmethod = \"POST\"\npath = \"/createId\"\naction = \"PutItem\"\nrequest_template = \'\'\'\n{\"Item\": {\n#foreach($x in $input.path(\'$.lines\'))\n#end\n}}\n\'\'\'\n\n[[tables.orders.integrations]]\nmethod = \"FETCH\"\npath = \"/orders/x\"\naction = \"Query\"\nrequest_template = \"{}\"\nstatus = 700\n";
    let found = problems(text);
    assert_eq!(found.len(), 5, "{found:#?}");
    assert!(
        found[0].starts_with(
            "routes.toml:10:1: tables.orders.integrations[0].request_template: `#foreach`"
        ),
        "{}",
        found[0]
    );
    assert_eq!(
        found[1..],
        [
            "routes.toml:16:10: tables.orders.integrations[1].method: unknown HTTP method `FETCH`; expected one of `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD`, `OPTIONS`",
            "routes.toml:17:8: tables.orders.integrations[1].path: path `/orders/x` is served by table `orders` (its `path` is `/orders`); give the integration or the table another path",
            "routes.toml:18:10: tables.orders.integrations[1].action: unknown action `Query`; a DynamoDB integration here is one of `PutItem`, `UpdateItem`, `DeleteItem`",
            "routes.toml:20:10: tables.orders.integrations[1].status: `700` is not an HTTP status (100 to 599)",
        ]
    );
}

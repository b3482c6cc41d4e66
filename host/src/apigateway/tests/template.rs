use super::super::*;

fn context() -> Context {
    Context {
        account_id: "123456789012".into(),
        api_id: "abcd1234".into(),
        http_method: "POST".into(),
        path: "/prod/createId".into(),
        request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into(),
        request_time: "09/Apr/2015:12:34:56 +0000".into(),
        request_time_epoch: 1_428_582_896_000,
        resource_path: "/createId".into(),
        stage: "prod".into(),
        source_ip: "192.0.2.1".into(),
        user_agent: "curl/8.5.0".into(),
        ..Context::default()
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn render_with(
    template: &str,
    body: &str,
    path: &[(&str, &str)],
    query: &[(&str, &str)],
) -> String {
    let context = context();
    let (path, query) = (pairs(path), pairs(query));
    let header = pairs(&[("Content-Type", "application/json"), ("id", "from-header")]);
    let stage_variables = pairs(&[("table", "orders-table")]);
    let request = Request {
        body,
        path: &path,
        querystring: &query,
        header: &header,
        stage_variables: &stage_variables,
        context: &context,
    };
    Template::parse(template).unwrap().render(&request).unwrap()
}

fn render(template: &str, body: &str) -> String {
    render_with(template, body, &[], &[])
}

fn refusal(template: &str) -> String {
    Template::parse(template).unwrap_err().to_string()
}

#[test]
fn the_aws_sample_put_item_template_renders_dynamodb_json() {
    let template = r#"{
  "TableName": "orders-table",
  "Item": {
    "id": {"S": "$context.requestId"},
    "createdAt": {"S": "$context.requestTime"},
    "Status": {"S": "$input.path('$.Status')"},
    "payload": {"S": "$util.escapeJavaScript($input.json('$'))"},
    "kind": {"S": "order"}
  }
}"#;
    let rendered = render(template, r#"{"Status": "NEW", "note": "a \"quote\""}"#);
    let parsed: serde_json::Value = serde_json::from_str(&rendered).unwrap();
    assert_eq!(
        parsed["Item"]["id"]["S"],
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    );
    assert_eq!(
        parsed["Item"]["createdAt"]["S"],
        "09/Apr/2015:12:34:56 +0000"
    );
    assert_eq!(parsed["Item"]["Status"]["S"], "NEW");
    assert_eq!(parsed["Item"]["kind"]["S"], "order");
    assert_eq!(
        parsed["Item"]["payload"]["S"],
        r#"{"Status":"NEW","note":"a \"quote\""}"#
    );
}

#[test]
fn context_variables_render_their_values() {
    let template = "$context.httpMethod $context.resourcePath $context.path $context.stage \
                    $context.accountId $context.apiId $context.requestTimeEpoch \
                    $context.identity.sourceIp $context.identity.userAgent";
    assert_eq!(
        render(template, ""),
        "POST /createId /prod/createId prod 123456789012 abcd1234 1428582896000 192.0.2.1 curl/8.5.0"
    );
}

#[test]
fn request_time_is_written_in_clf_in_utc() {
    let at = time::OffsetDateTime::from_unix_timestamp(1_428_582_896).unwrap();
    assert_eq!(format_request_time(at), "09/Apr/2015:12:34:56 +0000");
}

#[test]
fn input_body_is_the_raw_body_and_an_empty_body_is_an_empty_object() {
    assert_eq!(render("$input.body", r#"{"a": 1}"#), r#"{"a": 1}"#);
    assert_eq!(render("$input.body", ""), "{}");
}

#[test]
fn input_json_writes_the_selection_as_json() {
    let body = r#"{"a": {"b": [1, "two", {"c": null}]}, "n": 2.5}"#;
    assert_eq!(render("$input.json('$')", r#"{"x":"y"}"#), r#"{"x":"y"}"#);
    assert_eq!(
        render("$input.json('$.a.b')", body),
        r#"[1,"two",{"c":null}]"#
    );
    assert_eq!(render("$input.json('$.a.b[1]')", body), r#""two""#);
    assert_eq!(render("$input.json(\"$['a']['b'][0]\")", body), "1");
    assert_eq!(render("$input.json('$.n')", body), "2.5");
    assert_eq!(render("$input.json('$.missing')", body), r#""""#);
}

#[test]
fn input_path_gives_text_for_strings_json_for_lists_and_java_maps_for_objects() {
    let body =
        r#"{"s": "text", "n": 7, "b": true, "list": [{"k": "v"}], "map": {"k": "v", "l": [1]}}"#;
    assert_eq!(render("$input.path('$.s')", body), "text");
    assert_eq!(
        render("$input.path('$.n') $input.path('$.b')", body),
        "7 true"
    );
    assert_eq!(render("$input.path('$.list')", body), r#"[{"k":"v"}]"#);
    assert_eq!(render("$input.path('$.map')", body), "{k=v, l=[1]}");
    assert_eq!(render("[$input.path('$.missing')]", body), "[]");
}

#[test]
fn input_path_values_take_field_index_and_size_access() {
    let body = r#"{"things": {"1": {}, "2": {}, "3": {}}, "list": ["a", "b"], "o": {"name": "x"}}"#;
    assert_eq!(render("$input.path('$.things').size()", body), "3");
    assert_eq!(
        render(
            "$input.path('$.list').size() $input.path('$.list')[1]",
            body
        ),
        "2 b"
    );
    assert_eq!(
        render(
            "$input.path('$.o').name $input.path('$.o').get('name')",
            body
        ),
        "x x"
    );
    assert_eq!(render("$input.path('$.o.name').length()", body), "1");
}

#[test]
fn jsonpath_wildcards_select_lists() {
    let body = r#"{"items": [{"id": 1}, {"id": 2}]}"#;
    assert_eq!(render("$input.json('$.items[*].id')", body), "[1,2]");
    assert_eq!(render("$input.json('$.items.*.id')", body), "[1,2]");
}

#[test]
fn params_are_looked_up_in_path_then_querystring_then_header() {
    let template = "$input.params('id')|$input.params('q')|$input.params('Content-Type')|$input.params('none')|";
    let both = render_with(
        template,
        "",
        &[("id", "from-path")],
        &[("id", "from-query"), ("q", "1")],
    );
    assert_eq!(both, "from-path|1|application/json||");
    assert_eq!(
        render_with("$input.params('id')", "", &[], &[("id", "from-query")]),
        "from-query"
    );
    assert_eq!(render("$input.params('id')", ""), "from-header");
}

#[test]
fn params_maps_are_reached_by_kind() {
    let template = "$input.params().path.get('id') $input.params().querystring.get('q') \
                    $input.params().header.get('id') $input.params().path";
    assert_eq!(
        render_with(template, "", &[("id", "7")], &[("q", "x")]),
        "7 x from-header {id=7}"
    );
}

#[test]
fn stage_variables_are_read_by_name_or_key() {
    assert_eq!(
        render("$stageVariables.table ${stageVariables['table']}", ""),
        "orders-table orders-table"
    );
}

#[test]
fn escape_javascript_escapes_as_commons_lang_does() {
    let body = r#"{"s": "a'b\"c\\d/e\nf\tg\u0001h\u00e9\ud83d\ude00"}"#;
    assert_eq!(
        render("$util.escapeJavaScript($input.path('$.s'))", body),
        r#"a\'b\"c\\d\/e\nf\tg\u0001h\u00E9\uD83D\uDE00"#
    );
}

#[test]
fn the_documented_replace_all_turns_escaped_single_quotes_back() {
    let template = r#"$util.escapeJavaScript($input.path('$.s')).replaceAll("\\'","'")"#;
    assert_eq!(render(template, r#"{"s": "it's"}"#), "it's");
}

#[test]
fn url_and_base64_functions_behave_as_java_does() {
    let body = r#"{"s": "a b&c=d/é*~"}"#;
    assert_eq!(
        render("$util.urlEncode($input.path('$.s'))", body),
        "a+b%26c%3Dd%2F%C3%A9*%7E"
    );
    assert_eq!(render("$util.urlDecode('a+b%26c')", ""), "a b&c");
    assert_eq!(render("$util.base64Encode('hello')", ""), "aGVsbG8=");
    assert_eq!(render("$util.base64Decode('aGVsbG8=')", ""), "hello");
}

#[test]
fn parse_json_gives_a_value_with_field_access() {
    let template = "#set($o = $util.parseJson($input.path('$.inner')))$o.key2.arr[0]";
    assert_eq!(
        render(template, r#"{"inner": "{\"key2\":{\"arr\":[1,2,3]}}"}"#),
        "1"
    );
}

#[test]
fn set_assigns_variables_for_later_references() {
    let template = "#set($status = $input.path('$.Status'))\n#set($n = 3)\n#set($s = \"v-$status\")\n$status $n $s ${status}x $!{status}";
    assert_eq!(
        render(template, r#"{"Status": "NEW"}"#),
        "NEW 3 v-NEW NEWx NEW"
    );
}

#[test]
fn set_takes_its_indentation_and_line_break() {
    assert_eq!(
        render("{\n  #set($a = 'x')\n  \"a\": \"$a\"\n}", ""),
        "{\n  \"a\": \"x\"\n}"
    );
}

#[test]
fn undefined_references_render_as_written_unless_quiet() {
    assert_eq!(
        render(
            "$missing|$!missing|${missing}|$!{missing}|$stageVariables.none",
            ""
        ),
        "$missing||${missing}||$stageVariables.none"
    );
}

#[test]
fn text_that_is_not_a_reference_or_directive_stays_as_written() {
    assert_eq!(
        render("costs $5, #1 in $. and #fff", ""),
        "costs $5, #1 in $. and #fff"
    );
}

#[test]
fn comments_render_nothing() {
    assert_eq!(
        render("a## line comment\nb#* block\ncomment *#c", ""),
        "abc"
    );
}

#[test]
fn a_body_that_is_not_json_fails_only_when_read_as_json() {
    let context = context();
    let request = Request {
        body: "not json",
        path: &[],
        querystring: &[],
        header: &[],
        stage_variables: &[],
        context: &context,
    };
    assert_eq!(
        Template::parse("$input.body")
            .unwrap()
            .render(&request)
            .unwrap(),
        "not json"
    );
    let error = Template::parse("$input.json('$')")
        .unwrap()
        .render(&request)
        .unwrap_err();
    assert!(matches!(error, RenderError::BodyNotJson(_)), "{error}");
}

#[test]
fn each_unsupported_directive_is_refused_with_its_line_and_column() {
    for directive in [
        "if", "elseif", "else", "end", "foreach", "macro", "include", "parse", "define", "break",
        "stop", "evaluate",
    ] {
        let template = format!("{{\n  \"a\": 1,\n  #{directive}");
        assert_eq!(
            refusal(&template),
            format!("line 3, column 3: `#{directive}` is not supported")
        );
    }
    assert_eq!(
        refusal("x #{foreach}($a in $b)"),
        "line 1, column 3: `#foreach` is not supported"
    );
}

#[test]
fn unknown_members_of_input_context_and_util_are_refused() {
    assert_eq!(
        refusal("\n  $input.headers"),
        "line 2, column 9: `$input.headers` is not supported"
    );
    assert_eq!(
        refusal("$context.authorizer.claims"),
        "line 1, column 9: `$context.authorizer` is not supported"
    );
    assert_eq!(
        refusal("$context.identity.caller"),
        "line 1, column 18: `$context.identity.caller` is not supported"
    );
    assert_eq!(
        refusal("\"$util.toJson($x)\""),
        "line 1, column 7: `$util.toJson` is not supported"
    );
    assert_eq!(
        refusal("$util.urlEncode"),
        "line 1, column 6: `$util.urlEncode` is not supported"
    );
    assert_eq!(
        refusal("$input.path('$.a').keySet()"),
        "line 1, column 19: `.keySet()` is not supported"
    );
    assert_eq!(
        refusal("$input.json('$', 1)"),
        "line 1, column 7: `$input.json(...)` takes 1 argument"
    );
    assert_eq!(
        refusal("$input.json('a.b')"),
        "line 1, column 7: `$input.json('a.b')`: a JSONPath starts with `$`"
    );
}

#[test]
fn malformed_constructs_are_refused_where_they_are() {
    assert_eq!(
        refusal("a ${x"),
        "line 1, column 3: `${` is not closed by `}`"
    );
    assert_eq!(
        refusal("a #* never closed"),
        "line 1, column 3: the comment `#*` is not closed by `*#`"
    );
    assert_eq!(
        refusal("#set($a.b = 1)"),
        "line 1, column 6: `#set` assigns only to a plain `$name`"
    );
    assert_eq!(
        refusal("#set($a = [1, 2])"),
        "line 1, column 11: list and map literals (`[...]`, `{...}`) are not supported"
    );
    assert_eq!(
        refusal("#set($a = 'x'"),
        "line 1, column 14: expected `)` to close `#set`"
    );
    assert_eq!(
        refusal("x\\$a"),
        "line 1, column 2: escaping `$` or `#` with `\\` is not supported"
    );
}

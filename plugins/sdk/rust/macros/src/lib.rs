//! The attributes that make a function a Switchyard plugin: `#[filter]`, `#[enricher]` and
//! `#[consumer]`. Each keeps the function as written and adds, beside it, the bindings of its
//! world (generated from the contract this crate carries) and the export that calls it through
//! `switchyard_plugin`'s conversions. Use them through `switchyard_plugin`, not directly.

use proc_macro::{Delimiter, Group, Ident, Literal, TokenStream, TokenTree};

/// The contract, as this SDK was built against it.
const WIT: &str = include_str!("../../wit/plugin.wit");

/// `#[filter] fn keep(record: StreamRecord) -> Result<bool, Error>`: keeps (true) or drops
/// (false) each event of a pipe. The argument may be any type `FromEvent` reads.
#[proc_macro_attribute]
pub fn filter(attr: TokenStream, item: TokenStream) -> TokenStream {
    export(
        attr,
        item,
        "filter",
        "fn keep(event: Event) -> Result<bool, Error>",
        "keep(event",
    )
}

/// `#[enricher] fn enrich(events: Vec<Event<StreamRecord>>) -> Result<Vec<Event<T>>, Error>`:
/// the events a pipe's batch becomes.
#[proc_macro_attribute]
pub fn enricher(attr: TokenStream, item: TokenStream) -> TokenStream {
    export(
        attr,
        item,
        "enricher",
        "fn enrich(events: Vec<Event>) -> Result<Vec<Event>, Error>",
        "enrich(events",
    )
}

/// `#[consumer] fn handle(message: Message) -> Result<Outcome, Error>`, one message at a time,
/// or `fn handle(messages: Vec<Message>) -> Result<Vec<Outcome>, Error>`, a batch at a time.
#[proc_macro_attribute]
pub fn consumer(attr: TokenStream, item: TokenStream) -> TokenStream {
    export(
        attr,
        item,
        "consumer",
        "fn handle(messages: Vec<Message>) -> Result<Vec<Outcome>, Error>",
        "handle(messages",
    )
}

/// The item as it was, and a module that exports it as `world`'s one function.
fn export(
    attr: TokenStream,
    item: TokenStream,
    world: &str,
    signature: &str,
    call: &str,
) -> TokenStream {
    if !attr.is_empty() {
        return error("this attribute takes no arguments");
    }
    let Some(name) = function_name(&item) else {
        return error("put this attribute on a function");
    };
    let glue = format!(
        r#"
#[doc(hidden)]
#[allow(clippy::all)]
mod __switchyard_plugin_export {{
    ::switchyard_plugin::__private::wit_bindgen::generate!({{
        inline: WIT,
        // Only the contract this crate carries: not a `wit/` folder of the plugin's own.
        path: [],
        world: "{world}",
        runtime_path: "::switchyard_plugin::__private::wit_bindgen::rt",
        with: {{
            "switchyard:plugin/types@0.1.0": ::switchyard_plugin::__private::types,
            "switchyard:plugin/log@0.1.0": ::switchyard_plugin::__private::log,
            "switchyard:plugin/config@0.1.0": ::switchyard_plugin::__private::config,
        }},
    }});

    struct Plugin;

    impl Guest for Plugin {{
        {signature} {{
            ::switchyard_plugin::__private::{call}, super::{name})
        }}
    }}

    export!(Plugin);
}}
"#
    );
    let glue: TokenStream = match glue.parse() {
        Ok(glue) => glue,
        Err(err) => return error(&format!("switchyard-plugin made bad glue: {err}")),
    };
    // `WIT` goes in as one string literal token.
    let glue = replace_ident(glue, "WIT", &TokenTree::Literal(Literal::string(WIT)));
    let mut out = item;
    out.extend(glue);
    out
}

/// The name after the first `fn` of the item.
fn function_name(item: &TokenStream) -> Option<Ident> {
    let mut tokens = item.clone().into_iter();
    while let Some(token) = tokens.next() {
        if let TokenTree::Ident(ident) = &token
            && ident.to_string() == "fn"
        {
            return match tokens.next() {
                Some(TokenTree::Ident(name)) => Some(name),
                _ => None,
            };
        }
    }
    None
}

fn replace_ident(stream: TokenStream, name: &str, with: &TokenTree) -> TokenStream {
    stream
        .into_iter()
        .map(|token| match token {
            TokenTree::Ident(ident) if ident.to_string() == name => with.clone(),
            TokenTree::Group(group) => {
                let mut inner =
                    Group::new(group.delimiter(), replace_ident(group.stream(), name, with));
                inner.set_span(group.span());
                TokenTree::Group(inner)
            }
            other => other,
        })
        .collect()
}

fn error(message: &str) -> TokenStream {
    let call = format!("::core::compile_error!({message:?});");
    call.parse().unwrap_or_else(|_| {
        TokenStream::from(TokenTree::Group(Group::new(
            Delimiter::Brace,
            TokenStream::new(),
        )))
    })
}

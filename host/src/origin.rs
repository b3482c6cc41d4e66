//! Where a queue message comes from: a pipe, a bus rule, or a queue whose redrive policy moved
//! it. The origin stays with a message into a DLQ, so that a redrive knows where it goes back.
//! Stores keep it as text in routes.toml's names, which outlive a change to the file's order;
//! this is the one place that writes and reads that text.

use crate::config::{BusId, Config, PipeId, QueueId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Pipe(PipeId),
    /// A bus and the index of its rule.
    Rule(BusId, usize),
    Queue(QueueId),
}

impl Origin {
    /// The text the stores keep: `pipe:NAME`, `rule:BUS/RULE` or `queue:NAME`.
    pub fn text(self, config: &Config) -> String {
        match self {
            Origin::Pipe(pipe) => format!("pipe:{}", config[pipe].name),
            Origin::Rule(bus, rule) => {
                format!("rule:{}/{}", config[bus].name, config[bus].rules[rule].name)
            }
            Origin::Queue(queue) => queue_text(&config[queue].name),
        }
    }

    /// The origin a stored text names; `None` when routes.toml no longer declares it.
    pub fn parse(text: &str, config: &Config) -> Option<Origin> {
        let (kind, name) = text.split_once(':')?;
        match kind {
            "pipe" => {
                let pipe = config.pipes.iter().position(|p| p.name == name)?;
                Some(Origin::Pipe(PipeId(pipe)))
            }
            "queue" => config.queue_id(name).map(Origin::Queue),
            "rule" => {
                let (bus, rule) = name.split_once('/')?;
                let bus = config.bus_id(bus)?;
                let rule = config[bus].rules.iter().position(|r| r.name == rule)?;
                Some(Origin::Rule(bus, rule))
            }
            _ => None,
        }
    }
}

/// The text of [`Origin::Queue`], for stores that know a queue by its name alone.
pub fn queue_text(name: &str) -> String {
    format!("queue:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_reads_back_from_the_text_it_is_stored_as() {
        let config = crate::config::compile(
            r#"
[tables.orders]
key = "orderId"

[pipes.orders]
source = "orders"
target = { bus = "shop" }

[buses.shop.rules.all]
pattern = '{"source": ["x"]}'
targets = [{ queue = "q" }]

[queues.q]
"#,
            std::path::Path::new("routes.toml"),
        )
        .unwrap();
        for (origin, text) in [
            (Origin::Pipe(PipeId(0)), "pipe:orders"),
            (Origin::Rule(BusId(0), 0), "rule:shop/all"),
            (Origin::Queue(QueueId(0)), "queue:q"),
        ] {
            assert_eq!(origin.text(&config), text);
            assert_eq!(Origin::parse(text, &config), Some(origin));
        }
        for gone in [
            "pipe:other",
            "rule:shop/other",
            "queue:other",
            "orders",
            "table:orders",
        ] {
            assert_eq!(Origin::parse(gone, &config), None, "{gone}");
        }
    }
}

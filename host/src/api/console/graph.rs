//! The routes of routes.toml as a graph, for the console's picture: tables -> pipes -> buses ->
//! rules -> queues -> consumers, with the DLQs each pipe, rule target and queue sends to.

use serde::Serialize;

use crate::config::{Config, Destination};

#[derive(Debug, Serialize, PartialEq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Node {
    /// `KIND:NAME`; a rule's name is `BUS/RULE`.
    pub id: String,
    pub kind: Kind,
    pub name: String,
    /// The column it is drawn in, from the stream's start to its end.
    pub column: usize,
    /// What it runs or keeps, in a few words: plugins, a filter, an archive.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// A queue some pipe, rule target or queue dead-letters to.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dlq: bool,
    /// A bus with an archive to replay.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub archive: bool,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Table,
    Pipe,
    Bus,
    Rule,
    Queue,
    Consumer,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// `flow`, or `dlq` for where failures go.
    pub kind: &'static str,
}

fn id(kind: Kind, name: &str) -> String {
    let kind = match kind {
        Kind::Table => "table",
        Kind::Pipe => "pipe",
        Kind::Bus => "bus",
        Kind::Rule => "rule",
        Kind::Queue => "queue",
        Kind::Consumer => "consumer",
    };
    format!("{kind}:{name}")
}

impl Graph {
    pub fn of(config: &Config) -> Graph {
        let mut graph = Graph {
            nodes: Vec::new(),
            edges: Vec::new(),
        };
        let to = |destination: &Destination| match *destination {
            Destination::Bus(bus) => id(Kind::Bus, &config[bus].name),
            Destination::Queue(queue) => id(Kind::Queue, &config[queue].name),
        };
        for table in &config.tables {
            graph.node(Kind::Table, &table.name, vec![table.path.clone()]);
        }
        for pipe in &config.pipes {
            let mut details = Vec::new();
            if !pipe.filter.is_empty() {
                details.push(format!("{} filter pattern(s)", pipe.filter.len()));
            }
            let plugin = |id: Option<crate::config::PluginId>, role: &str| {
                id.map(|id| format!("{role} {}", config[id].name))
            };
            details.extend(plugin(pipe.filter_plugin, "filter"));
            details.extend(plugin(pipe.enrichment, "enricher"));
            let me = graph.node(Kind::Pipe, &pipe.name, details);
            graph.flow(id(Kind::Table, &config[pipe.source].name), me.clone());
            graph.flow(me.clone(), to(&pipe.target.destination));
            if let Some(dlq) = pipe.dlq {
                graph.dlq(me, id(Kind::Queue, &config[dlq].name));
            }
        }
        for bus in &config.buses {
            let archive = bus.archive.is_some();
            let details = if archive {
                vec!["archive".into()]
            } else {
                vec![]
            };
            let me = graph.node(Kind::Bus, &bus.name, details);
            if let Some(node) = graph.nodes.last_mut() {
                node.archive = archive;
            }
            for rule in &bus.rules {
                let name = format!("{}/{}", bus.name, rule.name);
                let details = vec![format!("{} target(s)", rule.targets.len())];
                let rule_id = graph.node(Kind::Rule, &name, details);
                graph.flow(me.clone(), rule_id.clone());
                for target in &rule.targets {
                    graph.flow(rule_id.clone(), to(&target.destination));
                    if let Some(dlq) = target.dlq {
                        graph.dlq(rule_id.clone(), id(Kind::Queue, &config[dlq].name));
                    }
                }
            }
        }
        for queue in &config.queues {
            let mut details = Vec::new();
            if queue.fifo {
                details.push("FIFO".to_string());
            }
            let me = graph.node(Kind::Queue, &queue.name, details);
            if let Some(redrive) = queue.redrive {
                graph.dlq(me, id(Kind::Queue, &config[redrive.dlq].name));
            }
        }
        for consumer in &config.consumers {
            let details = vec![format!("plugin {}", config[consumer.handler].name)];
            let me = graph.node(Kind::Consumer, &consumer.name, details);
            graph.flow(id(Kind::Queue, &config[consumer.queue].name), me);
        }
        let dlqs: Vec<String> = (graph.edges.iter())
            .filter(|e| e.kind == "dlq")
            .map(|e| e.to.clone())
            .collect();
        for node in &mut graph.nodes {
            node.dlq = dlqs.contains(&node.id);
        }
        graph
    }

    fn node(&mut self, kind: Kind, name: &str, details: Vec<String>) -> String {
        let id = id(kind, name);
        self.nodes.push(Node {
            id: id.clone(),
            kind,
            name: name.to_string(),
            column: kind as usize,
            details,
            dlq: false,
            archive: false,
        });
        id
    }

    fn flow(&mut self, from: String, to: String) {
        self.edges.push(Edge {
            from,
            to,
            kind: "flow",
        });
    }

    fn dlq(&mut self, from: String, to: String) {
        self.edges.push(Edge {
            from,
            to,
            kind: "dlq",
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_routes_draw_as_the_chain_from_table_to_consumer_with_their_dlqs() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../routes.toml");
        let config = crate::config::load(&path).expect("the example routes load");
        let graph = Graph::of(&config);
        let ids: Vec<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "table:orders",
                "pipe:orders",
                "bus:orders",
                "rule:orders/new-orders",
                "queue:notifications",
                "queue:notifications-dlq",
                "queue:orders-pipe-dlq",
                "consumer:notify",
            ]
        );
        let edges: Vec<(&str, &str, &str)> = (graph.edges.iter())
            .map(|e| (e.from.as_str(), e.to.as_str(), e.kind))
            .collect();
        assert_eq!(
            edges,
            [
                ("table:orders", "pipe:orders", "flow"),
                ("pipe:orders", "bus:orders", "flow"),
                ("pipe:orders", "queue:orders-pipe-dlq", "dlq"),
                ("bus:orders", "rule:orders/new-orders", "flow"),
                ("rule:orders/new-orders", "queue:notifications", "flow"),
                ("queue:notifications", "queue:notifications-dlq", "dlq"),
                ("queue:notifications", "consumer:notify", "flow"),
            ]
        );
        let dlqs: Vec<&str> = (graph.nodes.iter())
            .filter(|n| n.dlq)
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(dlqs, ["notifications-dlq", "orders-pipe-dlq"]);
        let pipe = &graph.nodes[1];
        assert_eq!(
            pipe.details,
            [
                "1 filter pattern(s)",
                "filter high-value",
                "enricher customer-tier"
            ]
        );
        assert_eq!(pipe.column, 1);
    }
}

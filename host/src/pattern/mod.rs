//! The EventBridge event-pattern language, with AWS's semantics (those of event-ruler, the
//! library EventBridge uses). Pure: no I/O.
//!
//! Patterns compile once into a [`RuleSet`]; an event is read once into the leaves its
//! patterns name, and then tested against every rule. Rules whose pattern pins a field to exact
//! strings (the usual `source` and `detail-type`) are found through an index on those strings,
//! so the cost per event grows with the rules that could match, not with all rules.

mod compile;
mod event;
mod json;
mod leaf;
mod number;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use compile::{MAX_BRANCHES, MAX_PATTERN_BYTES};
pub use event::{Event, EventError, Value};

use event::{FieldId, Leaf, Trie};
use leaf::Matcher;

/// Why a pattern was refused, with the place inside the pattern (e.g. `detail.state[0]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if at.is_empty() { String::new() } else { format!("at `{at}`: ") })]
pub struct PatternError {
    pub at: String,
    pub message: String,
}

/// One event pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    rules: RuleSet,
}

impl Pattern {
    pub fn compile(text: &str) -> Result<Pattern, PatternError> {
        RuleSet::new([text])
            .map(|rules| Pattern { rules })
            .map_err(|(_, err)| err)
    }

    /// Reads an event (a JSON object) once, for one or more `matches` calls.
    pub fn read<'a>(&self, text: &'a str) -> Result<Event<'a>, EventError> {
        self.rules.read(text)
    }

    pub fn matches(&self, event: &Event<'_>) -> bool {
        self.rules
            .branches
            .iter()
            .any(|branch| branch.matches(event))
    }

    pub fn matches_json(&self, text: &str) -> Result<bool, EventError> {
        Ok(self.matches(&self.read(text)?))
    }
}

/// Patterns compiled together, e.g. the rules of one bus, matched against an event in one go.
#[derive(Debug, Clone)]
pub struct RuleSet {
    trie: Trie,
    rules: usize,
    branches: Vec<Branch>,
    index: Option<Index>,
}

/// Below this many branches, testing each one beats looking anything up.
const INDEX_FROM: usize = 8;

#[derive(Debug, Clone)]
struct Index {
    /// Per field, the branches that need the field to be one of these exact strings.
    by_value: Vec<HashMap<Box<str>, Vec<u32>>>,
    /// The fields `by_value` has entries for.
    fields: Vec<FieldId>,
    /// Branches with no such field: tested for every event.
    always: Vec<u32>,
}

#[derive(Debug, Clone)]
struct Branch {
    rule: usize,
    tests: Vec<FieldTest>,
}

#[derive(Debug, Clone)]
struct FieldTest {
    field: FieldId,
    matchers: Vec<Matcher>,
    absent: bool,
}

/// How a field test stands on an event.
enum Standing {
    /// It passes whatever the other fields match.
    Passes,
    /// It passes only through leaves inside arrays, so it must agree with the other fields on
    /// the array elements they come from.
    InArrays,
    Fails,
}

impl RuleSet {
    /// Compiles patterns; a refused one is reported with its position in `patterns`.
    pub fn new<I, S>(patterns: I) -> Result<RuleSet, (usize, PatternError)>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut trie = Trie::new();
        let mut branches = Vec::new();
        let mut rules = 0;
        for (rule, text) in patterns.into_iter().enumerate() {
            rules += 1;
            for tests in compile::compile(text.as_ref()).map_err(|err| (rule, err))? {
                let tests = tests
                    .into_iter()
                    .map(|t| FieldTest {
                        field: trie.field(&t.name),
                        matchers: t.matchers,
                        absent: t.absent,
                    })
                    .collect();
                branches.push(Branch { rule, tests });
            }
        }
        let index =
            (branches.len() >= INDEX_FROM).then(|| Index::of(&branches, trie.field_count()));
        Ok(RuleSet {
            trie,
            rules,
            branches,
            index,
        })
    }

    /// How many patterns the set holds.
    pub fn len(&self) -> usize {
        self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules == 0
    }

    /// Reads an event (a JSON object) once, keeping what the set's patterns look at.
    pub fn read<'a>(&self, text: &'a str) -> Result<Event<'a>, EventError> {
        Event::read(text, &self.trie)
    }

    /// The positions of the patterns that match, in ascending order.
    pub fn matching(&self, event: &Event<'_>) -> Vec<usize> {
        let mut matched = vec![false; self.rules];
        let mut test = |b: u32| {
            let branch = &self.branches[b as usize];
            if !matched[branch.rule] && branch.matches(event) {
                matched[branch.rule] = true;
            }
        };
        match &self.index {
            None => (0..self.branches.len() as u32).for_each(&mut test),
            Some(index) => {
                index.always.iter().copied().for_each(&mut test);
                for &field in &index.fields {
                    for leaf in event.leaves(field) {
                        if let Value::Str(s) = &leaf.value
                            && let Some(branches) = index.by_value[field as usize].get(s.as_ref())
                        {
                            branches.iter().copied().for_each(&mut test);
                        }
                    }
                }
            }
        }
        matched
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.then_some(i))
            .collect()
    }

    pub fn matching_json(&self, text: &str) -> Result<Vec<usize>, EventError> {
        Ok(self.matching(&self.read(text)?))
    }
}

impl Index {
    fn of(branches: &[Branch], fields: usize) -> Index {
        let mut index = Index {
            by_value: vec![HashMap::new(); fields],
            fields: Vec::new(),
            always: Vec::new(),
        };
        for (b, branch) in branches.iter().enumerate() {
            // The first field pinned to exact strings (and present) anchors the branch.
            let anchor = branch.tests.iter().find(|t| {
                !t.absent
                    && !t.matchers.is_empty()
                    && t.matchers.iter().all(|m| matches!(m, Matcher::Str(_)))
            });
            let Some(anchor) = anchor else {
                index.always.push(b as u32);
                continue;
            };
            for matcher in &anchor.matchers {
                if let Matcher::Str(s) = matcher {
                    let branches = index.by_value[anchor.field as usize]
                        .entry(s.clone())
                        .or_default();
                    if branches.last() != Some(&(b as u32)) {
                        branches.push(b as u32);
                    }
                }
            }
            if !index.fields.contains(&anchor.field) {
                index.fields.push(anchor.field);
            }
        }
        index
    }
}

impl Branch {
    fn matches(&self, event: &Event<'_>) -> bool {
        let mut in_arrays = 0;
        for test in &self.tests {
            match test.standing(event) {
                Standing::Passes => {}
                Standing::InArrays => in_arrays += 1,
                Standing::Fails => return false,
            }
        }
        in_arrays < 2 || self.consistent(event)
    }

    /// Whether the tests that pass only inside arrays can all be met by leaves that sit in the
    /// same element of every array they share (AWS's array consistency).
    fn consistent(&self, event: &Event<'_>) -> bool {
        let candidates: Vec<Vec<&Leaf<'_>>> = self
            .tests
            .iter()
            .filter(|t| matches!(t.standing(event), Standing::InArrays))
            .map(|t| {
                event
                    .leaves(t.field)
                    .iter()
                    .filter(|leaf| t.accepts(leaf))
                    .collect()
            })
            .collect();
        fn search<'e>(
            event: &'e Event<'_>,
            candidates: &[Vec<&Leaf<'_>>],
            chosen: &mut Vec<&'e [(u32, u32)]>,
        ) -> bool {
            let Some((first, rest)) = candidates.split_first() else {
                return true;
            };
            for leaf in first {
                let trail = event.trail(leaf);
                if chosen.iter().all(|other| same_elements(other, trail)) {
                    chosen.push(trail);
                    if search(event, rest, chosen) {
                        return true;
                    }
                    chosen.pop();
                }
            }
            false
        }
        search(
            event,
            &candidates,
            &mut Vec::with_capacity(candidates.len()),
        )
    }
}

/// Two leaves agree when, in every array both sit in, they sit in the same element. Trails run
/// from the outermost array in, so they share arrays only as a common beginning.
fn same_elements(a: &[(u32, u32)], b: &[(u32, u32)]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x.0 != y.0 {
            return true;
        }
        if x.1 != y.1 {
            return false;
        }
    }
    true
}

impl FieldTest {
    fn accepts(&self, leaf: &Leaf<'_>) -> bool {
        self.matchers.iter().any(|m| m.matches(&leaf.value))
    }

    fn standing(&self, event: &Event<'_>) -> Standing {
        let leaves = event.leaves(self.field);
        if leaves.is_empty() {
            return if self.absent {
                Standing::Passes
            } else {
                Standing::Fails
            };
        }
        let mut in_arrays = false;
        for leaf in leaves.iter().filter(|leaf| self.accepts(leaf)) {
            if event.trail(leaf).is_empty() {
                return Standing::Passes;
            }
            in_arrays = true;
        }
        if in_arrays {
            Standing::InArrays
        } else {
            Standing::Fails
        }
    }
}

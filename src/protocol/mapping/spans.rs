//! Line and column of a YAML node, using nothing but serde_yaml_ng.
//!
//! serde_yaml_ng keeps positions private, except on errors: an error raised while a node is
//! being deserialized carries that node's start mark. So every [`Spanned`] value gets a
//! sequence number as the document is read, and to find where node `n` is, the document is
//! read again with an instruction to fail exactly at node `n`. Reading is deterministic, so the
//! numbers agree between the two runs. This costs one extra parse per reported error, and
//! nothing on documents without errors.

use std::cell::Cell;
use std::fmt;

use serde::de::{Deserialize, DeserializeOwned, Deserializer, Visitor};

/// Identifies a node by its position in the order the document is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct NodeId(usize);

#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) node: NodeId,
}

#[derive(Clone, Copy)]
struct Probe {
    next: usize,
    fail_at: Option<usize>,
}

thread_local! {
    static PROBE: Cell<Probe> = const { Cell::new(Probe { next: 0, fail_at: None }) };
}

const PROBE_MARK: &str = "roleport-span-probe";

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let probe = PROBE.with(Cell::get);
        PROBE.with(|p| {
            p.set(Probe {
                next: probe.next + 1,
                ..probe
            })
        });
        if probe.fail_at == Some(probe.next) {
            // The visitor refuses whatever it is shown, after the deserializer has read the
            // node's first event: that is what puts the node's mark on the error.
            return deserializer
                .deserialize_any(Refuse)
                .map(|never| match never {});
        }
        Ok(Spanned {
            value: T::deserialize(deserializer)?,
            node: NodeId(probe.next),
        })
    }
}

struct Refuse;

impl Visitor<'_> for Refuse {
    type Value = std::convert::Infallible;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PROBE_MARK)
    }
}

/// Resets the numbering for the document about to be read, and the probe after it.
struct Session;

impl Session {
    fn start(fail_at: Option<usize>) -> Session {
        PROBE.with(|p| p.set(Probe { next: 0, fail_at }));
        Session
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        PROBE.with(|p| {
            p.set(Probe {
                next: 0,
                fail_at: None,
            })
        });
    }
}

/// Reads a document, numbering its [`Spanned`] nodes from zero.
pub(crate) fn read<T: DeserializeOwned>(text: &str) -> Result<T, serde_yaml_ng::Error> {
    let _session = Session::start(None);
    serde_yaml_ng::from_str(text)
}

/// 1-based `(line, column)` of a node that [`read`] numbered in the same text.
pub(crate) fn locate<T: DeserializeOwned>(text: &str, node: NodeId) -> Option<(usize, usize)> {
    let _session = Session::start(Some(node.0));
    match serde_yaml_ng::from_str::<T>(text) {
        Err(e) if e.to_string().contains(PROBE_MARK) => {
            e.location().map(|l| (l.line(), l.column()))
        }
        _ => None,
    }
}

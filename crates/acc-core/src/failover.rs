//! Failover between management server nodes (the connections of a site server, an agent
//! and `acc ctl`): the ordered node list and the node in use. A connection tries the node
//! in use first, then the others in list order; the first that answers becomes the node in
//! use, so a client stays on a healthy node. Only when every node failed does the caller
//! wait, as [`crate::retry::Retry`] paces it, with [`jittered`] so that a fleet does not
//! come back in lockstep. No clock or randomness read here: the caller passes a number in
//! `[0, 1)` for the jitter.

use std::time::Duration;

/// The nodes of one client and the one in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeList {
    nodes: Vec<String>,
    current: usize,
}

/// `wait` with "equal jitter": half of it, plus up to the other half by `unit` (`[0, 1)`,
/// clamped); never more than `wait`, so a capped wait stays capped.
pub fn jittered(wait: Duration, unit: f64) -> Duration {
    let unit = if unit.is_finite() { unit.clamp(0.0, 1.0) } else { 0.0 };
    let half = wait / 2;
    (half + half.mul_f64(unit)).min(wait)
}

impl NodeList {
    /// Starts on the first of `nodes` (blanks and duplicates dropped, order kept); `None`
    /// when none is left.
    pub fn new(nodes: Vec<String>) -> Option<NodeList> {
        let nodes = dedup(nodes);
        (!nodes.is_empty()).then_some(NodeList { nodes, current: 0 })
    }

    /// The node in use.
    pub fn current(&self) -> &str {
        &self.nodes[self.current]
    }

    /// Every node, in list order.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// The nodes in the order to try them now: the one in use, then the ones after it in
    /// list order, wrapping around.
    pub fn order(&self) -> Vec<String> {
        let n = self.nodes.len();
        (0..n).map(|i| self.nodes[(self.current + i) % n].clone()).collect()
    }

    /// `node` answered: it is the node in use from now on (a node not listed changes
    /// nothing).
    pub fn answered(&mut self, node: &str) {
        if let Some(i) = self.nodes.iter().position(|n| n == node) {
            self.current = i;
        }
    }

    /// The node in use cannot serve (502, 503, 504): the next one is tried first.
    pub fn skip(&mut self) {
        self.current = (self.current + 1) % self.nodes.len();
    }

    /// Takes `nodes` as the new list (from a policy): the node in use stays when it is in
    /// it, else the first is. An empty list changes nothing (an older server sends none).
    /// Returns whether the list changed.
    pub fn replace(&mut self, nodes: Vec<String>) -> bool {
        let nodes = dedup(nodes);
        if nodes.is_empty() || nodes == self.nodes {
            return false;
        }
        self.current = nodes.iter().position(|n| *n == self.nodes[self.current]).unwrap_or(0);
        self.nodes = nodes;
        true
    }
}

/// `nodes` trimmed, without blanks or repeats, in their first order.
fn dedup(nodes: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(nodes.len());
    for n in nodes {
        let n = n.trim().to_string();
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// A number in `[0, 1)` for [`jittered`]: the one impure function here, from the standard
/// library's random hash keys (no cryptographic use).
pub fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let bits = std::collections::hash_map::RandomState::new().build_hasher().finish() >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// Splits a comma-separated node list (`ACC_SERVER`, `server-url`): trimmed, blanks and
/// repeats dropped.
pub fn split_list(text: &str) -> Vec<String> {
    dedup(text.split(',').map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::{Ended, Retry, RetryPolicy};
    use proptest::prelude::*;

    fn three() -> NodeList {
        NodeList::new(vec!["https://a:1".into(), "https://b:2".into(), "https://c:3".into()]).unwrap()
    }

    #[test]
    fn an_empty_or_blank_list_is_no_list_and_repeats_are_dropped() {
        assert!(NodeList::new(Vec::new()).is_none());
        assert!(NodeList::new(vec![" ".into(), String::new()]).is_none());
        let l = NodeList::new(vec!["https://a:1".into(), " https://a:1 ".into(), "https://b:2".into()]);
        assert_eq!(l.unwrap().nodes(), ["https://a:1", "https://b:2"]);
        assert_eq!(split_list(" https://a:1, ,https://b:2,https://a:1"), ["https://a:1", "https://b:2"]);
        assert!(split_list("").is_empty());
    }

    #[test]
    fn the_node_in_use_is_tried_first_then_the_others_in_list_order() {
        let mut l = three();
        assert_eq!(l.order(), ["https://a:1", "https://b:2", "https://c:3"]);
        l.answered("https://c:3");
        assert_eq!(
            (l.current(), l.order()),
            ("https://c:3", vec!["https://c:3".to_string(), "https://a:1".into(), "https://b:2".into()])
        );
        l.answered("https://elsewhere:9");
        assert_eq!(l.current(), "https://c:3", "an unlisted node changes nothing");
        l.skip();
        assert_eq!(l.current(), "https://a:1", "skipping wraps around");
        l.skip();
        assert_eq!(l.order()[0], "https://b:2");
    }

    #[test]
    fn a_new_list_keeps_the_node_in_use_when_it_is_in_it() {
        let mut l = three();
        l.answered("https://b:2");
        assert!(!l.replace(Vec::new()), "an older server sends no list: keep ours");
        assert!(!l.replace(l.nodes().to_vec()));
        assert!(l.replace(vec!["https://d:4".into(), "https://b:2".into()]));
        assert_eq!((l.current(), l.nodes().len()), ("https://b:2", 2));
        assert!(l.replace(vec!["https://e:5".into(), "https://f:6".into()]));
        assert_eq!(l.current(), "https://e:5");
    }

    #[test]
    fn jitter_takes_half_to_all_of_the_wait() {
        let w = Duration::from_secs(10);
        assert_eq!(jittered(w, 0.0), Duration::from_secs(5));
        assert_eq!(jittered(w, 0.5), Duration::from_millis(7500));
        assert_eq!(jittered(w, 1.0), w);
        assert_eq!(jittered(w, 7.0), w);
        assert_eq!(jittered(w, -1.0), Duration::from_secs(5));
        assert_eq!(jittered(w, f64::NAN), Duration::from_secs(5));
    }

    #[test]
    fn rounds_that_all_fail_back_off_exponentially_jittered_and_capped() {
        let policy = RetryPolicy {
            unreachable_first: Duration::from_millis(200),
            unreachable_max: Duration::from_secs(30),
            refused_first: Duration::from_secs(1),
            refused_max: Duration::from_secs(300),
        };
        let mut r = Retry::new(policy);
        let waits: Vec<u128> =
            (0..10).map(|_| jittered(r.after(Ended::Unreachable), 0.5).as_millis()).collect();
        assert_eq!(waits, [150, 300, 600, 1200, 2400, 4800, 9600, 19200, 22500, 22500]);
    }

    proptest! {
        /// Whatever happens, the node in use is listed, `order` lists every node once
        /// starting with it, and jitter never exceeds the wait nor goes under its half.
        #[test]
        fn the_node_in_use_is_always_listed_and_tried_first(
            steps in prop::collection::vec((0u8..4, 0usize..5, 0.0f64..1.0), 1..100),
        ) {
            let mut l = three();
            for (step, i, unit) in steps {
                match step {
                    0 => l.skip(),
                    1 => l.answered(&format!("https://{}", ["a:1", "b:2", "c:3", "d:4", "e:5"][i])),
                    2 => { l.replace(vec!["https://c:3".into(), "https://d:4".into()]); }
                    _ => { l.replace(vec!["https://a:1".into(), "https://b:2".into(), "https://e:5".into()]); }
                }
                let order = l.order();
                prop_assert_eq!(order[0].as_str(), l.current());
                let mut sorted = order.clone();
                sorted.sort();
                let mut nodes = l.nodes().to_vec();
                nodes.sort();
                prop_assert_eq!(sorted, nodes);
                let w = Duration::from_millis(1000 * (i as u64 + 1));
                let j = jittered(w, unit);
                prop_assert!(j >= w / 2 && j <= w);
            }
        }
    }
}

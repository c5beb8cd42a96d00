//! The order a consumer runs the messages it holds in: several at once, never two of one
//! aggregate, each aggregate's in arrival order.
//!
//! Pure bookkeeping: it cannot fail, and it holds no more than it is given (the broker hands a
//! consumer at most `prefetch` unacknowledged messages).

use std::collections::{HashMap, VecDeque};

/// Which held messages may run: at most `limit` at once, and of each aggregate only the
/// oldest, so an aggregate's messages run one after another in arrival order while other
/// aggregates' messages pass them. Bounded by what it is given: the broker hands a consumer at
/// most `prefetch` unacknowledged messages.
pub(super) struct Lanes<T> {
    limit: usize,
    running: usize,
    /// Messages whose turn has come, waiting for a free slot.
    ready: VecDeque<T>,
    /// Aggregates with a message running or ready, and their later messages, in order.
    busy: HashMap<String, VecDeque<T>>,
}

impl<T> Lanes<T> {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            running: 0,
            ready: VecDeque::new(),
            busy: HashMap::new(),
        }
    }

    /// Holds `item` of aggregate `subject` until its turn.
    pub(super) fn push(&mut self, subject: Option<String>, item: T) {
        match subject {
            Some(subject) => match self.busy.get_mut(&subject) {
                Some(later) => later.push_back(item),
                None => {
                    self.busy.insert(subject, VecDeque::new());
                    self.ready.push_back(item);
                }
            },
            None => self.ready.push_back(item),
        }
    }

    /// The next message to run, if a slot is free and one is ready.
    pub(super) fn next_to_run(&mut self) -> Option<T> {
        if self.running >= self.limit {
            return None;
        }
        let item = self.ready.pop_front()?;
        self.running += 1;
        Some(item)
    }

    /// A message of `subject` was settled: its aggregate's next message becomes ready.
    pub(super) fn finished(&mut self, subject: Option<&str>) {
        self.running = self.running.saturating_sub(1);
        let Some(subject) = subject else { return };
        let next = match self.busy.get_mut(subject) {
            Some(later) => later.pop_front(),
            None => return,
        };
        match next {
            Some(item) => self.ready.push_back(item),
            None => {
                self.busy.remove(subject);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs what `lanes` lets run, finishing the oldest running first, and returns the order.
    fn drain(lanes: &mut Lanes<(Option<&'static str>, u32)>) -> Vec<(Option<&'static str>, u32)> {
        let mut order = Vec::new();
        let mut running = VecDeque::new();
        loop {
            while let Some(item) = lanes.next_to_run() {
                running.push_back(item);
            }
            let Some(item) = running.pop_front() else {
                return order;
            };
            lanes.finished(item.0);
            order.push(item);
        }
    }

    #[test]
    fn lanes_run_an_aggregates_messages_in_order_and_others_past_them() {
        let mut lanes = Lanes::new(2);
        let items = [
            (Some("a"), 1),
            (Some("a"), 2),
            (Some("b"), 1),
            (None, 0),
            (Some("a"), 3),
            (Some("b"), 2),
        ];
        for item in items {
            lanes.push(item.0.map(str::to_owned), item);
        }
        assert_eq!(lanes.next_to_run(), Some((Some("a"), 1)));
        assert_eq!(
            lanes.next_to_run(),
            Some((Some("b"), 1)),
            "b passes a's second message"
        );
        assert_eq!(lanes.next_to_run(), None, "two slots");
        lanes.finished(Some("a"));
        assert_eq!(lanes.next_to_run(), Some((None, 0)));
        lanes.finished(None);
        assert_eq!(lanes.next_to_run(), Some((Some("a"), 2)));
        lanes.finished(Some("b"));
        lanes.finished(Some("a"));
        let rest = drain(&mut lanes);
        assert_eq!(rest, vec![(Some("b"), 2), (Some("a"), 3)]);
        assert!(lanes.busy.is_empty() && lanes.ready.is_empty() && lanes.running == 0);
    }

    #[test]
    fn lanes_keep_every_aggregates_order_whatever_the_mix() {
        let mut lanes = Lanes::new(3);
        let subjects = ["a", "b", "c", "d"];
        for n in 0..40u32 {
            let subject = subjects[(n * 7 % 4) as usize];
            lanes.push(Some(subject.to_owned()), (Some(subject), n));
        }
        let order = drain(&mut lanes);
        assert_eq!(order.len(), 40, "every message ran once");
        for subject in subjects {
            let seen: Vec<u32> = order
                .iter()
                .filter(|(s, _)| *s == Some(subject))
                .map(|(_, n)| *n)
                .collect();
            assert!(seen.windows(2).all(|w| w[0] < w[1]), "{subject}: {seen:?}");
        }
    }
}

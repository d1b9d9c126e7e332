//! A segment's state, from the kernel's counts and what became of its creator.

use crate::process::Creator;
use crate::segments::Segment;

/// What a segment is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Attached (nattch > 0) and not marked for removal.
    InUse,
    /// Marked for removal: destroyed at its last detach.
    Removed,
    /// Nobody attaches it; its creator is alive (or in a pid namespace this one cannot see).
    Idle,
    /// Nobody attaches it, its creator is gone, and nobody marked it for removal.
    Orphaned,
}

impl State {
    /// The words rshm-ls prints (also the JSON `state` values).
    pub fn name(self) -> &'static str {
        match self {
            State::InUse => "in use",
            State::Removed => "removed, still attached",
            State::Idle => "idle",
            State::Orphaned => "orphaned",
        }
    }
}

/// The state of `s`, whose creator is `creator`. An unknown creator never makes an orphan.
pub fn of(s: &Segment, creator: &Creator) -> State {
    if s.marked() {
        State::Removed
    } else if s.nattch > 0 {
        State::InUse
    } else if creator.gone() {
        State::Orphaned
    } else {
        State::Idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_from_its_facts() {
        let seg = |mode, nattch| Segment {
            mode,
            nattch,
            ..Segment::default()
        };
        let alive = Creator::Alive { comm: "x".into() };
        assert_eq!(of(&seg(0o600, 2), &Creator::Exited), State::InUse);
        assert_eq!(of(&seg(0o1600, 1), &alive), State::Removed);
        assert_eq!(of(&seg(0o600, 0), &alive), State::Idle);
        assert_eq!(of(&seg(0o600, 0), &Creator::Unknown), State::Idle);
        assert_eq!(of(&seg(0o600, 0), &Creator::Exited), State::Orphaned);
        assert_eq!(
            of(&seg(0o600, 0), &Creator::Reused { comm: "y".into() }),
            State::Orphaned
        );
    }
}

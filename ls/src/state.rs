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
    /// Nobody attaches it (nattch 0); its creator is alive, or rshm-ls cannot be sure it
    /// is gone, or a process still maps it.
    Idle,
    /// Nobody attaches it, no process maps it, its creator is surely gone, and nobody
    /// marked it for removal.
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

/// The state of `s`, whose creator is `creator`; `mapped` says a process was seen mapping
/// it. Only a creator known to be gone, and no mapping seen, make an orphan.
pub fn of(s: &Segment, creator: &Creator, mapped: bool) -> State {
    if s.marked() {
        State::Removed
    } else if s.nattch > 0 {
        State::InUse
    } else if creator.gone() && !mapped {
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
        let alive = Creator::Alive {
            comm: b"x".to_vec(),
        };
        let hidden = Creator::Unsure {
            comm: None,
            why: crate::process::Doubt::Hidden,
        };
        assert_eq!(of(&seg(0o600, 2), &Creator::Exited, false), State::InUse);
        assert_eq!(of(&seg(0o1600, 1), &alive, false), State::Removed);
        assert_eq!(of(&seg(0o600, 0), &alive, false), State::Idle);
        assert_eq!(of(&seg(0o600, 0), &Creator::Unknown, false), State::Idle);
        assert_eq!(of(&seg(0o600, 0), &hidden, false), State::Idle);
        assert_eq!(of(&seg(0o600, 0), &Creator::Exited, false), State::Orphaned);
        assert_eq!(of(&seg(0o600, 0), &Creator::Exited, true), State::Idle);
        assert_eq!(
            of(
                &seg(0o600, 0),
                &Creator::Reused {
                    comm: b"y".to_vec()
                },
                false
            ),
            State::Orphaned
        );
    }
}

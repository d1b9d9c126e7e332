//! What kind of /proc rshm-ls looks at: whether it is of rshm-ls's own pid namespace
//! (else its PIDs are other processes than kill(2) and the segment table mean), and
//! whether it hides other users' processes (the hidepid mount option).

/// The /proc rshm-ls reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// /proc/self is this process: /proc is of this pid namespace.
    pub own_pid_namespace: bool,
    /// The hidepid option of /proc, when it hides processes from this caller (not root).
    pub hidepid: Option<String>,
}

/// Looks at /proc.
pub fn view() -> View {
    View {
        own_pid_namespace: own_pid_namespace(),
        hidepid: if crate::sys::root() { None } else { hidepid() },
    }
}

/// Whether /proc/self names this process: in a /proc of another pid namespace it names
/// another number, or nothing when this process is not in that namespace at all.
fn own_pid_namespace() -> bool {
    let me = std::process::id().to_string();
    std::fs::read_link("/proc/self").is_ok_and(|p| p.as_os_str() == me.as_str())
}

/// The hidepid option of the proc file system mounted on /proc, unless it is 0 (off).
fn hidepid() -> Option<String> {
    let text = std::fs::read("/proc/self/mountinfo").ok()?;
    let text = String::from_utf8_lossy(&text);
    // The last mount on /proc is the one seen there.
    let line = text.lines().rfind(|l| proc_on_proc(l))?;
    let (_, sup) = line.split_once(" - ")?;
    hidepid_of(sup.split_whitespace().nth(2)?)
}

/// Whether a mountinfo line is a proc file system mounted on /proc.
fn proc_on_proc(line: &str) -> bool {
    let mut f = line.split_whitespace();
    f.nth(4) == Some("/proc")
        && line
            .split_once(" - ")
            .is_some_and(|(_, sup)| sup.split_whitespace().next() == Some("proc"))
}

/// The hidepid value in a list of super options, unless it is 0 or off.
fn hidepid_of(options: &str) -> Option<String> {
    options
        .split(',')
        .find_map(|o| o.strip_prefix("hidepid="))
        .filter(|v| !matches!(*v, "0" | "off"))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hidepid_option_is_found_on_a_proc_mounted_on_proc() {
        let l = "25 1 0:23 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw,hidepid=invisible";
        assert!(proc_on_proc(l));
        assert_eq!(
            hidepid_of("rw,hidepid=invisible,gid=4"),
            Some("invisible".into())
        );
        assert_eq!(hidepid_of("rw,hidepid=0"), None);
        assert_eq!(hidepid_of("rw"), None);
        assert!(!proc_on_proc(
            "30 25 0:30 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw"
        ));
    }

    #[test]
    fn this_proc_is_of_this_pid_namespace() {
        assert!(view().own_pid_namespace);
    }
}

//! librshm_preload.so: `LD_PRELOAD` it into an unmodified program and every shmget,
//! shmat, shmdt and shmctl it makes is checked, logged and tracked by the rshm core,
//! while the program gets exactly the result it would get without the library (rules
//! are only reported, unless `RSHM_STRICT=1`).
//!
//! There is no re-entrancy guard: the core never calls these exported symbols (its
//! backend is `dlsym(RTLD_NEXT)`), and it is itself safe to re-enter from a signal
//! handler, which a guard would wrongly send around the registry.

mod hooks;
mod next;

use rshm_core::config::Level;
use rshm_core::shm::Api;

/// How the core sees a traced program: the next libc definitions, libc's names, rules
/// reported rather than enforced, `info` logging by default.
pub(crate) static PRELOAD: Api<next::Next> = Api {
    backend: next::Next,
    names: ["shmget", "shmat", "shmdt", "shmctl"],
    default_level: Level::Info,
    observe: true,
    at_exit: Some(at_exit),
};

extern "C" fn at_exit() {
    rshm_core::report::run(&PRELOAD);
}

/// Runs when the library is loaded, before the program's main: resolves the real
/// functions and reads the configuration (so neither happens later inside a signal
/// handler), and arms the exit report.
extern "C" fn init() {
    next::resolve();
    let c = rshm_core::config::get(PRELOAD.default_level);
    if c.report() {
        rshm_core::report::arm(&PRELOAD);
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = init;

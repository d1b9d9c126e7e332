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

use rshm_core::__private::config::Level;
use rshm_core::__private::shm::Api;

/// How the core sees a traced program: the next libc definitions, libc's names, rules
/// reported rather than enforced, `info` logging by default.
pub(crate) static PRELOAD: Api<next::Next> = Api {
    backend: next::Next,
    names: ["shmget", "shmat", "shmdt", "shmctl"],
    default_level: Level::Info,
    observe: true,
};

/// Runs when the library is loaded, before the program's main: resolves the real
/// functions and reads the configuration (so neither happens later inside a signal
/// handler or races a fork).
extern "C" fn init() {
    next::resolve();
    rshm_core::__private::shm::init_early(&PRELOAD);
}

/// Runs at exit (and at dlclose): the exit report and the count of dropped log lines.
/// A destructor rather than atexit(3), which a call would have to register, maybe
/// inside a signal handler.
extern "C" fn fini() {
    PRELOAD.at_exit();
}

#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = init;

#[used]
#[unsafe(link_section = ".fini_array")]
static FINI: extern "C" fn() = fini;

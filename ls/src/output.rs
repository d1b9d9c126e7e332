//! Standard output, written whole in one go.

use std::io::{ErrorKind, Write};

/// Writes `text` to standard output. A reader that went away (EPIPE: `rshm-ls | head`)
/// is not an error: Ok(false) says nobody reads any more.
pub fn write(text: &str) -> Result<bool, String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(format!("standard output: {e}")),
    }
}

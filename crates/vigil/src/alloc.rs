//! The process allocator and its options, shared by the `vigil` binary and the `detect_scale`
//! benchmark (which includes this file), so the benchmark's figures are those of `vigil hunt`.

/// mimalloc instead of the system allocator: `vigil conn` allocates and frees per connection
/// (application sessions, DNS answers, log rows) and spent 10-13 % of its CPU time in glibc's
/// malloc and free (docs/PERFORMANCE.md, "Traffic engine").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` and `mi_option_os_tag` (15 and 18 in both its v2 and v3
/// headers; the Rust bindings name no constants for them).
pub const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MI_OPTION_OS_TAG: libmimalloc_sys::mi_option_t = 18;

/// Keeps freed memory for reuse instead of handing it back to the OS a second after a free
/// (mimalloc's default). The detectors' state grows by doubling: each grown vector frees the old
/// one, and when its pages go back to the OS later growth faults fresh, zeroed pages in again
/// (about 1.7 s of system time per GiB on the benchmark VM, and a `vigil watch` window re-grows
/// it each time; docs/PERFORMANCE.md, session 14).
/// `MIMALLOC_PURGE_DELAY` in the environment still has the last word.
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: reads and sets an option value; no memory is touched. The os_tag option at its
    // default (100) witnesses the numbering, so another header numbering sets nothing.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_OS_TAG) == 100 {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

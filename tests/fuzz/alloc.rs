//! A counting global allocator: how many bytes a parser holds at its peak and how many it
//! asks for in all, so that the fuzz loop can check both against the input's length.
//!
//! The fuzz binary runs its cases on one thread, so the counters see one case at a time.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicUsize, Ordering::Relaxed},
};

/// Bytes held now, the most held since [`Usage::start`], and all bytes asked for.
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static TOTAL: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting. Installed with `#[global_allocator]` in `main.rs`.
pub struct Counting;

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(now, Relaxed);
    TOTAL.fetch_add(bytes, Relaxed);
}

fn shrank(bytes: usize) {
    CURRENT.fetch_sub(bytes, Relaxed);
}

// SAFETY: every call is passed unchanged to `System`, which upholds `GlobalAlloc`'s contract;
// the counters are plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout as our caller's, as `GlobalAlloc::alloc` requires.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout (every allocation here does).
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller checked `new_size`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size > layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        new
    }
}

/// What one case allocated, measured from [`Usage::start`] to [`Usage::stop`].
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    base: usize,
    /// The most bytes held at once beyond what was held at the start.
    pub peak: usize,
    /// Every byte asked for (a growing reallocation counts its growth).
    pub total: usize,
}

impl Usage {
    /// Starts measuring: the peak restarts from what is held now.
    pub fn start() -> Self {
        let base = CURRENT.load(Relaxed);
        PEAK.store(base, Relaxed);
        Self {
            base,
            peak: 0,
            total: TOTAL.load(Relaxed),
        }
    }

    /// Stops measuring.
    pub fn stop(self) -> Self {
        Self {
            base: self.base,
            peak: PEAK.load(Relaxed).saturating_sub(self.base),
            total: TOTAL.load(Relaxed) - self.total,
        }
    }
}

/// How much a parser may allocate for an input of `n` bytes: `per_byte × n + constant`, for
/// the peak and, with a larger multiple, for the total.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Peak bytes per input byte.
    pub peak_per_byte: usize,
    /// Total bytes per input byte.
    pub total_per_byte: usize,
    /// Bytes allowed whatever the input's length.
    pub constant: usize,
}

impl Budget {
    /// The breach, if `usage` is over budget for an input of `len` bytes.
    pub fn check(self, usage: Usage, len: usize) -> Result<(), String> {
        let peak_max = self.peak_per_byte * len + self.constant;
        let total_max = self.total_per_byte * len + self.constant;
        if usage.peak > peak_max {
            return Err(format!("peak {} B > {peak_max} B", usage.peak));
        }
        if usage.total > total_max {
            return Err(format!("total {} B > {total_max} B", usage.total));
        }
        Ok(())
    }
}

//! Bounds-checked access to the frame, in the shape the verifier accepts:
//! every pointer handed out was compared with `data_end` right before
//! (packet pointer + constant or bounded offset), so no read or write can
//! leave the frame. A failed check is a value (`None`), never a fault.
//!
//! XDP frames and the linear part of a TC skb (`data`..`data_end`) work the
//! same way, so one cursor serves both programs.

use core::mem::size_of;

use aya_ebpf::programs::{TcContext, XdpContext};

#[derive(Clone, Copy)]
pub struct Cursor {
    start: usize,
    end: usize,
    /// Offset of the next header, from the start of the frame.
    pos: usize,
}

impl Cursor {
    #[inline(always)]
    pub fn new(ctx: &XdpContext) -> Self {
        Self {
            start: ctx.data(),
            end: ctx.data_end(),
            pos: 0,
        }
    }

    /// The linear part of a TC skb (the Ethernet header first).
    #[inline(always)]
    pub fn tc(ctx: &TcContext) -> Self {
        Self {
            start: ctx.data(),
            end: ctx.data_end(),
            pos: 0,
        }
    }

    /// Offset of the next unread byte.
    #[inline(always)]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// A pointer to a `T` at `offset` if the whole `T` lies inside the frame.
    #[inline(always)]
    pub fn at<T>(&self, offset: usize) -> Option<*mut T> {
        let ptr = self.start + offset;
        if ptr + size_of::<T>() > self.end {
            return None;
        }
        Some(ptr as *mut T)
    }

    /// The `T` at the current position, advancing past it.
    #[inline(always)]
    pub fn take<T>(&mut self) -> Option<*mut T> {
        let ptr = self.at::<T>(self.pos)?;
        self.pos += size_of::<T>();
        Some(ptr)
    }

    /// True if `len` bytes starting at `offset` are inside the frame.
    #[inline(always)]
    pub fn has(&self, offset: usize, len: usize) -> bool {
        self.start + offset + len <= self.end
    }
}

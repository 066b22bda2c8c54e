//! libxdp (Debian `libxdp1`, from xdp-tools), opened at run time with
//! dlopen: the agent needs it only to share an interface through libxdp's
//! multi-program dispatcher (docs/xdp-coexistence.md), and runs without it
//! otherwise.
//!
//! libxdp owns the dispatcher protocol: a dispatcher XDP program with one
//! slot per component, each component an `freplace` (BPF_PROG_TYPE_EXT)
//! program attached to a slot, pins under `<bpffs>/xdp/dispatch-IFINDEX-ID/`
//! (`LIBXDP_BPFFS`, default /sys/fs/bpf) and a lock on that directory. To
//! add a program it builds a new dispatcher with the old components plus the
//! new one and swaps it in atomically; removing one works the same way. So
//! the agent hands libxdp its object and lets it do all of that.
//!
//! The object is opened with libbpf from the embedded bytes, and each of the
//! agent's maps is replaced by the map the agent already loaded and pinned
//! (`bpf_map__reuse_fd`), so the copy of `carp_xdp` in the dispatcher and
//! the agent share one set of maps.
use std::{
    ffi::{CStr, CString, c_char, c_int, c_long, c_uint, c_void},
    os::fd::{AsFd as _, AsRawFd as _},
    path::Path,
    ptr::NonNull,
};

use aya::maps::MapData;

/// The library file names (SONAMEs) tried, in order.
const LIBXDP: &CStr = c"libxdp.so.1";
const LIBBPF: &CStr = c"libbpf.so.1";

/// The name libxdp gives its dispatcher program.
pub const DISPATCHER_NAME: &str = "xdp_dispatcher";

#[derive(Debug, thiserror::Error)]
pub enum LibxdpError {
    #[error(
        "cannot open {library} ({reason}); install libxdp (Debian: apt-get install libxdp1, \
         or xdp-tools)"
    )]
    Missing { library: String, reason: String },
    #[error("{library} has no symbol {symbol}: a libxdp older than 1.2?")]
    Symbol {
        library: String,
        symbol: &'static str,
    },
    #[error("libbpf could not open the embedded XDP object: {0}")]
    Open(std::io::Error),
    #[error("map {name}: {reason}")]
    Map { name: String, reason: String },
    #[error("libxdp: {what}: {reason}")]
    Call { what: String, reason: String },
}

/// The attach modes as libxdp numbers them (`enum xdp_attach_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Native,
    Skb,
}

impl Mode {
    fn raw(self) -> c_uint {
        match self {
            Mode::Native => 1,
            Mode::Skb => 2,
        }
    }

    fn from_raw(raw: c_uint) -> Option<Mode> {
        match raw {
            1 => Some(Mode::Native),
            2 => Some(Mode::Skb),
            _ => None,
        }
    }
}

/// `struct xdp_program_opts` of libxdp.h (1.2+), a libbpf-style options
/// struct: `sz` first, the library ignores fields past the size it knows.
#[repr(C)]
struct ProgramOpts {
    sz: usize,
    obj: *mut c_void,
    opts: *const c_void,
    prog_name: *const c_char,
    find_filename: *const c_char,
    open_filename: *const c_char,
    pin_path: *const c_char,
    id: u32,
    fd: c_int,
}

type GetError = unsafe extern "C" fn(*const c_void) -> c_long;
type StrError = unsafe extern "C" fn(c_int, *mut c_char, usize) -> c_int;
type Create = unsafe extern "C" fn(*mut ProgramOpts) -> *mut c_void;
type AttachFn = unsafe extern "C" fn(*mut c_void, c_int, c_uint, c_uint) -> c_int;
type CloseFn = unsafe extern "C" fn(*mut c_void);
type NameFn = unsafe extern "C" fn(*const c_void) -> *const c_char;
type FromIfindex = unsafe extern "C" fn(c_int) -> *mut c_void;
type NextProg = unsafe extern "C" fn(*const c_void, *const c_void) -> *mut c_void;
type MpMode = unsafe extern "C" fn(*const c_void) -> c_uint;
type MpLegacy = unsafe extern "C" fn(*const c_void) -> bool;
type OpenMem = unsafe extern "C" fn(*const c_void, usize, *const c_void) -> *mut c_void;
type FindMap = unsafe extern "C" fn(*const c_void, *const c_char) -> *mut c_void;
type ReuseFd = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;

/// The functions of libxdp and libbpf the agent calls.
#[derive(Clone, Copy)]
pub struct Libxdp {
    get_error: GetError,
    strerror: StrError,
    create: Create,
    attach: AttachFn,
    detach: AttachFn,
    close: CloseFn,
    name: NameFn,
    from_ifindex: FromIfindex,
    next_prog: NextProg,
    mp_close: CloseFn,
    mp_mode: MpMode,
    mp_legacy: MpLegacy,
    open_mem: OpenMem,
    find_map: FindMap,
    reuse_fd: ReuseFd,
    object_close: CloseFn,
}

/// dlopen; the handle is never closed (the functions stay valid for the
/// life of the process).
fn open_library(name: &CStr) -> Result<NonNull<c_void>, LibxdpError> {
    // SAFETY: `name` is a NUL-terminated string; dlopen has no other
    // precondition.
    let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    NonNull::new(handle).ok_or_else(|| LibxdpError::Missing {
        library: name.to_string_lossy().into_owned(),
        reason: dl_error(),
    })
}

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the
    // next dl* call on this thread; it is copied at once.
    let text = unsafe { libc::dlerror() };
    if text.is_null() {
        "unknown error".to_string()
    } else {
        // SAFETY: non-null, NUL-terminated (see above).
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

/// Looks up `symbol` and gives it type `T`, a function pointer type.
///
/// # Safety
/// `T` must be an `extern "C"` function pointer type matching the symbol's C
/// declaration.
unsafe fn symbol<T: Copy>(
    handle: NonNull<c_void>,
    library: &CStr,
    symbol: &'static CStr,
) -> Result<T, LibxdpError> {
    // SAFETY: a live handle from dlopen and a NUL-terminated name.
    let address = unsafe { libc::dlsym(handle.as_ptr(), symbol.as_ptr()) };
    if address.is_null() {
        return Err(LibxdpError::Symbol {
            library: library.to_string_lossy().into_owned(),
            symbol: symbol.to_str().unwrap_or("?"),
        });
    }
    // SAFETY: the caller guarantees T is the function pointer type of this
    // symbol; a function pointer has the size of a data pointer on Linux.
    Ok(unsafe { std::mem::transmute_copy::<*mut c_void, T>(&address) })
}

impl Libxdp {
    /// Opens libxdp and libbpf (libxdp's own dependency).
    pub fn open() -> Result<Self, LibxdpError> {
        let xdp = open_library(LIBXDP)?;
        let bpf = open_library(LIBBPF)?;
        // SAFETY: each type alias above transcribes the C declaration of
        // its symbol in libxdp.h / libbpf.h (libxdp 1.2+, libbpf 1.0+).
        unsafe {
            Ok(Self {
                get_error: symbol(xdp, LIBXDP, c"libxdp_get_error")?,
                strerror: symbol(xdp, LIBXDP, c"libxdp_strerror")?,
                create: symbol(xdp, LIBXDP, c"xdp_program__create")?,
                attach: symbol(xdp, LIBXDP, c"xdp_program__attach")?,
                detach: symbol(xdp, LIBXDP, c"xdp_program__detach")?,
                close: symbol(xdp, LIBXDP, c"xdp_program__close")?,
                name: symbol(xdp, LIBXDP, c"xdp_program__name")?,
                from_ifindex: symbol(xdp, LIBXDP, c"xdp_multiprog__get_from_ifindex")?,
                next_prog: symbol(xdp, LIBXDP, c"xdp_multiprog__next_prog")?,
                mp_close: symbol(xdp, LIBXDP, c"xdp_multiprog__close")?,
                mp_mode: symbol(xdp, LIBXDP, c"xdp_multiprog__attach_mode")?,
                mp_legacy: symbol(xdp, LIBXDP, c"xdp_multiprog__is_legacy")?,
                open_mem: symbol(bpf, LIBBPF, c"bpf_object__open_mem")?,
                find_map: symbol(bpf, LIBBPF, c"bpf_object__find_map_by_name")?,
                reuse_fd: symbol(bpf, LIBBPF, c"bpf_map__reuse_fd")?,
                object_close: symbol(bpf, LIBBPF, c"bpf_object__close")?,
            })
        }
    }

    /// libxdp's text for a negative error number.
    fn error_text(&self, err: c_int) -> String {
        let mut buf = [0 as c_char; 256];
        // SAFETY: the buffer and its length match; libxdp NUL-terminates.
        unsafe { (self.strerror)(err, buf.as_mut_ptr(), buf.len()) };
        // SAFETY: NUL-terminated within `buf` (zeroed, and written by
        // libxdp_strerror, which truncates).
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    /// A pointer result of libxdp: `Err` with its error text when it
    /// encodes an error (NULL, or an ERR_PTR).
    fn checked(&self, what: &str, ptr: *mut c_void) -> Result<NonNull<c_void>, LibxdpError> {
        // SAFETY: libxdp_get_error only inspects the pointer value.
        let err = unsafe { (self.get_error)(ptr) };
        match NonNull::new(ptr) {
            Some(ptr) if err == 0 => Ok(ptr),
            _ => Err(self.call_error(
                what,
                if err == 0 {
                    -libc::ENOENT
                } else {
                    err as c_int
                },
            )),
        }
    }

    fn call_error(&self, what: &str, err: c_int) -> LibxdpError {
        LibxdpError::Call {
            what: what.to_string(),
            reason: self.error_text(err),
        }
    }

    /// What libxdp sees on interface `ifindex`: `None` if no XDP program is
    /// there, else the programs in run order and whether they run in a
    /// dispatcher (`legacy` = one program attached alone).
    pub fn inspect(&self, ifindex: u32) -> Result<Option<Slot>, LibxdpError> {
        let ifindex = c_int::try_from(ifindex).map_err(|_| LibxdpError::Call {
            what: format!("interface index {ifindex}"),
            reason: "out of range".to_string(),
        })?;
        // SAFETY: a plain integer argument.
        let mp = unsafe { (self.from_ifindex)(ifindex) };
        // SAFETY: see `checked`.
        let err = unsafe { (self.get_error)(mp) };
        if mp.is_null() || err == -(libc::ENOENT as c_long) {
            return Ok(None);
        }
        let mp = self.checked("reading the XDP programs on the interface", mp)?;
        let mut programs = Vec::new();
        let mut prog = std::ptr::null_mut();
        loop {
            // SAFETY: `mp` is live until closed below; `prog` is NULL or the
            // previous program of this `mp`.
            prog = unsafe { (self.next_prog)(prog, mp.as_ptr()) };
            if prog.is_null() || programs.len() >= 64 {
                break;
            }
            programs.push(self.program_name(prog));
        }
        // SAFETY: `mp` is live.
        let mode = Mode::from_raw(unsafe { (self.mp_mode)(mp.as_ptr()) });
        // SAFETY: `mp` is live.
        let legacy = unsafe { (self.mp_legacy)(mp.as_ptr()) };
        // SAFETY: closed once; not used after.
        unsafe { (self.mp_close)(mp.as_ptr()) };
        Ok(Some(Slot {
            programs,
            mode,
            legacy,
        }))
    }

    fn program_name(&self, prog: *const c_void) -> String {
        // SAFETY: `prog` is a live xdp_program; the name lives as long.
        let name = unsafe { (self.name)(prog) };
        if name.is_null() {
            return "unknown".to_string();
        }
        // SAFETY: non-null and NUL-terminated.
        unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned()
    }

    /// Detaches the program named `name` from the dispatcher on `ifindex`
    /// (an agent that did not exit cleanly left it there). Other programs
    /// stay: libxdp rebuilds the dispatcher without this one.
    pub fn detach_named(&self, ifindex: u32, name: &str, mode: Mode) -> Result<bool, LibxdpError> {
        let index = ifindex as c_int;
        // SAFETY: a plain integer argument.
        let mp = unsafe { (self.from_ifindex)(index) };
        let Ok(mp) = self.checked("reading the XDP programs on the interface", mp) else {
            return Ok(false);
        };
        let mut prog = std::ptr::null_mut();
        let mut result = Ok(false);
        loop {
            // SAFETY: as in `inspect`.
            prog = unsafe { (self.next_prog)(prog, mp.as_ptr()) };
            if prog.is_null() {
                break;
            }
            if self.program_name(prog) == name {
                // SAFETY: a live program of a live multiprog.
                let err = unsafe { (self.detach)(prog, index, mode.raw(), 0) };
                result = if err < 0 {
                    Err(self.call_error(&format!("detaching the stale {name}"), err))
                } else {
                    Ok(true)
                };
                break;
            }
        }
        // SAFETY: closed once.
        unsafe { (self.mp_close)(mp.as_ptr()) };
        result
    }

    /// Opens `object` with libbpf, makes program `program` share the maps
    /// pinned under `pin_dir` (by name, for each of `maps`), and attaches it
    /// to `ifindex` through libxdp: into the dispatcher there, or a new one.
    pub fn attach(
        &self,
        object: &'static [u8],
        program: &str,
        pin_dir: &Path,
        maps: &[&str],
        ifindex: u32,
        mode: Mode,
    ) -> Result<Component, LibxdpError> {
        // SAFETY: `object` is 'static (libbpf keeps pointing into it until
        // the object is closed); NULL options are allowed.
        let obj =
            unsafe { (self.open_mem)(object.as_ptr().cast(), object.len(), std::ptr::null()) };
        let Some(obj) = NonNull::new(obj) else {
            return Err(LibxdpError::Open(std::io::Error::last_os_error()));
        };
        let mut component = Component {
            lib: *self,
            obj,
            prog: None,
            ifindex,
            mode,
            attached: false,
        };
        component.reuse_maps(pin_dir, maps)?;
        let name = CString::new(program).map_err(|_| LibxdpError::Call {
            what: format!("program name {program:?}"),
            reason: "contains NUL".to_string(),
        })?;
        let mut opts = ProgramOpts {
            sz: std::mem::size_of::<ProgramOpts>(),
            obj: obj.as_ptr(),
            opts: std::ptr::null(),
            prog_name: name.as_ptr(),
            find_filename: std::ptr::null(),
            open_filename: std::ptr::null(),
            pin_path: std::ptr::null(),
            id: 0,
            fd: 0,
        };
        let lib = &component.lib;
        // SAFETY: `opts` is a valid xdp_program_opts whose pointers outlive
        // the call.
        let prog = unsafe { (lib.create)(&mut opts) };
        let prog = lib.checked(&format!("opening program {program}"), prog)?;
        component.prog = Some(prog);
        let index = c_int::try_from(ifindex).unwrap_or(c_int::MAX);
        // SAFETY: a live program; plain integers.
        let err = unsafe { (component.lib.attach)(prog.as_ptr(), index, mode.raw(), 0) };
        if err < 0 {
            return Err(component.lib.call_error(
                &format!("attaching {program} to interface index {ifindex}"),
                err,
            ));
        }
        component.attached = true;
        Ok(component)
    }
}

/// The programs libxdp finds on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Component names in run order (the one program when `legacy`).
    pub programs: Vec<String>,
    pub mode: Option<Mode>,
    /// One program attached alone, no dispatcher.
    pub legacy: bool,
}

/// The agent's program in libxdp's hands; detached (libxdp rebuilds the
/// dispatcher without it) on drop.
pub struct Component {
    lib: Libxdp,
    obj: NonNull<c_void>,
    prog: Option<NonNull<c_void>>,
    ifindex: u32,
    mode: Mode,
    attached: bool,
}

impl Component {
    fn reuse_maps(&mut self, pin_dir: &Path, maps: &[&str]) -> Result<(), LibxdpError> {
        for name in maps {
            let err = |reason: String| LibxdpError::Map {
                name: name.to_string(),
                reason,
            };
            let pinned = MapData::from_pin(pin_dir.join(name)).map_err(|e| err(e.to_string()))?;
            let cname = CString::new(*name).map_err(|_| err("contains NUL".to_string()))?;
            // SAFETY: a live object and a NUL-terminated name.
            let map = unsafe { (self.lib.find_map)(self.obj.as_ptr(), cname.as_ptr()) };
            if map.is_null() {
                return Err(err("not in the object libbpf opened".to_string()));
            }
            // SAFETY: a map of the live object and an open fd (libbpf dups it).
            let rc = unsafe { (self.lib.reuse_fd)(map, pinned.fd().as_fd().as_raw_fd()) };
            if rc < 0 {
                return Err(err(format!(
                    "libbpf refused to reuse the agent's map: {}",
                    std::io::Error::from_raw_os_error(-rc)
                )));
            }
        }
        Ok(())
    }

    /// The attach mode used.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Takes the program out of the dispatcher; an error is returned for
    /// the log.
    pub fn detach(mut self) -> Result<(), LibxdpError> {
        self.detach_inner()
    }

    fn detach_inner(&mut self) -> Result<(), LibxdpError> {
        let (Some(prog), true) = (self.prog, self.attached) else {
            return Ok(());
        };
        self.attached = false;
        let index = c_int::try_from(self.ifindex).unwrap_or(c_int::MAX);
        // SAFETY: a live, attached program.
        let err = unsafe { (self.lib.detach)(prog.as_ptr(), index, self.mode.raw(), 0) };
        if err < 0 {
            return Err(self.lib.call_error("detaching from the dispatcher", err));
        }
        Ok(())
    }

    /// Leaves the program attached (for a successor, or after a crash the
    /// pins keep it), releasing only this process's handles.
    pub fn leave_attached(mut self) {
        self.attached = false;
    }
}

impl Drop for Component {
    fn drop(&mut self) {
        if let Err(err) = self.detach_inner() {
            tracing::warn!("{err}");
        }
        if let Some(prog) = self.prog.take() {
            // SAFETY: closed once; for an object passed in by the caller
            // libxdp leaves the object open.
            unsafe { (self.lib.close)(prog.as_ptr()) };
        }
        // SAFETY: closed once, after the program that used it.
        unsafe { (self.lib.object_close)(self.obj.as_ptr()) };
    }
}

// SAFETY: libxdp's and libbpf's objects are plain heap data with no tie to
// the thread that made them; a `Component` is owned, never shared, so one
// thread at a time uses it.
unsafe impl Send for Component {}

//! The system interfaces the zone runtime needs that no safe wrapper
//! offers, and the only `unsafe` code in basalt: `mount_setattr(2)` to
//! make a mount idmapped, a command's child becoming a session leader with
//! its terminal as controlling terminal (zlogin's pty), owning descriptors
//! received over a socket, real-time signals through a pidfd, a seccomp
//! filter installed without `no_new_privs`, and every inherited descriptor
//! marked close-on-exec.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// `MOUNT_ATTR_IDMAP` from the kernel's uapi `linux/mount.h`.
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
/// `MOUNT_ATTR_NOSUID`.
const MOUNT_ATTR_NOSUID: u64 = 0x0000_0002;
/// `AT_RECURSIVE`: apply to the whole mount tree.
const AT_RECURSIVE: libc::c_int = 0x8000;

/// `struct mount_attr` (uapi, version 0: 32 bytes).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Makes the detached mount tree `tree` (from `open_tree(OPEN_TREE_CLONE)`)
/// idmapped through the user namespace `userns`: a file owned by id `n`
/// on disk is seen, and written, as the namespace's id `n`. Set-uid files
/// work again on this mount (the host mounts the pool `nosuid`, so that
/// what a zone makes set-uid is nothing to the host).
pub fn idmap_mount(tree: BorrowedFd<'_>, userns: BorrowedFd<'_>) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: MOUNT_ATTR_NOSUID,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: the path is a NUL-terminated empty string, `attr` is a valid
    // `struct mount_attr` that outlives the call, and its size is passed;
    // the kernel only reads it. Both descriptors are borrowed, so open.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes `command`'s child a session leader whose controlling terminal is
/// its standard input (which the caller sets to a terminal).
pub fn with_controlling_terminal(command: &mut Command) -> &mut Command {
    // SAFETY: the closure runs in the child between fork and exec, where
    // only async-signal-safe calls are allowed: setsid(2) and ioctl(2) are
    // plain system calls, and nothing is allocated or locked.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Takes ownership of a descriptor that `recvmsg(2)` just installed in
/// this process from an `SCM_RIGHTS` message.
pub fn own_received_fd(fd: std::os::fd::RawFd) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: the kernel installed `fd` in this process's table while
    // receiving the message; no other object refers to it, so the new
    // OwnedFd is its only owner and closes it exactly once.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

/// Sends signal number `signo` (real-time signals included, which the safe
/// wrappers lack) to the process `pidfd` refers to.
pub fn pidfd_signal(pidfd: BorrowedFd<'_>, signo: i32) -> io::Result<()> {
    // SAFETY: pidfd_send_signal(2) with a borrowed (open) pidfd, a plain
    // signal number, no siginfo (NULL) and no flags; it reads no memory.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signo,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Installs a seccomp filter program on the calling thread with
/// `seccomp(SECCOMP_SET_MODE_FILTER)`, without setting `no_new_privs`
/// first (the caller holds `CAP_SYS_ADMIN` in its user namespace).
pub fn install_seccomp(program: &[seccompiler::sock_filter]) -> io::Result<()> {
    let len =
        u16::try_from(program.len()).map_err(|_| io::Error::other("seccomp program too long"))?;
    let fprog = libc::sock_fprog {
        len,
        // seccompiler's sock_filter is #[repr(C)] with the kernel's layout
        // (u16 code, u8 jt, u8 jf, u32 k), the same as libc's.
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `fprog` points at `len` filter instructions owned by
    // `program`, which outlives the call; the kernel copies them and does
    // not write through the pointer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Marks every descriptor from `first` up close-on-exec, so that nothing
/// this process inherited or opened reaches what it executes next.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range(2) with CLOSE_RANGE_CLOEXEC only sets a flag on
    // open descriptors; it closes none, so no owned descriptor in this
    // process is invalidated.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes `command`'s child a session leader without a controlling
/// terminal.
pub fn in_new_session(command: &mut Command) -> &mut Command {
    // SAFETY: as in `with_controlling_terminal`: setsid(2) is a plain
    // system call, async-signal-safe between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

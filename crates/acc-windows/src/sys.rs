//! The Win32 calls behind the key-file rule (Windows only, the crate's FFI): the SID of
//! the account this process runs as, a file's DACL as SDDL, and a file created new with a
//! given DACL, so that a private key is never readable by anyone else, not even for an
//! instant. Every pointer Windows allocates is freed with `LocalFree` before returning.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{FromRawHandle, RawHandle};
use std::path::Path;

use windows_sys::Win32::Foundation::{
    CloseHandle, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSecurityDescriptorToStringSecurityDescriptorW, ConvertSidToStringSidW,
    ConvertStringSecurityDescriptorToSecurityDescriptorW, GetNamedSecurityInfoW, SDDL_REVISION_1,
    SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    ACL, DACL_SECURITY_INFORMATION, GetTokenInformation, PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES,
    TOKEN_QUERY, TOKEN_USER, TokenUser,
};
use windows_sys::Win32::Storage::FileSystem::{CREATE_NEW, CreateFileW, FILE_ATTRIBUTE_NORMAL};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

fn wide(s: &OsStr) -> Vec<u16> {
    s.encode_wide().chain(std::iter::once(0)).collect()
}

/// Reads a NUL-terminated UTF-16 string that Windows allocated, then frees it.
///
/// # Safety
/// `p` is null or a `LocalAlloc`ed NUL-terminated UTF-16 string not used afterwards.
unsafe fn take_wide(p: *mut u16) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the caller guarantees a NUL-terminated string; we stop at the NUL.
    let text = unsafe {
        let mut len = 0;
        while *p.add(len) != 0 {
            len += 1;
        }
        String::from_utf16_lossy(std::slice::from_raw_parts(p, len))
    };
    // SAFETY: allocated by Windows with LocalAlloc, freed once.
    unsafe { LocalFree(p.cast()) };
    text
}

/// The SID (`S-1-5-…`) of the account this process runs as.
pub fn current_user_sid() -> io::Result<String> {
    // SAFETY: plain Win32 calls on a token handle we open and close; the buffer is sized
    // by the first GetTokenInformation call and aligned for TOKEN_USER (u64 storage).
    unsafe {
        let mut token: HANDLE = std::ptr::null_mut();
        if OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) == 0 {
            return Err(io::Error::last_os_error());
        }
        let mut needed = 0u32;
        GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut needed);
        let mut buf = vec![0u64; (needed as usize).div_ceil(8).max(1)];
        let ok = GetTokenInformation(token, TokenUser, buf.as_mut_ptr().cast(), needed, &mut needed);
        let err = io::Error::last_os_error();
        CloseHandle(token);
        if ok == 0 {
            return Err(err);
        }
        let user = &*buf.as_ptr().cast::<TOKEN_USER>();
        let mut text: *mut u16 = std::ptr::null_mut();
        if ConvertSidToStringSidW(user.User.Sid, &mut text) == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(take_wide(text))
    }
}

/// The DACL of the file at `path`, as SDDL (`D:P(A;;FR;;;S-1-5-…)…`).
pub fn file_dacl_sddl(path: &Path) -> io::Result<String> {
    let name = wide(path.as_os_str());
    // SAFETY: `name` is NUL-terminated and outlives the call; the descriptor Windows
    // returns is freed with LocalFree after conversion; the DACL pointer points into it.
    unsafe {
        let mut dacl: *mut ACL = std::ptr::null_mut();
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        let rc = GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut dacl,
            std::ptr::null_mut(),
            &mut sd,
        );
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc as i32));
        }
        let mut text: *mut u16 = std::ptr::null_mut();
        let ok = ConvertSecurityDescriptorToStringSecurityDescriptorW(
            sd,
            SDDL_REVISION_1,
            DACL_SECURITY_INFORMATION,
            &mut text,
            std::ptr::null_mut(),
        );
        let err = io::Error::last_os_error();
        LocalFree(sd);
        if ok == 0 {
            return Err(err);
        }
        Ok(take_wide(text))
    }
}

/// Creates `path`, which must not exist, with the DACL in `sddl`, open for writing.
pub fn create_new_with_dacl(path: &Path, sddl: &str) -> io::Result<File> {
    let name = wide(path.as_os_str());
    let sddl = wide(OsStr::new(sddl));
    // SAFETY: both strings are NUL-terminated and outlive the calls; the descriptor is
    // freed after CreateFileW, which copies it; the handle is owned by the File.
    unsafe {
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        if ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl.as_ptr(),
            SDDL_REVISION_1,
            &mut sd,
            std::ptr::null_mut(),
        ) == 0
        {
            return Err(io::Error::last_os_error());
        }
        let attributes = SECURITY_ATTRIBUTES {
            nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: sd,
            bInheritHandle: 0,
        };
        let handle = CreateFileW(
            name.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            0,
            &attributes,
            CREATE_NEW,
            FILE_ATTRIBUTE_NORMAL,
            std::ptr::null_mut(),
        );
        let err = io::Error::last_os_error();
        LocalFree(sd);
        if handle == INVALID_HANDLE_VALUE {
            return Err(err);
        }
        Ok(File::from_raw_handle(handle as RawHandle))
    }
}

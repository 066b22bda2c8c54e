//! CARP v2 advertisement codec and authentication. Pure: no I/O, no clock.
//!
//! - [`advert`]: the 36-byte header ([`Advertisement`]).
//! - [`auth`]: password key, virtual address set, HMAC-SHA1 ([`Auth`]).

pub mod advert;
pub mod auth;
pub mod checksum;
pub mod error;

pub use advert::{ADVERT_LEN, Advertisement};
pub use auth::{Auth, AuthKey, MAX_PASSWORD_LEN, VipSet};
pub use error::{DecodeError, Layer, LengthError, NotCarp, PasswordTooLong};

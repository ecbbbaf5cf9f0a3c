//! An applet's typed ops, written once: [`applet_ops!`](crate::applet_ops)
//! turns a table of kinds into the kind constants, the op enum, its body
//! encoding and decoding, and its [`AppletOp`](super::AppletOp) impl.
//!
//! ```
//! use flashmesh::applet_ops;
//! use serde::{Deserialize, Serialize};
//!
//! /// The applet's name in ops.
//! pub const NAME: &str = "kudos";
//!
//! /// The body of [`KIND_GIVE`].
//! #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
//! pub struct Give {
//!     pub to: String,
//!     pub text: String,
//! }
//!
//! applet_ops! {
//!     /// A kudos op, typed.
//!     #[derive(Clone, Debug, PartialEq, Eq)]
//!     pub enum KudosOp for NAME {
//!         /// Kudos to someone; the body is a [`Give`].
//!         KIND_GIVE = 1 => Give(Give),
//!     }
//! }
//!
//! let op = KudosOp::Give(Give { to: "ada".into(), text: "thanks".into() });
//! let (kind, body) = op.body();
//! assert_eq!(kind, KIND_GIVE);
//! assert_eq!(KudosOp::decode(kind, &body), Ok(op));
//! assert_eq!(KudosOp::decode(7, &body), Err("kudos has no kind 7".to_string()));
//! ```
//!
//! # What the encoding is
//!
//! A body is the variant's value encoded with
//! [`codec::encode_value`](crate::codec::encode_value) (see "Encoding" in
//! `docs/protocol.md`); a value too large to encode (far beyond every
//! applet's limits) gives an empty body, which the rules refuse. A variant
//! written `Variant(Value as Wire)` is encoded as `Wire::from(value)` and
//! read back with `Value::from(wire)`: the roster's `Invite(NodeId as
//! Subject)` keeps the enum plain while its body is the documented
//! `Subject { node }` (the same 32 bytes).
//!
//! Decoding is strict, as [`codec::decode_value`](crate::codec::decode_value)
//! is (whole input, canonical). An unknown kind is refused with `<applet>
//! has no kind K`, a body that does not decode with `<applet> <kind word>
//! body: <why>` (the kind word is the constant's name without `KIND_`, in
//! lower case: `KIND_KIOSK_ADD` reads `kiosk add`).

/// Defines an applet's typed ops from one table (see the [module
/// docs](crate::applets::body)). After `for` comes the path of the
/// applet's name, a `&str` constant (`NAME`). For each row `KIND_X = n =>
/// Variant(Value)` (or `Variant(Value as Wire)`) a `pub const KIND_X: u16 =
/// n`, a variant of the enum, its encoding in `body()` and its decoding in
/// `decode()`; the enum also gets `kind()`, `KINDS` and an
/// [`AppletOp`](crate::applets::AppletOp) impl naming the applet. The doc
/// comment of a row documents both its constant and its variant.
#[macro_export]
macro_rules! applet_ops {
    (
        $(#[$meta:meta])*
        $vis:vis enum $op:ident for $applet:path {
            $(
                $(#[$row:meta])*
                $kind:ident = $number:literal => $variant:ident($value:ty $(as $wire:ty)?)
            ),+ $(,)?
        }
    ) => {
        $(
            $(#[$row])*
            pub const $kind: u16 = $number;
        )+

        $(#[$meta])*
        $vis enum $op {
            $(
                $(#[$row])*
                $variant($value),
            )+
        }

        impl $op {
            /// Every kind of this applet and its constant's name, in the
            /// order of the table.
            pub const KINDS: &'static [(u16, &'static str)] = &[$(($number, stringify!($kind))),+];

            /// The op's kind.
            pub fn kind(&self) -> u16 {
                match self {
                    $(Self::$variant(_) => $kind,)+
                }
            }

            /// The op's kind and encoded body, ready to publish under the
            /// applet's name. (A value too large to encode, far beyond
            /// the applet's limits, gives an empty body, which the rules
            /// refuse.)
            pub fn body(&self) -> (u16, ::std::vec::Vec<u8>) {
                let bytes = match self {
                    $(Self::$variant(value) => $crate::applet_ops!(@encode value, $value $(, $wire)?),)+
                };
                (self.kind(), bytes.unwrap_or_default())
            }

            /// Reads an op of this applet by its kind (structure only: the
            /// applet's rules come after); an unknown kind or a body that
            /// does not decode is refused with the reason.
            pub fn decode(kind: u16, body: &[u8]) -> ::std::result::Result<Self, ::std::string::String> {
                match kind {
                    $(
                        $kind => $crate::applet_ops!(@decode body, $value $(, $wire)?)
                            .map(Self::$variant)
                            .map_err(|e| $crate::applets::body::body_error($applet, stringify!($kind), &e)),
                    )+
                    other => ::std::result::Result::Err(::std::format!("{} has no kind {other}", $applet)),
                }
            }
        }

        impl $crate::applets::AppletOp for $op {
            fn applet(&self) -> &'static str {
                $applet
            }
            fn kind_and_body(&self) -> (u16, ::std::vec::Vec<u8>) {
                self.body()
            }
        }
    };
    (@encode $v:ident, $value:ty) => {
        $crate::codec::encode_value($v)
    };
    (@encode $v:ident, $value:ty, $wire:ty) => {
        $crate::codec::encode_value(&<$wire as ::core::convert::From<$value>>::from(
            ::core::clone::Clone::clone($v),
        ))
    };
    (@decode $b:ident, $value:ty) => {
        $crate::codec::decode_value::<$value>($b)
    };
    (@decode $b:ident, $value:ty, $wire:ty) => {
        $crate::codec::decode_value::<$wire>($b).map(<$value as ::core::convert::From<$wire>>::from)
    };
}

/// The reason a body of kind `kind_const` (a constant's name, `KIND_JOIN`)
/// of `applet` does not decode: `queue join body: <why>`. Used by
/// [`applet_ops!`](crate::applet_ops).
pub fn body_error(applet: &str, kind_const: &str, e: &crate::codec::WireError) -> String {
    format!("{applet} {} body: {e}", kind_word(kind_const))
}

/// A kind constant's name as words: `KIND_KIOSK_ADD` reads `kiosk add`.
pub fn kind_word(kind_const: &str) -> String {
    kind_const
        .strip_prefix("KIND_")
        .unwrap_or(kind_const)
        .to_ascii_lowercase()
        .replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_words_read_as_people_write_them() {
        assert_eq!(kind_word("KIND_JOIN"), "join");
        assert_eq!(kind_word("KIND_KIOSK_ADD"), "kiosk add");
        assert_eq!(kind_word("OTHER"), "other");
    }
}

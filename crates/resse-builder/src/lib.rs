//! The plain builder methods of resse's configuration types, written once.
//!
//! Every resse configuration type (`DecoderConfig`, `ReconnectConfig`,
//! `FanoutConfig`, `RedisConfig`, the servers' configurations…) has
//! chainable by-value setters and `get_*` getters, and most of them do
//! nothing but set or return one field. Written out, each is the same five
//! lines under its own doc comment, in type after type. [`field_methods!`]
//! is the one definition of that shape: a configuration type lists such
//! methods by their signatures and doc comments, and the macro writes their
//! bodies. A method that does more (checks or clamps its value, converts it
//! with `Into`, wraps it in `Some` or an `Arc`, sets two fields) stays
//! written by hand beside them.
//!
//! The methods it writes are ordinary methods of the type that invokes it:
//! their names, signatures, attributes and documentation are the ones given
//! to the macro, so the public API and its rustdoc are the same as if they
//! were written by hand.
//!
//! Not an API of its own: it exists for the resse crates, which depend on
//! it at their own version. It has no dependencies, no runtime code and is
//! `no_std`.
#![no_std]
#![forbid(unsafe_code)]

/// Writes plain setters and getters, inside an `impl` block, from their
/// signatures.
///
/// Each item is a method's signature, with its doc comment and any
/// attributes (such as `#[must_use]`), ending in `;`. There are three
/// shapes, each written as the method it stands for:
///
/// | item | the method's body |
/// | --- | --- |
/// | `pub fn name(mut self, value: T) -> Self;` | sets the field `name` (the method's own name) to `value`, returns `self` |
/// | `pub fn get_name(&self) -> T = self.field;` | returns `self.field` (a copy) |
/// | `pub fn get_name(&self) -> &T = &self.field;` | returns `&self.field` (deref coercion applies: a `String` field can be returned as `&str`) |
///
/// Anything else (a setter that converts, checks or wraps its value, a
/// getter that computes) is not accepted: write that method by hand. Items
/// come out in the order given, so a type can interleave invocations with
/// hand-written methods and keep its documented order.
///
/// ```
/// use std::time::Duration;
///
/// #[derive(Default)]
/// pub struct Config {
///     timeout: Duration,
///     name: String,
/// }
///
/// impl Config {
///     resse_builder::field_methods! {
///         /// How long to wait (default 0).
///         #[must_use]
///         pub fn timeout(mut self, d: Duration) -> Self;
///
///         /// The timeout.
///         pub fn get_timeout(&self) -> Duration = self.timeout;
///         /// The name.
///         pub fn get_name(&self) -> &str = &self.name;
///     }
/// }
///
/// let config = Config::default().timeout(Duration::from_secs(1));
/// assert_eq!(config.get_timeout(), Duration::from_secs(1));
/// assert_eq!(config.get_name(), "");
/// ```
#[macro_export]
macro_rules! field_methods {
    () => {};
    (
        $(#[$attr:meta])*
        pub fn $name:ident(mut self, $value:ident: $ty:ty) -> Self;
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        pub fn $name(mut self, $value: $ty) -> Self {
            self.$name = $value;
            self
        }
        $crate::field_methods! { $($rest)* }
    };
    (
        $(#[$attr:meta])*
        pub fn $name:ident(&self) -> $ty:ty = self.$field:ident;
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        pub fn $name(&self) -> $ty {
            self.$field
        }
        $crate::field_methods! { $($rest)* }
    };
    (
        $(#[$attr:meta])*
        pub fn $name:ident(&self) -> $ty:ty = &self.$field:ident;
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        pub fn $name(&self) -> $ty {
            &self.$field
        }
        $crate::field_methods! { $($rest)* }
    };
}

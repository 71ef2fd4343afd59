//! Node bindings. The full SDK is tracked in its own issue; for now the addon exposes the
//! engine version so building and loading are exercised.

use napi_derive::napi;

#[napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

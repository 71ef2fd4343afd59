//! Python bindings (`import stt`). The full SDK is tracked in its own issue; for now the module
//! exposes the engine version so packaging and loading are exercised.

use pyo3::prelude::*;

#[pymodule]
fn stt(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! Finding and loading the ONNX Runtime shared library. ort's `load-dynamic` would otherwise
//! dlopen `libonnxruntime.so` from the search path and panic if it is absent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights};

use crate::store::stt_home;
use crate::{Error, Result};

/// How to load a model's sessions.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub precision: super::Precision,
    /// Where the Whisper model runs; voice activity detection and speaker embeddings always
    /// run on the CPU (a 32 ms frame or a 1.5 s window is too little work for a GPU).
    pub device: Device,
    /// Path of the ONNX Runtime library; found automatically when `None`.
    pub ort_library: Option<PathBuf>,
    /// Threads per session for one operator; ONNX Runtime picks when `None`.
    pub intra_threads: Option<usize>,
}

/// Where a model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    Cpu,
    /// An NVIDIA GPU, by index, through ONNX Runtime's CUDA provider (the `onnxruntime-gpu`
    /// library with CUDA 13 and cuDNN 9); loading fails when it cannot be used.
    Cuda(u32),
    /// The first GPU when the library and the machine can use it, else the CPU.
    #[default]
    Auto,
}

impl std::str::FromStr for Device {
    type Err = Error;

    /// `cpu`, `cuda` (`gpu`), `cuda:N` or `auto`, in any case.
    fn from_str(name: &str) -> Result<Self> {
        let lower = name.to_ascii_lowercase();
        let index = lower.strip_prefix("cuda:").map(str::parse::<u32>);
        match (lower.as_str(), index) {
            ("cpu", _) => Ok(Device::Cpu),
            ("cuda" | "gpu", _) => Ok(Device::Cuda(0)),
            ("auto", _) => Ok(Device::Auto),
            (_, Some(Ok(index))) => Ok(Device::Cuda(index)),
            _ => Err(Error::InvalidOption(format!(
                "device {name:?} is not available; use \"cpu\", \"cuda\", \"cuda:N\" or \"auto\""
            ))),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(index) => write!(f, "cuda:{index}"),
            Device::Auto => f.write_str("auto"),
        }
    }
}

static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);

/// Where the ONNX Runtime library is: `explicit`, else `$STT_ORT_LIB`, else `$ORT_DYLIB_PATH`
/// (the first one given is the only place looked at), else the directory of the running
/// program (a release archive carries the library beside `stt`), else `$STT_HOME/runtime/`,
/// else the `onnxruntime` package of [`crate::store::python`].
pub fn runtime_library(explicit: Option<&Path>) -> Result<PathBuf> {
    let given = explicit
        .map(|path| ("the ort_library option".to_string(), path.to_path_buf()))
        .or_else(|| {
            ["STT_ORT_LIB", "ORT_DYLIB_PATH"]
                .into_iter()
                .find_map(|var| {
                    let value = std::env::var_os(var).filter(|v| !v.is_empty())?;
                    Some((format!("${var}"), PathBuf::from(value)))
                })
        });
    if let Some((origin, path)) = given {
        // An explicit choice is never silently replaced by another library.
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::RuntimeNotFound(format!(
                "{origin} = {}",
                path.display()
            )))
        };
    }

    let mut looked = Vec::new();
    let beside_program = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    for dir in beside_program
        .into_iter()
        .chain([stt_home().join("runtime")])
    {
        if let Some(found) = library_in(&dir) {
            return Ok(found);
        }
        looked.push(dir.display().to_string());
    }

    match python_package_dir() {
        Some(dir) => {
            if let Some(found) = library_in(&dir) {
                return Ok(found);
            }
            looked.push(dir.display().to_string());
        }
        None => looked.push("the onnxruntime Python package (not installed)".into()),
    }
    Err(Error::RuntimeNotFound(format!(
        "{}; run scripts/setup.sh or set STT_ORT_LIB",
        looked.join(", ")
    )))
}

/// The newest `libonnxruntime.so*` (or platform equivalent) directly inside `dir`.
fn library_in(dir: &Path) -> Option<PathBuf> {
    let prefix = format!(
        "{}onnxruntime{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|name| name.starts_with(&prefix))
        })
        .collect();
    found.sort();
    found.pop()
}

/// `onnxruntime/capi` of the Python package, located without importing it.
fn python_package_dir() -> Option<PathBuf> {
    let python = crate::store::python();
    let output = Command::new(python)
        .args([
            "-c",
            "import importlib.util as u, os; s = u.find_spec('onnxruntime'); \
             print(os.path.join(os.path.dirname(s.origin), 'capi') if s else '')",
        ])
        .output()
        .ok()?;
    let dir = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// The process-wide ONNX Runtime environment, loading the library on first use.
fn environment(explicit_library: Option<&Path>) -> Result<Environment> {
    let mut slot = ENVIRONMENT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(env) = slot.as_ref() {
        return Ok(env.clone());
    }
    let library = runtime_library(explicit_library)?;
    fix_mmap_threshold();
    let env = ort::init_from(&library)
        .map_err(|e| Error::Runtime(e.to_string()))?
        .with_name("stt")
        .with_telemetry(false)
        .build()
        .map_err(|e| Error::Runtime(format!("{}: {e}", library.display())))?;
    *slot = Some(env.clone());
    Ok(env)
}

/// Keeps large tensors in their own mappings. glibc raises its mmap threshold each time a
/// large block is freed, up to 32 MiB, so over hours more tensors land in the heap and
/// fragment it: 3 h of audio peaked 26% above 3 min; with a fixed 4 MiB, 11%. A threshold the
/// user set in the environment is kept.
fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt takes no pointers and only changes glibc's allocation policy.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        }
    }
}

/// Gives the memory freed since the last call back to the system. Without ONNX Runtime's
/// arena every tensor comes from malloc, and glibc keeps the holes that a window's growing
/// key/value cache and the encoder's activations leave (140 MB of peak resident memory on a
/// 157 s file); returning them at window boundaries costs a few milliseconds.
pub(crate) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers; it only walks glibc's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Weights re-laid out for the matrix kernels, shared by every session of the process, so
/// that the workers of a server that each load one model do not each pack its weights.
fn prepacked_weights() -> &'static PrepackedWeights {
    static PREPACKED: OnceLock<PrepackedWeights> = OnceLock::new();
    PREPACKED.get_or_init(PrepackedWeights::new)
}

/// A session of the model at `path` on `options.device`, and the device it got: `Auto` gives
/// the GPU when CUDA can be used there, else the CPU.
pub(crate) fn open_session(path: &Path, options: &LoadOptions) -> Result<(Session, Device)> {
    let env = environment(options.ort_library.as_deref())?;
    let gpu = match options.device {
        Device::Cpu => None,
        Device::Cuda(index) => Some(index),
        Device::Auto => ep::CUDA::is_available().unwrap_or(false).then_some(0),
    };
    if let Some(index) = gpu {
        match (
            build_session(&env, path, options, Some(index)),
            options.device,
        ) {
            (Ok(session), _) => return Ok((session, Device::Cuda(index))),
            (Err(_), Device::Auto) => {} // no usable GPU: the CPU it is
            (Err(e), _) => return Err(e),
        }
    }
    Ok((build_session(&env, path, options, None)?, Device::Cpu))
}

fn build_session(
    env: &Environment,
    path: &Path,
    options: &LoadOptions,
    gpu: Option<u32>,
) -> Result<Session> {
    let failed = |e: ort::Error| Error::InvalidModel(format!("{}: {e}", path.display()));
    // Without the arena, the encoder's activations (100 MB and more for a 30 s window) go back
    // to the system after each pass instead of staying reserved; it costs no measurable time.
    let mut providers = vec![ep::CPU::default().with_arena_allocator(false).build()];
    if let Some(index) = gpu {
        let cuda = ep::CUDA::default()
            .with_device_id(index as i32)
            .build()
            .error_on_failure();
        providers.insert(0, cuda);
    }
    let mut builder = Session::builder(env)
        .map_err(failed)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| failed(e.into()))?
        .with_prepacked_weights(prepacked_weights())
        .map_err(|e| failed(e.into()))?;
    builder = builder
        .with_execution_providers(providers)
        .map_err(|e| match gpu {
            Some(index) => Error::Runtime(format!(
                "CUDA device {index} cannot be used ({e}); it needs the onnxruntime-gpu \
                 library (CUDA 13, cuDNN 9) and an NVIDIA GPU, or use device \"cpu\""
            )),
            None => failed(e.into()),
        })?;
    if let Some(threads) = options.intra_threads {
        builder = builder
            .with_intra_threads(threads)
            .map_err(|e| failed(e.into()))?;
    }
    builder.commit_from_file(path).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_by_name_and_index() {
        assert_eq!("CPU".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("gpu".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("cuda:1".parse::<Device>().unwrap(), Device::Cuda(1));
        assert_eq!("auto".parse::<Device>().unwrap(), Device::Auto);
        assert_eq!(Device::Cuda(1).to_string(), "cuda:1");
        for bad in ["tpu", "cuda:", "cuda:-1", ""] {
            let error = bad.parse::<Device>().unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::InvalidOption, "{bad}");
        }
    }
}

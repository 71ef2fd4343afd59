//! The audio tools of the command line: `stt enhance`.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use stt_core::audio::{self, DecodeOptions};
use stt_core::enhance::{EnhanceOptions, Enhancer};
use stt_core::{CancelToken, LoadOptions};

#[derive(clap::Args)]
pub struct EnhanceArgs {
    /// Audio or video file to clean.
    input: PathBuf,
    /// Where the 48 kHz 16-bit WAV goes (`-` for standard output).
    output: PathBuf,
    /// The most the noise is lowered, in dB (default: all the model removes).
    #[arg(long, value_name = "DB")]
    attenuation_limit: Option<f32>,
    /// Integrated loudness of the output in LUFS.
    #[arg(
        long,
        value_name = "LUFS",
        allow_negative_numbers = true,
        conflicts_with = "no_normalize"
    )]
    loudness: Option<f32>,
    /// Keep the level the model gives (no loudness normalisation).
    #[arg(long)]
    no_normalize: bool,
}

pub fn enhance(args: EnhanceArgs) -> Result<(), String> {
    let defaults = EnhanceOptions::default();
    let options = EnhanceOptions {
        attenuation_limit_db: args.attenuation_limit,
        target_lufs: match args.no_normalize {
            true => None,
            false => args.loudness.or(defaults.target_lufs),
        },
    };
    let enhancer = Enhancer::load(None, &LoadOptions::default()).map_err(|e| e.to_string())?;
    let decode = DecodeOptions {
        sample_rate: enhancer.sample_rate(),
        ..DecodeOptions::spooled()
    };
    let input = audio::spool_file(&args.input, &decode).map_err(|e| e.to_string())?;
    for warning in &input.warnings {
        eprintln!("warning: {warning}");
    }
    let enhanced = enhancer
        .enhance(&input.samples, &options, &CancelToken::new())
        .map_err(|e| e.to_string())?;
    let write = |out: &mut dyn Write| -> Result<(), String> {
        let mut out = BufWriter::new(out);
        enhanced.write_wav(&mut out).map_err(|e| e.to_string())?;
        out.flush()
            .map_err(|e| format!("cannot write the output: {e}"))
    };
    if args.output.as_os_str() == "-" {
        return write(&mut std::io::stdout().lock());
    }
    let mut file = std::fs::File::create(&args.output)
        .map_err(|e| format!("cannot create {}: {e}", args.output.display()))?;
    write(&mut file)
}

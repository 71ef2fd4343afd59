//! The audio tools of the command line: `stt enhance` and `stt say`.

use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;

use stt_core::audio::{self, AudioFormat, DecodeOptions, Encoder};
use stt_core::enhance::{EnhanceOptions, Enhancer};
use stt_core::tts::{PiperVoice, SpeechOptions, Voice};
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
    let options = EnhanceOptions::new(args.attenuation_limit, args.loudness, !args.no_normalize)
        .map_err(|e| e.to_string())?;
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
    write_output(&args.output, &mut |out| {
        enhanced.write_wav(out).map_err(|e| e.to_string())
    })
}

/// Writes to the file `path`, or standard output for `-`.
fn write_output(
    path: &PathBuf,
    write: &mut dyn FnMut(&mut dyn Write) -> Result<(), String>,
) -> Result<(), String> {
    let mut out: BufWriter<Box<dyn Write>> = BufWriter::new(match path.as_os_str() == "-" {
        true => Box::new(std::io::stdout().lock()),
        false => Box::new(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?,
        ),
    });
    write(&mut out)?;
    out.flush()
        .map_err(|e| format!("cannot write the output: {e}"))
}

#[derive(clap::Args)]
pub struct SayArgs {
    /// The text to speak (`-` reads standard input).
    text: String,
    /// Where the audio goes (`-` for standard output); its extension picks the format
    /// (.wav, .mp3, .opus, .pcm) unless `--format` is given.
    #[arg(short, long, required_unless_present = "phonemes")]
    output: Option<PathBuf>,
    /// wav, mp3, opus (Ogg, 48 kHz) or pcm (16-bit mono at the voice's rate).
    #[arg(long)]
    format: Option<String>,
    /// An installed voice (default: en_US-joe-medium).
    #[arg(long)]
    voice: Option<String>,
    /// Speaking rate, 0.25 to 4 (2 is twice as fast).
    #[arg(long, default_value_t = SpeechOptions::default().speed)]
    speed: f32,
    /// How much the sound varies from run to run (0: the same every time).
    #[arg(long)]
    noise_scale: Option<f32>,
    /// How much the phonemes' durations vary.
    #[arg(long)]
    noise_w: Option<f32>,
    /// Print the phonemes of each sentence instead of speaking.
    #[arg(long)]
    phonemes: bool,
}

pub fn say(args: SayArgs) -> Result<(), String> {
    let text = match args.text.as_str() {
        "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            text
        }
        _ => args.text.clone(),
    };
    let voice = PiperVoice::load(args.voice.as_deref(), None, &LoadOptions::default())
        .map_err(|e| e.to_string())?;
    if args.phonemes {
        for sentence in voice.phonemes(&text).map_err(|e| e.to_string())? {
            println!("{sentence}");
        }
        return Ok(());
    }
    let output = args.output.unwrap_or_default();
    let extension = output.extension().and_then(|e| e.to_str()).unwrap_or("wav");
    let format = AudioFormat::parse(args.format.as_deref().unwrap_or(extension))
        .map_err(|e| e.to_string())?;
    let options = SpeechOptions {
        speed: args.speed,
        noise_scale: args.noise_scale,
        noise_w: args.noise_w,
        ..SpeechOptions::default()
    };
    options.validate().map_err(|e| e.to_string())?;
    let mut samples = Vec::new();
    voice
        .speak(&text, &options, &CancelToken::new(), &mut |piece| {
            samples.extend_from_slice(piece);
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    let rate = voice.sample_rate();
    let mut encoder =
        Encoder::new(format, rate, rate, Some(samples.len())).map_err(|e| e.to_string())?;
    let mut bytes = encoder.push(&samples).map_err(|e| e.to_string())?;
    bytes.extend(encoder.finish().map_err(|e| e.to_string())?);
    write_output(&output, &mut |out| {
        out.write_all(&bytes)
            .map_err(|e| format!("cannot write the output: {e}"))
    })
}

//! Speed of the LLM runtime on the CPU, in the terms of llama.cpp's `llama-bench`
//! (`-p 256 -n 64 -r 3`): a prompt of about 256 tokens (English prose, then a request to
//! count from 1 to 300, so that greedy decoding runs the full 64 tokens) read in
//! through `Llm::generate`, which then makes 64 tokens (the sampler is the runtime's own:
//! repetition penalty, then greedy). One warm-up run, then 3 measured runs.
//! Prints prompt tokens/s (`prompt_tokens / prompt_seconds`), generation tokens/s
//! (`completion_tokens / generation_seconds`), mean ± sd, the peak resident memory (VmHWM)
//! and one JSON line for scripts (`benches/llm_speed.sh` compares it with llama-bench).
//!
//! `cargo bench -p stt-llm --bench speed`; `STT_BENCH_LLM` (default `qwen2.5-coder-0.5b`),
//! `STT_BENCH_THREADS` (default 2).

use stt_core::{CancelToken, Device};
use stt_llm::{Generation, Llm, LlmOptions, Message, SamplingOptions};

const PROMPT_TOKENS: usize = 256;
const GENERATED_TOKENS: u32 = 64;
const RUNS: usize = 3;

const PROSE: &str = "The river runs slowly past the old mill, where the miller's family has \
ground wheat for four generations. In the spring the water rises and the wheel turns faster, \
and the village children gather on the bridge to watch the foam. Farmers bring their carts \
along the lane before dawn, and the smell of flour drifts over the fields until the evening \
bell rings from the church on the hill.";

/// Greedy decoding follows it well past 64 tokens with both Qwen2.5-Coder models (asked to
/// continue a list ending in "10," instead, the 0.5B model rewrites 1 to 10 and stops).
const REQUEST: &str = "Count from 1 to 300, separated by commas, and write nothing else.";

/// The request after as many words of repeated prose as fit in `PROMPT_TOKENS` tokens of the
/// rendered conversation (chat template included: that is what `generate` decodes).
fn prompt(llm: &Llm) -> (Vec<Message>, usize) {
    let words: Vec<&str> = PROSE.split_whitespace().collect();
    let messages = |n: usize| {
        let prose: Vec<&str> = words.iter().copied().cycle().take(n).collect();
        vec![Message::user(format!("{}\n\n{REQUEST}", prose.join(" ")))]
    };
    let count = |n: usize| {
        llm.count_prompt_tokens(&messages(n))
            .expect("chat template")
    };
    let mut n = 0;
    while count(n + 1) <= PROMPT_TOKENS {
        n += 1;
    }
    (messages(n), count(n))
}

fn mean_sd(values: &[f64]) -> (f64, f64) {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var =
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len().max(2) - 1) as f64;
    (mean, var.sqrt())
}

/// Peak resident memory of this process (VmHWM), MiB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let name = std::env::var("STT_BENCH_LLM").unwrap_or_else(|_| "qwen2.5-coder-0.5b".into());
    let threads: usize = std::env::var("STT_BENCH_THREADS")
        .map_or(Ok(2), |t| t.parse())
        .expect("STT_BENCH_THREADS: a number");
    let options = LlmOptions {
        threads: Some(threads),
        context_tokens: 1024,
        device: Device::Cpu,
    };
    let llm = match Llm::load(Some(&name), &options) {
        Ok(llm) => llm,
        Err(e) => {
            eprintln!("speed: cannot load {name}: {e}");
            std::process::exit(1);
        }
    };
    let (messages, prompt_tokens) = prompt(&llm);
    let sampling = SamplingOptions {
        max_tokens: GENERATED_TOKENS,
        ..Default::default()
    };
    let run = || -> Generation {
        llm.generate(&messages, &sampling, &CancelToken::new(), &mut |_| {})
            .expect("generate")
    };
    println!(
        "{name}, {threads} threads, CPU: prompt of {prompt_tokens} tokens, {GENERATED_TOKENS} generated"
    );
    let warm_up = run();
    println!(
        "warm-up: {} tokens: {:?}",
        warm_up.completion_tokens,
        warm_up.text.chars().take(120).collect::<String>()
    );
    let runs: Vec<Generation> = (0..RUNS).map(|_| run()).collect();
    let pp: Vec<f64> = runs
        .iter()
        .map(|g| g.prompt_tokens as f64 / g.prompt_seconds)
        .collect();
    let tg: Vec<f64> = runs
        .iter()
        .map(|g| g.completion_tokens as f64 / g.generation_seconds)
        .collect();
    let tg_tokens = runs.iter().map(|g| g.completion_tokens).min().unwrap_or(0);
    let (pp_mean, pp_sd) = mean_sd(&pp);
    let (tg_mean, tg_sd) = mean_sd(&tg);
    let rss = peak_rss_mb();
    println!("prompt:     {pp_mean:8.2} ± {pp_sd:.2} tokens/s  (pp{prompt_tokens})");
    println!("generation: {tg_mean:8.2} ± {tg_sd:.2} tokens/s  (tg{tg_tokens})");
    match rss {
        Some(mb) => println!("peak RSS:   {mb:8.1} MiB"),
        None => println!("peak RSS:   unknown (no /proc/self/status)"),
    }
    if tg_tokens < GENERATED_TOKENS as usize {
        println!(
            "warning: only {tg_tokens} of {GENERATED_TOKENS} tokens were generated (the model stopped early)"
        );
    }
    // By hand, to keep the keys in this order (serde_json's maps sort them).
    println!(
        "{{\"model\":{},\"threads\":{threads},\"pp_tokens\":{prompt_tokens},\"pp_tps\":{pp_mean:.3},\"pp_sd\":{pp_sd:.3},\"tg_tokens\":{tg_tokens},\"tg_tps\":{tg_mean:.3},\"tg_sd\":{tg_sd:.3},\"peak_rss_mb\":{}}}",
        serde_json::Value::from(name.as_str()),
        rss.map_or_else(|| "null".into(), |mb| format!("{mb:.1}")),
    );
}

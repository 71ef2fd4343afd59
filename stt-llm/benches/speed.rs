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

/// Peak resident memory of this process, MiB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    if let Ok(path) = std::env::var("EXPLAIN_GGUF") {
        return explain::run(&path, 2);
    }
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
        Some(mb) => println!("peak RSS:   {mb:8.1} MB"),
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

// TEMPORARY EXPERIMENT (removed after the investigation).
pub mod explain {
    use llama_cpp_2::context::LlamaContext;
    use llama_cpp_2::context::params::LlamaContextParams;
    use llama_cpp_2::llama_backend::LlamaBackend;
    use llama_cpp_2::llama_batch::LlamaBatch;
    use llama_cpp_2::model::LlamaModel;
    use llama_cpp_2::model::params::LlamaModelParams;
    use llama_cpp_2::sampling::LlamaSampler;
    use llama_cpp_2::token::LlamaToken;
    use std::num::NonZeroU32;
    use std::time::Instant;

    fn stats(name: &str, v: &[f64]) {
        let (m, s) = super::mean_sd(v);
        println!("{name:28} {m:8.2} ± {s:.2} t/s");
    }

    pub fn run(path: &str, threads: i32) {
        let mut backend = LlamaBackend::init().unwrap();
        backend.void_logs();
        let model = LlamaModel::load_from_file(
            &backend,
            path,
            &LlamaModelParams::default().with_n_gpu_layers(0),
        )
        .unwrap();
        let n_vocab = model.n_vocab();
        let tokens: Vec<LlamaToken> = (0..256)
            .map(|i| LlamaToken((i * 7919 + 13) % 30000 + 100))
            .collect();
        let params = |n_ctx: u32, n_batch: u32| {
            LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(n_ctx))
                .with_n_batch(n_batch)
                .with_n_threads(threads)
                .with_n_threads_batch(threads)
        };
        let decode_prompt = |ctx: &mut LlamaContext| -> f64 {
            let mut batch = LlamaBatch::new(512, 1);
            for (i, t) in tokens.iter().enumerate() {
                batch
                    .add(*t, i as i32, &[0], i + 1 == tokens.len())
                    .unwrap();
            }
            let t0 = Instant::now();
            ctx.decode(&mut batch).unwrap();
            256.0 / t0.elapsed().as_secs_f64()
        };
        // mode 0: none, 1: greedy, 2: penalties+greedy
        let generate = |ctx: &mut LlamaContext, start: usize, mode: u8| -> f64 {
            let mut sampler = match mode {
                1 => Some(LlamaSampler::greedy()),
                2 => Some(LlamaSampler::chain_simple([
                    LlamaSampler::penalties(n_vocab, 64, 1.1, 0.0, 0.0),
                    LlamaSampler::greedy(),
                ])),
                _ => None,
            };
            let mut batch = LlamaBatch::new(1, 1);
            let mut token = LlamaToken(1000);
            let t0 = Instant::now();
            for i in 0..64 {
                batch.clear();
                batch.add(token, (start + i) as i32, &[0], true).unwrap();
                ctx.decode(&mut batch).unwrap();
                token = match &mut sampler {
                    Some(s) => s.sample(ctx, 0),
                    None => LlamaToken(((i * 31337) % 30000 + 100) as i32),
                };
            }
            64.0 / t0.elapsed().as_secs_f64()
        };
        let reps = |f: &mut dyn FnMut() -> f64| -> Vec<f64> {
            f();
            (0..3).map(|_| f()).collect()
        };
        let which = std::env::var("EXPLAIN").unwrap_or("pp,tg".into());
        if which.contains("pp") {
            stats(
                "pp fresh ctx (runtime)",
                &reps(&mut || {
                    let mut ctx = model.new_context(&backend, params(320, 512)).unwrap();
                    decode_prompt(&mut ctx)
                }),
            );
            let mut ctx = model.new_context(&backend, params(320, 512)).unwrap();
            stats(
                "pp reused ctx (llama-bench)",
                &reps(&mut || {
                    ctx.clear_kv_cache();
                    decode_prompt(&mut ctx)
                }),
            );
            drop(ctx);
            stats(
                "pp fresh ctx n_batch 2048",
                &reps(&mut || {
                    let mut ctx = model.new_context(&backend, params(320, 2048)).unwrap();
                    decode_prompt(&mut ctx)
                }),
            );
        }
        if which.contains("tg") {
            let mut ctx = model.new_context(&backend, params(320, 512)).unwrap();
            stats(
                "tg d0 reused, no sampling",
                &reps(&mut || {
                    ctx.clear_kv_cache();
                    generate(&mut ctx, 0, 0)
                }),
            );
            for (name, mode) in [
                ("tg d256 fresh, no sampling", 0u8),
                ("tg d256 fresh, greedy", 1),
                ("tg d256 fresh, penalties+gr", 2),
            ] {
                stats(
                    name,
                    &reps(&mut || {
                        let mut ctx = model.new_context(&backend, params(320, 512)).unwrap();
                        decode_prompt(&mut ctx);
                        generate(&mut ctx, 256, mode)
                    }),
                );
            }
        }
    }
}

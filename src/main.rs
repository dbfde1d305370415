//! `magnets`: the command-line front end. Each subcommand lives in `src/cli/<name>.rs` (or `src/cli/<name>/`).

use clap::{Parser, Subcommand};

/// `println!` that hands a failed write (a full disk, a closed pipe where SIGPIPE is not
/// fatal) back as an error instead of panicking: `outln!(...)?`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)
            .map_err(|e| magnets::Error::Io(std::io::Error::other(format!("cannot write the output: {e}"))))
    }};
}

mod cli;

#[derive(Parser)]
#[command(name = "magnets", version, about = "MaGNeTS: nested MaskGIT with decode-time scaling")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write randomly initialised weights for a config.
    Init(cli::init::Args),
    /// List the shipped models (models/models.json): the default, and each one's files.
    Models(cli::models::Args),
    /// Decode images with a schedule; write tokens + trace JSON (and PNGs with a tokenizer).
    Generate(cli::generate::Args),
    /// Table of per-step and total GFLOPs for a schedule vs the MaskGIT baseline.
    Flops(cli::flops::Args),
    /// Debug: logits for a JSON request (cross-implementation parity checks).
    Forward(cli::forward::Args),
    /// Time the MaskGIT baseline vs MaGNeTS on the WGSL engine, and vs burn-wgpu.
    Bench(cli::bench::Args),
    /// Train the nested MaskGIT transformer (nested widths + online distillation).
    Train(cli::train::Args),
    /// Generate class-balanced samples with a schedule and score them (FID-emoji, GFLOPs).
    Eval(cli::eval::Args),
    /// The FID gap between two `eval --features-out` rows of the same draws, with a paired
    /// bootstrap interval on the gap itself.
    FidGap(cli::fid_gap::Args),
    /// Frame prediction: continue held-out clips from their first frame and score the futures
    /// (frame-FID, motion, PSNR, GFLOPs).
    EvalClips(cli::eval_clips::Args),
    /// Fetch the emoji art (npm pack) and build the 32×32 dataset.
    Data(cli::data::Args),
    /// Train the VQ tokenizer (resumable) and write models/tokenizer.safetensors.
    TrainTokenizer(cli::train_tokenizer::Args),
    /// Encode the dataset (or the animated clips) into a token dataset (+ contact sheet).
    Tokenize(cli::tokenize::Args),
    /// Train the FID-emoji category classifier.
    TrainClassifier(cli::train_classifier::Args),
    /// FID-emoji / precision / recall / class accuracy of a folder of PNGs.
    EvalImages(cli::eval_images::Args),
    /// Write what the page needs from the tokenizer: the decoder-only file and its colour per code.
    WebAssets(cli::web_assets::Args),
}

fn main() {
    // Output piped into `head` and the like: end quietly when the reader goes away, as Unix
    // tools do, instead of panicking on the next `println!` (Rust ignores SIGPIPE by default).
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(a) => cli::init::run(a),
        Command::Models(a) => cli::models::run(a),
        Command::Generate(a) => cli::generate::run(a),
        Command::Flops(a) => cli::flops::run(a),
        Command::Forward(a) => cli::forward::run(a),
        Command::Bench(a) => cli::bench::run(a),
        Command::Data(a) => cli::data::run(a),
        Command::TrainTokenizer(a) => cli::train_tokenizer::run(a),
        Command::Tokenize(a) => cli::tokenize::run(a),
        Command::TrainClassifier(a) => cli::train_classifier::run(a),
        Command::EvalImages(a) => cli::eval_images::run(a),
        Command::Train(a) => cli::train::run(a),
        Command::Eval(a) => cli::eval::run(a),
        Command::EvalClips(a) => cli::eval_clips::run(a),
        Command::FidGap(a) => cli::fid_gap::run(a),
        Command::WebAssets(a) => cli::web_assets::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

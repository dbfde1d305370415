//! `magnets data`: fetch the two emoji art packages with `npm pack`, verify, and build the
//! 32×32 dataset file (a no-op when it already exists). See `magnets::data` for the policies.

use std::path::PathBuf;

use magnets::data::{CATEGORIES, DEFAULT_DATASET, pipeline};

#[derive(clap::Args)]
pub struct Args {
    /// Folder for the downloaded tarballs.
    #[arg(long, default_value = "data")]
    pub dir: PathBuf,
    /// Dataset file to write.
    #[arg(long, default_value = DEFAULT_DATASET)]
    pub out: PathBuf,
}

pub fn run(a: Args) -> magnets::Result<()> {
    let ds = pipeline::build(&a.dir, &a.out)?;
    let counts = ds.counts();
    println!("| category | train | held-out |\n|---|---:|---:|");
    for (c, name) in CATEGORIES.iter().enumerate() {
        println!("| {name} | {} | {} |", counts[c][0], counts[c][1]);
    }
    let (tr, ho): (usize, usize) = counts.iter().fold((0, 0), |(a, b), c| (a + c[0], b + c[1]));
    println!("| total | {tr} | {ho} |");
    eprintln!("dataset: {} ({} images, vendors {:?})", a.out.display(), ds.len(), ds.vendors);
    Ok(())
}

//! `emporium compose`: writes the composed supergraph, or checks that the file is current.

use std::path::Path;

use anyhow::Context;

pub fn compose(out: &Path, check: bool) -> anyhow::Result<()> {
    let supergraph = crate::compose::supergraph()?;
    if check {
        let current =
            std::fs::read_to_string(out).with_context(|| format!("reading {}", out.display()))?;
        anyhow::ensure!(
            current == supergraph,
            "{} is stale: run `emporium compose`",
            out.display()
        );
        println!("{} is current", out.display());
        return Ok(());
    }
    std::fs::write(out, supergraph).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

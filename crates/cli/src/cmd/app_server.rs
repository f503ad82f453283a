//! `sockmux app-server`: the server flags plus the app protocol's limits
//! and search table, and the app service built from them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use sockmux_core::AppService;
use sockmux_proto::{Limits, QuoteStyle, SearchService, Table};

use super::server::{self, ServerArgs};
use crate::exit::Exit;
use crate::parse;

/// Default for `--max-table-bytes`: a million-entry table is about 80 MB.
const DEFAULT_MAX_TABLE: usize = 256 * 1024 * 1024;

/// `sockmux app-server`.
#[derive(Debug, Args)]
#[command(after_help = server::exit_help())]
pub struct AppServerArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Search table: a JSON object of string keys to string answers [default: the built-in 3 entries]
    #[arg(long, value_name = "FILE")]
    table: Option<PathBuf>,
    /// Largest request content accepted, in bytes (at most 1 GiB).
    #[arg(long, value_name = "BYTES", value_parser = parse::bytes,
          default_value_t = Limits::DEFAULT_MAX_CONTENT)]
    max_content: usize,
    /// Largest table file read, in bytes (at most 1 GiB); a larger file stops start-up.
    #[arg(long, value_name = "BYTES", value_parser = parse::bytes, default_value_t = DEFAULT_MAX_TABLE)]
    max_table_bytes: usize,
    /// Largest JSON header accepted, in bytes (at most 65535).
    #[arg(long, value_name = "BYTES", value_parser = parse::header_bytes,
          default_value_t = Limits::DEFAULT_MAX_HEADER)]
    max_header: usize,
    /// How result texts quote the name they repeat (`No match for "x".`): double, as the
    /// original post's server, or single, as the tutorial's current server (since 2022).
    #[arg(long, value_enum, default_value_t = Quote::Double)]
    quote_style: Quote,
}

/// `--quote-style`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Quote {
    /// `No match for "x".` (the post's version; the default).
    Double,
    /// `No match for 'x'.` (the tutorial's current version).
    Single,
}

/// Runs `sockmux app-server`.
pub fn run(args: AppServerArgs) -> anyhow::Result<Exit> {
    let mut config = args.server.config()?;
    config.limits = Limits {
        max_header: args.max_header,
        max_content: args.max_content,
    };
    let table = match &args.table {
        None => Table::builtin(),
        Some(path) => load_table(path, args.max_table_bytes)?,
    };
    let entries = table.len() as u64;
    let quote = match args.quote_style {
        Quote::Double => QuoteStyle::Double,
        Quote::Single => QuoteStyle::Single,
    };
    let service = AppService::new(
        SearchService::new(table).with_quote_style(quote),
        config.limits,
    );
    let table_size: sockmux_core::Source = Box::new(move |out| {
        sockmux_core::metric(
            out,
            "sockmux_table_entries",
            "gauge",
            "Entries in the search table.",
            &[("", entries)],
        );
    });
    server::run_with(&args.server, config, service, vec![table_size])
}

fn load_table(path: &Path, max_bytes: usize) -> anyhow::Result<Table> {
    let started = Instant::now();
    let text = read_bounded(path, max_bytes)
        .with_context(|| format!("cannot read table file {}", path.display()))?;
    let table =
        Table::from_json(&text).with_context(|| format!("bad table file {}", path.display()))?;
    tracing::info!(
        "loaded {} entries from {} in {:.2} s",
        table.len(),
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(table)
}

/// Reads a regular file of at most `max_bytes`. Anything else (a device
/// that never ends, a FIFO that would block start-up, a directory) is
/// refused before it is opened; the size is checked again while reading,
/// in case the file grows.
fn read_bounded(path: &Path, max_bytes: usize) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path)?;
    anyhow::ensure!(meta.is_file(), "not a regular file");
    let too_big = || anyhow::anyhow!("larger than --max-table-bytes ({max_bytes} bytes)");
    if meta.len() > max_bytes as u64 {
        return Err(too_big());
    }
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(max_bytes as u64 + 1)
        .read_to_string(&mut text)?;
    if text.len() > max_bytes {
        return Err(too_big());
    }
    Ok(text)
}

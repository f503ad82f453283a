//! `sockmux app-server`: the server flags plus the app protocol's limits
//! and search table, and the app service built from them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use sockmux_core::{metric, AppService, Source};
use sockmux_proto::{Limits, QuoteStyle, SearchService, Table, TableSwitch};

use super::server::{self, ServerArgs};
use crate::exit::Exit;
use crate::parse::{self, Secs};
use crate::reload::{self, Reloader};
use crate::table_file;

/// Default for `--max-table-bytes`: a million-entry table is about 80 MB.
const DEFAULT_MAX_TABLE: usize = 256 * 1024 * 1024;

/// `sockmux app-server`.
#[derive(Debug, Args)]
#[command(after_help = server::exit_help())]
pub struct AppServerArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Search table: a JSON object of string keys to string answers [default: the built-in 3
    /// entries]. SIGHUP reads it again and swaps it in; a bad file keeps the table answering.
    #[arg(long, value_name = "FILE")]
    table: Option<PathBuf>,
    /// Also reload --table when the file changes, looking every SECS seconds (replace the file
    /// by a rename for an atomic change).
    #[arg(long, value_name = "SECS", value_parser = parse::seconds, requires = "table")]
    table_watch: Option<Secs>,
    /// Largest request content accepted, in bytes (at most 1 GiB).
    #[arg(long, value_name = "BYTES", value_parser = parse::bytes,
          default_value_t = Limits::DEFAULT_MAX_CONTENT)]
    max_content: usize,
    /// Largest table file read, in bytes (at most 1 GiB); a larger file stops start-up (or is
    /// refused by a reload).
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
    let mut hangup = Vec::new();
    let (service, reloader) = match &args.table {
        None => (SearchService::new(Table::builtin()), None),
        Some(path) => {
            // Taken before reading: a change made meanwhile is seen by the watcher.
            let stamp = table_file::stamp(path);
            let started = Instant::now();
            let table = table_file::load(path, args.max_table_bytes)?;
            tracing::info!(
                "loaded {} entries from {} in {:.2} s",
                table.len(),
                path.display(),
                started.elapsed().as_secs_f64()
            );
            let service = SearchService::new(table);
            let reloader = Arc::new(Reloader::new(
                path.clone(),
                args.max_table_bytes,
                service.switch(),
                stamp,
            ));
            hangup.push(reload::start(
                Arc::clone(&reloader),
                args.table_watch.map(|s| s.0),
            )?);
            (service, Some(reloader))
        }
    };
    let service = service.with_quote_style(match args.quote_style {
        Quote::Double => QuoteStyle::Double,
        Quote::Single => QuoteStyle::Single,
    });
    let metrics = vec![table_metrics(service.switch(), reloader)];
    let service = AppService::new(service, config.limits);
    server::run_with(&args.server, config, service, metrics, hangup)
}

/// The table's metrics: the entries of the table answering now and, with a
/// table file, its reloads by result.
fn table_metrics(switch: TableSwitch, reloader: Option<Arc<Reloader>>) -> Source {
    Box::new(move |out| {
        let entries = switch.current().len() as u64;
        metric(
            out,
            "sockmux_table_entries",
            "gauge",
            "Entries in the search table.",
            &[("", entries)],
        );
        if let Some(reloader) = &reloader {
            let (ok, failed) = reloader.counts();
            metric(
                out,
                "sockmux_table_reloads_total",
                "counter",
                "Table reloads (SIGHUP, --table-watch), by result.",
                &[("result=\"ok\"", ok), ("result=\"failed\"", failed)],
            );
        }
    })
}

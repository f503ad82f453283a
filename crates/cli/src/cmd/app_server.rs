//! `sockmux app-server`: the server flags plus the app protocol's limits
//! and search table, and the app service built from them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use sockmux_core::AppService;
use sockmux_proto::{Limits, SearchService, Table};

use super::server::{self, ServerArgs};
use crate::exit::Exit;
use crate::parse::{self, Secs};
use crate::reload::{self, Reloader};
use crate::{signals, table_file};

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
}

/// Runs `sockmux app-server`.
pub fn run(args: AppServerArgs) -> anyhow::Result<Exit> {
    let mut config = args.server.config()?;
    config.limits = Limits {
        max_header: args.max_header,
        max_content: args.max_content,
    };
    let service = match &args.table {
        None => {
            let service = SearchService::new(Table::builtin());
            signals::on_hangup(|| {
                tracing::warn!("SIGHUP: nothing to reload, the built-in table has no --table file");
            })?;
            service
        }
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
            let reloader =
                Reloader::new(path.clone(), args.max_table_bytes, service.switch(), stamp);
            reload::start(Arc::new(reloader), args.table_watch.map(|s| s.0))?;
            service
        }
    };
    let service = AppService::new(service, config.limits);
    server::run(config, service)
}

//! A key-value store on the app protocol, in one file: `get KEY`,
//! `set KEY=VALUE`, `del KEY`. Framing, keep-alive, pipelining, limits and
//! bad input are the library's; this file is only the store.
//!
//! ```sh
//! cargo run --example kv -- 127.0.0.1 0
//! sockmux app-client 127.0.0.1 PORT set color=blue
//! sockmux app-client 127.0.0.1 PORT get color
//! ```

use std::collections::hash_map::{DefaultHasher, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, PoisonError};

use sockmux_core::{AppService, Handler, Response, Server, ServerConfig, Shutdown};
use sockmux_proto::{Limits, ProtoError, Request};

/// Shards, so that workers touching different keys rarely wait on each
/// other; each shard is locked only for one map operation.
const SHARDS: usize = 16;

/// The store, shared by every connection of every worker.
#[derive(Debug)]
pub struct Kv {
    shards: [Mutex<HashMap<String, String>>; SHARDS],
    /// Entries per shard: a bound on memory, whatever the clients send.
    max_per_shard: usize,
}

impl Kv {
    /// An empty store holding at most about `max_entries` entries.
    pub fn new(max_entries: usize) -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            max_per_shard: max_entries.div_ceil(SHARDS),
        }
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let shard = &self.shards[hasher.finish() as usize % SHARDS];
        shard.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Handler for Kv {
    fn handle(&self, request: &Request<'_>, response: Response<'_>) -> Result<(), ProtoError> {
        let Request::OtherAction {
            action,
            value: Some(arg),
        } = request
        else {
            return response.result("Error: use get KEY, set KEY=VALUE or del KEY.");
        };
        match (action.as_ref(), arg.split_once('=')) {
            ("get", _) => match self.shard(arg).get(arg.as_ref()) {
                Some(value) => response.result(value),
                None => response.result(format_args!("No value for \"{arg}\".")),
            },
            ("set", Some((key, value))) => {
                let mut shard = self.shard(key);
                if shard.len() >= self.max_per_shard && !shard.contains_key(key) {
                    return response.result("Error: the store is full.");
                }
                shard.insert(key.to_owned(), value.to_owned());
                response.result("OK")
            }
            ("del", _) => match self.shard(arg).remove(arg.as_ref()) {
                Some(_) => response.result("Deleted."),
                None => response.result(format_args!("No value for \"{arg}\".")),
            },
            _ => response.result(format_args!("Error: invalid action \"{action}\".")),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "127.0.0.1".into());
    let port = args.next().unwrap_or_else(|| "65432".into());
    let config = ServerConfig {
        addr: format!("{host}:{port}").parse()?,
        ..ServerConfig::default()
    };
    let server = Server::bind(config, AppService::new(Kv::new(100_000), Limits::default()))?;
    println!("listening on {}", server.local_addr());
    server.run(Shutdown::new())?;
    Ok(())
}

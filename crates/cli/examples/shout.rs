//! The smallest app-protocol service: every action's value, in capitals;
//! binary requests come back in capitals too.
//!
//! ```sh
//! cargo run --example shout -- 127.0.0.1 0
//! sockmux app-client 127.0.0.1 PORT search hello
//! ```

use sockmux_core::{AppService, Handler, Response, Server, ServerConfig, Shutdown};
use sockmux_proto::{Limits, ProtoError, Request};

/// Answers in capitals.
#[derive(Debug)]
pub struct Shout;

impl Handler for Shout {
    fn handle(&self, request: &Request<'_>, response: Response<'_>) -> Result<(), ProtoError> {
        match request {
            Request::Search { value }
            | Request::OtherAction {
                value: Some(value), ..
            } => response.result(value.to_uppercase()),
            Request::OtherAction { value: None, .. } => response.result("Error: no value."),
            Request::Binary { content } => {
                response.binary("binary/shout", &[&content.to_ascii_uppercase()])
            }
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
    let server = Server::bind(config, AppService::new(Shout, Limits::default()))?;
    println!("listening on {}", server.local_addr());
    server.run(Shutdown::new())?;
    Ok(())
}

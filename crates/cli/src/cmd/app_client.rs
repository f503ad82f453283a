//! `sockmux app-client`: one request per value through the client library,
//! each response printed as text or as one JSON line. No socket or
//! protocol logic lives here (see `sockmux_client::app_client`).

use std::io::{self, Write};

use anyhow::Context;
use clap::Args;
use sockmux_client::{
    AppClient, AppClientConfig, AppRequest, ClientError, Event, PyBytes, Response,
};
use sockmux_proto::{Limits, ProtoError};

use super::say;
use super::tls::TlsClientArgs;
use super::{broken_pipe_is_success, plain};
use crate::exit::{self, Exit};
use crate::host::{self, Host};
use crate::parse::{self, Secs};
use crate::signals::{self, OnFirst};

fn exit_help() -> String {
    exit::help(
        &[
            (Exit::Success, "every request got a response that is not an error"),
            (
                Exit::Failure,
                "an exchange failed: server unreachable, timeout, connection closed early, \
                 malformed response",
            ),
            (
                Exit::ServerError,
                "the server answered \"Error: ...\" to at least one request (printed like any result)",
            ),
        ],
        "the client exits at once",
    )
}

/// `sockmux app-client`.
#[derive(Debug, Args)]
#[command(after_help = exit_help())]
pub struct AppClientArgs {
    /// Server host name or IP address.
    #[arg(value_parser = host::parse)]
    host: Host,
    /// Server port (1 to 65535).
    #[arg(value_parser = parse::client_port)]
    port: u16,
    /// `search` looks VALUE up (text/json); any other action sends the bytes of ACTION+VALUE
    /// (binary), as the reference client does, unless --json-actions.
    action: String,
    /// One request per value, in order.
    #[arg(required = true)]
    values: Vec<String>,
    /// Ask the server to keep the connection open: the values go one after another over one
    /// connection (a new one whenever the server closes, as the reference server does).
    #[arg(long)]
    keep_alive: bool,
    /// Print each response as one JSON line: {"header": {...}, "content": ...}. JSON content
    /// is included as JSON; binary content as a string, or an array of bytes when not UTF-8.
    #[arg(long)]
    json: bool,
    /// Show the raw exchange on stderr, bytes shown as the reference client prints them.
    #[arg(long)]
    raw: bool,
    /// Send every action as a text/json request {"action": ACTION, "value": VALUE}, as services
    /// of your own expect (e.g. the kv example); the reference client does this for search only.
    #[arg(long)]
    json_actions: bool,
    /// Seconds allowed to connect, to send a whole request, and for each whole response,
    /// however slowly the bytes trickle (at most one year).
    #[arg(long, value_name = "SECS", value_parser = parse::seconds,
          default_value_t = Secs(AppClientConfig::DEFAULT_TIMEOUT))]
    timeout: Secs,
    /// Largest response content accepted, in bytes (at most 1 GiB); a response announcing more
    /// fails (exit 1) as soon as its header arrives, before its content is read.
    #[arg(long, value_name = "BYTES", value_parser = parse::bytes,
          default_value_t = Limits::DEFAULT_MAX_CONTENT)]
    max_response: usize,
    #[command(flatten)]
    tls: TlsClientArgs,
}

/// Runs `sockmux app-client`.
pub fn run(args: AppClientArgs) -> anyhow::Result<Exit> {
    signals::install(OnFirst::Exit)?;
    let addrs = host::resolve(&args.host, args.port).map_err(plain)?;
    let mut config = AppClientConfig::new(addrs);
    config.tls = args.tls.connector(&args.host, 1)?;
    config.timeout = args.timeout.0;
    config.keep_alive = args.keep_alive;
    config.limits.max_content = args.max_response;
    let mut client = AppClient::new(config);
    let raw = args.raw;
    let mut transcript = |event: Event<'_>| {
        if raw {
            match event {
                Event::Connecting(addr) => say!("starting connection to {addr}"),
                Event::Sending(addr, bytes) => say!("sending {} to {addr}", PyBytes(bytes)),
                Event::Received(addr, bytes) => {
                    say!("received {} from {addr}", PyBytes(bytes))
                }
                Event::Closing(addr) => say!("closing connection to {addr}"),
            }
        }
    };
    let mut stdout = io::stdout().lock();
    let mut errors = 0;
    for value in &args.values {
        let request = if args.json_actions {
            AppRequest::json(args.action.as_str(), value.as_str())
        } else {
            AppRequest::new(args.action.as_str(), value.as_str())
        };
        let response = match client.request(&request, &mut transcript) {
            Ok(response) => response,
            Err(e) => {
                client.close(&mut transcript);
                return Err(with_hint(e));
            }
        };
        if response.is_error() {
            errors += 1;
        }
        let line = if args.json {
            json_line(&response)?
        } else {
            text(&response)
        };
        if let Err(e) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
            return broken_pipe_is_success(e);
        }
    }
    client.close(&mut transcript);
    if errors > 0 {
        say!(
            "sockmux: error: the server answered with an error to {errors} of {} request(s)",
            args.values.len()
        );
        return Ok(Exit::ServerError);
    }
    Ok(Exit::Success)
}

/// The error as one sentence, saying which flag raises a limit it hit.
fn with_hint(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Malformed {
            source: ProtoError::ContentTooLong { .. },
            ..
        } => anyhow::anyhow!("{e} (--max-response)"),
        e => plain(e),
    }
}

/// What a person wants to read of a response: the `result` string, else
/// the JSON content, else the binary content as text (or escaped, when it
/// is not UTF-8).
fn text(response: &Response) -> String {
    if let Some(result) = response.result() {
        return result.to_owned();
    }
    if let Some(json) = response.json() {
        return json.to_string();
    }
    match std::str::from_utf8(response.content()) {
        Ok(text) => text.to_owned(),
        Err(_) => PyBytes(response.content()).to_string(),
    }
}

/// `{"header": {...}, "content": ...}` on one line.
fn json_line(response: &Response) -> anyhow::Result<String> {
    let header: serde_json::Value = serde_json::from_slice(response.header_json())
        .context("the response header was valid a moment ago")?;
    let content = match response.json() {
        Some(json) => json.clone(),
        None => match std::str::from_utf8(response.content()) {
            Ok(text) => serde_json::Value::from(text),
            Err(_) => serde_json::Value::from(response.content().to_vec()),
        },
    };
    // Written by hand so that "header" comes first, as a person reads it.
    Ok(format!(r#"{{"header":{header},"content":{content}}}"#))
}

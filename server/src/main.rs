//! `tokenwarden-server`: see `tokenwarden-server --help`.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tokenwarden_server::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let addr = SocketAddr::new(cli.bind, cli.port);
    let config = match cli.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let test_hooks = config.test_hooks;
    let insecure_cookies = config.cookie_secure == Some(false);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot bind {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let running = match tokenwarden_server::start(config, listener).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!("listening on {}", running.base_url());
    if test_hooks {
        eprintln!("warning: --test-hooks is on: /__test/* endpoints are enabled");
    }
    if insecure_cookies {
        eprintln!(
            "warning: --cookie-secure never: the cookies are tw_refresh and tw_session, without \
             Secure or the __Host- prefix; a sibling subdomain can set or shadow them"
        );
    }
    tokio::select! {
        res = running.wait() => match res {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    }
}

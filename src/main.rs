//! The `opsdeck` binary: parse the command line, start logging, dispatch.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clap::Parser;

use opsdeck::cli::{Cli, Command, LogsCommand};
use opsdeck::support::exit::ExitError;

fn main() {
    if let Err(e) = color_eyre::install() {
        eprintln!("opsdeck: cannot install the error reporter: {e}");
    }
    let cli = Cli::parse();
    let process = match &cli.command {
        Some(Command::Serve(_)) => "serve",
        Some(Command::Ask(_)) => "ask",
        Some(Command::Logs(_)) => "logs",
        None => "console",
    };
    let log_settings = match &cli.command {
        Some(Command::Serve(args)) => match opsdeck::commands::serve::log_settings(args) {
            Ok(settings) => settings,
            Err(error) => exit_with(error),
        },
        _ => opsdeck::logging::Settings::default(),
    };
    let log_guard = opsdeck::logging::init(process, log_settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => exit_with(ExitError::failed(format!(
            "cannot start the async runtime: {e}"
        ))),
    };
    let outcome = runtime.block_on(async move {
        match (cli.command, cli.replay) {
            (Some(Command::Serve(args)), _) => opsdeck::commands::serve::run(*args).await,
            (Some(Command::Ask(args)), _) => opsdeck::commands::ask::run(args).await,
            (Some(Command::Logs(LogsCommand::Summarize(args))), _) => {
                opsdeck::commands::logs::summarize(&args)
            }
            (None, Some(path)) if cli.verify => {
                opsdeck::commands::replay::verify(&path, &cli.console).await
            }
            (None, Some(path)) => opsdeck::commands::replay::run(&path, cli.format),
            (None, None) => opsdeck::console::run(cli.console).await,
        }
    });
    // Tasks still blocked on a stuck peer (a server that never answers, stdin
    // held by a blocking read) must not keep the process alive: give them a
    // moment, then go.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    if let Err(error) = outcome {
        tracing::error!(code = error.code, "{}", error.message);
        // `exit` runs no destructors: flush the log's last lines first.
        drop(log_guard);
        exit_with(error);
    }
}

fn exit_with(error: ExitError) -> ! {
    // An error may quote a server or a file: show its control characters, never obey them.
    eprintln!(
        "opsdeck: {}",
        opsdeck::support::terminal::for_screen(&error.message)
    );
    std::process::exit(error.code);
}

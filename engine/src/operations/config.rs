//! `--config ratel.toml`: one file for the settings of `ratel run`, `ratel serve` and `ratel
//! online`, beneath
//! the environment and the command line. A flag given wins; else its `RATEL_*` variable (the
//! flag's long name in capitals, `-` as `_`: `--state-dir` is `RATEL_STATE_DIR`); else the
//! file; else the built-in default. The file's keys are the flags' long names:
//!
//! ```toml
//! data = "/var/lib/ratel"          # top level: every command that has the flag
//! log-format = "json"              # and the global flags
//! [run]                            # one command's own
//! source = "kafka:broker-1:9092"
//! metrics = "127.0.0.1:9898"
//! [kafka]                          # librdkafka's properties, passed through as they are
//! "security.protocol" = "SASL_SSL"
//! ```
//!
//! A key that names no flag is an error naming it: a misspelt setting never goes unnoticed.

use clap::builder::OsStr;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The commands a file configures, each a table of its own.
pub const COMMANDS: [&str; 3] = ["run", "serve", "online"];
/// The table of librdkafka properties; the flag they become.
pub const KAFKA_TABLE: &str = "kafka";
pub const KAFKA_FLAG: &str = "kafka-property";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}: unknown key `{key}`: {hint}")]
    UnknownKey {
        path: String,
        key: String,
        hint: String,
    },
    #[error("{path}: `{key}`: {message}")]
    Value {
        path: String,
        key: String,
        message: String,
    },
}

/// The file named by `--config FILE` (or `--config=FILE`) among `args`, else by RATEL_CONFIG.
pub fn named(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().filter_map(|a| a.to_str());
    while let Some(arg) = it.next() {
        if arg == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("RATEL_CONFIG").map(PathBuf::from)
}

/// `command` with every flag of the configured commands (and the global ones) reading its
/// `RATEL_*` variable, and the file's settings, if any, as their defaults.
pub fn layered(mut command: Command, file: Option<&Path>) -> Result<Command, ConfigError> {
    command = with_environment(command);
    let Some(path) = file else {
        return Ok(command);
    };
    let table = read(path)?;
    let shown = path.display().to_string();
    let globals: Vec<String> = longs(&command);
    for (key, value) in &table {
        let flag = key.replace('_', "-");
        match value {
            toml::Value::Table(inner) if COMMANDS.contains(&key.as_str()) => {
                command = settings(command, key, inner, &shown, false)?;
            }
            toml::Value::Table(inner) if key == KAFKA_TABLE => {
                let pairs = kafka_pairs(inner, &shown)?;
                for name in COMMANDS {
                    let takes = (command.find_subcommand(name))
                        .is_some_and(|sub| longs(sub).iter().any(|l| l == KAFKA_FLAG));
                    if !takes {
                        continue;
                    }
                    command = command.mut_subcommand(name, |sub| {
                        sub.mut_arg(KAFKA_FLAG.replace('-', "_"), |a| {
                            a.default_values(pairs.iter().map(|p| OsStr::from(p.clone())))
                        })
                    });
                }
            }
            _ if globals.contains(&flag) => {
                let values = values(key, value, &shown)?;
                let id = id_of(&command, &flag).expect("a long name has an argument");
                command = command.mut_arg(id, |a| with_defaults(a, values));
            }
            _ => {
                let mut shared = toml::Table::new();
                shared.insert(key.clone(), value.clone());
                for name in COMMANDS {
                    command = settings(command, name, &shared, &shown, true)?;
                }
                let anywhere = COMMANDS.iter().any(|name| {
                    command
                        .find_subcommand(name)
                        .is_some_and(|sub| longs(sub).contains(&flag))
                });
                if !anywhere {
                    return Err(ConfigError::UnknownKey {
                        path: shown,
                        key: key.clone(),
                        hint: format!(
                            "not a flag of {} nor a table [{}] or [{KAFKA_TABLE}]",
                            COMMANDS.join(" or "),
                            COMMANDS.join("], [")
                        ),
                    });
                }
            }
        }
    }
    Ok(command)
}

fn read(path: &Path) -> Result<toml::Table, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            path: shown,
            message: e.to_string(),
        })
}

/// The file's settings of one command as its flags' defaults; with `shared`, keys it has no
/// flag for are left to the other commands.
fn settings(
    mut command: Command,
    name: &str,
    table: &toml::Table,
    path: &str,
    shared: bool,
) -> Result<Command, ConfigError> {
    let Some(sub) = command.find_subcommand(name) else {
        return Ok(command);
    };
    let known: Vec<(String, clap::Id)> = sub
        .get_arguments()
        .filter_map(|a| Some((a.get_long()?.to_string(), a.get_id().clone())))
        .collect();
    for (key, value) in table {
        let flag = key.replace('_', "-");
        let id = known
            .iter()
            .find(|(long, _)| *long == flag)
            .map(|(_, id)| id.clone());
        let Some(id) = id.filter(|_| flag != KAFKA_FLAG) else {
            if shared {
                continue;
            }
            return Err(ConfigError::UnknownKey {
                path: path.into(),
                key: format!("{name}.{key}"),
                hint: format!("`ratel {name}` has no flag --{flag}"),
            });
        };
        let values = values(key, value, path)?;
        command = command.mut_subcommand(name, |s| s.mut_arg(id, |a| with_defaults(a, values)));
    }
    Ok(command)
}

fn with_defaults(arg: clap::Arg, values: Vec<String>) -> clap::Arg {
    // A default does not satisfy clap's `required`: a flag the file gives is required no more.
    arg.required(false)
        .default_values(values.into_iter().map(OsStr::from))
}

/// A setting's value as the command line would give it.
fn values(key: &str, value: &toml::Value, path: &str) -> Result<Vec<String>, ConfigError> {
    let one = |v: &toml::Value| match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(ConfigError::Value {
            path: path.into(),
            key: key.into(),
            message: format!("a {} is not a setting's value", other.type_str()),
        }),
    };
    match value {
        toml::Value::Array(items) => items.iter().map(one).collect(),
        single => Ok(vec![one(single)?]),
    }
}

fn kafka_pairs(table: &toml::Table, path: &str) -> Result<Vec<String>, ConfigError> {
    table
        .iter()
        .map(|(k, v)| {
            let key = format!("{KAFKA_TABLE}.{k}");
            match v {
                toml::Value::Table(_) | toml::Value::Array(_) => Err(ConfigError::Value {
                    path: path.into(),
                    key,
                    message: "a librdkafka property is a string, number or boolean".into(),
                }),
                other => Ok(format!("{k}={}", values(&key, other, path)?[0])),
            }
        })
        .collect()
}

/// Every `RATEL_*` variable the configured commands and the global flags read.
fn with_environment(mut command: Command) -> Command {
    let variable = |long: &str| format!("RATEL_{}", long.to_uppercase().replace('-', "_"));
    for arg in command.get_arguments().cloned().collect::<Vec<_>>() {
        if let Some(long) = arg.get_long().filter(|l| *l != "help" && *l != "version") {
            let name = variable(long);
            command = command.mut_arg(arg.get_id().clone(), |a| a.env(name));
        }
    }
    for name in COMMANDS {
        let Some(sub) = command.find_subcommand(name) else {
            continue;
        };
        let args: Vec<_> = sub.get_arguments().cloned().collect();
        for arg in args.into_iter().filter(|a| !a.is_global_set()) {
            if let Some(long) = arg.get_long().filter(|l| *l != "help") {
                let env = variable(long);
                command = command
                    .mut_subcommand(name, |s| s.mut_arg(arg.get_id().clone(), |a| a.env(env)));
            }
        }
    }
    command
}

fn longs(command: &Command) -> Vec<String> {
    command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect()
}

fn id_of(command: &Command, long: &str) -> Option<clap::Id> {
    command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .map(|a| a.get_id().clone())
}

/// Where a setting's value came from, for `ratel config check`: a default that is not the
/// built-in one (`builtin`, the argument before the file was applied) is the file's.
fn source_of(matches: &ArgMatches, id: &str, builtin: Option<&clap::Arg>) -> &'static str {
    match matches.value_source(id) {
        Some(ValueSource::CommandLine) => "command line",
        Some(ValueSource::EnvVariable) => "environment",
        Some(ValueSource::DefaultValue) => {
            let mut builtin: Vec<String> = builtin
                .map(|a| {
                    a.get_default_values()
                        .iter()
                        .map(|v| v.to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            // A boolean flag's default is its action's, set only when clap builds the command.
            if builtin.is_empty() && matches!(matches.get_raw(id).map(|r| r.len()), Some(1)) {
                builtin.push("false".into());
            }
            let now: Vec<String> = (matches.try_get_raw(id).ok().flatten())
                .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            if builtin == now {
                "default"
            } else {
                "file"
            }
        }
        _ => "unset",
    }
}

/// Whether a setting holds a secret: its value is never printed.
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "jaas", "key.pem", "token"]
        .iter()
        .any(|word| key.contains(word))
        && !key.ends_with("tokens")
}

/// The effective settings of each configured command, as TOML with secrets redacted and each
/// line's source in a comment; a command whose required flags are missing says so. `builtin`
/// is the command before [`layered`].
pub fn effective(command: &Command, builtin: &Command) -> Result<String, clap::Error> {
    let mut out = String::new();
    let globals = command
        .clone()
        .subcommand_required(false)
        .arg_required_else_help(false)
        .try_get_matches_from(["ratel"])?;
    out.push_str("# global\n");
    print_settings(&mut out, command, builtin, &globals);
    for name in COMMANDS {
        let Some(sub) = command.find_subcommand(name) else {
            continue;
        };
        out.push_str(&format!("[{name}]\n"));
        let parse = |c: Command| {
            c.no_binary_name(true)
                .try_get_matches_from(Vec::<String>::new())
        };
        let matches = match parse(sub.clone()) {
            Ok(m) => m,
            Err(e) if e.kind() == clap::error::ErrorKind::MissingRequiredArgument => {
                out.push_str(&format!(
                    "# not runnable from this configuration alone: {}\n",
                    one_line(&e)
                ));
                // What it does give, all the same.
                parse(sub.clone().mut_args(|a| a.required(false)))?
            }
            Err(e) => return Err(e),
        };
        let before = builtin.find_subcommand(name).unwrap_or(builtin);
        print_settings(&mut out, sub, before, &matches);
    }
    Ok(out)
}

/// One line a setting that has a value: `long = value  # where it came from`.
fn print_settings(out: &mut String, command: &Command, builtin: &Command, matches: &ArgMatches) {
    for arg in command.get_arguments() {
        let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else {
            continue;
        };
        let Ok(Some(raw)) = matches.try_get_raw(id) else {
            continue;
        };
        let shown: Vec<String> = raw.map(|v| redact(long, &v.to_string_lossy())).collect();
        let value = match arg.get_action() {
            ArgAction::Append => format!("[{}]", shown.join(", ")),
            _ => shown.join(" "),
        };
        let before = builtin.get_arguments().find(|a| a.get_id() == id);
        out.push_str(&format!(
            "{long} = {value}  # {}\n",
            source_of(matches, id, before)
        ));
    }
    out.push('\n');
}

fn redact(long: &str, value: &str) -> String {
    let secret = match value.split_once('=') {
        Some((key, _)) if long == KAFKA_FLAG => is_secret(key),
        _ => is_secret(long),
    };
    match (secret, value.split_once('=')) {
        (true, Some((key, _))) if long == KAFKA_FLAG => {
            format!("{:?}", format!("{key}=<redacted>"))
        }
        (true, _) => "\"<redacted>\"".into(),
        (false, _) => format!("{value:?}"),
    }
}

/// A clap error on one line, without its usage and help hints.
fn one_line(error: &clap::Error) -> String {
    let text = error.to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:"))
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" ")
}

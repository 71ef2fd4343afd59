//! The operator's commands: `stt accounts` and `stt keys`, on the server's database (SQLite
//! under its data directory, or PostgreSQL), while it runs or not. Output is JSON, one object
//! per line.

use std::future::Future;
use std::path::PathBuf;

use clap::Subcommand;
use stt_core::store;
use stt_server::server::accounts::{EmailPreferences, Limits, Plan, Profile};
use stt_server::server::db::Db;

use crate::parse_choice;

#[derive(clap::Args)]
pub struct StoreArgs {
    /// The server's data directory [default: $STT_HOME/server].
    #[arg(long, env = "STT_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// The server's PostgreSQL database (`postgres://...`), when it has one.
    #[arg(long, env = "STT_DATABASE", global = true)]
    database: Option<String>,
}

impl StoreArgs {
    /// Opens the database (bringing its schema up to date) and runs `command` on it.
    pub fn run<F, Fut>(self, command: F) -> Result<(), String>
    where
        F: FnOnce(Db) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let dir = self
            .data_dir
            .unwrap_or_else(|| store::stt_home().join("server"));
        tokio::runtime::Runtime::new()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?
            .block_on(async {
                let db = Db::open(self.database.as_deref(), &dir).await?;
                command(db).await
            })
    }
}

/// A plan and limits as flags; a limit not given is the plan's.
#[derive(clap::Args)]
pub struct LimitArgs {
    /// free (600 min/month, 500 MB, 2 at once) or paid (no monthly limit, 2 GB, 5 at once).
    #[arg(long)]
    plan: Option<String>,
    /// Minutes of audio a month (a number, or `unlimited`), instead of the plan's.
    #[arg(long, alias = "minutes", value_parser = monthly_minutes)]
    monthly_minutes: Option<MonthlyMinutes>,
    /// Requests at once, instead of the plan's.
    #[arg(long)]
    concurrency: Option<u32>,
    /// Largest upload in MB, instead of the plan's.
    #[arg(long)]
    max_upload_mb: Option<u64>,
}

/// `--monthly-minutes`: a number, or no limit.
#[derive(Clone, Copy)]
struct MonthlyMinutes(Option<u64>);

fn monthly_minutes(value: &str) -> Result<MonthlyMinutes, String> {
    match value {
        "unlimited" => Ok(MonthlyMinutes(None)),
        number => number
            .parse()
            .map(|minutes| MonthlyMinutes(Some(minutes)))
            .map_err(|_| format!("{value:?} is neither a number of minutes nor `unlimited`")),
    }
}

impl LimitArgs {
    /// The limits these flags give, from `current` where they name no plan.
    fn limits(&self, current: Option<&Limits>) -> Result<Limits, String> {
        let plan = match &self.plan {
            Some(plan) => parse_choice(plan, "plan")?,
            None => current.map_or(Plan::Free, |limits| limits.plan),
        };
        let base = match (current, self.plan.is_some()) {
            (Some(current), false) => current.clone(),
            _ => Limits::of_plan(plan, None, None, None),
        };
        Ok(Limits {
            plan,
            monthly_minutes: self
                .monthly_minutes
                .map_or(base.monthly_minutes, |given| given.0),
            max_upload_mb: self.max_upload_mb.unwrap_or(base.max_upload_mb),
            concurrency: self.concurrency.unwrap_or(base.concurrency).max(1),
        })
    }
}

#[derive(Subcommand)]
pub enum AccountsCommand {
    /// Make an account (without a key: `stt keys create --account ID` gives it one).
    Create {
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        email: Option<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Show every account.
    List,
    /// Change an account's plan or limits (a new --plan starts from that plan's limits).
    Update {
        id: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a key and print it (as JSON) once; only its hash is stored. Without --account,
    /// the key gets a new account of its own with the plan and limits given.
    Create {
        #[arg(long, default_value = "")]
        name: String,
        /// The account to add the key to (its plan and limits apply).
        #[arg(long, conflicts_with_all = ["plan", "monthly_minutes", "concurrency", "max_upload_mb"])]
        account: Option<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Show the keys (never their secrets).
    List,
    /// Revoke a key by id; requests with it get 401 from then on.
    Revoke { id: String },
}

fn print(value: &impl serde::Serialize) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string(value).map_err(|e| e.to_string())?
    );
    Ok(())
}

pub async fn accounts(db: Db, command: AccountsCommand) -> Result<(), String> {
    match command {
        AccountsCommand::Create {
            name,
            email,
            limits,
        } => {
            let profile = Profile {
                name,
                email,
                email_preferences: EmailPreferences::default(),
            };
            print(&db.create_account(profile, limits.limits(None)?).await?)
        }
        AccountsCommand::List => {
            for account in db.accounts().await? {
                print(&account)?;
            }
            Ok(())
        }
        AccountsCommand::Update { id, limits } => {
            let account = db
                .account(&id)
                .await?
                .ok_or_else(|| format!("no account {id:?}"))?;
            let limits = limits.limits(Some(&account.limits))?;
            db.update_limits(&id, &limits).await?;
            print(&db.account(&id).await?)
        }
    }
}

pub async fn keys(db: Db, command: KeysCommand) -> Result<(), String> {
    match command {
        KeysCommand::Create {
            name,
            account,
            limits,
        } => {
            let (key, raw) = db
                .create_key(account.as_deref(), name, limits.limits(None)?)
                .await?
                .ok_or_else(|| format!("no account {account:?}"))?;
            let mut json = serde_json::to_value(key).map_err(|e| e.to_string())?;
            json["key"] = serde_json::Value::String(raw);
            print(&json)
        }
        KeysCommand::List => {
            for key in db.keys().await? {
                print(&key)?;
            }
            Ok(())
        }
        KeysCommand::Revoke { id } => match db.revoke_key(&id).await? {
            true => {
                println!("revoked {id}");
                Ok(())
            }
            false => Err(format!("no key {id:?}")),
        },
    }
}
